"""Issue 12, item 6: no parameter sends the browser to another site.

POST /admin/opportunity/board/move with next=https://evil.example/ redirected there. Every
parameter that names where to go next (the login's and the language form's `next`, the
board's `next`, Flask-Admin's `url` on its forms and list actions) goes through one rule,
admin_views.redirects.safe_target."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from admin_views.redirects import safe_target
from models import Opportunity, SalesStage
from tests.security import tally

#: Targets that lead off the site, in the forms browsers accept.
EVIL = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "https:evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "%68ttps://evil.example",
    "/%09/evil.example",
    "/%252F%252Fevil.example",
    "https://localhost@evil.example/",
    "/\u3000/evil.example",
    "evil.example",
]
GOOD = ["/admin/", "/admin/company/?search=AB&page=1", "/admin/opportunity/board?owner=3"]


@pytest.mark.parametrize("target", EVIL)
def test_the_rule_refuses_every_off_site_target(target):
    assert safe_target(target) is None
    tally("off-site redirect targets refused")


@pytest.mark.parametrize("target", GOOD)
def test_the_rule_keeps_a_path_of_this_site(target):
    assert safe_target(target) == target


def _stays_on_site(response) -> bool:
    location = response.headers.get("Location", "")
    parts = urlsplit(location)
    return (
        response.status_code != 302
        or (not parts.netloc or parts.netloc == "localhost")
        and location.startswith("/")
        and not location.startswith("//")
        and "evil" not in location
    )


@pytest.fixture
def opportunity(session, make_company, employees):
    stages = [SalesStage(name="Kontakt", sort_order=1), SalesStage(name="Offert", sort_order=2, probability=50)]
    session.add_all(stages)
    opportunity = Opportunity(title="Affär", company=make_company(), stage=stages[0], owner=employees["seller"])
    session.add(opportunity)
    session.commit()
    return opportunity, stages[1]


def test_the_board_move_does_not_follow_next_off_site(login, opportunity):
    """The attack as found: the move is made, and the browser goes to the board, not to evil.example."""
    row, stage = opportunity
    seller = login("seller")
    for target in EVIL:
        response = seller.post("/admin/opportunity/board/move", {"id": row.id, "stage": stage.id, "next": target})
        assert response.status_code == 302 and response.headers["Location"] == "/admin/opportunity/board", target
        tally("redirect attacks (parameter × target)")


def test_the_board_move_follows_next_on_site(login, opportunity):
    row, stage = opportunity
    response = login("seller").post(
        "/admin/opportunity/board/move", {"id": row.id, "stage": stage.id, "next": "/admin/opportunity/board?owner=1"}
    )
    assert response.headers["Location"] == "/admin/opportunity/board?owner=1"


def test_login_and_language_next_stay_on_site(client, auth, employees):
    for n, target in enumerate(EVIL):
        if n % 4 == 0:  # logging in is slow on purpose (scrypt): a quarter of the targets through the form
            auth.logout()
            response = auth.client.post(
                "/login",
                query_string={"next": target},
                data={
                    "email": employees["admin"].email,
                    "password": "Test-losen-1234",
                    "csrf_token": auth.csrf_token(),
                },
            )
            assert response.status_code == 302 and response.headers["Location"] == "/admin/", target
        else:  # logged in already: /login sends on to `next`
            response = client.get("/login", query_string={"next": target})
            assert response.headers.get("Location") == "/admin/", target
        response = auth.post("/preferences/language", {"locale": "sv", "next": target})
        assert response.headers["Location"] == "/admin/", target
        tally("redirect attacks (parameter × target)", 2)


def test_flask_admin_url_is_refused_off_site(login, make_company, session):
    """Flask-Admin's ?url= (after save, delete or a list action) is refused with 400 when it leads away."""
    company = make_company()
    admin = login("admin")
    token = admin.csrf_token()
    for target in EVIL:
        page = admin.client.get("/admin/company/edit/", query_string={"id": company.id, "url": target})
        assert page.status_code == 400, target
        response = admin.client.post(
            "/admin/category/new/", data={"name": "Ny kategori", "url": target, "csrf_token": token}
        )
        assert response.status_code == 400, target
        response = admin.client.post(
            "/admin/company/edit/",
            query_string={"id": company.id, "url": target},
            data={"name": "Bytt namn AB", "csrf_token": token},
        )
        assert response.status_code == 400 and _stays_on_site(response), target
        response = admin.client.post(
            "/admin/company/action/",
            data={"action": "delete", "rowid": str(company.id), "url": target, "csrf_token": token},
        )
        assert response.status_code == 400, target
        tally("redirect attacks (parameter × target)", 4)
    session.expire_all()
    assert company.name != "Bytt namn AB" and company.deleted_at is None, "nothing done on a refused request"


def test_flask_admin_url_on_site_is_followed(login, make_company):
    company = make_company()
    admin = login("admin")
    page = admin.client.get("/admin/company/edit/", query_string={"id": company.id, "url": "/admin/company/?page=0"})
    assert page.status_code == 200 and 'href="/admin/company/?page=0"' in page.get_data(as_text=True)
