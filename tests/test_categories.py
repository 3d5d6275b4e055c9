"""services.categories: a category or an industry in use is not deleted; the refusal counts its uses."""

import pytest

from extensions import db
from models import Category, Industry, Lead
from services import categories, trash
from services.validation import InvalidValue


def test_a_category_counts_companies_contacts_and_leads_and_the_trash(make_company, make_contact, employees):
    used = Category(name="Mässa", applies_to="both")
    spare = Category(name="Oanvänd", applies_to="both")
    db.session.add_all([used, spare])
    db.session.commit()
    gone = make_company(categories=[used])
    make_contact(categories=[used])
    db.session.add(Lead(company_name="Lead AB", categories=[used]))
    trash.delete(db.session, employees["admin"], type(gone), [gone.id])  # comes back with its categories
    db.session.commit()
    assert categories.category_uses(db.session, used) == 3
    with pytest.raises(InvalidValue, match="Mässa"):
        categories.delete_category(db.session, used)
    categories.delete_category(db.session, spare)
    db.session.commit()
    assert db.session.get(Category, used.id) is not None and db.session.get(Category, spare.id) is None


def test_an_industry_in_use_is_kept(make_company):
    used, spare = Industry(name="Bygg"), Industry(name="Skog")
    db.session.add_all([used, spare])
    db.session.commit()
    make_company(industry_id=used.id)
    with pytest.raises(InvalidValue, match="Bygg"):
        categories.delete_industry(db.session, used)
    categories.delete_industry(db.session, spare)
    db.session.commit()
    assert db.session.get(Industry, used.id) is not None and db.session.get(Industry, spare.id) is None
