"""indexes for keyset pages and sorting: (sort column…, id) on every sortable list column

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-01 09:00:00

The names and columns are models.KEYSET_INDEXES, copied here as they are today so that this
migration keeps doing what it did when models.py changes later.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEXES = {
    "company": [
        ("name", "id"),
        ("customer_number", "id"),
        ("org_number", "id"),
        ("postal_city", "id"),
        ("owner_id", "name", "id"),
        ("is_supplier", "name", "id"),
        (("deleted_at", "id"), "deleted_at IS NOT NULL"),
    ],
    "company_category": [("category_id", "company_id")],
    "contact": [
        ("last_name", "first_name", "id"),
        ("first_name", "id"),
        ("customer_number", "id"),
        (("deleted_at", "id"), "deleted_at IS NOT NULL"),
    ],
    "contact_category": [("category_id", "contact_id")],
    "lead": [("created_at", "id"), ("company_name", "id"), ("org_number", "id")],
    "call_list": [("created_at", "id"), ("name", "id")],
    "opportunity": [("close_date", "id"), ("title", "id"), ("amount", "id")],
    "sales_order": [("order_date", "id"), ("number", "id"), ("total", "id")],
    "invoice": [("invoice_date", "id"), ("due_date", "id"), ("number", "id"), ("total", "id")],
    "product": [("number", "id"), ("name", "id"), ("price", "id")],
    "employee": [("name", "id")],
    "sales_stage": [("sort_order", "id")],
    "custom_tab": [("applies_to", "sort_order", "id")],
    "custom_field_definition": [("tab_id", "sort_order", "id")],
    "activity": [("assignee_id", "done", "due_at", "id")],
}
#: Indexes these replace: deleted_at (nearly every row is live; SQLite's planner took the index on
#: it and sorted every live row) and is_supplier (now led by is_supplier, then the name).
DROPPED = [
    ("company", "ix_company_deleted_at", "deleted_at"),
    ("contact", "ix_contact_deleted_at", "deleted_at"),
    ("company", "ix_company_is_supplier", "is_supplier"),
]


def _name(table, columns):
    return f"ix_{table}_{'_'.join(columns)}"


def _indexes():
    for table, indexes in INDEXES.items():
        for index in indexes:
            columns, where = (index[0], index[1]) if isinstance(index[0], tuple) else (index, None)
            yield table, columns, where


def upgrade():
    for table, name, _column in DROPPED:
        op.drop_index(name, table_name=table)
    for table, columns, where in _indexes():
        partial = {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)} if where else {}
        op.create_index(_name(table, columns), table, list(columns), **partial)
    if op.get_bind().dialect.name == "postgresql":  # the planner weighs the new indexes at once
        for table in INDEXES:
            op.execute(f'ANALYZE "{table}"')


def downgrade():
    for table, columns, _where in _indexes():
        op.drop_index(_name(table, columns), table_name=table)
    for table, name, column in DROPPED:
        op.create_index(name, table, [column])
