"""Samtycke och rättslig grund on the contact, private customer and lead forms (services.consent)."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from services import consent

#: The form's answer for a consent: not asked, given, declined or withdrawn.
ANSWERS = {None: _l("Not asked"), True: _l("Given"), False: _l("Declined / withdrawn")}
_READ = {"": None, "None": None, "True": True, "False": False}


def _answer(value):
    return _READ.get(value, value) if isinstance(value, str) else value


class ConsentField(SelectField):
    """A channel's consent as a choice of three (a nullable yes/no is not a checkbox)."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.pop("choices", None)
        kwargs.pop("coerce", None)
        kwargs.pop("allow_blank", None)
        super().__init__(label, validators, choices=list(ANSWERS.items()), coerce=_answer, **kwargs)


FIELDS = ["lawful_basis", *(consent.column(channel) for channel in consent.CHANNELS)]
FORM_OVERRIDES = {consent.column(channel): ConsentField for channel in consent.CHANNELS}
FORM_CHOICES = {"lawful_basis": list(consent.BASES.items())}
