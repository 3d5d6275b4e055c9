"""Gallring (services.retention): rules, their preview, and runs that erase whom they select."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from models import Activity, Company, CompanyContact, Contact, Lead, PrivacyEvent, RetentionRule, table_of
from services import retention, storage
from services.validation import InvalidValue

NOW = datetime(2026, 12, 5, 12, 0)
LONG_AGO = NOW - timedelta(days=800)


@pytest.fixture
def store(app):
    return storage.from_config(app.config)


def _age(session, model, ids, when=LONG_AGO):
    """Set `updated_at` as if the rows were last touched `when` (Core: the ORM would stamp now)."""
    session.execute(update(table_of(model)).where(table_of(model).c.id.in_(ids)).values(updated_at=when))
    session.commit()


def test_months_before():
    assert retention.months_before(datetime(2026, 3, 31), 1) == datetime(2026, 2, 28)
    assert retention.months_before(datetime(2026, 12, 5), 24) == datetime(2024, 12, 5)
    assert retention.months_before(datetime(2026, 1, 15), 13) == datetime(2024, 12, 15)


def test_rules_are_checked(session, employees):
    admin = employees["admin"]
    with pytest.raises(InvalidValue):
        retention.create_rule(session, admin, kind="everyone", months=12)
    for months in ("", "0", "tolv", "601"):
        with pytest.raises(InvalidValue):
            retention.create_rule(session, admin, kind="lead_untouched", months=months)
    with pytest.raises(PermissionError):
        retention.create_rule(session, employees["seller"], kind="lead_untouched", months=24)
    assert retention.create_rule(session, admin, kind="lead_untouched", months=" 24 ").months == 24


def test_leads_untouched_are_previewed_then_erased(session, employees, store):
    old = Lead(
        company_name="Gammal AB", contact_first_name="Otto", contact_last_name="Ödberg", contact_email="otto@gammal.se"
    )
    touched = Lead(company_name="Aktiv AB", contact_last_name="Berg")
    recent = Lead(company_name="Ny AB", contact_last_name="Nyman")
    converted = Lead(company_name="Kund AB", contact_last_name="Kundsson", status="converted")
    session.add_all([old, touched, recent, converted])
    session.commit()
    session.add(Activity(kind="call", subject="Ring", lead_id=touched.id))
    session.commit()
    _age(session, Lead, [old.id, touched.id, converted.id])
    rule = retention.create_rule(session, employees["admin"], kind="lead_untouched", months=24)
    session.commit()

    assert [s.record.id for s in retention.preview(session, rule, NOW)] == [old.id]
    assert retention.run(session, store, rule, NOW) == 1
    session.commit()
    erased = session.get(Lead, old.id)
    assert (erased.company_name, erased.contact_last_name, erased.contact_email) == ("Gammal AB", None, None)
    assert session.get(Lead, recent.id).contact_last_name == "Nyman"
    assert retention.run(session, store, rule, NOW) == 0  # nobody twice
    session.commit()
    log = session.scalars(select(PrivacyEvent).order_by(PrivacyEvent.id)).all()
    assert [(e.action, e.summary.get("erased")) for e in log] == [
        ("erase", None),
        ("retention_rule", 1),
        ("retention_rule", 0),
    ]
    assert log[0].summary["retention_rule"] == rule.id and log[0].actor_id is None


def test_contacts_of_inactive_customers(session, employees, store, make_company, make_contact):
    dormant, busy = make_company(name="Sovande AB"), make_company(name="Livlig AB")
    gone = make_contact([dormant], first_name="Sigrid", last_name="Sömnig")
    stays = make_contact([busy], first_name="Pia", last_name="Pigg")
    private = make_contact([dormant], first_name="Per", last_name="Privat", customer_number=9001)
    _age(session, Company, [dormant.id, busy.id])
    _age(session, Contact, [gone.id, stays.id, private.id])
    session.add(Activity(kind="note", subject="Möte", company_id=busy.id))
    session.commit()
    rule = retention.create_rule(session, employees["admin"], kind="contact_inactive_customer", months=24)
    session.commit()
    assert [s.record.id for s in retention.preview(session, rule, NOW)] == [gone.id]
    retention.run(session, store, rule, NOW)
    session.commit()
    assert session.get(Contact, gone.id).name == "Anonymiserad person"
    assert sorted(session.scalars(select(CompanyContact.contact_id))) == sorted([stays.id, private.id])
    assert session.get(Contact, stays.id).last_name == "Pigg"


def test_the_nightly_task_runs_active_rules(session, employees):
    from services import privacy_tasks, tasks

    assert "services.privacy_tasks" in tasks.TASK_MODULES
    lead = Lead(company_name="Gammal AB", contact_last_name="Ödberg")
    session.add(lead)
    session.commit()
    _age(session, Lead, [lead.id], datetime(2000, 1, 1))
    session.add(RetentionRule(kind="lead_untouched", months=24, created_by_id=employees["admin"].id))
    session.commit()
    privacy_tasks.run_retention_rules.call_local()
    session.expire_all()
    assert session.get(Lead, lead.id).contact_last_name is None


def _statements(session, call) -> tuple[object, int]:
    """What `call()` returns, and how many SQL statements it sent."""
    from sqlalchemy import event

    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = call()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return result, len(statements)


@pytest.mark.parametrize("kind", ["contact_inactive_customer", "lead_untouched"])
def test_the_preview_takes_the_same_few_statements_for_3_or_60_people(session, employees, make_company, kind):
    dormant = make_company(name="Sovande AB")
    _age(session, Company, [dormant.id])
    rule = retention.create_rule(session, employees["admin"], kind=kind, months=24)
    session.commit()
    counts = []
    for size in (3, 60):
        if kind == "lead_untouched":
            rows = [Lead(company_name=f"Gammal {size}-{n} AB", contact_last_name=f"Ödberg{n}") for n in range(size)]
        else:
            rows = [Contact(first_name="Sigrid", last_name=f"Sömnig{size}-{n}") for n in range(size)]
        session.add_all(rows)
        session.flush()
        if kind != "lead_untouched":
            session.add_all(CompanyContact(company_id=dormant.id, contact_id=row.id) for row in rows)
            session.add(Lead(company_name="Konverterad AB", contact_id=rows[0].id, status="converted"))
        session.commit()
        _age(session, type(rows[0]), [row.id for row in rows])
        session.expire_all()
        found, statements = _statements(session, lambda: retention.preview(session, rule, NOW))
        assert len(found) == (3 if counts else 0) + size  # the first round's people are still there
        counts.append(statements)
    assert counts[0] == counts[1] <= 5, counts
    if kind != "lead_untouched":
        subject = next(s for s in found if s.record.last_name == "Sömnig60-0")
        assert (len(subject.lead_ids), subject.company_ids) == (1, (dormant.id,))


def test_a_failing_erasure_does_not_stop_the_run(session, employees, store, monkeypatch):
    """Committing as it goes (the task queue's run), one person whose erasure fails is rolled back alone and
    counted; the others are erased, and the failed one is tried again by the next run."""
    from services import privacy

    leads = [Lead(company_name=f"Gammal {n} AB", contact_last_name=f"Ödberg{n}") for n in range(3)]
    session.add_all(leads)
    session.commit()
    _age(session, Lead, [lead.id for lead in leads])
    rule = retention.create_rule(session, employees["admin"], kind="lead_untouched", months=24)
    session.commit()
    real_erase, broken = privacy.erase_by, leads[1].id

    def erase_failing_once(session_, storage_, actor, subject, today, **kw):
        real_erase(session_, storage_, actor, subject, today, **kw)
        if subject.record.id == broken:
            session_.flush()
            raise RuntimeError("the database went away")

    monkeypatch.setattr(privacy, "erase_by", erase_failing_once)
    assert retention.run(session, store, rule, NOW, commit=session.commit) == 2
    session.commit()
    names = {lead.id: session.get(Lead, lead.id).contact_last_name for lead in leads}
    assert names == {leads[0].id: None, broken: "Ödberg1", leads[2].id: None}
    run_log = session.scalars(select(PrivacyEvent).where(PrivacyEvent.action == "retention_rule")).one()
    assert (run_log.summary["erased"], run_log.summary["failed"], run_log.summary["left"]) == (2, 1, 1)

    monkeypatch.setattr(privacy, "erase_by", real_erase)
    assert retention.run(session, store, rule, NOW, commit=session.commit) == 1
    session.commit()
    assert session.get(Lead, broken).contact_last_name is None
