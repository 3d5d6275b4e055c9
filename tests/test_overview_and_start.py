"""The card's Översikt lists overdue activities apart ("Försenade") before those coming up, and
the start page's Mina aktiviteter names the lead an activity is about."""

import re
from datetime import timedelta

from extensions import db
from models import Activity, Lead, utcnow
from tests.helpers import sv, text


def section(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</ul>', page, re.S)
    return match.group(1) if match else ""


def test_overview_shows_overdue_apart_then_coming_up(login, make_company, employees):
    company = make_company(name="Översiktsbolaget AB")
    now = utcnow()
    db.session.add_all(
        [
            Activity(kind="task", subject="Ring tillbaka", company_id=company.id, due_at=now - timedelta(days=3)),
            Activity(kind="meeting", subject="Offertmöte", company_id=company.id, due_at=now + timedelta(days=2)),
            Activity(kind="task", subject="Klar sedan länge", company_id=company.id, due_at=now - timedelta(days=9)),
        ]
    )
    db.session.flush()
    db.session.scalar(db.select(Activity).where(Activity.subject == "Klar sedan länge")).done = True
    db.session.commit()
    page = text(login("seller").client.get(f"/admin/company/card/{company.id}/tab/overview"))
    overdue, coming = section(page, "overdue-activities"), section(page, "upcoming-activities")
    assert "Ring tillbaka" in overdue and "Offertmöte" not in overdue
    assert "Offertmöte" in coming and "Ring tillbaka" not in coming
    assert "Klar sedan länge" not in page
    assert page.index(sv("Overdue")) < page.index(sv("Coming up"))


def test_overview_without_overdue_has_no_overdue_list(login, make_company):
    company = make_company(name="Ingen brådska AB")
    db.session.add(Activity(kind="task", subject="Senare", company_id=company.id, due_at=utcnow() + timedelta(days=1)))
    db.session.commit()
    page = text(login("seller").client.get(f"/admin/company/card/{company.id}/tab/overview"))
    assert 'id="overdue-activities"' not in page and "Senare" in section(page, "upcoming-activities")


def test_start_page_names_the_lead_of_an_activity(login, employees):
    lead = Lead(company_name="Leadbolaget AB")
    db.session.add(lead)
    db.session.flush()
    db.session.add(
        Activity(kind="call", subject="Första samtalet", lead_id=lead.id, assignee_id=employees["seller"].id)
    )
    db.session.commit()
    page = text(login("seller").client.get("/admin/"))
    row = next(r for r in page.split("<tr") if "Första samtalet" in r)
    assert "Leadbolaget AB" in row and f"/admin/lead/show/{lead.id}" in row
