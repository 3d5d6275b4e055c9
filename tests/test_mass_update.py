"""services.mass_update: many records changed at once, audited per record, permissioned, undone as one step."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Category, Company, CustomFieldDefinition, CustomFieldValue, CustomTab, Industry, Lead
from services import mass_update
from services.validation import InvalidValue


@pytest.fixture
def companies(session, make_company):
    rows = [make_company(name=f"Massföretag {n} AB", status="active") for n in range(5)]
    return rows


def test_set_owner_status_category_and_invoice_settings_on_the_ticked_companies(session, employees, companies):
    seller, admin = employees["seller"], employees["admin"]
    campaign = Category(name="Vårkampanj", applies_to="company")
    industry = Industry(name="Bygg")
    session.add_all([campaign, industry])
    session.commit()
    ticked = [c.id for c in companies[:3]]
    job = mass_update.start(
        session,
        admin,
        "company",
        ticked,
        {
            "owner_id": seller.id,
            "status": "inactive",
            "add_category": campaign.id,
            "industry_id": industry.id,
            "payment_terms_days": "10",
            "discount_percent": "5,5",
        },
    )
    assert (job.status, job.row_count) == ("done", 3)
    session.expire_all()
    for company in companies:
        changed = company.id in ticked
        assert (company.owner_id == seller.id) is changed
        assert (company.status == "inactive") is changed
        assert (campaign in company.categories) is changed
        assert (company.payment_terms_days == 10) is changed
        assert (company.discount_percent == Decimal("5.50")) is changed
    # one audit event per changed record, naming the old and new values
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "company", AuditEvent.action == "update")
    ).all()
    assert sorted(e.entity_id for e in events) == sorted(ticked)
    assert events[0].changes["status"] == ["active", "inactive"] and events[0].actor_id == admin.id


def test_undo_puts_every_record_back_as_one_step(session, employees, companies):
    admin = employees["admin"]
    old = Category(name="Gammal", applies_to="both")
    session.add(old)
    companies[0].categories.append(old)
    companies[1].status = "bankrupt"
    session.commit()
    ids = [c.id for c in companies]
    job = mass_update.start(session, admin, "company", ids, {"status": "inactive", "remove_category": old.id})
    session.expire_all()
    assert {c.status for c in companies} == {"inactive"} and old not in companies[0].categories
    companies[2].status = "active"  # changed by someone after the mass update: left as it is
    session.commit()

    assert mass_update.undo(session, admin, job.id) == 5
    session.commit()
    session.expire_all()
    assert [c.status for c in companies] == ["active", "bankrupt", "active", "active", "active"]
    assert old in companies[0].categories
    with pytest.raises(InvalidValue):
        mass_update.undo(session, admin, job.id)


def test_a_custom_field_is_set_and_undone(session, employees, companies):
    tab = CustomTab(name="Avtal", applies_to="company")
    field = CustomFieldDefinition(tab=tab, label="Avtalsnivå", field_type="number")
    session.add_all([tab, field])
    session.add(CustomFieldValue(field=field, company_id=companies[0].id, value_number=Decimal("2")))
    session.commit()
    admin = employees["admin"]
    job = mass_update.start(session, admin, "company", [c.id for c in companies[:2]], {"custom_field": [field.id, "3"]})
    values = dict(session.execute(select(CustomFieldValue.company_id, CustomFieldValue.value_number)).all())
    assert values == {companies[0].id: Decimal("3"), companies[1].id: Decimal("3")}
    mass_update.undo(session, admin, job.id)
    session.commit()
    values = dict(session.execute(select(CustomFieldValue.company_id, CustomFieldValue.value_number)).all())
    assert values == {companies[0].id: Decimal("2")}


@pytest.mark.parametrize(
    ("role", "changes", "allowed"),
    [
        ("seller", {"status": "inactive"}, True),
        ("seller", {"payment_terms_days": "10"}, True),
        ("readonly", {"status": "inactive"}, False),
        ("finance", {"status": "inactive"}, True),
    ],
)
def test_only_what_the_employee_may_edit_is_changed(session, employees, companies, role, changes, allowed):
    if allowed:
        mass_update.start(session, employees[role], "company", [companies[0].id], changes)
    else:
        with pytest.raises(mass_update.NotPermitted):
            mass_update.start(session, employees[role], "company", [companies[0].id], changes)
        session.rollback()
        assert session.get(Company, companies[0].id).status == "active"


def test_a_seller_without_the_settings_tab_may_not_change_invoice_settings(session, employees, companies):
    seller = employees["seller"]
    seller.revoked_permissions = ["tab.settings"]
    session.commit()
    with pytest.raises(mass_update.NotPermitted):
        mass_update.start(session, seller, "company", [companies[0].id], {"payment_terms_days": "10"})


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"status": "merged"},
        {"owner_id": "999"},
        {"payment_terms_days": "-1"},
        {"discount_percent": "abc"},
        {"discount_percent": "nan"},
        {"discount_percent": "Infinity"},
        {"name": "Nytt namn"},
        {"add_category": "999"},
    ],
)
def test_bad_changes_are_refused_and_nothing_is_saved(session, employees, companies, changes):
    with pytest.raises(InvalidValue):
        mass_update.start(session, employees["admin"], "company", [c.id for c in companies], changes)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "update")) == 0


def test_a_lead_gets_only_a_category_for_companies(session, employees):
    """Leads take the categories of companies (as a lead's form does), never a contacts-only one."""
    from models import Category

    lead = Lead(company_name="Kategorilead AB")
    people = Category(name="Bara kontakter", applies_to="contact")
    session.add_all([lead, people])
    session.commit()
    with pytest.raises(InvalidValue):
        mass_update.start(session, employees["admin"], "lead", [lead.id], {"add_category": str(people.id)})


def test_leads_get_an_owner_and_status(session, employees):
    leads = [Lead(company_name=f"Lead {n} AB") for n in range(3)]
    session.add_all(leads)
    session.commit()
    mass_update.start(
        session,
        employees["seller"],
        "lead",
        [lead.id for lead in leads],
        {"owner_id": employees["seller"].id, "status": "contacted"},
    )
    session.expire_all()
    assert {(lead.owner_id, lead.status) for lead in leads} == {(employees["seller"].id, "contacted")}


def test_a_large_selection_runs_in_the_background(session, employees, make_company, worker, monkeypatch):
    import time

    monkeypatch.setattr(mass_update, "INLINE_LIMIT", 2)
    rows = [make_company(name=f"Bakgrund {n} AB") for n in range(4)]
    job = mass_update.start(session, employees["admin"], "company", [c.id for c in rows], {"status": "inactive"})
    assert job.status == "queued"
    job_id = job.id
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        session.expire_all()
        if session.get(type(job), job_id).status in ("done", "failed"):
            break
        session.rollback()
        time.sleep(0.2)
    done = session.get(type(job), job_id)
    assert (done.status, done.row_count) == ("done", 4), done.error
    assert session.scalar(select(func.count()).select_from(Company).where(Company.status == "inactive")) == 4
