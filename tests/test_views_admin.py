"""Administration through HTTP: employees (Anställda), categories and industries,
inline list editing, and CSRF on every POST."""

import re

import pytest
from sqlalchemy import select

from models import AuditEvent, Category, Company, CompanyContact, Contact, Employee, Industry
from services import passwords
from tests.conftest import PASSWORD
from tests.helpers import count, field_errors, fresh, sv, svn, text

NEW_EMPLOYEE = {
    "name": "Nils Nyanställd",
    "email": "nils.ny@example.se",
    "phone": "070-123 45 67",
    "title": "Säljare",
    "role": "seller",
    "active": "y",
    "locale": "sv",
    "password": "Nytt-losen-2026",
}


# --- employees ----------------------------------------------------------------------------


def test_admin_creates_an_employee_who_can_log_in(login, auth, session):
    response = login("admin").post("/admin/employee/new/", NEW_EMPLOYEE)
    assert response.status_code == 302, text(response)[:2000]
    employee = session.scalars(select(Employee).where(Employee.email == "nils.ny@example.se")).one()
    assert (employee.name, employee.role, employee.active) == ("Nils Nyanställd", "seller", True)
    assert employee.phone == "+46701234567"
    assert employee.password_hash.startswith("$argon2id$")
    assert "Nytt-losen-2026" not in employee.password_hash
    assert passwords.verify(employee.password_hash, "Nytt-losen-2026")

    assert auth.login("nils.ny@example.se", "Nytt-losen-2026").status_code == 302
    page = text(auth.client.get("/admin/"))
    assert sv("Welcome, %(name)s", name="Nils Nyanställd") in page
    # The new seller has the seller's permissions, not more.
    assert auth.client.get("/admin/company/new/").status_code == 200
    assert auth.client.get("/admin/employee/new/").status_code == 403


def test_employee_form_offers_the_roles_and_a_password_field(login):
    page = login("admin").client.get("/admin/employee/new/")
    assert page.status_code == 200
    raw = page.get_data(as_text=True)
    assert 'name="password"' in raw and 'type="password"' in raw
    for role in ("admin", "seller", "finance", "readonly"):
        assert f'value="{role}"' in raw
    assert sv("Administrator") in text(page) and sv("Read only") in text(page)


@pytest.mark.parametrize(
    "password, message",
    [
        ("Kort-losen1", "The password must be at least %(n)s characters."),
        ("1qaz2wsx3edc", "The password is one of the most common passwords. Choose another one."),
        ("nilsnyanstalld", "The password must not contain your name or your e-mail address."),  # the own name
    ],
)
def test_weak_password_is_refused_and_nothing_saved(login, session, password, message):
    response = login("admin").post("/admin/employee/new/", {**NEW_EMPLOYEE, "password": password})
    assert response.status_code == 200
    expected = sv(message, n=passwords.MIN_LENGTH) if "%(n)s" in message else sv(message)
    assert field_errors(response, "password") == [expected]
    assert count(session, Employee, Employee.email == "nils.ny@example.se") == 0


def test_invalid_employee_email_is_refused(login, session):
    response = login("admin").post("/admin/employee/new/", {**NEW_EMPLOYEE, "email": "nils@"})
    assert response.status_code == 200
    assert field_errors(response, "email") == [sv("This is not a valid e-mail address.")]
    assert count(session, Employee) == 4


def test_duplicate_employee_email_is_refused(login, session):
    response = login("admin").post("/admin/employee/new/", {**NEW_EMPLOYEE, "email": "seller@example.se"})
    assert response.status_code == 200
    assert count(session, Employee) == 4


def test_unknown_role_is_refused(login, session):
    response = login("admin").post("/admin/employee/new/", {**NEW_EMPLOYEE, "role": "superuser"})
    assert response.status_code == 200
    assert count(session, Employee) == 4


def test_admin_changes_role_and_password_empty_password_keeps_the_old(login, auth, session, employees):
    target = employees["readonly"]
    admin = login("admin")
    data = {
        "name": target.name,
        "email": target.email,
        "role": "finance",
        "active": "y",
        "locale": "sv",
        "password": "",
    }
    assert admin.post(f"/admin/employee/edit/?id={target.id}", data).status_code == 302
    stored = fresh(session, Employee, target.id)
    assert stored.role == "finance"
    assert passwords.verify(stored.password_hash, PASSWORD)  # unchanged

    data["password"] = "Ett-nytt-losen-99"
    assert admin.post(f"/admin/employee/edit/?id={target.id}", data).status_code == 302
    assert auth.login(target.email, PASSWORD).status_code == 200  # old one refused
    assert auth.login(target.email, "Ett-nytt-losen-99").status_code == 302


def test_admin_deactivates_an_employee_who_can_then_not_log_in(login, auth, session, employees):
    target = employees["seller"]
    data = {"name": target.name, "email": target.email, "role": target.role, "locale": "sv", "password": ""}
    assert login("admin").post(f"/admin/employee/edit/?id={target.id}", data).status_code == 302
    assert fresh(session, Employee, target.id).active is False
    assert auth.login(target.email).status_code == 200
    assert auth.client.get("/admin/").status_code == 302


def test_employees_cannot_be_deleted(login, session, employees):
    admin = login("admin")
    target = employees["readonly"]
    listing = admin.client.get("/admin/employee/").get_data(as_text=True)
    assert "/admin/employee/delete/" not in listing
    admin.post("/admin/employee/delete/", {"id": str(target.id)})
    admin.post("/admin/employee/action/", {"action": "delete", "rowid": [str(target.id)]})
    assert fresh(session, Employee, target.id) is not None
    assert count(session, Employee) == 4


def _own_form(admin, **changes):
    return {"name": admin.name, "email": admin.email, "role": "admin", "active": "y", "locale": "sv", **changes}


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"role": "seller"},
            "The last active administrator cannot be given another role: make another employee an administrator first.",
        ),
        (
            {"active": ""},
            "The last active administrator cannot be deactivated: make another employee an administrator first.",
        ),
    ],
    ids=["role", "active"],
)
def test_the_last_active_administrator_cannot_step_down_in_the_form(login, session, employees, changes, message):
    admin = employees["admin"]
    client = login("admin")
    data = _own_form(admin, **changes)
    if not data["active"]:
        del data["active"]
    response = client.post(f"/admin/employee/edit/?id={admin.id}", data)
    assert response.status_code == 200
    assert sv(message) in text(response)
    stored = fresh(session, Employee, admin.id)
    assert (stored.role, stored.active) == ("admin", True)
    assert client.client.get("/admin/employee/").status_code == 200  # still administers


def test_the_last_active_administrator_keeps_the_permission_to_manage_employees(login, session, employees):
    admin = employees["admin"]
    client = login("admin")
    response = client.post(f"/admin/employee/card/{admin.id}/permissions", {"perm-employee.manage": "revoke"})
    assert response.status_code == 302
    page = client.client.get(response.headers["Location"])
    assert sv(
        "The last active administrator cannot lose the permission to manage employees: "
        "give it to another employee first."
    ) in text(page)
    assert fresh(session, Employee, admin.id).revoked_permissions is None


def test_an_administrator_steps_down_when_another_is_active(login, session, employees):
    admin, seller = employees["admin"], employees["seller"]
    seller.role = "admin"
    session.commit()
    response = login("admin").post(f"/admin/employee/edit/?id={admin.id}", _own_form(admin, role="seller"))
    assert response.status_code == 302
    assert fresh(session, Employee, admin.id).role == "seller"


def test_deleting_an_employee_says_to_deactivate_instead(login, session, employees):
    admin = login("admin")
    target = employees["readonly"]
    message = sv("Employees are not deleted, since their history names them: untick Active to deactivate one.")
    for url, data in (
        ("/admin/employee/delete/", {"id": str(target.id)}),
        ("/admin/employee/action/", {"action": "delete", "rowid": [str(target.id)]}),
    ):
        response = admin.post(url, data)
        assert response.status_code == 302
        assert message in text(admin.client.get(response.headers["Location"]))
    assert fresh(session, Employee, target.id).active is True


@pytest.mark.parametrize("role", ["seller", "finance", "readonly"])
def test_others_may_list_employees_but_not_change_them(login, session, employees, role):
    client = login(role)
    target = employees["admin"]
    assert client.client.get("/admin/employee/").status_code == 200
    assert client.client.get("/admin/employee/new/").status_code == 403
    assert client.post("/admin/employee/new/", NEW_EMPLOYEE).status_code == 403
    assert client.client.get(f"/admin/employee/edit/?id={target.id}").status_code == 403
    data = {"name": "Kuppad", "email": target.email, "role": "readonly", "password": "Kapat-konto-123"}
    assert client.post(f"/admin/employee/edit/?id={target.id}", data).status_code == 403
    assert (
        client.post("/admin/employee/ajax/update/", {"list_form_pk": str(target.id), "name": "Kuppad"}).status_code
        == 403
    )
    stored = fresh(session, Employee, target.id)
    assert (stored.name, stored.role) == ("Test Admin", "admin")
    assert passwords.verify(stored.password_hash, PASSWORD)
    assert count(session, Employee) == 4


# --- categories and industries ----------------------------------------------------------------


def test_admin_creates_edits_and_deletes_a_category(login, session):
    admin = login("admin")
    response = admin.post("/admin/category/new/", {"name": "Nyhetsbrev", "applies_to": "both", "description": "Vår"})
    assert response.status_code == 302
    category = session.scalars(select(Category)).one()
    assert (category.name, category.applies_to, category.description) == ("Nyhetsbrev", "both", "Vår")
    assert "Nyhetsbrev" in text(admin.client.get("/admin/category/"))

    response = admin.post(
        f"/admin/category/edit/?id={category.id}",
        {"name": "Julkort", "applies_to": "company", "description": "", "version": str(category.version)},
    )
    assert response.status_code == 302
    stored = fresh(session, Category, category.id)
    assert (stored.name, stored.applies_to) == ("Julkort", "company")
    stale = admin.post(
        f"/admin/category/edit/?id={category.id}",
        {"name": "Påskkort", "applies_to": "company", "description": "", "version": "1"},
    )
    assert stale.status_code == 200 and fresh(session, Category, category.id).name == "Julkort"  # edited meanwhile

    assert admin.post("/admin/category/delete/", {"id": str(category.id)}).status_code == 302
    assert count(session, Category) == 0


def test_a_category_in_use_is_not_deleted_and_the_count_is_shown(login, session, make_company, make_contact):
    """Like an industry (and a sales stage): not silently removed from every customer and lead."""
    from models import Lead

    category = Category(name="A-kund", applies_to="both")
    session.add(category)
    session.commit()
    companies = [make_company(name=f"Kund {n} AB", categories=[category]) for n in range(2)]
    session.add(Lead(company_name="Lead AB", categories=[fresh(session, Category, category.id)]))
    session.commit()
    admin = login("admin")
    message = svn(
        "The category %(name)s is used by %(num)s customer or lead and cannot be deleted; remove it from them first.",
        "The category %(name)s is used by %(num)s customers and leads and cannot be deleted; "
        "remove it from them first.",
        3,
        name="A-kund",
    )
    response = admin.post("/admin/category/delete/", {"id": str(category.id)}, follow_redirects=True)
    assert message in text(response)
    response = admin.post(
        "/admin/category/action/", {"action": "delete", "rowid": str(category.id)}, follow_redirects=True
    )
    assert message in text(response)
    assert count(session, Category) == 1
    assert all([c.name for c in fresh(session, Company, company.id).categories] == ["A-kund"] for company in companies)


def test_duplicate_category_name_is_refused(login, session):
    session.add(Category(name="A-kund", applies_to="company"))
    session.commit()
    response = login("admin").post("/admin/category/new/", {"name": "A-kund", "applies_to": "both"})
    assert response.status_code == 200
    assert count(session, Category) == 1


def test_category_scope_decides_where_it_is_offered(login, session):
    session.add_all(
        [
            Category(name="Bara företag", applies_to="company"),
            Category(name="Bara kontakter", applies_to="contact"),
            Category(name="Båda", applies_to="both"),
        ]
    )
    session.commit()
    admin = login("admin")
    company_form = text(admin.client.get("/admin/company/new/"))
    contact_form = text(admin.client.get("/admin/contact/new/"))
    assert "Bara företag" in company_form and "Båda" in company_form and "Bara kontakter" not in company_form
    assert "Bara kontakter" in contact_form and "Båda" in contact_form and "Bara företag" not in contact_form


def test_admin_creates_edits_and_deletes_an_industry(login, session):
    admin = login("admin")
    assert admin.post("/admin/industry/new/", {"name": "Byggverksamhet", "sni_code": "41"}).status_code == 302
    industry = session.scalars(select(Industry)).one()
    assert (industry.name, industry.sni_code) == ("Byggverksamhet", "41")
    assert (
        admin.post(
            f"/admin/industry/edit/?id={industry.id}",
            {"name": "Bygg och anläggning", "sni_code": "41-43", "version": str(industry.version)},
        ).status_code
        == 302
    )
    assert fresh(session, Industry, industry.id).name == "Bygg och anläggning"
    assert admin.post("/admin/industry/delete/", {"id": str(industry.id)}).status_code == 302
    assert count(session, Industry) == 0


@pytest.mark.parametrize("role", ["seller", "finance", "readonly"])
def test_only_admin_manages_categories_and_industries(login, session, role):
    category = Category(name="Orörd", applies_to="both")
    industry = Industry(name="Orörd bransch")
    session.add_all([category, industry])
    session.commit()
    client = login(role)
    for area, item in (("category", category), ("industry", industry)):
        assert client.client.get(f"/admin/{area}/").status_code == 403
        assert client.client.get(f"/admin/{area}/new/").status_code == 403
        assert client.post(f"/admin/{area}/new/", {"name": "Ny", "applies_to": "both"}).status_code == 403
        assert (
            client.post(f"/admin/{area}/edit/?id={item.id}", {"name": "Ändrad", "applies_to": "both"}).status_code
            == 403
        )
        assert client.post(f"/admin/{area}/delete/", {"id": str(item.id)}).status_code == 403
    assert count(session, Category) == 1 and count(session, Industry) == 1
    assert fresh(session, Category, category.id).name == "Orörd"
    assert fresh(session, Industry, industry.id).name == "Orörd bransch"


# --- inline list editing (/ajax/update/) ------------------------------------------------------


def test_inline_edit_works_for_admin(login, session):
    category = Category(name="Gammalt namn", applies_to="both")
    session.add(category)
    session.commit()
    response = login("admin").post(
        "/admin/category/ajax/update/", {"list_form_pk": str(category.id), "name": "Nytt namn"}
    )
    assert response.status_code == 200, text(response)
    assert fresh(session, Category, category.id).name == "Nytt namn"


def test_inline_edit_of_an_industry(login, session):
    industry = Industry(name="Gammal bransch")
    session.add(industry)
    session.commit()
    response = login("admin").post(
        "/admin/industry/ajax/update/", {"list_form_pk": str(industry.id), "name": "Ny bransch"}
    )
    assert response.status_code == 200
    assert fresh(session, Industry, industry.id).name == "Ny bransch"


@pytest.mark.parametrize("role", ["seller", "finance", "readonly"])
def test_inline_edit_is_refused_for_non_admins(login, session, role):
    category = Category(name="Skyddat namn", applies_to="both")
    session.add(category)
    session.commit()
    response = login(role).post("/admin/category/ajax/update/", {"list_form_pk": str(category.id), "name": "Hackat"})
    assert response.status_code == 403
    assert fresh(session, Category, category.id).name == "Skyddat namn"


def test_inline_edit_without_record_is_refused(login):
    response = login("admin").post("/admin/category/ajax/update/", {"name": "Utan post"})
    assert response.status_code == 400


def test_inline_edit_without_csrf_is_refused(login, session):
    category = Category(name="Skyddat namn", applies_to="both")
    session.add(category)
    session.commit()
    response = login("admin").client.post(
        "/admin/category/ajax/update/", data={"list_form_pk": str(category.id), "name": "Hackat"}
    )
    assert response.status_code == 400
    assert fresh(session, Category, category.id).name == "Skyddat namn"


# --- CSRF on every POST ---------------------------------------------------------------------------


@pytest.fixture
def targets(session, make_company, make_contact, employees):
    """One row of each kind for the POSTs below to aim at."""
    company = make_company(name="Målet AB")
    contact = make_contact(first_name="Mål", last_name="Kontakt", companies=[company])
    loose = make_contact(first_name="Lös", last_name="Kontakt")
    deleted = make_company(name="I Papperskorgen AB")
    deleted.deleted_at = deleted.created_at
    category = Category(name="Målkategori")
    session.add(category)
    session.commit()
    return {
        "company": company,
        "contact": contact,
        "loose": loose,
        "deleted": deleted,
        "category": category,
        "employee": employees["readonly"],
    }


def _csrf_posts(t) -> list[tuple[str, dict]]:
    c, k = t["company"], t["contact"]
    return [
        ("/admin/company/new/", {"name": "Utan Token AB", "country": "SE"}),
        (f"/admin/company/edit/?id={c.id}", {"name": "Ändrat AB", "country": "SE", "version": str(c.version)}),
        ("/admin/company/action/", {"action": "delete", "rowid": str(c.id)}),
        ("/admin/company/action/", {"action": "show_as_supplier", "rowid": str(c.id)}),
        ("/admin/company/delete/", {"id": str(c.id)}),
        (f"/admin/company/card/{c.id}/link-contacts", {"contact_id": str(t["loose"].id)}),
        (f"/admin/company/card/{c.id}/unlink/{k.id}", {}),
        ("/admin/supplier/new/", {"name": "Utan Token Leverantör AB", "country": "SE"}),
        ("/admin/contact/new/", {"first_name": "Utan", "last_name": "Token"}),
        (f"/admin/contact/new/?company_id={c.id}", {"first_name": "Utan", "last_name": "Token", "company_role": "VD"}),
        (
            f"/admin/contact/edit/?id={k.id}",
            {"first_name": "Ändrad", "last_name": "Kontakt", "version": str(k.version)},
        ),
        ("/admin/contact/action/", {"action": "make_private_customer", "rowid": str(k.id)}),
        ("/admin/contact/action/", {"action": "delete", "rowid": str(k.id)}),
        ("/admin/privatecustomer/new/", {"first_name": "Utan", "last_name": "Token"}),
        ("/admin/trash/restore", {"rowid": f"company:{t['deleted'].id}"}),
        ("/admin/trash/purge", {"rowid": f"company:{t['deleted'].id}"}),
        ("/admin/trash/purge/confirm", {"rowid": f"company:{t['deleted'].id}", "confirm": "yes"}),
        ("/admin/employee/new/", {**NEW_EMPLOYEE}),
        (
            f"/admin/employee/edit/?id={t['employee'].id}",
            {"name": "Kuppad", "email": t["employee"].email, "role": "admin", "password": "Kapat-konto-123"},
        ),
        ("/admin/category/new/", {"name": "Utan token", "applies_to": "both"}),
        (f"/admin/category/edit/?id={t['category'].id}", {"name": "Ändrad", "applies_to": "both"}),
        ("/admin/category/delete/", {"id": str(t["category"].id)}),
        ("/admin/category/ajax/update/", {"list_form_pk": str(t["category"].id), "name": "Ändrad"}),
        ("/admin/industry/new/", {"name": "Utan token"}),
        ("/logout", {}),
    ]


def _snapshot(session, t) -> tuple:
    session.expire_all()
    company, contact, deleted = (
        session.get(Company, t["company"].id),
        session.get(Contact, t["contact"].id),
        session.get(Company, t["deleted"].id),
    )
    return (
        count(session, Company),
        count(session, Contact),
        count(session, Employee),
        count(session, Category),
        count(session, Industry),
        count(session, CompanyContact),
        count(session, AuditEvent),
        company.name,
        company.is_supplier,
        company.deleted_at,
        company.version,
        contact.first_name,
        contact.customer_number,
        contact.deleted_at,
        deleted.deleted_at,
        session.get(Category, t["category"].id).name,
        session.get(Employee, t["employee"].id).name,
        session.get(Employee, t["employee"].id).password_hash,
    )


def test_every_post_without_csrf_token_is_refused(login, session, targets):
    admin = login("admin")
    before = _snapshot(session, targets)
    for url, data in _csrf_posts(targets):
        response = admin.client.post(url, data=data)
        assert response.status_code == 400, (url, response.status_code)
        assert _snapshot(session, targets) == before, url
    assert admin.client.get("/admin/").status_code == 200  # still logged in: /logout was refused too


def test_every_post_with_a_wrong_csrf_token_is_refused(login, session, targets):
    admin = login("admin")
    other = login("seller")
    foreign_token = other.csrf_token()  # valid, but for another session
    before = _snapshot(session, targets)
    for url, data in _csrf_posts(targets):
        for token in ("nonsense", foreign_token):
            response = admin.client.post(url, data={**data, "csrf_token": token})
            assert response.status_code == 400, (url, token, response.status_code)
    assert _snapshot(session, targets) == before


def test_the_same_posts_work_with_the_token(login, session, targets):
    """The CSRF tests above would pass for a broken URL too: these POSTs do work with a token."""
    admin = login("admin")
    t = targets
    assert (
        admin.post("/admin/company/action/", {"action": "show_as_supplier", "rowid": str(t["company"].id)}).status_code
        == 302
    )
    assert fresh(session, Company, t["company"].id).is_supplier is True
    assert (
        admin.post(
            f"/admin/company/card/{t['company'].id}/link-contacts", {"contact_id": str(t["loose"].id)}
        ).status_code
        == 302
    )
    assert count(session, CompanyContact) == 2
    assert (
        admin.post(
            "/admin/category/ajax/update/", {"list_form_pk": str(t["category"].id), "name": "Ändrad"}
        ).status_code
        == 200
    )
    assert fresh(session, Category, t["category"].id).name == "Ändrad"
    assert admin.post("/admin/trash/restore", {"rowid": f"company:{t['deleted'].id}"}).status_code == 302
    assert fresh(session, Company, t["deleted"].id).deleted_at is None


def test_industry_in_use_is_not_deleted_and_the_reason_is_shown(login, session, make_company):
    from models import Industry

    industry = Industry(name="Byggverksamhet")
    session.add(industry)
    session.commit()
    make_company(industry_id=industry.id)
    admin = login("admin")
    response = admin.post(
        "/admin/industry/action/", {"action": "delete", "rowid": str(industry.id)}, follow_redirects=True
    )
    assert svn(
        "The industry %(name)s is used by %(num)s company and cannot be deleted; change it on them first.",
        "The industry %(name)s is used by %(num)s companies and cannot be deleted; change it on them first.",
        1,
        name="Byggverksamhet",
    ) in text(response)
    assert count(session, Industry) == 1


def test_duplicate_category_name_is_refused_in_swedish(login, session):
    from models import Category

    session.add(Category(name="A-kund", applies_to="company"))
    session.commit()
    response = login("admin").post("/admin/category/new/", {"name": "A-kund", "applies_to": "both"})
    assert "Det finns redan." in text(response)  # Flask-Admin's own check, next to the field
    assert count(session, Category) == 1


def test_new_employee_form_starts_with_the_least_privileged_role(login):
    page = login("admin").client.get("/admin/employee/new/").get_data(as_text=True)
    assert re.search(r'<option selected value="readonly">|<option value="readonly" selected>', page)
