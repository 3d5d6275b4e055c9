"""Administration – Anställda and Säljgrupper."""

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms import PasswordField, SelectField
from wtforms.validators import Length, Optional

from admin_views import menu
from admin_views.base import (
    LOGGED_IN,
    MODEL_ENDPOINT_VERBS,
    SecureModelView,
    fmt_bool,
    fmt_choice,
    fmt_email,
    fmt_phone,
    normalised,
    require,
)
from extensions import db
from models import Employee, EmployeeGroup
from services import accounts, custom_fields, layout, permissions, validation
from services.permissions import PERMISSIONS, ROLES, employee_permissions, role_choices

#: Anyone who may see employees may list them; changing them is `employee.manage`.
EMPLOYEE_VERBS = {
    **MODEL_ENDPOINT_VERBS,
    "create_view": "manage",
    "edit_view": "manage",
    "ajax_update": "manage",
    "delete_view": "manage",
    "export": "manage",
}


GROUP_TITLES = {
    "modules": _l("Modules in the menu"),
    "company_tabs": _l("Tabs of the customer card (CRM – Customer management – Company)"),
    "contact_tabs": _l("Tabs of the contact card"),
}


def _may_arrange(employee) -> bool:
    """Employees arrange their own menu and tabs; administrators anyone's."""
    return employee.id == current_user.id or current_user.has_permission("employee.manage")


class EmployeeCardMixin:
    """The employee card with its Behörigheter tab."""

    def layout_groups(self, employee):
        groups = {
            "modules": menu.modules(self.admin),
            **{group: custom_fields.card_tab_items(db.session, group) for group in ("company_tabs", "contact_tabs")},
        }
        return [
            {
                "key": key,
                "title": GROUP_TITLES[key],
                "rows": [
                    {
                        "item": item,
                        "permitted": item.permitted(employee),
                        "hidden": item.key in layout.hidden(employee, key),
                    }
                    for item in layout.all_items(employee, key, items)
                ],
            }
            for key, items in groups.items()
        ]

    @expose("/card/<int:id>")
    @require("employee.view")
    def card(self, id):
        employee = db.session.get(Employee, id) or abort(404)
        role_permissions = ROLES.get(employee.role, (None, frozenset()))[1]
        return self.render(
            "admin/employee_card.html",
            employee=employee,
            may_arrange=_may_arrange(employee),
            groups=self.layout_groups(employee) if _may_arrange(employee) else [],
            permissions=[
                {
                    "key": key,
                    "label": label,
                    "role": key in role_permissions,
                    "state": "grant"
                    if key in (employee.extra_permissions or ())
                    else "revoke"
                    if key in (employee.revoked_permissions or ())
                    else "role",
                    "effective": key in employee_permissions(employee),
                }
                for key, label in PERMISSIONS.items()
            ],
            role_label=ROLES.get(employee.role, (employee.role,))[0],
        )

    @expose("/card/<int:id>/layout", methods=("POST",))
    @require(LOGGED_IN)
    def save_layout(self, id):
        """Save which modules or card tabs the employee shows, and their order."""
        employee = db.session.get(Employee, id) or abort(404)
        if not _may_arrange(employee):
            abort(403)
        group = request.form.get("group")
        if group not in GROUP_TITLES:
            abort(400)
        items = menu.modules(self.admin) if group == "modules" else custom_fields.card_tab_items(db.session, group)
        known = [i.key for i in items]
        shown = set(request.form.getlist("show"))
        layout.save(
            employee,
            group,
            items=items,
            hidden_keys=[k for k in known if k not in shown],
            order_keys=request.form.getlist("order"),
        )
        db.session.commit()
        flash(_("Your choices were saved."), "success")
        return redirect(url_for(".card", id=id) + "#permissions")

    @expose("/card/<int:id>/permissions", methods=("POST",))
    @require("employee.manage")
    def save_permissions(self, id):
        """An administrator grants or revokes permissions beyond the employee's role."""
        employee = db.session.get(Employee, id) or abort(404)
        states = {key: request.form.get(f"perm-{key}", "role") for key in PERMISSIONS}
        permissions.set_overrides(
            current_user,
            employee,
            grant={k for k, v in states.items() if v == "grant"},
            revoke={k for k, v in states.items() if v == "revoke"},
        )
        db.session.commit()
        flash(_("The permissions of %(name)s were saved.", name=employee.name), "success")
        return redirect(url_for(".card", id=id) + "#permissions")


class PasswordSetField(PasswordField):
    """Sets a new password (hashed) when filled in; empty keeps the old one."""

    def populate_obj(self, obj, name):
        if self.data:
            accounts.set_password(obj, self.data)


class EmployeeView(EmployeeCardMixin, SecureModelView):
    """Anställda: the employees, who are also the users. Never deleted: deactivated."""

    permission_area = "employee"
    endpoint_verbs = EMPLOYEE_VERBS
    create_label = _l("New employee")
    column_list = ["name", "email", "phone", "title", "role", "groups", "active"]
    column_default_sort = "name"
    column_sortable_list = ["name", "email"]  # indexed (models.KEYSET_INDEXES, unique e-mail)
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
        "name": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(url_for("employee.card", id=m.id), m.name),
        "role": lambda v, c, m, n: str(ROLES.get(m.role, (m.role,))[0]),
        "active": fmt_bool,
        "email": fmt_email,
        "phone": fmt_phone,
    }
    column_formatters_export = {"role": lambda v, c, m, n: str(ROLES.get(m.role, (m.role,))[0])}
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
        form_class.role = SelectField(self.column_labels["role"], choices=role_choices, default="readonly")
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
    column_default_sort = "name"
    column_sortable_list = ["name"]  # unique, so indexed
    column_labels = {"name": _l("Name"), "kind": _l("Type"), "members": _l("Members")}
    column_formatters = {"kind": fmt_choice(EmployeeGroup.KINDS)}
    column_formatters_export = column_formatters
    form_columns = ["name", "kind", "members"]
    form_choices = {"kind": list(EmployeeGroup.KINDS.items())}
