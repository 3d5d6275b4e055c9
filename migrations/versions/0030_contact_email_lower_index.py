"""The contact's e-mail in lower case, indexed on PostgreSQL: a contact is found by its e-mail in any
case (the API's ?email=, a lead's conversion, duplicates) while it is stored with the local part as typed

Not on SQLite: there lower() is the app's own Unicode-aware function (app.py), and an index over it looks
damaged to a connection without that function (SQLite's integrity check of a backup finds rows "missing
from index" for an address with a capital Å).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 15:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_contact_email_lower", "contact", [sa.text("lower(email)")], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_contact_email_lower", table_name="contact")
