"""SQLite: a contact's or a lead's id is never given again (AUTOINCREMENT)

Without AUTOINCREMENT SQLite gives a new row the largest id + 1, so when the row with the largest id
is deleted its id comes back. The privacy log (`privacy_event.subject_id`) and the erasure ledger
(`instance/erasures.jsonl`) name an erased person by their record's kind and id: a contact or lead
erased, purged, and followed by a new one got that id, and the new record was taken for the erased
person (read-only, its actions hidden, refused as erased; and open to a re-applied erasure after a
restore). The audit trail and merge records name records by id as well.

So `contact` and `lead`, the tables whose ids the privacy log and the ledger name (services.privacy
KINDS), are rebuilt with `INTEGER PRIMARY KEY AUTOINCREMENT` (batch mode, recreate), and their
sequence (`sqlite_sequence`) starts above every id already used: the table's largest, and the largest
the privacy log, the ledger, the audit trail and the merge records name, so an id of a record already
purged is not handed out either.

SQLite drops a table's indexes and triggers with it, and will not rename a table while a view names
one that is missing: every index, trigger and view on the two tables (the quick-search triggers of
migrations 0011 and 0035 and the view `<table>_search_words`, the NOCASE e-mail index of 0037 …) is
read from sqlite_master first and made again afterwards from its own SQL text, in its old order, so
each is exactly what it was. The rows keep their ids, so the FTS5 index (keyed by id) stays valid.
The rebuild is shared with migration 0045 (the company table): migrations/sqlite_ids.py.

PostgreSQL: a sequence never gives a value twice; nothing to do.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-06 14:30:00

"""

import json
from pathlib import Path

from alembic import op

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None

#: The tables whose ids the privacy log and the erasure ledger name (services.privacy.KINDS, frozen here).
TABLES = ("contact", "lead")


def _ledger_ids() -> dict[str, int]:
    """The largest id of each kind the instance's erasure ledger names (0 without a ledger)."""
    from flask import current_app

    config = current_app.config
    path = Path(config.get("ERASURE_LEDGER") or Path(config["INSTANCE_DIR"]) / "erasures.jsonl")
    largest = dict.fromkeys(TABLES, 0)
    if not path.exists():
        return largest
    for line in path.read_bytes().splitlines():
        try:
            entry = json.loads(line)
            named = [(entry["kind"], entry["id"]), *((kind, i) for kind, i, _created in entry["records"])]
        except (ValueError, TypeError, KeyError):
            continue  # a line cut short by a crash: services.erasure_ledger skips it too
        for kind, record_id in named:
            if kind in largest and isinstance(record_id, int):
                largest[kind] = max(largest[kind], record_id)
    return largest


def _sqlite_ids():
    """The rebuild this migration and 0045 share (migrations/sqlite_ids.py)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "sqlite_ids.py"
    spec = importlib.util.spec_from_file_location("migrations_sqlite_ids", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    ledger = _ledger_ids()
    for table in TABLES:
        _sqlite_ids().never_reused(table, at_least=ledger[table])


def downgrade() -> None:
    for table in TABLES:
        _sqlite_ids().reusable(table)
