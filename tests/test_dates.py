"""Dates as people type them (services.dates), read the same in every form, filter and report."""

from datetime import date

import pytest

from extensions import db
from models import Opportunity
from services.dates import parse_date
from services.validation import InvalidValue
from tests.helpers import field_errors, sv, text
from tests.test_views_opportunity import company, form, stages  # noqa: F401  (fixtures)

TODAY = date(2026, 12, 5)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-12-05", date(2026, 12, 5)),
        ("20261205", date(2026, 12, 5)),
        ("5/12", date(2026, 12, 5)),
        ("05/12", date(2026, 12, 5)),
        ("5/1 2027", date(2027, 1, 5)),
        ("05.12.2026", date(2026, 12, 5)),
        ("idag", TODAY),
        (" Idag ", TODAY),
        ("i dag", TODAY),
        ("igår", date(2026, 12, 4)),
        ("imorgon", date(2026, 12, 6)),
        ("", None),
    ],
)
def test_typed_dates(app, typed, expected):
    with app.test_request_context():
        assert parse_date(typed, today=TODAY) == expected


@pytest.mark.parametrize("typed", ["2026-02-30", "32/12", "5/13", "förra veckan", "12/5/2026/1"])
def test_what_is_not_a_date_is_refused_in_swedish(app, typed):
    with app.test_request_context():
        with pytest.raises(InvalidValue) as exc:
            parse_date(typed, today=TODAY)
    assert str(exc.value) == sv("Not a date; write for example 2026-12-05, 20261205, 5/12 or idag.")


def test_an_import_file_takes_written_dates_only(app):
    with app.test_request_context():
        assert parse_date("20261205", typed=False) == date(2026, 12, 5)
        for typed in ("idag", "5/12"):
            with pytest.raises(InvalidValue):
                parse_date(typed, typed=False)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("2027-02-28", date(2027, 2, 28)), ("20270228", date(2027, 2, 28)), ("idag", date.today())],
)
def test_the_opportunity_form_reads_typed_close_dates(login, company, stages, typed, expected):  # noqa: F811
    response = login("seller").post("/admin/opportunity/new/", form(company, stages["Kontakt"], close_date=typed))
    assert response.status_code == 302, text(response)
    assert db.session.scalar(db.select(Opportunity.close_date)) == expected


def test_the_opportunity_form_reads_day_slash_month(login, company, stages):  # noqa: F811
    login("seller").post("/admin/opportunity/new/", form(company, stages["Kontakt"], close_date="5/12"))
    assert db.session.scalar(db.select(Opportunity.close_date)) == date(date.today().year, 12, 5)


def test_a_bad_date_is_said_at_the_field_and_nothing_is_saved(login, company, stages):  # noqa: F811
    response = login("seller").post("/admin/opportunity/new/", form(company, stages["Kontakt"], close_date="31/2"))
    assert response.status_code == 200
    assert field_errors(response, "close_date") == [
        sv("Not a date; write for example 2026-12-05, 20261205, 5/12 or idag.")
    ]
    assert db.session.scalar(db.select(db.func.count()).select_from(Opportunity)) == 0


def test_the_date_field_is_a_picker_with_an_iso_format(login, company, stages):  # noqa: F811
    page = text(login("seller").client.get("/admin/opportunity/new/"))
    field = next(tag for tag in page.split("<input") if 'id="close_date"' in tag)
    assert 'data-role="datepicker"' in field and 'data-date-format="YYYY-MM-DD"' in field
    assert 'type="date"' not in field
    assert "/static/vendor/moment/sv.js" in page and "/static/js/dates.js" in page


def test_the_sales_report_reads_typed_dates(login):
    admin = login("admin").client
    assert "is-invalid" not in text(admin.get("/admin/reports/sales?close_from=1/1&close_to=idag"))
    assert "is-invalid" in text(admin.get("/admin/reports/sales?close_from=1/13"))
