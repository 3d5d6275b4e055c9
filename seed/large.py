"""The large synthetic register: `flask --app app seed --large N`.

N companies with, in proportion, 2.5 contacts, 0.5 activities and one audit
event each: Swedish-looking and valid (Luhn-valid organisationsnummer,
E.164 phones, real cities and streets), owned by a few dozen employees, and a
few very large customers with thousands of contacts and activities. Made to
measure the product at a million customers (bench/), on SQLite and
PostgreSQL alike.

It goes through the schema's real invariants, set-based: customer numbers
from the shared sequence (`services.numbering.allocate_customer_numbers`),
version 1 on every versioned row, ids from the table's own sequence and rows
through `services.bulk` (COPY on PostgreSQL, executemany on SQLite), so the
quick-search index (triggers on SQLite, expression indexes on PostgreSQL) is
kept exactly as for an import. Rows are made and written a batch at a time,
each batch committed, so memory stays flat whatever N is.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from functools import partial
from queue import Full, Queue
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Engine, Table, func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from stdnum import luhn

from config import SQLITE_PAGE_CACHE_KIB
from models import (
    Activity,
    AuditEvent,
    Category,
    Company,
    CompanyContact,
    Contact,
    Employee,
    Industry,
    NumberSequence,
    company_categories,
    contact_categories,
    utcnow,
)
from seed.demo import CATEGORIES, INDUSTRIES
from services import accounts, bulk, numbering, search, word_index

#: Employees the generated customers are spread over ("a few dozen"), beside any already there.
EMPLOYEE_COUNT = 36
#: Contacts, activities and audit events per company, on average.
CONTACTS_PER_COMPANY = 2.5
ACTIVITIES_PER_COMPANY = 0.5
#: The very large customers: how many, and the contacts and activities each has (at most).
LARGE_CUSTOMERS = 5
LARGE_CUSTOMER_CONTACTS = 4000
LARGE_CUSTOMER_ACTIVITIES = 2500
#: From this many companies on, the large customers have their full size whatever N is (one of them at
#: 1,000 companies, five from 5,000): a benchmark comparing 1,000 with 1,000,000 companies then asks
#: the same customer's card at both sizes and measures the register's size, not the customer's
#: (bench/scale_bench.py). Smaller registers (the tests) get large customers scaled to N.
LARGE_FULL_FROM = 1000
#: On SQLite, ids and customer numbers are allocated for this many batches at a time (see `_Reserve`).
AHEAD_SQLITE = 8
#: How long an allocation of ids or customer numbers keeps trying while the database is locked, seconds.
ALLOCATION_PATIENCE = 600
#: SQLite page cache of the writer's connection, KiB: at a million companies its indexes are far larger
#: than the default 2 MB, and each batch's rows land all over them.
SQLITE_CACHE_KB = 256 * 1024

#: (city, postcode prefix, area code): real Swedish places, their postcodes and telephone area codes.
CITIES = [
    ("Stockholm", "11", "8"),
    ("Göteborg", "41", "31"),
    ("Malmö", "21", "40"),
    ("Uppsala", "75", "18"),
    ("Västerås", "72", "21"),
    ("Örebro", "70", "19"),
    ("Linköping", "58", "13"),
    ("Helsingborg", "25", "42"),
    ("Jönköping", "55", "36"),
    ("Norrköping", "60", "11"),
    ("Lund", "22", "46"),
    ("Umeå", "90", "90"),
    ("Gävle", "80", "26"),
    ("Borås", "50", "33"),
    ("Södertälje", "15", "8"),
    ("Eskilstuna", "63", "16"),
    ("Halmstad", "30", "35"),
    ("Växjö", "35", "470"),
    ("Karlstad", "65", "54"),
    ("Sundsvall", "85", "60"),
    ("Östersund", "83", "63"),
    ("Trollhättan", "46", "520"),
    ("Luleå", "97", "920"),
    ("Kalmar", "39", "480"),
    ("Kristianstad", "29", "44"),
    ("Falun", "79", "23"),
    ("Skövde", "54", "500"),
    ("Karlskrona", "37", "455"),
    ("Skellefteå", "93", "910"),
    ("Uddevalla", "45", "522"),
    ("Visby", "62", "498"),
    ("Ängelholm", "26", "431"),
    ("Nyköping", "61", "155"),
    ("Kiruna", "98", "980"),
    ("Åre", "83", "647"),
    ("Mölndal", "43", "31"),
]
STREETS = [
    "Storgatan",
    "Drottninggatan",
    "Kungsgatan",
    "Sveavägen",
    "Järnvägsgatan",
    "Industrivägen",
    "Hamngatan",
    "Skolgatan",
    "Nygatan",
    "Kyrkogatan",
    "Östra Långgatan",
    "Västra Vägen",
    "Strandvägen",
    "Åkervägen",
    "Björkvägen",
    "Ringvägen",
    "Fabriksgatan",
    "Verkstadsgatan",
    "Södra Förstadsgatan",
    "Norra Allén",
]
FIRST_NAMES = (
    "Lars Karin Anders Eva Johan Sara Per Lena Mikael Emma Nils Ingrid Oskar Elin Gustav Maja Fredrik Åsa Björn "
    "Linnéa Erik Anna Karl Maria Olof Kerstin Sven Birgitta Jan Märta Hans Astrid Lennart Sofia Göran Ebba Ulf "
    "Agnes Jörgen Klara Mats Wilma Stefan Alice Bengt Saga Håkan Ylva Pär Signe Tove Axel Hugo Frida Leo Ida"
).split()
LAST_NAMES = (
    "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson Pettersson Jonsson "
    "Jansson Hansson Bengtsson Jönsson Lindberg Jakobsson Magnusson Lindström Olofsson Lindqvist Lindgren Berg "
    "Axelsson Bergström Lundberg Lind Lundgren Lundqvist Mattsson Berglund Fredriksson Sandberg Henriksson "
    "Forsberg Sjöberg Wallin Engström Eklund Danielsson Lundin Håkansson Björk Bergman Gunnarsson Holm Wikström "
    "Samuelsson Isaksson Fransson Bergqvist Nyström Holmberg Arvidsson Löfgren Söderberg Nyberg Blomqvist "
    "Claesson Nordström Mårtensson Lundström Ström Åberg Öberg Ek Hedlund Sundberg Sjögren Strand Åström Näslund"
).split()
TITLES = ["VD", "Inköpschef", "Ekonomiansvarig", "Projektledare", "Kontorschef", "Säljchef", "Ekonomichef", None]
#: What the companies do, as in their names.
TRADES = (
    "Bygg Måleri Elteknik Rör VVS Trä Smide Snickeri Plåt Glas Golv Bageri Konditori Kaffe Livs Fisk Kött Transport "
    "Logistik Åkeri Städ Fastigheter Förvaltning Revision Redovisning Juridik Konsult Datakonsult IT Webbyrå "
    "Reklam Tryckeri Textil Möbler Inredning Trädgård Blommor Bilvård Däck Verkstad Maskin Mekaniska Marin "
    "Båtvarv Sjöfart Energi Solenergi Ventilation Kyla Larm Säkerhet Vård Tandvård Optik Frisör Hälsa Catering "
    "Restaurang Hotell Resor Konferens Utbildning Musik Foto Film Design Arkitekter Mark Betong Schakt Kran"
).split()
#: Syllables of invented brand names ("Norvik", "Alvtek" …): many rare words, as real registers have.
BRAND_HEADS = (
    "Nor Alv Berg Sol Ek Gran Lin Fjäll Sjö Ström Dal Ås Vik Hav Skog Mal Tor Frej Vind Is Ljung Rön Björk Al "
    "Hed Lund Strand Holm Ö Å Sten Järn Silver Guld Kopp Kristall Nord Väst Öst Syd Mid Polar Aur Lumi Vega"
).split()
BRAND_TAILS = (
    "vik tek bo gård ström sund dal by lid ås berg fors hamn näs tuna ö holm kraft form linje verk lab punkt "
    "nova plan flex data tech gruppen partner"
).split()
LEGAL_FORMS = [(" AB", "5"), (" AB", "5"), (" AB", "5"), (" Aktiebolag", "5"), (" HB", "9"), (" KB", "9")]
ACTIVITY_SUBJECTS = {
    "task": ["Skicka offert", "Följ upp offert", "Boka uppstartsmöte", "Uppdatera avtal", "Skicka prislista"],
    "meeting": ["Uppstartsmöte", "Avstämning kvartal", "Leverantörsträff", "Visning av ny tjänst"],
    "call": ["Ringde om leveransdatum", "Samtal om fakturafråga", "Uppföljningssamtal"],
    "note": ["Kunden vill ha fakturor via e-post", "Ny inköpschef från januari", "Intresserad av serviceavtal"],
}
_T = TypeVar("_T")


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


EMAIL_TABLE = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", " ": "", "&": "", "-": ""})


def slug(text: str) -> str:
    """A name as it appears in an e-mail address or domain: lower case, a–z only."""
    return text.lower().translate(EMAIL_TABLE)


def org_number(legal_form_digit: str, serial: int) -> str:
    """The `serial`-th Luhn-valid organisationsnummer of a legal form (5 aktiebolag, 9 handels-/kommanditbolag).

    Ten digits as stored: the legal form, a group digit, a third digit of at least 2 (as for every
    legal entity), six more digits of the serial and the Luhn check digit. Distinct serials give
    distinct numbers (up to 32 million per legal form).
    """
    body = f"{legal_form_digit}{6 + serial // 8_000_000 % 4}{2 + serial // 1_000_000 % 8}{serial % 1_000_000:06d}"
    return body + luhn.calc_check_digit(body)


def phone(rng: random.Random, area: str) -> str:
    """A landline number in E.164: +46, the area code without its 0, and the subscriber number."""
    digits = 9 - len(area)
    return f"+46{area}{rng.randrange(10 ** (digits - 1) * 2, 10**digits)}"


def mobile(rng: random.Random) -> str:
    return f"+467{rng.choice('02369')}{rng.randrange(1_000_000, 10_000_000)}"


class Batch(NamedTuple):
    """Rows made for one kind of record (`rows`) and every table's rows to write for them, in order,
    made ready for the database by the thread that made them (`bulk.prepare_rows`)."""

    rows: list[dict]
    writes: list[bulk.PreparedRows]


class _Reserve:
    """Values handed out in order from blocks that `fetch(n)` allocates (and commits), `ahead`
    times what is asked for at once: on SQLite an allocation waits for the database's write
    lock, which the writer thread holds while it writes a batch, so it is done once per several
    batches. What is left at the end can be given back (`left`)."""

    def __init__(self, fetch: Callable[[int], Sequence[int]], ahead: int):
        self.fetch, self.ahead, self.left = fetch, ahead, deque[int]()

    def take(self, count: int) -> list[int]:
        if count > len(self.left):
            self.left.extend(self.fetch(max(count - len(self.left), count * self.ahead)))
        return [self.left.popleft() for _ in range(count)]


class LargeRegister:
    """Makes the batches; one instance per `seed_large` run.

    Ids and customer numbers are allocated in `session` and committed at once (`_Reserve`): the
    rows are written later, by `_Writers`, in sessions of their own.
    """

    def __init__(self, session: Session, rng: random.Random):
        self.session = session
        sqlite = session.get_bind().dialect.name == "sqlite"
        ahead = AHEAD_SQLITE if sqlite else 1
        self.ids = {
            table.name: _Reserve(partial(self._new_ids, table), ahead)
            for table in (_table(Company), _table(Contact), _table(Activity))
        }
        self.next_id: dict[str, int] = {}
        self.customer_numbers = _Reserve(self._new_customer_numbers, ahead)
        self.rng = rng
        self.now = utcnow().replace(microsecond=0)
        self.owners = _employees(session, rng)
        self.industries = _ensure(session, Industry, [{"name": n, "sni_code": c} for n, c in INDUSTRIES])
        categories = _ensure(session, Category, [{"name": n, "applies_to": a} for n, a in CATEGORIES])
        self.company_categories = [i for i, (_n, a) in zip(categories, CATEGORIES, strict=True) if a != "contact"]
        self.contact_categories = [i for i, (_n, a) in zip(categories, CATEGORIES, strict=True) if a != "company"]
        self.serial = session.scalar(select(func.count()).select_from(Company)) or 0
        # Each company advances its form's serial by 1–13: numbers look scattered and never repeat, also
        # when generating more into a register that already has generated companies.
        self.org_serial = {"5": self.serial * 13, "9": self.serial * 13}
        session.commit()

    def _new_ids(self, table: Table, count: int) -> Sequence[int]:
        """`count` unused ids of `table`. On SQLite ids continue from the largest one stored, which
        does not yet include those handed out for batches still being written: so from whichever
        is larger (another writer adding rows meanwhile makes an insert fail, never share an id)."""
        ids = self._allocated(partial(bulk.new_ids, self.session, table, count))
        if self.session.get_bind().dialect.name != "sqlite":
            return ids  # PostgreSQL: the sequence's values, never handed out twice (not always consecutive)
        start = max(ids[0], self.next_id.get(table.name, 0))
        self.next_id[table.name] = start + count
        return range(start, start + count)

    def _new_customer_numbers(self, count: int) -> range:
        return self._allocated(partial(numbering.allocate_customer_numbers, self.session, count))

    def _allocated(self, allocate: Callable[[], _T]) -> _T:
        """`allocate()`, committed at once. On SQLite it waits for the write lock, which the writer
        thread holds while it writes a batch: under load longer than the connection's busy timeout
        (or SQLite refuses at once when the wait began in an older snapshot), so it tries again."""
        waited_until = time.monotonic() + ALLOCATION_PATIENCE
        while True:
            try:
                allocated = allocate()
                self.session.commit()
                return allocated
            except OperationalError as error:
                self.session.rollback()
                if "locked" not in str(error) or time.monotonic() > waited_until:
                    raise
                time.sleep(0.05)

    def give_back(self) -> None:
        """Return the customer numbers allocated but not used to the sequence, when they are still
        its last ones (nobody has allocated since): the next customer made gets the next number."""
        left = self.customer_numbers.left
        if left:
            self.session.execute(
                update(NumberSequence)
                .where(NumberSequence.name == numbering.CUSTOMER_SEQUENCE, NumberSequence.last_value == left[-1])
                .values(last_value=left[0] - 1)
            )
            self.session.commit()
            left.clear()

    def _batch(self, rows: list[dict], *writes: tuple[Table, list[dict]]) -> Batch:
        dialect = self.session.get_bind().dialect
        return Batch(
            rows, [bulk.prepare_rows(dialect, table, table_rows) for table, table_rows in writes if table_rows]
        )

    def write(self, *batches: Batch) -> None:
        """Write `batches` in this register's session (not committed); `seed_large` uses `_Writers`."""
        for batch in batches:
            for prepared in batch.writes:
                bulk.insert_prepared(self.session, prepared)

    # --- companies ---------------------------------------------------------------------

    def company_name(self) -> tuple[str, str]:
        """(name, legal-form digit of its organisationsnummer)."""
        rng = self.rng
        form, digit = rng.choice(LEGAL_FORMS)
        brand = rng.choice(BRAND_HEADS) + rng.choice(BRAND_TAILS)
        pattern = rng.randrange(6)
        if pattern == 0:
            base = f"{rng.choice(CITIES)[0]}s {rng.choice(TRADES)}"
        elif pattern == 1:
            base = f"{rng.choice(LAST_NAMES)}s {rng.choice(TRADES)}"
        elif pattern == 2:
            base = f"{brand} {rng.choice(TRADES)}"
        elif pattern == 3:
            base = f"{rng.choice(TRADES)} i {rng.choice(CITIES)[0]}"
        elif pattern == 4:
            base = f"{brand} {rng.choice(CITIES)[0]}"
        else:
            base = f"{rng.choice(LAST_NAMES)} & {rng.choice(('Söner', 'Partners', 'Co', 'Döttrar'))}"
        return base + form, digit

    def companies(self, count: int) -> Batch:
        """`count` companies and their categories, to write (`Batch.rows`: the companies)."""
        rng, now = self.rng, self.now
        ids = self.ids[_table(Company).name].take(count)
        numbers = self.customer_numbers.take(count)
        rows = []
        for ident, number in zip(ids, numbers, strict=True):
            name, digit = self.company_name()
            self.org_serial[digit] += rng.randint(1, 13)
            city, postcode, area = rng.choice(CITIES)
            domain = slug(name.rsplit(" ", 1)[0])[:40]
            created = now - timedelta(days=rng.randrange(3650), minutes=rng.randrange(1440))
            street = f"{rng.choice(STREETS)} {rng.randint(1, 120)}"
            postal = f"{postcode}{rng.randint(1, 9)} {rng.randint(10, 99)}"
            visiting_elsewhere = rng.random() < 0.1
            org = org_number(digit, self.org_serial[digit])
            rows.append(
                {
                    "id": ident,
                    "customer_number": number,
                    "name": name,
                    "country": "SE",
                    "org_number": org,
                    "vat_number": f"SE{org}01" if rng.random() < 0.6 else None,
                    "status": "active" if rng.random() < 0.9 else rng.choice(("inactive", "bankrupt", "liquidated")),
                    "industry_id": rng.choice(self.industries),
                    "owner_id": rng.choice(self.owners),
                    "is_supplier": rng.random() < 0.05,
                    "phone": phone(rng, area),
                    "email": f"info@{domain}.se",
                    "website": f"https://www.{domain}.se" if rng.random() < 0.7 else None,
                    "postal_street": street,
                    "postal_postcode": postal,
                    "postal_city": city,
                    "visit_street": street if not visiting_elsewhere else f"{rng.choice(STREETS)} {rng.randint(1, 60)}",
                    "visit_postcode": postal,
                    "visit_city": city if not visiting_elsewhere else rng.choice(CITIES)[0],
                    "note": None,
                    "email_locked": False,
                    "version": 1,
                    "invoice_language": "sv",
                    "discount_percent": Decimal("0") if rng.random() < 0.9 else Decimal(rng.choice((5, 10, 15))),
                    "payment_terms_days": rng.choice((30, 30, 30, 10, 15, 20)),
                    "currency": "SEK",
                    "created_at": created,
                    "updated_at": created,
                }
            )
        links = [
            {"company_id": row["id"], "category_id": category}
            for row in rows
            if rng.random() < 0.3
            for category in rng.sample(self.company_categories, rng.randint(1, 2))
        ]
        return self._batch(rows, (_table(Company), rows), (company_categories, links))

    # --- contacts, activities, history ------------------------------------------------

    def contacts(self, companies: list[dict], counts: list[int]) -> Batch:
        """`counts[i]` contacts for `companies[i]`, linked with a role; some private customers too."""
        rng, now = self.rng, self.now
        total = sum(counts)
        private = sum(1 for _ in range(total) if rng.random() < 0.02)
        ids = self.ids[_table(Contact).name].take(total + private)
        numbers = iter(self.customer_numbers.take(private))
        rows, links, categories = [], [], []
        owners = [c for c, n in zip(companies, counts, strict=True) for _ in range(n)] + [None] * private
        for ident, company in zip(ids, owners, strict=True):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            created = now - timedelta(days=rng.randrange(3650), minutes=rng.randrange(1440))
            if company is not None:
                email = f"{slug(first)}.{slug(last)}@{company['email'].split('@', 1)[1]}"
                city, street, postcode = company["postal_city"], None, None
                links.append(
                    {
                        "company_id": company["id"],
                        "contact_id": ident,
                        "role": rng.choice(TITLES),
                        "created_at": created,
                    }
                )
            else:
                email = f"{slug(first)}.{slug(last)}{ident}@example.se"
                city, prefix, _area = rng.choice(CITIES)
                street = f"{rng.choice(STREETS)} {rng.randint(1, 120)}"
                postcode = f"{prefix}{rng.randint(1, 9)} {rng.randint(10, 99)}"
            rows.append(
                {
                    "id": ident,
                    "customer_number": next(numbers) if company is None else None,
                    "first_name": first,
                    "last_name": last,
                    "title": rng.choice(TITLES) if company is not None else None,
                    "email": email,
                    "phone": phone(rng, rng.choice(CITIES)[2]) if rng.random() < 0.3 else None,
                    "mobile": mobile(rng) if rng.random() < 0.8 else None,
                    "personal_number": None,
                    "owner_id": company["owner_id"] if company is not None else rng.choice(self.owners),
                    "note": None,
                    "postal_street": street,
                    "postal_postcode": postcode,
                    "postal_city": city,
                    "version": 1,
                    "invoice_language": "sv",
                    "discount_percent": Decimal("0"),
                    "payment_terms_days": 30,
                    "currency": "SEK",
                    "created_at": created,
                    "updated_at": created,
                }
            )
            if rng.random() < 0.05:
                categories.append({"contact_id": ident, "category_id": rng.choice(self.contact_categories)})
        return self._batch(
            rows, (_table(Contact), rows), (_table(CompanyContact), links), (contact_categories, categories)
        )

    def activities(self, companies: list[dict], counts: list[int]) -> Batch:
        rng, now = self.rng, self.now
        total = sum(counts)
        ids = self.ids[_table(Activity).name].take(total)
        rows = []
        owners = (c for c, n in zip(companies, counts, strict=True) for _ in range(n))
        for ident, company in zip(ids, owners, strict=True):
            kind = rng.choice(("task", "task", "meeting", "call", "note"))
            due = now + timedelta(days=rng.randint(-400, 60), hours=rng.randint(7, 17))
            done = kind != "note" and due < now and rng.random() < 0.85
            rows.append(
                {
                    "id": ident,
                    "kind": kind,
                    "subject": rng.choice(ACTIVITY_SUBJECTS[kind]),
                    "description": None,
                    "due_at": due,
                    "done": done,
                    "done_at": due if done else None,
                    "assignee_id": company["owner_id"],
                    "created_by_id": company["owner_id"],
                    "company_id": company["id"],
                    "created_at": due - timedelta(days=rng.randint(0, 20)),
                    "updated_at": due,
                }
            )
        return self._batch(rows, (_table(Activity), rows))

    def history(self, companies: list[dict]) -> Batch:
        """The "created" event of each company, as the audit trail has it for a new customer."""
        rows = [
            {
                "at": c["created_at"],
                "actor_id": c["owner_id"],
                "entity_type": "company",
                "entity_id": c["id"],
                "entity_label": c["name"],
                "action": "create",
                "changes": {"name": c["name"], "org_number": c["org_number"], "customer_number": c["customer_number"]},
                "import_job_id": None,
            }
            for c in companies
        ]
        return self._batch(rows, (_table(AuditEvent), rows))

    def spread(self, count: int, mean: float, large: int, large_each: int) -> list[int]:
        """How many children each of `count` companies gets: the first `large` get `large_each`, each
        other one between 0 and twice the rest's mean, so the batch has about `mean` per company; when
        the large ones alone have more than that (a small register), the others have `mean` each."""
        rest = (mean * count - large * large_each) / max(1, count - large)
        if rest <= 0:
            rest = mean
        whole, fraction = int(rest), rest - int(rest)
        rng = self.rng
        return [large_each] * min(large, count) + [
            rng.randint(0, 2 * whole) + (rng.random() < fraction) for _ in range(count - min(large, count))
        ]


class _Writers:
    """Threads that write batches, each in a session (and connection) of its own, each batch in
    one transaction, while the calling thread makes the next ones: the database works on one
    core while Python works on the other, and on PostgreSQL, whose backend's work (indexes,
    trigram GIN, foreign keys) is most of a batch's cost, two backends write at once.

    A batch is written in the order of its tables (companies before their contacts' links), so
    every foreign key is checked as usual. The first error stops the run: `put` and `close`
    raise it in the calling thread.
    """

    def __init__(self, engine: Engine, threads: int):
        self.engine = engine
        self.queue: Queue[list[Batch] | None] = Queue(maxsize=threads)
        self.error: BaseException | None = None
        self.written = 0  # companies committed
        self.cpu: list[float] = []  # each thread's CPU-seconds, when it has ended
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, name=f"seed-writer-{n}", daemon=True) for n in range(threads)
        ]
        for thread in self.threads:
            thread.start()

    def put(self, batches: list[Batch]) -> None:
        while self.error is None:
            try:
                self.queue.put(batches, timeout=0.5)
                return
            except Full:
                continue
        raise self.error

    def close(self) -> None:
        for _thread in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as connection, Session(bind=connection) as session:
            if sqlite:  # this thread's connection: a larger page cache for the growing indexes
                connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
                connection.commit()  # else the session would join this transaction and never commit it
            try:
                while (batches := self.queue.get()) is not None:
                    if self.error is not None:
                        continue  # drained, not written: the run stops
                    try:
                        self._write(session, batches, sqlite)
                    except BaseException as error:  # handed to the calling thread
                        session.rollback()
                        self.error = error
            finally:
                if sqlite:  # back to SQLite's defaults before the connection returns to the pool
                    connection.rollback()
                    connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_PAGE_CACHE_KIB}")
                    connection.commit()
                with self.lock:
                    self.cpu.append(time.thread_time())

    def _write(self, session: Session, batches: list[Batch], sqlite: bool) -> None:
        if not sqlite:
            # A lost batch after a crash is made again; no commit of the generator waits for the disk.
            session.execute(text("SET LOCAL synchronous_commit = off"))
        for batch in batches:
            for prepared in batch.writes:
                bulk.insert_prepared(session, prepared)
        session.commit()
        with self.lock:
            self.written += len(batches[0].rows)


def seed_large(
    session: Session,
    count: int,
    *,
    rng_seed: int = 13,
    batch_size: int = 10_000,
    writers: int | None = None,
    progress: Callable[[int, float], None] | None = None,
    cpu: dict[str, float] | None = None,
) -> dict[str, int]:
    """Add `count` generated companies with their contacts, activities and history; returns the row counts.

    `writers`: threads writing batches while the next are made (default: 2 on PostgreSQL, 1 on
    SQLite, whose single write lock lets one write at a time). `cpu`, if given, gets the
    CPU-seconds of the thread making the rows ("maker") and of each writer thread ("writer 1" …).
    """
    maker_started = time.thread_time()
    rng = random.Random(rng_seed)
    register = LargeRegister(session, rng)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    large = min(LARGE_CUSTOMERS, max(1, count // 1000)) if count >= 100 else 0
    full = count >= LARGE_FULL_FROM
    large_contacts = LARGE_CUSTOMER_CONTACTS if full else min(LARGE_CUSTOMER_CONTACTS, max(10, count // 200))
    large_activities = LARGE_CUSTOMER_ACTIVITIES if full else min(LARGE_CUSTOMER_ACTIVITIES, max(5, count // 400))
    made = {"companies": 0, "contacts": 0, "activities": 0, "audit_events": 0}
    started = time.monotonic()
    pipeline = _Writers(engine, writers or (1 if engine.dialect.name == "sqlite" else 2))
    try:
        while made["companies"] < count:
            size = min(batch_size, count - made["companies"])
            companies = register.companies(size)
            first_batch = made["companies"] == 0
            contact_counts = register.spread(
                size, CONTACTS_PER_COMPANY, large if first_batch else 0, large_contacts if first_batch else 0
            )
            activity_counts = register.spread(
                size, ACTIVITIES_PER_COMPANY, large if first_batch else 0, large_activities if first_batch else 0
            )
            contacts = register.contacts(companies.rows, contact_counts)
            activities = register.activities(companies.rows, activity_counts)
            pipeline.put([companies, contacts, activities, register.history(companies.rows)])
            made["companies"] += size
            made["contacts"] += len(contacts.rows)
            made["activities"] += len(activities.rows)
            made["audit_events"] += size
            if progress is not None and pipeline.written:
                progress(pipeline.written, time.monotonic() - started)
    finally:
        pipeline.close()
    if cpu is not None:
        cpu["maker"] = time.thread_time() - maker_started
        cpu.update({f"writer {n}": seconds for n, seconds in enumerate(pipeline.cpu, 1)})
    register.give_back()
    if progress is not None:
        progress(pipeline.written, time.monotonic() - started)
    for model in search.SEARCHED:  # one segment each, as a search reads every segment
        search.merge_index(session, model)
    word_index.catch_up(session.get_bind().engine)  # SQLite: the companies' words, after their commits
    _analyze(session)
    return made


def _analyze(session: Session) -> None:
    """Fresh planner statistics after a load this size. PostgreSQL's autovacuum would get there
    later; SQLite never gathers them by itself, and without them it takes `deleted_at IS NULL` for
    a selective index and sorts every live row of a list (a sample of 1,000 rows per index is enough)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA analysis_limit = 1000"))
    session.execute(text("ANALYZE"))
    session.commit()


def _employees(session: Session, rng: random.Random) -> list[int]:
    """Ids of the employees who own generated customers: the existing sellers and administrators,
    topped up with generated sellers (no password: they cannot log in) to EMPLOYEE_COUNT."""
    existing = list(session.scalars(select(Employee.id).where(Employee.role.in_(("seller", "admin")), Employee.active)))
    known = set(session.scalars(select(Employee.email)))
    for index in range(EMPLOYEE_COUNT - len(existing)):
        first, last = FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[(index * 7) % len(LAST_NAMES)]
        email = f"{slug(first)}.{slug(last)}.{index + 1}@example.se"
        if email in known:
            continue
        employee = accounts.create_employee(session, email=email, name=f"{first} {last}", role="seller", password=None)
        employee.title = "Säljare"
        employee.phone = mobile(rng)
        session.flush()
        existing.append(employee.id)
    return existing


def _ensure(session: Session, model, wanted: list[dict]) -> list[int]:
    """Ids of the rows of `model` named in `wanted`, created when missing."""
    have = {name: ident for name, ident in session.execute(select(model.name, model.id))}
    for values in wanted:
        if values["name"] not in have:
            row = model(**values)
            session.add(row)
            session.flush()
            have[row.name] = row.id
    return [have[values["name"]] for values in wanted]
