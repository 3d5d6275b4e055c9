"""background jobs: an import job's claim, worker, committed batches, queue task, resumes, sheet

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 10:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("task_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claim", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("worker", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("batches_done", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("resumed_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("resumed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("sheet", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("undo_result", sa.JSON(), nullable=True))
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.alter_column("batches_done", server_default=None)
        batch_op.alter_column("resumed_count", server_default=None)


def downgrade():
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        for column in (
            "undo_result",
            "sheet",
            "resumed_at",
            "resumed_count",
            "batches_done",
            "worker",
            "claim",
            "task_id",
            "queued_at",
        ):
            batch_op.drop_column(column)
