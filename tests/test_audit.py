"""The audit trail (services.audit): every write to a Company or Contact is an
AuditEvent, written in the same transaction, with the actor and old → new values."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import AuditEvent, Category, Company, Contact
from services import audit, numbering, register, trash
from services.audit import acting_as


def events(session, entity) -> list[AuditEvent]:
    """The audit events of one entity, oldest first (read from the database)."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == type(entity).__tablename__, AuditEvent.entity_id == entity.id)
            .order_by(AuditEvent.id)
        )
    )


def all_events(session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


# --- create ------------------------------------------------------------------------


def test_creating_a_company_records_who_and_what(session, employees):
    admin = employees["admin"]
    with acting_as(session, admin.id):
        company = Company(
            name="Svea Kaffe AB", org_number="5560360793", postal_city="Göteborg", discount_percent=Decimal("5")
        )
        session.add(company)
        session.commit()
    [event] = events(session, company)
    assert event.action == "create"
    assert event.actor_id == admin.id
    assert event.changes["name"] == "Svea Kaffe AB"
    assert event.changes["org_number"] == "5560360793"
    assert event.changes["postal_city"] == "Göteborg"
    assert event.changes["customer_number"] == company.customer_number
    assert event.changes["discount_percent"] == "5"
    # Empty fields and bookkeeping columns are left out.
    assert "email" not in event.changes
    assert not {"version", "updated_at", "created_at", "id"} & set(event.changes)


def test_creating_a_contact_records_an_event(session, employees):
    with acting_as(session, employees["seller"].id):
        contact = Contact(first_name="Åsa", last_name="Öberg", email="asa@example.se")
        session.add(contact)
        session.commit()
    [event] = events(session, contact)
    assert (event.action, event.actor_id) == ("create", employees["seller"].id)
    assert event.changes["first_name"] == "Åsa"
    assert event.changes["last_name"] == "Öberg"


def test_creation_with_categories_records_them(session, employees):
    a, b = Category(name="A-kund"), Category(name="Julkort")
    session.add_all([a, b])
    session.commit()
    company = Company(name="Kategoriserad AB", categories=[b, a], discount_percent=Decimal("0"))
    session.add(company)
    session.commit()
    [event] = events(session, company)
    assert event.changes["categories"] == ["A-kund", "Julkort"]


def test_without_a_request_or_acting_as_the_actor_is_the_system(session, make_company):
    company = make_company()
    [event] = events(session, company)
    assert event.actor_id is None


# --- update --------------------------------------------------------------------


def test_update_records_old_and_new_values_of_changed_fields_only(session, make_company, employees):
    company = make_company(name="Gammalt Namn AB", phone="+46812345678", postal_city="Uppsala")
    with acting_as(session, employees["finance"].id):
        company.name = "Nytt Namn AB"
        company.phone = "+46701234567"
        company.postal_city = "Uppsala"  # assigned, not changed
        company.payment_terms_days = 10
        session.commit()
    update = events(session, company)[-1]
    assert update.action == "update"
    assert update.actor_id == employees["finance"].id
    assert update.changes == {
        "name": ["Gammalt Namn AB", "Nytt Namn AB"],
        "phone": ["+46812345678", "+46701234567"],
        "payment_terms_days": [30, 10],
    }


def test_saving_without_changes_writes_no_event(session, make_company):
    company = make_company(name="Orört AB")
    company.name = "Orört AB"
    session.commit()
    assert [e.action for e in events(session, company)] == ["create"]


def test_category_changes_are_recorded_old_to_new(session, make_company):
    a, b, c = Category(name="A-kund"), Category(name="B-kund"), Category(name="Nyhetsbrev")
    session.add_all([a, b, c])
    company = make_company(categories=[a, c])
    company.categories = [b, c]
    session.commit()
    update = events(session, company)[-1]
    assert update.action == "update"
    assert update.changes["categories"] == [["A-kund", "Nyhetsbrev"], ["B-kund", "Nyhetsbrev"]]


def test_contact_update_is_recorded(session, make_contact, employees):
    contact = make_contact(title="Säljare")
    with acting_as(session, employees["seller"].id):
        contact.title = "Säljchef"
        session.commit()
    update = events(session, contact)[-1]
    assert (update.action, update.changes, update.actor_id) == (
        "update",
        {"title": ["Säljare", "Säljchef"]},
        employees["seller"].id,
    )


def test_update_event_is_in_the_same_transaction_as_the_change(session, make_company):
    """The event is flushed together with the change: visible before the commit,
    and gone with it on rollback."""
    company = make_company(name="Före AB")
    company.name = "Efter AB"
    session.flush()
    assert events(session, company)[-1].changes == {"name": ["Före AB", "Efter AB"]}
    session.rollback()
    assert [e.action for e in events(session, company)] == ["create"]
    assert session.get(Company, company.id).name == "Före AB"


def test_a_rolled_back_creation_leaves_no_event(session):
    session.add(Company(name="Aldrig Sparad AB", discount_percent=Decimal("0")))
    session.add(Contact(first_name="Ingen", last_name="Alls"))
    session.flush()
    assert len(all_events(session)) == 2
    session.rollback()
    assert all_events(session) == []


def test_a_failed_commit_leaves_no_event(session, make_company):
    """A change that the database refuses (duplicate customer number) is not audited."""
    first = make_company()
    session.add(Company(name="Krock AB", customer_number=first.customer_number, discount_percent=Decimal("0")))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    assert [e.action for e in all_events(session)] == ["create"]


# --- trash ----------------------------------------------------------------------


def test_delete_restore_and_purge_of_a_company_are_recorded(storage, session, make_company, employees):
    admin, seller = employees["admin"], employees["seller"]
    company = make_company(name="Papperskorg AB")
    company_id, name = company.id, company.name

    trash.delete(session, seller, Company, [company_id])
    session.commit()
    deleted = events(session, company)[-1]
    assert deleted.action == "delete"
    assert deleted.changes["deleted_at"][0] is None and deleted.changes["deleted_at"][1]
    assert deleted.changes["deleted_by_id"] == [None, seller.id]

    trash.restore(session, admin, Company, [company_id])
    session.commit()
    restored = events(session, company)[-1]
    assert restored.action == "restore"
    assert restored.changes["deleted_at"][1] is None
    assert restored.changes["deleted_by_id"] == [seller.id, None]

    trash.delete(session, admin, Company, [company_id])
    trash.purge(session, storage, admin, Company, [company_id])
    session.commit()
    assert session.get(Company, company_id) is None
    actions = [
        e.action
        for e in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "company", AuditEvent.entity_id == company_id)
            .order_by(AuditEvent.id)
        )
    ]
    assert actions == ["create", "delete", "restore", "delete", "purge"]
    purge = session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).one()
    assert purge.changes == {"name": name}


def test_trash_operations_are_attributed_with_acting_as(session, make_company, employees):
    seller = employees["seller"]
    company = make_company()
    with acting_as(session, seller.id):
        trash.delete(session, seller, Company, [company.id])
        session.commit()
    assert events(session, company)[-1].actor_id == seller.id


def test_delete_restore_and_purge_of_a_contact_are_recorded(storage, session, make_contact, employees):
    admin = employees["admin"]
    contact = make_contact()
    contact_id = contact.id
    with acting_as(session, admin.id):
        trash.delete(session, admin, Contact, [contact_id])
        session.commit()
        trash.restore(session, admin, Contact, [contact_id])
        session.commit()
        trash.delete(session, admin, Contact, [contact_id])
        trash.purge(session, storage, admin, Contact, [contact_id])
        session.commit()
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "contact", AuditEvent.entity_id == contact_id)
        .order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in rows] == ["create", "delete", "restore", "delete", "purge"]
    assert all(e.actor_id == admin.id for e in rows[1:])


def test_making_a_private_customer_records_the_new_number(session, make_contact):
    contact = make_contact()
    number = numbering.make_private_customer(session, contact)
    session.commit()
    assert events(session, contact)[-1].changes == {"customer_number": [None, number]}


# --- links -------------------------------------------------------------------------


def test_linking_and_unlinking_contacts_is_recorded_on_the_company(session, make_company, make_contact, employees):
    company = make_company()
    contact = make_contact(first_name="Lars", last_name="Holm")
    with acting_as(session, employees["seller"].id):
        register.link_contacts(session, company, [contact], role="VD")
        session.commit()
        register.unlink_contact(session, company, contact)
        session.commit()
    link, unlink = events(session, company)[-2:]
    assert (link.action, link.changes, link.actor_id) == (
        "link",
        {"contact": [None, "Lars Holm"], "role": "VD"},
        employees["seller"].id,
    )
    assert (unlink.action, unlink.changes) == ("unlink", {"contact": ["Lars Holm", None]})


def test_record_writes_an_event_in_the_current_transaction(session, make_company):
    company = make_company()
    audit.record(session, company, "link", {"contact": [None, "X"]})
    session.rollback()
    assert [e.action for e in events(session, company)] == ["create"]


# --- acting_as ---------------------------------------------------------------


def test_acting_as_restores_the_previous_actor(session, employees):
    admin, seller = employees["admin"], employees["seller"]
    with acting_as(session, admin.id):
        with acting_as(session, seller.id):
            session.add(Contact(first_name="Inre", last_name="Block"))
            session.commit()
        session.add(Contact(first_name="Yttre", last_name="Block"))
        session.commit()
    session.add(Contact(first_name="Utanför", last_name="Block"))
    session.commit()
    actors = [e.actor_id for e in all_events(session)]
    assert actors == [seller.id, admin.id, None]


def test_acting_as_wins_over_the_logged_in_employee(app, employees):
    """Inside a request the logged-in employee is the actor unless acting_as says otherwise."""
    from flask_login import login_user

    with app.test_request_context():
        login_user(employees["seller"])
        db.session.add(Contact(first_name="Från", last_name="Request"))
        db.session.commit()
        with acting_as(db.session, employees["admin"].id):
            db.session.add(Contact(first_name="Som", last_name="Admin"))
            db.session.commit()
    actors = [e.actor_id for e in all_events(db.session)]
    assert actors == [employees["seller"].id, employees["admin"].id]


# --- the sales tools -----------------------------------------------------------------


def test_opportunities_leads_and_call_lists_are_audited(session, make_company, employees):
    from models import CallList, Lead, Opportunity, SalesStage
    from services import leads

    seller = employees["seller"]
    stage = SalesStage(name="Offert", sort_order=1, probability=50)
    session.add(stage)
    company = make_company(name="Kund AB")
    with acting_as(session, seller.id):
        opportunity = Opportunity(
            title="Ny webbplats", company=company, stage=stage, owner=seller, amount=Decimal("50000")
        )
        lead = Lead(company_name="Prospekt AB", status="new", owner=seller)
        call_list = CallList(name="Höstkampanj", owner=seller)
        session.add_all([opportunity, lead, call_list])
        session.commit()
        opportunity.amount = Decimal("65000")
        session.commit()
        converted = leads.convert(session, seller, lead)
        session.commit()

    [created, changed] = events(session, opportunity)
    assert (created.action, created.actor_id, created.changes["title"]) == ("create", seller.id, "Ny webbplats")
    assert (changed.action, changed.changes["amount"]) == ("update", ["50000.00", "65000"])
    lead_events = events(session, lead)
    assert [e.action for e in lead_events] == ["create", "update"]
    assert lead_events[1].changes["status"] == ["new", "converted"]
    assert events(session, converted)[0].action == "create"
    assert [e.action for e in events(session, call_list)] == ["create"]


@pytest.mark.parametrize(
    "model, field, value",
    [
        (Company, "discount_percent", Decimal("12.50")),
        (Company, "is_supplier", True),
        (Company, "customer_number", 10042),
        (Company, "deleted_at", datetime(2026, 3, 1, 14, 30, 5)),
        (Company, "name", "Alfa Bygg AB"),
        (Company, "owner_id", None),
    ],
)
def test_unplain_is_the_one_inverse_of_plain(model, field, value):
    """What an undo (of a merge, an import, a mass update) puts back: the audited value as the column's own."""
    back = audit.unplain(model.__table__.c[field], audit.plain(value))
    assert back == value and type(back) is type(value)


def test_a_date_comes_back_as_a_date():
    from models import Opportunity

    assert audit.unplain(Opportunity.__table__.c["close_date"], audit.plain(date(2026, 12, 5))) == date(2026, 12, 5)


def test_a_related_record_set_through_its_relationship_is_an_audited_change(session, make_company):
    """`opportunity.stage = …` changes stage_id only when the flush copies the key: the audit records it
    all the same (it recorded nothing: Historik missed the move, and so did the webhook event)."""
    from models import Opportunity, SalesStage

    first, second = SalesStage(name="A", sort_order=1, probability=10), SalesStage(name="B", sort_order=2)
    session.add_all([first, second])
    opportunity = Opportunity(title="Affär", company=make_company(), stage=first)
    session.add(opportunity)
    session.commit()
    opportunity.stage = second
    session.commit()
    update = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "opportunity", AuditEvent.action == "update")
    ).one()
    assert update.changes["stage_id"] == [first.id, second.id]
