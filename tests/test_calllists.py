"""Ringlistor (issue 5, slice 3): filling a list, working it call by call with
outcomes kept as call activities, progress, and permissions."""

from datetime import datetime

import pytest

from extensions import db
from models import Activity, CallList, CallListEntry, Lead
from services import calllists
from services.validation import InvalidValue
from tests.helpers import count, flashes, fresh, sv, text


@pytest.fixture
def call_list(employees, make_company):
    lead = Lead(
        company_name="Ringbolaget AB",
        contact_first_name="Eva",
        contact_last_name="Ek",
        contact_phone="+46701112233",
        status="new",
    )
    db.session.add(lead)
    company = make_company(name="Kundbolaget AB", phone="+4681234567")
    row = calllists.new_list(db.session, employees["seller"], [lead, company, lead], name="Mässlistan")
    db.session.commit()
    return row


def test_entries_are_added_once_in_order(call_list):
    assert [(e.position, e.target.__class__.__name__) for e in call_list.entries] == [(1, "Lead"), (2, "Company")]
    assert calllists.progress(db.session, call_list) == (0, 2)
    assert calllists.phones(call_list.entries[0]) == ["+46701112233"]


def test_an_outcome_is_kept_as_a_call_activity_and_the_lead_is_contacted(call_list, employees):
    entry = calllists.next_entry(db.session, call_list)
    calllists.record_outcome(
        db.session,
        employees["seller"],
        entry,
        "call_back",
        note="Ring efter lunch",
        callback_at=datetime(2027, 1, 10, 13, 0),
    )
    db.session.commit()
    lead = fresh(db.session, Lead, entry.lead_id)
    assert lead.status == "contacted"
    kinds = sorted((a.kind, a.done) for a in db.session.scalars(db.select(Activity).where(Activity.lead_id == lead.id)))
    assert kinds == [("call", True), ("task", False)]
    assert calllists.progress(db.session, call_list) == (1, 2)
    assert calllists.next_entry(db.session, call_list).company_id is not None


def test_call_back_needs_a_time_and_outcomes_are_known(call_list, employees):
    entry = call_list.entries[0]
    with pytest.raises(InvalidValue):
        calllists.record_outcome(db.session, employees["seller"], entry, "call_back")
    with pytest.raises(InvalidValue):
        calllists.record_outcome(db.session, employees["seller"], entry, "maybe")


def test_working_a_list_in_the_browser_flow(login, call_list):
    seller = login("seller")
    page = text(seller.client.get(f"/admin/calllist/work/{call_list.id}"))
    assert "Ringbolaget AB" in page and 'href="tel:+46701112233"' in page
    assert sv("Called: %(called)s of %(total)s. Remaining: %(left)s.", called=0, total=2, left=2) in page
    entry = call_list.entries[0]
    response = seller.post(f"/admin/calllist/work/{call_list.id}/{entry.id}", {"outcome": "no_answer", "note": ""})
    assert response.status_code == 302
    page = text(seller.client.get(f"/admin/calllist/work/{call_list.id}"))
    assert sv("Called: %(called)s of %(total)s. Remaining: %(left)s.", called=1, total=2, left=1) in page
    company_entry = call_list.entries[1]
    response = seller.post(f"/admin/calllist/work/{call_list.id}/{company_entry.id}", {"outcome": "interested"})
    assert "/admin/opportunity/new/?" in response.headers["Location"]  # intresserad → a new opportunity
    assert "company_id=" in response.headers["Location"]


def test_call_back_without_time_is_refused_in_swedish(login, call_list):
    entry = call_list.entries[0]
    response = login("seller").post(f"/admin/calllist/work/{call_list.id}/{entry.id}", {"outcome": "call_back"})
    assert ("danger", sv("Give the date and time to call back.")) in flashes(response)
    assert fresh(db.session, CallListEntry, entry.id).called_at is None


def test_add_to_call_list_from_the_leads_list_asks_which_list(login, call_list):
    rows = [Lead(company_name=f"Lead {n} AB") for n in range(3)]
    db.session.add_all(rows)
    db.session.commit()
    seller = login("seller")
    chooser = seller.post("/admin/lead/action/", {"action": "add_to_call_list", "rowid": [str(r.id) for r in rows[:2]]})
    page = text(chooser)
    assert chooser.status_code == 200 and "Mässlistan" in page
    assert "2 markerade poster från Leads." in page

    response = seller.post(
        "/admin/calllist/add",
        {"source": "lead", "rowid": [str(r.id) for r in rows[:2]], "call_list": "new", "name": "Vårkampanj"},
    )
    created = db.session.scalar(db.select(CallList).where(CallList.name == "Vårkampanj"))
    assert response.headers["Location"].endswith(f"/admin/calllist/work/{created.id}")
    assert [e.lead_id for e in created.entries] == [r.id for r in rows[:2]]
    assert created.owner.email == "seller@example.se"


def test_adding_to_an_existing_list_appends_and_skips_those_already_on_it(login, call_list):
    on_list = call_list.entries[0].lead_id
    extra = Lead(company_name="Ny AB")
    db.session.add(extra)
    db.session.commit()
    seller = login("seller")
    response = seller.post(
        "/admin/calllist/add",
        {"source": "lead", "rowid": [str(on_list), str(extra.id)], "call_list": str(call_list.id)},
    )
    assert response.headers["Location"].endswith(f"/admin/calllist/work/{call_list.id}")
    shown = flashes(seller.client.get(response.headers["Location"]))
    assert ("success", "1 post lades på ringlistan Mässlistan.") in shown
    assert ("info", "1 fanns redan på listan.") in shown
    entries = db.session.scalars(
        db.select(CallListEntry).where(CallListEntry.call_list_id == call_list.id).order_by(CallListEntry.position)
    ).all()
    assert [(e.position, e.lead_id) for e in entries][-1] == (3, extra.id)
    assert len(entries) == 3


def test_no_list_chosen_or_a_too_long_name_changes_nothing(login, call_list):
    lead = call_list.entries[0].lead_id
    seller = login("seller")
    response = seller.post("/admin/calllist/add", {"source": "lead", "rowid": str(lead), "call_list": ""})
    assert response.status_code == 400 and sv("Choose a call list or create a new one.") in text(response)
    response = seller.post(
        "/admin/calllist/add", {"source": "lead", "rowid": str(lead), "call_list": "new", "name": "x" * 201}
    )
    assert response.status_code == 400 and sv("The name may be at most %(max)s characters.", max=200) in text(response)
    assert count(db.session, CallList) == 1 and count(db.session, CallListEntry) == 2


def test_a_second_list_of_the_same_name_is_refused_for_the_same_owner(employees, call_list):
    """A new list named as one of the owner's lists was "Lägg till i ringlista" sent twice: refused.
    A colleague may have a list of that name, and the owner may name another list otherwise."""
    with pytest.raises(InvalidValue) as refused:
        calllists.new_list(db.session, employees["seller"], [], name=" Mässlistan ")
    assert str(refused.value) == sv(
        "You already have a call list named %(name)s: choose it to add to it, or give the new list another name.",
        name="Mässlistan",
    )
    db.session.rollback()
    calllists.new_list(db.session, employees["admin"], [], name="Mässlistan")
    calllists.new_list(db.session, employees["seller"], [], name="Mässlistan 2")
    db.session.commit()
    assert count(db.session, CallList) == 3


def test_two_unnamed_lists_within_a_minute_are_both_made(app, employees, monkeypatch):
    """The chooser's default name is to the second: two lists made a few seconds apart without a name of their
    own are two lists, where the minute's name refused the second as the first sent twice."""
    from datetime import datetime

    with app.test_request_context():
        names = []
        for second in (5, 35):
            monkeypatch.setattr(calllists, "utcnow", lambda s=second: datetime(2026, 12, 6, 13, 15, s))
            names.append(calllists.new_list(db.session, employees["seller"], []).name)
        db.session.commit()
    assert names == ["Ringlista 2026-12-06 14:15:05", "Ringlista 2026-12-06 14:15:35"]


def test_add_to_call_list_sent_twice_makes_one_list(app, login, make_company):
    """The form sent twice at once (a double click) and then once more: one list "Lund-lista" with its
    entries, where each sending made a list of the same rows; the others are told in Swedish."""
    import threading

    rows = [make_company(name=f"Lundbolag {n} AB", phone="+4646123456") for n in range(30)]
    form = {"source": "company", "rowid": [str(r.id) for r in rows], "call_list": "new", "name": "Lund-lista"}
    sellers = [login("seller") for _ in range(3)]
    barrier, answers = threading.Barrier(2), [None, None]

    def send(index: int) -> None:
        barrier.wait(timeout=60)
        response = sellers[index].post("/admin/calllist/add", form)
        answers[index] = (response.status_code, text(response))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    again = sellers[2].post("/admin/calllist/add", form)
    statuses = sorted([status for status, _page in answers] + [again.status_code])
    assert statuses == [302, 400, 400], answers
    message = sv(
        "You already have a call list named %(name)s: choose it to add to it, or give the new list another name.",
        name="Lund-lista",
    )
    assert message in text(again)
    db.session.remove()
    lists = db.session.scalars(db.select(CallList).where(CallList.name == "Lund-lista")).all()
    assert len(lists) == 1 and count(db.session, CallListEntry) == 30


def test_readonly_sees_lists_but_cannot_record_calls(login, call_list):
    readonly = login("readonly")
    assert readonly.client.get(f"/admin/calllist/work/{call_list.id}").status_code == 200
    entry = call_list.entries[0]
    assert readonly.post(f"/admin/calllist/work/{call_list.id}/{entry.id}", {"outcome": "no_answer"}).status_code == 403
    assert (
        readonly.post("/admin/lead/action/", {"action": "add_to_call_list", "rowid": str(entry.lead_id)}).status_code
        != 200
    )
    assert (
        readonly.post(
            "/admin/calllist/add", {"source": "lead", "rowid": str(entry.lead_id), "call_list": "new"}
        ).status_code
        == 403
    )
    assert count(db.session, CallList) == 1


def test_demo_has_a_half_worked_call_list(demo):
    call_list = demo.scalars(db.select(CallList)).one()
    called, total = calllists.progress(demo, call_list)
    assert 0 < called < total


def test_add_to_call_list_from_the_contacts_list(login, make_contact):
    people = [make_contact(mobile="+46701234500"), make_contact()]
    response = login("seller").post(
        "/admin/calllist/add", {"source": "contact", "rowid": [str(p.id) for p in people], "call_list": "new"}
    )
    call_list = db.session.scalar(db.select(CallList))
    assert response.headers["Location"].endswith(f"/admin/calllist/work/{call_list.id}")
    assert call_list.name.startswith(sv("Call list %(date)s", date="")[:-1].strip())
    entries = db.session.scalars(db.select(CallListEntry).order_by(CallListEntry.position)).all()
    assert [e.contact_id for e in entries] == [p.id for p in people]
    assert calllists.phones(entries[0]) == ["+46701234500"]


def test_a_company_or_contact_in_the_trash_is_marked_and_not_called_from_the_list(
    login, employees, make_company, make_contact
):
    """A company or contact deleted since it was put on the call list is marked "I papperskorgen" as a lead
    in the trash is: not offered as the next call (no number to dial), not counted, and a call posted on its
    entry anyway is refused in Swedish; restored, it is called again."""
    company = make_company(name="Raderat Bolag AB", phone="+4681112233")
    person = make_contact(first_name="Rut", last_name="Raderad", mobile="+46701112299")
    live = make_company(name="Levande Bolag AB", phone="+4684445566")
    call_list = calllists.new_list(db.session, employees["seller"], [company, person, live], name="Blandlistan")
    db.session.commit()
    company_entry, person_entry, _live_entry = call_list.entries
    seller = login("seller")
    assert seller.post("/admin/company/action/", {"action": "delete", "rowid": str(company.id)}).status_code == 302
    assert seller.post("/admin/contact/action/", {"action": "delete", "rowid": str(person.id)}).status_code == 302
    page = seller.client.get(f"/admin/calllist/work/{call_list.id}").get_data(as_text=True)
    rows = {
        name: row
        for row in page.split("<tr")
        for name in ("Raderat Bolag AB", "Rut Raderad", "Levande Bolag AB")
        if name in row and "<td>" in row
    }
    assert all(sv("In the trash") in rows[name] for name in ("Raderat Bolag AB", "Rut Raderad"))
    assert sv("In the trash") not in rows["Levande Bolag AB"]
    next_call = page.split('id="next-entry"', 1)[1].split("</section>", 1)[0]
    assert "Levande Bolag AB" in next_call and 'href="tel:+4684445566"' in next_call
    assert "tel:+4681112233" not in page and "tel:+46701112299" not in page
    assert sv("Called: %(called)s of %(total)s. Remaining: %(left)s.", called=0, total=1, left=1) in text(
        seller.client.get(f"/admin/calllist/work/{call_list.id}")
    )
    for entry, name in ((company_entry, "Raderat Bolag AB"), (person_entry, "Rut Raderad")):
        refused = seller.post(f"/admin/calllist/work/{call_list.id}/{entry.id}", {"outcome": "interested"})
        assert refused.status_code == 200
        assert (
            "danger",
            sv("%(name)s is in the trash: restore the customer before adding to it.", name=name),
        ) in flashes(refused)
        assert fresh(db.session, CallListEntry, entry.id).called_at is None
    assert count(db.session, Activity) == 0
    # restored, the company is the next call again
    admin = login("admin")
    assert admin.post("/admin/trash/restore", {"rowid": f"company:{company.id}"}).status_code == 302
    page = text(seller.client.get(f"/admin/calllist/work/{call_list.id}"))
    assert sv("Next call") + ": Raderat Bolag AB" in page
    assert sv("Called: %(called)s of %(total)s. Remaining: %(left)s.", called=0, total=2, left=2) in page
