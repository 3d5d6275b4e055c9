"""Swedish display formats: dates, amounts, phone numbers, organisationsnummer."""

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import phonenumbers
from babel.numbers import format_decimal
from flask_babel import format_datetime as _format_datetime


def org_number(value: str | None) -> str:
    if not value:
        return ""
    return f"{value[:6]}-{value[6:]}" if len(value) == 10 and value.isdigit() else value


def phone(value: str | None) -> str:
    """E.164 shown as Swedes write it (08-123 456 78); foreign numbers international."""
    if not value:
        return ""
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


def money(amount: Decimal | float | int | None, currency: str = "SEK", locale: str = "sv") -> str:
    """`1 234,50 kr` (with non-breaking spaces, as Swedish typography wants); English: `1,234.50 SEK`."""
    if amount is None:
        return ""
    rounded = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)  # öre, half up
    english = str(locale).startswith("en")
    text = format_decimal(rounded, format="#,##0.00", locale="en_GB" if english else "sv_SE")
    suffix = "kr" if currency == "SEK" and not english else currency
    return f"{text}\u00a0{suffix}"


def integer(value: int | None, locale: str = "sv") -> str:
    """A whole number with thousands grouped: `10 000` (non-breaking spaces) in Swedish, `10,000` in English."""
    if value is None:
        return ""
    return format_decimal(value, format="#,##0", locale="en_GB" if str(locale).startswith("en") else "sv_SE")


def decimal_input(value: Decimal | int | None, places: int | None = None, locale: str = "sv") -> str:
    """A number as a form shows it for editing, the way services.money.parse reads it back:
    `1 250,50` (Swedish), `1250.50` (English). `places` None: its own decimals, trailing zeros dropped."""
    if value is None:
        return ""
    value = Decimal(value)
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
