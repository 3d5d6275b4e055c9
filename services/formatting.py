"""How every value is shown to people, in one place: dates, amounts, numbers, percentages,
file sizes, phone numbers, organisationsnummer and yes/no (Swedish by default, English for an
English user or invoice). Lists, cards, Historik, reports, print and e-mail all use these."""

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

import phonenumbers
from babel.numbers import format_decimal
from flask_babel import format_datetime as _format_datetime
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _


def _babel_locale(locale) -> str:
    """The Babel locale for `locale` (None: the current user's language, Swedish outside a request)."""
    if locale is None:
        try:
            locale = get_locale() or "sv"
        except RuntimeError:  # no app context
            locale = "sv"
    return "en_GB" if str(locale).startswith("en") else "sv_SE"


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def org_number(value: str | None) -> str:
    if not value:
        return ""
    return f"{value[:6]}-{value[6:]}" if len(value) == 10 and value.isdigit() else value


@lru_cache(maxsize=8192)
def phone(value: str | None) -> str:
    """E.164 shown as Swedes write it (08-123 456 78); foreign numbers international.

    Kept per process for numbers shown before: parsing and formatting with phonenumbers takes about
    25 µs a number, 50 to 100 a list page (2.5 ms of a 27 ms contact page); the text depends on the
    number alone. A number not shown before is laid out as phonenumbers laid out the first number of its
    kind (`_layout`)."""
    if not value:
        return ""
    digits = value[1:] if value.startswith("+46") else ""
    if digits.isdigit() and 8 <= len(digits) <= 13 and digits[2] != "0":
        layout = _layout(digits[:5], len(digits))
        if layout is not None:
            filled = iter(layout[1] + digits[layout[0] :])
            return "".join(next(filled) if c == "#" else c for c in layout[2])
    return _phonenumbers_text(value)


def _phonenumbers_text(value: str) -> str:
    try:
        parsed = phonenumbers.parse(value, "SE")
    except phonenumbers.NumberParseException:
        return value
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if parsed.country_code == 46
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)


@lru_cache(maxsize=4096)
def _layout(start: str, length: int) -> tuple[int, str, str] | None:
    """How phonenumbers lays out a Swedish E.164 number of `length` digits beginning with `start` (46 and the
    first three digits, which hold the area code and choose its pattern): (the digits it leaves out from the
    start, the digits it puts first, the text with a # for each digit), from one such number; None when its
    text is not the number's digits in order (then every number of the kind is formatted by phonenumbers).

    An export writes every customer's phone: 27,722 numbers, each formatted by phonenumbers, took 1.0 of the
    export's 2.4 s at 1,000,000 companies (cProfile: parse and format_number 80 µs a number), and the export
    was slower than a stock Flask-Admin's (1.9 s) writing the stored E.164; laid out once per kind, 3 µs."""
    sample = start + "0" * (length - len(start))
    text = _phonenumbers_text("+" + sample)
    shown = "".join(c for c in text if c.isdigit())
    for dropped in range(0, 4):  # the country code left out (a Swedish number) …
        rest = sample[dropped:]
        for first in ("", "0"):  # … and the national prefix put first
            if shown == first + rest:
                return dropped, first, "".join("#" if c.isdigit() else c for c in text)
    return None


def money(amount: Decimal | float | int | None, currency: str = "SEK", locale: str = "sv") -> str:
    """`1 234,50 kr` (with non-breaking spaces, as Swedish typography wants); English: `1,234.50 SEK`."""
    if amount is None:
        return ""
    rounded = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) + 0  # öre, half up; no "-0,00"
    english = str(locale).startswith("en")
    text = format_decimal(rounded, format="#,##0.00", locale="en_GB" if english else "sv_SE")
    suffix = "kr" if currency == "SEK" and not english else currency
    return f"{text}\u00a0{suffix}"


def integer(value: int | None, locale: str = "sv") -> str:
    """A whole number with thousands grouped: `10 000` (non-breaking spaces) in Swedish, `10,000` in English."""
    if value is None:
        return ""
    return format_decimal(value, format="#,##0", locale="en_GB" if str(locale).startswith("en") else "sv_SE")


def number(value, places: int | None = None, min_places: int = 0, locale=None) -> str:
    """A number for reading: `1 234 567,50`, `2,5`. `places`: exactly that many decimals; None: its own
    decimals without trailing zeros, but at least `min_places` when it has any (1234567.5 → `,50`)."""
    amount = _decimal(value)
    if amount is None:
        return "" if value is None or value == "" else str(value)
    if places is None:
        own = max(0, -int(amount.normalize().as_tuple().exponent))
        places = max(own, min_places) if own else 0
    pattern = "#,##0" + ("." + "0" * places if places else "")
    rounded = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP) + 0  # + 0: a negative zero is 0
    return format_decimal(rounded, format=pattern, locale=_babel_locale(locale))


def percent(value, places: int | None = None, locale=None) -> str:
    """A percentage: `25 %`, `5,5 %`, `66,7 %` (a non-breaking space before the sign, as Swedish writes it)."""
    if value is None or value == "":
        return ""
    return f"{number(value, places, locale=locale)}\u00a0%"


def country(code: str | None, locale=None) -> str:
    """A country code (`SE`) by its name in the user's language (`Sverige`); an unknown code as it is."""
    if not code:
        return ""
    from babel import Locale

    return Locale.parse(_babel_locale(locale)).territories.get(str(code).upper(), str(code))


def boolean(value) -> str:
    """Yes/no as words (`Ja`/`Nej`), never True/False."""
    return _("Yes") if value else _("No")


FILE_SIZE_UNITS = ("kB", "MB", "GB", "TB")


def file_size(size: int | None, locale=None) -> str:
    """A file size: `65 byte`, `1,2 kB`, `1,2 MB` (1 kB = 1 000 bytes, one decimal)."""
    if size is None:
        return ""
    if size < 1000:
        unit = ngettext("byte", "bytes", size)
        return f"{number(size, locale=locale)}\u00a0{unit}"
    scaled = Decimal(size)
    for unit in FILE_SIZE_UNITS[:-1]:
        scaled /= 1000
        if scaled < 1000:
            return f"{number(scaled, places=1, locale=locale)}\u00a0{unit}"
    return f"{number(scaled / 1000, places=1, locale=locale)}\u00a0{FILE_SIZE_UNITS[-1]}"


def display(value, kind: str | None = None, places: int | None = None) -> str:
    """Any stored value as people read it, by its kind (`bool`, `number`, `integer`, `date`) or,
    without one, by its Python type: yes/no, Swedish numbers, ISO dates, else the text."""
    if value is None or value == "":
        return ""
    if kind == "bool" or isinstance(value, bool):
        return boolean(value)
    if kind == "integer" or (kind is None and isinstance(value, int)):
        return str(value)
    if kind == "number" or isinstance(value, (Decimal, float)):
        return number(value, places)
    if kind == "date" or isinstance(value, (date, datetime)):
        return iso_date(value) if isinstance(value, (date, datetime)) else str(value)
    return str(value)


def decimal_input(value: Decimal | int | None, places: int | None = None, locale: str = "sv") -> str:
    """A number as a form shows it for editing, the way services.money.parse reads it back:
    `1 250,50` (Swedish), `1250.50` (English). `places` None: its own decimals, trailing zeros dropped."""
    if value is None:
        return ""
    value = Decimal(value) + 0  # a negative zero is shown as 0
    if places is None:
        places = max(0, -int(value.normalize().as_tuple().exponent))
    english = str(locale).startswith("en")
    pattern = ("0" if english else "#,##0") + ("." + "0" * places if places else "")
    return format_decimal(value, format=pattern, locale="en_GB" if english else "sv_SE")


def iso_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _format_datetime(value, "yyyy-MM-dd HH:mm")
    return value.isoformat()


def web_link(value: str | None) -> str | None:
    """A stored web address that may be a link's href: http or https only (never javascript: or data:,
    however it was stored), else None and the address is shown as text."""
    text = "".join(str(value or "").split())
    return str(value).strip() if text.lower().startswith(("http://", "https://")) else None
