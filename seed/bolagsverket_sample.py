"""A made-up company register in the layout of Bolagsverket's bulk file (services.registry_loader).

`python -m seed.bolagsverket_sample` writes seed/bolagsverket_bulkfil_sample.zip (a few hundred rows:
some of the demo's own customers, with an address that has changed since they were entered, one of
them deregistered, and made-up companies). `write(path, count)` makes files of any size for the
benchmark, streamed: memory does not grow with `count`.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from stdnum import luhn

from services.registry_loader import HEADERS

SAMPLE = Path(__file__).resolve().parent / "bolagsverket_bulkfil_sample.zip"
SAMPLE_DATE = date(2026, 11, 30)
MEMBER = "bolagsverket_bulkfil.txt"

#: Demo customers (seed/demo.py makes them with these numbers) as the register has them today.
DEMO_COMPANIES = [
    ("5507536455", "Norrlands Bygg AB", "AB", "Järnvägsgatan 13", "41167", "Göteborg", None),
    ("5529405572", "Svea Kaffe AB$Svea Kafferosteri AB", "AB", "Kaffegränd 4", "11122", "Stockholm", None),
    ("5546978809", "Mälardalens Elteknik AB", "AB", "Skolgatan 51", "55377", "Jönköping", None),
    ("5573177846", "Göta Trä & Virke AB", "AB", "Box 118", "65228", "Karlstad", None),
    ("5540029781", "Skånska Livs AB", "AB", "Hamngatan 26", "90347", "Umeå", None),
    ("5599065934", "Blekinge Glas AB", "AB", "Industrivägen 41", "41168", "Göteborg", date(2026, 6, 12)),
    ("5528594061", "Östgöta Fastigheter AB", "AB", "Drottninggatan 16", "21114", "Malmö", None),
    ("5590668827", "Stockholms Städservice AB", "AB", "Sveavägen 75", "72249", "Västerås", None),
]

FIRST = [
    "Svea",
    "Nordic",
    "Göta",
    "Bergs",
    "Skogs",
    "Sjö",
    "Fjäll",
    "Älv",
    "Ängs",
    "Åkers",
    "Öre",
    "Björk",
    "Ek",
    "Lind",
    "Sol",
    "Vind",
    "Norr",
    "Väst",
    "Öst",
    "Syd",
    "Café Lumière",
    "Hav",
    "Dal",
    "Ström",
    "Kungs",
]
SECOND = [
    "Kaffe",
    "Bygg",
    "Data",
    "Konsult",
    "Elteknik",
    "Transport",
    "Måleri",
    "Redovisning",
    "Fastigheter",
    "Städ",
    "Trä",
    "Design",
    "Bageri",
    "Verkstad",
    "Handel",
    "Invest",
    "Media",
    "Energi",
    "Rör",
    "Golv",
]
FORMS = [("AB", " AB", 70), ("HB", " HB", 8), ("KB", " KB", 3), ("EF", "", 8), ("EK", " ekonomisk förening", 4),
         ("BRF", "", 4), ("I", " ideell förening", 3)]  # fmt: skip
CITIES = [
    ("Stockholm", "111"), ("Göteborg", "411"), ("Malmö", "211"), ("Uppsala", "753"), ("Västerås", "722"),
    ("Örebro", "702"), ("Linköping", "582"), ("Umeå", "903"), ("Luleå", "972"), ("Gävle", "803"),
    ("Jönköping", "553"), ("Karlstad", "652"), ("Sundsvall", "852"), ("Växjö", "352"), ("Kiruna", "981"),
]  # fmt: skip
STREETS = ["Storgatan", "Kungsgatan", "Drottninggatan", "Hamngatan", "Industrivägen", "Sveavägen", "Skolgatan"]
DESCRIPTIONS = [
    "Bolaget ska bedriva konsultverksamhet inom data och därmed förenlig verksamhet.",
    "Handel med kaffe, te och tillbehör samt därmed förenlig verksamhet.",
    "Byggnadsverksamhet, om- och tillbyggnad av bostäder och lokaler.",
    "Redovisning, bokföring och revision åt företag.",
    "Äga och förvalta fastigheter samt bedriva därmed förenlig verksamhet.",
]


def _org_number(rng: random.Random, first: str) -> str:
    body = first + "".join(str(rng.randint(0, 9)) for _ in range(9 - len(first)))
    return body + luhn.calc_check_digit(body)


def _personnummer(rng: random.Random) -> str:
    body = f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(100, 999)}"
    return "19" + body + luhn.calc_check_digit(body)


def _line(fields: list[str]) -> str:
    return ";".join('"' + f.replace('"', '""') + '"' for f in fields) + "\r\n"


def _row(orgnr, names, form, street, postcode, city, deregistered, registered, description, rng) -> list[str]:
    return [
        f"{orgnr}${'PERSONNR' if len(orgnr) == 12 else 'ORGNR'}-IDORG",
        "1" if len(orgnr) == 12 else "",
        "SE-LAND",
        names,
        f"{form}-ORGFO",
        deregistered.isoformat() if deregistered else "",
        ("KK-AVREGORSAK" if rng.random() < 0.5 else "AVREG-AVREGORSAK") if deregistered else "",
        "",
        registered.isoformat(),
        description,
        f"{street}$$" + postcode + "$" + city + "$SE-LAND",
    ]


def lines(count: int, *, rng_seed: int = 17, with_demo: bool = True) -> Iterator[str]:
    """The header and `count` rows of a made-up register."""
    rng = random.Random(rng_seed)
    yield _line(list(HEADERS))
    made = 0
    if with_demo:
        for orgnr, names, form, street, postcode, city, deregistered in DEMO_COMPANIES[:count]:
            yield _line(
                _row(orgnr, names, form, street, postcode, city, deregistered, date(1998, 3, 2), DESCRIPTIONS[0], rng)
            )
            made += 1
    forms = [f for f in FORMS for _ in range(f[2])]
    while made < count:
        code, suffix, _weight = rng.choice(forms)
        base = f"{rng.choice(FIRST)} {rng.choice(SECOND)}"
        if code == "EF":
            name, orgnr = f"{base} {rng.choice(['Andersson', 'Öberg', 'Nilsson', 'Åkesson'])}", _personnummer(rng)
        elif code == "BRF":
            name, orgnr = f"Bostadsrättsföreningen {rng.choice(FIRST)}{rng.choice(['hus', 'gården'])} {made}", None
        else:
            name, orgnr = base + (f" {made}" if made % 3 == 0 else "") + suffix, None
        if orgnr is None:
            orgnr = _org_number(rng, {"AB": "55", "HB": "96", "KB": "96", "EK": "76", "BRF": "76", "I": "80"}[code])
        names = name + (f"${rng.choice(FIRST)} {rng.choice(SECOND)} AB" if made % 11 == 0 else "")
        city, prefix = rng.choice(CITIES)
        street = f"{rng.choice(STREETS)} {rng.randint(1, 90)}" if made % 17 else f"Box {rng.randint(10, 999)}"
        registered = date(1950, 1, 1) + timedelta(days=rng.randint(0, 27000))
        deregistered = registered + timedelta(days=rng.randint(300, 9000)) if made % 7 == 0 else None
        if deregistered and deregistered > SAMPLE_DATE:
            deregistered = None
        postcode = f"{prefix}{rng.randint(10, 99)}"
        yield _line(
            _row(orgnr, names, code, street, postcode, city, deregistered, registered, rng.choice(DESCRIPTIONS), rng)
        )
        made += 1


def write(path: str | Path, count: int, *, as_zip: bool = True, data_date: date = SAMPLE_DATE, **options) -> Path:
    """Write a made-up register of `count` rows (a ZIP holding the latin-1 text file, or the text file)."""
    path = Path(path)
    if not as_zip:
        with path.open("w", encoding="latin-1", newline="") as out:
            out.writelines(lines(count, **options))
        return path
    info = zipfile.ZipInfo(MEMBER, date_time=(data_date.year, data_date.month, data_date.day, 1, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as archive, archive.open(info, "w") as raw:
        with io.TextIOWrapper(raw, encoding="latin-1", newline="") as out:
            out.writelines(lines(count, **options))
    return path


if __name__ == "__main__":
    print(write(SAMPLE, 300))
