"""Parsing an import file's rows in worker processes.

Validating the cells (phonenumbers, email-validator, stdnum: pure Python) is
most of a dry run's cost, and it needs no database. With workers, batches of
rows go to parsing processes while this process reads the file and does the
database work; the parsed batches come back in file order. At most two
batches per process are in flight, so memory stays flat in the file's size.

The processes are started afresh, not forked: the import runs in a thread of a
queue worker, and a fork would copy that process's locks and connections in
whatever state its other threads left them. They are plain subprocesses
(`python -m services.importing.parsing`) that read pickled batches on stdin and
write the parsed rows on stdout, not a multiprocessing pool: a spawned pool
started multiprocessing's resource tracker as well (12 MB, for nothing to
track) and imported the worker's `__main__` (Flask's command line) in every
process; with Flask-Babel for the messages a pool's process held 38-41 MB,
this one about 24 (bench/import_bench.py, 100,000 companies). Each process
translates its messages with the importing app's catalogue and locale
(services.i18n), so they read as ours do.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from flask_babel import get_locale

from services import translations

#: The project's folder, which the parsing processes import from.
PROJECT = Path(__file__).resolve().parents[2]

#: A file smaller than this is parsed in the importing process: starting workers would cost more than it saves.
MIN_FILE_BYTES = 2 * 1024 * 1024
#: Pieces of a batch in flight per worker.
QUEUE_PER_WORKER = 2
#: Rows a parsing process is given at a time: a batch of 1,000 rows (PostgreSQL's) in one piece made the
#: process 5 MB larger than SQLite's 250 (bench/import_bench.py, 100,000 companies).
PIECE_ROWS = 250
#: Workers by default at most: the importing process's own database work sets the pace beyond that.
DEFAULT_MAX_WORKERS = 4


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
    """`parser.parse_batch(batch)` for every batch, in order: in parsing processes when `workers` > 0."""
    if workers < 1:
        for batch in batches:
            yield parser.parse_batch(batch)
        return
    processes: list[_Process] = []
    pending: deque[tuple[_Process, bool]] = deque()  # (process, whether its piece ends a batch), in file order
    parsed: list = []
    try:
        processes += [_Process(parser) for _n in range(workers)]
        sent = 0
        for batch in batches:
            pieces = [batch[start : start + PIECE_ROWS] for start in range(0, len(batch), PIECE_ROWS)] or [batch]
            for index, piece in enumerate(pieces):
                process = processes[sent % workers]
                process.send(piece)
                pending.append((process, index == len(pieces) - 1))
                sent += 1
            while len(pending) >= workers * QUEUE_PER_WORKER:
                process, ends = pending.popleft()
                parsed += process.receive()
                if ends:
                    yield parsed
                    parsed = []
        while pending:
            process, ends = pending.popleft()
            parsed += process.receive()
            if ends:
                yield parsed
                parsed = []
    finally:  # also when the consumer stops early (a cancel, an all-or-nothing failure)
        for process in processes:
            process.stop(finished=not pending)


class _Process:
    """One parsing process: batches go to its stdin through a thread of ours (a batch may be larger than the
    pipe holds while the process is writing a result we have not read yet), results come back in order."""

    def __init__(self, parser):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "services.importing.parsing"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        path = [os.path.abspath(p) for p in sys.path]  # "" is this process's folder
        self.inbox.put((path, str(get_locale()), str(translations.TRANSLATIONS)))
        self.inbox.put(parser)
        self.feeder = threading.Thread(target=self._feed, name="import-parsing-feed", daemon=True)
        self.feeder.start()

    def _feed(self) -> None:
        stdin = self.popen.stdin
        assert stdin is not None
        try:
            while (item := self.inbox.get()) is not None:
                pickle.dump(item, stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
        except (BrokenPipeError, ValueError):  # the process is gone (it was stopped, or it died)
            pass
        finally:
            try:
                stdin.close()  # the end of the input: the process exits
            except BrokenPipeError:
                pass

    def send(self, batch: list) -> None:
        self.inbox.put(batch)

    def receive(self) -> list:
        try:
            status, value = pickle.load(self.popen.stdout)  # type: ignore[arg-type]
        except (EOFError, pickle.UnpicklingError) as exc:
            raise RuntimeError(f"an import's parsing process stopped (exit code {self.popen.poll()})") from exc
        if status == "error":
            raise value
        return value

    def stop(self, *, finished: bool) -> None:
        """Let the process end at the end of its input; one whose results are not all wanted is killed."""
        self.inbox.put(None)
        if not finished:
            self.popen.kill()
        self.feeder.join()
        self.popen.wait()
        if self.popen.stdout:
            self.popen.stdout.close()
