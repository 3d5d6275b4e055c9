"""Företagsuppslag: companies looked up in the company register, by name or organisationsnummer.

Sources (providers): the bulk file loaded by `flask --app app registry load` (services.registry_loader),
searched by name and number; and, when the administrator has configured it, Bolagsverket's API
"Värdefulla datamängder" v1, asked for one organisationsnummer at a time (it cannot search by name):
its answer is fresher and goes before the file's.

A name is found the way quick search finds text (services.search): folded (case, accents but å, ä,
ö), first as the beginning of the name (a bytewise index of the folded name on both databases), then
anywhere in it (pg_trgm GIN on PostgreSQL, FTS5 trigram on SQLite), then, for a word with a typo,
by similarity (pg_trgm's word similarity; on SQLite the names holding either half of the word,
ranked by FTS5's bm25 over the word's trigrams, then by difflib).
"""

from __future__ import annotations

import base64
import difflib
import http.client
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from http import HTTPStatus

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, column, or_, select, table, text
from sqlalchemy.orm import Session

from models import Company, RegistryCompany, RegistryLoad
from services import formatting, validation
from services.search import fold, words
from services.validation import InvalidValue

#: Forms of organisation by Bolagsverket's code.
LEGAL_FORMS = {
    "AB": _l("Limited company"),
    "BAB": _l("Bank limited company"),
    "FAB": _l("Insurance limited company"),
    "HB": _l("Trading partnership"),
    "KB": _l("Limited partnership"),
    "E": _l("Sole trader"),
    "EF": _l("Sole trader"),
    "EK": _l("Economic association"),
    "BRF": _l("Housing cooperative"),
    "BF": _l("Housing association"),
    "KHF": _l("Cooperative rental association"),
    "I": _l("Non-profit association"),
    "S": _l("Foundation"),
    "FL": _l("Branch of a foreign company"),
    "SB": _l("Savings bank"),
    "OFB": _l("Mutual insurance company"),
    "SE": _l("European company"),
    "EGTS": _l("European economic interest grouping"),
    "TSF": _l("Religious community"),
}
#: Results of a look-up, at most.
LIMIT = 10
#: Rows a substring or similarity search looks at before ranking.
CANDIDATES = 50
MAX_WORDS = 6
MIN_SIMILARITY = 0.75
#: PostgreSQL: pg_trgm's word similarity a candidate needs.
WORD_SIMILARITY = 0.5


class ProviderError(Exception):
    """The online register did not answer as it should (the message, translated, says how); `status` is
    the HTTP status it answered with, None when it gave none."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class RegistryEntry:
    """A company as the register has it."""

    org_number: str
    name: str
    legal_form: str | None = None
    registered_on: date | None = None
    deregistered_on: date | None = None
    deregistration_reason: str | None = None
    business_description: str | None = None
    postal_co: str | None = None
    postal_street: str | None = None
    postal_postcode: str | None = None
    postal_city: str | None = None
    source: str = "file"
    deregistered: bool = field(default=False)

    @property
    def is_active(self) -> bool:
        return self.deregistered_on is None and not self.deregistered

    @property
    def legal_form_label(self) -> str | None:
        if not self.legal_form:
            return None
        return str(LEGAL_FORMS.get(self.legal_form, self.legal_form))

    def company_fields(self) -> dict[str, str | None]:
        """The customer's fields as the register fills them (form values, formatted for the form)."""
        street = self.postal_street
        if self.postal_co:
            street = f"c/o {self.postal_co}, {street}" if street else f"c/o {self.postal_co}"
        try:
            postcode = validation.postcode(self.postal_postcode)
        except InvalidValue:
            postcode = self.postal_postcode
        return {
            "name": self.name,
            "org_number": formatting.org_number(self.org_number),
            "country": "SE",
            "legal_form": self.legal_form_label,
            "postal_street": street,
            "postal_postcode": postcode,
            "postal_city": self.postal_city,
        }

    def as_json(self) -> dict:
        data = asdict(self)
        for key in ("registered_on", "deregistered_on"):
            data[key] = data[key].isoformat() if data[key] else None
        fields = self.company_fields()
        return {
            **data,
            "org_number_display": formatting.org_number(self.org_number),
            "legal_form_label": self.legal_form_label,
            "active": self.is_active,
            "fields": {**fields, "company_name": fields["name"]},
        }


def _entry(row: RegistryCompany) -> RegistryEntry:
    return RegistryEntry(
        org_number=row.org_number,
        name=row.name,
        legal_form=row.legal_form,
        registered_on=row.registered_on,
        deregistered_on=row.deregistered_on,
        deregistration_reason=row.deregistration_reason,
        business_description=row.business_description,
        postal_co=row.postal_co,
        postal_street=row.postal_street,
        postal_postcode=row.postal_postcode,
        postal_city=row.postal_city,
    )


def active_load(session: Session) -> RegistryLoad | None:
    """The load look-ups read (its date is the date of the data), or None before the first load."""
    return session.scalars(select(RegistryLoad).where(RegistryLoad.status == "active")).first()


# --- the bulk file -------------------------------------------------------------------------------


def _org_digits(text_value: str) -> str | None:
    """The digits of a typed organisationsnummer (6–12 digits and dashes/spaces, as pasted: an en
    dash, a no-break space), else None."""
    compact = validation.compact_number(text_value or "")
    if not re.fullmatch(r"[0-9]{6,12}", compact):
        return None
    return compact[2:] if len(compact) == 12 else compact[:10]


def _like_escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class BulkFileProvider:
    """The register as the last bulk file loaded it."""

    name = "file"

    def fetch(self, session: Session, org_number: str) -> RegistryEntry | None:
        rows = session.scalars(select(RegistryCompany).where(RegistryCompany.org_number == org_number)).all()
        if not rows:
            return None
        return _entry(min(rows, key=lambda r: (r.deregistered_on is not None, r.id)))

    def search(self, session: Session, text_value: str, *, limit: int = LIMIT) -> list[RegistryEntry]:
        digits = _org_digits(text_value)
        if digits is not None:
            low, high = digits + "0" * (10 - len(digits)), digits + "9" * (10 - len(digits))
            rows = session.scalars(
                select(RegistryCompany)
                .where(RegistryCompany.org_number >= low, RegistryCompany.org_number <= high)
                .order_by(RegistryCompany.org_number)
                .limit(limit)
            ).all()
            return [_entry(r) for r in rows]
        terms = [fold(w) for w in words(text_value)][:MAX_WORDS]
        if not terms:
            return []
        postgresql = session.get_bind().dialect.name == "postgresql"
        found: dict[int, tuple] = {}

        def add(rows, stage: int) -> None:
            for position, row in enumerate(rows):
                if row.id not in found and _has_short_words(row.search_name, terms):
                    begins = _starts_a_word(row.search_name, terms[0])
                    similarity_order = position if stage == 2 else 0  # _similar's rows come best first
                    found[row.id] = (
                        stage,
                        row.deregistered_on is not None,
                        not begins,
                        similarity_order,
                        row.search_name,
                        row,
                    )

        add(self._prefix(session, " ".join(terms), limit, postgresql), 0)
        if len(found) < limit and any(len(t) >= 3 for t in terms):
            rows = self._substring(session, [t for t in terms if len(t) >= 3], postgresql)
            add(rows, 1)
        elif len(found) < limit:  # only words of one or two characters: each begins a word of the name
            add(self._prefix(session, terms[0], CANDIDATES, postgresql), 1)
        if not found:
            add(self._similar(session, terms, postgresql), 2)
        ranked = sorted(found.values(), key=lambda item: item[:5])
        return [_entry(item[5]) for item in ranked[:limit]]

    @staticmethod
    def _prefix(session: Session, prefix: str, limit: int, postgresql: bool):
        name = RegistryCompany.search_name.collate("C") if postgresql else RegistryCompany.search_name
        return session.scalars(
            select(RegistryCompany).where(name >= prefix, name < prefix + "\uffff").order_by(name).limit(limit)
        ).all()

    @staticmethod
    def _substring(session: Session, terms: list[str], postgresql: bool):
        if postgresql:
            condition = and_(*(RegistryCompany.search_name.like(f"%{_like_escaped(t)}%") for t in terms))
        else:
            fts = table("registry_company_search", column("rowid"), column("words"))
            query = " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)
            # The limit inside: SQLite would otherwise collect every match of a common word first.
            condition = RegistryCompany.id.in_(
                select(fts.c.rowid).where(fts.c.words.op("MATCH")(query)).limit(CANDIDATES)
            )
        return session.scalars(select(RegistryCompany).where(condition).limit(CANDIDATES)).all()

    @staticmethod
    def _similar(session: Session, terms: list[str], postgresql: bool):
        """Names with words like those typed (a letter wrong, missing or extra): every typed word is
        in the name or shares trigrams with it (pg_trgm's word similarity; FTS5: any of the word's
        trigrams, best bm25 rank first); the candidates are then ranked by difflib."""
        typed = [t for t in terms if len(t) >= 3]
        if not any(len(t) >= 4 for t in typed):
            return []
        if postgresql:
            # pg_trgm's default (0.6) misses a letter left out of an eight-letter word.
            session.execute(text(f"SET LOCAL pg_trgm.word_similarity_threshold = {WORD_SIMILARITY}"))
            condition = and_(
                *(
                    or_(
                        RegistryCompany.search_name.like(f"%{_like_escaped(t)}%"),
                        text(f":word{i} <% registry_company.search_name").bindparams(**{f"word{i}": t}),
                    )
                    for i, t in enumerate(typed)
                )
            )
        else:
            fts = table("registry_company_search", column("rowid"), column("words"))
            groups = []
            for t in typed:
                grams = [t] + sorted({t[i : i + 3] for i in range(len(t) - 2)} - {t})
                groups.append("(" + " OR ".join('"' + g.replace('"', '""') + '"' for g in grams) + ")")
            condition = RegistryCompany.id.in_(
                select(fts.c.rowid)
                .where(fts.c.words.op("MATCH")(" AND ".join(groups)))
                .order_by(text("rank"))
                .limit(CANDIDATES)
            )
        rows = session.scalars(select(RegistryCompany).where(condition).limit(CANDIDATES)).all()
        scored = [(min(_similarity(t, r.search_name) for t in terms), r) for r in rows]
        return [r for score, r in sorted(scored, key=lambda s: (-s[0], s[1].search_name)) if score >= MIN_SIMILARITY]


def _similarity(word: str, name: str) -> float:
    if word in name:
        return 1.0
    return max((difflib.SequenceMatcher(None, word, w).ratio() for w in name.split()), default=0.0)


def _starts_a_word(name: str, term: str) -> bool:
    return name.startswith(term) or f" {term}" in name


def _has_short_words(name: str, terms: list[str]) -> bool:
    """A word of one or two characters is the beginning of a word of the name."""
    return all(_starts_a_word(name, t) for t in terms if len(t) < 3)


# --- Bolagsverket's API ------------------------------------------------------------------------


@dataclass
class BolagsverketApiProvider:
    """Bolagsverket "Värdefulla datamängder" v1: `POST {base_url}/organisationer` with
    `{"identitetsbeteckning": "<10 digits>"}` and an OAuth2 client-credentials bearer token."""

    base_url: str
    token_url: str
    client_id: str
    client_secret: str
    scope: str = "vardefulla-datamangder:read vardefulla-datamangder:ping"
    timeout: float = 10
    name: str = "api"
    _token: tuple[str, float] | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config) -> BolagsverketApiProvider | None:
        """The configured API, or None when the administrator has not set it up."""
        if not config.get("REGISTRY_API_CLIENT_ID"):
            return None
        return cls(
            base_url=config["REGISTRY_API_URL"].rstrip("/"),
            token_url=config["REGISTRY_API_TOKEN_URL"],
            client_id=config["REGISTRY_API_CLIENT_ID"],
            client_secret=config["REGISTRY_API_CLIENT_SECRET"],
            scope=config.get("REGISTRY_API_SCOPE") or cls.scope,
        )

    def _request(self, request: urllib.request.Request) -> dict:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise ProviderError(
                _("HTTP %(status)s from %(url)s", status=exc.code, url=request.full_url), status=exc.code
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
            raise ProviderError(_("%(url)s does not answer (%(error)s)", url=request.full_url, error=exc)) from None
        except ValueError:
            raise ProviderError(_("%(url)s did not answer with JSON", url=request.full_url)) from None

    def token(self) -> str:
        """A bearer token, fetched with the client credentials and kept until shortly before it expires."""
        if self._token and self._token[1] > time.monotonic():
            return self._token[0]
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": self.scope}).encode()
        credentials = f"{self.client_id}:{self.client_secret}".encode()
        request = urllib.request.Request(
            self.token_url,
            data=body,
            method="POST",
            headers={
                "Authorization": "Basic " + base64.b64encode(credentials).decode(),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        answer = self._request(request)
        if "access_token" not in answer:
            raise ProviderError(_("No access_token in the answer from %(url)s", url=self.token_url))
        self._token = (answer["access_token"], time.monotonic() + max(int(answer.get("expires_in", 300)) - 30, 0))
        return self._token[0]

    def fetch(self, session: Session | None, org_number: str) -> RegistryEntry | None:
        request = urllib.request.Request(
            f"{self.base_url}/organisationer",
            data=json.dumps({"identitetsbeteckning": org_number}).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token()}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-Request-Id": str(uuid.uuid4()),
            },
        )
        try:
            answer = self._request(request)
        except ProviderError as exc:
            if exc.status == HTTPStatus.NOT_FOUND:
                return None
            raise
        organisations = answer.get("organisationer") or []
        parsed = [parse_organisation(o) for o in organisations]
        found = [f for f in parsed if f is not None]
        return min(found, key=lambda e: not e.is_active) if found else None

    def search(self, session: Session, text_value: str, *, limit: int = LIMIT) -> list[RegistryEntry]:
        digits = _org_digits(text_value)
        if digits is None or len(digits) != 10:
            return []  # the API is asked by number only
        entry = self.fetch(session, digits)
        return [entry] if entry else []


def _value(data: dict | None, *path: str):
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _api_date(value) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def parse_organisation(data: dict) -> RegistryEntry | None:
    """One `Organisation` of the API's answer (every field a wrapper that may carry `fel` instead)."""
    if _value(data, "fel"):
        return None
    identity = re.sub(r"\D", "", str(_value(data, "organisationsidentitet", "identitetsbeteckning") or ""))
    names = _value(data, "organisationsnamn", "organisationsnamnLista") or []
    if len(identity) < 10 or not names:
        return None
    address = _value(data, "postadressOrganisation", "postadress") or {}
    deregistered_on = _api_date(_value(data, "avregistreradOrganisation", "avregistreringsdatum"))
    return RegistryEntry(
        org_number=identity[-10:],
        name=str(names[0].get("namn") or "").strip(),
        legal_form=_value(data, "organisationsform", "kod"),
        registered_on=_api_date(_value(data, "organisationsdatum", "registreringsdatum")),
        deregistered_on=deregistered_on,
        deregistration_reason=_value(data, "avregistreringsorsak", "klartext"),
        business_description=_value(data, "verksamhetsbeskrivning", "beskrivning"),
        postal_co=address.get("coAdress"),
        postal_street=address.get("utdelningsadress"),
        postal_postcode=(address.get("postnummer") or "").replace(" ", "") or None,
        postal_city=address.get("postort"),
        source="api",
        deregistered=_value(data, "verksamOrganisation", "kod") == "NEJ" and deregistered_on is not None,
    )


# --- look-up, duplicates, refresh ------------------------------------------------------------------


@dataclass
class LookupResult:
    entries: list[RegistryEntry]
    data_date: date | None
    warning: str | None = None


def providers(config) -> list:
    """The sources in the order they are asked: the online register when configured, then the file."""
    online = BolagsverketApiProvider.from_config(config)
    return ([online] if online else []) + [BulkFileProvider()]


def lookup(session: Session, text_value: str, *, sources: list, limit: int = LIMIT) -> LookupResult:
    """Companies matching `text_value` (a name or an organisationsnummer), the first source's answer
    for a number going before the others'."""
    entries: list[RegistryEntry] = []
    warning = None
    for source in sources:
        try:
            found = source.search(session, text_value, limit=limit)
        except ProviderError as exc:
            warning = str(exc)
            continue
        entries += [e for e in found if all(e.org_number != seen.org_number for seen in entries)]
    load = active_load(session)
    return LookupResult(entries[:limit], load.data_date if load else None, warning)


def fetch(session: Session, org_number: str, *, sources: list) -> RegistryEntry | None:
    """The company with this organisationsnummer from the first source that has it."""
    for source in sources:
        try:
            entry = source.fetch(session, org_number)
        except ProviderError:
            continue
        if entry is not None:
            return entry
    return None


#: The customer's fields the register refreshes, in the order shown.
REFRESHED = ("name", "legal_form", "postal_street", "postal_postcode", "postal_city")


@dataclass(frozen=True)
class Difference:
    field: str
    current: str | None
    register: str | None


def differences(company: Company, entry: RegistryEntry) -> list[Difference]:
    """The refreshed fields where the customer's stored value is not the register's."""
    fields = entry.company_fields()
    found = []
    for name in REFRESHED:
        current, new = getattr(company, name), fields.get(name)
        if (current or None) != (new or None):
            found.append(Difference(name, current, new))
    return found


def accept(company: Company, entry: RegistryEntry, chosen: list[str]) -> list[str]:
    """Take the register's value for each chosen field that differs; the fields changed."""
    changed = []
    for difference in differences(company, entry):
        if difference.field in chosen:
            setattr(company, difference.field, difference.register)
            changed.append(difference.field)
    return changed
