"""The company search's words index: a term's matches in name order, read from an index of (word, name, id)

A quick search of the company list (and the Rapportgenerator's text condition) is sorted by name. The
trigram index finds a term's matches but not in that order, so every match's row was read to sort them:
"svensson" at 1,000,000 companies is 4,629 rows on as many pages, where a thousand companies' "kiruna"
is 53 (issue 13: the screen grew with the register). This index holds each live company's words with its
name, so a term's matches come in name order from the index alone (services.word_index):

- `company_word_entry (word, name, id)`: one entry per distinct word of a live company's search text
  (the text the quick search reads, lower case, accents folded), a word being a run of the letters a–z
  and of non-ASCII characters (every ASCII character other than a–z, digits included, separates words;
  services.word_index.SEPARATORS), three characters or more. A search word made only of such characters
  is found inside a text exactly when it is found inside one of these words; others (numbers, e-mail
  addresses, "a-b") keep to the trigram index.
- `company_word (id, word)`: the distinct words, with a pg_trgm GIN index, where a search word's containing
  words are looked up. A word whose last company is gone stays (it finds nothing).

PostgreSQL keeps it by statement triggers with transition tables, from the stored `search_text` (migration
0024), whatever writes the table (the ORM, an import's COPY, an UPDATE, a move to the trash, a restore, a
purge, a merge). SQLite: the tables only, empty; the search keeps to its FTS5 index there (`_upgrade_sqlite`).

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-06 17:30:00

"""

from alembic import op

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None

#: Characters that separate words (services.word_index.SEPARATORS): ASCII other than a–z.
PG_SEPARATORS = r"[\x01-\x60\x7b-\x7f]+"
#: Words shorter than a searched word (three characters) are not kept.
SHORTEST = 3


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_entries_of(rows: str, where: str) -> str:
    """The entries of `rows` (a transition table, or the table) for which `where` holds."""
    return (
        f"SELECT DISTINCT w.word, r.name, r.id FROM {rows} r "
        f"CROSS JOIN LATERAL regexp_split_to_table(r.search_text, '{PG_SEPARATORS}') AS w(word) "
        f"WHERE r.deleted_at IS NULL AND length(w.word) >= {SHORTEST} AND ({where})"
    )


def _pg_insert(rows: str, where: str) -> str:
    return (
        f"WITH found AS ({_pg_entries_of(rows, where)}), "
        "entered AS (INSERT INTO company_word_entry (word, name, id) SELECT word, name, id FROM found) "
        "INSERT INTO company_word (word) SELECT DISTINCT word FROM found ORDER BY word ON CONFLICT DO NOTHING;"
    )


CHANGED = (
    "n.search_text IS DISTINCT FROM o.search_text OR n.name IS DISTINCT FROM o.name "
    "OR (n.deleted_at IS NULL) <> (o.deleted_at IS NULL)"
)


def _upgrade_postgresql() -> None:
    op.execute("CREATE TABLE company_word (id serial PRIMARY KEY, word text NOT NULL)")
    op.execute("CREATE UNIQUE INDEX ix_company_word_word ON company_word (word)")
    op.execute("CREATE INDEX ix_company_word_trgm ON company_word USING gin (word gin_trgm_ops)")
    op.execute(
        "CREATE TABLE company_word_entry (word text NOT NULL, name varchar(200) NOT NULL, id integer NOT NULL, "
        "PRIMARY KEY (word, name, id))"
    )
    op.execute("CREATE INDEX ix_company_word_entry_id ON company_word_entry (id)")
    op.execute(
        "CREATE FUNCTION company_words_inserted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        + _pg_insert("new_rows", "true")
        + " RETURN NULL; END $$"
    )
    changed_rows = "(SELECT n.* FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE " + CHANGED + ")"
    op.execute(
        "CREATE FUNCTION company_words_updated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "DELETE FROM company_word_entry e USING new_rows n JOIN old_rows o ON o.id = n.id "
        f"WHERE e.id = o.id AND ({CHANGED}); " + _pg_insert(changed_rows, "true") + " RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION company_words_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "DELETE FROM company_word_entry e USING old_rows o WHERE e.id = o.id; RETURN NULL; END $$"
    )
    for event, tables, function in (
        ("INSERT", "NEW TABLE AS new_rows", "company_words_inserted"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", "company_words_updated"),
        ("DELETE", "OLD TABLE AS old_rows", "company_words_deleted"),
    ):
        op.execute(
            f"CREATE TRIGGER {function} AFTER {event} ON company REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.execute(_pg_insert("company", "true"))


def _downgrade_postgresql() -> None:
    for function in ("company_words_inserted", "company_words_updated", "company_words_deleted"):
        op.execute(f"DROP TRIGGER IF EXISTS {function} ON company")
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.execute("DROP TABLE IF EXISTS company_word_entry")
    op.execute("DROP TABLE IF EXISTS company_word")


# --- SQLite ---------------------------------------------------------------------------------------


def _upgrade_sqlite() -> None:
    """SQLite: the tables only (models.py declares them), left empty: there the quick search keeps to its FTS5
    index (services.word_index.match). Kept by triggers, the entries cost an import on SQLite, which writes
    them in the import's own process, a third of its speed (30,000 companies: 5,792 → 3,523 rows/s), for a
    search that was within a few milliseconds of flat there."""
    op.execute("CREATE TABLE company_word (id INTEGER NOT NULL PRIMARY KEY, word TEXT NOT NULL)")
    op.execute("CREATE UNIQUE INDEX ix_company_word_word ON company_word (word)")
    op.execute(
        "CREATE TABLE company_word_entry (word TEXT NOT NULL, name VARCHAR(200) NOT NULL, id INTEGER NOT NULL, "
        "PRIMARY KEY (word, name, id)) WITHOUT ROWID"
    )
    op.execute("CREATE INDEX ix_company_word_entry_id ON company_word_entry (id)")


def _downgrade_sqlite() -> None:
    op.execute("DROP TABLE IF EXISTS company_word_entry")
    op.execute("DROP TABLE IF EXISTS company_word")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    else:
        _downgrade_sqlite()
