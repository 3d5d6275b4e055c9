"""Egna fält (FAQ 23): services.custom_fields (definitions, parsing, typed storage,
all-or-nothing save, deactivation instead of delete), the Rapportgenerator's custom
columns, conditions and sort, and the settings pages and card tab through HTTP."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from extensions import db
from models import AuditEvent, Company, CustomFieldDefinition, CustomFieldValue, CustomTab
from services import custom_fields, layout, numbering, report_generator
from services.validation import InvalidValue
from tests.helpers import field_errors, flashes, sv, text


@pytest.fixture
def agreement(app):
    """An "Avtal" tab on the company card with a field of every type."""
    tab = CustomTab(name="Avtal", applies_to="company")
    fields = {
        kind: CustomFieldDefinition(tab=tab, label=label, field_type=kind, sort_order=n, choices=choices)
        for n, (kind, label, choices) in enumerate(
            [
                ("text", "Avtalsnummer", None),
                ("longtext", "Villkor", None),
                ("number", "Licenser", None),
                ("date", "Avtalsslut", None),
                ("bool", "Referenskund", None),
                ("choice", "Supportnivå", "Guld\nSilver\nBrons"),
            ]
        )
    }
    db.session.add(tab)
    db.session.commit()
    return {"tab": tab, **fields}


def form(agreement, **typed) -> dict:
    return {f"field-{agreement[kind].id}": value for kind, value in typed.items()}


def stored(company) -> dict:
    rows = db.session.scalars(select(CustomFieldValue).where(CustomFieldValue.company_id == company.id)).all()
    return {row.field.field_type: row for row in rows}


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "typed", "value"),
    [
        ("number", "1 250,50", Decimal("1250.50")),
        ("number", "1\u00a0250,5", Decimal("1250.5")),
        ("number", "-3", Decimal("-3")),
        ("date", "2027-03-31", date(2027, 3, 31)),
        ("date", "31.03.2027", date(2027, 3, 31)),
        ("bool", "1", True),
        ("bool", "Nej", False),
        ("choice", "Silver", "Silver"),
        ("text", "  AV-1  ", "AV-1"),
        ("text", "", None),
    ],
)
def test_values_are_parsed_as_swedes_type_them(agreement, kind, typed, value):
    assert custom_fields.parse_value(agreement[kind], typed) == value


@pytest.mark.parametrize(
    ("kind", "typed", "message"),
    [
        ("number", "tolv", "Not a number; write for example 1 250,50."),
        ("number", "1,23456", "At most %(places)s decimals."),
        ("date", "2027-02-30", "Not a date; write for example 2026-12-05, 20261205, 5/12 or idag."),
        ("bool", "kanske", "Choose yes or no."),
        ("choice", "Platina", "Choose one of the listed values."),
        ("text", "x" * 201, "At most %(max)s characters."),
    ],
)
def test_bad_values_get_a_swedish_message(agreement, kind, typed, message):
    with pytest.raises(InvalidValue) as caught:
        custom_fields.parse_value(agreement[kind], typed)
    values = {"places": 4, "max": 200}
    assert str(caught.value) == sv(message, **{k: v for k, v in values.items() if f"%({k})s" in message})


def test_a_choice_no_longer_listed_stays_valid_for_who_has_it(agreement):
    assert custom_fields.parse_value(agreement["choice"], "Platina", current="Platina") == "Platina"


# --- saving ----------------------------------------------------------------------------------


def test_values_are_stored_in_the_column_of_their_type(agreement, make_company):
    company = make_company()
    custom_fields.save_tab(
        db.session,
        company,
        agreement["tab"],
        form(
            agreement,
            text="AV-7",
            longtext="Tre månader",
            number="1 250,50",
            date="31.03.2027",
            bool="1",
            choice="Guld",
        ),
    )
    db.session.commit()
    rows = stored(company)
    assert rows["number"].value_number == Decimal("1250.5") and rows["number"].value_text is None
    assert rows["date"].value_date == date(2027, 3, 31)
    assert rows["bool"].value_bool is True
    assert (rows["text"].value_text, rows["longtext"].value_text, rows["choice"].value_text) == (
        "AV-7",
        "Tre månader",
        "Guld",
    )


def test_one_bad_value_saves_nothing(agreement, make_company):
    company = make_company()
    version = company.version
    with pytest.raises(custom_fields.InvalidValues) as caught:
        custom_fields.save_tab(db.session, company, agreement["tab"], form(agreement, text="AV-7", number="många"))
    db.session.rollback()
    assert set(caught.value.errors) == {agreement["number"].id}
    assert stored(company) == {}
    assert db.session.get(Company, company.id).version == version


def test_a_required_field_must_be_filled(agreement, make_company):
    agreement["text"].required = True
    db.session.commit()
    with pytest.raises(custom_fields.InvalidValues) as caught:
        custom_fields.save_tab(db.session, make_company(), agreement["tab"], form(agreement, number="3"))
    assert caught.value.errors == {agreement["text"].id: sv("Fill in %(field)s.", field="Avtalsnummer")}


def test_a_partial_save_checks_only_the_fields_it_names(agreement, make_company):
    """The rule for a required field: the whole tab (the card's form) needs it; a partial save (the
    API) of other fields does not, and never empties it."""
    company = make_company()
    custom_fields.save_tab(db.session, company, agreement["tab"], form(agreement, text="AV-1", choice="Guld"))
    db.session.commit()
    agreement["number"].required = True  # added after the customer's values were saved
    db.session.commit()
    custom_fields.save_tab(db.session, company, agreement["tab"], form(agreement, text="AV-2"), partial=True)
    db.session.commit()
    assert stored(company)["text"].value_text == "AV-2"
    assert stored(company)["choice"].value_text == "Guld"  # not named: kept
    with pytest.raises(custom_fields.InvalidValues) as caught:
        custom_fields.save_tab(db.session, company, agreement["tab"], form(agreement, number=None), partial=True)
    assert caught.value.errors == {agreement["number"].id: sv("Fill in %(field)s.", field="Licenser")}
    with pytest.raises(custom_fields.InvalidValues):  # the whole tab without it
        custom_fields.save_tab(db.session, company, agreement["tab"], form(agreement, text="AV-3"))


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("text", ["a"], "Write the value as text."),
        ("choice", {"x": 1}, "Write the value as text."),
        ("number", True, "Not a number; write for example 1 250,50."),
        ("date", 20260101, "Not a date; write YYYY-MM-DD or DD.MM.YYYY."),
        ("bool", ["1"], "Choose yes or no."),
        ("number", 1e20, "At most %(digits)s digits before the decimal comma."),
    ],
)
def test_a_value_of_another_kind_gets_the_types_message(agreement, kind, raw, message):
    with pytest.raises(InvalidValue) as caught:
        custom_fields.parse_value(agreement[kind], raw)
    assert str(caught.value) == sv(message, digits=custom_fields.NUMBER_DIGITS)


def test_saving_audits_the_change_on_the_customer_and_bumps_its_version(agreement, make_company, employees):
    company = make_company()
    version = company.version
    custom_fields.save_tab(db.session, company, agreement["tab"], form(agreement, number="10"))
    db.session.commit()
    custom_fields.save_tab(db.session, company, agreement["tab"], form(agreement, number="12,5"))
    db.session.commit()
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "company", AuditEvent.entity_id == company.id)
        .order_by(AuditEvent.id)
    ).all()
    assert [e.changes for e in events if e.action == "update"] == [
        {"Licenser": [None, "10"]},
        {"Licenser": ["10", "12,50"]},
    ]
    assert company.version == version + 2


def test_emptying_a_field_removes_its_value_and_an_unchanged_save_writes_nothing(agreement, make_company):
    company = make_company()
    custom_fields.save_tab(db.session, company, agreement["tab"], form(agreement, text="AV-1", choice="Guld"))
    db.session.commit()
    version = company.version
    assert (
        custom_fields.save_tab(db.session, company, agreement["tab"], form(agreement, text="AV-1", choice="Guld")) == {}
    )
    db.session.commit()
    assert company.version == version
    custom_fields.save_tab(db.session, company, agreement["tab"], form(agreement, text="AV-1"))
    db.session.commit()
    assert set(stored(company)) == {"text"}


def test_a_contact_has_its_own_values(make_contact):
    tab = CustomTab(name="Intressen", applies_to="contact")
    field = CustomFieldDefinition(tab=tab, label="Nyhetsbrev", field_type="bool")
    db.session.add(tab)
    db.session.commit()
    contact = make_contact()
    custom_fields.save_tab(db.session, contact, tab, {f"field-{field.id}": "1"})
    db.session.commit()
    assert custom_fields.values_of(db.session, contact, [field]) == {field.id: True}


# --- definitions ----------------------------------------------------------------------------


def test_a_field_in_use_is_deactivated_not_deleted(agreement, make_company):
    unused = agreement["longtext"]
    custom_fields.delete_field(db.session, unused)
    db.session.commit()
    custom_fields.save_tab(db.session, make_company(), agreement["tab"], form(agreement, text="AV-1"))
    db.session.commit()
    with pytest.raises(InvalidValue, match="Avtalsnummer"):
        custom_fields.delete_field(db.session, agreement["text"])
    with pytest.raises(InvalidValue, match="Avtal"):
        custom_fields.delete_tab(db.session, agreement["tab"])
    agreement["text"].active = False
    db.session.commit()
    assert agreement["text"] not in custom_fields.active_fields(db.session, "company")
    assert db.session.get(CustomFieldDefinition, unused.id) is None


def test_a_field_in_use_keeps_its_type(agreement, make_company):
    custom_fields.save_tab(db.session, make_company(), agreement["tab"], form(agreement, text="AV-1"))
    db.session.commit()
    agreement["text"].field_type = "number"
    with pytest.raises(InvalidValue):
        custom_fields.check_field(db.session, agreement["text"])
    db.session.rollback()
    agreement["date"].field_type = "text"  # no values yet: may change
    custom_fields.check_field(db.session, agreement["date"])


def test_a_tab_or_field_in_use_stays_on_its_card(agreement, make_company):
    custom_fields.save_tab(db.session, make_company(), agreement["tab"], form(agreement, text="AV-1"))
    db.session.commit()
    agreement["tab"].applies_to = "contact"
    with pytest.raises(InvalidValue, match="Avtal"):
        custom_fields.check_tab(db.session, agreement["tab"])
    db.session.rollback()
    people = CustomTab(name="Intressen", applies_to="contact")
    db.session.add(people)
    db.session.commit()
    agreement["text"].tab = people
    with pytest.raises(InvalidValue, match="Avtalsnummer"):
        custom_fields.check_field(db.session, agreement["text"])
    db.session.rollback()
    agreement["date"].tab = people  # no values yet: may move
    custom_fields.check_field(db.session, agreement["date"])
    custom_fields.check_tab(db.session, people)


def test_a_choice_field_needs_choices(agreement):
    agreement["choice"].choices = " \n "
    with pytest.raises(InvalidValue):
        custom_fields.check_field(db.session, agreement["choice"])


def test_custom_tabs_are_card_tabs_before_settings_and_take_part_in_behorigheter(agreement, employees):
    items = custom_fields.card_tab_items(db.session, "company_tabs")
    keys = [i.key for i in items]
    key = f"custom{agreement['tab'].id}"
    assert keys.index(key) == keys.index("settings") - 1
    assert key not in [i.key for i in custom_fields.card_tab_items(db.session, "contact_tabs")]
    seller = employees["seller"]
    layout.save(seller, "company_tabs", hidden_keys=[key], order_keys=[], items=items)
    assert key not in [i.key for i in layout.visible_items(seller, "company_tabs", items)]
    agreement["tab"].active = False
    db.session.commit()
    assert key not in [i.key for i in custom_fields.card_tab_items(db.session, "company_tabs")]


# --- the Rapportgenerator ----------------------------------------------------------------------


@pytest.fixture
def reported(agreement, make_company):
    rows = {
        "Alfa AB": ("25", "2027-01-31", "Guld", "1"),
        "Beta AB": ("1 250,5", "2026-12-31", "Silver", "0"),
        "Gamma AB": ("5", "2028-06-30", "Guld", ""),
    }
    for name, (licences, end, level, reference) in rows.items():
        custom_fields.save_tab(
            db.session,
            make_company(name=name),
            agreement["tab"],
            form(agreement, number=licences, date=end, choice=level, bool=reference),
        )
    make_company(name="Delta AB")  # no values
    db.session.commit()
    return agreement


def run(employee, **args):
    spec = report_generator.parse({"entity": "company", **args}, session=db.session)
    rows = db.session.scalars(report_generator.query(spec, employee)).unique().all()
    return spec, rows


def test_report_shows_custom_fields_as_columns(reported, employees):
    number = f"cf{reported['number'].id}"
    spec, rows = run(employees["admin"], col=["name", number], sort="name")
    assert [(r.name, spec.fields[number].value(r)) for r in rows] == [
        ("Alfa AB", Decimal("25")),
        ("Beta AB", Decimal("1250.5")),
        ("Delta AB", None),
        ("Gamma AB", Decimal("5")),
    ]
    assert spec.fields[number].display(Decimal("1250.5")) == "1\u00a0250,50"


def test_report_shows_custom_fields_only_to_who_may_see_them_on_the_card(reported, employees):
    seller = employees["seller"]
    seller.revoked_permissions = ["tab.custom"]
    db.session.commit()
    number = f"cf{reported['number'].id}"
    for args in ({"col": ["name", number]}, {"sort": number}, {number + "_from": "10"}):
        with pytest.raises(report_generator.NotPermitted):
            run(seller, **args)
    assert run(seller, col=["name"])[1]  # the rest of the register as before


@pytest.mark.parametrize(
    ("key", "desc", "expected"),
    [
        ("number", False, ["Gamma AB", "Alfa AB", "Beta AB", "Delta AB"]),  # as numbers, not as text
        ("date", True, ["Gamma AB", "Alfa AB", "Beta AB", "Delta AB"]),  # no value last either way
    ],
)
def test_report_sorts_by_a_custom_field(reported, employees, key, desc, expected):
    _spec, rows = run(employees["admin"], col=["name"], sort=f"cf{reported[key].id}", desc="1" if desc else "")
    assert [r.name for r in rows] == expected


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"choice": "Guld"}, ["Alfa AB", "Gamma AB"]),
        ({"bool": "1"}, ["Alfa AB"]),
        ({"bool": "0"}, ["Beta AB"]),
        ({"number_from": "20"}, ["Alfa AB", "Beta AB"]),
        ({"number_from": "20", "number_to": "1 000"}, ["Alfa AB"]),
        ({"date_to": "31.01.2027"}, ["Alfa AB", "Beta AB"]),
        ({"choice": "Guld", "date_from": "2027-02-01"}, ["Gamma AB"]),
    ],
)
def test_report_filters_on_custom_fields(reported, employees, conditions, expected):
    args = {}
    for name, value in conditions.items():
        kind, _sep, bound = name.partition("_")
        args[f"cf{reported[kind].id}" + (f"_{bound}" if bound else "")] = value
    _spec, rows = run(employees["admin"], col=["name"], sort="name", **args)
    assert [r.name for r in rows] == expected


def test_report_text_condition_is_contains_ignoring_case(agreement, make_company, employees):
    custom_fields.save_tab(db.session, make_company(name="Ett AB"), agreement["tab"], form(agreement, text="ÅR-2027-1"))
    custom_fields.save_tab(db.session, make_company(name="Två AB"), agreement["tab"], form(agreement, text="X-1"))
    db.session.commit()
    _spec, rows = run(employees["admin"], col=["name"], **{f"cf{agreement['text'].id}": "år-2027"})
    assert [r.name for r in rows] == ["Ett AB"]


def test_report_condition_with_a_bad_value_is_refused_in_swedish(reported):
    with pytest.raises(InvalidValue) as caught:
        report_generator.parse({"entity": "company", f"cf{reported['date'].id}_from": "snart"}, session=db.session)
    assert str(caught.value) == f"Avtalsslut: {sv('Not a date; write for example 2026-12-05, 20261205, 5/12 or idag.')}"


def test_contact_reports_offer_the_contact_cards_fields_only(reported, make_contact, employees):
    tab = CustomTab(name="Intressen", applies_to="contact")
    letter = CustomFieldDefinition(tab=tab, label="Nyhetsbrev", field_type="bool")
    db.session.add(tab)
    db.session.commit()
    person = make_contact(last_name="Privat")
    numbering.make_private_customer(db.session, person)
    custom_fields.save_tab(db.session, person, tab, {f"field-{letter.id}": "1"})
    db.session.commit()
    assert set(report_generator.custom_columns(db.session, "privatecustomer")) == {f"cf{letter.id}"}
    assert f"cf{reported['text'].id}" in report_generator.custom_columns(db.session, "supplier")
    spec = report_generator.parse(
        {"entity": "privatecustomer", f"cf{letter.id}": "1", "col": ["last_name", f"cf{letter.id}"]}, session=db.session
    )
    rows = db.session.scalars(report_generator.query(spec, employees["admin"])).unique().all()
    assert [(r.last_name, spec.fields[f"cf{letter.id}"].value(r)) for r in rows] == [("Privat", True)]


def test_saved_report_keeps_custom_columns_and_conditions_and_drops_deactivated_ones(reported, employees):
    admin = employees["admin"]
    number, level = f"cf{reported['number'].id}", f"cf{reported['choice'].id}"
    spec = report_generator.parse(
        {"entity": "company", "col": ["name", number, level], level: "Guld", "sort": number}, session=db.session
    )
    definition, _created = report_generator.save(db.session, admin, "Guldkunder", spec, shared=False)
    db.session.commit()
    again = report_generator.load(definition, db.session)
    assert (again.columns, again.custom, again.sort) == (["name", number, level], {level: "Guld"}, number)
    assert again.to_args()[level] == "Guld"
    reported["choice"].active = False
    db.session.commit()
    later = report_generator.load(definition, db.session)
    assert (later.columns, later.custom) == (["name", number], {})


# --- through HTTP ------------------------------------------------------------------------------


def test_only_administrators_manage_the_definitions(login, agreement):
    seller = login("seller")
    assert seller.client.get("/admin/customfield/").status_code == 403
    assert seller.client.get("/admin/customtab/").status_code == 403
    response = seller.post(
        "/admin/customtab/new/", data={"name": "Hemligt", "applies_to": "company", "sort_order": "0"}
    )
    assert response.status_code == 403
    assert db.session.scalar(select(CustomTab).where(CustomTab.name == "Hemligt")) is None
    admin = login("admin")
    page = text(admin.client.get("/admin/customfield/"))
    assert "Avtalsnummer" in page and "Supportnivå" in page


def test_administrator_defines_a_tab_and_a_field(login):
    admin = login("admin")
    response = admin.post(
        "/admin/customtab/new/", data={"name": "Avtal", "applies_to": "company", "sort_order": "1", "active": "y"}
    )
    assert response.status_code == 302
    tab = db.session.scalar(select(CustomTab).where(CustomTab.name == "Avtal"))
    response = admin.post(
        "/admin/customfield/new/",
        data={
            "tab": str(tab.id),
            "label": "Supportnivå",
            "field_type": "choice",
            "choices": "Guld\r\nSilver\r\n\r\nGuld",
            "sort_order": "1",
            "active": "y",
        },
    )
    assert response.status_code == 302, text(response)
    field = db.session.scalar(select(CustomFieldDefinition).where(CustomFieldDefinition.label == "Supportnivå"))
    assert field.choice_list == ["Guld", "Silver"]


def test_a_choice_field_without_choices_is_refused_in_swedish(login, agreement):
    admin = login("admin")
    response = admin.post(
        "/admin/customfield/new/",
        data={
            "tab": str(agreement["tab"].id),
            "label": "Nivå",
            "field_type": "choice",
            "choices": "",
            "sort_order": "1",
        },
        follow_redirects=True,
    )
    assert ("danger", sv("A choice field needs its choices, one a line.")) in flashes(response) or (
        "error",
        sv("A choice field needs its choices, one a line."),
    ) in flashes(response)
    assert db.session.scalar(select(CustomFieldDefinition).where(CustomFieldDefinition.label == "Nivå")) is None


def _field_form(agreement, label, **extra) -> dict:
    return {"tab": str(agreement["tab"].id), "label": label, "field_type": "text", "sort_order": "9", **extra}


@pytest.mark.parametrize("label", ["Avtalsnummer", " avtalsnummer "])
def test_a_label_taken_on_the_tab_is_marked_next_to_the_field(login, agreement, label):
    """Not a 500 (UNIQUE constraint failed: custom_field_definition.tab_id, label)."""
    admin = login("admin")
    before = db.session.scalar(select(func.count()).select_from(CustomFieldDefinition))
    response = admin.post("/admin/customfield/new/", data=_field_form(agreement, label))
    assert response.status_code == 200
    assert field_errors(response, "label") == [sv("The name is already used on that tab.")]
    assert db.session.scalar(select(func.count()).select_from(CustomFieldDefinition)) == before

    # The same on edit; the field's own label is no clash, and another tab may have the label.
    villkor = agreement["longtext"]
    response = admin.post(f"/admin/customfield/edit/?id={villkor.id}", data=_field_form(agreement, label))
    assert response.status_code == 200
    assert field_errors(response, "label") == [sv("The name is already used on that tab.")]
    db.session.expire_all()
    assert db.session.get(CustomFieldDefinition, villkor.id).label == "Villkor"
    response = admin.post(f"/admin/customfield/edit/?id={villkor.id}", data=_field_form(agreement, "Villkor"))
    assert response.status_code == 302
    other = CustomTab(name="Övrigt", applies_to="company")
    db.session.add(other)
    db.session.commit()
    response = admin.post("/admin/customfield/new/", data={**_field_form(agreement, label), "tab": str(other.id)})
    assert response.status_code == 302


def test_any_integrity_error_on_a_settings_form_is_a_message_not_a_second_exception(login, agreement, monkeypatch):
    """Whatever the database refuses (here the duplicate label, its check switched off) is said on the
    page: the session is rolled back before the message reads the employee's language."""
    monkeypatch.setattr(custom_fields, "check_label_free", lambda session, definition: None)
    admin = login("admin")
    response = admin.post("/admin/customfield/new/", data=_field_form(agreement, "Avtalsnummer"))
    assert response.status_code == 200
    assert sv("The name is already in use: choose another.") in text(response)
    assert admin.client.get("/admin/customfield/").status_code == 200


def test_deleting_a_field_in_use_is_refused_with_the_reason(login, agreement, make_company):
    custom_fields.save_tab(db.session, make_company(), agreement["tab"], form(agreement, text="AV-1"))
    db.session.commit()
    admin = login("admin")
    response = admin.post("/admin/customfield/delete/", data={"id": str(agreement["text"].id)}, follow_redirects=True)
    assert any(
        sv("The field %(name)s holds values and cannot be deleted; deactivate it instead.", name="Avtalsnummer")
        in message
        for _category, message in flashes(response)
    )
    assert db.session.get(CustomFieldDefinition, agreement["text"].id) is not None


def test_the_card_shows_the_custom_tab_and_saves_it(login, agreement, make_company):
    company = make_company(name="Kort AB")
    seller = login("seller")
    card = text(seller.client.get(f"/admin/company/card/{company.id}"))
    assert f'href="#custom{agreement["tab"].id}"' in card and ">Avtal<" in card
    tab = text(seller.client.get(f"/admin/company/card/{company.id}/tab/custom{agreement['tab'].id}"))
    assert "Licenser" in tab and "Supportnivå" in tab
    response = seller.post(
        f"/admin/company/card/{company.id}/custom/{agreement['tab'].id}",
        data={**form(agreement, number="1 250,50", choice="Silver"), "version": str(company.version)},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#custom{agreement['tab'].id}")
    assert stored(company)["number"].value_number == Decimal("1250.5")
    tab = text(seller.client.get(f"/admin/company/card/{company.id}/tab/custom{agreement['tab'].id}"))
    assert 'value="1\u00a0250,50"' in tab
    history = text(seller.client.get(f"/admin/company/card/{company.id}/tab/history"))
    assert "Licenser" in history and "Silver" in history


def test_a_number_is_shown_in_the_form_as_it_is_read_back_in_english_too(login, agreement, make_company, employees):
    company = make_company()
    employees["seller"].locale = "en"
    db.session.commit()
    seller = login("seller")
    url = f"/admin/company/card/{company.id}/custom/{agreement['tab'].id}"
    seller.post(url, data={**form(agreement, number="1250.5"), "version": str(company.version)})
    tab = text(seller.client.get(f"/admin/company/card/{company.id}/tab/custom{agreement['tab'].id}"))
    assert 'value="1250.50"' in tab  # not "1,250.5", which a save would read as 1.2505
    seller.post(url, data={**form(agreement, number="1250.5", text="AV-2"), "version": str(company.version + 1)})
    assert stored(company)["number"].value_number == Decimal("1250.5") and stored(company)["text"].value_text == "AV-2"


def test_a_bad_value_on_the_card_saves_nothing_and_says_why(login, agreement, make_company):
    company = make_company()
    seller = login("seller")
    response = seller.post(
        f"/admin/company/card/{company.id}/custom/{agreement['tab'].id}",
        data={**form(agreement, text="AV-9", date="31/13"), "version": str(company.version)},
    )
    assert response.status_code == 200
    page = text(response)
    assert sv("Not a date; write for example 2026-12-05, 20261205, 5/12 or idag.") in page
    assert sv("Nothing was saved: correct the marked fields.") in page
    assert 'value="AV-9"' in page  # what was typed is kept
    assert stored(company) == {}


def test_a_stale_card_edit_is_refused(login, agreement, make_company):
    company = make_company()
    seller = login("seller")
    old_version = company.version
    company.name = "Ändrat av någon annan AB"
    db.session.commit()
    response = seller.post(
        f"/admin/company/card/{company.id}/custom/{agreement['tab'].id}",
        data={**form(agreement, text="AV-9"), "version": str(old_version)},
    )
    assert "Someone else" not in text(response)
    assert any("sparat ändringar" in message for _c, message in flashes(response))
    assert stored(company) == {}


def test_card_tab_permissions(login, agreement, make_company, employees):
    company = make_company()
    url = f"/admin/company/card/{company.id}/custom/{agreement['tab'].id}"
    readonly = login("readonly")
    assert readonly.client.get(f"/admin/company/card/{company.id}/tab/custom{agreement['tab'].id}").status_code == 200
    assert readonly.post(url, data={**form(agreement, text="AV-1"), "version": str(company.version)}).status_code == 403
    seller = login("seller")
    assert (
        seller.client.post(url, data={**form(agreement, text="AV-1"), "version": str(company.version)}).status_code
        == 400
    )
    assert seller.client.get(f"/admin/company/card/{company.id}/tab/custom999").status_code == 404
    assert stored(company) == {}


def test_behorigheter_hides_and_orders_a_custom_tab(login, agreement, make_company, employees):
    company = make_company()
    key = f"custom{agreement['tab'].id}"
    seller, me = login("seller"), employees["seller"]
    assert f'value="{key}"' in text(seller.client.get(f"/admin/employee/card/{me.id}"))
    seller.post(
        f"/admin/employee/card/{me.id}/layout",
        {"group": "company_tabs", "show": [key, "overview"], "order": [key, "overview"]},
    )
    card = text(seller.client.get(f"/admin/company/card/{company.id}"))
    assert card.index(f'href="#{key}"') < card.index('href="#overview"') and 'href="#history"' not in card
    seller.post(f"/admin/employee/card/{me.id}/layout", {"group": "company_tabs", "show": ["overview"], "order": []})
    assert f'href="#{key}"' not in text(seller.client.get(f"/admin/company/card/{company.id}"))


def test_report_page_and_export_include_custom_fields(login, reported):
    seller = login("seller")
    number, level = f"cf{reported['number'].id}", f"cf{reported['choice'].id}"
    page = text(
        seller.client.get(
            "/admin/reports/generator/",
            query_string={
                "entity": "company",
                "run": "1",
                "col": ["name", number, level],
                level: "Guld",
                "sort": number,
            },
        )
    )
    assert "Licenser" in page and 'id="custom-conditions"' in page
    assert page.index("Gamma AB") < page.index("Alfa AB") and "Beta AB" not in page.split('id="report-table"')[1]
    response = seller.client.get(
        "/admin/reports/generator/export/csv/",
        query_string={"entity": "company", "col": ["name", number, level], level: "Guld", "sort": number},
    )
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert rows == [["Företagsnamn", "Licenser", "Supportnivå"], ["Gamma AB", "5", "Guld"], ["Alfa AB", "25", "Guld"]]
    bad = seller.client.get(
        "/admin/reports/generator/",
        query_string={"entity": "company", "run": "1", f"cf{reported['number'].id}_from": "många"},
    )
    assert any(message.startswith("Licenser: ") for _c, message in flashes(bad))
