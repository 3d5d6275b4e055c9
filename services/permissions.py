"""The one map of roles to permission strings `<area>.<verb>`."""

from flask_babel import lazy_gettext as _l

from models import Employee

#: Not a permission: any logged-in, active employee (the start page, one's own saved searches).
LOGGED_IN = "logged-in"

#: Every permission the product knows, with a Swedish-translated description.
PERMISSIONS: dict[str, object] = {
    "company.view": _l("View companies and suppliers"),
    "company.create": _l("Create companies"),
    "company.edit": _l("Edit companies"),
    "company.delete": _l("Delete companies (to the trash)"),
    "company.restore": _l("Restore deleted customers"),
    "company.purge": _l("Permanently delete customers from the trash"),
    "company.export": _l("Export companies"),
    "contact.view": _l("View contacts and private customers"),
    "contact.create": _l("Create contacts"),
    "contact.edit": _l("Edit contacts"),
    "contact.delete": _l("Delete contacts (to the trash)"),
    "contact.export": _l("Export contacts"),
    "employee.view": _l("View employees"),
    "employee.manage": _l("Manage employees, groups and roles"),
    "security.manage": _l("Manage login security: two-factor requirement, locked logins, other employees' sessions"),
    "settings.manage": _l("Manage CRM settings (categories, industries, sales stages, custom fields)"),
    "opportunity.view": _l("View sales opportunities"),
    "opportunity.create": _l("Create sales opportunities"),
    "opportunity.edit": _l("Edit sales opportunities"),
    "opportunity.delete": _l("Delete sales opportunities"),
    "opportunity.export": _l("Export sales opportunities"),
    "lead.view": _l("View leads"),
    "lead.create": _l("Create leads"),
    "lead.edit": _l("Edit leads"),
    "lead.delete": _l("Delete leads (to the trash)"),
    "lead.restore": _l("Restore deleted leads"),
    "lead.purge": _l("Permanently delete leads from the trash"),
    "lead.export": _l("Export leads"),
    "lead.convert": _l("Convert leads to customers"),
    "calllist.view": _l("View call lists"),
    "calllist.create": _l("Create call lists"),
    "calllist.edit": _l("Work and edit call lists"),
    "calllist.delete": _l("Delete call lists"),
    "calllist.export": _l("Export call lists"),
    "email.lock": _l("Lock and unlock the E-mail tab of a customer"),
    "email.view_locked": _l("Read e-mail on customers whose E-mail tab is locked"),
    "email.send": _l("Send e-mail from the customer card"),
    "sms.send": _l("Send SMS from the customer card"),
    "message.bulk": _l("Send e-mail and SMS to many at once from the lists (Massutskick)"),
    "file.upload": _l("Upload files to a customer's file area"),
    "file.delete": _l("Delete files from a customer's file area"),
    "activity.edit": _l("Create and complete activities"),
    "tab.overview": _l("Customer card: Overview"),
    "tab.contacts": _l("Customer card: Contacts"),
    "tab.activities": _l("Customer card: Activities"),
    "tab.email": _l("Customer card: E-mail"),
    "tab.files": _l("Customer card: Files"),
    "tab.projects": _l("Customer card: Projects"),
    "tab.settings": _l("Customer card: Settings"),
    "tab.history": _l("Customer card: History"),
    "tab.opportunities": _l("Customer card: Sales opportunities"),
    "tab.invoices": _l("Customer card: Orders and invoices"),
    "tab.custom": _l("Customer card: custom tabs"),
    "product.view": _l("View products"),
    "product.manage": _l("Create and edit products"),
    "order.view": _l("View orders"),
    "order.create": _l("Create orders"),
    "order.edit": _l("Edit and confirm orders, convert them to invoices"),
    "invoice.view": _l("View invoices"),
    "invoice.create": _l("Create and edit draft invoices"),
    "invoice.send": _l("Send, credit, cancel and mark invoices as paid"),
    "invoice.export": _l("Export invoices and invoice reports"),
    "report.view": _l("Use reports and the report generator"),
    "report.export": _l("Export reports"),
    "saved.share": _l("Share saved reports and saved searches with every colleague"),
    "registry.lookup": _l("Look up companies in the company register"),
    "import.run": _l("Import customers, contacts and leads"),
    "import.undo": _l("Undo an import"),
    "duplicate.merge": _l("Merge duplicate customers and contacts, mark pairs as not duplicates, undo merges"),
    "integration.manage": _l("Manage integrations: API keys and webhooks"),
    "privacy.extract": _l("Data protection: produce register extracts of a person (GDPR)"),
    "privacy.erase": _l("Data protection: erase and anonymise a person (GDPR, cannot be undone)"),
    "privacy.retention": _l("Data protection: retention rules (Gallring); setting and running them needs «erase» too"),
}

# --- data protection: personnummer and consent (issue 20) ---------------------------------
PERMISSIONS |= {
    "privacy.personnummer": _l("Show personal identity numbers in full (otherwise YYYYMMDD-XXXX)"),
}

_ALL_TABS = {p for p in PERMISSIONS if p.startswith("tab.")}

_SELLER = {
    "registry.lookup",
    "company.view",
    "company.create",
    "company.edit",
    "company.delete",
    "company.export",
    "contact.view",
    "contact.create",
    "contact.edit",
    "contact.delete",
    "contact.export",
    "employee.view",
    "file.upload",
    "file.delete",
    "activity.edit",
    "email.send",
    "sms.send",
    "message.bulk",
    "opportunity.view",
    "opportunity.create",
    "opportunity.edit",
    "opportunity.delete",
    "opportunity.export",
    "lead.view",
    "lead.create",
    "lead.edit",
    "lead.delete",
    "lead.export",
    "lead.convert",
    "calllist.view",
    "calllist.create",
    "calllist.edit",
    "calllist.delete",
    "calllist.export",
    "product.view",
    "order.view",
    "order.create",
    "order.edit",
    "invoice.view",
    "invoice.create",
    "report.view",
    "report.export",
    "saved.share",
} | _ALL_TABS
_FINANCE = {
    "registry.lookup",
    "company.view",
    "company.edit",
    "company.export",
    "contact.view",
    "contact.edit",
    "contact.export",
    "employee.view",
    "file.upload",
    "activity.edit",
    "email.send",
    "sms.send",
    "opportunity.view",
    "opportunity.export",
    "lead.view",
    "calllist.view",
    "product.view",
    "product.manage",
    "order.view",
    "order.create",
    "order.edit",
    "invoice.view",
    "invoice.create",
    "invoice.send",
    "invoice.export",
    "report.view",
    "report.export",
    # Ekonomi invoices private customers and answers their questions about them: it reads personnummer.
    "privacy.personnummer",
} | _ALL_TABS
_READONLY = {
    "company.view",
    "contact.view",
    "employee.view",
    "tab.overview",
    "tab.contacts",
    "tab.activities",
    "tab.projects",
    "tab.history",
    "opportunity.view",
    "tab.opportunities",
    "lead.view",
    "calllist.view",
    "tab.invoices",
    "tab.custom",
    "product.view",
    "order.view",
    "invoice.view",
    "report.view",
}

#: Role key → (Swedish-translated name, permissions).
ROLES: dict[str, tuple[object, frozenset[str]]] = {
    "admin": (_l("Administrator"), frozenset(PERMISSIONS)),
    "seller": (_l("Seller"), frozenset(_SELLER)),
    "finance": (_l("Finance"), frozenset(_FINANCE)),
    "readonly": (_l("Read only"), frozenset(_READONLY)),
}


def role_has_permission(role: str, permission: str) -> bool:
    """True when `role` grants `permission`; unknown roles and permissions grant nothing."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return permission in ROLES.get(role, (None, frozenset()))[1]


def employee_permissions(employee) -> frozenset[str]:
    """What the employee may do: the role's permissions, plus grants, minus revocations."""
    if not employee.active:
        return frozenset()
    granted = ROLES.get(employee.role, (None, frozenset()))[1]
    extra = {p for p in employee.extra_permissions or () if p in PERMISSIONS}
    return frozenset((granted | extra) - set(employee.revoked_permissions or ()))


def employee_has_permission(employee, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return permission in employee_permissions(employee)


def role_choices() -> list[tuple[str, str]]:
    return [(key, str(label)) for key, (label, _) in ROLES.items()]


def set_overrides(actor, employee, *, grant: set[str], revoke: set[str]) -> None:
    """An administrator grants or revokes permissions beyond `employee`'s role."""
    if not actor.has_permission("employee.manage"):
        raise PermissionError("employee.manage")
    unknown = (grant | revoke) - set(PERMISSIONS)
    if unknown:
        raise KeyError(", ".join(sorted(unknown)))
    role = ROLES.get(employee.role, (None, frozenset()))[1]
    employee.extra_permissions = sorted(grant - role - revoke) or None
    employee.revoked_permissions = sorted(revoke & role) or None


Employee.permission_rule = employee_has_permission  # Employee.has_permission asks the rule here
