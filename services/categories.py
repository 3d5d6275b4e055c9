"""Kategorier and Branscher (Administration – Inställningar – CRM): a category or an industry in use
is not deleted.

Deleting a category used to drop it silently from every customer and lead that had it (the link
tables cascade), while an industry in use was refused by the database with no count. Both follow the
rule of the other settings lists (sales stages, custom fields): a row in use stays, and the refusal
says how many records use it, so the administrator removes or replaces it on them first (Ändra
flera) — a campaign category is not lost from hundreds of customers by one click.
"""

from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Category, Company, Industry, company_categories, contact_categories, lead_categories
from services.validation import InvalidValue

#: The link tables naming a category, with the records behind them (a customer in the trash counts:
#: it comes back with its categories).
_CATEGORY_LINKS = (company_categories, contact_categories, lead_categories)


def category_uses(session: Session, category: Category) -> int:
    """How many companies, contacts and leads have `category`."""
    return sum(
        session.scalar(select(func.count()).select_from(table).where(table.c.category_id == category.id)) or 0
        for table in _CATEGORY_LINKS
    )


def industry_uses(session: Session, industry: Industry) -> int:
    """How many companies have `industry`."""
    return session.scalar(select(func.count()).where(Company.industry_id == industry.id)) or 0


def delete_category(session: Session, category: Category) -> None:
    """Delete a category nobody has; one in use is refused with how many records have it."""
    used = category_uses(session, category)
    if used:
        raise InvalidValue(
            ngettext(
                "The category %(name)s is used by %(num)s customer or lead and cannot be deleted; "
                "remove it from them first.",
                "The category %(name)s is used by %(num)s customers and leads and cannot be deleted; "
                "remove it from them first.",
                used,
                name=category.name,
            )
        )
    session.delete(category)


def delete_industry(session: Session, industry: Industry) -> None:
    """Delete an industry no company has; one in use is refused with how many companies have it."""
    used = industry_uses(session, industry)
    if used:
        raise InvalidValue(
            ngettext(
                "The industry %(name)s is used by %(num)s company and cannot be deleted; change it on them first.",
                "The industry %(name)s is used by %(num)s companies and cannot be deleted; change it on them first.",
                used,
                name=industry.name,
            )
        )
    session.delete(industry)
