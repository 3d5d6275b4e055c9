"""Rättslig grund and marketing consents by channel on contacts and leads (issue 20)

The people already in the register are kept under berättigat intresse (a B2B register's basis,
and the product's default for new records); no consent is recorded for anyone.

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-05 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0024"
branch_labels = None
depends_on = None

TABLES = ("contact", "lead")
CHANNELS = ("email", "sms", "phone")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("lawful_basis", sa.String(length=30), nullable=True))
        for channel in CHANNELS:
            op.add_column(table, sa.Column(f"consent_{channel}", sa.Boolean(), nullable=True))
            op.add_column(table, sa.Column(f"consent_{channel}_at", sa.DateTime(), nullable=True))
            op.add_column(table, sa.Column(f"consent_{channel}_source", sa.String(length=20), nullable=True))
        op.execute(f"UPDATE \"{table}\" SET lawful_basis = 'legitimate_interest'")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for channel in reversed(CHANNELS):
                batch.drop_column(f"consent_{channel}_source")
                batch.drop_column(f"consent_{channel}_at")
                batch.drop_column(f"consent_{channel}")
            batch.drop_column("lawful_basis")
