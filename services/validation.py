"""Normalising and validating Swedish register data with the libraries made for it.

Each function returns the normalised value to store, or raises
`InvalidValue` with a Swedish-translated message for the user.
"""

import re

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.se import orgnr, personnummer, vat

from services.i18n import gettext as _


class InvalidValue(ValueError):
    """A value a user typed that cannot be stored; the message is for the user."""


#: A UTF-16 surrogate (U+D800–U+DFFF). A JSON text may name one alone (`"\\ud800"`; a pair is read as
#: the one character it encodes), and UTF-8 has no encoding for it: saving one failed with a 500.
_SURROGATE = re.compile("[\ud800-\udfff]")


def unsavable_character(text: str) -> str | None:
    """Why `text` cannot be saved, for the user: a NUL character (PostgreSQL cannot store one) or a
    lone surrogate (no database can); None when it can. Nobody types either."""
    if "\x00" in text:
        return _("The text contains a character that cannot be saved (NUL). Remove it and try again.")
    if _SURROGATE.search(text):
        return _(
            "The text contains a character that cannot be saved (a lone UTF-16 surrogate such as \\ud800). "
            "Remove it and try again."
        )
    return None


def printable_name(text: str) -> str:
    """A field name holding such a character, as it can be shown (the character replaced)."""
    return _SURROGATE.sub("\ufffd", text.replace("\x00", "\ufffd"))


#: The largest value of an INTEGER column (the id columns) on PostgreSQL; SQLite's are wider.
MAX_INTEGER = 2**31 - 1

#: Payment terms (betalningsvillkor) in days, of a customer and of an invoice: the one rule for every
#: form, the API, the import and Ändra flera.
PAYMENT_TERMS_DAYS = (0, 365)


def payment_terms(value) -> int:
    """Payment terms in days (a number, or text as a form sends it): a whole number from 0 to 365,
    or InvalidValue."""
    low, high = PAYMENT_TERMS_DAYS
    if isinstance(value, int) and not isinstance(value, bool):
        days: int | None = value if low <= value <= high else None
    else:
        days = whole_number(value, minimum=low, maximum=high)
    if days is None:
        raise InvalidValue(_("Payment terms must be between 0 and 365 days."))
    return days


def whole_number(value, *, minimum: int = 1, maximum: int = MAX_INTEGER) -> int | None:
    """The value (text as a request sends it) as a whole number within [minimum, maximum]; None
    for anything else: empty, a decimal, garbage, Unicode digits, or a number a column cannot hold
    (a larger one made the database fail: 500s on `page=2**64` and the like)."""
    text = str(value).strip() if value is not None else ""
    if not re.fullmatch(r"-?[0-9]{1,19}", text):
        return None
    number = int(text)
    return number if minimum <= number <= maximum else None


def is_id(value) -> bool:
    """True for a record id as a request sends it: ASCII digits that fit the id column."""
    return whole_number(value) is not None


def _blank(value: str | None) -> bool:
    return value is None or not str(value).strip()


#: What separates the digits of a number as people write or paste it: spaces (a no-break space
#: too) and dashes (an en dash or a minus sign from a web page or a PDF).
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")


def compact_number(value: str) -> str:
    """A number as typed or pasted without its spaces and dashes ("552940–5572" → "5529405572")."""
    return _SEPARATORS.sub("", value)


def org_number(value: str | None, country: str = "SE") -> str | None:
    """Swedish organisationsnummer stored as ten digits; foreign ones kept as typed. The 12-digit
    form with 16 in front (16NNNNNN-NNNN, as the Tax Agency writes it) is the same number."""
    if _blank(value):
        return None
    if (country or "SE").upper() != "SE":
        return str(value).strip()
    compact = compact_number(str(value))
    if len(compact) == 12 and compact.startswith("16") and compact.isascii() and compact.isdigit():
        value = compact[2:]
    try:
        return orgnr.validate(str(value))
    except StdnumError:
        digits = orgnr.compact(str(value))
        # A sole trader's organisationsnummer is the owner's personnummer.
        try:
            return re.sub(r"\D", "", personnummer.validate(str(value)))[-10:]
        except StdnumError:
            pass
        if len(digits) == 10 and digits.isdigit() and not luhn.is_valid(digits):
            raise InvalidValue(_("The organisation number %(value)s has a wrong check digit.", value=value)) from None
        raise InvalidValue(_("The organisation number must be ten digits, NNNNNN-NNNN.")) from None


def personal_number(value: str | None) -> str | None:
    """Swedish personnummer stored as YYYYMMDD-NNNN."""
    if _blank(value):
        return None
    try:
        compact = personnummer.validate(str(value))
    except StdnumError:
        raise InvalidValue(_("This is not a valid Swedish personal identity number.")) from None
    century = personnummer.get_birth_date(compact).year // 100
    # stdnum keeps the century when it was typed (YYYYMMDD-NNNN): use the last ten digits.
    digits = re.sub(r"\D", "", compact)[-10:]
    return f"{century}{digits[:6]}-{digits[6:]}"


def vat_number(value: str | None) -> str | None:
    if _blank(value):
        return None
    text = re.sub(r"[\s-]", "", str(value)).upper()
    if re.fullmatch(r"\d{12}", text):  # a Swedish VAT number typed without its SE
        text = "SE" + text
    if text.startswith("SE"):
        try:
            return "SE" + vat.validate(text)  # stdnum drops the country prefix
        except StdnumError:
            raise InvalidValue(_("A Swedish VAT number is SE followed by twelve digits (SE556036079301).")) from None
    return text


#: A Swedish number written as most files have it: 0, +46 or 0046, then its digits, in groups parted by a space or
#: a hyphen; `_parsed_phone` takes it apart without phonenumbers' parser.
_SWEDISH_PHONE = re.compile(r"(?:0|(?:\+46|0046)[ -]?)(?P<number>[1-9](?:[ -]?[0-9]){5,11})", re.ASCII)
_PHONE_GROUPING = re.compile(r"[ -]")


def _parsed_phone(text: str, region: str) -> phonenumbers.PhoneNumber:
    """`text` as phonenumbers.parse has it. A Swedish number `_SWEDISH_PHONE` matches is made here: the parser
    took 29 µs a number (extensions, letters, carrier codes, any country's prefixes), a seventh of an import's
    parsing (a 30,000-row file of companies on a 2-core VM), this 2 µs; whether it exists is still phonenumbers'
    to say (`is_valid_number`), and tests/test_validation.py holds both ways to the same result."""
    plain = _SWEDISH_PHONE.fullmatch(text) if region == "SE" else None
    if plain:
        return phonenumbers.PhoneNumber(country_code=46, national_number=int(_PHONE_GROUPING.sub("", plain["number"])))
    return phonenumbers.parse(text, region)


def phone(value: str | None, region: str = "SE") -> str | None:
    """Any reasonable way of writing a phone number, stored as E.164."""
    if _blank(value):
        return None
    try:
        parsed = _parsed_phone(str(value).strip(), region or "SE")
    except phonenumbers.NumberParseException:
        raise InvalidValue(_("This is not a phone number.")) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue(_("The phone number %(value)s does not exist.", value=value))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


#: The kinds of number an SMS can go to.
MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def mobile_phone(value: str | None, region: str = "SE") -> str | None:
    """A mobile number (one an SMS can go to), stored as E.164."""
    number = phone(value, region)
    if number is None:
        return None
    if phonenumbers.number_type(phonenumbers.parse(number)) not in MOBILE_TYPES:
        raise InvalidValue(_("%(value)s is not a mobile number: an SMS can only go to a mobile number.", value=value))
    return number


def is_mobile(value: str | None) -> bool:
    """True for a number `mobile_phone` accepts (one an SMS can go to), from one parse: a card's
    contacts tab asks it of every row's numbers, and through `mobile_phone` (two parses, a format
    and a translated message for a landline) it took 0.23–0.30 ms a number, this 0.10–0.14."""
    if _blank(value):
        return False
    try:
        parsed = phonenumbers.parse(str(value), "SE")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in MOBILE_TYPES


#: An address of plain ASCII that email_validator accepts as it is but for case (the domain's, and a role
#: mailbox's such as INFO@): a local part of
#: dot-separated atoms of letters, digits and _%+-, a domain of two or more labels of letters, digits and inner
#: hyphens (never two in a row, so no Punycode; 61 characters at most), the last of letters only, 100 characters
#: in all at most.
_PLAIN_EMAIL = re.compile(
    r"(?=.{3,100}$)(?P<local>[\w%+-]+(?:\.[\w%+-]+)*)@(?P<domain>(?:[a-z0-9](?:-?[a-z0-9]){0,30}\.)+[a-z]{2,63})",
    re.ASCII | re.IGNORECASE,
)


def email(value: str | None) -> str | None:
    """An e-mail address as email_validator normalises it (the domain in lower case).

    An address `_PLAIN_EMAIL` matches is normalised here: email_validator checks a domain a character at a time
    (Unicode categories, IDNA), 36 µs an address, a sixth of an import's parsing (a 30,000-row file of companies
    on a 2-core VM: its parsing process's 6.2 CPU-s, which the dry run waited for); the expression takes 2 µs.
    Every other address goes to email_validator; tests/test_validation.py checks that both agree."""
    if _blank(value):
        return None
    text = str(value).strip()
    plain = _PLAIN_EMAIL.fullmatch(text)
    if (
        plain
        and len(plain["local"]) <= 64
        and plain["domain"].rsplit(".", 1)[1].lower() not in SPECIAL_USE_DOMAIN_NAMES
    ):
        local = plain["local"]
        if local.lower() in CASE_INSENSITIVE_MAILBOX_NAMES:  # RFC 2142: INFO@ is info@
            local = local.lower()
        return f"{local}@{plain['domain'].lower()}"
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidValue(_("This is not a valid e-mail address.")) from None


def postcode(value: str | None, country: str = "SE") -> str | None:
    """Swedish postcode stored as `NNN NN`."""
    if _blank(value):
        return None
    if (country or "SE").upper() != "SE":
        return str(value).strip()
    digits = re.sub(r"[\s-]", "", str(value))
    if not re.fullmatch(r"[1-9]\d{4}", digits):
        raise InvalidValue(_("A Swedish postcode has five digits, NNN NN."))
    return f"{digits[:3]} {digits[3:]}"


def website(value: str | None) -> str | None:
    """A web address, stored with its scheme (www.example.se → https://www.example.se)."""
    if _blank(value):
        return None
    text = str(value).strip()
    if "://" not in text:
        text = f"https://{text}"
    scheme, _sep, rest = text.partition("://")
    host = rest.split("/", 1)[0]
    if scheme.lower() not in ("http", "https") or "." not in host or not re.fullmatch(r"[\w.\-:@]+", host):
        raise InvalidValue(_("This is not a web address (for example www.example.se)."))
    return f"{scheme.lower()}://{rest}"
