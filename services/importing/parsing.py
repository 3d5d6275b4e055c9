"""A parsing process's entry point (`python -m services.importing.parsing`), started by services.importing.parallel.

It reads from stdin, as pickles: the parent's sys.path, the locale and the
translation directories; then the row parser; then batches until the end of
the input; for each batch it writes ("ok", parsed rows) or ("error",
exception) to stdout. It imports only what parsing needs: no Flask (messages
are translated through services.i18n's own catalogue) and nothing of
multiprocessing (no resource tracker).
"""

from __future__ import annotations

import pickle
import sys


def main() -> None:
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the stream of results
    path, locale, directories = pickle.load(source)
    sys.path[:] = list(dict.fromkeys([*path, *sys.path]))  # the parser's classes import as in the parent
    from services import i18n

    i18n.use_catalog(locale, directories)  # before the validation code binds its gettext
    parser = pickle.load(source)
    while True:
        try:
            batch = pickle.load(source)
        except EOFError:  # the importing process is done (or gone)
            return
        try:
            result: tuple = ("ok", parser.parse_batch(batch))
        except Exception as exc:  # handed to the importing process, which raises it there
            result = ("error", exc)
        try:
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an exception that does not pickle: its text
            data = pickle.dumps(("error", RuntimeError(repr(result[1]))))
        sink.write(data)
        sink.flush()


if __name__ == "__main__":
    main()
