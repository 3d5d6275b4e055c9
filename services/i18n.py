"""gettext for the code an import's parsing processes run (cell validation), with or without Flask.

In the web and queue-worker processes these are Flask-Babel's own functions
(the request's or the app's locale). A parsing process
(services.importing.parsing) has no Flask app: it calls `use_catalog` before
it imports the validation code, and the messages come from the same
compiled catalogue through the standard library's gettext. Loading Flask and Flask-Babel there only to
translate took 22 MB of each such process's 40 (issue 14's memory goal).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: This process's own catalogue (gettext.GNUTranslations) when it has no Flask app; None otherwise.
_catalog: Any = None
#: Where it came from (BABEL_TRANSLATION_DIRECTORIES).
_directories = ""


def use_catalog(locale: str, directories: str) -> None:
    """Translate from now on with the "messages" catalogues of `locale` in `directories` (separated by ";",
    as BABEL_TRANSLATION_DIRECTORIES), as Flask-Babel would, without Flask."""
    global _catalog, _directories
    _catalog, _directories = _load(locale, directories), directories


@lru_cache(maxsize=4)
def _load(locale: str, directories: str) -> Any:
    """The catalogues of `locale` in `directories`, the first one's messages first (the standard library's
    gettext reads the .mo files Babel compiles; babel.support would add 6 MB to the process for this)."""
    import gettext as stdlib_gettext

    catalog: Any = stdlib_gettext.NullTranslations()
    found = [
        stdlib_gettext.translation("messages", directory, [locale], fallback=True)
        for directory in directories.split(";")
    ]
    for translations in reversed(found):
        translations.add_fallback(catalog)
        catalog = translations
    return catalog


def gettext(string: str, **variables: Any) -> str:
    if _catalog is None:
        from flask_babel import gettext as flask_gettext

        return flask_gettext(string, **variables)
    text = _catalog.gettext(string)
    return text % variables if variables else text


def lazy_gettext(string: str, **variables: Any) -> Any:
    """Flask-Babel's LazyString; in a process with its own catalogue, an object translated when made a str."""
    if _catalog is None:
        from flask_babel import lazy_gettext as flask_lazy_gettext

        return flask_lazy_gettext(string, **variables)
    return _Lazy(string, variables)


def in_swedish(label: Any) -> str:
    """A label (a lazy string) in Swedish, whatever the current locale."""
    if _catalog is None:
        from flask_babel import force_locale

        with force_locale("sv"):
            return str(label)
    args = getattr(label, "_args", None)
    return _load("sv", _directories).gettext(args[0] if args else str(label))


class _Lazy:
    """A message translated each time it is made a str (what flask_babel.LazyString does, in short)."""

    def __init__(self, string: str, variables: dict):
        self._args, self._variables = (string,), variables

    def __str__(self) -> str:
        return gettext(self._args[0], **self._variables)

    def __repr__(self) -> str:
        return f"lazy_gettext({self._args[0]!r})"
