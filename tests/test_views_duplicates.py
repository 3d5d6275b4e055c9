"""CRM – Dubbletter over HTTP: the list, the merge page and its POST, "inte dubbletter", undo, the scan."""

import re
import time
from datetime import timedelta

from sqlalchemy import event, select, update

from helpers import count, flashes, fresh, sv, text
from models import Activity, Company, DuplicatePair, DuplicateScan, MergeRecord, utcnow
from services import duplicate_tasks, duplicates


def pair_of(session, kind="company"):
    return session.scalars(
        select(DuplicatePair).where(DuplicatePair.entity_type == kind).order_by(DuplicatePair.id)
    ).first()


def test_the_demo_lists_its_duplicates_with_score_and_reasons(demo, login):
    page = text(login("admin").client.get("/admin/duplicates/"))
    assert sv("Duplicates") in page
    for reason in ("same e-mail", "same org. no.", "similar name + same city"):
        if reason == "same org. no.":
            reason = "same organisation number"
        assert sv(reason) in page, reason
    assert sv("Compare and merge") in page and sv("Not duplicates") in page
    contacts = text(login("admin").client.get("/admin/duplicates/?kind=contact"))
    assert sv("same phone") in contacts
    leads = text(login("admin").client.get("/admin/duplicates/?kind=lead"))
    assert sv("same e-mail") in leads and sv("Compare and merge") in leads


def test_a_seller_sees_the_list_but_may_not_merge(demo, login, session):
    seller = login("seller")
    page = text(seller.client.get("/admin/duplicates/"))
    assert sv("Compare and merge") not in page and sv("Not duplicates") not in page
    pair = pair_of(session)
    url = f"/admin/duplicates/merge/company/{pair.low_id}/{pair.high_id}"
    assert seller.client.get(url).status_code == 403
    response = seller.post(
        "/admin/duplicates/merge/company", {"first": pair.low_id, "second": pair.high_id, "keep": pair.low_id}
    )
    assert response.status_code == 403
    assert not fresh(session, Company, pair.high_id).is_deleted


def test_merge_from_the_page_keeps_the_chosen_values_and_moves_everything(demo, login, session):
    admin = login("admin")
    pair = pair_of(session)
    keep, other = fresh(session, Company, pair.low_id), fresh(session, Company, pair.high_id)
    session.add(Activity(subject="Uppföljning av dubbletten", kind="task", company_id=other.id))
    session.commit()
    keep_id, other_id, other_name = keep.id, other.id, other.name
    keep_number, other_number = keep.customer_number, other.customer_number

    page = admin.client.get(f"/admin/duplicates/merge/company/{keep_id}/{other_id}?keep={keep_id}")
    assert page.status_code == 200
    body = text(page)
    assert sv("Keep %(name)s", name=keep.name) in body and sv("Keep %(name)s", name=other_name) in body
    # the name differs: both values are offered, the kept record's... chosen by the employee here
    assert re.search(rf'name="field_name" value="{other_id}"', page.get_data(as_text=True))

    response = admin.post(
        "/admin/duplicates/merge/company",
        {"first": keep_id, "second": other_id, "keep": keep_id, "field_name": other_id, "field_note": "both"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/company/card/{keep_id}")
    card = admin.client.get(response.headers["Location"])
    # the kept record took the merged one's name: the message tells them apart by their customer numbers
    assert (
        "success",
        sv(
            "%(merged)s was merged into %(kept)s. Everything attached to it is now here; "
            "the merge can be undone under CRM – Duplicates.",
            merged=sv("%(name)s (customer no. %(number)s)", name=other_name, number=other_number),
            kept=sv("%(name)s (customer no. %(number)s)", name=other_name, number=keep_number),
        ),
    ) in flashes(card)
    kept = fresh(session, Company, keep_id)
    assert kept.name == other_name
    assert fresh(session, Company, other_id).is_deleted
    assert (
        count(session, Activity, Activity.company_id == keep_id, Activity.subject == "Uppföljning av dubbletten") == 1
    )
    # the pair is gone from the list (one record is in the trash)
    listing = text(admin.client.get("/admin/duplicates/"))
    assert f"pair-{pair.id}" not in admin.client.get("/admin/duplicates/").get_data(as_text=True)
    assert sv("Latest merges") in listing and sv("Undo merge") in listing
    # "Med" names the kept company and its customer number, linked to its card
    kept_cell = listing.split('class="kept-record"')[1].split("</td>")[0]
    assert sv("%(name)s (customer no. %(number)s)", name=other_name, number=keep_number) in kept_cell
    assert f'href="/admin/company/card/{keep_id}"' in kept_cell and sv("Kept record") not in kept_cell
    merged_cell = listing.split('class="merged-record"')[1].split("</td>")[0]
    assert sv("%(name)s (customer no. %(number)s)", name=other_name, number=other_number) in merged_cell
    # the card's history shows the merge, with its undo
    history = admin.client.get(f"/admin/company/card/{keep_id}/tab/history").get_data(as_text=True)
    assert "history-undo-merge" in history

    # the trash names the company it was merged with
    trash = admin.client.get("/admin/trash/").get_data(as_text=True)
    assert 'class="text-muted merged-into"' in trash and f'href="/admin/company/card/{keep_id}"' in trash
    assert sv("merged with") in text(admin.client.get("/admin/trash/"))

    record = session.scalars(select(MergeRecord)).one()
    undone = admin.post(f"/admin/duplicates/undo/company/{record.id}")
    assert undone.status_code == 302
    assert not fresh(session, Company, other_id).is_deleted
    assert fresh(session, Company, keep_id).name == keep.name
    assert (
        count(session, Activity, Activity.company_id == other_id, Activity.subject == "Uppföljning av dubbletten") == 1
    )
    again = admin.post(f"/admin/duplicates/undo/company/{record.id}", follow_redirects=True)
    assert ("danger", sv("This merge has already been undone.")) in flashes(again)


def test_a_merge_without_a_record_to_keep_changes_nothing(demo, login, session):
    admin = login("admin")
    pair = pair_of(session)
    response = admin.post(
        "/admin/duplicates/merge/company",
        {"first": pair.low_id, "second": pair.high_id, "keep": "999999"},
        follow_redirects=True,
    )
    assert ("danger", sv("Choose which record to keep.")) in flashes(response)
    assert not fresh(session, Company, pair.high_id).is_deleted
    assert count(session, MergeRecord) == 0


def test_not_duplicates_hides_the_pair_for_good(demo, login, session):
    admin = login("admin")
    pair = pair_of(session)
    response = admin.post(f"/admin/duplicates/dismiss/company/{pair.id}", follow_redirects=True)
    assert ("success", sv("The pair is marked as not duplicates and will not be shown again.")) in flashes(response)
    assert f'id="pair-{pair.id}"' not in response.get_data(as_text=True)
    # a new scan finds the same pair and still does not list it
    duplicates.scan(session, "company")
    session.commit()
    page = admin.client.get("/admin/duplicates/").get_data(as_text=True)
    assert f"{pair.low_id}" and f'id="pair-{pair.id}"' not in page
    kept = session.scalars(
        select(DuplicatePair).where(DuplicatePair.low_id == pair.low_id, DuplicatePair.high_id == pair.high_id)
    ).one()
    assert kept.dismissed_at is not None


def test_the_scan_runs_on_the_queue_and_changed_records_are_checked_later(
    login, session, employees, make_company, worker
):
    make_company(name="Svensson Bygg AB", org_number="5560360793", postal_city="Stockholm")
    make_company(name="Svensson Bygg Aktiebolag", postal_city="Stockholm")
    admin = login("admin")
    response = admin.post("/admin/duplicates/scan/company", follow_redirects=True)
    assert ("success", sv("The search for duplicates has started; the list is updated when it is done.")) in flashes(
        response
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        session.expire_all()
        scan = session.get(DuplicateScan, "company")
        if scan.status in ("done", "failed"):
            break
        session.rollback()
        time.sleep(0.2)
    assert (scan.status, scan.records, scan.pairs) == ("done", 2, 1), scan.error
    session.rollback()
    # a company entered after the scan is checked by the periodic task, without a new scan
    make_company(name="Svenssons Bygg", postal_city="Stockholm")
    assert duplicate_tasks.check_changed(session, "company") == 2
    page = text(admin.client.get("/admin/duplicates/"))
    assert page.count("Svenssons Bygg") >= 1


def test_leads_are_listed_merged_and_unmerged_from_the_page(login, session, employees):
    """Issue 18: duplicate leads in CRM – Dubbletter with Compare and merge; the merged lead's page says which
    lead it was merged with, the kept lead's page shows the merged one's history with the undo."""
    from models import Lead

    keep = Lead(company_name="Nordisk Rörteknik", contact_email="per@rorteknik.se", status="new")
    other = Lead(company_name="Nordisk Rörteknik AB", contact_email="per@rorteknik.se", status="contacted")
    session.add_all([keep, other])
    session.commit()
    session.add(Activity(subject="Samtal om offert", kind="call", lead_id=other.id))
    session.commit()
    keep_id, other_id = keep.id, other.id
    duplicates.scan(session, "lead")
    session.commit()
    admin = login("admin")
    listing = admin.client.get("/admin/duplicates/?kind=lead")
    assert sv("same e-mail") in text(listing)
    assert f'href="/admin/duplicates/merge/lead/{keep_id}/{other_id}"' in listing.get_data(as_text=True)
    assert login("seller").client.get(f"/admin/duplicates/merge/lead/{keep_id}/{other_id}").status_code == 403

    page = admin.client.get(f"/admin/duplicates/merge/lead/{keep_id}/{other_id}?keep={keep_id}")
    assert page.status_code == 200 and sv("Keep %(name)s", name="Nordisk Rörteknik AB") in text(page)
    assert re.search(rf'name="field_company_name" value="{other_id}"', page.get_data(as_text=True))
    for field, label in (("company_name", "Company name"), ("contact_email", "Contact's e-mail"), ("source", "Source")):
        row = page.get_data(as_text=True).split(f'id="row-{field}"')[1].split("</tr>")[0]
        assert f'<th scope="row">{sv(label)}</th>' in row, field
    response = admin.post(
        "/admin/duplicates/merge/lead",
        {"first": keep_id, "second": other_id, "keep": keep_id, "field_status": other_id},
    )
    assert response.headers["Location"].endswith(f"/admin/lead/show/{keep_id}")
    kept_page = admin.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "history-undo-merge" in kept_page and "Nordisk Rörteknik AB" in kept_page
    assert count(session, Activity, Activity.lead_id == keep_id) == 1
    kept, merged = fresh(session, Lead, keep_id), fresh(session, Lead, other_id)
    assert (kept.status, merged.status) == ("contacted", "merged")
    merged_page = admin.client.get(f"/admin/lead/show/{other_id}")
    assert sv("merged with") in text(merged_page) and sv("Merged") in text(merged_page)
    assert f'href="/admin/lead/show/{keep_id}"' in merged_page.get_data(as_text=True)
    assert 'id="convert-lead"' not in merged_page.get_data(as_text=True)
    assert 'id="pair-' not in admin.client.get("/admin/duplicates/?kind=lead").get_data(as_text=True)

    record = session.scalars(select(MergeRecord)).one()
    undone = admin.post(f"/admin/duplicates/undo/lead/{record.id}")
    assert undone.headers["Location"].endswith(f"/admin/lead/show/{other_id}")
    assert fresh(session, Lead, other_id).status == "contacted" and fresh(session, Lead, keep_id).status == "new"
    assert count(session, Activity, Activity.lead_id == other_id) == 1


def test_a_custom_field_both_have_is_chosen_on_the_merge_page(login, session, make_company):
    from models import CustomFieldDefinition, CustomFieldValue, CustomTab

    tab = CustomTab(name="Avtal", applies_to="company")
    field = CustomFieldDefinition(tab=tab, label="Avtalsnummer")
    session.add_all([tab, field])
    keep, other = make_company(name="Alfa Bygg AB"), make_company(name="Alfa Bygg Aktiebolag")
    session.add_all(
        [
            CustomFieldValue(field=field, company_id=keep.id, value_text="AV-1"),
            CustomFieldValue(field=field, company_id=other.id, value_text="AV-2"),
        ]
    )
    session.commit()
    keep_id, other_id, key = keep.id, other.id, f"cf{field.id}"
    admin = login("admin")
    page = admin.client.get(f"/admin/duplicates/merge/company/{keep_id}/{other_id}?keep={keep_id}")
    row = page.get_data(as_text=True).split(f'id="row-{key}"')[1].split("</tr>")[0]
    assert "Avtalsnummer" in row and "AV-1" in row and "AV-2" in row
    assert f'name="field_{key}" value="{other_id}"' in row
    admin.post(
        "/admin/duplicates/merge/company",
        {"first": keep_id, "second": other_id, "keep": keep_id, f"field_{key}": other_id},
    )
    session.expire_all()
    kept = session.scalar(
        select(CustomFieldValue.value_text).where(
            CustomFieldValue.company_id == keep_id, CustomFieldValue.field_id == field.id
        )
    )
    assert kept == "AV-2" and fresh(session, Company, other_id).is_deleted


def test_records_changed_in_one_instant_beyond_a_runs_limit_are_all_checked(session, make_company, monkeypatch):
    """An import batch gives its rows one updated_at: a run that stops at its limit inside that
    instant checks the rest of the instant too, or the next run (after it) would never see them."""
    monkeypatch.setattr(duplicate_tasks, "CHANGED_PER_RUN", 2)
    scan = duplicate_tasks.state(session, "company")
    scan.status, scan.checked_until = "done", utcnow() - timedelta(minutes=1)
    instant = utcnow()
    for n in range(5):
        make_company(name=f"Lindqvist Måleri {n}", postal_city="Lund")
    session.execute(update(Company).where(Company.name.like("Lindqvist Måleri %")).values(updated_at=instant))
    session.commit()
    checked = []
    real_check = duplicates.check
    monkeypatch.setattr(
        duplicates,
        "check",
        lambda s, kind, record, **kw: checked.append(record.id) or real_check(s, kind, record, **kw),
    )
    duplicate_tasks.check_changed(session, "company")
    duplicate_tasks.check_changed(session, "company")  # the next run: nothing of that instant is left
    ids = session.scalars(select(Company.id).where(Company.name.like("Lindqvist Måleri %"))).all()
    assert sorted(checked) == sorted(ids)


# --- who sees and does what (each register by its own permissions) ----------------------------------


def test_the_periodic_check_reads_every_record_before_it_writes_a_pair(session, make_company):
    """On SQLite the first write holds the only write lock until the commit: the checks of a run (up to 2,000
    records after an import) are read before it, so other users' saves wait for the pairs' write alone."""
    scan = duplicate_tasks.state(session, "company")
    scan.status, scan.checked_until = "done", utcnow() - timedelta(minutes=1)
    for n in range(4):
        make_company(name=f"Bergqvist Bygg {n}", postal_city="Umeå")
    session.commit()
    statements: list[str] = []
    listen = lambda conn, cursor, sql, params, context, many: statements.append(sql.lstrip().upper())  # noqa: E731
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", listen)
    try:
        assert duplicate_tasks.check_changed(session, "company") > 0
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    first_write = next(i for i, sql in enumerate(statements) if sql.startswith(("INSERT", "UPDATE", "DELETE")))
    reads_of_companies = [sql for sql in statements[first_write:] if re.search(r"\bFROM COMPANY(_SEARCH)?\b", sql)]
    assert reads_of_companies == [], reads_of_companies[:3]


def _merge_one_of_each(session, employees):
    """A company pair and a lead pair of the demo merged by the administrator, and one more lead pair
    listed; {kind: MergeRecord id}."""
    from models import Lead
    from services import merge

    merged = {}
    for kind in ("company", "lead"):
        pair = pair_of(session, kind)
        merged[kind] = merge.merge(session, employees["admin"], kind, pair.low_id, pair.high_id).id
    session.add_all(
        [
            Lead(company_name="Västkustens Fönsterputs", contact_email="eva@fonsterputs.se", status="new"),
            Lead(company_name="Västkustens Fönsterputs AB", contact_email="eva@fonsterputs.se", status="new"),
        ]
    )
    session.commit()
    duplicates.scan(session, "lead")
    session.commit()
    return merged


def _grant(session, employee, *, grant=(), revoke=()):
    employee.extra_permissions = list(grant) or None
    employee.revoked_permissions = list(revoke) or None
    session.commit()


def _forms(response) -> set[str]:
    """The Dubbletter actions the page's POST forms lead to."""
    found = re.findall(r'<form method="post" action="([^"]+)"', response.get_data(as_text=True))
    return {action for action in found if action.startswith("/admin/duplicates/")}


def test_merging_without_a_registers_edit_permission_is_neither_offered_nor_allowed(demo, login, session, employees):
    """Ekonomi with duplicate.merge edits companies but not leads: on the company tab it merges, dismisses,
    scans and undoes; on the lead tab it sees the pairs and merges but is offered none of that (the server
    refuses it: 403, nothing changed), and the lead's Historik offers no undo either."""
    merged = _merge_one_of_each(session, employees)
    _grant(session, employees["finance"], grant=["duplicate.merge"])
    finance = login("finance")

    companies = finance.client.get("/admin/duplicates/?kind=company")
    assert companies.status_code == 200
    assert f"/admin/duplicates/undo/company/{merged['company']}" in _forms(companies)
    assert "/admin/duplicates/scan/company" in _forms(companies)
    assert any(a.startswith("/admin/duplicates/dismiss/company/") for a in _forms(companies))
    assert "merge-link" in companies.get_data(as_text=True)
    assert f'id="merge-{merged["lead"]}"' not in companies.get_data(as_text=True)  # each tab its own merges

    leads = finance.client.get("/admin/duplicates/?kind=lead")
    body = leads.get_data(as_text=True)
    assert leads.status_code == 200 and 'id="pair-' in body and f'id="merge-{merged["lead"]}"' in body
    assert not _forms(leads) and "merge-link" not in body
    assert sv("Undo merge") not in text(leads) and sv("Not duplicates") not in text(leads)
    pair = session.scalars(
        select(DuplicatePair).where(DuplicatePair.entity_type == "lead", DuplicatePair.dismissed_at.is_(None))
    ).first()
    record = session.get(MergeRecord, merged["lead"])
    for url in (
        f"/admin/duplicates/undo/lead/{merged['lead']}",
        f"/admin/duplicates/dismiss/lead/{pair.id}",
        "/admin/duplicates/scan/lead",
    ):
        assert finance.post(url).status_code == 403, url
    assert finance.client.get(f"/admin/duplicates/merge/lead/{pair.low_id}/{pair.high_id}").status_code == 403
    session.expire_all()
    assert record.undone_at is None and session.get(DuplicatePair, pair.id).dismissed_at is None
    kept_lead = finance.client.get(f"/admin/lead/show/{record.survivor_id}").get_data(as_text=True)
    assert "history-undo-merge" not in kept_lead
    company_record = session.get(MergeRecord, merged["company"])
    history = finance.client.get(f"/admin/company/card/{company_record.survivor_id}/tab/history")
    assert "history-undo-merge" in history.get_data(as_text=True)

    # a merge of one register is undone only at its own address
    assert finance.post(f"/admin/duplicates/undo/company/{merged['lead']}").status_code == 404
    assert finance.post(f"/admin/duplicates/undo/person/{merged['company']}").status_code == 404
    undone = finance.post(f"/admin/duplicates/undo/company/{merged['company']}")
    assert undone.status_code == 302 and fresh(session, MergeRecord, merged["company"]).undone_at is not None


def test_each_register_is_shown_only_to_those_who_may_view_it(demo, login, session, employees):
    """A seller without company.view sees the contacts' and leads' pairs (the page opens on the first it may
    see), not the companies' pairs nor their merges; an employee who may view none of the three registers
    has no Dubbletter at all."""
    merged = _merge_one_of_each(session, employees)
    _grant(session, employees["seller"], revoke=["company.view"])
    seller = login("seller")
    page = seller.client.get("/admin/duplicates/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="duplicates-company"' not in body
    assert 'id="duplicates-contact"' in body and 'id="duplicates-lead"' in body
    assert 'aria-current="page"' in body.split('id="duplicates-contact"')[1].split("</li>")[0]
    assert seller.client.get("/admin/duplicates/?kind=company").status_code == 403
    assert seller.client.get("/admin/duplicates/?kind=person").status_code == 404
    for kind in ("contact", "lead"):
        listing = seller.client.get(f"/admin/duplicates/?kind={kind}").get_data(as_text=True)
        assert f'id="merge-{merged["company"]}"' not in listing
        # a seller has no duplicate.merge: nothing to act with
        assert not _forms(seller.client.get(f"/admin/duplicates/?kind={kind}"))
    lead_listing = seller.client.get("/admin/duplicates/?kind=lead").get_data(as_text=True)
    assert f'id="merge-{merged["lead"]}"' in lead_listing and 'id="pair-' in lead_listing

    _grant(session, employees["readonly"], revoke=["company.view", "contact.view", "lead.view"])
    readonly = login("readonly")
    assert readonly.client.get("/admin/duplicates/").status_code == 403
    assert 'href="/admin/duplicates/"' not in readonly.client.get("/admin/").get_data(as_text=True)


def test_the_merge_page_shows_values_as_the_card_does(login, session, make_company):
    """Country, invoice language and discount by their Swedish names and formats, not the stored codes."""
    from decimal import Decimal

    keep = make_company(name="Dalarnas Måleri AB", country="SE", invoice_language="sv", discount_percent=Decimal("0"))
    other = make_company(name="Dalarnas Måleri i Uppsala", country="SE", invoice_language="en")
    other.discount_percent = Decimal("12.50")
    session.commit()
    page = login("admin").client.get(f"/admin/duplicates/merge/company/{keep.id}/{other.id}?keep={keep.id}")
    body = text(page)

    def row(field):
        return body.split(f'id="row-{field}"')[1].split("</tr>")[0]

    assert "Sverige" in row("country") and ">SE<" not in row("country")
    assert sv("Swedish") in row("invoice_language") and sv("English") in row("invoice_language")
    assert "0,00\u00a0%" in row("discount_percent") and "12,50\u00a0%" in row("discount_percent")
    assert "0.00" not in row("discount_percent")


def test_two_leads_of_one_name_merged_are_told_apart_as_the_merged_and_the_kept(login, session, employees):
    """Leads have no customer number: when both read the same, the flash calls the other "the merged record"
    rather than "X was merged into X"."""
    from models import Lead

    keep = Lead(company_name="Dalarnas Måleri i Uppsala", contact_email="a@maleri.se", status="new")
    other = Lead(company_name="Dalarnas Måleri i Uppsala", contact_email="a@maleri.se", status="new")
    session.add_all([keep, other])
    session.commit()
    response = login("admin").post(
        "/admin/duplicates/merge/lead", {"first": keep.id, "second": other.id, "keep": keep.id}, follow_redirects=True
    )
    message = sv(
        "The merged record was merged into %(kept)s. Everything attached to it is now here; "
        "the merge can be undone under CRM – Duplicates.",
        kept="Dalarnas Måleri i Uppsala",
    )
    assert ("success", message) in flashes(response)
