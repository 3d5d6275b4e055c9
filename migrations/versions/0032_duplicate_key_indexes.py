"""Indexes for an import's dry run to look up its rows' likely duplicates by key, a batch at a time

services.duplicates.RegisterLookup asks the register for the records sharing an e-mail (in lower case),
phone, mobile or personnummer with a batch's rows instead of holding the whole register in memory.

The e-mail indexes (lower case) are made on PostgreSQL only: on SQLite lower() is the app's own
Unicode-aware function (app.py), and an index over it looks damaged to a connection without that
function (SQLite's integrity check of a backup finds rows "missing from index" for an address with a
capital Å), so SQLite compares lower() without an index. The contact's serves the API's ?email= too.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 15:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

#: (name, table, column, in lower case)
INDEXES = [
    ("ix_company_email_lower", "company", "email", True),
    ("ix_company_phone", "company", "phone", False),
    ("ix_contact_email_lower", "contact", "email", True),
    ("ix_contact_phone", "contact", "phone", False),
    ("ix_contact_mobile", "contact", "mobile", False),
    ("ix_contact_personal_number", "contact", "personal_number", False),
    ("ix_lead_contact_email_lower", "lead", "contact_email", True),
    ("ix_lead_contact_phone", "lead", "contact_phone", False),
]


def _made_here(lower: bool) -> bool:
    return not lower or op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    for name, table, column, lower in INDEXES:
        if _made_here(lower):
            op.create_index(name, table, [sa.text(f"lower({column})") if lower else column])


def downgrade() -> None:
    for name, table, _column, lower in INDEXES:
        if _made_here(lower):
            op.drop_index(name, table_name=table)
