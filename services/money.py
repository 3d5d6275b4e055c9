"""The money of an order or invoice, in Decimal, computed in this one place.

Swedish invoice arithmetic:

- a line's net amount is quantity × unit price less the line discount,
  rounded to öre (half up, away from zero for negative amounts);
- VAT (moms) is computed per rate on the sum of the net amounts at that rate,
  rounded to öre;
- the amount to pay is rounded to whole kronor (öresavrundning) for SEK; the
  difference is shown as "Öresavrundning". Other currencies are rounded to cents.

Rounding is symmetric, so a credit invoice (negative quantities) is exactly
the negative of the invoice it credits.
"""

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ORE = Decimal("0.01")
KRONA = Decimal("1")
HUNDRED = Decimal("100")
#: Currencies whose invoices are rounded to whole units (öresavrundning).
WHOLE_UNIT_CURRENCIES = frozenset({"SEK"})


def to_decimal(value) -> Decimal:
    """A Decimal from a Decimal, int or string (never through float)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("amounts are never floats")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


#: Larger than any amount, price or quantity on an invoice: a quantity, a price, a line's amount and a
#: document's net, VAT and total are each below it (in absolute value). The columns hold 1000 times more
#: (Numeric(14, 2)), so quantity × price, or many lines added up, is checked (`within_limit`) before it
#: is stored: PostgreSQL would refuse it, SQLite would keep it with its last digits lost.
LARGEST = Decimal("1000000000")
#: The largest amount allowed: LARGEST less one öre (999 999 999,99).
LARGEST_AMOUNT = LARGEST - ORE


def within_limit(amount) -> bool:
    """Whether an amount (a line's, a document's net, VAT or total) is one an invoice may hold."""
    return abs(to_decimal(amount)) < LARGEST


def parse(text) -> Decimal:
    """An amount or quantity as Swedes type it: "1 250,50" as well as "1250.50" (spaces of any
    kind, non-breaking too, between the thousands), and as spreadsheets export it: "1.250,50" or
    "1,250.50" (with both marks, the last one is the decimal mark); ValueError for anything else,
    NaN and Infinity too."""
    if isinstance(text, (Decimal, int)):
        return Decimal(text)
    cleaned = "".join(str(text).split())
    if "," in cleaned and "." in cleaned:
        decimal_mark = max(",", ".", key=cleaned.rindex)
        thousands = "." if decimal_mark == "," else ","
        if not re.fullmatch(
            rf"[-+]?\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+", cleaned[: cleaned.rindex(decimal_mark)]
        ):
            raise ValueError(f"not an amount: {text!r}")  # "1.2,5": not thousands
        cleaned = cleaned.replace(thousands, "")
    value = to_decimal(cleaned.replace(",", "."))
    if not value.is_finite() or abs(value) >= LARGEST:
        raise ValueError(f"not an amount: {text!r}")
    return value


def round_ore(amount: Decimal) -> Decimal:
    return to_decimal(amount).quantize(ORE, rounding=ROUND_HALF_UP) + 0  # + 0: no "-0.00"


def line_amount(quantity, unit_price, discount_percent=0) -> Decimal:
    """Net amount of one line: quantity × price − discount %, rounded to öre."""
    gross = to_decimal(quantity) * to_decimal(unit_price)
    return round_ore(gross * (HUNDRED - to_decimal(discount_percent)) / HUNDRED)


@dataclass(frozen=True)
class Line:
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal = Decimal("0")
    vat_rate: Decimal = Decimal("25")

    @property
    def amount(self) -> Decimal:
        return line_amount(self.quantity, self.unit_price, self.discount_percent)


@dataclass(frozen=True)
class Totals:
    net: Decimal
    #: VAT rate → (net amount at that rate, VAT), highest rate first.
    vat_by_rate: dict[Decimal, tuple[Decimal, Decimal]] = field(default_factory=dict)
    vat: Decimal = Decimal("0.00")
    rounding: Decimal = Decimal("0.00")
    total: Decimal = Decimal("0.00")


def totals(lines, currency: str = "SEK") -> Totals:
    """Net, VAT per rate, rounding and the total to pay of `lines`.

    `lines` are anything with quantity, unit_price, discount_percent and
    vat_rate (money.Line, OrderLine, InvoiceLine).
    """
    net_by_rate: dict[Decimal, Decimal] = {}
    for line in lines:
        rate = to_decimal(line.vat_rate).normalize()
        amount = line_amount(line.quantity, line.unit_price, line.discount_percent or 0)
        net_by_rate[rate] = net_by_rate.get(rate, Decimal("0")) + amount
    vat_by_rate = {
        rate: (round_ore(net), round_ore(net * rate / HUNDRED))
        for rate, net in sorted(net_by_rate.items(), key=lambda item: item[0], reverse=True)
    }
    net = round_ore(sum((n for n, _v in vat_by_rate.values()), Decimal("0")))
    vat = round_ore(sum((v for _n, v in vat_by_rate.values()), Decimal("0")))
    exact = net + vat
    step = KRONA if currency in WHOLE_UNIT_CURRENCIES else ORE
    total = exact.quantize(step, rounding=ROUND_HALF_UP).quantize(ORE)
    return Totals(net=net, vat_by_rate=vat_by_rate, vat=vat, rounding=total - exact, total=total)
