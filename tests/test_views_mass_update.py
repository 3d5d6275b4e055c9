"""Ändra flera over HTTP: from the list's ticked rows or all matches of a search, confirmed, undone."""

from sqlalchemy import select

from helpers import count, flashes, fresh, sv, svn, text
from models import Company, MassUpdate


def test_ticked_rows_are_changed_after_a_page_naming_the_count_and_undone(login, session, employees, make_company):
    rows = [make_company(name=f"Lista {n} AB") for n in range(3)]
    other = make_company(name="Orörd AB")
    seller = login("seller")
    listing = text(seller.client.get("/admin/company/"))
    assert sv("Change many…") in listing
    ids = [str(c.id) for c in rows[:2]]
    page = seller.post("/admin/company/action/", {"action": "mass_update", "rowid": ids})
    assert page.status_code == 200
    body = text(page)
    assert (
        svn("%(num)s ticked record in %(list)s.", "%(num)s ticked records in %(list)s.", 2, list=sv("Companies"))
        in body
    )
    assert svn("Change %(num)s record", "Change %(num)s records", 2) in body
    assert count(session, Company, Company.status == "inactive") == 0  # the page itself changes nothing

    done = seller.post("/admin/company/mass-update/", {"rowid": ids, "status": "inactive"})
    assert done.status_code == 302
    result = seller.client.get(done.headers["Location"])
    assert svn("%(num)s record", "%(num)s records", 2) in text(result)
    assert [fresh(session, Company, c.id).status for c in rows] == ["inactive", "inactive", "active"]
    assert fresh(session, Company, other.id).status == "active"

    job = session.scalars(select(MassUpdate)).one()
    undone = seller.post(f"/admin/company/mass-update/{job.id}/undo", follow_redirects=True)
    assert (
        "success",
        svn("The change is undone on %(num)s record.", "The change is undone on %(num)s records.", 2),
    ) in flashes(undone)
    assert [fresh(session, Company, c.id).status for c in rows] == ["active"] * 3


def test_all_matches_of_the_search_are_changed(login, session, employees, make_company):
    for n in range(3):
        make_company(name=f"Sökträff {n} AB")
    make_company(name="Annat Bolag AB")
    admin = login("admin")
    listing = admin.client.get("/admin/company/?search=Sökträff").get_data(as_text=True)
    assert 'id="mass-update-matches"' in listing
    form = admin.client.get("/admin/company/mass-update/?search=Sökträff")
    assert svn(
        "%(num)s record matches the search in %(list)s.",
        "%(num)s records match the search in %(list)s.",
        3,
        list=sv("Companies"),
    ) in text(form)
    response = admin.post(
        "/admin/company/mass-update/", {"query": "search=S%C3%B6ktr%C3%A4ff", "owner_id": employees["seller"].id}
    )
    assert response.status_code == 302
    assert count(session, Company, Company.owner_id == employees["seller"].id) == 3


def test_bad_input_shows_a_swedish_message_and_changes_nothing(login, session, make_company):
    company = make_company(name="Fel AB")
    admin = login("admin")
    response = admin.post("/admin/company/mass-update/", {"rowid": [company.id], "payment_terms_days": "tusen"})
    assert response.status_code == 400
    assert sv("Payment terms must be between 0 and 365 days.") in text(response)
    response = admin.post("/admin/company/mass-update/", {"rowid": [company.id]})
    assert sv("Choose at least one thing to change.") in text(response)
    assert count(session, MassUpdate) == 0


def test_read_only_may_not_change_many(login, make_company):
    company = make_company(name="Skyddad AB")
    reader = login("readonly")
    assert sv("Change many…") not in text(reader.client.get("/admin/company/"))
    response = reader.post("/admin/company/mass-update/", {"rowid": [company.id], "status": "inactive"})
    assert response.status_code == 403
