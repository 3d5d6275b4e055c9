"""Two-factor login in Chromium: an employee of the test's own enrols under Mitt konto (scans
nothing: reads the key shown beside the QR code, as a person typing it into the app would),
confirms with a real TOTP code, sees the recovery codes once, logs out and logs in again with
the password and a code; the administrator sees it on the employee card."""

import re
from datetime import UTC, datetime

import pyotp
import pytest

import crm_ui as ui
from browser_env import DEMO_PASSWORD
from crm_ui import expect

pytestmark = pytest.mark.browser


def app_code(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now (or that many 30-second steps later)."""
    return pyotp.TOTP(secret).at(int(datetime.now(UTC).timestamp()) + 30 * steps_ahead)


def open_user_menu(page, item: str) -> None:
    ui.open_navbar(page)
    page.locator("#user-menu").click()
    page.locator(".dropdown-menu-right").get_by_text(item, exact=True).click()
    page.wait_for_load_state("load")


def test_tvastegsverifiering_slas_pa_och_anvands_vid_inloggning(login_as, pages):
    name = ui.unique("Tove Tvåsteg")
    email = f"tove.{name.split()[-1]}@example.se"
    admin = login_as("admin")
    ui.create_employee(admin, name, email, "Säljare", DEMO_PASSWORD)

    page = pages.new_page()
    pages.login_through_form(page, email)
    open_user_menu(page, "Mitt konto")
    expect(page.get_by_role("heading", name="Mitt konto")).to_be_visible()
    page.locator("#manage-two-factor").click()
    page.get_by_role("button", name="Slå på tvåstegsverifiering").click()

    # The QR code is drawn on the server as SVG and shows at a scannable size; the key is beside it.
    qr = page.locator("#totp-qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box["width"] >= 150 and box["height"] >= 150, box
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret

    page.get_by_label("Kod från appen").fill(app_code(secret))
    page.get_by_role("button", name="Slå på", exact=True).click()
    expect(page.get_by_role("heading", name="Återställningskoder")).to_be_visible()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", c) for c in codes)
    expect(ui.flash(page).first).to_contain_text("Tvåstegsverifiering är på")
    page.get_by_role("link", name="Jag har sparat koderna").click()
    expect(page.locator("#account-two-factor")).to_contain_text("På")

    # Log out, then log in: the password, then the code (the next one: the enrolment used this one).
    open_user_menu(page, "Logga ut")
    page.goto("/login")
    page.get_by_label("E-post").fill(email)
    page.get_by_label("Lösenord").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(re.compile(r"/login/code$"))
    code_box = page.get_by_label("Kod från appen, eller en återställningskod")
    expect(code_box).to_be_focused()
    code_box.fill("000000" if app_code(secret, 1) != "000000" else "111111")
    page.get_by_role("button", name="Logga in").click()
    expect(ui.flash(page).first).to_contain_text("Koden är fel eller har redan använts")
    page.get_by_label("Kod från appen, eller en återställningskod").fill(app_code(secret, 1))
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(re.compile(r"/admin/$"))
    expect(page.get_by_text(f"Välkommen, {name}")).to_be_visible()

    open_user_menu(page, "Mitt konto")
    this_session = page.locator("#account-sessions tr.login-session").filter(has_text="Den här inloggningen")
    expect(this_session).to_have_count(1)
    expect(this_session).to_contain_text("Med kod")
    expect(this_session).to_contain_text("Chrome")

    # The administrator sees it on the employee card, with the login events.
    admin.goto("/admin/employee/")
    ui.quick_search(admin, name)
    ui.list_rows(admin).get_by_role("link", name=name).click()
    security = admin.locator("#security")
    expect(security.locator("#security-two-factor")).to_contain_text("På")
    expect(security.locator("#security-events")).to_contain_text("Tvåstegsverifiering påslagen")
    expect(security.locator("#security-events")).to_contain_text("Misslyckad inloggning")
    expect(security.locator("tr.login-session")).to_have_count(1)
