"""import: jobs, row errors, saved mappings; audit events name their import job

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 16:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("match_key", sa.String(length=30), nullable=True),
        sa.Column("all_or_nothing", sa.Boolean(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("storage_key", sa.String(length=64), nullable=True),
        sa.Column("file_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("unchanged_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("new_categories", sa.JSON(), nullable=True),
        sa.Column("error_summary", sa.Text(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["employee.id"], name=op.f("fk_import_job_created_by_id_employee")),
        sa.ForeignKeyConstraint(["undone_by_id"], ["employee.id"], name=op.f("fk_import_job_undone_by_id_employee")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_job_status"), ["status"], unique=False)

    op.create_table(
        "import_row_error",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(length=200), nullable=True),
        sa.Column("value", sa.String(length=200), nullable=True),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["import_job.id"], name=op.f("fk_import_row_error_job_id_import_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_row_error")),
    )
    with op.batch_alter_table("import_row_error", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_row_error_job_id"), ["job_id"], unique=False)

    op.create_table(
        "import_mapping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["employee.id"], name=op.f("fk_import_mapping_created_by_id_employee")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_mapping")),
    )

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_job_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_event_import_job_id"), ["import_job_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_event_import_job_id_import_job"),
            "import_job",
            ["import_job_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_audit_event_import_job_id_import_job"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_audit_event_import_job_id"))
        batch_op.drop_column("import_job_id")
    op.drop_table("import_mapping")
    with op.batch_alter_table("import_row_error", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_row_error_job_id"))
    op.drop_table("import_row_error")
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_job_status"))
    op.drop_table("import_job")
