"""The browsable API documentation (issue 19): Swagger UI at /api/v1/docs/ renders the served
OpenAPI 3.1 document in Chromium, under the Content-Security-Policy, without logging in."""

import re

import pytest

from crm_ui import expect

pytestmark = pytest.mark.browser


def test_the_api_documentation_is_browsable(anonymous_page):
    page = anonymous_page
    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Kundregister API")
    expect(page.locator(".swagger-ui .info")).to_contain_text("OAS 3.1")
    companies = page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/v1/companies/by-org-number/"))
    expect(companies.first).to_be_visible()
    patch = page.locator(".opblock-patch .opblock-summary-path", has_text=re.compile(r"^/api/v1/categories/\{id\}$"))
    expect(patch.first).to_be_visible()
    patch.first.click()  # the operation opens: its body schema with the version
    expect(page.locator(".opblock-patch.is-open").first).to_contain_text("version")
