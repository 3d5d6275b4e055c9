"""Demo duplicates: a few companies, contacts and a lead entered twice, as years of imports and hurried sellers
leave them, so CRM – Dubbletter shows its list working from the start."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Activity, Company, CompanyContact, Contact, DuplicatePair, Employee, Lead, utcnow
from services import duplicate_tasks, duplicates
from services.duplicates import KINDS


def _ascii(text: str) -> str:
    return text.translate(str.maketrans("åäöÅÄÖé", "aaoAAOe"))


#: Companies the demo enters a second time.
DUPLICATE_COMPANIES = 3


def _seed_duplicate_lead(session: Session) -> None:
    """A lead entered again from a fair's visitor list: the same contact person's e-mail, the name spelt out."""
    lead = session.scalars(
        select(Lead).where(duplicates.live_condition("lead"), Lead.contact_email.is_not(None)).order_by(Lead.id)
    ).first()
    if lead is None:
        return
    twin = Lead(
        company_name=lead.company_name.removesuffix(" AB") + " Aktiebolag",
        contact_first_name=lead.contact_first_name,
        contact_last_name=lead.contact_last_name,
        contact_email=lead.contact_email,
        source="Mässa",
        status="new",
        owner_id=lead.owner_id,
        note="Lämnade visitkort i montern.",
    )
    session.add(twin)
    session.flush()
    session.add(Activity(subject="Skicka broschyr (registrerad på dubbletten)", kind="task", lead_id=twin.id))


def seed_duplicates(session: Session, companies: list[Company], admin: Employee) -> None:
    """Three companies entered again (two with their contact person typed again too), then every register
    scanned, so the list is there before the first night's scan."""
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
            name=third.name.removesuffix(" AB") + " i " + (third.postal_city or "Sverige"),
            org_number=third.org_number,
            owner=third.owner,
        ),
    ]
    assert len(again) == DUPLICATE_COMPANIES
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
    for original, duplicate in zip((first, second, third), again, strict=True):
        link = original.contact_links[0]
        contact = link.contact
        if duplicate is again[2]:  # the same person, linked to both
            session.add(CompanyContact(company=duplicate, contact=contact, role=link.role))
            continue
        twin = Contact(
            first_name=_ascii(contact.first_name),
            last_name=_ascii(contact.last_name),
            mobile=contact.mobile,
            owner=duplicate.owner,
        )
        session.add(twin)
        session.add(CompanyContact(company=duplicate, contact=twin, role=link.role))
    session.flush()
    _seed_duplicate_lead(session)
    now = utcnow()
    for kind in KINDS:
        duplicates.scan(session, kind)
        row = duplicate_tasks.state(session, kind)
        records = session.scalar(select(func.count()).select_from(KINDS[kind]).where(duplicates.live_condition(kind)))
        pairs = session.scalar(select(func.count()).select_from(DuplicatePair).where(DuplicatePair.entity_type == kind))
        row.status, row.records, row.pairs = "done", records, pairs
        row.started_at = row.finished_at = row.checked_until = now
