"""The whole UI is Swedish: the catalogue is complete and translated, and no
screen shows an English UI string.

The page test looks for every English msgid (ours, Flask-Admin's and
WTForms') whose Swedish text differs from it, as whole words, in the visible
text and the user-facing attributes of each screen, with the demo register
loaded. English that Flask-Admin or WTForms show is reported there too: it is
fixed with a template or view override, not in our catalogue.
"""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import flask_admin
import pytest
import wtforms
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from sqlalchemy import String, select

from config import BASE_DIR
from extensions import db
from models import Category, Company, Contact, Employee, EmployeeGroup, ImportJob, Industry, Invoice, Lead
from services import layout, translations

PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|%[sdifr]|\{\w*\}")
FLASK_ADMIN_PO = Path(flask_admin.__file__).parent / "translations" / "sv" / "LC_MESSAGES" / "admin.po"
WTFORMS_PO = Path(wtforms.__file__).parent / "locale" / "sv" / "LC_MESSAGES" / "wtforms.po"
FLASK_ADMIN_TEMPLATES = Path(flask_admin.__file__).parent / "templates" / "bootstrap4"
LITERAL_ATTRIBUTE = re.compile(r'\b(?:aria-label|title|alt|placeholder)="([A-Za-z][^"{}]*)"')


def _read(path: Path):
    with open(path, "rb") as f:
        return read_po(f, locale="sv")


def _forms(value) -> tuple[str, ...]:
    """A msgid or msgstr as a tuple (singular and plural forms)."""
    return (value,) if isinstance(value, str) else tuple(value)


def _placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\(\w+\)[sdifr]", text))


# --- the catalogue -------------------------------------------------------------------


def test_catalogue_header():
    catalog = _read(translations.catalog_path("sv"))
    assert str(catalog.locale) == "sv"
    assert catalog.plural_forms == "nplurals=2; plural=(n != 1);"
    assert not catalog.fuzzy, "the catalogue header is marked fuzzy"


def test_every_message_is_translated_and_not_fuzzy():
    catalog = _read(translations.catalog_path("sv"))
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids, strings = _forms(message.id), _forms(message.string)
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        if message.pluralizable and len(strings) != catalog.num_plurals:
            problems.append(f"{len(strings)} plural forms instead of {catalog.num_plurals}: {ids[0]!r}")
        if not all(s.strip() for s in strings):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        for text in strings:
            if _placeholders(text) != _placeholders(ids[-1]) and _placeholders(text) != _placeholders(ids[0]):
                problems.append(f"placeholders differ: {ids[0]!r} → {text!r}")
    assert not problems, "\n".join(problems)


def test_catalogue_has_every_msgid_of_the_code_and_templates(tmp_path):
    """Extract like `flask translate update` does, into tmp_path, and compare."""
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(BASE_DIR / "babel.cfg"),
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            "--no-location",
            "--omit-header",
            str(BASE_DIR),
        ]
    )
    extracted = _read(pot)
    catalog = _read(translations.catalog_path("sv"))
    assert len([m for m in extracted if m.id]) > 50, "the extraction found almost nothing"
    missing = []
    for message in extracted:
        if not message.id:
            continue
        known = catalog.get(message.id)
        if known is None or not all(_forms(known.string)) or known.fuzzy:
            missing.append(_forms(message.id)[0])
    assert not missing, (
        "msgids in the code without a Swedish text in messages.po "
        "(run `flask --app app translate update` and translate them):\n" + "\n".join(map(repr, missing))
    )


def test_compiled_catalogue_translates(app):
    """The compiled .mo is used: the FAQ's labels come out in Swedish."""
    from flask_babel import force_locale, gettext, ngettext

    with app.test_request_context(), force_locale("sv"):
        assert gettext("Create new company contact") == "Skapa ny företagskontakt"
        assert gettext("Connect existing contact to the company") == "Koppla existerande kontakt till företaget"
        assert gettext("Restore customers") == "Återställa kunder"
        assert ngettext("%(num)s record", "%(num)s records", 1) == "1 post"
        assert ngettext("%(num)s record", "%(num)s records", 3) == "3 poster"


def test_our_flask_admin_texts_are_gaps_in_its_own_catalogue(app, login):
    """translations/sv/LC_MESSAGES/admin.po only takes effect for messages Flask-Admin's compiled
    Swedish catalogue lacks: Flask-Admin merges its own over it (so "Posten sparades framgångsrikt."
    cannot be reworded there). Should an upgrade fill one of our gaps, ours would silently stop
    showing: this test says so."""
    from babel.messages.mofile import read_mo

    from tests.helpers import flashes

    with open(FLASK_ADMIN_PO.with_suffix(".mo"), "rb") as f:
        theirs = read_mo(f)
    ours = {m.id: m.string for m in _read(BASE_DIR / "translations" / "sv" / "LC_MESSAGES" / "admin.po") if m.id}
    for msgid in ours:
        assert theirs.get(msgid) is None, f"Flask-Admin now translates {msgid!r}: ours is no longer shown"
    response = login("admin").post("/admin/industry/new/", {"name": ""})  # a create the form refuses
    assert ("danger", ours["Failed to create record."]) in flashes(response)


# --- the screens ---------------------------------------------------------------------


def _english_terms() -> dict[str, re.Pattern]:
    """English UI text to look for: each msgid (or its literal parts around
    placeholders) whose Swedish translation differs, from our catalogue,
    Flask-Admin's and WTForms' (form errors), and the English that
    Flask-Admin's templates hard-code in attributes ("Toggle navigation").
    A term that also occurs in some Swedish translation (such as "Filter" or
    "CRM") is no evidence and is left out."""
    pairs = []
    for path in (translations.catalog_path("sv"), FLASK_ADMIN_PO, WTFORMS_PO):
        for message in _read(path):
            if message.id:
                pairs.extend(zip(_forms(message.id), _forms(message.string), strict=False))
    for template in sorted(FLASK_ADMIN_TEMPLATES.rglob("*.html")):
        pairs.extend((text, "") for text in LITERAL_ATTRIBUTE.findall(template.read_text(encoding="utf-8")))
    swedish = "\n".join(s for _, s in pairs)

    def phrase(text: str) -> str:
        return r"(?<!\w)" + r"\s+".join(map(re.escape, text.split())) + r"(?!\w)"

    terms = {}
    for msgid, msgstr in pairs:
        msgid = msgid.replace("\\'", "'")
        if msgstr.strip() == msgid.strip():
            continue  # the same in Swedish ("Status", "Filter")
        for part in PLACEHOLDER.split(msgid):
            part = part.strip(" \t\n()[]'\"\\,:;-–")
            if not re.search(r"[A-Za-z]{3}", part) or part in terms:
                continue
            pattern = re.compile(phrase(part))
            if not pattern.search(swedish):
                terms[part] = pattern
    return terms


class _VisibleText(HTMLParser):
    """What a user reads: text outside <script>/<style>, and placeholder,
    title, aria-label, alt, button values and confirm() messages. An element
    marked as another language (`lang="en"`, such as "English" in the
    language menu) is meant to be read in that language and is skipped."""

    ATTRIBUTES = ("placeholder", "title", "aria-label", "alt", "data-placeholder")
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0
        self._foreign: list[str] = []  # open elements of another language (and those inside them)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        lang = (attributes.get("lang") or "").lower()
        if tag != "html" and tag not in self.VOID and (self._foreign or (lang and not lang.startswith("sv"))):
            self._foreign.append(tag)
        if self._foreign or (lang and tag != "html" and not lang.startswith("sv")):
            return
        if tag in ("script", "style"):
            self._skip += 1
        for name in self.ATTRIBUTES:
            if attributes.get(name):
                self.chunks.append(attributes[name])
        input_type = (attributes.get("type") or "").lower()
        if attributes.get("value") and (
            tag == "button" or (tag == "input" and input_type in ("submit", "button", "reset"))
        ):
            self.chunks.append(attributes["value"])
        for name, value in attrs:
            if name.startswith("on") and value:
                for m in re.finditer(r"confirm\(\s*(['\"])(.*?)(?<!\\)\1", value):
                    self.chunks.append(_js_string(m.group(2)) if m.group(1) == '"' else m.group(2))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if self._foreign:
            if tag in self._foreign:
                del self._foreign[len(self._foreign) - 1 - self._foreign[::-1].index(tag) :]
            return
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and not self._foreign and data.strip():
            self.chunks.append(data)


def _js_string(literal: str) -> str:
    """A double-quoted JS string as the user sees it (`|tojson` writes \\u00f6 for ö)."""
    try:
        return json.loads(f'"{literal}"')
    except ValueError:
        return literal


ADDRESSES = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")
CODE = re.compile(r"[a-z0-9_.:+-]+")


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return ADDRESSES.sub(" ", "\n".join(parser.chunks))


def user_data_pattern() -> re.Pattern | None:
    """Every text value in the database (names, titles, notes …): what users
    typed is not UI text, even where it is English ("Key account manager")."""
    values = set()
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String):
                values.update(db.session.scalars(select(column).where(column.is_not(None)).distinct()))
    # Code values (`active`, `sv`) are not shown as such; removing them could hide real words.
    # (A code with a dot decimal in it, an SNI code "69.2", is removed: it is not a number to format.)
    values = {
        v.strip()
        for v in values
        if isinstance(v, str)
        and len(v.strip()) > 2
        and (not CODE.fullmatch(v.strip()) or DOT_DECIMAL.fullmatch(v.strip()))
    }
    if not values:
        return None
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def english_on_page(text: str, terms: dict[str, re.Pattern], user_data: re.Pattern | None = None) -> dict[str, str]:
    """{English term: the text around it} for each term shown on the page."""
    if user_data is not None:
        text = user_data.sub(" ", text)
    matches = {term: match for term, pattern in terms.items() if (match := pattern.search(text))}
    found = {}
    for term, match in matches.items():
        if any(
            other.start() <= match.start()
            and match.end() <= other.end()
            and other.end() - other.start() > len(match[0])
            for other in matches.values()
        ):
            continue  # part of a longer English phrase that is reported
        start, end = max(match.start() - 40, 0), match.end() + 40
        found[term] = "…" + " ".join(text[start:end].split()) + "…"
    return found


BOOLEAN_WORDS = re.compile(r"(?<!\w)(?:True|False|None)(?!\w)")
#: 2.5, 0.00, 1,234.50: a number written the English way (a dot before the decimals).
DOT_DECIMAL = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})*\.\d+(?![\w.])|(?<![\w.,])\d+\.\d+(?![\w.])")


def unswedish_values(text: str, user_data: re.Pattern | None = None) -> dict[str, str]:
    """{value: the text around it} for Python's True/False/None and dot decimals shown as such."""
    if user_data is not None:
        text = user_data.sub(" ", text)
    found = {}
    for pattern in (BOOLEAN_WORDS, DOT_DECIMAL):
        for match in pattern.finditer(text):
            start, end = max(match.start() - 40, 0), match.end() + 40
            found.setdefault(match[0], "…" + " ".join(text[start:end].split()) + "…")
    return found


def _first_id(statement) -> int:
    row_id = db.session.scalar(statement.limit(1))
    assert row_id is not None, f"the demo data has no row for {statement}"
    return row_id


def _screens() -> list[str]:
    live_company = select(Company.id).where(Company.deleted_at.is_(None)).order_by(Company.id)
    live_contact = select(Contact.id).where(Contact.deleted_at.is_(None)).order_by(Contact.id)
    ids = {
        "company": _first_id(live_company),
        "supplier": _first_id(live_company.where(Company.is_supplier.is_(True))),
        "contact": _first_id(live_contact),
        "privatecustomer": _first_id(live_contact.where(Contact.customer_number.is_not(None))),
        "employee": _first_id(select(Employee.id).order_by(Employee.id)),
        "employeegroup": _first_id(select(EmployeeGroup.id).order_by(EmployeeGroup.id)),
        "category": _first_id(select(Category.id).order_by(Category.id)),
        "industry": _first_id(select(Industry.id).order_by(Industry.id)),
    }
    linked_contact = _first_id(live_contact.where(Contact.customer_number.is_(None), Contact.company_links.any()))
    urls = ["/admin/", "/admin/people/?q=an", "/admin/trash/"]
    for endpoint, row_id in ids.items():
        urls += [f"/admin/{endpoint}/", f"/admin/{endpoint}/new/", f"/admin/{endpoint}/edit/?id={row_id}"]
    urls += [
        f"/admin/company/card/{ids['company']}",
        f"/admin/company/card/{ids['supplier']}",
        f"/admin/contact/card/{ids['privatecustomer']}",
        f"/admin/contact/card/{linked_contact}",
    ]
    urls += [
        "/admin/reports/",
        "/admin/reports/sales?by=seller",
        "/admin/reports/sales?close_from=31/13",
        f"/admin/reports/activities?axis=groups&group={ids['employeegroup']}",
        "/admin/reports/activities?axis=groups",
        "/admin/reports/generator/?run=1&entity=company&created_from=snart",
    ]
    urls += [
        f"/admin/reports/generator/?run=1&entity={entity}"
        for entity in ("company", "contact", "privatecustomer", "supplier", "lead", "opportunity", "activity")
    ]
    invoice = _first_id(select(Invoice.id).order_by(Invoice.id))
    urls += ["/admin/product/", f"/admin/invoice/show/{invoice}", f"/admin/invoice/show/{invoice}/print"]
    urls += [f"/admin/company/card/{ids['company']}/tab/{item.key}" for item in layout.COMPANY_TABS]
    urls += [f"/admin/contact/card/{ids['privatecustomer']}/tab/{item.key}" for item in layout.CONTACT_TABS]
    lists = ("lead", "calllist", "opportunity", "order", "invoice", "salesstage", "customfield", "customtab")
    urls += [f"/admin/{endpoint}/" for endpoint in lists]
    urls += ["/admin/opportunity/board", "/admin/opportunity/new/", "/admin/lead/new/", "/admin/duplicates/"]
    urls.append("/admin/reports/sales?close_from=2000-01-01")
    urls.append(f"/admin/lead/show/{_first_id(select(Lead.id).order_by(Lead.id))}")
    import_job = _first_id(select(ImportJob.id).order_by(ImportJob.id))
    urls += ["/admin/import/", f"/admin/import/job/{import_job}", f"/admin/import/job/{import_job}/mapping"]
    return urls


def test_no_english_on_any_screen(app, demo, login, auth):
    """Every screen, as admin with the demo register, plus the login page
    (also with errors), forms with errors, a saved edit (its message) and the
    purge confirmation."""
    terms = _english_terms()
    assert "Create new company contact" in terms and "Are you sure you want to delete selected records?" in terms
    assert "This field is required." in terms
    user_data = user_data_pattern()

    pages: list[tuple[str, str]] = []

    def fetch(url: str, test_client=None, data=None, auth_actions=None) -> None:
        # A fresh app context per request: the test's own context would share `g`
        # (the logged-in user, the CSRF token) between the clients.
        with app.app_context():
            if data is None:
                response = (test_client or auth_actions.client).get(url, follow_redirects=True)
            else:
                response = auth_actions.post(url, data, follow_redirects=True)
            assert response.status_code == 200, f"{url} answered {response.status_code}"
            html = response.get_data(as_text=True)
        label = url if data is None else f"POST {url}"
        page_lang = re.search(r'<html[^>]*\blang="([^"]*)"', html)
        assert page_lang is None or page_lang.group(1).startswith("sv"), f"{label} is not served in Swedish"
        pages.append((label, html))

    fetch("/login", auth.client)
    fetch("/login", data={"email": "nobody@example.se", "password": "wrong-password"}, auth_actions=auth)
    admin = login("admin")
    for url in _screens():
        fetch(url, admin.client)

    category = db.session.scalar(select(Category).order_by(Category.id).limit(1))
    deleted = _first_id(select(Company.id).where(Company.deleted_at.is_not(None)))
    fetch(
        "/admin/company/new/",
        data={
            "name": "",
            "org_number": "123",
            "email": "no-address",
            "phone": "12",
            "postal_postcode": "1",
            "discount_percent": "x",
            "payment_terms_days": "-5",
        },
        auth_actions=admin,
    )
    fetch(
        f"/admin/category/edit/?id={category.id}",
        data={"name": "", "applies_to": category.applies_to},
        auth_actions=admin,
    )
    fetch(
        f"/admin/category/edit/?id={category.id}",
        data={"name": category.name, "applies_to": category.applies_to, "description": "Ändrad"},
        auth_actions=admin,
    )
    fetch("/admin/trash/purge", data={"rowid": f"company:{deleted}"}, auth_actions=admin)

    offences: dict[str, tuple[str, list[str]]] = {}  # term → (context, pages)
    for label, html in pages:
        text = visible_text(html)
        assert text.strip(), f"{label} shows nothing"
        found = english_on_page(text, terms, user_data) | unswedish_values(text, user_data)
        for term, context in found.items():
            offences.setdefault(term, (context, []))[1].append(label)
    assert not offences, "English UI text on Swedish screens:\n" + "\n".join(
        f"{term!r} in {context}\n    on {', '.join(labels)}" for term, (context, labels) in offences.items()
    )


# --- the checker itself --------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<button type="submit">Delete</button>', ["Delete"]),
        ('<input type="submit" value="Save">', ["Save"]),
        ('<input placeholder="Name, e-mail or phone">', ["Name, e-mail or phone"]),
        ('<a title="Create New Record" href="#">Skapa</a>', ["Create New Record"]),
        ('<span aria-label="More actions"></span>', ["More actions"]),
        ("<p>Welcome, Anna</p>", ["Welcome"]),
        ("<p>12 records</p>", ["records"]),
        ('<button aria-label="Toggle navigation"></button>', ["Toggle navigation"]),
        ("<div>This field is required.</div>", ["This field is required."]),
        (
            "<button onclick=\"return confirm('Move the selected records to the trash?')\">Radera</button>",
            ["Move the selected records to the trash?"],
        ),
    ],
)
def test_checker_finds_english(html, expected):
    found = english_on_page(visible_text(html), _english_terms())
    for term in expected:
        assert term in found, (term, found)


@pytest.mark.parametrize(
    "html",
    [
        "<p>Radera</p><button>Lägg till</button><p>Filter</p><h1>Kundregister</h1><p>Status: Aktiv</p>",
        "<script>var label = 'Delete';</script><style>.Delete{}</style><p>Sök</p>",
        '<a href="mailto:delete.new@example.com">delete.new@example.com</a> https://www.add-search.se',
        '<input name="Delete" value="Delete" type="text" class="Name">',
        "<p>Nyheter i Sverige</p>",
        '<button lang="en" value="en">English</button><span lang="en"><b>Contacts</b></span>',
    ],
)
def test_checker_ignores_swedish_markup_and_user_data(html):
    assert english_on_page(visible_text(html), _english_terms()) == {}


def test_checker_ignores_what_users_typed(make_company):
    make_company(name="Supplier Direct AB", note="Key account, see History")
    html = "<td>Supplier Direct AB</td><td>Key account, see History</td>"
    assert set(english_on_page(visible_text(html), _english_terms())) >= {"Supplier", "History"}
    assert english_on_page(visible_text(html), _english_terms(), user_data_pattern()) == {}
