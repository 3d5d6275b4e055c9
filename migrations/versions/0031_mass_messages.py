"""Massutskick: mass e-mail and SMS jobs, and e-mail written to a lead

Revision ID: 0031
Revises: 0029
Create Date: 2026-12-05 15:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mass_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("target_ids", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sent_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("claim", sa.String(length=64), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("queued_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["employee.id"], name=op.f("fk_mass_message_actor_id_employee"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mass_message")),
    )
    op.create_index(op.f("ix_mass_message_status"), "mass_message", ["status"], unique=False)
    with op.batch_alter_table("email_message") as batch:
        batch.add_column(sa.Column("lead_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_email_message_lead_id_lead"), "lead", ["lead_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(batch.f("ix_email_message_lead_id"), ["lead_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("email_message") as batch:
        batch.drop_index(batch.f("ix_email_message_lead_id"))
        batch.drop_constraint(batch.f("fk_email_message_lead_id_lead"), type_="foreignkey")
        batch.drop_column("lead_id")
    op.drop_index(op.f("ix_mass_message_status"), table_name="mass_message")
    op.drop_table("mass_message")
