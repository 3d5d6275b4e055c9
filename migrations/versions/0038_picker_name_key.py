"""Pickers: a btree on each picked table's folded name, so the names that begin with what was typed come first

A picker (Select2 look-up of a company, an employee, a product) shows the names that begin with the
typed text first, in name order (services.search.pick). That tier is read from a btree on the name as
the search folds it (lower case, é → e, å/ä/ö kept), as a range of the index that stops after the
picker's 20 rows, whatever the size of the table.

- PostgreSQL: an expression index on `crm_fold(name) COLLATE "C"` (with id for the order's tie-break).
  The "C" collation makes the range and the order byte order (code points) in any database collation,
  so "begins with" is a range of the index. Nothing to keep in sync.
- SQLite: a plain column `name_key`, the folded name, written by triggers on insert and on an update of
  the name (the ORM, an import's UPDATE, a restore or a merge all go through them; a batch of new
  rows, services.bulk's executemany, writes the key with its rows and the insert trigger stands
  aside), and an index on (name_key, id). Not an index on an expression: lower() is the app's
  own Unicode-aware function (app.py), and an index over it looks damaged to a connection without it
  (migration 0032). The column is not in the model; the ORM never reads or writes it.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-05 23:50:00

"""

from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None

#: table: the name column its key is kept for (services.search.PICKED)
PICKED = {"company": "name", "employee": "name", "product": "name"}
#: The accented lower-case letters services.search.fold folds (after lower()), as frozen in migration 0011.
FOLD_FROM = "éèêëáàüíçñøæ"
FOLD_TO = "eeeeaauicnöä"


def sqlite_key(column: str) -> str:
    """SQLite: the folded text of `column` (lower() is the app's str.lower on its connections)."""
    text = f"lower({column})"
    for accented, plain in zip(FOLD_FROM, FOLD_TO, strict=True):
        text = f"replace({text}, '{accented}', '{plain}')"
    return text


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for table, name in PICKED.items():
            op.execute(f'CREATE INDEX ix_{table}_{name}_key ON "{table}" ((crm_fold({name}) COLLATE "C"), id)')
        return
    for table, name in PICKED.items():
        key = f"{name}_key"
        op.execute(f'ALTER TABLE "{table}" ADD COLUMN {key} TEXT')
        op.execute(f'UPDATE "{table}" SET {key} = {sqlite_key(name)}')
        # a batch of new rows (services.bulk) writes the key with them; the trigger keeps the others
        for event, when in (
            ("insert", f'INSERT ON "{table}" WHEN new.{key} IS NULL'),
            ("update", f'UPDATE OF {name} ON "{table}"'),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_{key}_{event} AFTER {when} "
                f'BEGIN UPDATE "{table}" SET {key} = {sqlite_key("new." + name)} WHERE id = new.id; END'
            )
        op.execute(f'CREATE INDEX ix_{table}_{key} ON "{table}" ({key}, id)')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name in PICKED.items():
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_{name}_key")
        return
    for table, name in PICKED.items():
        key = f"{name}_key"
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_{key}")
        for event in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{key}_{event}")
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN {key}')
