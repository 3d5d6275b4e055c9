"""Dubbletter: duplicate pairs and scans, merge records (undo), mass updates (undo)

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-05 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def _employee_fk(table: str, column: str):
    return sa.ForeignKeyConstraint(
        [column], ["employee.id"], name=op.f(f"fk_{table}_{column}_employee"), ondelete="SET NULL"
    )


def upgrade():
    op.create_table(
        "duplicate_scan",
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("checked_until", sa.DateTime(), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("pairs", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("entity_type", name=op.f("pk_duplicate_scan")),
    )
    op.create_table(
        "duplicate_pair",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("low_id", sa.Integer(), nullable=False),
        sa.Column("high_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.Column("dismissed_at", sa.DateTime(), nullable=True),
        sa.Column("dismissed_by_id", sa.Integer(), nullable=True),
        _employee_fk("duplicate_pair", "dismissed_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_pair")),
        sa.UniqueConstraint("entity_type", "low_id", "high_id", name="uq_duplicate_pair"),
    )
    op.create_index("ix_duplicate_pair_list", "duplicate_pair", ["entity_type", "dismissed_at", "score"])
    op.create_table(
        "mass_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("target_ids", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        _employee_fk("mass_update", "actor_id"),
        _employee_fk("mass_update", "undone_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mass_update")),
    )
    op.create_table(
        "merge_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("merged_label", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("merged_fields", sa.JSON(), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        _employee_fk("merge_record", "actor_id"),
        _employee_fk("merge_record", "undone_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merge_record")),
    )
    op.create_index(op.f("ix_merge_record_merged_id"), "merge_record", ["merged_id"])
    op.create_index("ix_merge_record_survivor", "merge_record", ["entity_type", "survivor_id"])


def downgrade():
    op.drop_table("merge_record")
    op.drop_table("mass_update")
    op.drop_table("duplicate_pair")
    op.drop_table("duplicate_scan")
