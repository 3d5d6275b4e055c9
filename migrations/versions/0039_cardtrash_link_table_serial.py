"""PostgreSQL: the company–contact links are never scanned in parallel (a customer's card reads them by key)

At 1,000,000 companies (2,500,000 links) PostgreSQL planned the contacts tab of a customer with
4,000 contacts as a parallel bitmap scan of that customer's links with two workers (the table is
far above min_parallel_table_scan_size, and its estimate of the heap pages to read is the rows'
count, not the 16 pages they lie on), each probing the contact table for its share: 15-19 ms,
against 6 ms for the same plan in one process (`EXPLAIN ANALYZE`, load 4-5; 3 ms at 1,000, where
the small tables are hashed). Starting the workers is most of that, and on a busy machine they wait
for a core. Screens read the links a company's or a contact's at a time (the card and its tabs,
the contact list's companies, a merge); the whole table is read only by background jobs (the
duplicate scan, Gallring), in one pass. So the table's `parallel_workers` storage parameter is 0:
no parallel scan of it is planned. SQLite has no parallel plans: nothing to do there.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-06 00:00:00

"""

from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE company_contact SET (parallel_workers = 0)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE company_contact RESET (parallel_workers)")
