"""Dataskydd in a real browser (issue 20): from a contact's card, a register extract as a document
and as a ZIP, then the erasure's preview and confirmation."""

import io
import json
import zipfile

import pytest

import crm_ui as ui
from crm_ui import expect

pytestmark = pytest.mark.browser


def test_extract_and_erase_from_a_contacts_card(login_as):
    page = login_as("admin")
    first, last = "Vilgot", ui.unique("Xanderström")
    ui.create_standalone_contact(page, first, last)
    page.wait_for_load_state("load")  # the card's menus listen only once their scripts have run
    card_url = page.url
    ui.actions_menu_with_keyboard(page, "Dataskydd: registerutdrag eller radering…")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{first} {last}")

    # the extract: a printable document in Swedish
    page.get_by_role("button", name=ui.exact("Registerutdrag (dokument)")).click()
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Registerutdrag: {first} {last}")
    expect(page.locator("#extract-record")).to_contain_text(last)
    expect(page.get_by_role("button", name=ui.exact("Skriv ut"))).to_be_visible()
    page.go_back()

    # and the machine-readable ZIP
    with page.expect_download() as download:
        page.get_by_role("button", name=ui.exact("Registerutdrag (ZIP med JSON och filer)")).click()
    archive = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read()))
    document = json.loads(archive.read("registerutdrag.json"))
    assert document["places"][0]["rows"][0]["last_name"] == last

    # the erasure: what will happen first, then the confirmation
    page.get_by_role("link", name="Radera/anonymisera…", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Radera {first} {last}")
    expect(page.locator("#erase-retained")).to_contain_text("Inga utställda fakturor")
    page.get_by_label("Jag förstår att det inte går att ångra.").check()
    page.get_by_role("button", name=ui.exact("Radera personuppgifterna")).click()
    expect(ui.flash(page).first).to_contain_text("Personens personuppgifter har raderats.")
    expect(page.locator("#privacy-log tbody tr").first).to_contain_text("Radering")

    page.goto(card_url)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Anonymiserad person")
    expect(page.locator("body")).not_to_contain_text(last)
