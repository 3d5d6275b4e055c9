"""Issue 12, item 7: sharing a saved report or a saved search with every colleague
("publishing") needs its own permission, `saved.share`. Läsbehörighet does not have it;
Administratör and Säljare do. The server refuses a forged `shared` flag, and the pages
offer the share box only to those who may use it."""

import pytest

from extensions import db
from models import ReportDefinition, SavedSearch
from services import report_generator, saved_searches
from services.permissions import PERMISSIONS, role_has_permission
from services.report_generator import parse
from tests.helpers import count, sv, text
from tests.security import tally


def test_sharing_is_a_permission_of_its_own_for_administrators_and_sellers():
    assert "saved.share" in PERMISSIONS
    assert role_has_permission("admin", "saved.share")
    assert role_has_permission("seller", "saved.share")
    assert not role_has_permission("readonly", "saved.share")


# --- the services ---------------------------------------------------------------------


def test_the_report_service_refuses_to_share_without_the_permission(app, employees):
    reader = employees["readonly"]
    with pytest.raises(report_generator.NotPermitted):
        report_generator.save(db.session, reader, "Allas", parse({"entity": "company"}), shared=True)
    db.session.rollback()
    assert count(db.session, ReportDefinition) == 0
    own, _created = report_generator.save(db.session, reader, "Min", parse({"entity": "company"}), shared=False)
    db.session.commit()
    assert not own.shared


def test_a_shared_report_cannot_be_kept_shared_by_one_who_lost_the_permission(app, employees):
    seller = employees["seller"]
    definition, _ = report_generator.save(db.session, seller, "Alla", parse({"entity": "company"}), shared=True)
    db.session.commit()
    seller.revoked_permissions = ["saved.share"]
    db.session.commit()
    with pytest.raises(report_generator.NotPermitted):
        report_generator.save(db.session, seller, "Alla", parse({"entity": "company"}), shared=True)
    db.session.rollback()
    db.session.refresh(definition)
    assert definition.shared  # untouched: nothing was saved


def test_the_saved_search_service_refuses_to_share_without_the_permission(app, employees):
    reader = employees["readonly"]
    with pytest.raises(saved_searches.NotPermitted):
        saved_searches.save(db.session, reader, "company", "Allas", [("search", "AB")], shared=True)
    db.session.rollback()
    assert count(db.session, SavedSearch) == 0
    saved_searches.save(db.session, reader, "company", "Min", [("search", "AB")], shared=False)
    db.session.commit()
    assert count(db.session, SavedSearch) == 1


def test_a_grant_lets_a_reader_share(app, employees):
    reader = employees["readonly"]
    reader.extra_permissions = ["saved.share"]
    db.session.commit()
    saved = saved_searches.save(db.session, reader, "company", "Allas", [("search", "AB")], shared=True)
    definition, _ = report_generator.save(db.session, reader, "Allas", parse({"entity": "company"}), shared=True)
    db.session.commit()
    assert saved.shared and definition.shared


# --- over HTTP: the forged request and the pages --------------------------------------------


def test_a_reader_posting_a_shared_report_is_refused_and_nothing_is_saved(login):
    reader = login("readonly")
    response = reader.post(
        "/admin/reports/generator/save",
        {"name": "Publicerad", "shared": "1", "entity": "company", "col": ["name"]},
    )
    assert response.status_code == 403
    tally("publishing without saved.share: forged requests")
    assert count(db.session, ReportDefinition) == 0
    # The same report kept to oneself is saved.
    response = reader.post("/admin/reports/generator/save", {"name": "Egen", "entity": "company", "col": ["name"]})
    assert response.status_code == 302
    assert [(d.name, d.shared) for d in db.session.scalars(db.select(ReportDefinition))] == [("Egen", False)]


def test_a_reader_posting_a_shared_search_is_refused_and_nothing_is_saved(login):
    reader = login("readonly")
    response = reader.post(
        "/admin/saved-searches/save", {"view": "company", "name": "Publicerad", "search": "AB", "shared": "y"}
    )
    assert response.status_code == 403
    tally("publishing without saved.share: forged requests")
    assert count(db.session, SavedSearch) == 0
    response = reader.post("/admin/saved-searches/save", {"view": "company", "name": "Egen", "search": "AB"})
    assert response.status_code == 302
    assert [(s.name, s.shared) for s in db.session.scalars(db.select(SavedSearch))] == [("Egen", False)]


def test_a_seller_still_shares_both(login, employees):
    seller = login("seller")
    assert (
        seller.post(
            "/admin/reports/generator/save", {"name": "Allas", "shared": "1", "entity": "company", "col": ["name"]}
        ).status_code
        == 302
    )
    assert (
        seller.post(
            "/admin/saved-searches/save", {"view": "company", "name": "Allas", "search": "AB", "shared": "y"}
        ).status_code
        == 302
    )
    assert db.session.scalar(db.select(ReportDefinition)).shared
    assert db.session.scalar(db.select(SavedSearch)).shared


@pytest.mark.parametrize(("role", "offered"), [("admin", True), ("seller", True), ("readonly", False)])
def test_the_share_box_is_offered_only_with_the_permission(login, make_company, role, offered):
    make_company(name="Alfa AB")
    client = login(role).client
    generator = text(client.get("/admin/reports/generator/?run=1&entity=company&col=name"))
    listing = text(client.get("/admin/company/?search=Alfa"))
    assert 'id="save-report"' in generator and 'id="save-search"' in listing  # saving itself is offered
    assert ('id="report-shared"' in generator) is offered
    assert ('id="save-search-shared"' in listing) is offered


def test_the_permission_has_a_swedish_label_in_behorigheter(login, employees):
    page = text(login("admin").client.get(f"/admin/employee/card/{employees['readonly'].id}"))
    assert 'id="perm-saved.share"' in page
    assert sv("Share saved reports and saved searches with every colleague") in page
