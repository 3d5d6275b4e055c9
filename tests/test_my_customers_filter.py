"""FAQ 22, "Mina kunder": the Kundansvarig search option offers "Mig själv" first, so it starts
on the signed-in employee (as the Rapportgenerator's Kundansvarig does)."""

import html
import json
import re

from tests.helpers import sv, text


def filter_options(page: str, label: str) -> list[list]:
    data = re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', page, re.S)
    groups = json.loads(html.unescape(data.group(1)))
    return groups[label][0]["options"]


def test_kundansvarig_offers_myself_first(login, employees, make_company):
    seller = login("seller").client
    options = filter_options(text(seller.get("/admin/company/")), sv("Customer owner"))
    assert options[0] == [str(employees["seller"].id), sv("Myself")]
    assert [str(employees["admin"].id), employees["admin"].name] in options[1:]


def test_myself_lists_only_my_customers(login, employees, make_company):
    make_company(name="Min Kund AB", owner=employees["seller"])
    make_company(name="Annans Kund AB", owner=employees["admin"])
    seller = login("seller").client
    page = text(seller.get("/admin/company/?flt0_0=" + str(employees["seller"].id)))
    assert "Min Kund AB" in page and "Annans Kund AB" not in page


def test_every_employee_filter_offers_myself_first(login, employees):
    seller = login("seller").client
    for url in ("/admin/lead/", "/admin/opportunity/"):
        options = filter_options(text(seller.get(url)), sv("Customer owner"))
        assert options[0] == [str(employees["seller"].id), sv("Myself")], url
