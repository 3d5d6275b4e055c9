"""Import notices: a dry run points out rows that are likely already in the register

`import_row_error.kind` tells an error (the row is not imported) from a notice (the row is
imported, but looks like a customer, contact or lead already in the register: `record_kind` and
`record_id` name it, for a link); `import_job.notice_count` counts the rows with a notice.

Revision ID: 0028
Revises: 0024
Create Date: 2026-12-05 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_row_error") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=10), server_default="error", nullable=False))
        batch.add_column(sa.Column("record_kind", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("record_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("import_job") as batch:
        batch.add_column(sa.Column("notice_count", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("import_job") as batch:
        batch.drop_column("notice_count")
    with op.batch_alter_table("import_row_error") as batch:
        batch.drop_column("record_id")
        batch.drop_column("record_kind")
        batch.drop_column("kind")
