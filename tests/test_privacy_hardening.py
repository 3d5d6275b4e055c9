"""Dataskydd as a new back-office user and a hostile employee would try it (issue 20 review): an
erasure touches only what names the person, personnummer stay behind their permission, and
Gallring is bounded."""

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from helpers import sv, text
from models import AuditEvent, Company, Contact, Employee, PrivacyEvent
from services import audit, privacy, storage

TODAY = date(2026, 12, 5)
NOW = datetime(2026, 12, 5, 12, 0)
NOT_SEARCHED = (
    "Searching by personal identity number needs the permission to read them in full "
    "(Visa personnummer). Search by name or e-mail address instead."
)
HIDDEN_NUMBER = (
    "%(name)s has a personal identity number, which you may not read in full. A register extract "
    "must be complete, so only someone with the permission Visa personnummer can make it: ask an "
    "administrator."
)
HIDDEN_PARTS = (
    "%(name)s has data you may not see (%(parts)s). A register extract must be complete, so only someone "
    "who may see all of it can make it: ask an administrator."
)


@pytest.fixture
def store(app):
    return storage.from_config(app.config)


def _labels(session, entity_type):
    return set(session.scalars(select(AuditEvent.entity_label).where(AuditEvent.entity_type == entity_type)))


def test_an_erasure_does_not_cut_a_short_name_out_of_other_words(session, employees, make_company, store):
    """«Li Wu» erased: the history of «Kalli Wulff AB» and the note «Ali Wuori ringer» are not theirs."""
    admin = employees["admin"]
    with audit.acting_as(session, admin.id):
        other = make_company(name="Kalli Wulff AB", note="Ali Wuori ringer; mejla kalli@wu.se")
        person = Contact(first_name="Li", last_name="Wu", email="li@wu.se")
        session.add(person)
        session.commit()
        other.note += " – Li Wu var här om Li Wus offert"
        session.commit()
    subject = privacy.find_subject(session, "contact", person.id)
    privacy.erase(session, store, admin, subject, TODAY)
    session.commit()
    session.expire_all()
    assert _labels(session, "company") == {"Kalli Wulff AB"}
    assert session.get(Company, other.id).name == "Kalli Wulff AB"
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "company")).all()
    notes = [str(e.changes) for e in events if e.changes and "note" in e.changes]
    assert notes and all("Ali Wuori ringer; mejla kalli@wu.se" in n for n in notes)
    assert all("Li Wu" not in n for n in notes)  # the person's own mention is gone, genitive too
    assert any("[raderat] var här om [raderat] offert" in n for n in notes)
    assert session.get(Contact, person.id).email is None


def _grant(session, role, *permissions):
    """The employee of `role` (conftest's `employees`) gets `permissions` beyond the role (Behörigheter)."""
    employee = session.scalar(select(Employee).where(Employee.email == f"{role}@example.se"))
    employee.extra_permissions = sorted(permissions)
    session.commit()


@pytest.fixture
def numbered(session, make_contact):
    return make_contact(first_name="Åsa", last_name="Öberg", personal_number="19121212-1212", email="asa@oberg.se")


def test_dataskydd_search_by_personnummer_needs_the_permission_to_read_them(login, session, numbered):
    """A seller granted register extracts, not «Visa personnummer», cannot test whether a guessed
    number is someone's; the page says why instead of «Nobody found»."""
    _grant(session, "seller", "privacy.extract")
    seller = login("seller")
    for query in ("191212121212", "19121212-1212", "121212+1212"):
        page = text(seller.client.get("/admin/privacy/", query_string={"q": query}))
        assert "Öberg" not in page
        assert sv(NOT_SEARCHED) in page
    assert "Öberg" in text(seller.client.get("/admin/privacy/", query_string={"q": "asa@oberg.se"}))
    admin = login("admin")
    assert "Öberg" in text(admin.client.get("/admin/privacy/", query_string={"q": "191212121212"}))


def test_an_extract_is_refused_to_who_may_not_read_the_personnummer_in_it(login, session, numbered):
    """The extract must be whole, so it holds the personnummer: only who may read it makes it."""
    _grant(session, "seller", "privacy.extract")
    seller = login("seller")
    for data in ({}, {"format": "zip"}):
        response = seller.post(f"/admin/privacy/contact/{numbered.id}/extract", data=data, follow_redirects=True)
        page = text(response)
        assert response.status_code == 200 and "19121212-1212" not in page
        assert response.headers["Content-Type"].startswith("text/html")
        assert sv(HIDDEN_NUMBER, name="Åsa Öberg") in page
    assert not session.scalars(select(PrivacyEvent)).all()  # nothing was extracted
    _grant(session, "seller", "privacy.extract", "privacy.personnummer")
    assert "19121212-1212" in text(seller.post(f"/admin/privacy/contact/{numbered.id}/extract"))


def test_an_extract_without_a_personnummer_is_made_by_who_may_extract(login, session, make_contact):
    person = make_contact(first_name="Utan", last_name="Nummer", email="utan@nummer.se")
    _grant(session, "seller", "privacy.extract")
    response = login("seller").post(f"/admin/privacy/contact/{person.id}/extract")
    assert response.status_code == 200 and "utan@nummer.se" in text(response)


# --- Gallring: a rule that would erase thousands ------------------------------------------------


def _old_leads(session, count):
    from sqlalchemy import insert

    from models import Lead, table_of

    session.execute(
        insert(table_of(Lead)),
        [
            {
                "company_name": f"Gammal {n} AB",
                "contact_last_name": f"Ödberg{n}",
                "status": "new",
                "version": 1,
                "created_at": datetime(2000, 1, 1),
                "updated_at": datetime(2000, 1, 1),
            }
            for n in range(count)
        ],
    )
    session.commit()


def test_the_rule_preview_counts_everyone_it_would_erase_not_only_those_listed(login, session, employees):
    """203 people match: the page says 203 (it said «200 people would be erased»), lists 200, and
    says how many a run erases."""
    from services import retention

    _old_leads(session, 203)
    rule = retention.create_rule(session, employees["admin"], kind="lead_untouched", months=24)
    session.commit()
    page = text(login("admin").client.get(f"/admin/privacy/rules/{rule.id}"))
    assert sv("%(num)s people would be erased now (at most 200 are listed).", num="203") in page
    assert page.count("Ödberg") == 200
    assert (
        sv(
            "A run erases at most %(limit)s people; the others go in the next nights' runs.",
            limit=retention.RUN_LIMIT,
        )
        not in page
    )
    assert retention.count(session, rule, NOW) == 203


def test_a_run_erases_at_most_its_limit_and_commits_as_it_goes(session, employees, store, monkeypatch, login):
    """A rule matching thousands erases a bounded number a run (one erasure reads the whole audit
    trail), each committed at once, and the log says how many are left for the next run."""
    from models import Lead
    from services import privacy_tasks, retention

    monkeypatch.setattr(retention, "RUN_LIMIT", 3)
    _old_leads(session, 5)
    rule = retention.create_rule(session, employees["admin"], kind="lead_untouched", months=24)
    session.commit()
    commits = []
    assert retention.run(session, store, rule, NOW, commit=lambda: commits.append(session.commit())) == 3
    assert len(commits) == 3
    session.commit()
    assert retention.count(session, rule, NOW) == 2
    summary = session.scalars(select(PrivacyEvent).where(PrivacyEvent.action == "retention_rule")).one().summary
    assert (summary["erased"], summary["left"]) == (3, 2)
    page = text(login("admin").client.get("/admin/privacy/"))
    assert f"{sv('%(num)s erased', num=3)} {sv('(%(num)s left for the next run)', num='2')}" in page
    assert page.count(sv("Retention (automatic)")) == 3  # the erasures' "By", where it was empty
    privacy_tasks.run_retention_rule.call_local(rule.id)
    session.expire_all()
    assert session.scalar(select(func.count()).where(Lead.contact_last_name.is_not(None))) == 0
    erasures = session.scalars(select(PrivacyEvent.subject_id).where(PrivacyEvent.action == "erase")).all()
    assert len(erasures) == len(set(erasures)) == 5  # nobody twice


def test_a_person_no_longer_matching_when_their_turn_comes_is_not_erased(session, employees, store, monkeypatch):
    """The run reads who matches, then erases one at a time: a lead touched meanwhile (or erased by a
    run of the same rule in another worker) is left alone."""
    from models import Lead
    from services import privacy, retention

    _old_leads(session, 2)
    rule = retention.create_rule(session, employees["admin"], kind="lead_untouched", months=24)
    session.commit()
    first, second = session.scalars(select(Lead.id).order_by(Lead.id)).all()
    real = privacy.erase_by

    def erase_and_touch_the_next(session, storage, actor_id, subject, today, **log):
        result = real(session, storage, actor_id, subject, today, **log)
        session.get(Lead, second).note = "Ringde i dag"  # an employee works on the next one
        session.flush()
        return result

    monkeypatch.setattr(privacy, "erase_by", erase_and_touch_the_next)
    assert retention.run(session, store, rule, NOW) == 1
    session.commit()
    assert session.get(Lead, second).contact_last_name == "Ödberg1"


# --- the extract holds only what its maker may read; an erasure twice ---------------------------


def test_an_extract_is_refused_to_who_may_not_see_parts_of_it(login, session, make_contact):
    """Läsbehörighet granted register extracts, without the E-post tab: the extract would show the
    person's e-mail, which that employee sees nowhere else; it is refused, saying which part."""
    from models import EmailMessage

    person = make_contact(first_name="Maja", last_name="Mejlsson", email="maja@mejl.se")
    session.add(
        EmailMessage(
            contact_id=person.id, sender="x@firma.se", recipients="maja@mejl.se", subject="Lön", body="Hemligt"
        )
    )
    session.commit()
    _grant(session, "readonly", "privacy.extract")
    reader = login("readonly")
    for data in ({}, {"format": "zip"}):
        response = reader.post(f"/admin/privacy/contact/{person.id}/extract", data=data, follow_redirects=True)
        page = text(response)
        assert response.headers["Content-Type"].startswith("text/html") and "Hemligt" not in page
        assert sv(HIDDEN_PARTS, name="Maja Mejlsson", parts=sv("E-mail")) in page
    _grant(session, "readonly", "privacy.extract", "tab.email")
    assert "Hemligt" in text(reader.post(f"/admin/privacy/contact/{person.id}/extract"))


def test_erasing_an_erased_person_again_leaves_the_other_erased_peoples_history(session, employees, store):
    admin = employees["admin"]
    with audit.acting_as(session, admin.id):
        first = Contact(first_name="Första", last_name="Personen")
        second = Contact(first_name="Andra", last_name="Personen")
        session.add_all([first, second])
        session.commit()
    for person in (first, second, first):
        privacy.erase(session, store, admin, privacy.find_subject(session, "contact", person.id), TODAY)
        session.commit()
    assert _labels(session, "contact") == {"Anonymiserad person"}


# --- consent withdrawn after someone was put on a call list ------------------------------------


def test_a_withdrawn_phone_consent_takes_the_number_off_a_call_list_already_made(app, login, session, employees):
    """A lead on a call list says «ring mig inte» (consent withdrawn, on the lead's form): the seller
    working the list is not offered the number, and is told why; the others are still called."""
    from models import CallList, Lead
    from services import calllists, consent

    willing = Lead(company_name="Ringvilliga AB", contact_phone="+46701110001")
    later_no = Lead(company_name="Ångrade AB", contact_phone="+46701110002")
    session.add_all([willing, later_no])
    call_list = CallList(name="Kampanj", owner=employees["seller"])
    session.add(call_list)
    session.commit()
    assert calllists.add_entries(session, call_list, [later_no, willing]).added == 2
    session.commit()
    later_no.consent_phone = False
    session.commit()
    page = text(login("seller").client.get(f"/admin/calllist/work/{call_list.id}"))
    assert "Ångrade AB" in page and "+46701110002" not in page and "070-111 00 02" not in page
    with app.test_request_context():
        reason = str(consent.REASONS[consent.DECLINED])
    assert sv("Not to be called: %(reason)s. Record an outcome to go on.", reason=reason) in page
    entry = next(e for e in call_list.entries if e.lead_id == willing.id)
    assert calllists.phones(entry) == ["+46701110001"]


# --- texts of other records that name the person -------------------------------------------------


def test_texts_anywhere_that_name_the_person_for_certain_are_scrubbed(session, employees, make_company, store, stage):
    """Åsa left Förra AB (no link any more) and is named in its notes, an e-mail to her address on
    its E-post tab, a colleague's note and a lead's note: an erasure removes her identifiers there
    too, and flags a text still naming her by first name for review."""
    from models import Activity, EmailMessage, Lead, Opportunity, Project

    admin = employees["admin"]
    former = make_company(name="Förra AB", note="Åsa Öberg slutade i maj")
    person = Contact(first_name="Åsa", last_name="Öberg", email="asa@oberg.se", mobile="+46701234567")
    colleague = Contact(first_name="Bo", last_name="Ek", note="Ersätter Åsa Öberg (asa@oberg.se)")
    lead = Lead(company_name="Tips AB", note="Tips från Åsa Öberg, 070-123 45 67")
    session.add_all([person, colleague, lead])
    session.commit()
    rows = [
        Activity(
            kind="note", subject="Samtal", description="Åsa Öberg ringde. Åsa vill ha offert.", company_id=former.id
        ),
        EmailMessage(company_id=former.id, sender="me@firma.se", recipients="asa@oberg.se", subject="Hej", body="Hej"),
        Opportunity(title="Affär via Åsa Öberg", company_id=former.id, stage_id=stage.id),
        Project(name="Projekt", description="Kontakt: asa@oberg.se"),
    ]
    session.add_all(rows)
    session.commit()
    result = privacy.erase(session, store, admin, privacy.find_subject(session, "contact", person.id), TODAY)
    session.commit()
    session.expire_all()
    texts = [
        session.get(Company, former.id).note,
        session.get(Contact, colleague.id).note,
        session.get(Lead, lead.id).note,
        session.get(Activity, rows[0].id).description,
        session.get(EmailMessage, rows[1].id).recipients,
        session.get(Opportunity, rows[2].id).title,
        session.get(Project, rows[3].id).description,
    ]
    assert not [t for t in texts if "Öberg" in t or "oberg.se" in t or "123 45 67" in t], texts
    assert texts[1] == "Ersätter [raderat] ([raderat])"
    assert ["activity", rows[0].id] in result.review  # «Åsa vill ha offert»: maybe her, an employee checks


def test_a_retention_rule_is_set_only_by_who_may_erase(login, session, employees):
    """A rule erases people every night: an employee granted Gallring without «erase» could erase
    anyone by a rule of one month, bypassing privacy.erase."""
    from models import RetentionRule
    from services import retention

    _grant(session, "seller", "privacy.extract", "privacy.retention")
    seller = login("seller")
    response = seller.post("/admin/privacy/rules", data={"kind": "lead_untouched", "months": "1"})
    assert response.status_code == 403
    assert session.scalars(select(RetentionRule)).all() == []
    assert 'id="retention-rule-form"' not in text(seller.client.get("/admin/privacy/"))
    with pytest.raises(PermissionError):
        retention.create_rule(session, session.get(Employee, employees["seller"].id), kind="lead_untouched", months=1)


def test_the_log_links_each_text_to_review_to_the_card_it_is_on(login, session, make_company, make_contact):
    """«3 texts may still name the person: check them (listed in the log)»: the log listed
    «activity 7, email_message 2», English table names with no way to the text (there is no
    activity list); it names each in Swedish and links to the card where it is."""
    from models import Activity

    company = make_company(name="Förra AB")
    person = make_contact([company], first_name="Åsa", last_name="Öberg")
    session.add(Activity(kind="note", subject="Samtal", description="Åsa vill ha offert", company_id=company.id))
    session.commit()
    admin = login("admin")
    response = admin.post(f"/admin/privacy/contact/{person.id}/erase", data={"confirm": "yes"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert f'href="/admin/company/card/{company.id}"' in page
    assert f"{sv('Activity')} – Förra AB" in text(response)
    assert "activity " not in text(response)


def test_a_personnummer_copied_with_a_dash_from_a_letter_is_found(login, session, numbered):
    """A request by letter or PDF has «19121212–1212» (an en dash) or «1912-12-12 - 1212»: found as
    the lists find it (validation.personal_number reads them), not searched as a name."""
    admin = login("admin")
    for query in ("19121212–1212", "19121212—1212", "1912 12 12 – 1212", "121212+1212"):
        assert "Öberg" in text(admin.client.get("/admin/privacy/", query_string={"q": query})), query


def test_webhook_subscribers_are_told_of_the_erasure_without_the_data(session, employees, store):
    """GDPR art. 19: those the data was passed to hear of the erasure. A subscriber of
    contact.updated / lead.updated gets the anonymised record, with no trace of the person."""
    import json

    from models import Lead, WebhookDelivery, WebhookSubscription

    session.add(
        WebhookSubscription(
            name="Hook", url="https://example.com/hook", events=["contact.updated", "lead.updated"], secret="s" * 32
        )
    )
    person = Contact(first_name="Åsa", last_name="Öberg", email="asa@oberg.se")
    lead = Lead(company_name="Tips AB", contact_first_name="Lea", contact_last_name="Ledd", contact_email="lea@x.se")
    session.add_all([person, lead])
    session.commit()
    session.query(WebhookDelivery).delete()
    session.commit()
    for kind, record in (("contact", person), ("lead", lead)):
        privacy.erase(session, store, employees["admin"], privacy.find_subject(session, kind, record.id), TODAY)
        session.commit()
    deliveries = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert [(d.event, d.payload["data"]["id"]) for d in deliveries] == [
        ("contact.updated", person.id),
        ("lead.updated", lead.id),
    ]
    assert deliveries[0].payload["data"]["record"]["first_name"] == "Anonymiserad"
    assert deliveries[1].payload["data"]["record"]["contact_email"] is None
    dumped = json.dumps([d.payload for d in deliveries], ensure_ascii=False)
    assert not [t for t in ("Åsa", "Öberg", "oberg.se", "Lea", "Ledd", "lea@x.se") if t in dumped]


def test_the_log_names_the_record_in_swedish_and_links_to_it(login, session, make_contact):
    """The log's Post column read «contact 5» / «lead 3», English in the Swedish interface."""
    from models import Lead

    person = make_contact(first_name="Åsa", last_name="Öberg")
    lead = Lead(company_name="Tips AB", contact_last_name="Ledd")
    session.add(lead)
    session.commit()
    admin = login("admin")
    admin.post(f"/admin/privacy/contact/{person.id}/extract")
    admin.post(f"/admin/privacy/lead/{lead.id}/extract")
    response = admin.client.get("/admin/privacy/")
    page = text(response)
    assert f"contact {person.id}" not in page and f"lead {lead.id}" not in page
    assert f"Kontakt {person.id}" in page and f"Lead {lead.id}" in page
    body = response.get_data(as_text=True)
    assert f'href="/admin/contact/card/{person.id}"' in body and f'href="/admin/lead/show/{lead.id}"' in body


def test_sqlite_overwrites_what_is_deleted_whatever_its_build(tmp_path):
    """An erased person's old rows must not stay readable in the SQLite file's free pages: the app
    turns on secure_delete on each connection, not trusting the build's default (Debian's has it
    on, python.org's and macOS's do not)."""
    import sqlite3

    from app import _sqlite_connection

    connection = sqlite3.connect(tmp_path / "x.sqlite")
    connection.execute("PRAGMA secure_delete=OFF")
    _sqlite_connection(connection, None)
    assert connection.execute("PRAGMA secure_delete").fetchone()[0] == 1
    connection.close()
