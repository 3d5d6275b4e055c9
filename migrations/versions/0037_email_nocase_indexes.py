"""SQLite: the e-mail columns a dry run looks a batch's addresses up in are indexed (COLLATE NOCASE)

services.duplicates.RegisterLookup (an import's dry run) and `check` (the entry forms) find the records
sharing an e-mail with new ones in any case. On PostgreSQL that is `lower(email)`, indexed by migration
0032. On SQLite lower() is the app's own Unicode-aware function, which an index must not use (0032), so
every batch of a dry run read the whole table, calling lower() per row: against 100,000 companies, most of
the dry run's time. These indexes use SQLite's built-in NOCASE collation (any connection has it, so an
integrity check of a backup finds them whole); the query asks for each address as it may be stored
(services.duplicates.email_condition: ASCII letters in either case through the collation, å/ä/ö and other
letters in both cases as variants) and the rows found are compared in lower case in Python, as before.

Revision ID: 0037
Revises: 0035
Create Date: 2026-12-05 18:00:00

"""

from alembic import op

revision = "0037"
down_revision = "0035"
branch_labels = None
depends_on = None

#: (name, table, column)
INDEXES = [
    ("ix_company_email_nocase", "company", "email"),
    ("ix_contact_email_nocase", "contact", "email"),
    ("ix_lead_contact_email_nocase", "lead", "contact_email"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, table, column in INDEXES:
        op.execute(f'CREATE INDEX {name} ON "{table}" ({column} COLLATE NOCASE)')


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, _table, _column in INDEXES:
        op.execute(f"DROP INDEX {name}")
