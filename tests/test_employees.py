"""services.employees: whom the register offers to choose (owners, sellers, who an API key acts as)."""

from extensions import db
from models import Employee
from services import employees as employees_service


def test_active_employees_by_name_without_the_inactive(employees):
    db.session.add_all(
        [
            Employee(name="Åsa Avslutad", email="asa@example.se", role="seller", active=False),
            Employee(name="Adam Aktiv", email="adam@example.se", role="seller", active=True),
        ]
    )
    employees["readonly"].active = False
    db.session.commit()

    names = [e.name for e in employees_service.active(db.session)]

    assert "Åsa Avslutad" not in names and employees["readonly"].name not in names
    assert names[0] == "Adam Aktiv"
    assert names == sorted(names)
    assert len(names) == len(employees)  # every other role's employee, and Adam
