"""Where a company, a contact (private customers too) or a lead is opened: the one map for every link to a record
(the duplicate warnings, Dubbletter, the import's notices, the company register, Dataskydd, a lead's page)."""

from flask import url_for
from flask_babel import lazy_gettext as _l

from services import fields

#: The page of a record of each kind: a customer's card, a lead's page.
ENDPOINTS = {"company": "company_card.index", "contact": "contact_card.index", "lead": "lead.page"}
#: A record of each kind as a link's label names it ("Kund: Alfa Bygg AB").
TITLES = {"company": fields.label("customer"), "contact": fields.label("contact"), "lead": _l("Lead")}


def record_url(kind: str, record_id: int) -> str:
    """The card of a company or contact, the page of a lead."""
    return url_for(ENDPOINTS[kind], id=record_id)
