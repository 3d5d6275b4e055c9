"""Where a `next` or `url` parameter may send the browser: only to a path on this site.

One rule for every redirect target a request names (the login's and the language
form's `next`, the pipeline board's `next`, Flask-Admin's `url`). A target is followed
only when it is a path of this site: it starts with one `/`, has no scheme and no host,
no backslash and no control character or white space (browsers drop a tab or line break
inside a URL, so `/\\t/evil.example` becomes `//evil.example`), and is still such a path
once percent-decoded. Anything else is replaced by the fallback (or refused with 400
where Flask-Admin would read it itself).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from flask import redirect, request
from flask_babel import gettext as _

from admin_views.params import BadParameter

#: Control characters, white space (also Unicode's) and the backslash: never in a target we follow.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\xa0\\\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f\u3000\ufeff]")


def _is_local_path(target: str) -> bool:
    if not target.startswith("/") or target.startswith("//") or _FORBIDDEN.search(target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_target(target: str | None) -> str | None:
    """The target when it is a path on this site (also after percent-decoding it twice), else None."""
    if not target or len(target) > 2000:
        return None
    decoded = target
    for _round in range(3):
        if not _is_local_path(decoded):
            return None
        decoded = unquote(decoded)
    return target


def redirect_to(target: str | None, fallback: str):
    """A redirect to the target when it is safe, else to the fallback (a URL of ours)."""
    return redirect(safe_target(target) or fallback)


def check_return_url(name: str = "url") -> None:
    """Flask-Admin's return address (`?url=`, or a form's `url`): 400 when it leads off this site."""
    target = request.values.get(name)
    if target and safe_target(target) is None:
        raise BadParameter(_("The return address leads to another site and is not followed."))
