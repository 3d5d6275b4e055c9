"""The words index's background task on the queue (services.tasks): SQLite's entries written after the commits."""

from services import tasks, word_index


@tasks.periodic(tasks.crontab(minute="*"))
def catch_up_words() -> None:
    """Once a minute: the entries of companies noted since (an import's batches; a form's save writes its own at
    commit), so the search reads them from the index again (services.word_index.catch_up; nothing on
    PostgreSQL, whose triggers write them)."""
    word_index.catch_up(tasks.session().get_bind().engine)
