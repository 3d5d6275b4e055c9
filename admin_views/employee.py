"""Administration – Anställda and Säljgrupper."""

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField
from wtforms.validators import Length, Optional

from admin_views.base import MODEL_ENDPOINT_VERBS, SecureModelView, fmt_bool, fmt_choice, fmt_email, fmt_phone, normalised
from models import EmployeeGroup
from services import accounts, validation
from services.permissions import ROLES, role_choices

#: Anyone who may see employees may list them; changing them is `employee.manage`.
EMPLOYEE_VERBS = {
    **MODEL_ENDPOINT_VERBS,
    "create_view": "manage",
    "edit_view": "manage",
    "ajax_update": "manage",
    "delete_view": "manage",
    "export": "manage",
}


class PasswordSetField(PasswordField):
    """Sets a new password (hashed) when filled in; empty keeps the old one."""

    def populate_obj(self, obj, name):
        if self.data:
            accounts.set_password(obj, self.data)


class EmployeeView(SecureModelView):
    """Anställda: the employees, who are also the users. Never deleted: deactivated."""

    permission_area = "employee"
    endpoint_verbs = EMPLOYEE_VERBS
    create_label = _l("New employee")
    column_list = ["name", "email", "phone", "title", "role", "groups", "active"]
    column_default_sort = "name"
    column_labels = {
        "name": _l("Name"),
        "email": _l("E-mail"),
        "phone": _l("Phone"),
        "title": _l("Title"),
        "role": _l("Role"),
        "groups": _l("Groups"),
        "active": _l("Active"),
        "locale": _l("Language"),
        "password": _l("New password"),
    }
    column_formatters = {
        "role": lambda v, c, m, n: str(ROLES.get(m.role, (m.role,))[0]),
        "active": fmt_bool,
        "email": fmt_email,
        "phone": fmt_phone,
    }
    form_columns = ["name", "email", "phone", "title", "role", "groups", "active", "locale"]
    form_choices = {"locale": [("sv", _l("Swedish")), ("en", _l("English"))]}
    form_args = {
        "email": {"validators": [normalised(validation.email)]},
        "phone": {"validators": [normalised(validation.phone)]},
    }

    @property
    def can_delete(self):
        return False

    def scaffold_form(self):
        form_class = super().scaffold_form()
        form_class.role = SelectField(self.column_labels["role"], choices=role_choices)
        form_class.password = PasswordSetField(
            self.column_labels["password"],
            validators=[Optional(), Length(min=10, message=_l("The password must be at least 10 characters."))],
        )
        return form_class


class EmployeeGroupView(SecureModelView):
    """Säljgrupper: standard and sales groups of employees."""

    permission_area = "employee"
    endpoint_verbs = EMPLOYEE_VERBS
    create_label = _l("New group")
    column_list = ["name", "kind", "members"]
    column_labels = {"name": _l("Name"), "kind": _l("Type"), "members": _l("Members")}
    column_formatters = {"kind": fmt_choice(EmployeeGroup.KINDS)}
    form_columns = ["name", "kind", "members"]
    form_choices = {"kind": list(EmployeeGroup.KINDS.items())}
