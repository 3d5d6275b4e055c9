"""SQLite: a batch of new rows is added to the quick-search index in one statement, not row by row

Migration 0011's AFTER INSERT trigger adds each new row to its FTS5 table. For a batch (an import, the
large generator) that is one FTS5 insert per row, and it was half of an import's CPU: 20,000
companies written in 2.2 CPU-s with the trigger, 0.04 s of it without; the same rows added after the
batch with one INSERT … SELECT took 0.65 s (measured on SQLite 3.40, 1,000-row batches, as the import
commits them). So:

- `<table>_search_words` (a view) is the row's indexed text, 0011's expression over the table, the
  one definition both paths read;
- `search_deferred` names the tables whose index a batch is adding itself, inside the batch's own
  write transaction (services.bulk), and each insert trigger stands aside for those tables.

Nothing changes for single rows (forms, the API) or on PostgreSQL, whose index is a GIN index.

Revision ID: 0035
Revises: 0032
Create Date: 2026-12-05 15:00:00

"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0035"
down_revision = "0032"
branch_labels = None
depends_on = None


def _quick_search_0011():
    """Migration 0011, whose table list and indexed expression the view and trigger keep."""
    path = Path(__file__).with_name("0011_quick_search_index.py")
    spec = importlib.util.spec_from_file_location("quick_search_0011", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _insert_trigger(quick, table: str, fields, numbers, prefix, *, deferrable: bool) -> str:
    fts = f"{table}_search"
    words = quick._sqlite_text("new", fields, numbers, prefix)
    when = f" WHEN NOT EXISTS (SELECT 1 FROM search_deferred WHERE name = '{table}')" if deferrable else ""
    return (
        f'CREATE TRIGGER {fts}_insert AFTER INSERT ON "{table}"{when} '
        f"BEGIN INSERT INTO {fts}(rowid, words) VALUES (new.id, {words}); END"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    quick = _quick_search_0011()
    op.execute("CREATE TABLE search_deferred (name VARCHAR(60) NOT NULL PRIMARY KEY)")
    for table, (fields, numbers, prefix) in quick.SEARCHED.items():
        words = quick._sqlite_text(f'"{table}"', fields, numbers, prefix)
        op.execute(f'CREATE VIEW {table}_search_words AS SELECT id, {words} AS words FROM "{table}"')
        op.execute(f"DROP TRIGGER {table}_search_insert")
        op.execute(_insert_trigger(quick, table, fields, numbers, prefix, deferrable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    quick = _quick_search_0011()
    for table, (fields, numbers, prefix) in quick.SEARCHED.items():
        op.execute(f"DROP TRIGGER {table}_search_insert")
        op.execute(_insert_trigger(quick, table, fields, numbers, prefix, deferrable=False))
        op.execute(f"DROP VIEW {table}_search_words")
    op.execute("DROP TABLE search_deferred")
