"""Formula injection (CSV/XLSX injection), the rule in one place: a text cell a spreadsheet would read as a
formula gets a leading apostrophe on export (services.export), and an import reads it back without it
(services.importing.fields). No Flask here: an import's parsing processes load it."""

#: First characters that make a spreadsheet read a text cell as a formula (OWASP).
DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(DANGEROUS_PREFIXES) else text


def unneutralise(text: str) -> str:
    """The text `neutralise` was given: an import of an exported file reads back what was exported."""
    return text[1:] if text[:1] == "'" and text[1:].startswith(DANGEROUS_PREFIXES) else text
