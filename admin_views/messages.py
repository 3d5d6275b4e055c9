"""Our own wording for the messages Flask-Admin flashes itself ("Record was successfully saved."):
its Swedish catalogue cannot be overridden, so each of its messages is replaced, as it is flashed,
by ours (naming the record where the view told us which)."""

import re

from flask import g, session
from flask.signals import message_flashed
from flask_admin.babel import gettext as admin_gettext
from flask_admin.babel import ngettext as admin_ngettext
from flask_admin.helpers import get_current_view
from flask_babel import gettext as _
from flask_babel import ngettext

DELETED = ("Record was successfully deleted.", "%(count)s records were successfully deleted.")


def _ours(message: str) -> str | None:
    """Our text for one of Flask-Admin's messages (as it flashed it, translated), else None."""
    name = g.get("saved_record_name")
    if message == admin_gettext("Record was successfully created."):
        return _("%(name)s was created.", name=name) if name else _("The record was created.")
    if message == admin_gettext("Record was successfully saved."):
        return _("%(name)s was saved.", name=name) if name else _("The changes were saved.")
    if message == admin_gettext("Failed to save record."):
        return _("The changes could not be saved: see the messages at the fields.")
    if message == admin_gettext("Record does not exist."):
        return _("The record does not exist (it may have been deleted).")
    if message == admin_gettext("Permission denied."):
        return _("You do not have permission to do that.")
    if message == admin_ngettext(*DELETED, 1, count=1):
        return ngettext("%(num)s record was deleted.", "%(num)s records were deleted.", 1)
    many = re.fullmatch(re.escape(admin_ngettext(*DELETED, 2, count="\0")).replace("\0", r"(\d+)"), message)
    if many:
        count = int(many[1])
        return ngettext("%(num)s record was deleted.", "%(num)s records were deleted.", count)
    return None


def replace_flask_admin_message(sender, message, category, **extra) -> None:
    """The `message_flashed` signal: swap the message just flashed for ours."""
    if get_current_view() is None:
        # Not a Flask-Admin view: not its message. (Its catalogue is cached per locale for the whole
        # process, and read outside a view it would be cached without our gaps, translations/…/admin.po.)
        return
    ours = _ours(str(message))
    if ours is None:
        return
    flashes = session.get("_flashes", [])
    if flashes and flashes[-1] == (category, message):
        flashes[-1] = (category, ours)
        session["_flashes"] = flashes


def init_app(app) -> None:
    message_flashed.connect(replace_flask_admin_message, app)
