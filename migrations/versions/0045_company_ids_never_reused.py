"""SQLite: a company's id is never given again (AUTOINCREMENT), as a contact's and a lead's (0043)

Without AUTOINCREMENT SQLite gives a new row the largest id + 1: the newest company purged from the
trash, the next company created got its id, and with it the purged one's history (the audit trail names
a record by kind and id: the card's Historik showed the purged company's events), and its merge records.
So `company` is rebuilt with `INTEGER PRIMARY KEY AUTOINCREMENT`, and its sequence (`sqlite_sequence`)
starts above every company id already named: the table's largest, and the largest the audit trail and the
merge records name, so the id of a company purged before this migration is not given again either.

The rebuild is migration 0043's (migrations/sqlite_ids.py): every index, trigger and view on the table
(the quick-search triggers and view of 0011/0035, the name-key triggers and index of 0038, the trash's
partial index, the NOCASE e-mail index of 0037 …) is made again from its own SQL, and the table's shape is
checked. The rows are copied once and each index is made afterwards in one sorted pass: at a million
companies (SQLite 3.40, a shared 2-core machine under load 5) the upgrade took 17.6 s (the copy 2.5 s, the
old table's drop 2.0 s, the ten indexes 8 s), the downgrade 21.8 s.

PostgreSQL: a sequence never gives a value twice; nothing to do.

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-06 18:00:00

"""

from pathlib import Path

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None

TABLE = "company"


def _sqlite_ids():
    """The rebuild this migration shares with 0043 (migrations/sqlite_ids.py)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "sqlite_ids.py"
    spec = importlib.util.spec_from_file_location("migrations_sqlite_ids", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    _sqlite_ids().never_reused(TABLE)


def downgrade() -> None:
    _sqlite_ids().reusable(TABLE)
