"""The one date parser: dates as people type them, in forms, filters, reports and imports."""

import re
from datetime import date, timedelta

from services.i18n import gettext as _
from services.validation import InvalidValue

#: Words for days relative to today, as typed in a form (Swedish, and English for an English user).
RELATIVE_DAYS = {"idag": 0, "i dag": 0, "today": 0, "igår": -1, "i går": -1, "yesterday": -1}
RELATIVE_DAYS |= {"imorgon": 1, "i morgon": 1, "tomorrow": 1}

#: (pattern, order of its groups): ISO, ISO with a time, compact, Swedish with dots.
WRITTEN_DATES = (
    (r"(\d{4})-(\d{1,2})-(\d{1,2})", "ymd"),
    (r"(\d{4})-(\d{1,2})-(\d{1,2})[ T][\d:.]+", "ymd"),
    (r"(\d{4})(\d{2})(\d{2})", "ymd"),
    (r"(\d{1,2})\.(\d{1,2})\.(\d{4})", "dmy"),
)
#: Day/month as Swedes write it (5/12 is 5 December), with or without a year.
DAY_SLASH_MONTH = (
    (r"(\d{1,2})/(\d{1,2})", "dm"),
    (r"(\d{1,2})/(\d{1,2})[ /-](\d{4})", "dmy"),
)


def parse_date(text: str | None, *, today: date | None = None, typed: bool = True) -> date | None:
    """A date from `text`: 2026-12-05, 20261205, 05.12.2026 and, where a person types it (`typed`),
    also 5/12 (this year), 5/12 2026 and idag / igår / imorgon. None for an empty text;
    InvalidValue with a Swedish message for anything else."""
    value = " ".join((text or "").split()).lower()
    if not value:
        return None
    today = today or date.today()
    if typed and value in RELATIVE_DAYS:
        return today + timedelta(days=RELATIVE_DAYS[value])
    for pattern, order in WRITTEN_DATES + (DAY_SLASH_MONTH if typed else ()):
        match = re.fullmatch(pattern, value)
        if match:
            parts = dict(zip(order, map(int, match.groups()), strict=True))
            try:
                return date(parts.get("y", today.year), parts["m"], parts["d"])
            except ValueError:
                break
    if typed:
        raise InvalidValue(_("Not a date; write for example 2026-12-05, 20261205, 5/12 or idag."))
    raise InvalidValue(_("Not a date; write YYYY-MM-DD or DD.MM.YYYY."))
