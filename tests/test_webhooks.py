"""Webhooks: events written with the change, delivered by the task queue's worker to a real HTTP
receiver on a local socket, signed, retried, refused for internal addresses; the admin screens."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from webhook_receiver import Receiver, signed_payloads

from helpers import flashes, sv, svn, text
from models import Company, Opportunity, SalesStage, WebhookDelivery, WebhookSubscription, utcnow
from services import api_keys, webhooks
from services.validation import InvalidValue


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def deliveries(session):
    session.expire_all()
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


# --- subscriptions and SSRF ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/",
    ],
)
def test_internal_addresses_are_refused_unless_allowed(session, employees, url):
    with pytest.raises(webhooks.RefusedAddress):
        webhooks.subscribe(session, employees["admin"], name="Intern", url=url, events=["company.created"])
    allowed = webhooks.subscribe(
        session, employees["admin"], name="Intern", url=url, events=["company.created"], allow_internal=True
    )
    assert allowed.allow_internal and len(allowed.secret) == 64


def test_a_subscription_needs_a_web_address_events_and_the_permission(session, employees):
    for url in ("ftp://example.se/x", "example.se", "https://"):
        with pytest.raises(InvalidValue):
            webhooks.subscribe(session, employees["admin"], name="X", url=url, events=["company.created"])
    with pytest.raises(InvalidValue):
        webhooks.subscribe(session, employees["admin"], name="X", url="https://93.184.215.14/", events=[])
    with pytest.raises(InvalidValue):
        webhooks.subscribe(session, employees["admin"], name="X", url="https://93.184.215.14/", events=["nope"])
    with pytest.raises(webhooks.NotPermitted):
        webhooks.subscribe(
            session, employees["seller"], name="X", url="https://93.184.215.14/", events=["lead.created"]
        )


# --- events ---------------------------------------------------------------------------------------


def test_changes_write_one_delivery_per_subscription_wanting_the_event(session, employees, make_company):
    webhooks.subscribe(
        session, None, name="Allt", url="http://127.0.0.1/", events=list(webhooks.EVENTS), allow_internal=True
    )
    webhooks.subscribe(
        session, None, name="Nya", url="http://127.0.0.1/", events=["company.created"], allow_internal=True
    )
    session.commit()
    company = make_company(name="Händelse AB")
    company.postal_city = "Lund"
    session.commit()
    from services import trash

    trash.delete(session, employees["admin"], Company, [company.id])
    trash.restore(session, employees["admin"], Company, [company.id])
    session.commit()
    rows = [(d.subscription.name, d.event) for d in deliveries(session)]
    assert rows == [
        ("Allt", "company.created"),
        ("Nya", "company.created"),
        ("Allt", "company.updated"),
        ("Allt", "company.deleted"),
        ("Allt", "company.restored"),
    ]
    update = deliveries(session)[2].payload
    assert update["data"]["changes"] == {"postal_city": [None, "Lund"]} and update["data"]["id"] == company.id


def test_moving_an_opportunity_is_a_stage_change_event(session, make_company):
    webhooks.subscribe(
        session, None, name="Sälj", url="http://127.0.0.1/", events=["opportunity.stage_changed"], allow_internal=True
    )
    first, second = (
        SalesStage(name="A", sort_order=1, probability=10),
        SalesStage(name="B", sort_order=2, probability=40),
    )
    session.add_all([first, second])
    opportunity = Opportunity(title="Affär", company=make_company(), stage=first)
    session.add(opportunity)
    session.commit()
    assert deliveries(session) == []
    opportunity.stage = second
    session.commit()
    (delivery,) = deliveries(session)
    assert delivery.event == "opportunity.stage_changed"
    assert delivery.payload["data"]["changes"] == {"stage_id": [first.id, second.id]}


def test_sending_and_paying_an_invoice_are_events(session, make_company, products, employees):
    from services import invoicing

    webhooks.subscribe(
        session,
        None,
        name="Bokföring",
        url="http://127.0.0.1/",
        events=["invoice.sent", "invoice.paid"],
        allow_internal=True,
    )
    invoice = invoicing.new_invoice(session, employees["finance"], make_company(name="Betalare AB"))
    invoicing.set_lines(invoice, [invoicing.LineInput(product=products["100"], quantity="1")])
    session.commit()
    assert deliveries(session) == []
    invoicing.send(session, invoice)
    session.commit()
    invoicing.mark_paid(invoice)
    session.commit()
    rows = deliveries(session)
    assert [d.event for d in rows] == ["invoice.sent", "invoice.paid"]
    assert rows[0].payload["data"]["record"]["number"] == invoice.number
    assert rows[1].payload["data"]["changes"] == {"status": ["sent", "paid"]}


def test_a_rolled_back_change_sends_nothing(session, make_company):
    webhooks.subscribe(
        session, None, name="X", url="http://127.0.0.1/", events=["company.created"], allow_internal=True
    )
    session.commit()
    session.add(Company(name="Ångrad AB"))
    session.flush()
    session.rollback()
    assert deliveries(session) == []


# --- delivering through the queue -----------------------------------------------------------------


def test_an_api_change_is_delivered_signed_by_the_queue_worker(app, session, employees, receiver, worker):
    subscription = webhooks.subscribe(
        session, None, name="Mottagare", url=receiver.url, events=["company.created"], allow_internal=True
    )
    key = api_keys.create(session, None, employee=employees["seller"], name="Butik").secret
    session.commit()
    response = app.test_client().post(
        "/api/v1/companies", json={"name": "Webhook AB"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 201
    (headers, body), *_rest = receiver.wait_for(1)
    expected = hmac.new(
        subscription.secret.encode(), headers["X-Kundregister-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Kundregister-Signature"] == f"sha256={expected}"
    assert abs(int(headers["X-Kundregister-Timestamp"]) - time.time()) < 60
    payload = json.loads(body)
    assert payload["event"] == "company.created" and payload["data"]["id"] == response.get_json()["id"]
    assert payload["data"]["record"]["name"] == "Webhook AB"
    deadline = time.monotonic() + 10
    while deliveries(session)[0].status != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
    delivery = deliveries(session)[0]
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("delivered", 200, 1)


def test_a_failing_receiver_is_tried_again_until_it_answers(app, session, worker):
    receiver = Receiver(statuses=[500, 503])
    app.config["WEBHOOK_RETRY_SCALE"] = 0.005  # 30 s and 60 s become 0.15 s and 0.3 s
    try:
        webhooks.subscribe(
            session, None, name="Ostadig", url=receiver.url, events=["company.created"], allow_internal=True
        )
        session.commit()
        session.add(Company(name="Envis AB"))
        session.commit()
        assert len(receiver.wait_for(3)) == 3
        deadline = time.monotonic() + 10
        while deliveries(session)[0].status != "delivered" and time.monotonic() < deadline:
            time.sleep(0.05)
        delivery = deliveries(session)[0]
        assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 3, 200)
        ids = {h["X-Kundregister-Delivery"] for h, _b in receiver.requests}
        assert ids == {str(delivery.id)}
    finally:
        app.config.pop("WEBHOOK_RETRY_SCALE")
        receiver.close()


def test_retries_back_off_and_stop_after_24_hours(session):
    assert [webhooks.retry_delay(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert webhooks.retry_delay(20) == 2 * 60 * 60
    subscription = webhooks.subscribe(
        session, None, name="Nere", url="http://127.0.0.1:9/", events=["lead.created"], allow_internal=True
    )
    now = utcnow()
    young = WebhookDelivery(subscription=subscription, event="lead.created", payload={}, created_at=now, attempts=0)
    old = WebhookDelivery(
        subscription=subscription,
        event="lead.created",
        payload={},
        created_at=now - timedelta(hours=23, minutes=59),
        attempts=5,
    )
    session.add_all([young, old])
    session.flush()
    assert webhooks.attempt(session, young, now=now, post=lambda *a: 502) == 30
    assert (young.status, young.response_code, young.error) == ("retrying", 502, "HTTP 502")
    assert young.next_attempt_at == now + timedelta(seconds=30)
    assert webhooks.attempt(session, old, now=now, post=lambda *a: 502) is None
    assert old.status == "failed"


def test_an_internal_address_is_refused_at_delivery_too(session, receiver, worker):
    subscription = webhooks.subscribe(
        session, None, name="Bytt", url=receiver.url, events=["company.created"], allow_internal=True
    )
    subscription.allow_internal = False  # an administrator took the permission back
    session.commit()
    session.add(Company(name="Skyddad AB"))
    session.commit()
    deadline = time.monotonic() + 10
    while deliveries(session)[0].status != "failed" and time.monotonic() < deadline:
        time.sleep(0.05)
    delivery = deliveries(session)[0]
    assert delivery.status == "failed" and "127.0.0.1" in delivery.error
    assert receiver.requests == []


def test_lost_queue_messages_are_found_again(session):
    subscription = webhooks.subscribe(
        session, None, name="X", url="http://127.0.0.1/", events=["lead.created"], allow_internal=True
    )
    now = utcnow()
    due = WebhookDelivery(
        subscription=subscription,
        event="lead.created",
        payload={},
        status="pending",
        next_attempt_at=now - timedelta(hours=1),
    )
    stuck = WebhookDelivery(
        subscription=subscription,
        event="lead.created",
        payload={},
        status="sending",
        last_attempt_at=now - timedelta(hours=1),
    )
    fresh_one = WebhookDelivery(
        subscription=subscription, event="lead.created", payload={}, status="pending", next_attempt_at=now
    )
    session.add_all([due, stuck, fresh_one])
    session.flush()
    assert webhooks.lost(session, now) == sorted([due.id, stuck.id])


# --- Administration – Integrationer: webhooks ---------------------------------------------------


def test_the_admin_subscribes_sees_the_log_and_sends_again(login, session, receiver, worker):
    admin = login("admin")
    refused = admin.post(
        "/admin/integrations/webhooks", {"name": "Ekonomi", "url": receiver.url, "events": ["company.created"]}
    )
    assert refused.status_code == 400
    assert "127.0.0.1" in text(refused) and session.scalar(select(WebhookSubscription)) is None
    saved = admin.post(
        "/admin/integrations/webhooks",
        {
            "name": "Ekonomi",
            "url": receiver.url,
            "events": ["company.created", "company.updated"],
            "allow_internal": "y",
        },
        follow_redirects=True,
    )
    assert ("success", sv("The webhook %(name)s was saved.", name="Ekonomi")) in flashes(saved)
    subscription = session.scalar(select(WebhookSubscription))
    assert subscription.secret in text(saved)
    session.add(Company(name="Loggad AB"))
    session.commit()
    receiver.wait_for(1)
    deadline = time.monotonic() + 10
    while deliveries(session)[0].status != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
    page = text(admin.client.get(f"/admin/integrations/webhooks/{subscription.id}"))
    assert sv("Delivered") in page and sv("Company created") in page and "200" in page
    delivery = deliveries(session)[0]
    again = admin.post(f"/admin/integrations/deliveries/{delivery.id}/resend", follow_redirects=True)
    assert ("success", sv("The delivery will be sent again.")) in flashes(again)
    assert len(receiver.wait_for(2)) == 2
    assert admin.client.post(f"/admin/integrations/deliveries/{delivery.id}/resend").status_code == 400  # no token


@pytest.mark.parametrize("role", ["seller", "readonly"])
def test_only_integration_managers_reach_webhooks(login, session, role):
    subscription = webhooks.subscribe(
        session, None, name="X", url="http://127.0.0.1/", events=["lead.created"], allow_internal=True
    )
    session.commit()
    user = login(role)
    assert user.client.get(f"/admin/integrations/webhooks/{subscription.id}").status_code == 403
    assert user.post("/admin/integrations/webhooks", {"name": "Y", "url": "https://example.se"}).status_code == 403
    assert user.post(f"/admin/integrations/webhooks/{subscription.id}/delete").status_code == 403


# --- merges (services.merge) ----------------------------------------------------------------------


def test_every_mergeable_kind_has_merge_events():
    """A kind services.merge learns to merge fails here until its merged/unmerged events exist."""
    from services import merge

    for kind in merge.MODELS:
        assert {f"{kind}.merged", f"{kind}.unmerged"} <= set(webhooks.EVENTS), kind


def test_a_merge_and_its_undo_are_delivered_with_both_ids(login, session, make_company, receiver, worker):
    """Merging two companies on the Dubbletter page sends company.merged about the kept one, naming the
    merged one; undoing it sends company.unmerged. Contacts likewise (through services.merge)."""
    from models import Contact, MergeRecord
    from services import merge

    subscription = webhooks.subscribe(
        session,
        None,
        name="Dubbletter",
        url=receiver.url,
        events=["company.merged", "company.unmerged", "contact.merged"],
        allow_internal=True,
    )
    keep = make_company(name="Kaffebolaget AB", phone="+46812345678")
    other = make_company(name="Kaffebolaget", postal_city="Lund")
    session.commit()
    admin = login("admin")
    merged = admin.post(
        "/admin/duplicates/merge/company",
        {"first": str(keep.id), "second": str(other.id), "keep": str(keep.id), "field_name": str(keep.id)},
        follow_redirects=True,
    )
    assert merged.status_code == 200
    (payload,) = signed_payloads(receiver, subscription, 1)
    assert payload["event"] == "company.merged"
    assert (payload["data"]["id"], payload["data"]["merged_id"]) == (keep.id, other.id)
    assert payload["data"]["record"]["postal_city"] == "Lund"  # the kept record, with what it took
    assert payload["data"]["changes"] == {"postal_city": [None, "Lund"]}
    record = session.scalar(select(MergeRecord))
    assert payload["data"]["merge_id"] == record.id
    assert admin.post(f"/admin/duplicates/undo/company/{record.id}", follow_redirects=True).status_code == 200
    _merged, undone = signed_payloads(receiver, subscription, 2)
    assert undone["event"] == "company.unmerged"
    assert (undone["data"]["id"], undone["data"]["merged_id"], undone["data"]["merge_id"]) == (
        keep.id,
        other.id,
        record.id,
    )
    assert undone["data"]["record"]["postal_city"] is None

    first, second = Contact(first_name="Åsa", last_name="Öberg"), Contact(first_name="Åsa", last_name="Öberg")
    session.add_all([first, second])
    session.commit()
    merge.merge(session, fresh_employee(session, "admin"), "contact", first.id, second.id)
    session.commit()
    contact_event = signed_payloads(receiver, subscription, 3)[2]
    assert contact_event["event"] == "contact.merged"
    assert (contact_event["data"]["id"], contact_event["data"]["merged_id"]) == (first.id, second.id)
    assert "changes" not in contact_event["data"]  # nothing differed
    assert [d.event for d in deliveries(session)] == ["company.merged", "company.unmerged", "contact.merged"]


def test_a_purge_from_the_trash_is_purged_not_deleted_again(login, session, make_company, receiver, worker):
    """Deleting a lead or a company from its list sends `<kind>.deleted` (it went to the trash); purging it
    from the trash later sends `<kind>.purged`, never a second `<kind>.deleted`: a subscriber of
    deletions hears of each deletion once."""
    from models import Lead

    subscription = webhooks.subscribe(
        session,
        None,
        name="Raderingar",
        url=receiver.url,
        events=["lead.deleted", "lead.purged", "company.deleted", "company.purged"],
        allow_internal=True,
    )
    lead, company = Lead(company_name="Ystads Rökeri AB"), make_company(name="Simrishamns Fisk AB")
    session.add(lead)
    session.commit()
    seller, admin = login("seller"), login("admin")
    assert seller.post("/admin/lead/action/", {"action": "delete", "rowid": str(lead.id)}).status_code == 302
    assert seller.post("/admin/company/action/", {"action": "delete", "rowid": str(company.id)}).status_code == 302
    deleted = signed_payloads(receiver, subscription, 2)
    assert sorted((p["event"], p["data"]["id"]) for p in deleted) == [
        ("company.deleted", company.id),
        ("lead.deleted", lead.id),
    ]
    purged = admin.post(
        "/admin/trash/purge/confirm",
        {"rowid": [f"lead:{lead.id}", f"company:{company.id}"], "confirm": "yes"},
        follow_redirects=True,
    )
    assert (
        "success",
        svn("%(num)s lead was permanently deleted.", "%(num)s leads were permanently deleted.", 1),
    ) in flashes(purged)
    payloads = signed_payloads(receiver, subscription, 4)
    assert sorted((p["event"], p["data"]["id"]) for p in payloads[2:]) == [
        ("company.purged", company.id),
        ("lead.purged", lead.id),
    ]
    assert payloads[2:][0]["data"]["record"]["deleted_at"] is not None  # it was in the trash
    time.sleep(0.5)  # nothing else comes
    assert len(receiver.requests) == 4
    assert sorted(d.event for d in deliveries(session)) == [
        "company.deleted",
        "company.purged",
        "lead.deleted",
        "lead.purged",
    ]
    page = text(admin.client.get(f"/admin/integrations/webhooks/{subscription.id}"))
    assert sv("Lead deleted permanently (from the trash)") in page


def test_only_a_record_without_a_trash_is_deleted_when_its_row_goes(session, make_company):
    """An opportunity has no trash: deleting its row is its `opportunity.deleted`."""
    webhooks.subscribe(
        session, None, name="Allt", url="http://127.0.0.1/", events=list(webhooks.EVENTS), allow_internal=True
    )
    opportunity = Opportunity(
        title="Affär", company=make_company(), stage=SalesStage(name="A", sort_order=1, probability=10)
    )
    session.add(opportunity)
    session.commit()
    session.delete(opportunity)
    session.commit()
    assert [d.event for d in deliveries(session)][-1] == "opportunity.deleted"


def fresh_employee(session, role: str):
    from models import Employee

    return session.scalar(select(Employee).where(Employee.role == role))


def test_subscriptions_are_read_once_a_transaction_and_only_when_a_watched_record_is_written(
    session, make_company, employees
):
    from sqlalchemy import event

    from extensions import db

    company = make_company(name="Läst AB")
    session.commit()
    read: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "FROM webhook_subscription" in statement:
            read.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for city in ("Lund", "Malmö", "Ystad"):
            company.postal_city = city
            session.flush()
        session.commit()
        assert len(read) == 1  # three flushes, one transaction
        employees["admin"].phone = "+46701234567"  # not a record events are about
        session.commit()
        assert len(read) == 1
        company.postal_city = "Visby"
        session.commit()
        assert len(read) == 2  # a new transaction reads them again
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_a_subscription_made_in_the_transaction_gets_its_later_events(session, make_company):
    company = make_company(name="Sen AB")
    company.postal_city = "Lund"
    session.flush()  # read: no subscriptions yet
    webhooks.subscribe(
        session, None, name="Sen", url="http://127.0.0.1/", events=["company.updated"], allow_internal=True
    )
    company.postal_city = "Malmö"
    session.commit()
    assert [(d.event, d.payload["data"]["changes"]) for d in deliveries(session)] == [
        ("company.updated", {"postal_city": ["Lund", "Malmö"]})
    ]


def test_an_update_carries_the_changes_its_audit_event_records(session, make_company):
    from models import AuditEvent, Category

    webhooks.subscribe(
        session, None, name="Allt", url="http://127.0.0.1/", events=["company.updated"], allow_internal=True
    )
    company = make_company(name="Kategori AB")
    category = Category(name="Grossist", applies_to="company")
    session.add(category)
    session.commit()
    company.categories.append(category)
    company.phone = "+4640123456"
    session.commit()
    (delivery,) = deliveries(session)
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == company.id, AuditEvent.action == "update")
    ).one()
    assert delivery.payload["data"]["changes"] == event.changes
    assert set(event.changes) == {"categories", "phone"}
