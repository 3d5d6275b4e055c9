"""The customer cards are views of their own (admin_views.card): each customer list carries only its
list's endpoints, and the card beside it owns the card's, at the same URLs as ever (issue 15)."""

import re
from html.parser import HTMLParser

import pytest

from admin_views.base import find_view
from admin_views.card import CompanyCardView, ContactCardView

#: What a customer list answers: the list, its forms, delete, export, actions, columns and Ändra flera.
LIST_ENDPOINTS = {
    "index_view",
    "details_view",
    "ajax_lookup",
    "action_view",
    "create_view",
    "edit_view",
    "ajax_update",
    "delete_view",
    "export",
    "choose_columns",
    "mass_update_matches",
    "mass_update_apply",
    "mass_update_status",
    "mass_update_undo",
}
#: The contact search of the company card's "Koppla existerande kontakt" is a contact list's look-up; a list
#: of people sends Massutskick.
CONTACT_LIST_ENDPOINTS = LIST_ENDPOINTS | {
    "search_json",
    "mass_message_matches",
    "mass_message_post",
    "mass_message_status",
    "mass_message_history",
}

CARD_ENDPOINTS = {
    "to_list",
    "index",
    "card_tab",
    "card_settings",
    "save_custom_tab",
    "add_activity",
    "activity_done",
    "upload_file",
    "download_file",
    "delete_file",
    "email_message",
    "send_email",
    "send_sms",
    "invoice_report",
    "invoice_report_export",
}
COMPANY_CARD_ENDPOINTS = CARD_ENDPOINTS | {
    "email_lock",
    "registry_compare",
    "registry_refresh",
    "link_contacts",
    "unlink_contact",
}
CONTACT_CARD_ENDPOINTS = CARD_ENDPOINTS | {"make_private_customer"}

CUSTOMER_LISTS = {
    "company": (LIST_ENDPOINTS, CompanyCardView, COMPANY_CARD_ENDPOINTS),
    "supplier": (LIST_ENDPOINTS, CompanyCardView, COMPANY_CARD_ENDPOINTS),
    "contact": (CONTACT_LIST_ENDPOINTS, ContactCardView, CONTACT_CARD_ENDPOINTS),
    "privatecustomer": (CONTACT_LIST_ENDPOINTS, ContactCardView, CONTACT_CARD_ENDPOINTS),
}


def rules_of(app, blueprint: str) -> dict[str, list[str]]:
    """Endpoint name → the URL paths of its rules, for one view's blueprint."""
    found: dict[str, list[str]] = {}
    for rule in app.url_map.iter_rules():
        view, _dot, name = rule.endpoint.partition(".")
        if view == blueprint:
            found.setdefault(name, []).append(re.sub("/+", "/", rule.rule))
    return found


@pytest.mark.parametrize("list_endpoint", list(CUSTOMER_LISTS))
def test_a_customer_list_carries_only_its_lists_endpoints(app, list_endpoint):
    expected, _card_class, _card_endpoints = CUSTOMER_LISTS[list_endpoint]
    rules = rules_of(app, list_endpoint)
    assert set(rules) == expected, f"{list_endpoint}: {sorted(set(rules) ^ expected)}"
    assert len(rules) == len(expected)
    assert not [path for paths in rules.values() for path in paths if "/card/" in path]


@pytest.mark.parametrize("list_endpoint", list(CUSTOMER_LISTS))
def test_the_card_is_a_view_of_its_own_at_the_lists_url(app, list_endpoint):
    _list_endpoints, card_class, expected = CUSTOMER_LISTS[list_endpoint]
    rules = rules_of(app, f"{list_endpoint}_card")
    assert set(rules) == expected, f"{list_endpoint}_card: {sorted(set(rules) ^ expected)}"
    paths = [path for each in rules.values() for path in each]
    assert all(path.startswith(f"/admin/{list_endpoint}/card/") for path in paths), paths
    assert f"/admin/{list_endpoint}/card/<int:id>" in rules["index"]
    with app.test_request_context():
        card, listing = find_view(f"{list_endpoint}_card"), find_view(list_endpoint)
        assert type(card) is card_class and card.list_view is listing
        assert (card.model, card.permission_area, card.name) == (listing.model, listing.permission_area, listing.name)
        assert not card.is_visible()  # in no menu: opened from its list


class ActiveMenuItems(HTMLParser):
    """The texts of the menu entries marked as the open one."""

    def __init__(self):
        super().__init__()
        self.active: list[str] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        self._open = tag == "a" and "dropdown-item" in classes and "active" in classes

    def handle_data(self, data):
        if self._open and data.strip():
            self.active.append(data.strip())
            self._open = False


@pytest.mark.parametrize(("list_endpoint", "menu_text"), [("company", "Företag"), ("supplier", "Leverantörer")])
def test_the_card_opens_under_its_lists_menu_entry(login, make_company, list_endpoint, menu_text):
    company = make_company(name="Menybolaget AB", is_supplier=True)
    client = login("admin").client
    for url in (f"/admin/{list_endpoint}/", f"/admin/{list_endpoint}/card/{company.id}"):
        response = client.get(url)
        assert response.status_code == 200
        menu = ActiveMenuItems()
        menu.feed(response.get_data(as_text=True))
        assert menu.active == [menu_text], (url, menu.active)


def test_the_cards_without_a_customer_lead_to_the_list(login):
    client = login("readonly").client
    for list_endpoint in CUSTOMER_LISTS:
        response = client.get(f"/admin/{list_endpoint}/card/")
        assert response.status_code == 302
        assert response.headers["Location"] == f"/admin/{list_endpoint}/"
    assert client.get("/admin/company/card/999999").status_code == 404
