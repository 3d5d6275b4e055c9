"""CRM – Rapporter through HTTP: Försäljningsrapport (FAQ 27) and Grafisk och
tabellöversikt över säljaktiviteter with "Välj säljare" and the X axis (FAQ 28)."""

import csv
import html
import io
import json
import re
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from extensions import db
from models import Activity, EmployeeGroup, Opportunity, SalesStage
from tests.helpers import sv, text


@pytest.fixture
def sales(make_company, employees):
    offer = SalesStage(name="Offert", sort_order=1, probability=50)
    won = SalesStage(name="Vunnen", sort_order=2, probability=100, is_won=True)
    company = make_company(name="Kund AB")
    group = EmployeeGroup(name="Säljgrupp Norr", kind="sales", members=[employees["seller"], employees["finance"]])
    db.session.add_all([offer, won, group])
    db.session.add_all(
        [
            Opportunity(
                title="Offert 1", company=company, stage=offer, owner=employees["seller"], amount=Decimal("1000")
            ),
            Opportunity(title="Vunnen 1", company=company, stage=won, owner=employees["seller"], amount=Decimal("250")),
            Activity(
                kind="call", subject="Samtal", assignee=employees["seller"], company=company, due_at=datetime.now()
            ),
            Activity(
                kind="meeting", subject="Möte", assignee=employees["finance"], company=company, due_at=datetime.now()
            ),
            Activity(
                kind="task", subject="Uppgift", assignee=employees["admin"], company=company, due_at=datetime.now()
            ),
        ]
    )
    db.session.commit()
    return {"group": group}


def table(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table[^>]*id="{table_id}".*?</table>', page, re.S).group(0)
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_sales_report_sums_the_pipeline_per_stage(login, sales):
    page = text(login("seller").client.get("/admin/reports/sales"))
    assert (
        sv(
            "The sales opportunities are the basis of the sales reports: "
            "keep them up to date for the figures to be right."
        )
        in page
    )
    rows = table(page, "pipeline-table")
    assert rows[1] == ["Offert", "1", "1 000,00 kr", "500,00 kr"]
    assert rows[-1][0] == sv("Total")
    outcome = table(page, "outcome-table")
    assert outcome[1][:3] == ["Test Seller", "1", "250,00 kr"]


def test_sales_report_per_seller_for_a_chosen_group(login, sales, employees):
    client = login("seller").client
    page = text(client.get(f"/admin/reports/sales?by=seller&group={sales['group'].id}"))
    assert [row[0] for row in table(page, "pipeline-table")[1:-1]] == ["Test Seller"]
    page = text(client.get(f"/admin/reports/sales?by=seller&seller={employees['admin'].id}"))
    assert table(page, "pipeline-table")[1] == [sv("No open sales opportunities match.")]


def test_sales_report_bad_date_is_shown_next_to_the_field(login, sales):
    page = login("seller").client.get("/admin/reports/sales?close_from=31/13")
    assert page.status_code == 200
    assert "is-invalid" in page.get_data(as_text=True) and 'id="pipeline-table"' not in page.get_data(as_text=True)


def test_sales_report_export(login, sales):
    client = login("seller").client
    data = client.get("/admin/reports/sales/export/csv/?by=stage&table=pipeline").data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [sv("Stage"), sv("Number"), sv("Pipeline value (SEK)"), sv("Weighted value (SEK)")]
    assert rows[1] == ["Offert", "1", "1000,00", "500,00"]
    sheet = load_workbook(io.BytesIO(client.get("/admin/reports/sales/export/xlsx/?table=outcome").data)).active
    assert list(sheet.iter_rows(min_row=2, values_only=True))[0][:3] == ("Test Seller", 1, 250)


def test_sales_report_needs_opportunity_view_and_export_needs_report_export(login, sales, employees):
    readonly_page = login("readonly").client.get("/admin/reports/sales")
    assert readonly_page.status_code == 200 and 'id="export-pipeline"' not in readonly_page.get_data(as_text=True)
    seller_page = login("seller").client.get("/admin/reports/sales?by=month").get_data(as_text=True)
    assert 'id="export-pipeline"' in seller_page
    link = re.search(r'href="(/admin/reports/sales/export/csv/[^"]*table=pipeline[^"]*)"', seller_page).group(1)
    assert "by=month" in link
    assert login("readonly").client.get("/admin/reports/sales/export/csv/").status_code == 403
    employees["finance"].revoked_permissions = ["opportunity.view"]
    db.session.commit()
    assert login("finance").client.get("/admin/reports/sales").status_code == 403


def test_activity_overview_x_axis_groups_shows_the_group(login, sales):
    response = login("seller").client.get(f"/admin/reports/activities?group={sales['group'].id}&axis=groups")
    page = text(response)
    rows = table(page, "activity-table")
    assert rows[0][0] == sv("Group")
    assert rows[1][0].startswith("Säljgrupp Norr")
    assert rows[1][1:7] == ["0", "1", "1", "0", "0", "2"]  # task, meeting, call, note, SMS, in total
    chart = json.loads(html.unescape(re.search(r"data-chart='([^']*)'", page).group(1)))
    assert chart["labels"] == ["Säljgrupp Norr"]
    series = {d["label"]: d["data"] for d in chart["datasets"]}
    assert series == {"Uppgift": [0], "Möte": [1], "Samtal": [1], "Anteckning": [0], "SMS": [0]}
    assert len({d["backgroundColor"] for d in chart["datasets"]}) == 5, "every kind has a colour of its own"
    group_id = sales["group"].id
    assert re.search(
        rf'name="group" value="{group_id}" id="group-{group_id}"\s+data-name="Säljgrupp Norr" checked', page
    )
    assert re.search(r'<input checked[^>]*value="groups"', page), "the X axis stays Grupper"


def test_activity_overview_per_seller_lists_the_members(login, sales):
    page = text(login("seller").client.get(f"/admin/reports/activities?group={sales['group'].id}&axis=sellers"))
    assert [row[0] for row in table(page, "activity-table")[1:]] == ["Test Finance", "Test Seller"]


def test_activity_overview_groups_axis_without_a_group_asks_for_one(login, sales, employees):
    page = text(login("seller").client.get(f"/admin/reports/activities?seller={employees['seller'].id}&axis=groups"))
    assert sv("Choose at least one group for the X axis Groups.") in page


def test_activity_overview_hides_opportunity_figures_without_opportunity_view(login, sales, employees):
    employees["finance"].revoked_permissions = ["opportunity.view"]
    db.session.commit()
    page = text(login("finance").client.get(f"/admin/reports/activities?group={sales['group'].id}&axis=groups"))
    header = table(page, "activity-table")[0]
    assert sv("Activities in total") in header and sv("Open pipeline (SEK)") not in header


def test_activity_overview_export(login, sales):
    data = (
        login("seller").client.get(f"/admin/reports/activities/export/csv/?group={sales['group'].id}&axis=groups").data
    )
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == sv("Group") and rows[1][0] == "Säljgrupp Norr"
    assert rows[1][rows[0].index(sv("Open pipeline (SEK)"))] == "1000,00"


def test_reports_menu_and_index(login, sales):
    page = text(login("readonly").client.get("/admin/reports/"))
    assert sv("Sales report") in page and sv("Report generator") in page
    assert sv("Graphical and tabular overview of sales activities") in page
