"""A list page builds the links it repeats for every row once (admin_views.urls.id_url): the same
strings url_for gives."""

from flask import url_for

from admin_views.urls import id_url


def test_id_url_is_url_fors_string(app):
    with app.test_request_context("/admin/company/"):
        for id_ in (1, 42, "7", "123456"):
            assert id_url("company_card.index", id_) == url_for("company_card.index", id=id_)
            for back in ("/admin/company/?search=å&flt0_0=3", "/admin/company/?after=abc%3D&sort=1"):
                assert id_url("company.edit_view", id_, url=back) == url_for("company.edit_view", id=id_, url=back)
        # the marker's digits in another value, and ids that are not digits: url_for itself
        back = "/admin/company/?q=918273645546372819"
        assert id_url("company.edit_view", 5, url=back) == url_for("company.edit_view", id=5, url=back)
        for odd in ("a b", "1,2", "-3"):
            assert id_url("company.edit_view", odd, url="/x") == url_for("company.edit_view", id=odd, url="/x")


def test_each_rows_links_are_its_own(app, login, make_company):
    """Two rows, two different card and edit links (built once, completed per row)."""
    first, second = make_company(name="Alfa AB"), make_company(name="Beta AB")
    page = login("admin").client.get("/admin/company/").get_data(as_text=True)
    with app.test_request_context("/admin/company/"):
        for row in (first, second):
            assert f'href="{url_for("company_card.index", id=row.id)}">{row.name}</a>' in page
            assert f'href="/admin/company/edit/?id={row.id}&amp;url=' in page
