"""services.report_generator (CRM – Rapportgenerator): conditions, columns, sort,
permissions, saved definitions; and its pages and export through HTTP."""

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from extensions import db
from models import Activity, Category, Industry, Lead, Opportunity, ReportDefinition, SalesStage
from services import numbering, report_generator, trash
from services.report_generator import Spec, parse
from services.validation import InvalidValue
from tests.helpers import flashes, sv, text


@pytest.fixture
def register(make_company, make_contact, employees):
    seller, admin = employees["seller"], employees["admin"]
    it = Industry(name="IT-konsulter")
    vip = Category(name="VIP", applies_to="both")
    db.session.add_all([it, vip])
    alfa = make_company(
        name="Alfa AB",
        owner=seller,
        postal_city="Göteborg",
        industry=it,
        categories=[vip],
        created_at=datetime(2026, 3, 1),
    )
    make_company(
        name="Beta AB", owner=seller, postal_city="Stockholm", status="inactive", created_at=datetime(2026, 6, 1)
    )
    make_company(
        name="Gamma Leverantör AB",
        owner=admin,
        postal_city="göteborg",
        is_supplier=True,
        created_at=datetime(2026, 9, 1),
    )
    gone = make_company(name="Papperskorgen AB", owner=seller)
    anna = make_contact(companies=[alfa], first_name="Anna", last_name="Ek", owner=seller, categories=[vip])
    make_contact(first_name="Bo", last_name="Berg", owner=admin)
    numbering.make_private_customer(db.session, anna)
    stage = SalesStage(name="Offert", probability=50)
    won = SalesStage(name="Vunnen", probability=100, is_won=True)
    db.session.add_all([stage, won])
    db.session.add_all(
        [
            Opportunity(title="Stor affär", company=alfa, stage=stage, owner=seller, amount=Decimal("1000")),
            Opportunity(title="Liten affär", contact=anna, stage=won, owner=admin, amount=Decimal("10")),
            Opportunity(title="Borta", company=gone, stage=stage, owner=seller, amount=Decimal("5")),
            Lead(company_name="Lead AB", status="qualified", owner=seller),
            Lead(company_name="Annan Lead AB", status="new"),
            Activity(
                kind="meeting", subject="Möte om avtal", assignee=seller, company=alfa, due_at=datetime(2026, 11, 5)
            ),
            Activity(kind="call", subject="Ring tillbaka", assignee=admin, contact=anna, done=True),
        ]
    )
    db.session.commit()
    # In the trash after its opportunity was made (nothing is added to a trashed customer).
    trash.delete(db.session, admin, type(gone), [gone.id])
    db.session.commit()
    return {"it": it, "vip": vip, "stage": stage, "won": won}


def names(spec, employee):
    rows = db.session.scalars(report_generator.query(spec, employee)).unique().all()
    return [report_generator.ENTITIES[spec.entity].fields[spec.columns[0]].value(r) for r in rows]


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({}, ["Alfa AB", "Beta AB", "Gamma Leverantör AB"]),
        ({"owner": "me"}, ["Alfa AB", "Beta AB"]),  # FAQ 22: my customers
        ({"city": "Göteborg"}, ["Alfa AB", "Gamma Leverantör AB"]),
        ({"status": "inactive"}, ["Beta AB"]),
        ({"category": "vip"}, ["Alfa AB"]),
        ({"industry": "it"}, ["Alfa AB"]),
        ({"created_from": "2026-05-01", "created_to": "2026-06-01"}, ["Beta AB"]),
        ({"text": "gamma"}, ["Gamma Leverantör AB"]),
        ({"sort": "name", "desc": "1"}, ["Gamma Leverantör AB", "Beta AB", "Alfa AB"]),
        ({"entity": "supplier"}, ["Gamma Leverantör AB"]),
    ],
)
def test_company_report_conditions(app, register, employees, conditions, expected):
    args = {"entity": "company", "col": ["name"], **conditions}
    for key in ("category", "industry"):
        if key in args:
            args[key] = str(register[{"vip": "vip", "it": "it"}[args[key]]].id)
    spec = parse(args)
    assert names(spec, employees["seller"]) == expected


@pytest.mark.parametrize(
    ("entity", "column", "conditions", "expected"),
    [
        ("contact", "last_name", {}, ["Berg", "Ek"]),
        ("contact", "last_name", {"owner": "me"}, ["Ek"]),
        ("contact", "companies", {"owner": "me"}, ["Alfa AB"]),
        ("privatecustomer", "first_name", {}, ["Anna"]),
        ("lead", "company_name", {}, ["Annan Lead AB", "Lead AB"]),
        ("lead", "company_name", {"status": "qualified"}, ["Lead AB"]),
        ("opportunity", "title", {}, ["Liten affär", "Stor affär"]),  # not the one of a customer in the trash
        ("opportunity", "weighted", {"owner": "me"}, [Decimal("500.00")]),
        ("activity", "subject", {"owner": "me"}, ["Möte om avtal"]),
        ("activity", "subject", {"status": "done"}, ["Ring tillbaka"]),
        ("activity", "subject", {"text": "avtal"}, ["Möte om avtal"]),
    ],
)
def test_other_record_kinds(app, register, employees, entity, column, conditions, expected):
    spec = parse({"entity": entity, "col": [column], "sort": column if column != "weighted" else "", **conditions})
    if entity == "opportunity" and column == "title":
        spec.sort = "title"
    assert names(spec, employees["seller"]) == expected


def test_stage_condition_of_opportunities(app, register, employees):
    spec = parse({"entity": "opportunity", "col": ["title"], "status": str(register["won"].id)})
    assert names(spec, employees["admin"]) == ["Liten affär"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"entity": "nothing"}, "Choose what to report on."),
        ({"owner": "x"}, "Choose the customer owner from the list."),
        ({"created_from": "2026-13-01"}, None),
        ({"created_from": "2026-05-02", "created_to": "2026-05-01"}, "The period ends before it starts."),
        ({"entity": "opportunity", "status": "Vunnen"}, "Choose the stage from the list."),
        ({"entity": "activity", "status": "maybe"}, "Choose the status from the list."),
        ({"col": ["name", "password_hash"]}, None),
    ],
)
def test_bad_input_gets_a_swedish_message(app, args, message):
    with app.test_request_context(), pytest.raises(InvalidValue) as exc:
        parse(args)
    if message:
        assert str(exc.value) == sv(message)
    else:
        assert str(exc.value)


def test_columns_default_and_keep_the_chosen_order(app):
    assert parse({"entity": "lead"}).columns == list(report_generator.ENTITIES["lead"].default_columns)
    assert parse({"col": ["email", "name", "email"]}).columns == ["email", "name"]
    assert [c.key for c in report_generator.columns(parse({"col": ["email", "name"]}))] == ["email", "name"]


def test_a_report_needs_the_records_view_permission(app, register, employees):
    readonly = employees["readonly"]
    readonly.revoked_permissions = ["opportunity.view"]
    db.session.commit()
    with pytest.raises(report_generator.NotPermitted):
        report_generator.query(parse({"entity": "opportunity"}), readonly)
    assert report_generator.query(parse({"entity": "company"}), readonly) is not None


def test_saved_definitions_are_listed_for_their_owner_and_when_shared(app, register, employees):
    seller, finance = employees["seller"], employees["finance"]
    mine, created = report_generator.save(db.session, seller, "Mina kunder", parse({"owner": "me"}), shared=False)
    shared, _ = report_generator.save(
        db.session, seller, "Alla säljmöjligheter", parse({"entity": "opportunity"}), shared=True
    )
    db.session.commit()
    assert created
    again, created = report_generator.save(
        db.session, seller, "Mina kunder", parse({"owner": "me", "city": "Göteborg"}), shared=False
    )
    db.session.commit()
    assert again.id == mine.id and not created and report_generator.load(again).city == "Göteborg"
    assert [d.name for d in report_generator.visible_definitions(db.session, seller)] == [
        "Alla säljmöjligheter",
        "Mina kunder",
    ]
    assert [d.name for d in report_generator.visible_definitions(db.session, finance)] == ["Alla säljmöjligheter"]
    finance.revoked_permissions = ["opportunity.view"]
    db.session.commit()
    assert report_generator.visible_definitions(db.session, finance) == []
    with pytest.raises(report_generator.NotPermitted):
        report_generator.delete(db.session, finance, shared)
    with pytest.raises(InvalidValue):
        report_generator.save(db.session, seller, "  ", parse({}), shared=False)


def test_shared_my_customers_report_means_whoever_runs_it(app, register, employees):
    definition, _ = report_generator.save(
        db.session, employees["seller"], "Mina kunder", parse({"owner": "me", "col": ["name"]}), shared=True
    )
    db.session.commit()
    spec = report_generator.load(definition)
    assert names(spec, employees["seller"]) == ["Alfa AB", "Beta AB"]
    assert names(spec, employees["admin"]) == ["Gamma Leverantör AB"]


# --- through HTTP ----------------------------------------------------------------------------------


def test_generator_page_shows_my_customers(login, register):
    client = login("seller").client
    page = text(client.get("/admin/reports/generator/?run=1&entity=company&owner=me&col=name&col=postal_city"))
    assert "Alfa AB" in page and "Beta AB" in page and "Gamma Leverantör AB" not in page
    assert sv("Report generator") in page
    html = client.get("/admin/reports/generator/").get_data(as_text=True)
    assert '<h4 class="mb-4">' not in html  # the view's name above the page's own heading: it said it twice


def test_generator_export_csv_and_xlsx(login, register):
    client = login("seller").client
    response = client.get("/admin/reports/generator/export/csv/?entity=company&owner=me&col=postal_city&col=name")
    assert response.status_code == 200 and response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows == [[sv("City"), sv("Company name")], ["Göteborg", "Alfa AB"], ["Stockholm", "Beta AB"]]
    sheet = load_workbook(
        io.BytesIO(
            client.get("/admin/reports/generator/export/xlsx/?entity=opportunity&col=title&col=amount&sort=amount").data
        )
    ).active
    assert [[c for c in row] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        ["Liten affär", 10],
        ["Stor affär", 1000],
    ]


def test_readonly_sees_reports_but_may_not_export(login, register):
    client = login("readonly").client
    page = client.get("/admin/reports/generator/?run=1&entity=company")
    assert page.status_code == 200 and "export-report" not in page.get_data(as_text=True)
    assert client.get("/admin/reports/generator/export/csv/?entity=company").status_code == 403


def test_generator_refuses_records_the_user_may_not_see(login, register, employees):
    employees["readonly"].revoked_permissions = ["opportunity.view"]
    db.session.commit()
    client = login("readonly").client
    page = client.get("/admin/reports/generator/?run=1&entity=opportunity&col=title")
    assert "Stor affär" not in text(page)
    assert ("danger", sv("You do not have permission to see these records.")) in flashes(page)
    employees["finance"].revoked_permissions = ["opportunity.view"]
    db.session.commit()
    assert login("finance").client.get("/admin/reports/generator/export/csv/?entity=opportunity").status_code == 403


def test_bad_date_is_reported_not_run(login, register):
    page = login("seller").client.get("/admin/reports/generator/?run=1&entity=company&created_from=snart")
    message = sv("Not a date; write for example 2026-12-05, 20261205, 5/12 or idag.")
    assert ("danger", f"{sv('Created from')}: {message}") in flashes(page)


def test_save_rerun_and_delete_a_report(login, register, employees):
    seller = login("seller")
    response = seller.post(
        "/admin/reports/generator/save",
        data={
            "name": "Mina kunder i Göteborg",
            "shared": "1",
            "entity": "company",
            "owner": "me",
            "city": "Göteborg",
            "col": ["name", "postal_city"],
        },
    )
    assert response.status_code == 302
    definition = db.session.query(ReportDefinition).one()
    assert (definition.name, definition.shared, definition.owner_id) == (
        "Mina kunder i Göteborg",
        True,
        employees["seller"].id,
    )
    assert definition.definition["columns"] == ["name", "postal_city"]
    rerun = seller.client.get(f"/admin/reports/generator/saved/{definition.id}", follow_redirects=True)
    assert "Alfa AB" in text(rerun) and "Beta AB" not in text(rerun)
    other = login("finance")
    assert "Mina kunder i Göteborg" in text(other.client.get("/admin/reports/"))
    assert other.post(f"/admin/reports/generator/saved/{definition.id}/delete").status_code == 403
    assert seller.post(f"/admin/reports/generator/saved/{definition.id}/delete").status_code == 302
    assert db.session.query(ReportDefinition).count() == 0


@pytest.mark.parametrize(
    ("entity", "condition", "model", "message"),
    [
        (
            "company",
            "category",
            Category,
            "The category the report is limited to no longer exists (it was deleted): choose another.",
        ),
        (
            "company",
            "industry",
            Industry,
            "The industry the report is limited to no longer exists (it was deleted): choose another.",
        ),
        (
            "opportunity",
            "status",
            SalesStage,
            "The sales stage the report is limited to no longer exists (it was deleted): choose another.",
        ),
    ],
)
def test_a_saved_report_naming_a_deleted_row_says_so(login, employees, entity, condition, model, message):
    """Not «Alla» and 0 rows without a word."""
    row = model(name="Borttagen") if model is not SalesStage else SalesStage(name="Borttagen", probability=10)
    db.session.add(row)
    db.session.commit()
    definition, _ = report_generator.save(
        db.session,
        employees["seller"],
        "Gammal rapport",
        parse({"entity": entity, condition: str(row.id)}),
        shared=False,
    )
    db.session.delete(row)
    db.session.commit()
    rerun = login("seller").client.get(f"/admin/reports/generator/saved/{definition.id}", follow_redirects=True)
    assert ("danger", sv(message)) in flashes(rerun)
    with pytest.raises(InvalidValue):
        report_generator.load(db.session.get(ReportDefinition, definition.id), db.session, employees["seller"])


def test_saving_without_a_name_says_so_and_saves_nothing(login, register):
    response = login("seller").post(
        "/admin/reports/generator/save", data={"name": " ", "entity": "company"}, follow_redirects=True
    )
    assert ("danger", sv("Give the report a name.")) in flashes(response)
    assert db.session.query(ReportDefinition).count() == 0


def test_a_private_report_of_someone_else_is_not_found(login, register, employees):
    definition, _ = report_generator.save(db.session, employees["seller"], "Hemlig", Spec(), shared=False)
    db.session.commit()
    assert login("finance").client.get(f"/admin/reports/generator/saved/{definition.id}").status_code == 404
