"""Loading Bolagsverket's bulk file (services.registry_loader): the sample file, reloads, and files it refuses."""

import csv
import io
import zipfile
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from extensions import db
from models import RegistryCompany, RegistryLoad
from seed import bolagsverket_sample
from seed.bolagsverket_sample import SAMPLE
from services import registry
from services.registry_loader import HEADERS, LoadError, load

FILE = [registry.BulkFileProvider()]


def names(text):
    return [e.name for e in registry.lookup(db.session, text, sources=FILE).entries]


def sample_rows():
    """The sample file's rows as the csv module reads them (independently of the loader)."""
    with zipfile.ZipFile(SAMPLE) as archive:
        text = archive.read(archive.namelist()[0]).decode("latin-1")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def write_text(path, lines, encoding="latin-1"):
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def line(*fields):
    return ";".join(f'"{f}"' for f in fields)


HEADER = line(*HEADERS)
GOOD = line(
    "5560360793$ORGNR-IDORG", "", "SE-LAND", "Åkessons Järn AB$Gamla Namnet AB", "AB-ORGFO", "", "", "", "2001-02-03",
    "Järnhandel.", "Storgatan 1$c/o Ek$11122$Stockholm$SE-LAND",
)  # fmt: skip


def test_the_sample_file_is_loaded_as_the_register(app):
    result = load(db.engine, SAMPLE)
    rows = sample_rows()
    assert 200 <= len(rows) <= 1000
    assert result.rows == len(rows) == db.session.scalar(select(func.count()).select_from(RegistryCompany))
    assert result.active == sum(1 for r in rows if not r["avregistreringsdatum"])
    assert result.data_date == date(2026, 11, 30)  # the date of the file in the ZIP
    current = registry.active_load(db.session)
    assert (current.data_date, current.row_count, current.status) == (date(2026, 11, 30), len(rows), "active")

    svea = db.session.scalars(select(RegistryCompany).where(RegistryCompany.org_number == "5529405572")).one()
    assert svea.name == "Svea Kaffe AB"  # the first of the $-separated names
    assert (svea.legal_form, svea.postal_street, svea.postal_postcode, svea.postal_city) == (
        "AB",
        "Kaffegränd 4",
        "11122",
        "Stockholm",
    )
    glas = db.session.scalars(select(RegistryCompany).where(RegistryCompany.org_number == "5599065934")).one()
    assert glas.deregistered_on == date(2026, 6, 12)
    assert "Svea Kaffe AB" in names("svea kaffe")


def test_a_text_file_with_latin1_letters_loads_with_every_field(app, tmp_path):
    path = write_text(tmp_path / "bulk.txt", [HEADER, GOOD])
    result = load(db.engine, path, data_date=date(2026, 12, 1))
    assert (result.rows, result.active, result.data_date) == (1, 1, date(2026, 12, 1))
    row = db.session.scalars(select(RegistryCompany)).one()
    assert (row.org_number, row.name, row.search_name) == ("5560360793", "Åkessons Järn AB", "åkessons järn ab")
    assert (row.postal_street, row.postal_co, row.postal_postcode, row.postal_city) == (
        "Storgatan 1",
        "c/o Ek",
        "11122",
        "Stockholm",
    )
    assert row.business_description == "Järnhandel."
    assert row.registered_on == date(2001, 2, 3)


def test_a_reload_replaces_the_previous_load_and_lookups_answer_during_it(app, tmp_path):
    load(db.engine, SAMPLE)
    small = bolagsverket_sample.write(tmp_path / "next.zip", 25, with_demo=False, rng_seed=99)
    seen_during = []

    def during(rows):
        seen_during.append(names("svea kaffe"))
        db.session.remove()  # as a request ends: the switch waits for open reads

    result = load(db.engine, small, progress=during)
    db.session.remove()
    assert seen_during and all("Svea Kaffe AB" in found for found in seen_during)  # the old load answered
    assert result.rows == 25 == db.session.scalar(select(func.count()).select_from(RegistryCompany))
    assert "Svea Kaffe AB" not in names("svea kaffe")
    statuses = db.session.execute(select(RegistryLoad.id, RegistryLoad.status).order_by(RegistryLoad.id)).all()
    assert [s for _id, s in statuses] == ["replaced", "active"]
    some = db.session.scalars(select(RegistryCompany).limit(1)).one()
    assert some.name in names(some.name)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([line(*HEADERS[:-1], "adress"), GOOD], "Förväntade kolumner: " + ";".join(HEADERS)),
        ([HEADER, GOOD.replace("5560360793", "5560360794")], "Rad 2: ogiltigt organisationsnummer '5560360794'"),
        ([HEADER, GOOD.replace('"2001-02-03"', '"2001-13-03"')], "registreringsdatum är inget datum"),
        ([HEADER, GOOD.rsplit(";", 2)[0]], "Rad 2 har 9 fält, men filen ska ha 11"),
        ([HEADER, GOOD.replace("Åkessons Järn AB$", "$")], "Rad 2: organisationsnamn saknas"),
        ([HEADER], "inga rader"),
    ],
    ids=["wrong-header", "bad-orgnr", "bad-date", "too-few-fields", "no-name", "no-rows"],
)
def test_a_malformed_file_is_refused_and_the_previous_load_stays(app, tmp_path, lines, message):
    load(db.engine, SAMPLE)
    with pytest.raises(LoadError) as refused:
        load(db.engine, write_text(tmp_path / "bad.txt", lines))
    assert message in str(refused.value)
    db.session.remove()
    assert "Svea Kaffe AB" in names("svea kaffe")
    assert db.session.scalar(select(func.count()).select_from(RegistryCompany)) == len(sample_rows())
    assert [s for (s,) in db.session.execute(select(RegistryLoad.status).order_by(RegistryLoad.id))] == [
        "active",
        "failed",
    ]


def test_a_utf8_file_is_refused_as_latin1_and_loads_when_told(app, tmp_path):
    path = write_text(tmp_path / "utf8.txt", [HEADER, GOOD], encoding="utf-8")
    with pytest.raises(LoadError, match="ser ut att vara UTF-8"):
        load(db.engine, path)
    load(db.engine, path, encoding="utf-8")
    assert names("åkessons") == ["Åkessons Järn AB"]


def test_windows_characters_are_refused(app, tmp_path):
    path = tmp_path / "cp1252.txt"
    path.write_bytes((HEADER + "\r\n" + GOOD.replace("Järnhandel.", "Järn “bäst”") + "\r\n").encode("cp1252"))
    with pytest.raises(LoadError, match="latin-1"):
        load(db.engine, path)


def test_a_truncated_zip_is_refused(app, tmp_path):
    data = SAMPLE.read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="trasig"):
        load(db.engine, path)
    assert registry.active_load(db.session) is None


def test_a_zip_with_a_damaged_member_is_refused(app, tmp_path):
    data = bytearray(SAMPLE.read_bytes())
    data[200:260] = bytes(60)  # inside the compressed text
    path = tmp_path / "damaged.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(LoadError):
        load(db.engine, path)
    assert db.session.scalar(select(func.count()).select_from(RegistryCompany)) == 0


def test_the_cli_loads_and_reports_errors_in_words(app, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app.cli, ["registry", "load", str(SAMPLE)])
    assert ok.exit_code == 0, ok.output
    assert f"Loaded {len(sample_rows())} companies" in ok.output and "2026-11-30" in ok.output
    bad = runner.invoke(app.cli, ["registry", "load", str(write_text(tmp_path / "x.txt", ["a;b", "1;2"]))])
    assert bad.exit_code == 1
    assert "Förväntade kolumner: organisationsidentitet;namnskyddslopnummer" in bad.output
    missing = runner.invoke(app.cli, ["registry", "load", str(tmp_path / "nothing.zip")])
    assert missing.exit_code == 1 and "finns inte" in missing.output


def test_the_loaders_quick_luhn_check_answers_as_stdnums():
    """The loader checks two million organisationsnummer with its own Luhn (registry_loader._luhn_valid);
    it must say what python-stdnum says, for valid and invalid numbers alike."""
    import random

    from stdnum import luhn

    from services.registry_loader import _luhn_valid

    rng = random.Random(17)
    numbers = [f"{rng.randrange(10**10):010d}" for _ in range(20_000)]
    numbers += [n[:9] + luhn.calc_check_digit(n[:9]) for n in numbers[:5_000]]  # valid ones too
    assert [_luhn_valid(n) for n in numbers] == [luhn.is_valid(n) for n in numbers]
    assert sum(_luhn_valid(n) for n in numbers) > 5_000
