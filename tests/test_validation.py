"""services.validation (what is stored) and services.formatting (what is shown).

Validation messages are asserted in Swedish, the default locale (as the
catalogue words them): the user reads them next to the field.
"""

from datetime import date, datetime
from decimal import Decimal

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from services import formatting, validation
from services.validation import InvalidValue
from tests.helpers import sv

NBSP = "\u00a0"


# --- organisationsnummer -------------------------------------------------------


@pytest.mark.parametrize("typed", ["556036-0793", "5560360793", " 556036-0793 ", "556036 0793"])
def test_org_number_valid_with_or_without_dash_is_stored_as_ten_digits(typed):
    assert validation.org_number(typed) == "5560360793"


def test_org_number_wrong_check_digit_says_so():
    with pytest.raises(InvalidValue) as exc:
        validation.org_number("556036-0794")
    assert str(exc.value) == sv("The organisation number %(value)s has a wrong check digit.", value="556036-0794")


@pytest.mark.parametrize("typed", ["123", "556036-079", "55603607931", "abcdefghij", "16556036-07931"])
def test_org_number_of_wrong_length_asks_for_ten_digits(typed):
    with pytest.raises(InvalidValue) as exc:
        validation.org_number(typed)
    assert str(exc.value) == sv("The organisation number must be ten digits, NNNNNN-NNNN.")


@pytest.mark.parametrize("country", ["DE", "no", "FI"])
def test_foreign_company_skips_the_swedish_check(country):
    assert validation.org_number(" HRB 12345 ", country) == "HRB 12345"
    # Even a number that would fail the Swedish check digit is kept as typed.
    assert validation.org_number("556036-0794", country) == "556036-0794"


def test_swedish_company_is_checked_whatever_the_case_of_the_country():
    with pytest.raises(InvalidValue):
        validation.org_number("556036-0794", "se")
    assert validation.org_number("556036-0793", None) == "5560360793"


@pytest.mark.parametrize("typed", ["811218-9876", "8112189876", "19811218-9876", "198112189876"])
def test_sole_trader_personnummer_is_accepted_as_org_number(typed):
    """A sole trader (enskild firma) uses the owner's personnummer: stored as its ten digits."""
    assert validation.org_number(typed) == "8112189876"


def test_sole_trader_personnummer_with_wrong_check_digit_is_refused():
    with pytest.raises(InvalidValue):
        validation.org_number("19811218-9877")


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_empty_org_number_is_none(blank):
    assert validation.org_number(blank) is None


# --- personnummer ---------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["811218-9876", "8112189876", "19811218-9876", "198112189876", " 811218-9876 "],
)
def test_personal_number_is_stored_with_century_and_dash(typed):
    assert validation.personal_number(typed) == "19811218-9876"


def test_personal_number_of_someone_over_a_hundred_gets_the_right_century():
    assert validation.personal_number("121212+1212") == "19121212-1212"


@pytest.mark.parametrize("typed", ["811218-9877", "811318-9876", "12345", "abc"])
def test_invalid_personal_number_is_refused_in_swedish(typed):
    with pytest.raises(InvalidValue) as exc:
        validation.personal_number(typed)
    assert str(exc.value) == sv("This is not a valid Swedish personal identity number.")


def test_empty_personal_number_is_none():
    assert validation.personal_number("") is None


# --- VAT ----------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["SE556036079301", "se556036079301", "SE 5560 3607 9301", "556036079301"])
def test_swedish_vat_number_is_normalised_with_its_country_prefix(typed):
    assert validation.vat_number(typed) == "SE556036079301"


@pytest.mark.parametrize("typed", ["SE556036079401", "SE5560360793", "SE556036079302"])
def test_invalid_swedish_vat_number_is_refused(typed):
    with pytest.raises(InvalidValue) as exc:
        validation.vat_number(typed)
    assert str(exc.value) == sv("A Swedish VAT number is SE followed by twelve digits (SE556036079301).")


def test_foreign_vat_number_is_kept_compact_and_upper_case():
    assert validation.vat_number("de 123 456 789") == "DE123456789"


def test_empty_vat_number_is_none():
    assert validation.vat_number(" ") is None


# --- phone --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("08-123 456 78", "+46812345678"),
        ("08 - 12345678", "+46812345678"),
        ("070-123 45 67", "+46701234567"),
        ("0701234567", "+46701234567"),
        ("+46 70 123 45 67", "+46701234567"),
        ("+46 (0)70-123 45 67", "+46701234567"),
        ("0046 70 123 45 67", "+46701234567"),
        ("031-12 34 56", "+4631123456"),
        ("+49 30 1234567", "+49301234567"),
    ],
)
def test_phone_is_stored_as_e164(typed, stored):
    assert validation.phone(typed) == stored


def test_phone_uses_the_companys_country_for_national_numbers():
    assert validation.phone("030 1234567", "DE") == "+49301234567"
    assert validation.phone("030 1234567", None) != "+49301234567"


@pytest.mark.parametrize("typed", ["12", "08-1", "070-123", "+46 70 123 45 6"])
def test_phone_number_that_does_not_exist_is_refused(typed):
    with pytest.raises(InvalidValue) as exc:
        validation.phone(typed)
    assert str(exc.value) == sv("The phone number %(value)s does not exist.", value=typed)


@pytest.mark.parametrize("typed", ["abc", "ring mig"])
def test_text_that_is_no_phone_number_is_refused(typed):
    with pytest.raises(InvalidValue) as exc:
        validation.phone(typed)
    assert str(exc.value) == sv("This is not a phone number.")


def _phone_as_phonenumbers_has_it(text: str) -> tuple[str, str | None]:
    try:
        parsed = phonenumbers.parse(text, "SE")
    except phonenumbers.NumberParseException:
        return "no number", None
    if not phonenumbers.is_valid_number(parsed):
        return "does not exist", None
    return "valid", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _phone_as_we_have_it(text: str) -> tuple[str, str | None]:
    try:
        stored = validation.phone(text)
    except InvalidValue as exc:
        return ("no number" if str(exc) == sv("This is not a phone number.") else "does not exist"), None
    return "valid", stored


@pytest.mark.parametrize(
    "typed",
    ["08-123 456 78", "0046 8 123 456 78", "+46-8-123 456 78", "+4608123456", "00 46 8 123", "0 8 123 456", "07"]
    + ["070-123 45 6", "0701234567890", "08--123 45 67", "08 123 45 67 ", "010-123 45 67", "0900-123 456"],
)
def test_a_swedish_number_is_taken_as_phonenumbers_takes_it_at_the_edges(typed):
    assert _phone_as_we_have_it(typed) == _phone_as_phonenumbers_has_it(typed.strip())


def test_a_swedish_number_as_files_write_it_is_taken_apart_without_phonenumbers_parser(monkeypatch):
    monkeypatch.setattr(phonenumbers, "parse", None)
    assert [validation.phone(t) for t in ("08-123 456 78", "+46 70-123 45 67")] == ["+46812345678", "+46701234567"]


@settings(max_examples=1500, deadline=None)
@given(st.from_regex(r"(0|\+46|0046|\+46 |0046-|00)[0-9 -]{0,16}", fullmatch=True))
def test_every_swedish_number_is_taken_as_phonenumbers_takes_it(typed):
    assert _phone_as_we_have_it(typed) == _phone_as_phonenumbers_has_it(typed.strip())


def test_empty_phone_is_none():
    assert validation.phone("") is None
    assert validation.phone(None) is None


MOBILE_OR_NOT = [
    ("+46701234567", True),
    ("070-123 45 67", True),
    ("+46 73 123 45 67", True),
    ("+447911123456", True),
    ("+358401234567", True),
    ("+46812345678", False),
    ("08-123 456 78", False),
    ("+4690000000", False),
    ("070-123", False),
    ("12", False),
    ("ring mig", False),
    ("", False),
    (None, False),
]


@pytest.mark.parametrize("number, mobile", MOBILE_OR_NOT)
def test_is_mobile_is_what_mobile_phone_accepts(number, mobile):
    """`is_mobile` (the cards ask it of every number they show) answers as `mobile_phone` would."""
    try:
        accepted = validation.mobile_phone(number) is not None
    except InvalidValue:
        accepted = False
    assert validation.is_mobile(number) is accepted is mobile


# --- e-mail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("anna@example.se", "anna@example.se"),
        (" anna@example.se ", "anna@example.se"),
        ("Anna.Lind@Example.SE", "Anna.Lind@example.se"),
        ("åsa@exempel.se", "åsa@exempel.se"),
    ],
)
def test_email_is_normalised(typed, stored):
    assert validation.email(typed) == stored


@pytest.mark.parametrize("typed", ["anna@", "anna", "@example.se", "anna@@example.se", "anna example@x.se"])
def test_invalid_email_is_refused_in_swedish(typed):
    with pytest.raises(InvalidValue) as exc:
        validation.email(typed)
    assert str(exc.value) == sv("This is not a valid e-mail address.")


def _as_email_validator_has_it(text: str) -> str | None:
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def _as_we_have_it(text: str) -> str | None:
    try:
        return validation.email(text)
    except InvalidValue:
        return None


LABEL_63 = "a" * 63


@pytest.mark.parametrize(
    "typed",
    [
        "a" * 64 + "@example.se",
        "a" * 65 + "@example.se",
        f"anna@{LABEL_63}.se",
        f"anna@{LABEL_63}b.se",
        "anna@example.s",
        "anna@example.123",
        "anna@xn--exempel-6wa.se",
        "anna@ab--c.se",
        "anna@example.test",
        "anna@example.localhost",
        "anna@localhost",
        "a..b@example.se",
        ".a@example.se",
        "a.@example.se",
        "a@-example.se",
        "a@example-.se",
        "a@example..se",
        "a@.example.se",
        "A_B%C+D-E@Sub.Example.SE",
        "INFO@Alfa.se",
        "PostMaster@alfa.se",
        "Info.Sales@alfa.se",
        "x@" + "b" * 60 + "." + "c" * 60 + ".se",
    ],
)
def test_plain_addresses_are_normalised_as_email_validator_does_at_the_edges(typed):
    assert _as_we_have_it(typed) == _as_email_validator_has_it(typed)


@settings(max_examples=1500, deadline=None)
@given(
    st.from_regex(r"[A-Za-z0-9._%+\-]{0,70}@[A-Za-z0-9.\-]{0,70}", fullmatch=True)
    | st.from_regex(r"[a-z.]{1,8}@([a-z0-9-]{1,5}\.){1,3}(se|nu|com|test|local|x|s1)", fullmatch=True)
    | st.text(alphabet="aZ9._%+-@åü ", max_size=30)
    | st.emails()
)
def test_every_address_is_normalised_or_refused_as_email_validator_does(typed):
    assert _as_we_have_it(typed) == _as_email_validator_has_it(typed)


def test_a_plain_address_is_normalised_without_email_validator(monkeypatch):
    """What an import's files mostly hold: checked by a regular expression, not character by character."""
    monkeypatch.setattr(validation, "validate_email", None)
    assert validation.email(" Anna.Lind@Foretag1.SE ") == "Anna.Lind@foretag1.se"
    assert validation.email("INFO@foretag1.se") == "info@foretag1.se"


def test_empty_email_is_none():
    assert validation.email("  ") is None


# --- postcode ------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["12345", "123 45", "123-45", " 12345 "])
def test_postcode_is_stored_as_nnn_nn(typed):
    assert validation.postcode(typed) == "123 45"


@pytest.mark.parametrize("typed", ["1234", "123456", "02345", "ABC12", "12 34"])
def test_invalid_swedish_postcode_is_refused(typed):
    with pytest.raises(InvalidValue) as exc:
        validation.postcode(typed)
    assert str(exc.value) == sv("A Swedish postcode has five digits, NNN NN.")


def test_foreign_postcode_is_kept_as_typed():
    assert validation.postcode(" N-0150 ", "NO") == "N-0150"
    assert validation.postcode("20095", "DE") == "20095"


def test_empty_postcode_is_none():
    assert validation.postcode(None) is None


# --- formatting ------------------------------------------------------------------------


def test_org_number_is_shown_with_a_dash():
    assert formatting.org_number("5560360793") == "556036-0793"
    assert formatting.org_number("HRB 12345") == "HRB 12345"
    assert formatting.org_number(None) == ""
    assert formatting.org_number("") == ""


@pytest.mark.parametrize(
    "stored, shown",
    [
        ("+46812345678", "08-123 456 78"),
        ("+46701234567", "070-123 45 67"),
        ("+4631123456", "031-12 34 56"),
        ("+49301234567", "+49 30 1234567"),
    ],
)
def test_phone_is_shown_swedish_style(stored, shown):
    assert formatting.phone(stored) == shown


def test_phone_display_round_trips_through_validation():
    for typed in ("08-123 456 78", "070-123 45 67"):
        assert formatting.phone(validation.phone(typed)) == typed


def test_phone_display_of_nothing_or_garbage():
    assert formatting.phone(None) == ""
    assert formatting.phone("") == ""
    assert formatting.phone("okänt") == "okänt"


@pytest.mark.parametrize(
    "amount, shown",
    [
        (Decimal("1234.5"), f"1{NBSP}234,50{NBSP}kr"),
        (Decimal("1234567.891"), f"1{NBSP}234{NBSP}567,89{NBSP}kr"),
        (0, f"0,00{NBSP}kr"),
        (12, f"12,00{NBSP}kr"),
        (Decimal("-5"), f"-5,00{NBSP}kr"),
        (Decimal("0.5"), f"0,50{NBSP}kr"),
        (Decimal("0.005"), f"0,01{NBSP}kr"),  # öre rounded half up, not half to even
        (Decimal("2.675"), f"2,68{NBSP}kr"),
    ],
)
def test_money_is_shown_the_swedish_way_with_non_breaking_spaces(amount, shown):
    text = formatting.money(amount)
    assert text.replace("\u2212", "-") == shown
    assert " " not in text  # never an ordinary space: the amount must not break across lines


def test_money_in_another_currency_and_none():
    assert formatting.money(Decimal("10"), "EUR") == f"10,00{NBSP}EUR"
    assert formatting.money(None) == ""


def test_dates_are_iso():
    assert formatting.iso_date(date(2026, 3, 5)) == "2026-03-05"
    assert formatting.iso_date(None) == ""


def test_datetimes_are_iso_in_swedish_time(app):
    """Stored times are UTC; they are shown as YYYY-MM-DD HH:MM in Europe/Stockholm."""
    with app.test_request_context():
        assert formatting.iso_date(datetime(2026, 1, 15, 9, 7, 30)) == "2026-01-15 10:07"
        assert formatting.iso_date(datetime(2026, 7, 15, 23, 30)) == "2026-07-16 01:30"


@pytest.mark.parametrize("value", [-1, 366, 9999, "-30", "30,5", "", None, True, "abc"])
def test_payment_terms_outside_the_rule_are_refused(app, value):
    with app.test_request_context(), pytest.raises(validation.InvalidValue):
        validation.payment_terms(value)


@pytest.mark.parametrize(("value", "days"), [(0, 0), (365, 365), ("30", 30), (" 10 ", 10)])
def test_payment_terms_within_the_rule(value, days):
    assert validation.payment_terms(value) == days
