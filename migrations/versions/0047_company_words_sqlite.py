"""SQLite: the company search's words index kept too, its entries written after the write that changed them

Migration 0046 made the words index for PostgreSQL, where statement triggers keep the entries. SQLite cannot
split a text into words in a trigger, and writing the entries in the writer's own transaction made an import a
third slower (30,000 companies: 5,792 → 3,523 rows/s). So here a trigger only notes which company changed, and
the entries are written after the commit (services.word_index.catch_up):

- `company_word_pending (seq, id)`: a company inserted, deleted, moved to or from the trash, or with a searched
  column changed, noted by the triggers below whatever writes the table (the ORM, an import's executemany or
  UPDATE, a restore, a purge, a merge). One row appended per changed company.
- `company_word_search`: an FTS5 trigram index of the distinct words (`company_word`), where a search word's
  containing words are looked up (PostgreSQL: the pg_trgm index of 0046).

While a company is noted, the index does not answer: a search keeps to the FTS5 index (services.word_index.match),
so the words index is never behind what it answers. Every live company is noted here; the queue's minute task
writes their entries (about 2 minutes at 1,000,000 companies; the search keeps to the FTS5 index meanwhile).

PostgreSQL: nothing (its triggers are 0046's).

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-06 21:00:00

"""

from alembic import op

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None

#: The company's columns the search text is made of (services.search.SEARCHED, frozen here); a word is made of
#: letters, so the customer number (digits only) never gives one.
SEARCHED = ("name", "org_number", "email", "phone", "postal_city", "visit_city", "vat_number")
CHANGED = " OR ".join(f"new.{c} IS NOT old.{c}" for c in SEARCHED) + (
    " OR (new.deleted_at IS NULL) <> (old.deleted_at IS NULL)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE TABLE company_word_pending (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL)")
    op.execute(
        "CREATE TRIGGER company_word_pending_inserted AFTER INSERT ON company "
        "BEGIN INSERT INTO company_word_pending (id) VALUES (new.id); END"
    )
    op.execute(
        f"CREATE TRIGGER company_word_pending_updated AFTER UPDATE ON company WHEN {CHANGED} "
        "BEGIN INSERT INTO company_word_pending (id) VALUES (new.id); END"
    )
    op.execute(
        "CREATE TRIGGER company_word_pending_deleted AFTER DELETE ON company "
        "BEGIN INSERT INTO company_word_pending (id) VALUES (old.id); END"
    )
    op.execute(
        "CREATE VIRTUAL TABLE company_word_search USING fts5(word, content='company_word', content_rowid='id', "
        "tokenize='trigram')"
    )
    op.execute(
        "CREATE TRIGGER company_word_search_inserted AFTER INSERT ON company_word "
        "BEGIN INSERT INTO company_word_search (rowid, word) VALUES (new.id, new.word); END"
    )
    op.execute(
        "CREATE TRIGGER company_word_search_deleted AFTER DELETE ON company_word BEGIN "
        "INSERT INTO company_word_search (company_word_search, rowid, word) VALUES ('delete', old.id, old.word); END"
    )
    op.execute("INSERT INTO company_word_search (company_word_search) VALUES ('rebuild')")
    op.execute("INSERT INTO company_word_pending (id) SELECT id FROM company WHERE deleted_at IS NULL ORDER BY id")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in (
        "company_word_pending_inserted",
        "company_word_pending_updated",
        "company_word_pending_deleted",
        "company_word_search_inserted",
        "company_word_search_deleted",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS company_word_search")
    op.execute("DROP TABLE IF EXISTS company_word_pending")
    op.execute("DELETE FROM company_word_entry")
    op.execute("DELETE FROM company_word")
