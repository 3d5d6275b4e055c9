"""Sparade sökningar (issue 5): a list's search saved under a name, run again,
shared or private, and every match put on a call list ("from a saved search")."""

import pytest
from werkzeug.datastructures import MultiDict

from extensions import db
from models import CallList, CallListEntry, SavedSearch
from services import saved_searches, trash
from services.validation import InvalidValue
from tests.helpers import count, flashes, sv, text

# --- the service ---------------------------------------------------------------------


def test_only_the_search_part_of_the_query_string_is_kept(employees):
    args = MultiDict(
        [("page", "3"), ("flt0_0", "7"), ("search", "kaffe"), ("sort", "1"), ("page_size", "20"), ("flt1_4", "")]
    )
    saved = saved_searches.save(db.session, employees["seller"], "company", " Mina kaffekunder ", args)
    db.session.commit()
    assert saved.name == "Mina kaffekunder"
    assert saved_searches.args_of(saved) == [("flt0_0", "7"), ("search", "kaffe"), ("sort", "1")]


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("", [("search", "x")], "Give the search a name."),
        ("x" * 101, [("search", "x")], "The name may be at most %(max)s characters."),
        ("Allt", [("sort", "2")], "There is no search to save: search or choose search options first."),
    ],
)
def test_bad_saves_are_refused_in_swedish(app, employees, name, args, message):
    with app.test_request_context():
        with pytest.raises(InvalidValue) as refused:
            saved_searches.save(db.session, employees["seller"], "company", name, args)
        assert str(refused.value) == sv(message, **({"max": 100} if "max" in message else {}))
    assert count(db.session, SavedSearch) == 0


@pytest.mark.parametrize(
    ("args", "message", "limit"),
    [
        ([("search", "x" * 501)], "The search text may be at most %(max)s characters.", 500),
        ([("search", "kaffe"), ("flt0_3", "y" * 501)], "A search option may be at most %(max)s characters.", 500),
        (
            [("search", "kaffe")] + [(f"flt{i}_3", "ö" * 100) for i in range(20)],
            "The search has too many options to save (at most %(max)s characters in all).",
            4000,
        ),
    ],
)
def test_a_search_too_long_to_save_is_refused(app, employees, args, message, limit):
    """The search text and each option are capped as the API's `q` is (search.MAX_SEARCH_LENGTH): a
    search of 100,000 characters was saved, and opening it made an address of 100 KB."""
    from services.search import MAX_SEARCH_LENGTH

    assert MAX_SEARCH_LENGTH == 500
    with app.test_request_context():
        with pytest.raises(InvalidValue) as refused:
            saved_searches.save(db.session, employees["seller"], "company", "Lång", args)
        assert str(refused.value) == sv(message, max=limit)
    assert count(db.session, SavedSearch) == 0
    longest = saved_searches.save(db.session, employees["seller"], "company", "Lång", [("search", "x" * 500)])
    db.session.commit()
    assert saved_searches.args_of(longest) == [("search", "x" * 500)]


def test_saving_again_under_the_same_name_replaces_the_search(employees):
    seller = employees["seller"]
    first = saved_searches.save(db.session, seller, "company", "Stockholm", [("search", "Stockholm")])
    db.session.commit()
    again = saved_searches.save(db.session, seller, "company", "Stockholm", [("search", "Solna")], shared=True)
    db.session.commit()
    assert again.id == first.id and again.query == "search=Solna" and again.shared
    assert count(db.session, SavedSearch) == 1


def test_others_see_only_shared_searches_and_only_the_owner_deletes(employees):
    seller, other = employees["seller"], employees["finance"]
    private = saved_searches.save(db.session, seller, "company", "Privat", [("search", "a")])
    shared = saved_searches.save(db.session, seller, "company", "Delad", [("search", "b")], shared=True)
    db.session.commit()
    assert saved_searches.visible(db.session, seller, "company") == [shared, private]
    assert saved_searches.visible(db.session, other, "company") == [shared]
    assert saved_searches.get_visible(db.session, other, private.id) is None
    with pytest.raises(PermissionError):
        saved_searches.delete(db.session, other, shared)
    saved_searches.delete(db.session, employees["admin"], shared)  # settings.manage may tidy up
    db.session.commit()
    assert count(db.session, SavedSearch) == 1


# --- the screens ---------------------------------------------------------------------


@pytest.fixture
def my_customers(make_company, employees):
    """Three live customers of the seller, one in the trash, one of someone else."""
    seller = employees["seller"]
    mine = [make_company(name=f"Min kund {n} AB", owner=seller, phone="+4681234567") for n in range(3)]
    gone = make_company(name="Borta AB", owner=seller)
    trash.delete(db.session, employees["admin"], type(gone), [gone.id])
    make_company(name="Annans kund AB", owner=employees["admin"])
    db.session.commit()
    return mine


def test_save_a_search_from_the_list_and_run_it_from_the_toolbar(login, employees, my_customers):
    seller = login("seller")
    owner_filter = f"flt0_0={employees['seller'].id}"  # Fler sökalternativ – Kundansvarig
    listing = text(seller.client.get(f"/admin/company/?{owner_filter}"))
    assert sv("Save search…") in listing and 'id="save-search"' in listing

    response = seller.post(
        "/admin/saved-searches/save",
        {"view": "company", "name": "Mina kunder", "flt0_0": str(employees["seller"].id), "page": "2"},
    )
    saved = db.session.scalar(db.select(SavedSearch))
    assert response.headers["Location"].endswith(f"/admin/company/?{owner_filter}")
    assert (saved.owner.email, saved.view, saved.shared) == ("seller@example.se", "company", False)

    toolbar = text(seller.client.get("/admin/company/"))
    assert f'/admin/company/?{owner_filter}">Mina kunder' in toolbar
    found = text(seller.client.get(f"/admin/company/?{saved.query}"))
    assert "Min kund 0 AB" in found and "Annans kund AB" not in found and "Borta AB" not in found
    assert "Mina kunder" in text(seller.client.get("/admin/saved-searches/"))
    # Not offered to a colleague: it is not shared.
    assert "Mina kunder" not in text(login("finance").client.get("/admin/company/"))


def test_a_bad_save_is_explained_and_saves_nothing(login):
    response = login("seller").post("/admin/saved-searches/save", {"view": "company", "name": "", "search": "x"})
    assert response.status_code == 302
    assert count(db.session, SavedSearch) == 0
    assert (
        login("seller").post("/admin/saved-searches/save", {"view": "employee", "name": "x", "search": "x"}).status_code
        == 404
    )


def test_a_search_too_long_is_refused_on_the_screen_without_a_giant_address(login):
    """A search of 100,000 characters posted to "Spara sökning": refused in Swedish, nothing saved, and the
    list it returns to is opened without it (its address was over 64 KB)."""
    seller = login("seller")
    response = seller.post(
        "/admin/saved-searches/save", {"view": "company", "name": "Bigsearch", "search": "x" * 100_000}
    )
    assert response.status_code == 302 and len(response.headers["Location"]) < 100
    assert count(db.session, SavedSearch) == 0
    page = seller.client.get(response.headers["Location"])
    reason = sv("The search text may be at most %(max)s characters.", max=500)
    assert ("danger", sv("The search was not saved: %(reason)s", reason=reason)) in flashes(page)
    assert len(page.get_data()) < 100_000


def test_a_search_of_a_list_one_may_not_read_is_refused(login, employees):
    employees["readonly"].revoked_permissions = ["lead.view"]
    db.session.commit()
    reader = login("readonly")
    assert reader.post("/admin/saved-searches/save", {"view": "lead", "name": "x", "search": "x"}).status_code == 403
    assert count(db.session, SavedSearch) == 0


def test_every_match_of_a_saved_search_goes_on_a_call_list(login, employees, my_customers):
    seller = login("seller")
    saved = saved_searches.save(
        db.session, employees["seller"], "company", "Mina kunder", [("flt0_0", str(employees["seller"].id))]
    )
    db.session.commit()
    page = text(seller.client.get("/admin/saved-searches/"))
    assert f"/admin/calllist/add?saved_search={saved.id}" in page

    chooser = text(seller.client.get(f"/admin/calllist/add?saved_search={saved.id}"))
    assert "Den sparade sökningen Mina kunder hittar 3 poster i Företag i dag." in chooser
    response = seller.post(
        "/admin/calllist/add",
        {"source": "company", "saved_search": str(saved.id), "call_list": "new", "name": "Mina kunder att ringa"},
    )
    call_list = db.session.scalar(db.select(CallList))
    assert response.headers["Location"].endswith(f"/admin/calllist/work/{call_list.id}")
    entries = db.session.scalars(db.select(CallListEntry).order_by(CallListEntry.position)).all()
    assert sorted(e.company_id for e in entries) == sorted(c.id for c in my_customers)


def test_a_private_saved_search_of_someone_else_cannot_be_used_or_deleted(login, employees, my_customers):
    saved = saved_searches.save(db.session, employees["seller"], "company", "Mina kunder", [("search", "Min kund")])
    db.session.commit()
    other = login("admin")
    assert other.client.get(f"/admin/calllist/add?saved_search={saved.id}").status_code == 404
    assert (
        other.post(
            "/admin/calllist/add", {"source": "company", "saved_search": str(saved.id), "call_list": "new"}
        ).status_code
        == 404
    )
    assert other.post(f"/admin/saved-searches/{saved.id}/delete").status_code == 404
    assert login("readonly").client.get(f"/admin/calllist/add?saved_search={saved.id}").status_code == 403
    assert count(db.session, CallList) == 0 and count(db.session, SavedSearch) == 1

    seller = login("seller")
    response = seller.post(f"/admin/saved-searches/{saved.id}/delete")
    assert ("success", sv("The search %(name)s was deleted.", name="Mina kunder")) in flashes(
        seller.client.get(response.headers["Location"])
    )
    assert count(db.session, SavedSearch) == 0


def test_the_demo_has_a_private_and_a_shared_saved_search_that_find_customers(demo, app):
    from models import Company, Employee

    erik = demo.scalar(db.select(Employee).where(Employee.email == "erik.johansson@example.se"))
    names = [s.name for s in saved_searches.visible(demo, erik, "company")]
    assert names == ["Kunder i Stockholm", "Mina kunder"]
    view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == "company")
    with app.test_request_context():
        for saved in saved_searches.visible(demo, erik, "company"):
            found = view.matching_query(saved_searches.args_of(saved)).all()
            assert found and all(isinstance(c, Company) and not c.is_deleted for c in found)


def test_a_saved_search_only_fills_a_call_list_from_its_own_list(login, employees, my_customers):
    saved = saved_searches.save(
        db.session, employees["seller"], "company", "Mina kunder", [("flt0_0", str(employees["seller"].id))]
    )
    db.session.commit()
    response = login("seller").post(
        "/admin/calllist/add", {"source": "lead", "saved_search": str(saved.id), "call_list": "new"}
    )
    assert response.status_code == 404 and count(db.session, CallList) == 0
