"""services.write_turns: on SQLite a save about to write leaves a token, and an import's pass gives way to it."""

import os
import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from extensions import db
from models import Category
from services import write_turns


@pytest.fixture
def folder(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single writer only: PostgreSQL locks rows")
    return write_turns._folder(db.session)


def tokens(folder) -> list[str]:
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_a_session_holds_a_token_from_its_first_flush_to_the_end_of_its_transaction(folder, session):
    session.add(Category(name="Första"))
    session.flush()
    assert len(tokens(folder)) == 1
    session.commit()
    assert tokens(folder) == []
    session.add(Category(name="Andra"))
    session.flush()
    assert len(tokens(folder)) == 1
    session.rollback()
    assert tokens(folder) == []


def test_a_session_that_gives_way_itself_leaves_no_token(folder, session):
    session.info[write_turns.NO_TOKEN] = True
    try:
        session.add(Category(name="Import"))
        session.flush()
        assert tokens(folder) == []
    finally:
        session.rollback()
        session.info.pop(write_turns.NO_TOKEN)


def test_an_import_gives_way_until_the_waiting_save_has_written(app, folder, session):
    asked, done = threading.Event(), threading.Event()

    def save():
        with app.app_context(), Session(db.engine) as other:
            other.add(Category(name="Sparad i luckan"))
            other.flush()  # the token, and SQLite's write lock
            asked.set()
            time.sleep(0.15)
            other.commit()
        done.set()

    saver = threading.Thread(target=save)
    saver.start()
    assert asked.wait(10)
    waited = write_turns.give_way(session)
    assert done.is_set() and 0.1 < waited < write_turns.GIVE_WAY_SECONDS
    saver.join()
    assert session.scalar(select(func.count()).select_from(Category)) == 1
    assert write_turns.give_way(session) < 0.05  # nobody waiting: no wait


def test_the_import_waits_a_bounded_time_and_ignores_a_dead_process_token(folder, session, monkeypatch):
    folder.mkdir(exist_ok=True)
    forgotten = folder / "1-1-1"
    forgotten.touch()
    monkeypatch.setattr(write_turns, "GIVE_WAY_SECONDS", 0.1)
    waited = write_turns.give_way(session)
    assert 0.1 <= waited < 1  # a save that takes long does not stop the import
    old = time.time() - write_turns.STALE_SECONDS - 1
    os.utime(forgotten, (old, old))
    assert write_turns.give_way(session) < 0.05
    assert not forgotten.exists()  # a token its process could not remove is cleared


def test_postgresql_needs_no_turns(app, session):
    if db.engine.dialect.name == "sqlite":
        pytest.skip("PostgreSQL only")
    assert write_turns._folder(session) is None
    session.add(Category(name="Radlås"))
    session.flush()
    session.rollback()
    assert write_turns.give_way(session) == 0.0
