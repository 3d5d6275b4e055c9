"""What the columns of an import file mean: the fields of each entity, how a
header is matched to a field, and how a cell becomes a value to store.

Each cell parser returns the value to store or raises `InvalidValue` with a
Swedish message; the register's own rules come from services.validation, so a
value is judged the same in a form and in an import.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from importlib import import_module
from typing import Any

from services import dates, fields, formulas, money, name_keys, validation
from services.i18n import gettext as _
from services.i18n import in_swedish
from services.i18n import lazy_gettext as _l
from services.validation import InvalidValue

# --- cell parsers ---------------------------------------------------------------


def text(max_len: int):
    def parse(value: str, row: dict) -> str | None:
        value = value.strip()
        if not value:
            return None
        if len(value) > max_len:
            raise InvalidValue(_("At most %(max)s characters.", max=max_len))
        return value

    return parse


def parse_date(value: str, row: dict | None = None) -> datetime | None:
    """A date in an import file (services.dates, without the words and short forms a person types)."""
    day = dates.parse_date(value, typed=False)
    return None if day is None else datetime.combine(day, datetime.min.time())


def parse_decimal(value: str, row: dict | None = None) -> Decimal | None:
    """A number as services.money reads it (1 234,50), a trailing % allowed; None for an empty cell."""
    text_ = value.strip().removesuffix("%")
    if not text_.strip():
        return None
    try:
        return money.parse(text_)
    except (ValueError, ArithmeticError):
        raise InvalidValue(_("Not a number; write for example 12,5.")) from None


def percent(value: str, row: dict) -> Decimal | None:
    number = parse_decimal(value)
    if number is not None and not Decimal(0) <= number <= Decimal(100):
        raise InvalidValue(_("A percentage between 0 and 100."))
    return None if number is None else number.quantize(Decimal("0.01"))


def whole_number(value: str, row: dict) -> int | None:
    number = parse_decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value() or not 0 <= number < 10**6:
        raise InvalidValue(_("A whole number, for example 30."))
    return int(number)


def payment_terms(value: str, row: dict) -> int | None:
    """Betalningsvillkor: a whole number of days within services.validation's rule (0–365)."""
    days = whole_number(value, row)
    return None if days is None else validation.payment_terms(days)


def customer_number(value: str, row: dict) -> int | None:
    digits = value.strip()
    if not digits:
        return None
    if not digits.isdigit() or len(digits) > 12:
        raise InvalidValue(_("A customer number is a whole number."))
    return int(digits)


YES = {"1", "ja", "j", "yes", "y", "x", "sant", "true", "leverantör", "leverantor"}
NO = {"0", "nej", "n", "no", "falskt", "false", "-"}


def boolean(value: str, row: dict) -> bool | None:
    word = value.strip().lower()
    if not word:
        return None
    if word in YES:
        return True
    if word in NO:
        return False
    raise InvalidValue(_("Write Ja or Nej."))


def choice(options: str):
    """A value from the model's `options` (code → label, e.g. "Lead.STATUSES"), given as the code or as its
    Swedish or English label. The options are looked up on first use: a worker process that never meets
    such a column never loads the models."""

    words: dict[str, str] = {}

    def labels() -> dict:
        found: Any = import_module("models")
        for name in options.split("."):
            found = getattr(found, name)
        return found

    def parse(value: str, row: dict) -> str | None:
        word = value.strip().lower()
        if not word:
            return None
        if not words:  # the labels in both languages, looked up once
            for code, label in labels().items():
                words.update({code: code, _msgid(label).lower(): code, _label_sv(label).lower(): code})
        if word in words:
            return words[word]
        raise InvalidValue(
            _(
                "Unknown value; use one of: %(values)s.",
                values=", ".join(_label_sv(label) for label in labels().values()),
            )
        )

    return parse


def _label_sv(label) -> str:
    return in_swedish(label)


def _msgid(label) -> str:
    """The English msgid of a lazy label (its text in the default language otherwise)."""
    args = getattr(label, "_args", None)
    return args[0] if args else str(label)


def letter_code(letters: int, message, names: dict[str, str] | None = None):
    """A code of `letters` capital letters (country SE, currency SEK), or one of its `names`."""

    def parse(value: str, row: dict) -> str | None:
        code = value.strip().upper()
        if not code:
            return None
        code = (names or {}).get(code, code)
        if not re.fullmatch(rf"[A-Z]{{{letters}}}", code):
            raise InvalidValue(str(message))
        return code

    return parse


country = letter_code(2, _l("A country code of two letters, for example SE."), {"SVERIGE": "SE", "SWEDEN": "SE"})
currency = letter_code(3, _l("A currency code of three letters, for example SEK."))


def language(value: str, row: dict) -> str | None:
    code = value.strip().lower()
    if not code:
        return None
    code = {"svenska": "sv", "swedish": "sv", "engelska": "en", "english": "en"}.get(code, code)
    if code not in ("sv", "en"):
        raise InvalidValue(_("Invoice language sv or en."))
    return code


def org_number(value: str, row: dict) -> str | None:
    return validation.org_number(value, row.get("country") or "SE")


def postcode(value: str, row: dict) -> str | None:
    return validation.postcode(value, row.get("country") or "SE")


def phone(value: str, row: dict) -> str | None:
    return validation.phone(value, row.get("country") or "SE")


def email(value: str, row: dict) -> str | None:
    return validation.email(value)


def website(value: str, row: dict) -> str | None:
    return validation.website(value)


def vat_number(value: str, row: dict) -> str | None:
    return validation.vat_number(value)


def personal_number(value: str, row: dict) -> str | None:
    return validation.personal_number(value)


def names(value: str, row: dict) -> list[str]:
    """A list of names in one cell (categories), separated by comma, semicolon or |."""
    parts = [p.strip() for p in re.split(r"[,;|]", value)]
    for part in parts:
        if len(part) > 100:
            raise InvalidValue(_("At most %(max)s characters.", max=100))
    return list(dict.fromkeys(p for p in parts if p))


def reference(value: str, row: dict) -> str | None:
    """A reference resolved later against the database (kundansvarig, bransch, company)."""
    return value.strip() or None


# --- rows ----------------------------------------------------------------------------


@dataclass
class RowError:
    """A problem with a row (kind "error": not imported), or a notice about it (kind "notice": imported,
    but likely the record `record_kind` `record_id` already in the register)."""

    row: int
    column: str | None
    value: str | None
    message: str
    kind: str = "error"
    record_kind: str | None = None
    record_id: int | None = None

    def as_dict(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "value": (self.value or "")[:200],
            "message": self.message[:300],
            "kind": self.kind,
            "record_kind": self.record_kind,
            "record_id": self.record_id,
        }


class RowParser:
    """Turns a file row's cells into the values to store, with an error for each bad cell.

    It depends only on the entity and the mapped columns, never on the
    database, so it can run in a worker process: it pickles as those two.
    """

    def __init__(self, entity_key: str, columns: list[tuple[int, str, str]], entry_kind: str | None = None):
        self.entity_key, self.spec, self.entry_kind = entity_key, columns, entry_kind
        entity = ENTITIES[entity_key]
        self.columns = [(index, entity.field(key), header) for index, key, header in columns]

    def __reduce__(self):
        return RowParser, (self.entity_key, self.spec, self.entry_kind)

    def parse(self, number: int, cells: list[str]) -> tuple:
        """(row number, {field key: value}, errors); with `entry_kind` (a dry run's services.duplicates kind) a
        fourth: what a row without errors is compared on for likely duplicates (services.name_keys.entry_fields;
        made here, in a parsing process, not in the queue worker, where it was 16 % of the CPU of a dry run
        against a register holding the file's companies), else None."""
        values: dict[str, Any] = {}
        errors: list[RowError] = []
        for index, fld, header in self.columns:
            raw = formulas.unneutralise(cells[index]) if index < len(cells) else ""  # an exported file's cells
            try:
                value = fld.parse(raw, values)
            except InvalidValue as exc:
                errors.append(RowError(number, header, raw, str(exc)))
                continue
            if value is not None and value != []:
                values[fld.key] = value
        if self.entry_kind is None:
            return number, values, errors
        return number, values, errors, None if errors else name_keys.entry_fields(self.entry_kind, values)

    def parse_batch(self, batch: list[tuple[int, list[str]]]) -> list[tuple]:
        return [self.parse(number, cells) for number, cells in batch]


# --- fields and entities -------------------------------------------------------------


def normalise_header(header: str) -> str:
    """A header reduced for matching: lower case, no accents, no spaces or punctuation."""
    folded = unicodedata.normalize("NFKD", header.strip().lower())
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in folded if not unicodedata.combining(c)))


@dataclass(frozen=True)
class Field:
    """One importable field: its label, the headers that mean it, how to parse a cell."""

    key: str
    #: (cell text, the row's values parsed so far) → the value
    parse: Callable[[str, dict], Any]
    aliases: tuple[str, ...] = ()
    required: bool = False
    #: The column written, when it differs from key (None: resolved by the engine).
    column: str | None = field(default="")
    #: The value a new record gets when the cell is empty.
    default: object = None

    @property
    def label(self):
        return fields.label(self.key)

    @property
    def db_column(self) -> str | None:
        return self.key if self.column == "" else self.column


@dataclass(frozen=True)
class Entity:
    """One kind of record an import can create or update."""

    key: str
    label: object
    #: The model's name in models (loaded when needed: parsing cells needs no models).
    model_name: str
    fields: tuple[Field, ...]
    #: Natural keys a user can match on (field keys).
    match_keys: tuple[str, ...]
    #: Columns that every new record gets (besides the fields' defaults).
    fixed: dict = field(default_factory=dict)

    @property
    def model(self) -> type:
        return getattr(import_module("models"), self.model_name)

    def field(self, key: str) -> Field:
        return self._by_key[key]

    @property
    def _by_key(self) -> dict[str, Field]:
        return {f.key: f for f in self.fields}

    @property
    def required(self) -> list[Field]:
        return [f for f in self.fields if f.required]

    def auto_map(self, headers: list[str]) -> dict[str, str]:
        """{column index: field key} for the headers that name a field (first column wins)."""
        wanted: dict[str, str] = {}
        for f in self.fields:
            for alias in (f.key, _msgid(f.label), _label_sv(f.label), *f.aliases):
                wanted.setdefault(normalise_header(alias), f.key)
        return _match_headers(headers, wanted)

    def apply_saved(self, headers: list[str], saved: dict[str, str]) -> dict[str, str]:
        """A saved mapping (header text → field key) applied to this file's headers."""
        return _match_headers(headers, {normalise_header(h): k for h, k in saved.items() if k in self._by_key})


def _match_headers(headers: list[str], wanted: dict[str, str]) -> dict[str, str]:
    """{column index: field key} for headers whose normalised text `wanted` names; a field once."""
    mapping, taken = {}, set()
    for index, header in enumerate(headers):
        key = wanted.get(normalise_header(header))
        if key and key not in taken:
            mapping[str(index)] = key
            taken.add(key)
    return mapping


def _address(prefix: str, street_aliases, postcode_aliases, city_aliases):
    return (
        Field(f"{prefix}_street", text(200), street_aliases),
        Field(f"{prefix}_postcode", postcode, postcode_aliases),
        Field(f"{prefix}_city", text(100), city_aliases),
    )


POSTAL = _address(
    "postal",
    ("Adress", "Address", "Gatuadress", "Street", "Utdelningsadress", "Postadress"),
    ("Postnummer", "Postnr", "Post nr", "Zip", "Zip code", "Postal code"),
    ("Ort", "Postort", "Stad", "Town"),
)
VISIT = _address(
    "visit",
    ("Besöksadress", "Visit address"),
    ("Besökspostnummer", "Besök postnummer"),
    ("Besöksort", "Besök ort"),
)
INVOICE = _address(
    "invoice",
    ("Fakturaadress",),
    ("Fakturapostnummer", "Faktura postnummer"),
    ("Fakturaort", "Faktura ort"),
)
INVOICE_DEFAULTS = (
    Field("invoice_language", language, ("Fakturaspråk", "Språk", "Language"), default="sv"),
    Field(
        "discount_percent",
        percent,
        ("Rabatt", "Rabatt %", "Rabatt procent", "Discount"),
        default=Decimal("0"),
    ),
    Field(
        "payment_terms_days",
        payment_terms,
        ("Betalningsvillkor", "Betalningsvillkor dagar", "Betalvillkor", "Payment terms", "Kredittid"),
        default=30,
    ),
    Field("currency", currency, ("Valuta",), default="SEK"),
)
CATEGORIES = Field("categories", names, ("Kategori", "Kategorier", "Category"), column=None)
OWNER = Field(
    "owner",
    reference,
    ("Kundansvarig", "Ansvarig", "Säljare", "Owner", "Account manager"),
    column=None,
)
CREATED = Field("created_at", parse_date, ("Skapad", "Skapad datum", "Kund sedan", "Created", "Registrerad"))
NOTE = Field("note", text(10_000), ("Anteckning", "Anteckningar", "Notering", "Kommentar", "Notes", "Comment"))
PHONE = Field("phone", phone, ("Telefon", "Tel", "Telefonnummer", "Växel", "Phone number"))
MOBILE = Field("mobile", phone, ("Mobil", "Mobiltelefon", "Mobilnummer", "Mobile phone", "Cell"))
EMAIL = Field("email", email, ("E-post", "Epost", "Mejl", "Mail", "Email", "E-postadress"))
CUSTOMER_NUMBER = Field("customer_number", customer_number, ("Kundnummer", "Kundnr", "Kund nr", "Customer number"))
FIRST_NAME = Field("first_name", text(100), ("Förnamn", "Firstname", "Given name"))
LAST_NAME = Field("last_name", text(100), ("Efternamn", "Lastname", "Surname", "Family name"), required=True)

COMPANY = Entity(
    "company",
    _l("Companies"),
    "Company",
    (
        CUSTOMER_NUMBER,
        Field(
            "name",
            text(200),
            ("Företagsnamn", "Företag", "Namn", "Kundnamn", "Company", "Company name", "Firma", "Bolag"),
            required=True,
        ),
        Field(
            "org_number",
            org_number,
            ("Org.nr", "Orgnr", "Org nr", "Organisationsnummer", "Organisation number", "Company registration number"),
        ),
        Field(
            "vat_number",
            vat_number,
            ("Momsnummer", "Momsregistreringsnummer", "VAT", "Moms nr", "VAT number"),
        ),
        Field("country", country, ("Land", "Landskod", "Country code"), default="SE"),
        Field("status", choice("COMPANY_STATUSES_CHOSEN"), ("Kundstatus",), default="active"),
        Field("industry", reference, ("Bransch", "Branch", "SNI"), column=None),
        CATEGORIES,
        OWNER,
        Field(
            "is_supplier",
            boolean,
            ("Leverantör", "Visa som leverantör", "Supplier"),
            default=False,
        ),
        PHONE,
        EMAIL,
        Field("website", website, ("Webb", "Hemsida", "Webbplats", "Webbadress", "Web", "Url", "Homepage")),
        *POSTAL,
        *VISIT,
        *INVOICE,
        *INVOICE_DEFAULTS,
        NOTE,
        CREATED,
    ),
    ("customer_number", "org_number", "email"),
    fixed={"email_locked": False},
)

#: Samtycke och rättslig grund (services.consent); an import records the consents it writes as its own.
CONSENT = (
    Field(
        "lawful_basis",
        choice("ConsentMixin.BASES"),
        ("Rättslig grund", "Laglig grund", "Lawful basis"),
        default="legitimate_interest",
    ),
    Field(
        "consent_email",
        boolean,
        ("Samtycke e-post", "Samtycke epost", "Samtycke mejl", "E-post samtycke", "Consent e-mail"),
    ),
    Field("consent_sms", boolean, ("Samtycke sms", "Sms samtycke", "Consent SMS")),
    Field("consent_phone", boolean, ("Samtycke telefon", "Telefon samtycke", "Consent phone")),
)

CONTACT = Entity(
    "contact",
    _l("Contacts"),
    "Contact",
    (
        FIRST_NAME,
        LAST_NAME,
        Field("title", text(100), ("Titel", "Befattning", "Roll", "Role", "Position")),
        EMAIL,
        PHONE,
        MOBILE,
        Field(
            "company_customer_number",
            customer_number,
            ("Företagets kundnummer", "Företag kundnummer", "Company customer number"),
            column=None,
        ),
        Field(
            "company_org_number",
            org_number,
            ("Företagets organisationsnummer", "Företagets orgnr", "Företag orgnr", "Company org number"),
            column=None,
        ),
        CATEGORIES,
        OWNER,
        *POSTAL,
        *CONSENT,
        NOTE,
        CREATED,
    ),
    ("email",),
    fixed={
        "customer_number": None,
        "personal_number": None,
        "invoice_language": "sv",
        "discount_percent": Decimal("0"),
        "payment_terms_days": 30,
        "currency": "SEK",
    },
)

PRIVATE_CUSTOMER = Entity(
    "privatecustomer",
    _l("Private customers"),
    "Contact",
    (
        CUSTOMER_NUMBER,
        FIRST_NAME,
        LAST_NAME,
        Field(
            "personal_number",
            personal_number,
            ("Personnummer", "Personnr", "Person nr", "Personal number"),
        ),
        EMAIL,
        PHONE,
        MOBILE,
        CATEGORIES,
        OWNER,
        *POSTAL,
        *INVOICE_DEFAULTS,
        *CONSENT,
        NOTE,
        CREATED,
    ),
    ("customer_number", "personal_number", "email"),
)

LEAD = Entity(
    "lead",
    _l("Leads"),
    "Lead",
    (
        Field(
            "company_name",
            text(200),
            ("Företagsnamn", "Företag", "Namn", "Company", "Bolag"),
            required=True,
        ),
        Field("org_number", org_number, ("Org.nr", "Orgnr", "Org nr", "Organisationsnummer")),
        Field("contact_first_name", text(100), ("Förnamn", "Kontakt förnamn", "First name")),
        Field("contact_last_name", text(100), ("Efternamn", "Kontakt efternamn", "Last name")),
        Field("contact_title", text(100), ("Titel", "Befattning", "Title")),
        Field("contact_phone", phone, ("Telefon", "Tel", "Mobil", "Phone")),
        Field("contact_email", email, ("E-post", "Epost", "Mail", "Email")),
        Field("source", text(100), ("Källa", "Leadkälla", "Lead source")),
        Field("status", choice("Lead.STATUSES_CHOSEN"), ("Leadstatus",), default="new"),
        CATEGORIES,
        OWNER,
        *CONSENT,
        NOTE,
        CREATED,
    ),
    ("org_number", "contact_email"),
)

ENTITIES: dict[str, Entity] = {e.key: e for e in (COMPANY, CONTACT, PRIVATE_CUSTOMER, LEAD)}
MODES = {
    "create": _l("Create new only"),
    "upsert": _l("Create new and update existing"),
    "update": _l("Update existing only"),
}
