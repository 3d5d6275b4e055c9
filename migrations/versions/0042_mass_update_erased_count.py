"""Ändra flera counts the erased persons' records it left unchanged

A mass update leaves an erased person's record out (read-only: services.privacy). The request counted
those erased before it was started; a queued one must also count those erased before its worker ran, so
the count is kept on the job and shown on its page.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-06 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mass_update") as batch:
        batch.add_column(sa.Column("erased_count", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("mass_update") as batch:
        batch.drop_column("erased_count")
