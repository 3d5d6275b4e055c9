"""A deleted lead goes to the trash (as companies and contacts do), with its call-list entries and
activities, and comes back from Återställa kunder; only the trash's confirmed purge destroys it.
The lead's page lists its activities and takes a new one; a converted customer's Historik begins
with the lead's own history."""

import pytest
from sqlalchemy import select

from models import Activity, AuditEvent, CallList, CallListEntry, Company, Lead
from services import activities, calllists, duplicates, leads, mass_update, merge, register, trash
from services.audit import acting_as
from services.validation import InvalidValue
from tests.helpers import count, flashes, fresh, sv, svn, text

CALLED = "Called: %(called)s of %(total)s. Remaining: %(left)s."


@pytest.fixture
def worked(session, employees):
    """ "Ystads Rökeri AB" on the call list "Mässuppföljning Elmia", called once (Svarar ej, with a note),
    and a second lead on the list not called yet."""
    seller = employees["seller"]
    with acting_as(session, seller.id):
        lead = Lead(
            company_name="Ystads Rökeri AB",
            org_number="5560360793",
            contact_first_name="Sven",
            contact_last_name="Rök",
            contact_phone="+46411123456",
            contact_email="sven@rokeri.se",
            owner=seller,
        )
        other = Lead(company_name="Tomelilla Must AB", contact_phone="+46417123456", owner=seller)
        session.add_all([lead, other])
        session.flush()
        call_list = calllists.new_list(session, seller, [lead, other], name="Mässuppföljning Elmia")
        session.flush()
        entry = call_list.entries[0]
        calllists.record_outcome(session, seller, entry, "no_answer", note="Ring efter lunch")
    session.commit()
    return {"lead": lead, "other": other, "call_list": call_list, "entry": entry}


def _delete_from_the_list(client, lead):
    return client.post("/admin/lead/action/", {"action": "delete", "rowid": str(lead.id)}, follow_redirects=True)


# --- deleting: to the trash, links kept ------------------------------------------------------------


def test_deleting_a_lead_moves_it_to_the_trash_with_its_call_list_entry_and_activities(login, session, worked):
    lead, entry, call_list = worked["lead"], worked["entry"], worked["call_list"]
    call = session.scalar(select(Activity).where(Activity.lead_id == lead.id))
    seller = login("seller")
    response = _delete_from_the_list(seller, lead)
    assert (
        "success",
        svn("%(num)s record was moved to the trash.", "%(num)s records were moved to the trash.", 1),
    ) in flashes(response)
    kept = fresh(session, Lead, lead.id)
    assert kept is not None and kept.deleted_at is not None and kept.deleted_by.email == "seller@example.se"
    stored = fresh(session, CallListEntry, entry.id)
    assert (stored.outcome, stored.note, stored.lead_id) == ("no_answer", "Ring efter lunch", lead.id)
    assert fresh(session, Activity, call.id).lead_id == lead.id
    # gone from the list, its page and its edit form
    assert "Ystads Rökeri AB" not in text(seller.client.get("/admin/lead/"))
    assert "Tomelilla Must AB" in text(seller.client.get("/admin/lead/"))
    assert seller.client.get(f"/admin/lead/show/{lead.id}").status_code == 404
    assert seller.client.get(f"/admin/lead/edit/?id={lead.id}").status_code in (302, 404)
    # the call list keeps the entry, shown as in the trash, and counts only the leads still there
    page = text(seller.client.get(f"/admin/calllist/work/{call_list.id}"))
    assert "Ystads Rökeri AB" in page and sv("In the trash") in page and "Ring efter lunch" in page
    assert sv(CALLED, called=0, total=1, left=1) in page
    # the deletion is in the lead's history
    assert (
        session.scalar(
            select(AuditEvent.action).where(AuditEvent.entity_type == "lead").order_by(AuditEvent.id.desc()).limit(1)
        )
        == "delete"
    )


def test_a_lead_in_the_trash_is_restored_from_the_trash_with_its_links(login, session, worked):
    lead, call_list = worked["lead"], worked["call_list"]
    _delete_from_the_list(login("seller"), lead)
    admin = login("admin")
    page = admin.client.get("/admin/trash/")
    body = text(page)
    assert "Leads" in body and "Ystads Rökeri AB" in body and "Test Seller" in body
    assert f'value="lead:{lead.id}"' in page.get_data(as_text=True)
    response = admin.post("/admin/trash/restore", {"rowid": f"lead:{lead.id}"}, follow_redirects=True)
    assert ("success", svn("%(num)s lead was restored.", "%(num)s leads were restored.", 1)) in flashes(response)
    assert fresh(session, Lead, lead.id).deleted_at is None
    assert sv("There are no deleted customers.") in text(admin.client.get("/admin/trash/"))
    shown = text(admin.client.get(f"/admin/lead/show/{lead.id}"))
    assert "Ring efter lunch" in shown  # its call, on its page
    work = text(admin.client.get(f"/admin/calllist/work/{call_list.id}"))
    assert sv(CALLED, called=1, total=2, left=1) in work and sv("In the trash") not in work


def test_restoring_and_purging_leads_need_their_permissions(login, session, employees, worked):
    lead = worked["lead"]
    trash.delete(session, employees["seller"], Lead, [lead.id])
    session.commit()
    seller = login("seller")  # has lead.delete, not lead.restore: the trash is not theirs (as for companies)
    assert seller.client.get("/admin/trash/").status_code == 403
    assert seller.post("/admin/trash/restore", {"rowid": f"lead:{lead.id}"}).status_code == 403
    assert seller.post("/admin/trash/purge/confirm", {"rowid": f"lead:{lead.id}", "confirm": "yes"}).status_code == 403
    # an administrator without lead.restore / lead.purge sees the customers' trash, not its leads
    employees["admin"].revoked_permissions = ["lead.restore", "lead.purge"]
    session.commit()
    admin = login("admin")
    assert f'value="lead:{lead.id}"' not in admin.client.get("/admin/trash/").get_data(as_text=True)
    assert admin.post("/admin/trash/restore", {"rowid": f"lead:{lead.id}"}).status_code == 403
    assert admin.post("/admin/trash/purge", {"rowid": f"lead:{lead.id}"}).status_code == 403
    assert admin.post("/admin/trash/purge/confirm", {"rowid": f"lead:{lead.id}", "confirm": "yes"}).status_code == 403
    assert fresh(session, Lead, lead.id).deleted_at is not None
    with pytest.raises(trash.NotPermitted):
        trash.restore(session, employees["seller"], Lead, [lead.id])


def test_only_the_confirmed_purge_destroys_a_lead_in_the_trash(login, session, employees, worked):
    lead, entry_id = worked["lead"], worked["entry"].id
    lone = session.scalar(select(Activity.id).where(Activity.lead_id == lead.id))
    admin = login("admin")
    # a live lead is never purged
    admin.post("/admin/trash/purge/confirm", {"rowid": f"lead:{lead.id}", "confirm": "yes"})
    assert fresh(session, Lead, lead.id) is not None
    trash.delete(session, employees["seller"], Lead, [lead.id])
    session.commit()
    asked = admin.post("/admin/trash/purge", {"rowid": f"lead:{lead.id}"})
    assert asked.status_code == 200 and "Ystads Rökeri AB" in text(asked)
    unconfirmed = admin.post("/admin/trash/purge/confirm", {"rowid": f"lead:{lead.id}"}, follow_redirects=True)
    assert ("warning", sv("Nothing was deleted: the permanent deletion was not confirmed.")) in flashes(unconfirmed)
    assert fresh(session, Lead, lead.id) is not None
    done = admin.post(
        "/admin/trash/purge/confirm", {"rowid": f"lead:{lead.id}", "confirm": "yes"}, follow_redirects=True
    )
    assert (
        "success",
        svn("%(num)s lead was permanently deleted.", "%(num)s leads were permanently deleted.", 1),
    ) in flashes(done)
    assert fresh(session, Lead, lead.id) is None
    assert fresh(session, CallListEntry, entry_id) is None
    assert fresh(session, Activity, lone) is None  # it belonged to the lead alone
    assert count(session, CallListEntry) == 1  # the other lead's entry


def test_the_trash_forms_need_the_csrf_token(login, session, employees, worked):
    lead = worked["lead"]
    trash.delete(session, employees["seller"], Lead, [lead.id])
    session.commit()
    admin = login("admin")
    assert admin.client.post("/admin/trash/restore", data={"rowid": f"lead:{lead.id}"}).status_code == 400
    assert (
        admin.client.post("/admin/trash/purge/confirm", data={"rowid": f"lead:{lead.id}", "confirm": "yes"}).status_code
        == 400
    )
    assert fresh(session, Lead, lead.id).deleted_at is not None


# --- a lead in the trash is left out everywhere ---------------------------------------------------


def test_a_lead_in_the_trash_is_neither_worked_nor_converted_nor_found(login, session, employees, worked):
    lead, other, call_list, entry = worked["lead"], worked["other"], worked["call_list"], worked["entry"]
    seller = employees["seller"]
    twin = Lead(company_name="Ystads Rökeri Kopia", org_number="5560360793", contact_email="sven@rokeri.se")
    session.add(twin)
    session.commit()
    assert [d.record.id for d in leads.duplicates(session, twin) if d.kind == "lead"] == [lead.id]
    with acting_as(session, seller.id):
        task = activities.create(session, seller, kind="task", subject="Skicka offert", lead_id=lead.id)
    session.commit()
    trash.delete(session, seller, Lead, [lead.id])
    session.commit()
    client = login("seller")
    # duplicates, the register look-up and the merge leave it out
    assert [d.record.id for d in leads.duplicates(session, twin) if d.kind == "lead"] == []
    assert register.existing_with_org_numbers(session, ["5560360793"])["5560360793"] == [
        register.Existing("lead", twin.id, "Ystads Rökeri Kopia")
    ]
    assert not merge.is_live(fresh(session, Lead, lead.id))
    assert session.scalar(select(Lead.id).where(duplicates.live_condition("lead"), Lead.id == lead.id)) is None
    assert session.scalar(select(Lead.id).where(mass_update._live(Lead), Lead.id == lead.id)) is None
    # the quick search of the list
    assert "Ystads Rökeri AB" not in text(client.client.get("/admin/lead/?search=Ystads"))
    # no conversion, from its page or the list action
    assert client.post(f"/admin/lead/convert/{lead.id}").status_code == 404
    client.post("/admin/lead/action/", {"action": "convert", "rowid": str(lead.id)})
    assert count(session, Company) == 0
    with pytest.raises(InvalidValue, match="papperskorgen|trash"):
        leads.check_convertible(session, fresh(session, Lead, lead.id))
    # nothing is added to it: no activity, no call on its entry, and the list's next call is the other lead
    with pytest.raises(InvalidValue):
        activities.create(session, seller, kind="note", subject="Nej", lead_id=lead.id)
    session.rollback()
    with pytest.raises(InvalidValue):
        calllists.record_outcome(session, seller, fresh(session, CallListEntry, entry.id), "interested")
    session.rollback()
    assert calllists.next_entry(session, fresh(session, CallList, call_list.id)).lead_id == other.id
    assert calllists.progress_of(session, [call_list.id]) == {call_list.id: (0, 1)}
    # its open task is not in Mina aktiviteter, nor in the activities of the API or the reports' rule
    assert task.id not in [a.id for a in activities.mine(session, seller)]
    start = text(client.client.get("/admin/"))
    assert "Skicka offert" not in start


def test_a_trashed_lead_cannot_be_put_on_a_call_list_or_deleted_twice(login, session, employees, worked):
    lead = worked["lead"]
    client = login("seller")
    _delete_from_the_list(client, lead)
    deleted_at = fresh(session, Lead, lead.id).deleted_at
    again = _delete_from_the_list(client, lead)
    assert (
        "success",
        svn("%(num)s record was moved to the trash.", "%(num)s records were moved to the trash.", 0),
    ) in flashes(again)
    assert fresh(session, Lead, lead.id).deleted_at == deleted_at
    response = client.post(
        "/admin/calllist/add", {"source": "lead", "rowid": [str(lead.id)], "call_list": "new", "name": "Ny lista"}
    )
    made = session.scalar(select(CallList).where(CallList.name == "Ny lista"))
    assert made is None or [e.lead_id for e in made.entries] == [], response.status_code


def test_only_those_who_may_delete_leads_move_them_to_the_trash(login, session, worked):
    lead = worked["lead"]
    response = login("readonly").post("/admin/lead/action/", {"action": "delete", "rowid": str(lead.id)})
    assert response.status_code in (302, 403)
    assert fresh(session, Lead, lead.id).deleted_at is None


# --- the lead's page: its activities ---------------------------------------------------------------


def test_the_lead_page_lists_its_calls_newest_first_and_takes_a_new_activity(login, session, worked):
    lead, call_list = worked["lead"], worked["call_list"]
    seller = login("seller")
    # a second call from the Ringlista: Intresserad, with a note
    entry = CallListEntry(call_list_id=call_list.id, position=3, lead_id=lead.id)
    session.add(entry)
    session.commit()
    seller.post(f"/admin/calllist/work/{call_list.id}/{entry.id}", {"outcome": "interested", "note": "Vill ha offert"})
    page = text(seller.client.get(f"/admin/lead/show/{lead.id}"))
    interested = sv("Call: %(outcome)s", outcome=sv("Interested"))
    no_answer = sv("Call: %(outcome)s", outcome=sv("No answer"))
    assert interested in page and "Vill ha offert" in page and no_answer in page
    assert page.index(interested) < page.index(no_answer)  # newest first
    response = seller.post(
        f"/admin/lead/show/{lead.id}/activities",
        {"kind": "meeting", "subject": "Besök i Ystad", "due_at": "2026-12-10T10:00", "description": "Ta med prover"},
        follow_redirects=True,
    )
    assert ("success", sv("The activity was saved.")) in flashes(response)
    saved = session.scalar(select(Activity).where(Activity.subject == "Besök i Ystad"))
    assert (saved.lead_id, saved.kind, saved.created_by.email) == (lead.id, "meeting", "seller@example.se")
    assert "Besök i Ystad" in text(response)
    # a subject is required: nothing saved, the message shown
    refused = seller.post(f"/admin/lead/show/{lead.id}/activities", {"kind": "note", "subject": ""})
    assert ("danger", sv("The activity was not saved: correct the marked fields.")) in flashes(refused)
    assert count(session, Activity, Activity.kind == "note") == 0
    # done, from the lead's page
    seller.post(f"/admin/lead/show/{lead.id}/activities/{saved.id}/done", {"done": "1"})
    assert fresh(session, Activity, saved.id).done is True


def test_adding_an_activity_on_a_lead_needs_the_permission_and_the_token(login, session, worked):
    lead = worked["lead"]
    readonly = login("readonly")
    page = text(readonly.client.get(f"/admin/lead/show/{lead.id}"))
    assert sv("Call: %(outcome)s", outcome=sv("No answer")) in page  # readonly sees the activities
    assert 'id="activity-form"' not in readonly.client.get(f"/admin/lead/show/{lead.id}").get_data(as_text=True)
    assert (
        readonly.post(f"/admin/lead/show/{lead.id}/activities", {"kind": "note", "subject": "Nej"}).status_code == 403
    )
    seller = login("seller")
    assert (
        seller.client.post(
            f"/admin/lead/show/{lead.id}/activities", data={"kind": "note", "subject": "Nej"}
        ).status_code
        == 400
    )
    assert count(session, Activity, Activity.subject == "Nej") == 0
    assert 'id="activity-form"' in seller.client.get(f"/admin/lead/show/{lead.id}").get_data(as_text=True)


def test_an_activity_on_a_converted_lead_is_on_the_customer_card_too(login, session, worked):
    lead = worked["lead"]
    admin = login("admin")
    admin.post(f"/admin/lead/convert/{lead.id}")
    company = fresh(session, Lead, lead.id).company
    admin.post(f"/admin/lead/show/{lead.id}/activities", {"kind": "note", "subject": "Efter konverteringen"})
    note = session.scalar(select(Activity).where(Activity.subject == "Efter konverteringen"))
    assert (note.lead_id, note.company_id) == (lead.id, company.id)
    card = text(admin.client.get(f"/admin/company/card/{company.id}/tab/activities"))
    assert "Efter konverteringen" in card and "Ring efter lunch" in card


# --- the converted customer's Historik begins with the lead's --------------------------------------


def test_the_converted_customers_history_includes_the_leads_history(login, session, employees, worked):
    lead = worked["lead"]
    with acting_as(session, employees["seller"].id):
        fresh(session, Lead, lead.id).status = "qualified"
        session.commit()
    admin = login("admin")
    admin.post(f"/admin/lead/convert/{lead.id}")
    company = fresh(session, Lead, lead.id).company
    history = text(admin.client.get(f"/admin/company/card/{company.id}/tab/history"))
    assert sv("as a lead") in history and "Test Seller" in history  # who created the lead and worked it
    assert f"{sv('Contacted')} → {sv('Qualified')}" in history  # the lead's status change
    assert f"/admin/lead/show/{lead.id}" in admin.client.get(f"/admin/company/card/{company.id}/tab/history").get_data(
        as_text=True
    )
