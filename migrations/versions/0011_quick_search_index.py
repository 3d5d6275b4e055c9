"""Quick search index: pg_trgm GIN on PostgreSQL, FTS5 trigram tables kept by triggers on SQLite

What each table is searched on is frozen here as it was when this migration was written
(services/search.py: SEARCHED, FOLD_FROM/FOLD_TO, PREFIX_MARK); PostgreSQL answers from the
index only while services.search builds exactly this expression.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 05:40:00

"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: table: (text columns, number columns, name columns a one- or two-character word begins).
SEARCHED = {
    "company": (
        ("name", "org_number", "email", "phone", "postal_city", "visit_city", "vat_number"),
        ("customer_number",),
        ("name",),
    ),
    "contact": (
        ("first_name", "last_name", "email", "phone", "mobile", "postal_city", "title"),
        ("customer_number",),
        ("first_name", "last_name"),
    ),
    "employee": (("name", "email", "phone", "title"), (), ("name",)),
    "employee_group": (("name",), (), ("name",)),
    "category": (("name", "description"), (), ("name",)),
    "industry": (("name", "sni_code"), (), ("name",)),
    "lead": (
        ("company_name", "org_number", "contact_first_name", "contact_last_name", "contact_email", "contact_phone"),
        (),
        ("company_name", "contact_last_name"),
    ),
    "opportunity": (("title",), (), ("title",)),
    "activity": (("subject", "description"), (), ("subject",)),
    "product": (("name", "number"), (), ("name", "number")),
    "sales_order": (("note",), ("number",), ()),
    "invoice": (("ocr", "note"), ("number",), ()),
}
FOLD_FROM = "éèêëáàüíçñøæÉÈÊËÁÀÜÍÇÑØÆ"
FOLD_TO = "eeeeaauicnöäeeeeaauicnöä"
PREFIX_MARK = "\x01\x01"
#: The trigram tokenizer came with SQLite 3.34.0.
SQLITE_TRIGRAM = (3, 34, 0)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_text(fields, numbers) -> str:
    parts = [f"coalesce({name}, '')" for name in fields] + [f"coalesce(CAST({name} AS TEXT), '')" for name in numbers]
    return "crm_fold(" + " || E'\\n' || ".join(parts) + ")"


def _upgrade_postgresql() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE OR REPLACE FUNCTION crm_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS "
        f"$$ SELECT lower(translate($1, {_sql_string(FOLD_FROM)}, {_sql_string(FOLD_TO)})) $$"
    )
    # A GIN index builds several times faster when its entries fit in memory (this transaction only).
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for table, (fields, numbers, prefix) in SEARCHED.items():
        expression = _pg_text(fields, numbers)
        op.execute(f'CREATE INDEX ix_{table}_search ON "{table}" USING gin (({expression}) gin_trgm_ops)')
        for name in prefix:  # a word of the name beginning with one or two characters
            op.execute(f'CREATE INDEX ix_{table}_{name}_prefix ON "{table}" USING gin (crm_fold({name}) gin_trgm_ops)')


def _downgrade_postgresql() -> None:
    for table, (_fields, _numbers, prefix) in SEARCHED.items():
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search")
        for name in prefix:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_{name}_prefix")
    op.execute("DROP FUNCTION IF EXISTS crm_fold(text)")


# --- SQLite -------------------------------------------------------------------------------------


def _sqlite_text(row: str, fields, numbers, prefix) -> str:
    """The indexed text of a row (`row` is new or old in a trigger, the table in a SELECT): the columns
    joined by newlines, then the name columns again with each word led by the prefix mark, accents
    folded (the tokenizer folds case)."""
    parts = [f"coalesce({row}.{name}, '')" for name in fields + numbers]
    mark = _sql_string(PREFIX_MARK)
    for name in prefix:  # the name columns again, each word led by the mark
        parts.append(f"{mark} || replace(coalesce({row}.{name}, ''), ' ', ' ' || {mark})")
    text = " || char(10) || ".join(parts)
    for accented, plain in zip(FOLD_FROM, FOLD_TO, strict=True):
        text = f"replace({text}, '{accented}', '{plain}')"
    return text


def _upgrade_sqlite() -> None:
    import sqlite3

    version = tuple(int(part) for part in sqlite3.sqlite_version.split("."))
    if version < SQLITE_TRIGRAM:
        raise RuntimeError(
            f"Quick search needs SQLite {'.'.join(map(str, SQLITE_TRIGRAM))} or newer (FTS5 trigram tokenizer); "
            f"this Python has {sqlite3.sqlite_version}."
        )
    for table, (fields, numbers, prefix) in SEARCHED.items():
        fts = f"{table}_search"
        columns = ", ".join(fields + numbers)
        op.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5(words, content='', columnsize=0, "
            "tokenize='trigram case_sensitive 0')"
        )
        new, old = (_sqlite_text(row, fields, numbers, prefix) for row in ("new", "old"))
        insert = f"INSERT INTO {fts}(rowid, words) VALUES (new.id, {new});"
        delete = f"INSERT INTO {fts}({fts}, rowid, words) VALUES ('delete', old.id, {old});"
        op.execute(f'CREATE TRIGGER {fts}_insert AFTER INSERT ON "{table}" BEGIN {insert} END')
        op.execute(f'CREATE TRIGGER {fts}_delete AFTER DELETE ON "{table}" BEGIN {delete} END')
        op.execute(
            f'CREATE TRIGGER {fts}_update AFTER UPDATE OF id, {columns} ON "{table}" BEGIN {delete} {insert} END'
        )
        rows = _sqlite_text(f'"{table}"', fields, numbers, prefix)
        op.execute(f'INSERT INTO {fts}(rowid, words) SELECT id, {rows} FROM "{table}"')


def _downgrade_sqlite() -> None:
    for table in SEARCHED:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {table}_search")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    else:
        _downgrade_sqlite()
