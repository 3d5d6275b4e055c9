"""the REST API: API keys of integrations, and the key an audit event was made through

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-05 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employee.id"], name="fk_api_key_employee_id_employee", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["employee.id"], name="fk_api_key_created_by_id_employee", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_key"),
        sa.UniqueConstraint("key_hash", name="uq_api_key_key_hash"),
    )
    op.create_index("ix_api_key_employee_id", "api_key", ["employee_id"])
    # ADD COLUMN without a foreign key: SQLite adds it in place, however large the history is.
    op.add_column("audit_event", sa.Column("api_key_id", sa.Integer(), nullable=True))
    op.create_index("ix_audit_event_api_key_id", "audit_event", ["api_key_id"])


def downgrade():
    op.drop_index("ix_audit_event_api_key_id", table_name="audit_event")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("api_key_id")
    op.drop_index("ix_api_key_employee_id", table_name="api_key")
    op.drop_table("api_key")
