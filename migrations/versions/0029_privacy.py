"""Dataskydd: the privacy log, retention rules (Gallring), and an issued invoice's buyer kept under
Bokföringslagen after an erasure

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("review", sa.JSON(), nullable=True),
        sa.Column("retained_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["employee.id"], name=op.f("fk_privacy_event_actor_id_employee"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_event")),
    )
    op.create_index(op.f("ix_privacy_event_at"), "privacy_event", ["at"], unique=False)
    op.create_table(
        "retention_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["employee.id"],
            name=op.f("fk_retention_rule_created_by_id_employee"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_rule")),
    )
    op.add_column("invoice", sa.Column("retained_name", sa.String(length=200), nullable=True))
    op.add_column("invoice", sa.Column("retained_address", sa.String(length=300), nullable=True))
    op.add_column("invoice", sa.Column("retained_until", sa.Date(), nullable=True))
    op.create_index(op.f("ix_invoice_retained_until"), "invoice", ["retained_until"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_invoice_retained_until"), table_name="invoice")
    # not batch mode: rebuilding the table on SQLite would drop its quick-search triggers
    for column in ("retained_until", "retained_address", "retained_name"):
        op.drop_column("invoice", column)
    op.drop_index(op.f("ix_privacy_event_at"), table_name="privacy_event")
    op.drop_table("privacy_event")
    op.drop_table("retention_rule")
