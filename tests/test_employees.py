"""services.employees: whom the register offers to choose (owners, sellers, who an API key acts as)."""

import pytest

from extensions import db
from models import Employee
from services import employees as employees_service
from services import permissions
from tests.helpers import sv


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


# --- the last active administrator -------------------------------------------------------------


def _refused(employee, message):
    with pytest.raises(employees_service.LastAdministrator) as refused:
        employees_service.check_an_administrator_remains(db.session, employee)
    assert str(refused.value) == sv(message)
    db.session.rollback()


def test_the_last_active_administrator_keeps_the_role_activity_and_permission(employees):
    admin = employees["admin"]
    admin.role = "seller"
    _refused(
        admin,
        "The last active administrator cannot be given another role: make another employee an administrator first.",
    )
    admin.active = False
    _refused(
        admin, "The last active administrator cannot be deactivated: make another employee an administrator first."
    )
    permissions.set_overrides(admin, admin, grant=set(), revoke={"employee.manage"})
    _refused(
        admin,
        "The last active administrator cannot lose the permission to manage employees: "
        "give it to another employee first.",
    )
    db.session.expire_all()
    assert (admin.role, admin.active, admin.revoked_permissions) == ("admin", True, None)
    # An inactive administrator is no administrator.
    db.session.add(Employee(name="Före Detta", email="fd@example.se", role="admin", active=False))
    db.session.commit()
    admin.role = "seller"
    _refused(
        admin,
        "The last active administrator cannot be given another role: make another employee an administrator first.",
    )


def test_another_active_administrator_lets_one_step_down(employees):
    """Another administrator, by role or by a granted permission, is enough; other employees' edits are
    never refused."""
    seller = employees["seller"]
    permissions.set_overrides(employees["admin"], seller, grant={"employee.manage"}, revoke=set())
    db.session.commit()
    admin = employees["admin"]
    admin.role, admin.active = "seller", False
    employees_service.check_an_administrator_remains(db.session, admin)
    db.session.commit()
    employees["finance"].active = False
    employees_service.check_an_administrator_remains(db.session, employees["finance"])
