"""Administration – Anställda and Säljgrupper."""

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import inspect as sa_inspect
from wtforms import PasswordField, SelectField, ValidationError
from wtforms.validators import Optional

import auth
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
from models import AuditEvent, Employee, EmployeeGroup, utcnow
from services import (
    accounts,
    custom_fields,
    employees,
    fields,
    layout,
    login_sessions,
    passwords,
    permissions,
    two_factor,
    validation,
)
from services.permissions import PERMISSIONS, ROLES, employee_permissions, role_choices

#: Audit events shown under Inloggning och säkerhet on the employee card.
SECURITY_EVENTS = (
    "login",
    "login_failed",
    "lockout",
    "unlock",
    "sessions_ended",
    "password_changed",
    "two_factor_enabled",
    "two_factor_disabled",
    "two_factor_reset",
    "recovery_code_used",
)

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
            security=self.security_state(employee) if current_user.has_permission("security.manage") else None,
        )

    def security_state(self, employee):
        """What an administrator sees of an employee's login: sessions, two-factor login, lock, events."""
        now = utcnow()
        return {
            "sessions": login_sessions.active(db.session, employee, now=now, lifetimes=auth.lifetimes()),
            "current_session_id": auth.current_login_session_id(),
            "locked_until": auth.throttle().account_locked_until(employee.email, now),
            "required": two_factor.is_required(db.session, employee),
            "codes_left": two_factor.recovery_codes_left(db.session, employee),
            "events": db.session.scalars(
                db.select(AuditEvent)
                .where(
                    AuditEvent.entity_type == "employee",
                    AuditEvent.entity_id == employee.id,
                    AuditEvent.action.in_(SECURITY_EVENTS),
                )
                .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                .limit(20)
            ).all(),
        }

    @expose("/card/<int:id>/sessions/end", methods=("POST",))
    @require("security.manage")
    def end_sessions(self, id):
        """An administrator logs the employee out everywhere (their own current session stays)."""
        employee = db.session.get(Employee, id) or abort(404)
        ended = login_sessions.end_all(
            db.session,
            employee,
            now=utcnow(),
            reason="ended_by_admin",
            actor_id=current_user.id,
            keep_id=auth.current_login_session_id(),
        )
        db.session.commit()
        flash(_("%(n)s sessions of %(name)s were ended.", n=ended, name=employee.name), "success")
        return redirect(url_for(".card", id=id) + "#security")

    @expose("/card/<int:id>/two-factor/reset", methods=("POST",))
    @require("security.manage")
    def reset_two_factor(self, id):
        """An administrator switches the employee's two-factor login off (a lost phone); sessions end."""
        employee = db.session.get(Employee, id) or abort(404)
        two_factor.disable(db.session, employee, actor_id=current_user.id, action="two_factor_reset")
        login_sessions.end_all(
            db.session,
            employee,
            now=utcnow(),
            reason="two_factor_reset",
            actor_id=current_user.id,
            keep_id=auth.current_login_session_id(),
        )
        db.session.commit()
        flash(_("Two-factor login of %(name)s was reset.", name=employee.name), "success")
        return redirect(url_for(".card", id=id) + "#security")

    @expose("/card/<int:id>/unlock", methods=("POST",))
    @require("security.manage")
    def unlock(self, id):
        """An administrator lifts a lock after too many failed logins."""
        employee = db.session.get(Employee, id) or abort(404)
        accounts.unlock(db.session, employee, throttle=auth.throttle(), actor=current_user)
        db.session.commit()
        flash(_("The login of %(name)s was unlocked.", name=employee.name), "success")
        return redirect(url_for(".card", id=id) + "#security")

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
        try:
            employees.check_an_administrator_remains(db.session, employee)
        except employees.LastAdministrator as refused:
            db.session.rollback()
            flash(str(refused), "error")
            return redirect(url_for(".card", id=id) + "#permissions")
        db.session.commit()
        flash(_("The permissions of %(name)s were saved.", name=employee.name), "success")
        return redirect(url_for(".card", id=id) + "#permissions")


class PasswordSetField(PasswordField):
    """Sets a new password (hashed) when filled in; empty keeps the old one. The password policy
    (services.passwords) is checked against the name and e-mail typed in the same form."""

    def pre_validate(self, form):
        if self.data:
            candidate = Employee(name=form.name.data or "", email=form.email.data or "")
            try:
                accounts.check_new_password(candidate, self.data)
            except passwords.WeakPassword as exc:
                raise ValidationError(str(exc)) from None

    def populate_obj(self, obj, name):
        if self.data:
            accounts.set_password(obj, self.data)


#: Changes to an employee that end the employee's other login sessions, and the reason recorded.
SESSION_ENDING_CHANGES = (("password_hash", "password_changed"), ("role", "role_changed"), ("active", "deactivated"))


def end_sessions_after_change(employee: Employee) -> None:
    """A new password, another role or a deactivation ends the employee's sessions (the editor's own
    stays when the employee edits themself). Called before the form's commit."""
    state = sa_inspect(employee)
    for attribute, reason in SESSION_ENDING_CHANGES:
        history = state.attrs[attribute].history
        if not history.has_changes() or (attribute == "active" and employee.active):
            continue
        if attribute == "password_hash":
            db.session.add(
                AuditEvent(
                    actor_id=current_user.id,
                    entity_type="employee",
                    entity_id=employee.id,
                    entity_label=str(employee)[:200],
                    action="password_changed",
                    changes={},
                )
            )
        login_sessions.end_all(
            db.session,
            employee,
            now=utcnow(),
            reason=reason,
            actor_id=current_user.id,
            keep_id=auth.current_login_session_id(),
        )


class EmployeeView(EmployeeCardMixin, SecureModelView):
    """Anställda: the employees, who are also the users. Never deleted: deactivated."""

    permission_area = "employee"
    endpoint_verbs = EMPLOYEE_VERBS
    create_label = _l("New employee")
    column_list = ["name", "email", "phone", "title", "role", "groups", "active"]
    column_default_sort = "name"
    column_sortable_list = ["name", "email"]  # indexed (models.KEYSET_INDEXES, unique e-mail)
    column_labels = {
        "name": fields.label("name"),
        "email": fields.label("email"),
        "phone": fields.label("phone"),
        "title": fields.label("title"),
        "role": fields.label("role"),
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
            validators=[Optional()],
            description=_l("At least %(n)s characters; not a common password.", n=passwords.MIN_LENGTH),
        )
        return form_class

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        if not is_created:
            employees.check_an_administrator_remains(db.session, model)
            end_sessions_after_change(model)

    @expose("/delete/", methods=("POST",))
    def delete_view(self):
        """Employees are never deleted (their history, customers and documents name them): a posted
        deletion is refused with the way to do it instead, deactivation."""
        return self._not_deleted()

    @expose("/action/", methods=("POST",))
    def action_view(self):
        """The list's actions; a posted «delete» (not offered) is refused as `delete_view` is, to whoever
        manages employees."""
        if request.form.get("action") == "delete" and current_user.has_permission("employee.manage"):
            return self._not_deleted()
        return super().action_view()

    def _not_deleted(self):
        flash(_("Employees are not deleted, since their history names them: untick Active to deactivate one."), "error")
        return redirect(self.get_url(".index_view"))


class EmployeeGroupView(SecureModelView):
    """Säljgrupper: standard and sales groups of employees."""

    permission_area = "employee"
    endpoint_verbs = EMPLOYEE_VERBS
    create_label = _l("New group")
    column_list = ["name", "kind", "members"]
    column_default_sort = "name"
    column_sortable_list = ["name"]  # unique, so indexed
    column_labels = {"name": fields.label("name"), "kind": fields.label("kind"), "members": _l("Members")}
    column_formatters = {"kind": fmt_choice(EmployeeGroup.KINDS)}
    column_formatters_export = column_formatters
    form_columns = ["name", "kind", "members"]
    form_choices = {"kind": list(EmployeeGroup.KINDS.items())}
