"""Migrations on a register that already holds data (the test database is migrated from empty)."""

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from app import create_app
from extensions import db
from models import Company, CompanyContact, Contact


def test_upgrading_an_sqlite_register_keeps_every_link_to_an_altered_table(tmp_path, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite alters a table by copying it; PostgreSQL alters it in place")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite'}",
            "INSTANCE_DIR": str(tmp_path),
        }
    )
    with app.app_context():
        upgrade(revision="0009")  # before 0010 rebuilds the company table
        # The company as 0009 knows it: only its columns (models.py has columns added since).
        company_id = db.session.execute(
            Company.__table__.insert().values(name="Kvarvarande AB", customer_number=1, version=1)
        ).inserted_primary_key[0]
        # The contact as 0009 knows it too (0026 added the consent columns).
        contact_id = db.session.execute(
            text(
                "INSERT INTO contact (first_name, last_name, version, invoice_language, discount_percent,"
                " payment_terms_days, currency, created_at, updated_at)"
                " VALUES ('Åsa', 'Öberg', 1, 'sv', 0, 30, 'SEK', '2026-01-01', '2026-01-01')"
            )
        ).lastrowid
        # written as 0009's tables take it, past the ORM's guards, which ask today's tables (services.privacy)
        db.session.execute(CompanyContact.__table__.insert().values(company_id=company_id, contact_id=contact_id))
        db.session.commit()
        upgrade()
        assert db.session.scalar(select(func.count()).select_from(CompanyContact)) == 1
        assert db.session.scalar(select(Company.name)) == "Kvarvarande AB"
        # The people already in the register are kept under berättigat intresse, no consent recorded.
        assert db.session.execute(select(Contact.lawful_basis, Contact.consent_email)).one() == (
            "legitimate_interest",
            None,
        )
        db.session.remove()


# --- the chain and the models ------------------------------------------------------------------


def test_migration_files_are_in_chain_order():
    """Reading the versions folder in file order is reading the upgrade chain: each file's number
    is its revision and the one before it is its down_revision."""
    from pathlib import Path

    from alembic.script import ScriptDirectory

    folder = Path(__file__).resolve().parents[1] / "migrations"
    scripts = ScriptDirectory(str(folder))
    chain = list(reversed(list(scripts.walk_revisions())))
    files = sorted(p.name for p in (folder / "versions").glob("*.py"))
    assert [Path(s.path).name for s in chain] == files
    for script, file in zip(chain, files, strict=True):
        assert file.startswith(f"{script.revision}_"), file
    assert [s.down_revision for s in chain] == [None] + [s.revision for s in chain[:-1]]


def test_the_migrated_schema_is_the_models_schema(app):
    """The database the migrations build has exactly the tables, columns, types, indexes and
    constraints of models.py (Alembic's autogenerate comparison finds nothing to add)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": not_a_search_index_object}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def _searched():
    from services.search import SEARCHED

    return SEARCHED


def search_index_objects() -> set[str]:
    """The quick-search index of migration 0011 (services.search), which models.py cannot express:
    on SQLite the FTS5 tables `<table>_search` and the shadow tables FTS5 keeps beside each
    (`_data`, `_idx`, `_config`; contentless, without column sizes: no `_content` or `_docsize`);
    on PostgreSQL the pg_trgm GIN index on an expression `ix_<table>_search` and the
    `text_pattern_ops` expression indexes `ix_<table>_<column>_prefix`; on SQLite the table
    `search_deferred` of migration 0035 (its views `<table>_search_words` are not compared); the words index's
    trigram index on its words (PostgreSQL: migration 0046; SQLite: an FTS5 table with its shadow tables, 0047) and
    SQLite's notes of companies whose words are not written yet (0047)."""
    names = set()
    for model, spec in _searched().items():
        table = model.__tablename__
        names |= {f"{table}_search{shadow}" for shadow in ("", "_data", "_idx", "_config")}
        names.add(f"ix_{table}_search")
        names |= {f"ix_{table}_{column}_prefix" for column in spec.prefix}
    words = {f"company_word_search{shadow}" for shadow in ("", "_data", "_idx", "_config", "_docsize")}
    words |= {"ix_company_word_trgm", "company_word_pending"}
    return names | words | {"search_deferred"} | registry_index_objects() | picker_key_objects()


def picker_key_objects() -> set[str]:
    """Migration 0038's btree of each picked table's folded name (services.search.PICKED): on PostgreSQL an
    index on an expression, on SQLite an index on the column `<name>_key` its triggers keep."""
    from services.search import PICKED

    return {f"ix_{model.__tablename__}_{name}_key" for model, name in PICKED.items()}


def registry_index_objects() -> set[str]:
    """The company register's indexes models.py cannot express (services.registry_loader)."""
    from services.registry_loader import index_objects

    return index_objects()


def not_a_search_index_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object: leave out the search index objects, by name, only as reflected
    from the database (a model of the same name would still be compared), and on PostgreSQL the
    stored `search_text` column of each searched table (migration 0024); and an index models.py declares for
    the other database only (`ddl_if`: SQLite's NOCASE e-mail indexes, PostgreSQL's lower() ones), which
    Alembic's comparison does not heed."""
    when = getattr(obj, "_ddl_if", None)
    if type_ == "index" and not reflected and when is not None and when.dialect is not None:
        dialects = (when.dialect,) if isinstance(when.dialect, str) else tuple(when.dialect)
        if db.engine.dialect.name not in dialects:
            return False
    if reflected and compare_to is None and type_ == "column" and name == "search_text":
        return obj.table.name not in {model.__tablename__ for model in _searched()}
    if reflected and compare_to is None and type_ == "column" and name.endswith("_key"):
        from services.search import PICKED

        return (obj.table.name, name) not in {(m.__tablename__, f"{n}_key") for m, n in PICKED.items()}
    return not (reflected and compare_to is None and name in search_index_objects())


def test_the_search_index_objects_exist_where_the_comparison_leaves_them_out(app):
    """The names left out above are the ones the migration made (a renamed object is not silently skipped)."""
    from sqlalchemy import inspect

    inspector = inspect(db.engine)
    if db.engine.dialect.name == "postgresql":
        found = {index["name"] for table in inspector.get_table_names() for index in inspector.get_indexes(table)}
    else:
        found = set(inspector.get_table_names())
    expected = {
        name
        for name in search_index_objects() - registry_index_objects()
        if name.startswith("ix_") == (db.engine.dialect.name == "postgresql")
    }
    assert expected <= found
