"""Rules of the customer register: duplicates, contact links."""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import cast

from flask_babel import gettext as _
from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.orm import Session

from models import Company, CompanyContact, Contact, Employee, Lead
from services import audit, bulk


def employees_matching(
    session: Session, *, email: str | None, first_name: str | None, last_name: str | None, phones=()
) -> list[Employee]:
    """Employees a new contact would be a second entry of: the same e-mail, or the same name and
    phone number (employees are never entered twice, as contacts too). Phones in E.164."""
    conditions = []
    if email and email.strip():
        conditions.append(func.lower(Employee.email) == email.strip().lower())
    name = " ".join(f"{first_name or ''} {last_name or ''}".split()).lower()
    numbers = [p for p in phones if p]
    if name and numbers:
        conditions.append((func.lower(Employee.name) == name) & Employee.phone.in_(numbers))
    if not conditions:
        return []
    return list(session.scalars(select(Employee).where(or_(*conditions)).order_by(Employee.name)))


def _counted():
    """The companies the rule counts: not one merged into another (services.merge puts it in the trash with
    the status "sammanslagen"). Its organisationsnummer is the kept company's: it never "already has" it, and
    restoring it is not the advice (a restored one is live, and counted)."""
    return or_(Company.deleted_at.is_(None), Company.status != "merged")


def _companies_with(org_numbers: Collection[str], *, exclude_id: int | None = None) -> Select:
    """Companies, live or in the trash, with one of these organisationsnummer: the uniqueness rule
    counts both (a customer in the trash is restored, not entered again), but not a company merged
    into another (`_counted`). Live ones first."""
    stmt = select(Company).where(Company.org_number.in_(org_numbers), _counted())
    if exclude_id is not None:
        stmt = stmt.where(Company.id != exclude_id)
    return stmt.order_by(Company.deleted_at.is_not(None), Company.id)


def company_with_org_number(
    session: Session, org_number: str | None, *, exclude_id: int | None = None
) -> Company | None:
    """The company (live or in the trash, not merged away) that already has this organisationsnummer."""
    if not org_number:
        return None
    return session.scalars(_companies_with([org_number], exclude_id=exclude_id)).first()


#: PostgreSQL: the advisory lock space of organisationsnummer being given to a company ("ORGN").
ORG_NUMBER_LOCK_SPACE = 0x4F52474E


def lock_org_number(session: Session, org_number: str | None) -> None:
    """Until the transaction ends, hold the right to give a company this organisationsnummer: a
    concurrent transaction checking the same number waits, then finds this one's company. (Two
    requests at once — an integration retrying a slow call — both passed the check and made two
    customers.) PostgreSQL: an advisory lock on the number; SQLite: the database's write lock,
    which its writers take one at a time anyway."""
    if org_number:
        lock_org_numbers(session, [org_number])


def lock_org_numbers(session: Session, org_numbers: Collection[str]) -> None:
    """`lock_org_number` for several numbers in one statement (an import's batch), in a fixed order so
    that two transactions locking overlapping numbers cannot wait for each other."""
    numbers = sorted({n for n in org_numbers if n})
    if not numbers:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(n)) FROM unnest(CAST(:numbers AS text[])) AS n"),
            {"space": ORG_NUMBER_LOCK_SPACE, "numbers": numbers},
        )
    else:
        session.execute(text("UPDATE company SET id = id WHERE 0"))  # a write: takes the lock, changes nothing


def claim_org_number(session: Session, org_number: str | None, *, exclude_id: int | None = None) -> Company | None:
    """Before a company is saved with this organisationsnummer: the company that already has it
    (`company_with_org_number`), checked under `lock_org_number` so that no other transaction can
    give it to another company before this one commits."""
    lock_org_number(session, org_number)
    return company_with_org_number(session, org_number, exclude_id=exclude_id)


def org_number_taken(
    session: Session, org_number: str | None, *, company_id: int | None = None, current: str | None = None
) -> Company | None:
    """The one rule of organisationsnummer, for the form, the API and the import: a company being given
    `org_number` (created with it, or changed to it from `current`, the number company `company_id` has
    now) may not get one that another company already has (`claim_org_number`); the company that has it,
    or None. A company keeps the number it has: when `org_number` is `current` nothing is checked (the
    register may hold duplicates from before the rule, or brought back by an undone merge)."""
    if not org_number or org_number == current:
        return None
    return claim_org_number(session, org_number, exclude_id=company_id)


@dataclass(frozen=True)
class Holder:
    """The company that already has an organisationsnummer, as the message about it names it."""

    id: int
    name: str
    customer_number: int | None
    in_trash: bool


def org_number_holders(
    session: Session, org_numbers: Collection[str], *, lock: bool = False
) -> dict[str, list[Holder]]:
    """`org_number_taken` for a batch of numbers (an import): {number: the companies that have it, live
    first}, one statement however many numbers; `lock`: under `lock_org_numbers`, to write them."""
    numbers = {n for n in org_numbers if n}
    found: dict[str, list[Holder]] = {}
    if not numbers:
        return found
    if lock:
        lock_org_numbers(session, numbers)
    stmt = (
        select(Company.org_number, Company.id, Company.name, Company.customer_number, Company.deleted_at)
        .where(bulk.one_of(session, Company.org_number, numbers), _counted())
        .order_by(Company.deleted_at.is_not(None), Company.id)
    )
    for number, ident, name, customer_number, deleted_at in session.execute(stmt):
        found.setdefault(cast(str, number), []).append(Holder(ident, name, customer_number, deleted_at is not None))
    return found


def org_number_taken_message(holder: Company | Holder) -> str:
    """What the user is told when a company already has the organisationsnummer (the API's and the import's
    words; the form links the name)."""
    in_trash = holder.in_trash if isinstance(holder, Holder) else holder.is_deleted
    if in_trash:
        return _(
            "%(name)s (customer no. %(number)s) already has this organisation number "
            "and is in the trash: restore it under Administration – Restore customers.",
            name=holder.name,
            number=holder.customer_number,
        )
    return _(
        "%(name)s (customer no. %(number)s) already has this organisation number.",
        name=holder.name,
        number=holder.customer_number,
    )


@dataclass(frozen=True)
class Existing:
    """A customer or lead that already has an organisationsnummer."""

    kind: str  # "company" or "lead"
    id: int
    name: str
    in_trash: bool = False


def existing_with_org_numbers(
    session: Session, org_numbers: Iterable[str | None], *, exclude: tuple[str, int] | None = None
) -> dict[str, list[Existing]]:
    """Customers (live or in the trash, as `company_with_org_number` counts them) and live leads that
    already have each of these organisationsnummer: two statements however many numbers."""
    wanted = sorted({n for n in org_numbers if n})
    found: dict[str, list[Existing]] = {n: [] for n in wanted}
    if not wanted:
        return found
    for company in session.scalars(_companies_with(wanted)):
        found[company.org_number].append(Existing("company", company.id, company.name, company.is_deleted))
    leads = select(Lead).where(Lead.org_number.in_(wanted), Lead.deleted_at.is_(None))  # a lead in the trash is not
    for lead in session.scalars(leads.order_by(Lead.id)):
        found[cast(str, lead.org_number)].append(Existing("lead", lead.id, lead.company_name))  # one of `wanted`
    return {n: [e for e in found[n] if exclude is None or (e.kind, e.id) != exclude] for n in wanted}


def link_contacts(
    session: Session, company: Company, contacts: list[Contact], role: str | None = None
) -> list[Contact]:
    """Link contacts to a company ("Koppla existerande kontakt"); returns the newly linked. The link is in the
    history of both, so the contact's own history (its card, its register extract, its erasure) holds it."""
    linked_ids = {link.contact_id for link in company.contact_links}
    added = []
    for contact in contacts:
        if contact.id in linked_ids or contact.is_deleted:
            continue
        session.add(CompanyContact(company=company, contact=contact, role=role))
        audit.record(session, company, "link", {"contact": [None, contact.name], "role": role})
        audit.record(session, contact, "linked_to", {"company": [None, company.name], "role": role})
        linked_ids.add(contact.id)
        added.append(contact)
    return added


def unlink_contact(session: Session, company: Company, contact: Contact) -> bool:
    """Remove a contact's link to a company; the contact itself stays."""
    link = session.get(CompanyContact, (company.id, contact.id))
    if link is None:
        return False
    session.delete(link)
    audit.record(session, company, "unlink", {"contact": [contact.name, None]})
    audit.record(session, contact, "unlinked_from", {"company": [company.name, None]})
    return True
