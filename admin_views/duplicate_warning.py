"""The duplicate warning of the new-company, new-contact and new-lead forms (services.duplicates.check).

A new record that looks like one already in the register is not saved at once: the form comes back
with the likely duplicates linked and a box "Spara ändå"; ticked, the record is saved. A new contact
that matches an employee says so (FAQ: "Anställd eller kontakt").
"""

from flask import flash, request
from flask_admin.form import rules
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import BooleanField

from admin_views.records import record_url
from extensions import db
from services import duplicates


class SaveAnywayField(BooleanField):
    """ "Spara ändå": the employee has seen the likely duplicates; not a column."""

    def populate_obj(self, obj, name):
        pass


class OptionalField(rules.BaseRule):
    """A form rule rendering a field only when the form has it (the box appears after a warning)."""

    def __init__(self, field_name: str):
        super().__init__()
        self.field_name = field_name

    @property
    def visible_fields(self):
        return [self.field_name]

    def __call__(self, form, form_opts=None, field_args=None):
        if self.field_name not in form:
            return ""
        field = form[self.field_name]
        return Markup('<div class="form-check mb-3 alert alert-warning">{} {}</div>').format(
            field(class_="form-check-input"), field.label(class_="form-check-label")
        )


def match_link(match: duplicates.Match) -> Markup:
    url = record_url(match.kind, match.record.id)
    return Markup('<a href="{}" target="_blank" rel="noopener">{}</a> ({})').format(
        url, str(match.record), ", ".join(match.reason_labels)
    )


class DuplicateWarningMixin:
    """For a model view: warn of likely duplicates before a new record is saved."""

    #: The registers a new record is compared with: (kind, function(form) → an unsaved record of that kind).
    duplicate_checks: tuple = ()

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if request.method != "POST":
            del form.save_anyway  # shown only with a warning
        return form

    def get_create_form(self):
        class WithSaveAnyway(super().get_create_form()):
            save_anyway = SaveAnywayField(_l("Save anyway: it is not one of the records above"))

        return WithSaveAnyway

    def validate_form(self, form):
        valid = super().validate_form(form) and self.validate_register_rules(form)
        if "save_anyway" not in form or form.save_anyway.data:
            return valid
        if not valid:
            del form.save_anyway
            return valid
        companies = self.duplicate_companies()
        matches = [
            m
            for kind, make in self.duplicate_checks
            for m in duplicates.check(db.session, kind, make(form), companies=companies if kind == "contact" else ())
        ]
        if not matches:
            del form.save_anyway
            return valid
        flash(
            Markup("{} <ul class='mb-0'>{}</ul>").format(
                _("This may already be in the register. Open the record to check, or tick Save anyway."),
                Markup("").join(Markup("<li>{}</li>").format(match_link(m)) for m in matches[:10]),
            ),
            "warning",
        )
        return False

    def validate_register_rules(self, form) -> bool:
        """The register's hard rules (e.g. one company per organisationsnummer), checked before the warning."""
        return True

    def duplicate_companies(self) -> list[int]:
        """The companies the new record is made for (a new contact from a company card)."""
        return []


def form_values(form, *names: str) -> dict:
    """The posted values of the form's fields `names` (those it has)."""
    return {name: form[name].data for name in names if name in form}
