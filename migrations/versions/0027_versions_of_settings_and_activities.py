"""Optimistic locking for categories, industries, sales stages, products and activities

The REST API changes them with PATCH, which carries the version the client read (a stale one gets
409 with the current record), as companies, contacts, leads and opportunities already do. Existing
rows start at version 1 (the column's database default, also used by set-based inserts).

Revision ID: 0027
Revises: 0024
Create Date: 2026-12-05 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

TABLES = ("category", "industry", "sales_stage", "product", "activity")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
