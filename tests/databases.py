"""Test databases on the PostgreSQL server of CRM_TEST_DATABASE_URL: one of their own for each
pytest-xdist worker and for the browser tests' server, so parallel runs never share tables."""

import os

from sqlalchemy.engine import make_url


def worker_suffix() -> str:
    """`_gw0`, `_gw1` … under pytest-xdist, else empty."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"_{worker}" if worker else ""


def fresh_postgres_database(base_url: str, suffix: str):
    """A new, empty database `<name><suffix>` beside the one in `base_url`.

    Returns (SQLAlchemy URL of the new database, function that drops it)."""
    import psycopg

    url = make_url(base_url)
    name = f"{url.database or 'crm'}{suffix}"
    maintenance = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    def run(sql: str) -> None:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(sql)

    def drop() -> None:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    run(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False), drop
