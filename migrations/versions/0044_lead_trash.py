"""Leads go to the trash: a deleted lead is kept with its call-list entries and activities

Deleting a lead destroyed it (and by cascade its call-list entries with their outcomes and notes).
Like a company or a contact it now gets `deleted_at`/`deleted_by_id` (services.trash) and the
trash's partial index on its deleted rows (models.KEYSET_INDEXES), so Återställa kunder lists it
newest deletion first and brings it back.

Not batch mode: rebuilding the table on SQLite would drop its quick-search and picker triggers
(migrations 0011, 0035, 0038); SQLite adds a nullable column with a REFERENCES clause in place.

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-06 15:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

INDEX = "ix_lead_deleted_at_id"
WHERE = "deleted_at IS NOT NULL"


def upgrade() -> None:
    op.add_column("lead", sa.Column("deleted_at", sa.DateTime(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        columns = [row[1] for row in op.get_bind().exec_driver_sql('PRAGMA table_info("lead")')]
        if "deleted_by_id" not in columns:  # else left behind by this migration's downgrade (see there)
            op.execute(
                "ALTER TABLE lead ADD COLUMN deleted_by_id INTEGER"
                " CONSTRAINT fk_lead_deleted_by_id_employee REFERENCES employee (id)"
            )
    else:
        op.add_column("lead", sa.Column("deleted_by_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_lead_deleted_by_id_employee"), "lead", "employee", ["deleted_by_id"], ["id"])
    op.create_index(INDEX, "lead", ["deleted_at", "id"], postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="lead")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("fk_lead_deleted_by_id_employee"), "lead", type_="foreignkey")
        op.drop_column("lead", "deleted_by_id")
        op.drop_column("lead", "deleted_at")
    else:
        # SQLite cannot drop a column a constraint names without rebuilding the table (which would
        # drop its triggers): deleted_by_id stays behind, unused, as a nullable column.
        op.drop_column("lead", "deleted_at")
