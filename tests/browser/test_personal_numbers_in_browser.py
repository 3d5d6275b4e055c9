"""Personnummer and consent in a real browser (issue 20): a seller sees personnummer masked in the
Privatkunder list, on the card and in the form, saves a withdrawn SMS consent without wiping the
number, and an administrator then reads the same number in full. On the demo data."""

import re

import pytest

import crm_ui as ui
from crm_ui import expect

pytestmark = pytest.mark.browser

MASKED = re.compile(r"^\d{8}-XXXX$")
FULL = re.compile(r"^\d{8}-\d{4}$")


def test_a_seller_edits_consent_without_seeing_or_wiping_the_personnummer(login_as):
    page = login_as("seller")
    ui.menu(page, "CRM", "Privatkunder")
    numbers = ui.column_values(page, "Personnummer")
    assert numbers and all(MASKED.match(n) for n in numbers if n), numbers

    ui.list_rows(page).first.locator("td a[href*='/admin/contact/card/']").first.click()
    page.wait_for_load_state("load")
    card_url = page.url
    masked = page.locator("#personal-number").inner_text().strip()
    assert MASKED.match(masked), masked

    person_id = re.search(r"/card/(\d+)", card_url).group(1)
    page.goto(f"/admin/privatecustomer/edit/?id={person_id}")
    assert page.get_by_label("Personnummer").input_value() == masked
    page.get_by_label("Samtycke till marknadsföring via sms").select_option(label="Nej / återkallat")
    ui.save(page)
    expect(page.locator("#personal-number")).to_have_text(masked)
    page.locator("#contact-consent-details summary").click()
    consent = page.locator("#contact-consent")
    expect(consent.locator("[data-consent=sms]")).to_contain_text("Nej / återkallat")
    expect(consent.locator("[data-consent=sms]")).to_contain_text("Formulär")
    expect(consent.locator("[data-consent=sms]")).to_contain_text("Utesluts ur utskick")

    admin = login_as("admin")
    admin.goto(card_url)
    full = admin.locator("#personal-number").inner_text().strip()
    assert FULL.match(full) and full[:8] == masked[:8], full
