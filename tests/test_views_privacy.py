"""Administration – Dataskydd through HTTP: search, the extract document and ZIP, the erasure's
preview and confirmation; permissions, CSRF, and no GET that changes anything."""

import io
import json
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from helpers import sv, text
from models import Activity, AuditEvent, Contact, EmailMessage, Invoice, PrivacyEvent
from services import audit
from tests.security import changed_tables, snapshot


@pytest.fixture
def customer(session, make_contact):
    """A private customer with a note, an activity and an issued invoice."""
    contact = make_contact(
        first_name="Greta",
        last_name="Qvarnström",
        email="greta@qvarn.se",
        personal_number="19121212-1212",
        customer_number=7001,
    )
    session.add(Activity(kind="note", subject="Greta Qvarnström ringde", contact_id=contact.id))
    session.add(Invoice(number=55, status="sent", contact_id=contact.id, invoice_date=contact.created_at.date()))
    session.commit()
    return contact


def test_search_by_personnummer_and_email(login, customer):
    admin = login("admin")
    page = text(admin.client.get("/admin/privacy/?q=191212121212"))
    assert "Greta Qvarnström" in page and f"/admin/privacy/contact/{customer.id}" in page
    page = text(admin.client.get("/admin/privacy/?q=GRETA@qvarn.se"))
    assert "Greta Qvarnström" in page
    assert sv("Nobody found.") in text(admin.client.get("/admin/privacy/?q=ingen+alls"))


def test_extract_document_and_zip(login, customer, session):
    admin = login("admin")
    page = admin.client.get(f"/admin/privacy/contact/{customer.id}")
    assert sv("Register extract (document)") in text(page)
    response = admin.post(f"/admin/privacy/contact/{customer.id}/extract")
    document = text(response)
    assert response.status_code == 200
    assert sv("Register extract") in document and "19121212-1212" in document and "Greta Qvarnström ringde" in document
    assert "Personnummer" in document and sv("Consents") in document

    response = admin.post(f"/admin/privacy/contact/{customer.id}/extract", data={"format": "zip"})
    assert response.headers["Content-Type"] == "application/zip"
    assert "registerutdrag-contact" in response.headers["Content-Disposition"]
    data = json.loads(zipfile.ZipFile(io.BytesIO(response.data)).read("registerutdrag.json"))
    assert data["places"][0]["rows"][0]["email"] == "greta@qvarn.se"

    events = session.scalars(select(PrivacyEvent).order_by(PrivacyEvent.id)).all()
    assert [(e.action, e.subject_id) for e in events] == [("extract", customer.id)] * 2
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "extract")).all()


def test_erasure_preview_then_confirm(login, customer, session):
    admin = login("admin")
    before = snapshot(session)
    preview = text(admin.client.get(f"/admin/privacy/contact/{customer.id}/erase"))
    assert changed_tables(before, snapshot(session)) == {}  # the preview changes nothing
    assert sv("Erase %(name)s", name="Greta Qvarnström") in preview
    assert "7 kap. 2 §" in preview and "55" in preview

    response = admin.post(f"/admin/privacy/contact/{customer.id}/erase")  # not confirmed
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Contact, customer.id).last_name == "Qvarnström"

    response = admin.post(f"/admin/privacy/contact/{customer.id}/erase", data={"confirm": "yes"}, follow_redirects=True)
    assert sv("The person's personal data was erased.") in text(response)
    session.expire_all()
    contact = session.get(Contact, customer.id)
    assert (contact.first_name, contact.email, contact.personal_number) == ("Anonymiserad", None, None)
    assert session.scalar(select(Invoice.retained_name)) == "Greta Qvarnström"
    assert session.scalar(select(Activity.subject)) == "[raderat] ringde"
    invoice_id = session.scalar(select(Invoice.id))
    printed = text(admin.client.get(f"/admin/invoice/show/{invoice_id}/print"))
    assert "Greta Qvarnström" in printed and "Sparas enligt bokföringslagen till och med" in printed


@pytest.mark.parametrize("role", ["seller", "finance", "readonly"])
def test_other_roles_are_refused(login, customer, role, session):
    client = login(role)
    assert client.client.get("/admin/privacy/").status_code == 403
    assert client.client.get(f"/admin/privacy/contact/{customer.id}/erase").status_code == 403
    assert client.post(f"/admin/privacy/contact/{customer.id}/extract").status_code == 403
    assert client.post(f"/admin/privacy/contact/{customer.id}/erase", data={"confirm": "yes"}).status_code == 403
    session.expire_all()
    assert session.get(Contact, customer.id).last_name == "Qvarnström"
    assert session.scalars(select(PrivacyEvent)).all() == []


def test_erasure_without_csrf_token_is_refused(login, customer, session):
    admin = login("admin")
    response = admin.client.post(f"/admin/privacy/contact/{customer.id}/erase", data={"confirm": "yes"})
    assert response.status_code == 400
    session.expire_all()
    assert session.get(Contact, customer.id).last_name == "Qvarnström"


def test_unknown_person_is_404(login):
    admin = login("admin")
    assert admin.client.get("/admin/privacy/contact/999999").status_code == 404
    assert admin.client.get("/admin/privacy/company/1").status_code == 404


def test_the_card_and_the_lead_page_link_to_data_protection(login, customer, session):
    from models import Lead

    lead = Lead(company_name="Testbolaget", contact_last_name="Ek")
    session.add(lead)
    session.commit()
    admin = login("admin")
    assert f"/admin/privacy/contact/{customer.id}" in text(admin.client.get(f"/admin/contact/card/{customer.id}"))
    assert f"/admin/privacy/lead/{lead.id}" in text(admin.client.get(f"/admin/lead/show/{lead.id}"))
    seller = login("seller")
    assert "/admin/privacy/" not in text(seller.client.get(f"/admin/contact/card/{customer.id}"))


def test_retention_rules_through_the_page(login, session):
    from datetime import datetime

    from models import Lead, RetentionRule
    from services import tasks

    admin = login("admin")
    response = admin.post(
        "/admin/privacy/rules", data={"kind": "lead_untouched", "months": "noll"}, follow_redirects=True
    )
    assert sv("Give the number of months as a whole number from %(low)s to %(high)s.", low=1, high=600) in text(
        response
    )
    assert session.scalars(select(RetentionRule)).all() == []
    admin.post("/admin/privacy/rules", data={"kind": "lead_untouched", "months": "24"})
    rule = session.scalars(select(RetentionRule)).one()

    lead = Lead(company_name="Gammal AB", contact_last_name="Ödberg")
    session.add(lead)
    session.commit()
    session.execute(text_update_lead(lead.id, datetime(2000, 1, 1)))
    session.commit()
    before = snapshot(session)
    page = text(admin.client.get(f"/admin/privacy/rules/{rule.id}"))
    assert changed_tables(before, snapshot(session)) == {}
    assert "Ödberg" in page and sv("Run now") in page

    tasks.queue.flush()
    admin.post(f"/admin/privacy/rules/{rule.id}/run")  # not confirmed: nothing queued
    assert tasks.pending_ids() == []
    response = admin.post(f"/admin/privacy/rules/{rule.id}/run", data={"confirm": "yes"}, follow_redirects=True)
    assert sv("The retention rule runs in the background; the log shows what was done.") in text(response)
    assert len(tasks.pending_ids()) == 1
    tasks.queue.flush()

    seller = login("seller")
    assert seller.post("/admin/privacy/rules", data={"kind": "lead_untouched", "months": "1"}).status_code == 403
    assert seller.post(f"/admin/privacy/rules/{rule.id}/delete").status_code == 403
    admin.post(f"/admin/privacy/rules/{rule.id}/delete")
    assert session.scalars(select(RetentionRule)).all() == []


def text_update_lead(lead_id, when):
    from sqlalchemy import update

    from models import Lead, table_of

    return update(table_of(Lead)).where(table_of(Lead).c.id == lead_id).values(updated_at=when)


def test_the_log_says_when_a_rule_could_not_erase_someone(login, session, employees):
    from models import PrivacyEvent

    admin = login("admin")
    session.add(
        PrivacyEvent(
            actor_id=employees["admin"].id,
            action="retention_rule",
            subject_type="rule",
            subject_id=1,
            summary={"erased": 4, "failed": 2, "left": 2, "kind": "lead_untouched", "months": 24},
        )
    )
    session.commit()
    page = text(admin.client.get("/admin/privacy/"))
    assert sv("%(num)s erased", num=4) in page
    assert sv("%(num)s could not be erased and are tried again in the next run", num=2) in page


# --- the document is read by the person: values as the screens show them ----------------------


def _document_count(page: str, key: str) -> int:
    return int(re.search(rf'id="extract-{key}">\s*<h2>[^<]*<small>\((\d+)\)', page).group(1))


def _preview_count(page: str, label: str) -> int:
    return int(re.search(rf"<tr><td>{re.escape(label)}</td><td[^>]*>(\d+)</td>", page).group(1))


@pytest.fixture
def client_of_seller(session, employees, make_contact):
    """A private customer whose seller, invoice language, discount and lawful basis are in her history,
    with an e-mail sent to her; stored at 11:35:53.392759 UTC (12:35 in Stockholm)."""
    at = datetime(2026, 12, 6, 11, 35, 53, 392759)
    with audit.acting_as(session, employees["admin"].id):
        contact = make_contact(
            first_name="Hedda",
            last_name="Östlund",
            mobile="+46701234567",
            customer_number=7002,
            owner_id=employees["seller"].id,
            invoice_language="sv",
            discount_percent=Decimal(0),
            lawful_basis="legitimate_interest",
            created_at=at,
        )
        session.add(
            EmailMessage(
                contact_id=contact.id, direction="out", sender="s@x.se", recipients="h@x.se", subject="Hej", sent_at=at
            )
        )
        session.execute(update(AuditEvent).values(at=at))
        session.commit()
    return contact


def test_the_extract_document_shows_times_in_stockholm_to_the_minute(login, client_of_seller):
    """Stored in UTC with microseconds; read by the person as every other screen shows a time."""
    document = text(login("admin").post(f"/admin/privacy/contact/{client_of_seller.id}/extract"))
    assert "2026-12-06 12:35" in document
    assert "11:35" not in document and ".392759" not in document
    assert not re.search(r"\d\d:\d\d:\d\d", document)  # «framtaget» too


def test_the_extract_document_shows_codes_by_label_and_phones_as_the_screens_do(login, client_of_seller):
    document = text(login("admin").post(f"/admin/privacy/contact/{client_of_seller.id}/extract"))
    assert f"<th>{sv('Direction')}</th><td>{sv('Sent')}</td>" in document
    assert f"<th>{sv('Mobile')}</th><td>070-123 45 67</td>" in document
    assert "+4670" not in document


def test_the_extract_document_shows_the_history_as_historik_does(login, client_of_seller, employees):
    """The seller's name, not her id; Svenska, the basis' label, Swedish numbers (admin_views.labels.stored_value)."""
    document = text(login("admin").post(f"/admin/privacy/contact/{client_of_seller.id}/extract"))
    assert f"{sv('Customer owner')}: {employees['seller'].name}" in document
    assert f"{sv('Invoice language')}: {sv('Swedish')}" in document
    assert f"{sv('Lawful basis')}: {sv('Legitimate interest')}" in document
    assert f"{sv('Discount %')}: 0,00" in document
    assert "legitimate_interest" not in document


def test_the_extract_and_the_erasure_preview_count_the_same_history(login, client_of_seller):
    """An earlier extract is history about the person too: the extract counted it out, the preview in."""
    admin = login("admin")
    url = f"/admin/privacy/contact/{client_of_seller.id}"
    admin.post(f"{url}/extract")  # an earlier extract
    document = text(admin.post(f"{url}/extract"))
    preview = text(admin.client.get(f"{url}/erase"))
    history = _document_count(document, "history")
    assert history == _preview_count(preview, sv("History (audit trail)"))
    assert document.count(sv("Register extract produced")) == 2  # this one too
    for key, label in (("emails", "E-mail"), ("record", "Contact")):
        assert _document_count(document, key) == _preview_count(preview, sv(label))

    # the machine-readable extract (art. 20): stored values, times with their zone, the same rows
    archive = zipfile.ZipFile(io.BytesIO(admin.post(f"{url}/extract", data={"format": "zip"}).data))
    data = json.loads(archive.read("registerutdrag.json"))
    places = {place["key"]: place["rows"] for place in data["places"]}
    assert len(places["history"]) == history + 1  # the ZIP's own extract
    assert places["emails"][0]["direction"] == "out"
    assert places["emails"][0]["sent_at"] == "2026-12-06T11:35:53.392759+00:00"
    assert data["generated_at"].endswith("+00:00")
    assert places["history"][0]["changes"]["lawful_basis"] == "legitimate_interest"


def test_the_extract_holds_the_history_of_the_persons_invoices_and_activities(login, session, client_of_seller):
    """History about the person is also that of their invoices, orders, opportunities and activities (the
    erasure scrubs it): the extract shows it, and the preview counts it the same."""
    invoice = Invoice(status="draft", contact_id=client_of_seller.id, invoice_date=date(2026, 12, 1))
    session.add_all([invoice, Activity(kind="call", subject="Ringde om fakturan", contact_id=client_of_seller.id)])
    session.commit()
    invoice.status = "sent"
    session.commit()
    admin = login("admin")
    url = f"/admin/privacy/contact/{client_of_seller.id}"
    document = text(admin.post(f"{url}/extract"))
    preview = text(admin.client.get(f"{url}/erase"))
    assert _document_count(document, "documents_history") == 3  # the invoice's two events, the activity's one
    label = sv("History of their activities, sales opportunities, orders and invoices")
    assert _preview_count(preview, label) == 3
    assert f"Status: {sv('Draft')} → {sv('Sent')}" in document
    assert f"<th>{sv('Record')}</th><td>{sv('Invoice')}</td>" in document
