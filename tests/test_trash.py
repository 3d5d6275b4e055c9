"""services.trash: delete to the trash, restore with links intact, purge only
from the trash, and who may do which (NotPermitted)."""

import io
from datetime import date, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import func, select

from models import (
    Activity,
    Attachment,
    AuditEvent,
    CallList,
    CallListEntry,
    Company,
    Contact,
    EmailMessage,
    Invoice,
    Lead,
    Opportunity,
    SalesOrder,
    utcnow,
)
from services import files, search, trash
from services.trash import NotPermitted
from tests.helpers import links_of


@pytest.fixture
def company_with_contacts(make_company, make_contact):
    company = make_company(name="Norrlands Bygg AB", org_number="5560360793")
    vd = make_contact(companies=[company], role="VD", first_name="Lars", last_name="Holm")
    buyer = make_contact(companies=[company], role="Inköpschef", first_name="Eva", last_name="Ek")
    return company, vd, buyer


# --- delete --------------------------------------------------------------------------


def test_delete_moves_to_the_trash_and_records_who_and_when(session, employees, company_with_contacts):
    company, vd, buyer = company_with_contacts
    seller = employees["seller"]
    before = utcnow()
    assert trash.delete(session, seller, Company, [company.id]) == 1
    session.commit()
    session.expire_all()
    stored = session.get(Company, company.id)
    assert stored is not None  # still in the database
    assert stored.is_deleted
    assert before - timedelta(seconds=1) <= stored.deleted_at <= utcnow() + timedelta(seconds=1)
    assert stored.deleted_by_id == seller.id
    assert stored.deleted_by.name == seller.name


def test_delete_keeps_the_contact_links_and_the_contacts(session, employees, company_with_contacts):
    company, vd, buyer = company_with_contacts
    trash.delete(session, employees["admin"], Company, [company.id])
    session.commit()
    assert links_of(session, company) == {vd.id: "VD", buyer.id: "Inköpschef"}
    assert not session.get(Contact, vd.id).is_deleted
    # The deleted company no longer shows among the contact's companies.
    assert session.get(Contact, vd.id).companies == []


def test_deleted_rows_leave_lists_and_search(session, employees, make_company):
    keep = make_company(name="Kvar AB")
    gone = make_company(name="Borta AB")
    trash.delete(session, employees["seller"], Company, [gone.id])
    session.commit()
    assert [c.id for c in search.search(session, Company, "AB")] == [keep.id]
    assert [c.id for c in trash.deleted(session, Company)] == [gone.id]


def test_delete_accepts_string_ids_and_ignores_rows_already_in_the_trash(session, employees, make_company):
    a, b = make_company(), make_company()
    admin = employees["admin"]
    assert trash.delete(session, admin, Company, [str(a.id)]) == 1
    session.commit()
    first_deleted_at = session.get(Company, a.id).deleted_at
    assert trash.delete(session, admin, Company, [a.id, b.id]) == 1
    session.commit()
    assert session.get(Company, a.id).deleted_at == first_deleted_at


def test_delete_contact(session, employees, make_company, make_contact):
    company = make_company()
    contact = make_contact(companies=[company])
    assert trash.delete(session, employees["seller"], Contact, [contact.id]) == 1
    session.commit()
    assert session.get(Contact, contact.id).is_deleted
    assert links_of(session, company) == {contact.id: None}
    assert session.get(Company, company.id).contacts == []


# --- restore ----------------------------------------------------------------------------


def test_restore_brings_back_the_company_with_its_contact_links(session, employees, company_with_contacts):
    company, vd, buyer = company_with_contacts
    admin = employees["admin"]
    trash.delete(session, employees["seller"], Company, [company.id])
    session.commit()
    assert trash.restore(session, admin, Company, [company.id]) == 1
    session.commit()
    session.expire_all()
    restored = session.get(Company, company.id)
    assert not restored.is_deleted
    assert restored.deleted_by_id is None
    assert restored.customer_number == company.customer_number
    assert restored.org_number == "5560360793"
    assert sorted(c.name for c in restored.contacts) == ["Eva Ek", "Lars Holm"]
    assert links_of(session, company) == {vd.id: "VD", buyer.id: "Inköpschef"}
    assert trash.deleted(session, Company) == []


def test_restore_ignores_live_rows(session, employees, make_company):
    live = make_company()
    assert trash.restore(session, employees["admin"], Company, [live.id]) == 0


def test_restore_a_private_customer(session, employees, make_contact):
    person = make_contact(customer_number=777)
    admin = employees["admin"]
    trash.delete(session, admin, Contact, [person.id])
    session.commit()
    assert trash.restore(session, admin, Contact, [person.id]) == 1
    session.commit()
    assert not session.get(Contact, person.id).is_deleted
    assert session.get(Contact, person.id).customer_number == 777


def test_trash_lists_the_most_recently_deleted_first(session, employees, make_company):
    admin = employees["admin"]
    old, new = make_company(name="Gammal AB"), make_company(name="Ny AB")
    trash.delete(session, admin, Company, [old.id])
    session.get(Company, old.id).deleted_at = datetime(2026, 1, 1)
    trash.delete(session, admin, Company, [new.id])
    session.commit()
    assert [c.name for c in trash.deleted(session, Company)] == ["Ny AB", "Gammal AB"]


# --- purge ------------------------------------------------------------------------------


def test_purge_destroys_only_what_is_in_the_trash(storage, session, employees, company_with_contacts, make_company):
    company, vd, buyer = company_with_contacts
    live = make_company(name="Levande AB")
    admin = employees["admin"]
    assert trash.purge(session, storage, admin, Company, [company.id, live.id]) == 0  # nothing in the trash yet
    session.commit()
    assert session.get(Company, company.id) is not None

    trash.delete(session, admin, Company, [company.id])
    session.commit()
    assert trash.purge(session, storage, admin, Company, [company.id, live.id]) == 1
    session.commit()
    session.expire_all()
    assert session.get(Company, company.id) is None
    assert session.get(Company, live.id) is not None
    # The links go with the company; the contacts themselves stay.
    assert links_of(session, company) == {}
    assert session.get(Contact, vd.id) is not None and session.get(Contact, buyer.id) is not None
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "purge")) == 1


def test_purge_contact_keeps_its_companies(storage, session, employees, make_company, make_contact):
    company = make_company()
    contact = make_contact(companies=[company])
    admin = employees["admin"]
    trash.delete(session, admin, Contact, [contact.id])
    trash.purge(session, storage, admin, Contact, [contact.id])
    session.commit()
    assert session.get(Contact, contact.id) is None
    assert session.get(Company, company.id) is not None
    assert links_of(session, company) == {}


def _invoice_for(session, *, company=None, contact=None, reference=None, number=1):
    """An issued invoice (kept seven years by the Bokföringslagen)."""
    invoice = Invoice(
        number=number,
        invoice_date=date(2026, 1, 10),
        status="sent",
        company_id=company.id if company else None,
        contact_id=contact.id if contact else None,
        their_reference_id=reference.id if reference else None,
    )
    session.add(invoice)
    session.commit()
    return invoice


def test_purge_refuses_a_customer_with_invoices_or_orders_and_deletes_nothing(
    storage, session, employees, make_company, make_contact
):
    admin = employees["admin"]
    invoiced = make_company(name="Norrlands Bygg AB")
    ordered = make_contact(first_name="Elin", last_name="Gustafsson", customer_number=901)
    free = make_company(name="Fri AB")
    _invoice_for(session, company=invoiced)
    session.add(SalesOrder(number=1, order_date=date(2026, 1, 5), contact_id=ordered.id))
    session.commit()
    trash.delete(session, admin, Company, [invoiced.id, free.id])
    trash.delete(session, admin, Contact, [ordered.id])
    session.commit()

    with pytest.raises(trash.CannotPurge) as refused:
        trash.purge_all(session, storage, admin, {Company: [invoiced.id, free.id], Contact: [ordered.id]})
    session.rollback()
    assert set(refused.value.reasons) == {(Company, invoiced.id), (Contact, ordered.id)}
    message = refused.value.reasons[(Company, invoiced.id)]
    assert "Norrlands Bygg AB" in message and "bokföringslagen" in message.lower()
    session.expire_all()
    for model, ident in ((Company, invoiced.id), (Company, free.id), (Contact, ordered.id)):
        assert session.get(model, ident) is not None  # nothing deleted, not even the free one
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "purge")) == 0

    with pytest.raises(trash.CannotPurge):  # the single-model entry point refuses the same way
        trash.purge(session, storage, admin, Company, [invoiced.id])
    session.rollback()
    assert trash.purge_all(session, storage, admin, {Company: [free.id]}) == {Company: 1}
    session.commit()
    assert session.get(Company, free.id) is None


def test_purge_refuses_a_contact_named_as_reference_on_an_invoice(
    storage, session, employees, make_company, make_contact
):
    admin = employees["admin"]
    customer = make_company(name="Kund AB")
    reference = make_contact(first_name="Ref", last_name="Erensson", companies=[customer])
    _invoice_for(session, company=customer, reference=reference)
    trash.delete(session, admin, Contact, [reference.id])
    session.commit()
    with pytest.raises(trash.CannotPurge) as refused:
        trash.purge(session, storage, admin, Contact, [reference.id])
    session.rollback()
    assert "Ref Erensson" in refused.value.reasons[(Contact, reference.id)]
    assert session.get(Contact, reference.id) is not None


def test_purge_takes_the_customers_history_with_it_and_keeps_its_leads(
    storage, session, employees, stage, make_company
):
    """Opportunities, activities, e-mail and call list entries are the customer's own and go with it;
    a lead converted to it stays (detached)."""
    admin = employees["admin"]
    company = make_company(name="Historik AB")
    opportunity = Opportunity(title="Affär", company_id=company.id, stage_id=stage.id, owner_id=admin.id)
    lead = Lead(company_name="Historik AB", company_id=company.id, owner_id=admin.id)
    call_list = CallList(name="Ring")
    session.add_all([opportunity, lead, call_list])
    session.flush()
    session.add_all(
        [
            Activity(subject="Möte", company_id=company.id, opportunity_id=opportunity.id),
            EmailMessage(company_id=company.id, sender="a@example.se", recipients="b@example.se", subject="Hej"),
            CallListEntry(call_list_id=call_list.id, company_id=company.id),
        ]
    )
    session.commit()
    ids = {"opportunity": opportunity.id, "lead": lead.id, "call_list": call_list.id}
    trash.delete(session, admin, Company, [company.id])
    session.commit()
    assert trash.purge(session, storage, admin, Company, [company.id]) == 1
    session.commit()
    session.expire_all()
    assert session.get(Company, company.id) is None
    assert session.get(Opportunity, ids["opportunity"]) is None
    for model in (Activity, EmailMessage, CallListEntry):
        assert session.scalar(select(func.count()).select_from(model).where(model.company_id == company.id)) == 0
    kept_lead = session.get(Lead, ids["lead"])
    assert kept_lead is not None and kept_lead.company_id is None
    assert session.get(CallList, ids["call_list"]) is not None


# --- permissions -------------------------------------------------------------------------

#: operation → roles allowed to do it (companies and contacts alike, except delete).
ALLOWED = {
    ("delete", Company): {"admin", "seller"},
    ("delete", Contact): {"admin", "seller"},
    ("restore", Company): {"admin"},
    ("restore", Contact): {"admin"},
    ("purge", Company): {"admin"},
    ("purge", Contact): {"admin"},
}


@pytest.mark.parametrize("role", ["admin", "seller", "finance", "readonly"])
@pytest.mark.parametrize("operation, model", list(ALLOWED), ids=lambda v: getattr(v, "__name__", v))
def test_who_may_delete_restore_and_purge(
    session, storage, employees, make_company, make_contact, role, operation, model
):
    row = make_company() if model is Company else make_contact()
    if operation != "delete":
        trash.delete(session, employees["admin"], model, [row.id])
        session.commit()
    state_before = session.get(model, row.id).deleted_at
    fn = partial(trash.purge, session, storage) if operation == "purge" else partial(getattr(trash, operation), session)
    if role in ALLOWED[(operation, model)]:
        assert fn(employees[role], model, [row.id]) == 1
        session.commit()
    else:
        with pytest.raises(NotPermitted):
            fn(employees[role], model, [row.id])
        session.rollback()
        session.expire_all()
        stored = session.get(model, row.id)
        assert stored is not None and stored.deleted_at == state_before  # nothing changed


def test_an_inactive_administrator_may_do_nothing(session, employees, make_company):
    admin = employees["admin"]
    company = make_company()
    admin.active = False
    session.commit()
    with pytest.raises(NotPermitted):
        trash.delete(session, admin, Company, [company.id])


def test_trash_events_name_the_acting_employee_outside_a_request(session, employees, make_company):
    company = make_company()
    admin = employees["admin"]
    trash.delete(session, admin, Company, [company.id])
    trash.restore(session, admin, Company, [company.id])
    session.commit()
    actions = session.execute(
        select(AuditEvent.action, AuditEvent.actor_id).where(
            AuditEvent.entity_id == company.id, AuditEvent.action != "create"
        )
    ).all()
    assert sorted(actions) == [("delete", admin.id), ("restore", admin.id)]


def test_purge_deletes_the_customers_files_when_it_commits(session, storage, employees, make_company, make_contact):
    """A purged company's and contact's files leave the storage with them (the database drops their rows
    by cascade), not before the purge commits: rolled back, every file is still there."""
    admin = employees["admin"]
    company, contact = make_company(), make_contact()
    uploaded = [
        files.upload(session, storage, actor=admin, stream=io.BytesIO(b"offert"), filename="offert.pdf", **owner)
        for owner in ({"company_id": company.id}, {"contact_id": contact.id})
    ]
    session.commit()
    keys = [a.storage_key for a in uploaded]
    trash.delete(session, admin, Company, [company.id])
    trash.delete(session, admin, Contact, [contact.id])
    session.commit()

    def stored() -> list[bool]:
        return [(storage.root / key[:2] / key).exists() for key in keys]

    trash.purge(session, storage, admin, Company, [company.id])
    trash.purge(session, storage, admin, Contact, [contact.id])
    assert stored() == [True, True]
    session.rollback()
    assert stored() == [True, True], "rolled back: the files stay with their rows"

    trash.purge(session, storage, admin, Company, [company.id])
    trash.purge(session, storage, admin, Contact, [contact.id])
    session.commit()
    assert stored() == [False, False]
    assert session.scalars(select(Attachment)).all() == []
