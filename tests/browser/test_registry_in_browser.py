"""Företagsuppslag in Chromium: FAQ 14, "Vad är enklaste sättet att lägga in kunder?" — search the
company register from "Nytt företag", pick the company, the form is filled in, save. The demo has
the made-up register seed/bolagsverket_bulkfil_sample.zip loaded (`flask --app app seed`)."""

import re

import pytest

import crm_ui as ui
from crm_ui import expect
from seed.bolagsverket_sample import DEMO_COMPANIES, SAMPLE
from services.registry_loader import open_bulk_file, read_rows

pytestmark = pytest.mark.browser


def _register_company(index: int):
    """A made-up active limited company of the sample register that is no demo customer, its name
    unique in the register (the index-th such)."""
    bulk = open_bulk_file(SAMPLE)
    try:
        rows = list(read_rows(bulk))
    finally:
        bulk.close()
    demo = {orgnr for orgnr, *_rest in DEMO_COMPANIES}
    names = [row[3] for row in rows]
    chosen = [
        row
        for row in rows
        if row[4] == "AB" and row[6] is None and row[1] not in demo and names.count(row[3]) == 1 and row[10]
    ]
    return chosen[index]


def test_vad_ar_enklaste_sattet_att_lagga_in_kunder_sok_i_foretagsregistret(login_as):
    """FAQ 14: "sök upp kunden ... och därmed lägga in all kundinformation som finns i registret; Namn på
    kunden, organisationsnummer, adress" — typed with a typo, picked from the list, saved."""
    row = _register_company(0)
    _id, orgnr, _folded, name, _form, _reg, _dereg, _reason, _text, _co, street, postcode, city = row
    page = login_as("seller")
    ui.menu(page, "CRM", "Företag")
    ui.toolbar(page).get_by_role("link", name=ui.exact("Nytt företag")).click()
    page.wait_for_load_state("load")

    search = page.get_by_label("Sök i företagsregistret")
    # The name with its first word's last letter left out: found all the same.
    first, rest = name.split(" ", 1)
    search.fill(f"{first[:-1]} {rest}")
    results = page.locator("#registry-results .registry-result")
    hit = results.filter(has_text=name).first
    expect(hit).to_be_visible()
    expect(hit).to_contain_text(f"{orgnr[:6]}-{orgnr[6:]}")
    expect(hit).to_contain_text("Aktiebolag")
    expect(hit).to_contain_text("Aktiv")
    expect(page.locator("#registry-date")).to_contain_text("Uppgifter från Bolagsverket per 2026-11-30")
    hit.click()

    expect(page.locator("#registry-message")).to_contain_text(f"Ifyllt från företagsregistret: {name}")
    expect(page.get_by_label("Företagsnamn")).to_have_value(name)
    expect(page.locator("#org_number")).to_have_value(f"{orgnr[:6]}-{orgnr[6:]}")
    expect(page.get_by_label("Organisationsform")).to_have_value("Aktiebolag")
    expect(page.locator("#postal_street")).to_have_value(street)
    expect(page.locator("#postal_postcode")).to_have_value(f"{postcode[:3]} {postcode[3:]}")
    expect(page.locator("#postal_city")).to_have_value(city)
    ui.save(page)

    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    header = page.locator("#card-header")
    expect(header).to_contain_text(f"{orgnr[:6]}-{orgnr[6:]}")
    expect(header).to_contain_text(f"{street}, {postcode[:3]} {postcode[3:]} {city}")


def test_a_deregistered_company_needs_confirmation_and_an_existing_customer_is_pointed_out(login_as):
    """Nytt lead: Blekinge Glas AB is deregistered (marked; filled in only when confirmed) and is already
    a demo customer (a link to its card in the list, and after saving)."""
    page = login_as("seller")
    ui.menu(page, "CRM", "Leads")
    ui.toolbar(page).get_by_role("link", name=ui.exact("Nytt lead")).click()
    page.wait_for_load_state("load")

    page.get_by_label("Sök i företagsregistret").fill("blekinge glas")
    hit = page.locator("#registry-results .registry-result").filter(has_text="Blekinge Glas AB").first
    expect(hit).to_contain_text("Avregistrerat 2026-06-12")
    expect(hit.get_by_role("link", name="Blekinge Glas AB")).to_have_attribute(
        "href", re.compile(r"/admin/company/card/\d+")
    )

    page.once("dialog", lambda dialog: dialog.dismiss())
    hit.locator(".registry-name").click()
    expect(page.get_by_label("Företagsnamn")).to_have_value("")

    messages = []

    def accept(dialog):
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    hit.locator(".registry-name").click()
    expect(page.get_by_label("Företagsnamn")).to_have_value("Blekinge Glas AB")
    assert messages == ["Blekinge Glas AB är avregistrerat i företagsregistret. Vill du ändå fylla i uppgifterna?"]
    expect(page.locator("#org_number")).to_have_value("559906-5934")
    ui.save(page)
    # CRM – Dubbletter's warning holds the new lead back first (the same organisationsnummer as a customer)
    held = page.locator(".alert-warning").filter(has_text="Det här kan redan finnas i registret")
    expect(held.get_by_role("link", name="Blekinge Glas AB")).to_be_visible()
    page.get_by_label("Spara ändå: det är ingen av posterna ovan").check()
    ui.save(page)

    warning = page.locator("#lead-duplicates")
    expect(warning).to_contain_text("Blekinge Glas AB")
    expect(warning.get_by_role("link", name="Blekinge Glas AB")).to_have_attribute(
        "href", re.compile(r"/admin/company/card/\d+")
    )
