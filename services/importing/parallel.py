"""Parsing an import file's rows in worker processes.

Validating the cells (phonenumbers, email-validator, stdnum: pure Python) is
most of a dry run's cost, and it needs no database. With workers, batches of
rows go to a pool of worker processes while this process reads the file and
does the database work; the parsed batches come back in file order. At most
two batches per worker are in flight, so memory stays flat in the file's size.

The workers are spawned, not forked: the import runs in a thread of a queue
worker, and a fork would copy that process's locks and connections in
whatever state its other threads left them. Each worker sets up the
translations once, so its error messages are in the same language as ours.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from flask import Flask
from flask_babel import Babel, get_locale

from services import translations

#: A file smaller than this is parsed in the importing process: starting workers would cost more than it saves.
MIN_FILE_BYTES = 2 * 1024 * 1024
#: Batches in flight per worker.
QUEUE_PER_WORKER = 2
#: Workers by default at most: the importing process's own database work sets the pace beyond that.
DEFAULT_MAX_WORKERS = 4

_parser: Any = None  # the RowParser of this worker process (set by _start_worker)


def worker_count(configured: int | None, file_size: int | None) -> int:
    """How many worker processes a file of `file_size` bytes gets: `configured`, or one per usable CPU
    but one (the importing process's own database work takes that one; at most DEFAULT_MAX_WORKERS).
    0 means parsing in this process (small files, one CPU, or configured so). One worker still pays:
    it parses the next batches while this process does the database work of the last one."""
    if file_size is not None and file_size < MIN_FILE_BYTES:
        return 0
    if configured is not None:
        return max(configured, 0)
    return min(len(os.sched_getaffinity(0)) - 1, DEFAULT_MAX_WORKERS)


def parsed_batches(parser, batches: Iterable[list], workers: int) -> Iterator[list]:
    """`parser.parse_batch(batch)` for every batch, in order: in worker processes when `workers` > 0."""
    if workers < 1:
        for batch in batches:
            yield parser.parse_batch(batch)
        return
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(parser, str(get_locale()), str(translations.TRANSLATIONS)),
    )
    try:
        pending: deque = deque()
        for batch in batches:
            pending.append(pool.submit(_parse, batch))
            if len(pending) >= workers * QUEUE_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # also when the consumer stops early (a cancel, an all-or-nothing failure)
        pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(parser, locale: str, translation_directories: str) -> None:
    """In a new worker process: the parser, and an app context whose translations are the importing app's
    (Flask-Babel's gettext, which the row parser's messages use, reads its catalogue from an app context)."""
    global _parser
    app = Flask(__name__)
    app.config.update(BABEL_DEFAULT_LOCALE=locale, BABEL_TRANSLATION_DIRECTORIES=translation_directories)
    Babel(app)
    app.app_context().push()
    _parser = parser


def _parse(batch: list) -> list:
    return _parser.parse_batch(batch)
