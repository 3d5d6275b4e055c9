"""saved report definitions (Rapportgenerator)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 16:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_definition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("entity", sa.String(length=30), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["employee.id"], name=op.f("fk_report_definition_owner_id_employee"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_definition")),
        sa.UniqueConstraint("owner_id", "name", name="uq_report_definition_owner_name"),
    )
    with op.batch_alter_table("report_definition", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_definition_owner_id"), ["owner_id"], unique=False)


def downgrade():
    with op.batch_alter_table("report_definition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_definition_owner_id"))
    op.drop_table("report_definition")
