"""Employees as the register offers them to choose from (owners, sellers, who an API key acts as)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Employee


def active(session: Session) -> list[Employee]:
    """The active employees by name: an inactive one is chosen for nothing new."""
    return list(session.scalars(select(Employee).where(Employee.active.is_(True)).order_by(Employee.name)))
