"""FAQ 23 in Chromium: "Jag vill lägga till fler informationsfält i CRM. Hur gör jag det?"

The old answer was a consultant designing custom tabs "med möjligheter för att ta
ut rapporter på dessa". Here the administrator does it himself: Administration –
Inställningar – CRM – Egna flikar and Egna fält, then the field is filled on the
customer card's new tab and reported on in CRM – Rapportgenerator. Through the
page only, on the demo data."""

import re

import pytest

import crm_ui as ui
from crm_ui import expect

pytestmark = pytest.mark.browser


def table_column(table, header: str) -> list[str]:
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    index = headers.index(header)
    return [cell.strip() for cell in table.locator(f"tbody tr td:nth-child({index + 1})").all_inner_texts()]


def test_jag_vill_lagga_till_fler_informationsfalt_i_crm(login_as):
    """FAQ 23: define a tab and a field, fill it on a company card, see it in a report."""
    page = login_as("admin")
    tab_name, label = ui.unique("Serviceavtal"), "Antal användare"

    # Administration – Inställningar – CRM – Egna flikar: a new tab on the company card.
    ui.settings_menu(page, "Egna flikar")
    ui.toolbar(page).get_by_role("link", name=re.compile(r"^\s*Ny egen flik\b")).click()
    page.get_by_label("Namn").fill(tab_name)
    ui.choose(page, "Kort", "Företag och leverantörer")
    ui.save(page)
    expect(ui.list_row(page, tab_name)).to_contain_text("Företag och leverantörer")

    # … and Egna fält: a number field on it.
    ui.settings_menu(page, "Egna fält")
    ui.toolbar(page).get_by_role("link", name=re.compile(r"^\s*Nytt eget fält\b")).click()
    required = page.locator(".form-group").filter(has=page.locator("label", has_text=re.compile(r"^\s*Flik\b")))
    ui.pick(page, required.locator(".select2-container").first, f"{tab_name} (Företag och leverantörer)")
    page.get_by_label("Rubrik").fill(label)
    ui.choose(page, "Typ", "Tal")
    ui.save(page)
    expect(ui.list_row(page, tab_name)).to_contain_text(label)

    # The customer card has the new tab; a bad value is refused and saves nothing, a good one is kept.
    company = ui.unique("Fältbolaget")
    ui.create_company(page, company)
    panel = ui.card_tab(page, tab_name)
    panel.get_by_label(label).fill("många")
    panel.get_by_role("button", name=ui.exact("Spara")).click()
    page.wait_for_load_state("load")
    expect(ui.flash(page)).to_contain_text("Inget sparades: rätta de markerade fälten.")
    panel = page.locator("#card-tabs ~ .tab-content .tab-pane.active")
    expect(panel.locator(".invalid-feedback")).to_have_text("Inte ett tal; skriv till exempel 1 250,50.")
    panel.get_by_label(label).fill("1 250,50")
    panel.get_by_role("button", name=ui.exact("Spara")).click()
    page.wait_for_load_state("load")
    expect(ui.flash(page)).to_contain_text(f"{tab_name} har sparats.")
    panel = ui.card_tab(page, tab_name)
    expect(panel.get_by_label(label)).to_have_value("1\u00a0250,50")
    history = ui.card_tab(page, "Historik")
    expect(history).to_contain_text(label)

    # CRM – Rapportgenerator: the field is a condition, a column and a sort.
    ui.menu(page, "CRM", "Rapportgenerator")
    page.get_by_role("combobox", name="Rapport på").select_option(label="Företag")
    page.get_by_label(f"{label} från").fill("1 000")
    page.locator("#report-columns").get_by_label(label, exact=True).check()
    page.get_by_role("combobox", name="Sortera efter").select_option(label=label)
    page.get_by_role("button", name="Visa rapport").click()
    page.wait_for_load_state("load")
    report = page.locator("#report-table")
    assert table_column(report, "Företagsnamn") == [company]
    assert table_column(report, label) == ["1\u00a0250,50"]
