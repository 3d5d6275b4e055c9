"""The Content-Security-Policy in Chromium (issue 12, "Headers").

Every browser test fails when the console reports a CSP violation (conftest.py's `pages`
fixture). This module proves that watch sees one — an injected inline script and an
`onerror=` handler are blocked and reported — and that what the pages used to do in inline
handlers still works from static/js/page_actions.js: a confirmation before a delete, a
choice that submits its form, the top menu."""

import re

import pytest

import crm_ui as ui
from crm_ui import expect

pytestmark = pytest.mark.browser


def test_an_injected_inline_script_and_handler_are_blocked_and_reported(pages, login_as):
    page = login_as("seller")
    page.goto("/admin/company/")
    page.evaluate(
        """() => {
            const script = document.createElement('script');
            script.textContent = 'window.injected = true';
            document.body.appendChild(script);
            const img = document.createElement('img');
            img.setAttribute('onerror', 'window.handled = true');
            img.src = '/no-such-image.png';
            document.body.appendChild(img);
        }"""
    )
    page.wait_for_timeout(500)  # the image's error event
    assert page.evaluate("() => [window.injected === undefined, window.handled === undefined]") == [True, True]
    reported = [v for v in pages.csp_violations if "/admin/company/" in v]
    assert any("inline script" in v for v in reported), reported
    assert any("inline event handler" in v for v in reported), reported
    pages.csp_violations.clear()  # what this test provoked on purpose


def test_the_pages_still_work_under_the_policy(login_as):
    page = login_as("admin")
    # The top menu (Flask-Admin's javascript: toggles) opens and leads on.
    ui.menu(page, "CRM", "Företag")
    expect(page).to_have_url(re.compile(r"/admin/company/"))

    # Säljtavla: choosing a seller submits the filter (was onchange=).
    page.goto("/admin/opportunity/board")
    page.locator("#pipeline-filter #owner").select_option(index=1)
    page.wait_for_url(re.compile(r"owner=\d+"))

    # A delete asks first (was onsubmit=confirm): dismissed, nothing is deleted.
    page.goto("/admin/reports/generator/")
    saved = page.locator("form[data-confirm]").first
    expect(saved).to_be_attached()
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    before = page.locator("form[data-confirm]").count()
    saved.locator("button").click()
    page.wait_for_timeout(300)
    assert asked == ["Radera den sparade rapporten?"], asked
    expect(page).to_have_url(re.compile(r"/admin/reports/generator/"))
    assert page.locator("form[data-confirm]").count() == before
