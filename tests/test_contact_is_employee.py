"""FAQ 4, "Anställd eller kontakt": a new contact that is an employee (same e-mail, or same name and
phone) is not saved without a word: the user is warned and offered the employee instead."""

from extensions import db
from models import Contact
from services import register
from tests.helpers import count, flashes, sv, text


def contact_form(**fields):
    data = {"first_name": "Erik", "last_name": "Johansson", "email": "", "phone": "", "mobile": ""}
    data.update(fields)
    return data


def warning_of(response) -> str:
    return next((m for category, m in flashes(response) if category == "warning"), "")


def test_same_email_is_warned_with_a_link_and_nothing_is_saved(login, employees):
    seller = employees["seller"]
    response = login("admin").post("/admin/contact/new/", contact_form(email=seller.email.upper()))
    assert response.status_code == 200
    assert sv("This person is an employee:") in warning_of(response) and seller.name in warning_of(response)
    assert f'href="/admin/employee/card/{seller.id}"' in text(response)
    assert sv("Save as a contact anyway: it is not the employee") in text(response)
    assert count(db.session, Contact) == 0


def test_same_name_and_phone_is_warned(login, employees):
    seller = employees["seller"]
    seller.phone = "+46701234567"
    db.session.commit()
    first, last = seller.name.split(" ", 1)
    response = login("admin").post(
        "/admin/contact/new/", contact_form(first_name=first, last_name=last, mobile="070-123 45 67")
    )
    assert seller.name in warning_of(response)
    assert count(db.session, Contact) == 0


def test_saved_anyway_when_the_user_says_it_is_someone_else(login, employees):
    admin = login("admin")
    response = admin.post("/admin/contact/new/", contact_form(email=employees["seller"].email, not_the_employee="y"))
    assert response.status_code == 302
    assert count(db.session, Contact) == 1


def test_someone_else_is_saved_without_a_warning(login, employees):
    response = login("admin").post("/admin/contact/new/", contact_form(email="erik@kund.example"))
    assert response.status_code == 302 and count(db.session, Contact) == 1
    page = text(login("admin").client.get("/admin/contact/new/"))
    assert sv("Save as a contact anyway: it is not the employee") not in page


def test_same_name_alone_is_not_an_employee(app, employees):
    first, last = employees["seller"].name.split(" ", 1)
    assert register.employees_matching(db.session, email="", first_name=first, last_name=last, phones=()) == []
    assert (
        register.employees_matching(db.session, email=None, first_name=first, last_name=last, phones=("+46700000000",))
        == []
    )
    assert [
        e.id
        for e in register.employees_matching(
            db.session, email=f" {employees['seller'].email} ", first_name="", last_name="", phones=()
        )
    ] == [employees["seller"].id]
