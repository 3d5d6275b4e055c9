"""Leads: duplicates and "Konvertera till kund".

A lead is a potential customer. Converting it creates the company (its
customer number comes from services.numbering) and, when the lead names a
contact person, the contact linked to it; categories, the note and the
lead's activities are carried over, and the lead is linked to the new
customer and marked converted. The customer gets the lead's owner, unless
that employee is inactive (services.employees: a new record gets no
inactive owner): then the employee who converts it; the lead keeps its
owner. Everything is checked before anything is written, and the caller
commits once: the conversion is one transaction, and a lead is never
converted twice.
"""

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from models import Activity, Company, CompanyContact, Contact, EmailMessage, Employee, Lead, utcnow
from services import consent, employees, privacy, register
from services.duplicates import same_email
from services.paging import CustomerOrder, SortKey
from services.validation import InvalidValue

#: The status of a lead merged into another (services.merge.LEAD_MERGED).
MERGED = "merged"


#: A lead's activities on its page: newest first, from the index on activity.lead_id.
ACTIVITIES_ORDER = CustomerOrder(SortKey(Activity.id, descending=True))


def activities(lead: Lead):
    """The lead's tasks, meetings, calls and notes (a converted lead's too: they are on the customer card as
    well), newest first, with who is responsible."""
    return (
        select(Activity)
        .where(Activity.lead_id == lead.id)
        .options(joinedload(Activity.assignee))
        .order_by(*ACTIVITIES_ORDER.clauses())
    )


@dataclass(frozen=True)
class Duplicate:
    """A lead, company or contact that has the same organisationsnummer or e-mail."""

    kind: str  # "lead", "company" or "contact"
    record: object
    field: str  # "org_number" or "email"

    @property
    def message(self) -> str:
        """What it is, in a sentence of the request's language ("Alfa AB (kundnr 10001) har redan det här
        organisationsnumret.")."""
        record: Any = self.record
        if self.kind == "company":
            values = {"name": record.name, "number": record.customer_number}
            if self.field == "org_number":
                return _("%(name)s (customer no. %(number)s) already has this organisation number.", **values)
            return _("%(name)s (customer no. %(number)s) already has this e-mail address.", **values)
        if self.kind == "contact":
            return _("The contact %(name)s already has this e-mail address.", name=record.name)
        if self.field == "org_number":
            return _("The lead %(name)s already has this organisation number.", name=record.company_name)
        return _("The lead %(name)s already has this e-mail address.", name=record.company_name)


def duplicates(session: Session, lead: Lead) -> list[Duplicate]:
    """Other live leads and customers with the lead's organisationsnummer or e-mail (a lead merged into another
    is not one: it is that lead now; nor is one in the trash)."""
    found: list[Duplicate] = []
    org, email = lead.org_number, (lead.contact_email or "").strip().lower() or None
    if org:
        others = select(Lead).where(Lead.org_number == org, Lead.status != MERGED, Lead.deleted_at.is_(None))
        if lead.id is not None:
            others = others.where(Lead.id != lead.id)
        found += [Duplicate("lead", row, "org_number") for row in session.scalars(others.order_by(Lead.id))]
        found += [
            Duplicate("company", row, "org_number")
            for row in session.scalars(
                select(Company).where(Company.org_number == org, Company.deleted_at.is_(None)).order_by(Company.id)
            )
        ]
    if email:
        others = select(Lead).where(
            same_email(session, Lead.contact_email, email), Lead.status != MERGED, Lead.deleted_at.is_(None)
        )
        if lead.id is not None:
            others = others.where(Lead.id != lead.id)
        found += [
            Duplicate("lead", row, "email")
            for row in session.scalars(others.order_by(Lead.id))
            if all(d.record is not row for d in found)
        ]
        found += [
            Duplicate("company", row, "email")
            for row in session.scalars(
                select(Company)
                .where(same_email(session, Company.email, email), Company.deleted_at.is_(None))
                .order_by(Company.id)
            )
            if all(d.record is not row for d in found)
        ]
        found += [
            Duplicate("contact", row, "email")
            for row in session.scalars(
                select(Contact)
                .where(same_email(session, Contact.email, email), Contact.deleted_at.is_(None))
                .order_by(Contact.id)
            )
        ]
    return found


def _lock(session: Session, lead: Lead) -> Lead:
    """The lead re-read under a row lock (PostgreSQL), so two conversions cannot both pass the check."""
    return session.scalars(
        select(Lead).where(Lead.id == lead.id).with_for_update().execution_options(populate_existing=True)
    ).one()


def check_convertible(session: Session, lead: Lead) -> None:
    """Raise InvalidValue (for the user) when the lead cannot be converted (an erased person's lead is
    read-only: services.privacy)."""
    if lead.is_deleted:
        raise InvalidValue(
            _("%(name)s is in the trash: restore the lead before converting it.", name=lead.company_name)
        )
    if lead.is_converted:
        raise InvalidValue(_("%(name)s is already converted to a customer.", name=lead.company_name))
    if lead.status == "merged":
        raise InvalidValue(_("%(name)s was merged with another lead: convert that one.", name=lead.company_name))
    privacy.refuse_erased(session, "lead", [lead.id])
    existing = register.company_with_org_number(session, lead.org_number)
    if existing is not None:
        raise InvalidValue(
            _(
                "%(name)s (customer no. %(number)s) already has the organisation number of the lead %(lead)s.",
                name=existing.name,
                number=existing.customer_number,
                lead=lead.company_name,
            )
        )


def inactive_owner(lead: Lead) -> Employee | None:
    """The lead's owner when that employee is inactive (services.employees.is_choosable), or None: the customer
    made from the lead is not given to them, but to the employee who converts it (`convert`)."""
    owner = lead.owner
    return owner if owner is not None and not employees.is_choosable(owner) else None


def convert(session: Session, actor: Employee, lead: Lead) -> Company:
    """Konvertera till kund: the company (and contact) made from the lead; the caller commits. They belong to
    the lead's owner, or to `actor` when the lead has none or an inactive one (`inactive_owner`); the lead keeps
    its owner."""
    lead = _lock(session, lead)
    register.lock_org_number(session, lead.org_number)  # no other customer gets the number meanwhile
    check_convertible(session, lead)
    owner = lead.owner if employees.is_choosable(lead.owner) else actor
    company = Company(
        name=lead.company_name,
        org_number=lead.org_number,
        owner=owner,
        note=lead.note,
        categories=[c for c in lead.categories if c.applies_to != "contact"],
    )
    session.add(company)
    contact = None
    if lead.contact_first_name or lead.contact_last_name:
        contact = Contact(
            first_name=lead.contact_first_name or "",
            last_name=lead.contact_last_name or "",
            title=lead.contact_title,
            email=lead.contact_email,
            phone=lead.contact_phone,
            owner=owner,
            categories=[c for c in lead.categories if c.applies_to != "company"],
            **consent.carried_over(lead),
        )
        session.add(contact)
        session.add(CompanyContact(company=company, contact=contact, role=lead.contact_title))
    session.flush()  # the company gets its id and customer number
    session.execute(
        update(Activity)
        .where(Activity.lead_id == lead.id)
        .values(company_id=company.id, contact_id=contact.id if contact else Activity.contact_id)
        .execution_options(synchronize_session="fetch")
    )
    session.execute(  # e-mail written to the lead (a mass send) goes with it to the customer card
        update(EmailMessage)
        .where(EmailMessage.lead_id == lead.id)
        .values(company_id=company.id, contact_id=contact.id if contact else EmailMessage.contact_id)
        .execution_options(synchronize_session="fetch")
    )
    lead.company, lead.contact = company, contact
    lead.status, lead.converted_at = "converted", utcnow()
    return company


def convert_many(
    session: Session, actor: Employee, leads: list[Lead]
) -> tuple[list[Company], list[str], list[tuple[Lead, Employee]]]:
    """Convert each lead that can be; (the new companies, why the others could not be, each naming its lead
    by its company name, as the list shows it: an erased person's lead keeps no name of the person, and the
    converted leads whose customer went to `actor`, each with its inactive owner: `inactive_owner`)."""
    converted, refused, taken_over = [], [], []
    for lead in leads:
        try:
            check_convertible(session, lead)
        except privacy.ErasedRecord as exc:
            refused.append(_("%(name)s was not converted: %(reason)s", name=lead.company_name, reason=str(exc)))
            continue
        except InvalidValue as exc:
            refused.append(str(exc))
            continue
        converted.append(convert(session, actor, lead))
        left = inactive_owner(lead)
        if left is not None:
            taken_over.append((lead, left))
    return converted, refused, taken_over
