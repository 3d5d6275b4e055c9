"""What a record is compared on when duplicates are looked for (services.duplicates), without models, Flask or
the database: the normalisation of names, organisationsnummer, e-mail and phones, and the `Entry` made of them.

It lives apart from services.duplicates so that an import's parsing processes (services.importing.parsing,
which import nothing of the models nor Flask) can make each new row's Entry while they parse it: in a dry run
against a register that holds the file's companies, making them was 16 % of the queue worker's CPU
(bench/import_bench.py, 30,000 companies, cProfile of the pass)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter

#: Accented letters folded to their base letter, as a Swedish reader sees them: é is an e and
#: ü a u, ø and æ are the Danish and Norwegian ö and ä; å, ä and ö stay letters of their own.
#: The letters met in Swedish registers, not every accent: SQLite folds them with one replace()
#: each, nested, and its parser takes about 28 levels. (The quick search index's folding:
#: services.search.fold.)
FOLD_FROM = "éèêëáàüíçñøæÉÈÊËÁÀÜÍÇÑØÆ"
FOLD_TO = "eeeeaauicnöäeeeeaauicnöä"
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)


def search_fold(text: str) -> str:
    """`text` as the quick search index holds it: lower case, accents folded (not å, ä, ö)."""
    return text.lower().translate(_FOLD)


#: Legal forms and words that do not tell two companies apart.
_LEGAL_WORDS = {
    "ab",
    "aktiebolag",
    "aktiebolaget",
    "publ",
    "hb",
    "handelsbolag",
    "handelsbolaget",
    "kb",
    "kommanditbolag",
    "kommanditbolaget",
    "ek",
    "ekonomisk",
    "ekonomiska",
    "forening",
    "foreningen",
    "ef",
    "enskild",
    "firma",
    "ltd",
    "limited",
    "inc",
    "gmbh",
    "oy",
    "aps",
    "asa",
}
_LETTERS = str.maketrans(
    {"å": "a", "ä": "a", "ö": "o", "é": "e", "è": "e", "ü": "u", "ø": "o", "æ": "a", "á": "a", "à": "a"}
)
#: E-mail services shared by unrelated people: their domain says nothing.
FREE_MAIL = {
    "gmail.com",
    "hotmail.com",
    "hotmail.se",
    "outlook.com",
    "live.se",
    "yahoo.com",
    "yahoo.se",
    "icloud.com",
    "telia.com",
    "spray.se",
    "bredband.net",
    "me.com",
}


_NOT_LETTERS = re.compile(r"[^a-z0-9]+")
_NOT_DIGITS = re.compile(r"\D")
_WORDS = re.compile(r"\w+")


def _fold(text: str | None) -> str:
    text = (text or "").lower().translate(_LETTERS)
    return " ".join(_NOT_LETTERS.sub(" ", text.replace("&", " och ").replace("+", " och ")).split())


@lru_cache(maxsize=4_096)
def fold(text: str | None) -> str:
    """Lower case, å/ä/ö and accents as plain letters, punctuation as spaces. (Remembered for the texts that
    recur: towns, first and last names, name words. A whole company or person name is folded without the cache
    (`company_name_key`, `person_name_key`): most are met once, and with them a cache of 16,384 texts held some
    6 MB of a dry run against a filled register, most of it names never met again.)"""
    return _fold(text)


def company_name_key(name: str | None) -> str:
    """A company name with what does not tell companies apart dropped: legal forms, "i <ort>" at the end
    (before or after the legal form), "and" as "och" (`Svensson & Son Bygg AB i Stockholm` and
    `Svensson & Son Bygg i Stockholm AB` → `svensson och son bygg`)."""
    words = ["och" if w == "and" else w for w in _fold(name).split()]
    kept = [w for w in words if w not in _LEGAL_WORDS and w != "for"] or words
    if len(kept) > 2 and kept[-2] == "i":
        kept = kept[:-2]
    return " ".join(kept)


def person_name_key(first: str | None, last: str | None) -> str:
    return _fold(f"{first or ''} {last or ''}")


def digits(value: str | None) -> str:
    return _NOT_DIGITS.sub("", value or "")


def email_key(value: str | None) -> str:
    return (value or "").strip().lower()


def email_domain(value: str | None) -> str:
    domain = email_key(value).rpartition("@")[2]
    return "" if domain in FREE_MAIL else domain


@dataclass(slots=True)
class Entry:
    """What a record is compared on (small: a scan holds one per record of the register)."""

    id: int
    name: str
    ids: tuple[str, ...] = ()  # organisationsnummer / personnummer (digits)
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    city: str = ""
    domain: str = ""
    companies: tuple[int, ...] = ()
    #: A person's first and last name apart (contacts only).
    first: str = ""
    last: str = ""
    #: The name's most telling word as the quick search index holds it (å, ä, ö kept), to look a new
    #: record's look-alikes up by query (`check_entry`); not set in a scan.
    word: str = ""
    #: The name's telling words as the quick search index holds them, to look a batch of new records'
    #: look-alikes up by query (RegisterLookup); not set in a scan.
    words: tuple[str, ...] = ()


def _keys(*values: str) -> tuple[str, ...]:
    """The non-empty values, each once."""
    return tuple(dict.fromkeys(v for v in values if v))


def _share(a: tuple, b: tuple) -> bool:
    return bool(a) and bool(b) and any(x in b for x in a)


def _entry_of_row(kind: str, row, names: dict[str, str] | None = None) -> Entry:
    """An Entry from a row of `columns(kind)`; `names`: {company name: its `company_name_key`} known already."""
    if kind == "company":
        id_, name, org, email, phone, city, visit_city = row
        return _organisation(id_, name, org, email, phone, fold(city or visit_city), names)
    if kind == "contact":
        id_, first, last, personal, email, phone, mobile, city = row
        return Entry(
            id_,
            person_name_key(first, last),
            _keys(digits(personal)),
            _keys(email_key(email)),
            _keys(digits(phone), digits(mobile)),
            sys.intern(fold(city)),
            sys.intern(email_domain(email)),
            first=fold(first),
            last=fold(last),
        )
    id_, name, org, email, phone = row
    return _organisation(id_, name, org, email, phone, "", names)


def _organisation(id_, name, org, email, phone, city: str, names: dict[str, str] | None) -> Entry:
    """The Entry of a company or a lead (a company to be)."""
    return Entry(
        id_,
        names[name] if names and name in names else company_name_key(name),
        _keys(digits(org)),
        _keys(email_key(email)),
        _keys(digits(phone)),
        sys.intern(city),
        sys.intern(email_domain(email)),
    )


def _search_words(name: str) -> tuple[str, ...]:
    """The telling words of `name` as the quick search index holds them (services.search.fold), each once (one
    word is telling as `telling_words` says: more than two letters, not "och")."""
    words = _WORDS.findall(search_fold(name))
    return tuple(
        dict.fromkeys(w for w in words if len(w) > 2 and w != "och" and (w.isdigit() or fold(w) not in _LEGAL_WORDS))
    )


def telling_words(name: str) -> list[str]:
    """The words of a normalised name that can tell it apart (not "och", nor one or two letters)."""
    return [w for w in name.split() if len(w) > 2 and w != "och"]


#: The column keys an Entry of each kind is made from, in services.duplicates.columns' order (a test holds them
#: equal), and how many of them, after the id, are the name.
COLUMN_KEYS = {
    "company": ("id", "name", "org_number", "email", "phone", "postal_city", "visit_city"),
    "contact": ("id", "first_name", "last_name", "personal_number", "email", "phone", "mobile", "postal_city"),
    "lead": ("id", "company_name", "org_number", "contact_email", "contact_phone"),
}


def entry_of_values(kind: str, values: dict, companies: Iterable[int] = ()) -> Entry:
    """An Entry of a record's column values ({column key: value}; missing ones empty), e.g. an import row's."""
    keys = COLUMN_KEYS[kind]
    entry = _entry_of_row(kind, [values.get(k) for k in keys])
    entry.companies = tuple(companies)
    names = keys[1:3] if kind == "contact" else keys[1:2]
    entry.words = _search_words(" ".join(str(values.get(k) or "") for k in names))
    entry.word = max(entry.words, key=len, default="")
    return entry


#: What of an Entry an import's parsing process hands back with a row (`entry_fields`; the id is the row's number,
#: the companies are resolved by the queue worker).
_SENT = ("name", "ids", "emails", "phones", "city", "domain", "first", "last", "word", "words")
_sent = attrgetter(*_SENT)


def entry_fields(kind: str, values: dict) -> tuple:
    """The Entry of an import row's parsed values as a plain tuple (pickled a tenth as fast as an Entry): made
    in the parsing process, made an Entry again by `entry_from_fields`."""
    return _sent(entry_of_values(kind, values))


def entry_from_fields(ident: int, fields: tuple, companies: tuple[int, ...] = ()) -> Entry:
    name, ids, emails, phones, city, domain, first, last, word, words = fields
    return Entry(ident, name, ids, emails, phones, city, domain, companies, first, last, word, words)
