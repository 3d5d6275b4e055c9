"""Indexes that a wider index begins with are dropped: every write of the table updated them for nothing

Each is the first column of a keyset index of migration 0016 (`(column …, id)`), which serves every
look-up, sort, range and foreign-key check it served, on both databases. An import of 30,000 companies on
PostgreSQL (the write pass in one process, in turn, twice each, load 2.6–3.1): 13.8 s with the company's
three, 12.4–12.6 s without them and the index on its phone (kept: the dry run looks phones up).

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-06 06:40:00

"""

from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

#: (table, index, its column): each the start of models.KEYSET_INDEXES' (column …, id) on the same table.
REDUNDANT = [
    ("company", "ix_company_name", "name"),
    ("company", "ix_company_org_number", "org_number"),
    ("company", "ix_company_owner_id", "owner_id"),
    ("contact", "ix_contact_last_name", "last_name"),
    ("lead", "ix_lead_company_name", "company_name"),
    ("lead", "ix_lead_org_number", "org_number"),
    ("activity", "ix_activity_assignee_id", "assignee_id"),
]


def upgrade() -> None:
    for table, name, _column in REDUNDANT:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, column in REDUNDANT:
        op.create_index(name, table, [column])
