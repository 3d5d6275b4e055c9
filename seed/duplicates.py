"""Demo duplicates: a few companies and contacts entered twice, as years of imports and hurried sellers
leave them, so CRM – Dubbletter shows its list working from the start."""

from sqlalchemy.orm import Session

from models import Activity, Company, CompanyContact, Contact, Employee
from services import duplicate_tasks, duplicates
from services.duplicates import KINDS


def _ascii(text: str) -> str:
    return text.translate(str.maketrans("åäöÅÄÖé", "aaoAAOe"))


def seed_duplicates(session: Session, companies: list[Company], admin: Employee) -> None:
    """Three companies and two contacts entered again, then every register scanned."""
    live = [c for c in companies if not c.is_deleted and c.country == "SE" and c.org_number]
    first, second, third = live[1], live[4], live[7]
    again = [
        # spelt out in full, from an old import, with the same e-mail
        Company(
            name=first.name.removesuffix(" AB") + " Aktiebolag",
            email=first.email,
            postal_city=first.postal_city,
            owner=first.owner,
            note="Importerad från gamla kundregistret 2019.",
        ),
        # typed on a keyboard without å, ä and ö, in the same town
        Company(name=_ascii(second.name), postal_city=second.postal_city, phone=second.phone, owner=second.owner),
        # a lead converted twice: the same organisationsnummer
        Company(
            name=third.name.removesuffix(" AB") + " i " + (third.postal_city or "Sverige"), org_number=third.org_number
        ),
    ]
    session.add_all(again)
    session.flush()
    session.add(
        Activity(
            subject="Offertförfrågan (registrerad på dubbletten)",
            kind="call",
            company_id=again[1].id,
            assignee_id=second.owner_id,
        )
    )
    for company in (first, second):
        link = next((link for link in company.contact_links), None)
        if link is None:
            continue
        contact = link.contact
        twin = Contact(
            first_name=_ascii(contact.first_name), last_name=_ascii(contact.last_name), mobile=contact.mobile
        )
        session.add(twin)
        session.add(CompanyContact(company=company, contact=twin, role=link.role))
    session.flush()
    for kind in KINDS:
        duplicate_tasks.state(session, kind).status = "queued"
        session.flush()
        records, pairs = duplicates.scan(session, kind)
        row = duplicate_tasks.state(session, kind)
        row.status, row.records, row.pairs = "done", records, pairs
        from models import utcnow

        row.started_at = row.finished_at = row.checked_until = utcnow()
