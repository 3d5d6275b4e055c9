"""Dubbletter in a real browser (issue 18): a likely duplicate pointed out when a company is entered, the
demo's duplicates found on CRM – Dubbletter, two companies merged side by side (the kept one gets the
other's activity and history), and the merge undone from the history. Through the page only."""

import re

import pytest

import crm_ui as ui
from crm_ui import expect

pytestmark = pytest.mark.browser


def test_a_new_company_like_one_in_the_register_is_pointed_out_before_saving(login_as):
    page = login_as("seller")
    ui.menu(page, "CRM", "Företag")
    existing = page.locator("table.model-list tbody tr td.col-name a").first.inner_text().strip()
    ui.toolbar(page).get_by_role("link", name=ui.exact("Nytt företag")).click()
    twin = re.sub(r" AB$", " Aktiebolag", existing)
    page.get_by_label("Företagsnamn").fill(twin)
    ui.save(page)
    warning = page.locator(".alert-warning").filter(has_text="Det här kan redan finnas i registret")
    expect(warning).to_contain_text(existing)
    expect(warning.get_by_role("link", name=existing)).to_be_visible()
    # the seller looked, and it is not the same company after all
    page.get_by_label("Spara ändå: det är ingen av posterna ovan").check()
    ui.save(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text(twin)


def test_find_a_pair_merge_it_and_undo_the_merge(login_as):
    page = login_as("admin")
    ui.menu(page, "CRM", "Dubbletter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dubbletter")
    # the demo's company typed again without å, ä and ö: same phone, an activity of its own
    row = page.locator("#duplicate-pairs tbody tr").filter(has_text="samma telefon").first
    expect(row).to_contain_text("liknande namn + samma ort")
    row.get_by_role("link", name="Jämför och slå ihop").click()
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text("Slå ihop dubbletter")

    keep_label = page.locator("#merge-table thead th label").first
    keep_name = re.sub(r"^Behåll ", "", keep_label.inner_text().strip())
    other_name = re.sub(r"^Behåll ", "", page.locator("#merge-table thead th label").nth(1).inner_text().strip())
    keep_label.click()
    # the name differs: keep the kept company's own spelling
    name_row = page.locator("#row-name")
    name_row.get_by_label(keep_name, exact=True).check()
    page.get_by_role("button", name="Slå ihop").click()
    page.wait_for_load_state("load")

    expect(page.get_by_role("heading", level=1)).to_contain_text(keep_name)
    # each named by its customer number too: which went into which, even when the names are alike
    merged_text = (
        rf"{re.escape(other_name)} \(kundnr \d+\) slogs ihop med {re.escape(keep_name)} \(kundnr \d+\), som behölls"
    )
    expect(ui.flash(page)).to_contain_text(re.compile(merged_text))
    activities = ui.card_tab(page, "Aktiviteter")
    expect(activities).to_contain_text("Offertförfrågan (registrerad på dubbletten)")
    history = ui.card_tab(page, "Historik")
    expect(history).to_contain_text("Sammanslagen med en dubblett")
    expect(history).to_contain_text(f"sammanslagen post: {other_name}")

    # the merged company is in the trash, marked merged; the pair is no longer listed
    ui.menu(page, "CRM", "Företag")
    ui.quick_search(page, other_name)
    expect(ui.list_rows(page).filter(has_text=other_name)).to_have_count(0)

    # undo from the kept company's history: the other company is back with its activity
    ui.menu(page, "CRM", "Företag")
    ui.quick_search(page, keep_name)
    ui.list_row(page, keep_name).get_by_role("link", name=keep_name).first.click()
    history = ui.card_tab(page, "Historik")
    history.get_by_role("button", name="Ångra sammanslagning").first.click()
    page.wait_for_load_state("load")
    expect(ui.flash(page)).to_contain_text(f"Sammanslagningen är ångrad: {other_name} är tillbaka")
    expect(page.get_by_role("heading", level=1)).to_contain_text(other_name)
    expect(ui.card_tab(page, "Aktiviteter")).to_contain_text("Offertförfrågan (registrerad på dubbletten)")


def test_find_a_lead_pair_merge_it_and_undo_it_from_the_list_of_merges(login_as):
    """Issue 18: the demo's lead typed again from a fair's visitor list (the same contact's e-mail) is found on
    the Leads tab of Dubbletter, merged into the first (its activity and history follow, it leaves the worked
    leads) and brought back with Ångra sammanslagning on Dubbletter's list of the latest merges."""
    page = login_as("admin")
    ui.menu(page, "CRM", "Dubbletter")
    page.get_by_role("link", name=ui.exact("Leads")).click()
    page.wait_for_load_state("load")
    expect(page.locator("#duplicate-kinds .active")).to_have_text("Leads")
    row = page.locator("#duplicate-pairs tbody tr").filter(has_text="samma e-post").first
    expect(row).to_contain_text("Aktiebolag")
    row.get_by_role("link", name="Jämför och slå ihop").click()
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text("Slå ihop dubbletter")

    labels = page.locator("#merge-table thead th label")
    names = [re.sub(r"^Behåll ", "", labels.nth(i).inner_text().strip()) for i in range(2)]
    keep_name = next(n for n in names if not n.endswith("Aktiebolag"))
    other_name = next(n for n in names if n.endswith("Aktiebolag"))
    labels.nth(names.index(keep_name)).click()
    page.locator("#row-company_name").get_by_label(keep_name, exact=True).check()
    page.get_by_role("button", name="Slå ihop").click()
    page.wait_for_load_state("load")

    # the kept lead's page: its own name, the merged lead's history beside its own, an undo there too
    expect(page.locator("#lead-title")).to_have_text(keep_name)
    expect(page.locator(".alert-success")).to_contain_text(f"{other_name} slogs ihop med {keep_name}")
    expect(page.locator("#lead-duplicates")).to_have_count(0)  # the merged lead is not its duplicate
    history = page.locator("#history-list")
    expect(history).to_contain_text("Sammanslagen med en dubblett")
    expect(history).to_contain_text(f"sammanslagen post: {other_name}")
    expect(history.get_by_role("button", name="Ångra sammanslagning")).to_be_visible()

    # the pair is gone from the Leads tab; the merge is at the top of its latest merges
    ui.menu(page, "CRM", "Dubbletter")
    page.get_by_role("link", name=ui.exact("Leads")).click()
    page.wait_for_load_state("load")
    expect(page.locator("#duplicate-pairs tbody tr").filter(has_text=other_name)).to_have_count(0)
    merge_row = page.locator("#merges tbody tr").first
    expect(merge_row).to_contain_text(other_name)
    merge_row.get_by_role("button", name="Ångra sammanslagning").click()
    page.wait_for_load_state("load")

    # the merged lead is back on its own page, worked again, and the pair is listed again
    expect(page.locator(".alert-success")).to_contain_text(f"Sammanslagningen är ångrad: {other_name} är tillbaka")
    expect(page.locator("#lead-title")).to_have_text(other_name)
    expect(page.locator("#lead-status")).not_to_have_text("Sammanslagen")
    expect(page.locator(".merged-into")).to_have_count(0)
    ui.menu(page, "CRM", "Dubbletter")
    page.get_by_role("link", name=ui.exact("Leads")).click()
    page.wait_for_load_state("load")
    expect(page.locator("#duplicate-pairs tbody tr").filter(has_text=other_name)).to_have_count(1)
    expect(page.locator("#merges tbody tr").first).to_contain_text("Ångrad")
