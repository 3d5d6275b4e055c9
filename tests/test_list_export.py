"""Export from the list views (issue 7): CSV and XLSX through services.export, with the
list's search, filters ("Fler sökalternativ") and sort, Swedish headers, only
columns the user may see, and `<area>.export` checked on the server."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from extensions import db
from models import CallList, EmployeeGroup, Lead, Opportunity, SalesStage
from services import numbering, trash
from tests.helpers import sv


def csv_table(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    data = response.data
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert b"\r\n" in data and ";" in data.decode("utf-8-sig").splitlines()[0]
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def column(table, label_msgid: str) -> list[str]:
    index = table[0].index(label_msgid if label_msgid == "Status" else sv(label_msgid))
    return [row[index] for row in table[1:]]


@pytest.fixture
def register(make_company, make_contact, employees):
    """Three companies (one a supplier, one in the trash) and contacts of two owners."""
    seller, admin = employees["seller"], employees["admin"]
    svea = make_company(name="Svea Kaffe AB", postal_city="Stockholm", owner=seller, discount_percent=Decimal("12.5"))
    make_company(name='=HYPERLINK("http://x")', postal_city="Malmö", owner=admin, is_supplier=True)
    gone = make_company(name="Raderade AB", owner=seller)
    trash.delete(db.session, admin, type(gone), [gone.id])
    db.session.commit()
    anna = make_contact(companies=[svea], first_name="Anna", last_name="Ek", owner=seller)
    make_contact(first_name="Bo", last_name="Al", owner=admin, email="bo@example.se")
    numbering.make_private_customer(db.session, anna)
    db.session.commit()
    return {"svea": svea, "anna": anna}


# --- companies -----------------------------------------------------------------------


def test_company_csv_has_swedish_headers_and_typed_values(login, register):
    table = csv_table(login("seller").client.get("/admin/company/export/csv/"))
    assert table[0][:3] == [sv("Customer no."), sv("Company name"), sv("Org. no.")]
    assert column(table, "Company name") == ['\'=HYPERLINK("http://x")', "Svea Kaffe AB"]
    assert column(table, "Discount %") == ["0,00", "12,50"], "Decimal with decimal comma"
    assert column(table, "Customer owner") == ["Test Admin", "Test Seller"]
    assert column(table, "Supplier") == [sv("Yes"), sv("No")]
    assert "Raderade AB" not in str(table), "the trash is not exported"


def test_company_export_honours_search_filter_and_sort(login, register, employees):
    client = login("seller").client
    by_owner = csv_table(client.get(f"/admin/company/export/csv/?flt0_0={employees['seller'].id}"))
    assert column(by_owner, "Company name") == ["Svea Kaffe AB"]
    searched = csv_table(client.get("/admin/company/export/csv/?search=Malmö"))
    assert len(searched) == 2 and column(searched, "City") == ["Malmö"]
    descending = csv_table(client.get("/admin/company/export/csv/?sort=1&desc=1"))
    assert column(descending, "Company name")[0] == "Svea Kaffe AB"


def test_company_xlsx_keeps_numbers_and_neutralises_formulas(login, register):
    response = login("seller").client.get("/admin/company/export/xlsx/?sort=1")
    assert response.status_code == 200
    assert "filename*=UTF-8''F%C3%B6retag%20" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    header = [c.value for c in sheet[1]]
    names = [row[header.index(sv("Company name"))] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == ['\'=HYPERLINK("http://x")', "Svea Kaffe AB"]
    numbers = [row[header.index(sv("Customer no."))] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(n, int) for n in numbers)
    assert sheet.cell(1, 1).font.bold


def test_supplier_export_lists_only_suppliers(login, register):
    table = csv_table(login("seller").client.get("/admin/supplier/export/csv/"))
    assert column(table, "Company name") == ['\'=HYPERLINK("http://x")']


def test_invoice_settings_are_left_out_for_whom_the_settings_tab_is_revoked(login, register, employees):
    seller = employees["seller"]
    seller.revoked_permissions = ["tab.settings"]
    db.session.commit()
    table = csv_table(login("seller").client.get("/admin/company/export/csv/"))
    assert sv("Discount %") not in table[0] and sv("Company name") in table[0]


@pytest.mark.parametrize(
    "endpoint",
    [
        "company",
        "supplier",
        "contact",
        "privatecustomer",
        "lead",
        "calllist",
        "opportunity",
        "employee",
        "employeegroup",
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_readonly_may_not_export_any_list(login, register, endpoint, fmt):
    client = login("readonly").client
    assert client.get(f"/admin/{endpoint}/").status_code == 200
    assert client.get(f"/admin/{endpoint}/export/{fmt}/").status_code == 403


def test_export_menu_offers_both_formats_with_the_lists_arguments(login, register, employees):
    page = (
        login("seller")
        .client.get(f"/admin/company/?flt0_0={employees['seller'].id}&search=Svea")
        .get_data(as_text=True)
    )
    assert f'href="/admin/company/export/csv/?flt0_0={employees["seller"].id}&amp;search=Svea"' in page
    assert 'id="export-xlsx"' in page
    readonly = login("readonly").client.get("/admin/company/").get_data(as_text=True)
    assert 'id="export-csv"' not in readonly


def test_unknown_format_is_not_found(login, register):
    assert login("seller").client.get("/admin/company/export/pdf/").status_code == 404


# --- contacts and private customers ------------------------------------------------------


def test_contact_export_has_companies_and_honours_owner_filter(login, register, employees):
    client = login("seller").client
    table = csv_table(client.get("/admin/contact/export/csv/"))
    assert column(table, "Last name") == ["Al", "Ek"]
    assert column(table, "Companies") == ["", "Svea Kaffe AB"]
    mine = csv_table(client.get(f"/admin/contact/export/csv/?flt0_0={employees['seller'].id}"))
    assert column(mine, "Last name") == ["Ek"]


def test_private_customer_export_lists_only_private_customers(login, register):
    table = csv_table(login("finance").client.get("/admin/privatecustomer/export/csv/"))
    assert column(table, "First name") == ["Anna"]
    assert column(table, "Customer no.") == [str(register["anna"].customer_number)]


# --- leads, call lists, opportunities, employees -------------------------------------------


def test_lead_export_with_status_filter(login, employees):
    db.session.add_all(
        [
            Lead(
                company_name="Nya Bolaget AB",
                contact_first_name="Cia",
                contact_last_name="Berg",
                status="new",
                owner=employees["seller"],
            ),
            Lead(company_name="@Gamla Bolaget", status="disqualified"),
        ]
    )
    db.session.commit()
    client = login("seller").client
    table = csv_table(client.get("/admin/lead/export/csv/"))
    assert sorted(column(table, "Company name")) == ["'@Gamla Bolaget", "Nya Bolaget AB"]
    assert "Cia Berg" in column(table, "Contact person")
    only_new = csv_table(client.get("/admin/lead/export/csv/?flt0_1=new"))
    assert column(only_new, "Company name") == ["Nya Bolaget AB"]
    assert column(only_new, "Status") == [sv("New")]  # the column header "Status" is the same word


def test_call_list_export(login, employees):
    db.session.add(CallList(name="Höstkampanj", owner=employees["seller"]))
    db.session.commit()
    table = csv_table(login("seller").client.get("/admin/calllist/export/csv/"))
    assert table[0] == [sv("Name"), sv("Owner"), sv("Created")]
    assert table[1][:2] == ["Höstkampanj", "Test Seller"]
    assert table[1][2][:4].isdigit() and table[1][2][4] == "-"


def test_opportunity_export_keeps_amounts_and_filters_by_owner(login, register, employees):
    stage = SalesStage(name="Offert", probability=50)
    db.session.add(stage)
    db.session.add_all(
        [
            Opportunity(
                title="-Kaffeavtal",
                company=register["svea"],
                stage=stage,
                owner=employees["seller"],
                amount=Decimal("1234.50"),
                close_date=date(2026, 12, 24),
            ),
            Opportunity(
                title="Annat", contact=register["anna"], stage=stage, owner=employees["admin"], amount=Decimal("100")
            ),
        ]
    )
    db.session.commit()
    client = login("finance").client
    table = csv_table(client.get(f"/admin/opportunity/export/csv/?flt0_0={employees['seller'].id}"))
    assert column(table, "Title") == ["'-Kaffeavtal"], "text starting with a minus is neutralised"
    assert column(table, "Expected amount (SEK)") == ["1234,50"], "an amount is a number with decimal comma"
    assert column(table, "Customer") == ["Svea Kaffe AB"]
    assert column(table, "Stage") == ["Offert"]
    assert column(table, "Expected close date") == ["2026-12-24"]
    sheet = load_workbook(io.BytesIO(client.get("/admin/opportunity/export/xlsx/?sort=3").data)).active
    assert [row[3] for row in sheet.iter_rows(min_row=2, values_only=True)] == [100, 1234.5]


def test_employee_export_is_for_employee_managers(login, employees):
    group = EmployeeGroup(name="Säljgrupp Syd", kind="sales", members=[employees["seller"]])
    db.session.add(group)
    db.session.commit()
    assert login("seller").client.get("/admin/employee/export/csv/").status_code == 403
    client = login("admin").client
    table = csv_table(client.get("/admin/employee/export/csv/"))
    seller_row = next(row for row in table if row[0] == "Test Seller")
    assert seller_row[table[0].index(sv("Role"))] == sv("Seller")
    assert seller_row[table[0].index(sv("Groups"))] == "Säljgrupp Syd"
    assert seller_row[table[0].index(sv("Active"))] == sv("Yes")
    groups = csv_table(client.get("/admin/employeegroup/export/csv/"))
    assert groups[1] == ["Säljgrupp Syd", sv("Sales group"), "Test Seller"]


def test_a_download_is_planned_for_all_its_rows_on_postgresql(app):
    """A server-side cursor is planned for its first tenth: along the sort's index, filtering every
    row (a city's companies of 1,000,000: 3.6 s). A download reads every row, and says so."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from admin_views import downloads

    if db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL planner setting")
    read = downloads.rows_of_query(select(func.current_setting("cursor_tuple_fraction")))
    with Session(bind=db.engine) as session:
        assert list(read(session)) == ["1"]


def test_phone_numbers_are_exported_as_swedes_write_them_not_neutralised(login, make_company, make_contact):
    """A phone is stored in E.164 (+46…): exported as the list shows it (08-123 456 78), which a spreadsheet
    never takes for a formula and an import reads back; not "'+46812345678"."""
    make_company(name="Telefonbolaget AB", phone="+46812345678")
    make_contact(first_name="Mia", last_name="Mobil", mobile="+46701234567", phone="+46311234567")
    client = login("admin").client
    companies = csv_table(client.get("/admin/company/export/csv/"))
    assert column(companies, "Phone") == ["08-123 456 78"]
    contacts = csv_table(client.get("/admin/contact/export/csv/"))
    assert (column(contacts, "Phone"), column(contacts, "Mobile")) == (["031-123 45 67"], ["070-123 45 67"])
    header, *rows = load_workbook(io.BytesIO(client.get("/admin/contact/export/xlsx/").data)).active.values
    assert [row[header.index(sv("Mobile"))] for row in rows] == ["070-123 45 67"]
    report = csv_table(client.get("/admin/reports/generator/export/csv/?entity=company&col=name&col=phone"))
    assert report[1:] == [["Telefonbolaget AB", "08-123 456 78"]]
