"""Decimal numbers in forms the Swedish way: shown "1 250,50", typed with a comma or a dot and
spaces, refused in Swedish when not a number — in every Flask-Admin form with a Numeric column
(through the base view's model converter), the card's settings and inline list editing."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import Numeric
from werkzeug.datastructures import MultiDict
from wtforms import Form

from admin_views.base import SecureModelView, SwedishDecimalField, SwedishXEditableWidget
from extensions import db
from models import Company, Product
from tests.helpers import field_errors, fresh, sv

D = Decimal
NBSP = "\u00a0"
NOT_A_NUMBER = "Not a number; write for example 12,5."


class PriceForm(Form):
    price = SwedishDecimalField(places=2)
    share = SwedishDecimalField()


def posted(value, field="price"):
    form = PriceForm(MultiDict({field: value}))
    form.validate()
    return form


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1 250,50", D("1250.50")),
        (f"1{NBSP}250,5", D("1250.50")),
        ("1.250,50", D("1250.50")),
        ("1\u202f250,50", D("1250.50")),
        ("1250.50", D("1250.50")),
        (" 12,5 ", D("12.50")),
        ("-3,25", D("-3.25")),
        ("0", D("0.00")),
        ("10,005", D("10.01")),  # to the column's places, half up
    ],
)
def test_typed_numbers_are_read_the_swedish_way(app, typed, expected):
    form = posted(typed)
    assert form.price.errors == [] and form.price.data == expected


@pytest.mark.parametrize("typed", ["NaN", "nan", "Infinity", "-inf", "sNaN", "tio", "1,2,3", "1.2.3,4,5", "12 %"])
def test_not_a_number_is_refused_in_swedish_and_kept_as_typed(app, typed):
    with app.test_request_context():
        form = posted(typed)
        assert form.price.errors == [sv(NOT_A_NUMBER)] and form.price.data is None
        assert form.price._value() == typed  # what was typed stays in the field


def test_shown_with_a_decimal_comma(app):
    with app.test_request_context():
        assert PriceForm(data={"price": D("10")}).price._value() == "10,00"
        assert PriceForm(data={"price": D("1250.5")}).price._value() == f"1{NBSP}250,50"
        assert PriceForm(data={"share": D("12.50")}).share._value() == "12,5"
        assert PriceForm(data={"price": None}).price._value() == ""
        html = PriceForm(data={"price": D("10")}).price()
        assert 'type="text"' in html and 'inputmode="decimal"' in html and 'value="10,00"' in html


def model_views(app):
    return [v for v in app.extensions["admin"][0]._views if isinstance(v, SecureModelView)]


def test_every_numeric_column_of_every_admin_form_is_swedish(app):
    """Through the base view's model converter, so a new view gets it without asking."""
    checked = 0
    with app.test_request_context():
        for view in model_views(app):
            form = view.get_create_form()()
            for name, column in view.model.__table__.columns.items():
                if name in form and isinstance(column.type, Numeric) and name not in (view.form_overrides or {}):
                    assert isinstance(form[name], SwedishDecimalField), (view.endpoint, name)
                    assert form[name].places == column.type.scale
                    checked += 1
    assert checked >= 5  # company and contact discount, opportunity amount, product price, private customer


def input_value(page: str, field: str) -> str:
    """The value attribute of the form's input with this id."""
    tag = re.search(rf'<input[^>]*\bid="{field}"[^>]*>', page).group(0)
    return re.search(r'value="([^"]*)"', tag).group(1)


def test_product_form_shows_and_takes_swedish_prices(login, products):
    finance = login("finance")
    product = products["100"]
    page = finance.client.get(f"/admin/product/edit/?id={product.id}").get_data(as_text=True)
    assert input_value(page, "price") == "950,00"
    data = {"number": "100", "name": "Konsulttimme", "unit": "tim", "vat_rate": "25", "active": "y"}
    data["version"] = input_value(page, "version")  # the form's hidden edit version
    response = finance.post(f"/admin/product/edit/?id={product.id}", {**data, "price": "Infinity"})
    assert response.status_code == 200 and field_errors(response, "price") == [sv(NOT_A_NUMBER)]
    assert fresh(db.session, Product, product.id).price == D("950.00")
    assert finance.post(f"/admin/product/edit/?id={product.id}", {**data, "price": f"1{NBSP}250,50"}).status_code == 302
    assert fresh(db.session, Product, product.id).price == D("1250.50")


def test_company_discount_in_the_edit_form_and_on_the_card(login, make_company):
    from tests.test_views_company import edit_form_data

    company = make_company(name="Rabattkund AB", discount_percent=D("10"))
    seller = login("seller")
    page = seller.client.get(f"/admin/company/edit/?id={company.id}").get_data(as_text=True)
    assert input_value(page, "discount_percent") == "10,00"
    response = seller.post(
        f"/admin/company/edit/?id={company.id}", {**edit_form_data(company), "discount_percent": "12,5"}
    )
    assert response.status_code == 302, field_errors(response, "discount_percent")
    company = fresh(db.session, Company, company.id)
    assert company.discount_percent == D("12.50")
    response = seller.post(
        f"/admin/company/card/{company.id}/settings",
        {
            "invoice_language": "sv",
            "discount_percent": "7,25",
            "payment_terms_days": "30",
            "currency": "SEK",
            "version": str(company.version),
        },
    )
    assert response.status_code == 302
    assert fresh(db.session, Company, company.id).discount_percent == D("7.25")


def test_inline_list_editing_of_a_decimal_column_takes_a_comma(app):
    """No list edits a Decimal column inline today; one that does gets a text box and the same parser."""

    class EditablePrices(SecureModelView):
        column_editable_list = ["price"]
        permission_area = "product"

    with app.test_request_context():
        view = EditablePrices(Product, db, endpoint="editable_prices_test")
        form = view.get_list_form()(MultiDict({"list_form_pk": "1", "price": "1 250,50"}))
        assert form.validate() and form.price.data == D("1250.50")
        html = view.get_list_form()(obj=Product(price=D("1250.50"))).price(pk=1, display_value="1 250,50 kr", csrf="x")
        assert 'data-type="text"' in html and f'data-value="1{NBSP}250,50"' in html
        assert isinstance(form.price.widget, SwedishXEditableWidget)
        bad = view.get_list_form()(MultiDict({"list_form_pk": "1", "price": "NaN"}))
        assert not bad.validate() and bad.price.errors == [sv(NOT_A_NUMBER)]
