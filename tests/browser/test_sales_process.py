"""The sales half in a real browser (issue 5): the FAQ's "Vad är skillnaden mellan
Leads och Kunder?" and "Hur styr jag en försäljningsprocess?", the pipeline drag,
and working a call list. Everything goes through the page, on the demo data."""

import re

import pytest

import crm_ui as ui
from crm_ui import expect

pytestmark = pytest.mark.browser


def test_vad_ar_skillnaden_mellan_leads_och_kunder(login_as):
    """A lead is a potential customer without customer number; "Konvertera till kund"
    makes it a customer with one, and the lead is then marked converted."""
    page = login_as("seller")
    ui.menu(page, "CRM", "Leads")
    row = page.locator("table.model-list tbody tr", has_text="Kvalificerad").first
    name = row.locator("td.col-company_name a").inner_text().strip()
    row.locator("td.col-company_name a").click()
    page.get_by_role("button", name="Konvertera till kund").click()
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    expect(page.locator("#customer-number")).to_have_text(re.compile(r"^\d+$"))

    ui.menu(page, "CRM", "Leads")
    converted = page.locator("table.model-list tbody tr", has_text=name)
    expect(converted).to_contain_text("Konverterad")


def test_hur_styr_jag_en_forsaljningsprocess(login_as):
    """Säljmöjligheter: customer, kundansvarig, amount, stage; tasks, meetings and
    notes linked to it; and the history of what happened."""
    page = login_as("seller")
    ui.menu(page, "CRM", "Säljmöjligheter")
    page.locator("table.model-list tbody tr td.col-title a").first.click()
    expect(page.locator("#opportunity-history")).to_contain_text("Säljsteg")

    subject = ui.unique("Möte om offerten")
    form = page.locator("#activity-form")
    form.get_by_label("Typ").select_option(label="Möte")
    form.get_by_label("Ämne").fill(subject)
    form.get_by_role("button", name="Lägg till aktivitet").click()
    page.wait_for_load_state("load")
    expect(page.locator("#activity-list")).to_contain_text(subject)


def test_pipeline_drag_moves_the_opportunity_and_writes_its_history(login_as):
    page = login_as("seller")
    ui.menu(page, "CRM", "Säljmöjligheter")
    page.get_by_role("link", name="Säljtavla").click()
    page.wait_for_load_state("load")  # the cards are draggable once the board's script has run

    def column(stage):  # by its header: every card's "Flytta till" menu names all stages
        return page.locator(".pipeline-column").filter(has=page.locator("header", has_text=stage))

    source, target = column("Kontakt"), column("Behovsanalys")
    card = source.locator(".pipeline-card").first
    title = card.locator("a").first.inner_text().strip()
    with page.expect_response(re.compile(r"/admin/opportunity/board/move$")) as moved:
        # Grab the card by its corner (not its links or menu), start the drag there, drop on the column.
        start, drop = card.bounding_box(), target.locator(".pipeline-cards").bounding_box()
        page.mouse.move(start["x"] + 4, start["y"] + 4)
        page.mouse.down()
        page.mouse.move(start["x"] + 12, start["y"] + 12)
        page.mouse.move(drop["x"] + drop["width"] / 2, drop["y"] + 20, steps=5)
        page.mouse.up()
    assert moved.value.ok
    page.reload()
    expect(column("Behovsanalys").locator(".pipeline-cards")).to_contain_text(title)
    page.get_by_role("link", name=title).first.click()
    expect(page.locator("#opportunity-history")).to_contain_text("Behovsanalys")


def test_working_a_call_list(login_as):
    page = login_as("seller")
    ui.menu(page, "CRM", "Ringlistor")
    page.get_by_role("link", name="Mässuppföljning Elmia").click()
    progress = page.locator("#calllist-progress").inner_text()
    called = int(re.search(r"Ringda: (\d+)", progress).group(1))
    expect(page.locator("#next-entry a[href^='tel:']").first).to_be_visible()
    page.locator("#next-entry").get_by_label("Utfall").select_option(label="Svarar ej")
    page.get_by_role("button", name="Spara samtalet").click()
    page.wait_for_load_state("load")
    expect(page.locator("#calllist-progress")).to_contain_text(f"Ringda: {called + 1}")


def test_call_list_from_a_saved_search(login_as):
    """Save "my customers" (Kundansvarig) as a search, then put every match on a new call list."""
    page = login_as("seller")
    page.goto("/admin/")
    page.get_by_role("link", name=re.compile("Mina kunder")).click()  # Företag with Kundansvarig = me
    page.wait_for_load_state("load")
    matches = len(ui.list_rows(page).all())
    assert matches > 0
    name = ui.unique("Mina kunder att ringa")
    ui.toolbar(page).get_by_role("button", name="Sparade sökningar").click()
    page.get_by_role("button", name="Spara sökning…").click()
    page.get_by_label("Sökningens namn").fill(name)
    page.get_by_role("button", name="Spara sökning", exact=True).click()
    page.wait_for_load_state("load")
    expect(ui.flash(page)).to_contain_text(f"Sökningen {name} har sparats.")
    assert len(ui.list_rows(page).all()) == matches

    ui.menu(page, "CRM", "Sparade sökningar")
    row = page.locator("#saved-search-list tr", has_text=name)
    row.get_by_role("link", name="Lägg till i ringlista").click()
    expect(page.locator("#call-list-source")).to_contain_text(f"hittar {matches} poster i Företag")
    list_name = ui.unique("Ringlista")
    page.get_by_role("textbox", name="Namn").fill(list_name)
    page.get_by_role("button", name="Lägg till i ringlista").click()
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", name=list_name)).to_be_visible()
    expect(page.locator("#calllist-progress")).to_contain_text(f"Ringda: 0 av {matches}")
