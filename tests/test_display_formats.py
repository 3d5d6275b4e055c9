"""Every value is shown the Swedish way, by services.formatting: yes/no as Ja/Nej, numbers with a
decimal comma, percentages "25 %", file sizes "65 byte", phone numbers as the lists show them."""

import io
import re
from decimal import Decimal

import pytest

from extensions import db
from models import CustomFieldDefinition, CustomTab
from services import audit, custom_fields, formatting, invoicing
from services.invoicing import LineInput
from tests.helpers import text
from tests.test_translations import unswedish_values, visible_text

D = Decimal


def page(response) -> str:
    """The text a user reads, with non-breaking spaces as plain spaces."""
    assert response.status_code == 200, response.status_code
    return " ".join(visible_text(text(response)).replace("\u00a0", " ").split())


# --- the module ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (D("2.500"), {}, "2,5"),
        (D("25.00"), {}, "25"),
        (D("1234567.5000"), {"min_places": 2}, "1 234 567,50"),
        (D("5.5"), {"places": 2}, "5,50"),
        ("0.00", {"places": 2}, "0,00"),
        (D("0.125"), {"places": 2}, "0,13"),
    ],
)
def test_number(app, value, kwargs, expected):
    with app.test_request_context():
        assert formatting.number(value, **kwargs).replace("\u00a0", " ") == expected


def test_percent_boolean_file_size(app):
    with app.test_request_context():
        assert formatting.percent(D("25.00")) == "25\u00a0%"
        assert formatting.percent(D("66.7")) == "66,7\u00a0%"
        assert formatting.percent(None) == ""
        assert (formatting.boolean(True), formatting.boolean(False)) == ("Ja", "Nej")
        assert formatting.file_size(65) == "65\u00a0byte"
        assert formatting.file_size(1_234_567) == "1,2\u00a0MB"
        assert formatting.file_size(1500) == "1,5\u00a0kB"
        assert formatting.display(True) == "Ja" and formatting.display("5.50", "number", 2) == "5,50"


def test_unswedish_values_checker():
    assert set(unswedish_values("Visa som leverantör: False → True, Rabatt 0.00 → 5.50")) == {
        "False",
        "True",
        "0.00",
        "5.50",
    }
    assert unswedish_values("Rabatt 0,00 → 5,50 · 2026-12-05 · 08-123 456 78 · 1 234,50 kr") == {}


# --- the screens ---------------------------------------------------------------------------


def test_history_shows_yes_no_and_swedish_numbers(login, make_company, employees):
    company = make_company(name="Historikbolaget AB")
    with audit.acting_as(db.session, employees["admin"].id):
        company.is_supplier = True
        company.email_locked = True
        company.discount_percent = D("5.50")
        db.session.commit()
    shown = page(login("admin").client.get(f"/admin/company/card/{company.id}/tab/history"))
    assert re.search(r"Visa som leverantör ?: Nej → Ja", shown)
    assert re.search(r"Rabatt % ?: 0,00 → 5,50", shown)
    assert not unswedish_values(shown)


def test_history_names_the_seller_and_labels_codes(login, make_company, employees):
    """The card's Historik and the register extract read values in one place (labels.stored_value): the
    seller's name, not their id; the invoice language's and the status's labels, not their codes."""
    company = make_company(name="Kodbolaget AB", invoice_language="sv")
    with audit.acting_as(db.session, employees["admin"].id):
        company.owner_id = employees["seller"].id
        company.invoice_language = "en"
        company.status = "inactive"
        db.session.commit()
    shown = page(login("admin").client.get(f"/admin/company/card/{company.id}/tab/history"))
    assert re.search(rf"Kundansvarig ?: – → {employees['seller'].name}", shown)
    assert re.search(r"Fakturaspråk ?: Svenska → Engelska", shown)
    assert re.search(r"Status ?: Aktiv → Inaktiv", shown)


def test_invoice_page_and_print_show_quantities_with_a_decimal_comma(login, make_company, employees, products):
    customer = make_company(name="Antalsbolaget AB")
    invoice = invoicing.new_invoice(db.session, employees["finance"], customer)
    invoicing.set_lines(invoice, [LineInput(product=products["100"], quantity="2.5")])
    db.session.commit()
    admin = login("admin").client
    for url in (f"/admin/invoice/show/{invoice.id}", f"/admin/invoice/show/{invoice.id}/print"):
        shown = page(admin.get(url))
        assert re.search(r"(?<![\d,])2,5 tim", shown), url
        assert not unswedish_values(shown), url


def test_products_show_vat_as_percent(login, products):
    shown = page(login("admin").client.get("/admin/product/"))
    assert "25 %" in shown and "6 %" in shown
    assert "25.00" not in shown


def test_sales_report_win_rate_is_a_swedish_percentage(login, demo):
    shown = page(login("admin").client.get("/admin/reports/sales?close_from=2000-01-01"))
    assert re.search(r"\d+(,\d)? %", shown)
    assert not unswedish_values(shown)


def test_custom_number_keeps_its_decimals(login, make_company):
    tab = CustomTab(name="Ekonomi", applies_to="company")
    field = CustomFieldDefinition(tab=tab, label="Årsomsättning", field_type="number")
    db.session.add_all([tab, field])
    company = make_company(name="Fältbolaget AB")
    db.session.flush()
    custom_fields.save_tab(db.session, company, tab, {f"field-{field.id}": "1 234 567,50"})
    db.session.commit()
    admin = login("admin").client
    form = text(admin.get(f"/admin/company/card/{company.id}/tab/custom{tab.id}")).replace("\u00a0", " ")
    assert 'value="1 234 567,50"' in form
    report = page(admin.get(f"/admin/reports/generator/?run=1&entity=company&col=name&col=cf{field.id}"))
    assert "1 234 567,50" in report


def test_files_show_sizes_in_swedish(login, make_company):
    company = make_company(name="Filbolaget AB")
    admin = login("admin")
    for name, size in (("liten.txt", 65), ("stor.pdf", 1_234_567)):
        body = b"%PDF-1.4\n" + b"x" * (size - 9) if name.endswith(".pdf") else b"x" * size
        admin.post(
            f"/admin/company/card/{company.id}/files",
            {"file": (io.BytesIO(body), name)},
            content_type="multipart/form-data",
        )
    shown = page(admin.client.get(f"/admin/company/card/{company.id}/tab/files"))
    assert "liten.txt" in shown and "stor.pdf" in shown, shown
    assert "65 byte" in shown and "1,2 MB" in shown
    assert "Bytes" not in shown


def test_report_generator_shows_phone_numbers_as_lists_do(login, make_company):
    make_company(name="Telefonbolaget AB", phone="+4613697515")
    shown = page(login("admin").client.get("/admin/reports/generator/?run=1&entity=company"))
    assert "013-69 75 15" in shown
    assert "+4613697515" not in shown


def test_history_shows_a_negative_zero_as_0(login, make_company):
    """A number field saved as "-0" showed "Licenser: 120 → -0" in Historik; amounts and form values
    never show a minus on zero either."""
    tab = CustomTab(name="Avtal", applies_to="company")
    field = CustomFieldDefinition(tab=tab, label="Licenser", field_type="number")
    db.session.add_all([tab, field])
    company = make_company(name="Nollbolaget AB")
    db.session.flush()
    for typed in ("120", "-0"):
        custom_fields.save_tab(db.session, company, tab, {f"field-{field.id}": typed})
        db.session.commit()
    shown = page(login("admin").client.get(f"/admin/company/card/{company.id}/tab/history"))
    assert re.search(r"Licenser ?: 120 → 0(?![,\d])", shown), shown
    assert "→ -0" not in shown
    assert formatting.money(D("-0.001")) == "0,00\u00a0kr" and formatting.decimal_input(D("-0")) == "0"
    assert formatting.number(D("-0.4")) == "-0,4"


def test_a_swedish_phone_is_laid_out_as_phonenumbers_lays_it_out():
    """formatting.phone lays a Swedish number out as phonenumbers laid out the first of its kind (area code and
    length): the same text as phonenumbers' own for every number, Swedish and foreign, valid or not."""
    import random

    from services import formatting

    rng = random.Random(13)
    numbers = ["+46812345678", "+46701234567", "+4631123456", "+469101234", "+46771234567", "+4620123456"]
    numbers += ["+46" + rng.choice("123456789") + "".join(rng.choices("0123456789", k=rng.randint(5, 10)))]
    numbers += ["+46" + rng.choice("123456789") + "".join(rng.choices("0123456789", k=n)) for n in range(5, 11)]
    numbers += [
        "+46" + rng.choice("123456789") + "".join(rng.choices("0123456789", k=rng.randint(5, 10))) for _ in range(5000)
    ]
    numbers += [
        f"+{cc}{rng.randrange(10**7, 10**10)}" for cc in ("47", "45", "358", "44", "1", "460") for _ in range(50)
    ]
    formatting.phone.cache_clear()
    assert [formatting.phone(n) for n in numbers] == [formatting._phonenumbers_text(n) for n in numbers]
    assert formatting.phone("+46812345678") == "08-123 456 78"
    formatting._layout.cache_clear()
    assert [formatting.phone(n) for n in ("+46812345678", "+46876543210")] == ["08-123 456 78", "08-765 432 10"]
    assert formatting._layout.cache_info().misses == 1  # laid out once per kind, not per number
