"""Administration – Inställningar – CRM – Återställa kunder (/admin/trash/):
the list, restoring with links, and the confirmed, permissioned purge."""

import re
from datetime import date

import pytest
from sqlalchemy import select

from models import AuditEvent, Company, CompanyContact, Contact, Invoice
from services import trash
from tests.helpers import flashes, fresh, sv, text


@pytest.fixture
def deleted(session, employees, make_company, make_contact):
    """A company in the trash with two linked contacts, and a private customer in the trash."""
    company = make_company(name="Papperskorgen AB", org_number="5560360793")
    vd = make_contact(first_name="Lars", last_name="Holm", companies=[company], role="VD")
    buyer = make_contact(first_name="Eva", last_name="Ek", companies=[company], role="Inköpschef")
    private = make_contact(first_name="Privat", last_name="Personsson", customer_number=900)
    trash.delete(session, employees["seller"], Company, [company.id])
    trash.delete(session, employees["seller"], Contact, [private.id])
    session.commit()
    return {"company": company, "vd": vd, "buyer": buyer, "private": private}


# --- the list --------------------------------------------------------------------------------


def test_trash_lists_deleted_customers_with_who_and_when(login, deleted):
    page = login("admin").client.get("/admin/trash/")
    assert page.status_code == 200
    body = text(page)
    company = deleted["company"]
    assert "Papperskorgen AB" in body and "Privat Personsson" in body
    assert str(company.customer_number) in body
    assert "Test Seller" in body  # deleted by
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", body)  # deleted when, ISO
    raw = page.get_data(as_text=True)
    assert f'value="company:{company.id}"' in raw
    assert f'value="contact:{deleted["private"].id}"' in raw
    assert "Lars Holm" not in body  # live contacts are not in the trash


def test_empty_trash(login):
    assert sv("There are no deleted customers.") in text(login("admin").client.get("/admin/trash/"))


@pytest.mark.parametrize("role", ["seller", "finance", "readonly"])
def test_only_those_who_may_restore_see_the_trash(login, deleted, role):
    client = login(role)
    assert client.client.get("/admin/trash/").status_code == 403
    assert client.post("/admin/trash/restore", {"rowid": f"company:{deleted['company'].id}"}).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/trash/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


# --- restore ----------------------------------------------------------------------------------


def test_restore_brings_the_company_back_with_its_contacts(login, session, deleted, employees):
    company = deleted["company"]
    admin = login("admin")
    response = admin.post("/admin/trash/restore", {"rowid": [f"company:{company.id}"]})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/trash/"
    page = admin.client.get("/admin/trash/")
    [(category, message)] = flashes(page)
    assert category == "success" and "1" in message
    assert "Papperskorgen AB" not in text(page)

    stored = fresh(session, Company, company.id)
    assert not stored.is_deleted and stored.deleted_by_id is None
    assert stored.customer_number == company.customer_number
    card = admin.client.get(f"/admin/company/card/{company.id}?tab=contacts")
    assert card.status_code == 200
    body = text(card)
    assert "Lars Holm" in body and "VD" in body and "Eva Ek" in body and "Inköpschef" in body
    assert "Papperskorgen AB" in text(admin.client.get("/admin/company/?search=papperskorgen"))
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "restore")).one()
    assert (event.entity_id, event.actor_id) == (company.id, employees["admin"].id)


def test_restore_companies_and_private_customers_together(login, session, deleted):
    response = login("admin").post(
        "/admin/trash/restore", {"rowid": [f"company:{deleted['company'].id}", f"contact:{deleted['private'].id}"]}
    )
    assert response.status_code == 302
    assert not fresh(session, Company, deleted["company"].id).is_deleted
    private = fresh(session, Contact, deleted["private"].id)
    assert not private.is_deleted and private.customer_number == 900


def test_restore_without_ticks_warns_and_changes_nothing(login, session, deleted):
    admin = login("admin")
    admin.post("/admin/trash/restore", {"rowid": ["company:abc", "unknown:1", "nonsense"]})
    [(category, message)] = flashes(admin.client.get("/admin/trash/"))
    assert (category, message) == ("warning", sv("Tick the customers you want to restore."))
    assert fresh(session, Company, deleted["company"].id).is_deleted


def test_restore_post_without_csrf_is_refused(login, session, deleted):
    response = login("admin").client.post("/admin/trash/restore", data={"rowid": f"company:{deleted['company'].id}"})
    assert response.status_code == 400
    assert fresh(session, Company, deleted["company"].id).is_deleted


# --- purge --------------------------------------------------------------------------------------


def test_purge_first_asks_for_confirmation(login, session, deleted):
    company = deleted["company"]
    response = login("admin").post("/admin/trash/purge", {"rowid": [f"company:{company.id}"]})
    assert response.status_code == 200
    body = text(response)
    assert "Papperskorgen AB" in body
    assert sv("I understand that this cannot be undone.") in body
    raw = response.get_data(as_text=True)
    assert 'action="/admin/trash/purge/confirm"' in raw
    assert f'name="rowid" value="company:{company.id}"' in raw
    assert fresh(session, Company, company.id) is not None  # nothing deleted yet


def test_purge_without_ticks_warns(login, deleted):
    admin = login("admin")
    response = admin.post("/admin/trash/purge", {})
    assert response.status_code == 302
    [(category, message)] = flashes(admin.client.get("/admin/trash/"))
    assert (category, message) == ("warning", sv("Tick the customers you want to delete permanently."))


def test_purge_unconfirmed_deletes_nothing(login, session, deleted):
    company = deleted["company"]
    admin = login("admin")
    response = admin.post("/admin/trash/purge/confirm", {"rowid": [f"company:{company.id}"]})
    assert response.status_code == 302
    [(category, message)] = flashes(admin.client.get("/admin/trash/"))
    assert (category, message) == ("warning", sv("Nothing was deleted: the permanent deletion was not confirmed."))
    assert fresh(session, Company, company.id) is not None


def test_confirmed_purge_deletes_for_good_and_keeps_the_contacts(login, session, deleted, employees):
    company_id, private_id = deleted["company"].id, deleted["private"].id
    admin = login("admin")
    response = admin.post(
        "/admin/trash/purge/confirm", {"rowid": [f"company:{company_id}", f"contact:{private_id}"], "confirm": "yes"}
    )
    assert response.status_code == 302
    [(category, message)] = flashes(admin.client.get("/admin/trash/"))
    assert category == "success" and "2" in message
    session.expire_all()
    assert session.get(Company, company_id) is None
    assert session.get(Contact, private_id) is None
    assert session.scalars(select(CompanyContact).where(CompanyContact.company_id == company_id)).all() == []
    assert session.get(Contact, deleted["vd"].id) is not None  # the linked contacts stay
    purges = session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).all()
    assert {(e.entity_type, e.actor_id) for e in purges} == {
        ("company", employees["admin"].id),
        ("contact", employees["admin"].id),
    }
    assert sv("There are no deleted customers.") in text(admin.client.get("/admin/trash/"))


def test_purge_never_touches_a_live_customer(login, session, make_company):
    live = make_company(name="Levande AB")
    admin = login("admin")
    response = admin.post("/admin/trash/purge", {"rowid": [f"company:{live.id}"]})
    assert response.status_code == 302  # nothing in the trash was ticked
    admin.post("/admin/trash/purge/confirm", {"rowid": [f"company:{live.id}"], "confirm": "yes"})
    assert fresh(session, Company, live.id) is not None


@pytest.mark.parametrize("role", ["seller", "finance", "readonly"])
def test_purge_needs_the_purge_permission(login, session, deleted, role):
    company = deleted["company"]
    client = login(role)
    assert client.post("/admin/trash/purge", {"rowid": [f"company:{company.id}"]}).status_code == 403
    assert (
        client.post("/admin/trash/purge/confirm", {"rowid": [f"company:{company.id}"], "confirm": "yes"}).status_code
        == 403
    )
    assert fresh(session, Company, company.id) is not None


def test_purge_post_without_csrf_is_refused(login, session, deleted):
    company = deleted["company"]
    response = login("admin").client.post(
        "/admin/trash/purge/confirm", data={"rowid": f"company:{company.id}", "confirm": "yes"}
    )
    assert response.status_code == 400
    assert fresh(session, Company, company.id) is not None


@pytest.fixture
def invoiced(session, deleted):
    """The company in the trash has an issued invoice (kept seven years by the Bokföringslagen)."""
    session.add(Invoice(number=1, invoice_date=date(2026, 1, 10), status="sent", company_id=deleted["company"].id))
    session.commit()
    return deleted


def test_confirming_a_purge_of_an_invoiced_customer_is_refused_on_the_page(login, session, invoiced):
    """Not a 500 (FOREIGN KEY constraint failed): the page names the customer and why, and nothing
    of the selection is deleted; the private customer that may go is offered again."""
    company_id, private_id = invoiced["company"].id, invoiced["private"].id
    admin = login("admin")
    response = admin.post(
        "/admin/trash/purge/confirm", {"rowid": [f"company:{company_id}", f"contact:{private_id}"], "confirm": "yes"}
    )
    assert response.status_code == 200
    body = text(response)
    assert sv("Nothing was deleted.") in body
    assert (
        sv(
            "%(name)s cannot be deleted permanently: it has invoices or orders, which must be kept for seven years "
            "(Bokföringslagen).",
            name="Papperskorgen AB",
        )
        in body
    )
    raw = response.get_data(as_text=True)
    assert f'value="contact:{private_id}"' in raw and f'value="company:{company_id}"' not in raw
    assert fresh(session, Company, company_id) is not None
    assert fresh(session, Contact, private_id) is not None
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).all() == []


def test_the_purge_confirmation_already_says_which_customers_must_be_kept(login, session, invoiced):
    company_id, private_id = invoiced["company"].id, invoiced["private"].id
    response = login("admin").post("/admin/trash/purge", {"rowid": [f"company:{company_id}", f"contact:{private_id}"]})
    assert response.status_code == 200
    body = text(response)
    assert "Papperskorgen AB" in body and "bokföringslagen" in body.lower()
    assert sv("Nothing was deleted.") not in body
    raw = response.get_data(as_text=True)
    assert f'value="contact:{private_id}"' in raw and f'value="company:{company_id}"' not in raw


# --- the whole round trip through the UI ---------------------------------------------------------


def test_delete_then_restore_through_the_ui(login, session, make_company, make_contact):
    company = make_company(name="Tur och Retur AB")
    make_contact(first_name="Nils", last_name="Nilsson", companies=[company], role="Ekonom")
    seller, admin = login("seller"), login("admin")
    seller.post("/admin/company/action/", {"action": "delete", "rowid": [str(company.id)]})
    assert seller.client.get(f"/admin/company/card/{company.id}").status_code == 404
    assert "Tur och Retur AB" in text(admin.client.get("/admin/trash/"))
    admin.post("/admin/trash/restore", {"rowid": [f"company:{company.id}"]})
    card = seller.client.get(f"/admin/company/card/{company.id}?tab=contacts")
    assert card.status_code == 200
    assert "Nils Nilsson" in text(card) and "Ekonom" in text(card)
