"""The customer card (issue 4): tabs, their permissions and order, the e-mail
lock, files, activities, and a bounded number of queries per view."""

import html
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from extensions import db
from models import Activity, Attachment, AuditEvent, CompanyContact, Contact, EmailMessage, utcnow
from services import card, email_lock, layout, permissions


@pytest.fixture
def company(make_company, employees):
    return make_company(name="Kortbolaget AB", owner=employees["seller"])


def add_email(company, subject="Offert", **fields):
    message = EmailMessage(
        company_id=company.id, sender="a@example.se", recipients="b@example.se", subject=subject, body="Hej", **fields
    )
    db.session.add(message)
    db.session.commit()
    return message


# --- services.layout: hidden is a preference, forbidden is the role ---------------------


def test_tabs_follow_role_then_preference_then_order(employees):
    readonly = employees["readonly"]
    keys = [t.key for t in layout.visible_items(readonly, "company_tabs")]
    assert keys == [
        "overview",
        "contacts",
        "activities",
        "projects",
        "opportunities",
        "invoices",
        "history",
    ]  # no e-mail, files, settings

    seller = employees["seller"]
    layout.save(seller, "company_tabs", hidden_keys=["projects"], order_keys=["history", "contacts"])
    keys = [t.key for t in layout.visible_items(seller, "company_tabs")]
    assert keys == [
        "history",
        "contacts",
        "overview",
        "activities",
        "email",
        "files",
        "opportunities",
        "invoices",
        "settings",
    ]


def test_hiding_cannot_show_what_the_role_forbids(employees):
    readonly = employees["readonly"]
    layout.save(readonly, "company_tabs", hidden_keys=[], order_keys=["files", "email"])
    assert "files" not in [t.key for t in layout.visible_items(readonly, "company_tabs")]


def test_unknown_keys_are_not_stored(employees):
    seller = employees["seller"]
    layout.save(seller, "company_tabs", hidden_keys=["nonsense"], order_keys=["nonsense", "files", "files"])
    assert seller.preferences["hidden"]["company_tabs"] == []
    assert seller.preferences["order"]["company_tabs"] == ["files"]


def test_admin_grants_and_revokes_beyond_the_role(employees):
    admin, readonly, seller = employees["admin"], employees["readonly"], employees["seller"]
    permissions.set_overrides(admin, readonly, grant={"tab.files"}, revoke={"tab.history"})
    assert readonly.has_permission("tab.files")
    assert not readonly.has_permission("tab.history")
    with pytest.raises(PermissionError):
        permissions.set_overrides(seller, readonly, grant={"company.purge"}, revoke=set())


# --- services.email_lock -------------------------------------------------------------------


def test_locked_customer_email_is_readable_by_administrators_only(company, employees):
    message = add_email(company)
    email_lock.set_locked(db.session, employees["admin"], company, True)
    db.session.commit()
    seller, admin = employees["seller"], employees["admin"]
    assert db.session.scalars(email_lock.readable_messages(seller)).all() == []
    assert email_lock.message_for(db.session, seller, message.id, company_id=company.id) is None
    assert email_lock.message_for(db.session, admin, message.id, company_id=company.id) == message


def test_only_administrators_lock_and_the_lock_is_audited(company, employees):
    with pytest.raises(email_lock.NotPermitted):
        email_lock.set_locked(db.session, employees["seller"], company, True)
    email_lock.set_locked(db.session, employees["admin"], company, True)
    db.session.commit()
    event_ = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.entity_id == company.id, AuditEvent.action == "update")
    ).one()
    assert event_.changes["email_locked"] == [False, True]
    assert event_.actor_id == employees["admin"].id


# --- the card over HTTP --------------------------------------------------------------------------


def test_card_shows_the_tabs_the_employee_may_see_in_their_order(login, company, employees):
    seller = login("seller")
    layout.save(employees["seller"], "company_tabs", hidden_keys=["projects"], order_keys=["history"])
    db.session.commit()
    page = seller.client.get(f"/admin/company/card/{company.id}").get_data(as_text=True)
    order = [page.index(f'id="tab-{key}"') for key in ("history", "overview", "contacts", "files")]
    assert order == sorted(order)
    assert 'id="tab-projects"' not in page
    # Hidden is only a preference: the tab itself still opens.
    assert seller.client.get(f"/admin/company/card/{company.id}/tab/projects").status_code == 200


def test_forbidden_tab_is_refused_on_the_server(login, company):
    readonly = login("readonly")
    page = readonly.client.get(f"/admin/company/card/{company.id}").get_data(as_text=True)
    assert 'id="tab-files"' not in page
    for tab in ("files", "email", "settings"):
        assert readonly.client.get(f"/admin/company/card/{company.id}/tab/{tab}").status_code == 403
    assert readonly.client.get(f"/admin/company/card/{company.id}/tab/nosuchtab").status_code == 404


@pytest.mark.parametrize(
    "tab", ["overview", "contacts", "activities", "email", "files", "projects", "settings", "history"]
)
def test_every_company_tab_renders(login, company, tab):
    assert login("admin").client.get(f"/admin/company/card/{company.id}/tab/{tab}").status_code == 200


@pytest.mark.parametrize(
    "tab", ["overview", "companies", "opportunities", "activities", "email", "settings", "history"]
)
def test_every_contact_tab_renders(login, make_contact, company, tab):
    contact = make_contact(companies=[company])
    response = login("admin").client.get(f"/admin/contact/card/{contact.id}/tab/{tab}")
    assert response.status_code == 200
    if tab == "companies":
        assert "Kortbolaget AB" in response.get_data(as_text=True)


def test_lock_hides_email_from_non_administrators_by_every_route(login, company):
    message = add_email(company, subject="Hemligt avtal")
    admin, seller = login("admin"), login("seller")
    response = admin.post(f"/admin/company/card/{company.id}/email-lock", {"locked": "1"})
    assert response.status_code == 302
    db.session.refresh(company)
    assert company.email_locked

    tab = seller.client.get(f"/admin/company/card/{company.id}/tab/email").get_data(as_text=True)
    assert "Hemligt avtal" not in tab and "email-locked-notice" in tab
    assert seller.client.get(f"/admin/company/card/{company.id}/email/{message.id}").status_code == 404
    overview = seller.client.get(f"/admin/company/card/{company.id}/tab/overview").get_data(as_text=True)
    assert 'id="figure-emails"> <span class="h4 mb-0">0<' in " ".join(overview.split())
    assert "Hemligt avtal" in admin.client.get(f"/admin/company/card/{company.id}/tab/email").get_data(as_text=True)
    assert admin.client.get(f"/admin/company/card/{company.id}/email/{message.id}").status_code == 200

    # Only administrators lock and unlock.
    assert seller.post(f"/admin/company/card/{company.id}/email-lock", {"locked": "0"}).status_code == 403
    db.session.refresh(company)
    assert company.email_locked


def test_settings_tab_saves_supplier_flag_and_refuses_a_stale_save(login, company):
    seller = login("seller")
    data = {
        "is_supplier": "y",
        "invoice_language": "en",
        "discount_percent": "5",
        "payment_terms_days": "20",
        "currency": "EUR",
        "version": str(company.version),
    }
    assert seller.post(f"/admin/company/card/{company.id}/settings", data).status_code == 302
    db.session.refresh(company)
    assert company.is_supplier and company.currency == "EUR" and company.payment_terms_days == 20
    stale = seller.post(f"/admin/company/card/{company.id}/settings", {**data, "payment_terms_days": "45"})
    assert stale.status_code == 200
    db.session.refresh(company)
    assert company.payment_terms_days == 20


def test_settings_tab_rejects_bad_values_with_a_swedish_message(login, company):
    response = login("seller").post(
        f"/admin/company/card/{company.id}/settings",
        {
            "invoice_language": "sv",
            "discount_percent": "150",
            "payment_terms_days": "30",
            "currency": "SEK",
            "version": str(company.version),
        },
    )
    assert "Rabatten måste vara mellan 0 och 100 procent" in response.get_data(as_text=True)


def test_activities_are_created_and_completed_from_the_card(login, company):
    seller = login("seller")
    response = seller.post(
        f"/admin/company/card/{company.id}/activities",
        {"kind": "task", "subject": "Skicka offert", "due_at": "2030-01-15T10:00"},
    )
    assert response.status_code == 302
    activity = db.session.scalars(db.select(Activity).where(Activity.company_id == company.id)).one()
    assert activity.subject == "Skicka offert" and not activity.done
    assert activity.due_at.isoformat() == "2030-01-15T09:00:00"  # 10:00 in Stockholm, stored in UTC
    seller.post(f"/admin/company/card/{company.id}/activities/{activity.id}/done", {"done": "1"})
    db.session.refresh(activity)
    assert activity.done and activity.done_at is not None
    empty = seller.post(f"/admin/company/card/{company.id}/activities", {"kind": "task", "subject": ""})
    assert "Skriv vad aktiviteten gäller" in empty.get_data(as_text=True)


def test_file_area_upload_download_delete_and_limits(login, company, app):
    seller = login("seller")
    data = {"file": (io.BytesIO(b"offert 2027"), "Offert Göteborg.pdf")}
    assert (
        seller.post(f"/admin/company/card/{company.id}/files", data, content_type="multipart/form-data").status_code
        == 302
    )
    attachment = db.session.scalars(db.select(Attachment)).one()
    assert attachment.filename == "Offert Göteborg.pdf" and attachment.size == 11
    download = seller.client.get(f"/admin/company/card/{company.id}/files/{attachment.id}")
    assert download.status_code == 200 and download.data == b"offert 2027"

    bad = seller.post(
        f"/admin/company/card/{company.id}/files",
        {"file": (io.BytesIO(b"MZ"), "virus.exe")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Filer av typen .exe kan inte laddas upp" in bad.get_data(as_text=True)
    limit = app.config["MAX_UPLOAD_BYTES"]
    app.config["MAX_UPLOAD_BYTES"] = 10
    try:
        big = seller.post(
            f"/admin/company/card/{company.id}/files",
            {"file": (io.BytesIO(b"x" * 11), "stor.txt")},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
    finally:
        app.config["MAX_UPLOAD_BYTES"] = limit
    assert "laddades inte upp" in big.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Attachment)) == 1

    assert login("finance").post(f"/admin/company/card/{company.id}/files/{attachment.id}/delete").status_code == 403
    seller.post(f"/admin/company/card/{company.id}/files/{attachment.id}/delete")
    db.session.refresh(attachment)
    assert attachment.deleted_at is not None
    assert seller.client.get(f"/admin/company/card/{company.id}/files/{attachment.id}").status_code == 404


def test_history_tab_shows_changes_of_the_company_and_its_contacts(login, company, make_contact):
    contact = make_contact(companies=[company], first_name="Greta", last_name="Garbo")
    contact.title = "VD"
    company.phone = "+46812345678"
    db.session.commit()
    page = login("admin").client.get(f"/admin/company/card/{company.id}/tab/history").get_data(as_text=True)
    assert "Greta Garbo" in page and "VD" in page and "08-123 456 78" in page  # as the screens show a phone


# --- Behörigheter on the employee card ------------------------------------------------------


def test_employee_hides_and_orders_own_tabs(login, employees, company):
    seller = login("seller")
    me = employees["seller"]
    response = seller.post(
        f"/admin/employee/card/{me.id}/layout",
        {
            "group": "company_tabs",
            "show": ["overview", "contacts", "history"],
            "order": ["history", "overview", "contacts", "activities", "email", "files", "projects", "settings"],
        },
    )
    assert response.status_code == 302
    db.session.refresh(me)
    assert [t.key for t in layout.visible_items(me, "company_tabs")] == ["history", "overview", "contacts"]
    # Not for someone else.
    other = employees["finance"]
    assert seller.post(f"/admin/employee/card/{other.id}/layout", {"group": "company_tabs"}).status_code == 403


def test_hidden_module_leaves_the_menu_but_still_opens(login, employees):
    seller = login("seller")
    me = employees["seller"]
    seller.post(
        f"/admin/employee/card/{me.id}/layout",
        {"group": "modules", "show": ["company", "contact"], "order": ["contact", "company"]},
    )
    page = seller.client.get("/admin/").get_data(as_text=True).split("</nav>")[0]
    assert 'href="/admin/supplier/"' not in page
    assert page.index('href="/admin/contact/"') < page.index('href="/admin/company/"')
    assert seller.client.get("/admin/supplier/").status_code == 200


def test_only_administrators_grant_beyond_the_role(login, employees):
    target = employees["readonly"]
    assert (
        login("seller").post(f"/admin/employee/card/{target.id}/permissions", {"perm-tab.files": "grant"}).status_code
        == 403
    )
    assert (
        login("admin").post(f"/admin/employee/card/{target.id}/permissions", {"perm-tab.files": "grant"}).status_code
        == 302
    )
    db.session.refresh(target)
    assert target.has_permission("tab.files")


# --- a big customer: the first view costs a bounded number of queries -----------------------


def _count_queries(client, url) -> int:
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements)


def _grow(company, employee, *, contacts, activities, files, events, emails):
    now = utcnow()
    people = [Contact(first_name="Person", last_name=f"Nr{n}") for n in range(contacts)]
    db.session.add_all(people)
    db.session.flush()
    db.session.add_all(CompanyContact(company_id=company.id, contact_id=p.id) for p in people)
    db.session.add_all(
        Activity(
            kind="task",
            subject=f"Uppgift {n}",
            company_id=company.id,
            assignee_id=employee.id,
            due_at=now + timedelta(days=n % 30 - 15),
        )
        for n in range(activities)
    )
    db.session.add_all(
        Attachment(
            company_id=company.id,
            filename=f"fil{n}.pdf",
            content_type="application/pdf",
            size=100,
            storage_key=f"k{company.id}x{n}x{activities}",
            uploaded_by_id=employee.id,
        )
        for n in range(files)
    )
    db.session.add_all(
        EmailMessage(company_id=company.id, sender="a@example.se", recipients="b@example.se", subject=f"Brev {n}")
        for n in range(emails)
    )
    db.session.add_all(
        AuditEvent(
            entity_type="company",
            entity_id=company.id,
            action="update",
            actor_id=employee.id,
            changes={"note": ["a", "b"]},
        )
        for n in range(events)
    )
    db.session.commit()


def test_card_queries_do_not_grow_with_the_customer(login, make_company, employees):
    admin = login("admin")
    employee = employees["admin"]
    small, big = make_company(name="Liten AB"), make_company(name="Stor AB")
    _grow(small, employee, contacts=2, activities=3, files=2, events=5, emails=1)
    _grow(big, employee, contacts=50, activities=500, files=200, events=2000, emails=300)
    for url in (
        "/admin/company/card/{}",
        "/admin/company/card/{}/tab/contacts",
        "/admin/company/card/{}/tab/activities",
        "/admin/company/card/{}/tab/files",
        "/admin/company/card/{}/tab/email",
        "/admin/company/card/{}/tab/history",
    ):
        few = _count_queries(admin.client, url.format(small.id))
        many = _count_queries(admin.client, url.format(big.id))
        assert many <= few, (url, few, many)
        assert many <= 12, (url, many)


def test_request_larger_than_the_limit_is_refused_before_it_is_read(login, company, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        response = login("seller").post(
            f"/admin/company/card/{company.id}/files",
            {"file": (io.BytesIO(b"x" * 5000), "stor.pdf")},
            content_type="multipart/form-data",
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413
    assert "laddades inte upp" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Attachment)) == 0


def test_start_page_lists_my_open_activities_overdue_first(login, company, employees):
    from services import activities

    seller = employees["seller"]
    now = utcnow()
    activities.create(
        db.session, seller, kind="task", subject="Senare uppgift", due_at=now + timedelta(days=3), company_id=company.id
    )
    activities.create(
        db.session,
        seller,
        kind="call",
        subject="Försenat samtal",
        due_at=now - timedelta(days=2),
        company_id=company.id,
    )
    done = activities.create(
        db.session, seller, kind="task", subject="Klar uppgift", due_at=now - timedelta(days=5), company_id=company.id
    )
    activities.set_done(done)
    activities.create(db.session, employees["admin"], kind="task", subject="Någon annans", company_id=company.id)
    db.session.commit()
    page = login("seller").client.get("/admin/").get_data(as_text=True)
    mine = page.split('id="my-activities"')[1]
    assert mine.index("Försenat samtal") < mine.index("Senare uppgift")
    assert "Klar uppgift" not in mine and "Någon annans" not in mine
    assert "table-danger" in mine.split("Försenat samtal")[0]


def test_private_customer_card_lists_its_sales_opportunities(login, make_contact):
    from models import Opportunity, SalesStage

    person = make_contact(first_name="Per", last_name="Privat", customer_number=99001)
    stage = SalesStage(name="Offert", sort_order=1, probability=50)
    db.session.add_all([stage, Opportunity(title="Ny altan", contact=person, stage=stage)])
    db.session.commit()
    seller = login("seller")
    tab = seller.client.get(f"/admin/contact/card/{person.id}/tab/opportunities").get_data(as_text=True)
    assert "Ny altan" in tab and 'id="new-opportunity"' in tab
    plain = make_contact(first_name="Utan", last_name="Kundnummer")
    assert 'id="new-opportunity"' not in seller.client.get(
        f"/admin/contact/card/{plain.id}/tab/opportunities"
    ).get_data(as_text=True)


@pytest.mark.parametrize(
    "tab, rows",
    [("activities", "activities"), ("contacts", "contacts"), ("files", "files"), ("email", "emails")],
)
def test_a_tab_longer_than_a_page_shows_its_pager_and_the_next_page(login, make_company, employees, tab, rows):
    """A card tab with more rows than one page (25) links to the next page, and that page holds the rest."""
    company = make_company()
    grown = {"contacts": 0, "activities": 0, "files": 0, "events": 0, "emails": 0, rows: card.PAGE_SIZE + 5}
    _grow(company, employees["admin"], **grown)
    db.session.commit()
    client = login("admin").client
    first = client.get(f"/admin/company/card/{company.id}/tab/{tab}").get_data(as_text=True)
    nav = re.search(rf'id="{tab}-page-next" rel="next" href="([^"]+)"', first)
    assert nav, f"no link to the next page of {tab}"
    second = client.get(html.unescape(nav.group(1))).get_data(as_text=True)
    assert f'id="{tab}-page-previous" rel="prev"' in second
    shown = len(re.findall(r"<tr\b", first.split("<tbody")[1].split("</tbody>")[0])) if "<tbody" in first else 0
    assert shown == card.PAGE_SIZE, shown


def test_the_contacts_tab_offers_sms_only_for_mobile_numbers_and_mail_for_addresses(login, make_company, make_contact):
    """Each row of Kontakter shows its numbers Swedish-style; an SMS is offered (beside the number and in
    the row's menu) only for a mobile number, an e-mail for an address, and only to who may send them."""
    company = make_company()
    mobile = make_contact([company], first_name="Mia", last_name="Mobil", mobile="+46701234567", email="mia@example.se")
    make_contact([company], first_name="Lars", last_name="Linje", phone="+46812345678")
    tab = login("admin").client.get(f"/admin/company/card/{company.id}/tab/contacts").get_data(as_text=True)
    rows = {name: row for row in tab.split("<tr")[1:] for name in ("Mia", "Lars") if name in row}
    sms = f"/admin/company/card/{company.id}/sms?contact="
    mail = f"/admin/company/card/{company.id}/email?contact="
    assert rows["Mia"].count(f"{sms}{mobile.id}") == 2 and "070-123 45 67" in rows["Mia"]
    assert rows["Mia"].count(f"{mail}{mobile.id}") == 2
    assert sms not in rows["Lars"] and mail not in rows["Lars"] and "08-123 456 78" in rows["Lars"]
    readonly = login("readonly").client.get(f"/admin/company/card/{company.id}/tab/contacts").get_data(as_text=True)
    assert sms not in readonly and mail not in readonly and "070-123 45 67" in readonly
