"""Migrations on a register that already holds data (the test database is migrated from empty)."""

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from extensions import db
from models import Company, CompanyContact, Contact


def test_upgrading_an_sqlite_register_keeps_every_link_to_an_altered_table(tmp_path, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite alters a table by copying it; PostgreSQL alters it in place")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite'}",
                      "INSTANCE_DIR": str(tmp_path)})
    with app.app_context():
        upgrade(revision="0009")  # before 0010 rebuilds the company table
        company = Company(name="Kvarvarande AB")
        db.session.add(CompanyContact(company=company, contact=Contact(first_name="Åsa", last_name="Öberg"), role="VD"))
        db.session.commit()
        upgrade()
        assert db.session.scalar(select(func.count()).select_from(CompanyContact)) == 1
        assert db.session.scalar(select(Company.name)) == "Kvarvarande AB"
        db.session.remove()
