"""Quick search, implemented once for every list, look-up and people search.

`matches(model, text)` returns a SQL condition: every word of `text` must
match one of the model's search fields (name, customer number,
organisationsnummer, e-mail, phone, city). Words that look like numbers are
also compared the way those numbers are stored (digits only, E.164).
"""

import re

from sqlalchemy import String, and_, cast, false, or_, select
from sqlalchemy.sql.elements import ColumnElement

from models import (
    Activity,
    Category,
    Company,
    Contact,
    Employee,
    EmployeeGroup,
    Industry,
    Invoice,
    Lead,
    Opportunity,
    Product,
    SalesOrder,
)

#: The text columns each searchable model is searched on.
SEARCH_FIELDS = {
    Company: ("name", "org_number", "email", "phone", "postal_city", "visit_city", "vat_number"),
    Contact: ("first_name", "last_name", "email", "phone", "mobile", "postal_city", "title"),
    Employee: ("name", "email", "phone", "title"),
    EmployeeGroup: ("name",),
    Category: ("name", "description"),
    Industry: ("name", "sni_code"),
    Lead: ("company_name", "org_number", "contact_first_name", "contact_last_name", "contact_email", "contact_phone"),
    Opportunity: ("title",),
    Activity: ("subject", "description"),
    Product: ("name", "number"),
    SalesOrder: ("note",),
    Invoice: ("ocr", "note"),
}

#: Relations whose rows are searched too (an opportunity is found by its customer).
SEARCH_RELATIONS = {
    Opportunity: ("company", "contact"),
    SalesOrder: ("company", "contact"),
    Invoice: ("company", "contact"),
}


def _like(column, word: str) -> ColumnElement[bool]:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def _word_condition(model, word: str) -> ColumnElement[bool]:
    conditions = [_like(getattr(model, field), word) for field in SEARCH_FIELDS[model]]
    for relation in SEARCH_RELATIONS.get(model, ()):
        attribute = getattr(model, relation)
        conditions.append(attribute.has(_word_condition(attribute.property.mapper.class_, word)))
    digits = re.sub(r"[\s\-+()]", "", word)
    if digits.isdigit():
        if hasattr(model, "customer_number"):
            conditions.append(cast(model.customer_number, String) == digits)
        if model in (SalesOrder, Invoice):  # order and invoice numbers
            conditions.append(cast(model.number, String) == digits)
        if hasattr(model, "org_number"):
            conditions.append(_like(model.org_number, digits))
        national = digits[1:] if digits.startswith("0") else digits
        for field in ("phone", "mobile"):
            if hasattr(model, field) and len(national) >= 3:
                conditions.append(_like(getattr(model, field), national))
    return or_(*conditions)


#: Words of a search that are used; the rest are ignored. Each word adds a condition per search field,
#: and about 2,000 words made SQLite refuse the query ("Expression tree is too large": a 500).
MAX_WORDS = 10
#: Characters of a word that are used (no name, number or address is longer).
MAX_WORD_LENGTH = 100


def words(text: str | None) -> list[str]:
    """Split a search text into words; a quoted phrase stays one word. Only the first MAX_WORDS
    words are kept, each cut to MAX_WORD_LENGTH characters."""
    if not text:
        return []
    found = re.finditer(r'"([^"]+)"|(\S+)', text.replace("\x00", " ").strip())  # PostgreSQL refuses NUL
    return [(m.group(1) or m.group(2))[:MAX_WORD_LENGTH] for _n, m in zip(range(MAX_WORDS), found, strict=False)]


def matches(model, text: str | None) -> ColumnElement[bool]:
    """Condition for rows of `model` matching every word of `text`."""
    terms = words(text)
    if not terms:
        return and_(True)
    if model not in SEARCH_FIELDS:
        return false()
    return and_(*(_word_condition(model, word) for word in terms))


def live(model):
    """Rows not in the trash (models without soft delete: all rows)."""
    if hasattr(model, "deleted_at"):
        return model.deleted_at.is_(None)
    return and_(True)


def customer_live(model):
    """Rows of a model with a customer (company_id/contact_id: opportunities, activities…) whose
    customer is not in the trash; rows with no customer at all count as live."""
    return or_(
        model.company.has(live(Company)),
        model.contact.has(live(Contact)),
        model.company_id.is_(None) & model.contact_id.is_(None),
    )


def search(session, model, text: str | None, *, limit: int = 20, extra=None):
    """Live rows of `model` matching `text`, in name order."""
    stmt = select(model).where(live(model), matches(model, text))
    if extra is not None:
        stmt = stmt.where(extra)
    order = (Contact.last_name, Contact.first_name) if model is Contact else (getattr(model, SEARCH_FIELDS[model][0]),)
    return list(session.scalars(stmt.order_by(*order).limit(limit)))


def people(session, text: str | None, *, limit: int = 30) -> list[dict]:
    """Contacts and employees together, each tagged with its kind."""
    result = [
        {"kind": "contact", "obj": c, "name": c.name, "email": c.email, "phone": c.phone or c.mobile}
        for c in search(session, Contact, text, limit=limit)
    ]
    result += [
        {"kind": "employee", "obj": e, "name": e.name, "email": e.email, "phone": e.phone}
        for e in search(session, Employee, text, limit=limit)
    ]
    return sorted(result, key=lambda row: row["name"].lower())[:limit]
