"""services.money: line amounts, VAT per rate, öresavrundning and credit invoices."""

from decimal import Decimal

import pytest

from services import money
from services.money import Line

D = Decimal


@pytest.mark.parametrize(
    "quantity, price, discount, expected",
    [
        ("1", "100.00", "0", "100.00"),
        ("3", "33.33", "0", "99.99"),
        ("2.5", "99.90", "0", "249.75"),
        ("1", "100.00", "10", "90.00"),
        ("3", "19.99", "12.5", "52.47"),  # 59.97 × 0.875 = 52.47375 → 52.47
        ("1", "0.05", "50", "0.03"),  # 0.025 rounds half up
        ("-1", "0.05", "50", "-0.03"),  # and symmetrically for credits
        ("0.333", "10.00", "0", "3.33"),
        ("7", "0", "0", "0.00"),
        ("1", "1000", "100", "0.00"),
    ],
)
def test_line_amount(quantity, price, discount, expected):
    assert money.line_amount(D(quantity), D(price), D(discount)) == D(expected)


CASES = [
    # (lines as (qty, price, discount, vat), currency, net, {rate: (net, vat)}, vat, rounding, total)
    pytest.param(
        [("1", "100.00", "0", "25")],
        "SEK",
        "100.00",
        {"25": ("100.00", "25.00")},
        "25.00",
        "0.00",
        "125.00",
        id="one-line",
    ),
    pytest.param(
        [("1", "99.90", "0", "25")],
        "SEK",
        "99.90",
        {"25": ("99.90", "24.98")},
        "24.98",
        "0.12",
        "125.00",
        id="öresavrundning-up",
    ),
    pytest.param(
        [("1", "9.00", "0", "25")],
        "SEK",
        "9.00",
        {"25": ("9.00", "2.25")},
        "2.25",
        "-0.25",
        "11.00",
        id="öresavrundning-down",
    ),
    pytest.param(
        [("1", "10.30", "0", "25")],
        "SEK",
        "10.30",
        {"25": ("10.30", "2.58")},
        "2.58",
        "0.12",
        "13.00",
        id="half-krona-rounds-up",
    ),
    pytest.param(
        [("1", "10.10", "0", "25")],
        "SEK",
        "10.10",
        {"25": ("10.10", "2.53")},
        "2.53",
        "0.37",
        "13.00",
        id="half-krona-up-from-63-öre",
    ),
    pytest.param(
        [("2", "150.00", "0", "25"), ("1", "89.00", "0", "12"), ("3", "45.50", "0", "6"), ("1", "200.00", "0", "0")],
        "SEK",
        "725.50",
        {"25": ("300.00", "75.00"), "12": ("89.00", "10.68"), "6": ("136.50", "8.19"), "0": ("200.00", "0.00")},
        "93.87",
        "-0.37",
        "819.00",
        id="mixed-vat-rates",
    ),
    pytest.param(
        [("1", "0.10", "0", "25"), ("1", "0.10", "0", "25"), ("1", "0.10", "0", "25")],
        "SEK",
        "0.30",
        {"25": ("0.30", "0.08")},
        "0.08",
        "-0.38",
        "0.00",
        id="vat-on-the-sum-not-per-line",
    ),
    pytest.param(
        [("10", "100.00", "10", "25"), ("1", "50.00", "5", "12")],
        "SEK",
        "947.50",
        {"25": ("900.00", "225.00"), "12": ("47.50", "5.70")},
        "230.70",
        "-0.20",
        "1178.00",
        id="line-discounts",
    ),
    pytest.param(
        [
            ("-2", "150.00", "0", "25"),
            ("-1", "89.00", "0", "12"),
            ("-3", "45.50", "0", "6"),
            ("-1", "200.00", "0", "0"),
        ],
        "SEK",
        "-725.50",
        {"25": ("-300.00", "-75.00"), "12": ("-89.00", "-10.68"), "6": ("-136.50", "-8.19"), "0": ("-200.00", "0.00")},
        "-93.87",
        "0.37",
        "-819.00",
        id="credit-invoice-negative",
    ),
    pytest.param(
        [("1", "99.90", "0", "25")],
        "EUR",
        "99.90",
        {"25": ("99.90", "24.98")},
        "24.98",
        "0.00",
        "124.88",
        id="euro-rounded-to-cents-only",
    ),
    pytest.param([], "SEK", "0.00", {}, "0.00", "0.00", "0.00", id="no-lines"),
]


@pytest.mark.parametrize("lines, currency, net, by_rate, vat, rounding, total", CASES)
def test_totals(lines, currency, net, by_rate, vat, rounding, total):
    result = money.totals([Line(D(q), D(p), D(d), D(r)) for q, p, d, r in lines], currency)
    assert result.net == D(net)
    assert {str(rate): (str(n), str(v)) for rate, (n, v) in result.vat_by_rate.items()} == by_rate
    assert list(result.vat_by_rate) == sorted(result.vat_by_rate, reverse=True)
    assert result.vat == D(vat)
    assert result.rounding == D(rounding)
    assert result.total == D(total)
    assert result.net + result.vat + result.rounding == result.total


def test_a_credit_is_exactly_the_negative_of_the_invoice():
    lines = [Line(D("3"), D("19.99"), D("12.5"), D("25")), Line(D("1"), D("10.30"), D("0"), D("6"))]
    credit = [Line(-line.quantity, line.unit_price, line.discount_percent, line.vat_rate) for line in lines]
    original, credited = money.totals(lines), money.totals(credit)
    assert (credited.net, credited.vat, credited.rounding, credited.total) == (
        -original.net,
        -original.vat,
        -original.rounding,
        -original.total,
    )


def test_floats_are_refused():
    with pytest.raises(TypeError):
        money.line_amount(1.1, D("1"))
    with pytest.raises(ValueError):
        money.line_amount("abc", D("1"))


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("1 250,50", "1250.50"),
        ("1\u00a0250,50", "1250.50"),
        ("1250.50", "1250.50"),
        ("-3", "-3"),
        ("0,5", "0.5"),
        ("1.250,50", "1250.50"),
        ("1,250.50", "1250.50"),
        ("12.345.678,9", "12345678.9"),
    ],
)
def test_amounts_are_read_as_swedes_type_them(typed, expected):
    assert money.parse(typed) == D(expected)


@pytest.mark.parametrize(
    "text",
    ["NaN", "sNaN", "Infinity", "-inf", "1e30", "1000000000", "1,2,3", "1.234.5,6,7", "1.2,5", "1,2.5", "12.34,5"],
)
def test_what_is_not_a_finite_invoice_amount_is_refused(text):
    with pytest.raises(ValueError):
        money.parse(text)
