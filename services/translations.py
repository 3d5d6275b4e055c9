"""Compiling and updating the Swedish catalogue with Babel (what `pybabel` does)."""

from pathlib import Path

from babel.messages.frontend import CommandLineInterface

#: The project's folder (this file is services/translations.py).
PROJECT = Path(__file__).resolve().parent.parent
TRANSLATIONS = PROJECT / "translations"
POT = TRANSLATIONS / "messages.pot"


#: Our catalogue, and the gaps we fill in Flask-Admin's own "admin" domain.
DOMAINS = ("messages", "admin")


def compile_catalogs() -> None:
    """Compile translations/*/LC_MESSAGES/{messages,admin}.po into .mo (idempotent)."""
    for domain in DOMAINS:
        CommandLineInterface().run(["pybabel", "-q", "compile", "-D", domain, "-d", str(TRANSLATIONS)])


def extract_and_update() -> None:
    """Re-extract the msgids from the code and templates and merge them into the .po."""
    cli = CommandLineInterface()
    cli.run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(PROJECT / "babel.cfg"),
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(POT),
            "--no-location",
            "--omit-header",
            "--no-wrap",
            str(PROJECT),
        ]
    )
    cli.run(["pybabel", "-q", "update", "-i", str(POT), "-d", str(TRANSLATIONS), "--no-fuzzy-matching", "--no-wrap"])


def catalog_path(locale: str = "sv") -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
