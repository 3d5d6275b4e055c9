"""Administration – Inställningar – CRM: Kategorier, Branscher and Egna fält."""

from types import SimpleNamespace

from flask import request
from flask_babel import lazy_gettext as _l

from admin_views.base import MODEL_ENDPOINT_VERBS, SecureModelView, fmt_bool, fmt_choice
from extensions import db
from models import Category, CustomFieldDefinition, CustomTab
from services import categories, custom_fields, fields
from services.validation import InvalidValue

#: Settings are read and written by those who manage settings.
SETTINGS_VERBS = {endpoint: "manage" for endpoint in MODEL_ENDPOINT_VERBS}


class CategoryView(SecureModelView):
    """Kategorier for companies, contacts or both."""

    permission_area = "settings"
    endpoint_verbs = SETTINGS_VERBS
    create_label = _l("New category")
    delete_rule = staticmethod(categories.delete_category)
    column_list = ["name", "applies_to", "description"]
    column_editable_list = ["name"]
    column_default_sort = "name"
    column_sortable_list = ["name"]  # unique, so indexed
    column_labels = {
        "name": fields.label("name"),
        "applies_to": _l("Applies to"),
        "description": fields.label("description"),
    }
    column_formatters = {"applies_to": fmt_choice(Category.SCOPES)}
    form_columns = ["name", "applies_to", "description"]
    form_choices = {"applies_to": list(Category.SCOPES.items())}


class IndustryView(SecureModelView):
    """Branscher, with SNI code."""

    permission_area = "settings"
    endpoint_verbs = SETTINGS_VERBS
    create_label = _l("New industry")
    delete_rule = staticmethod(categories.delete_industry)
    column_list = ["name", "sni_code"]
    column_editable_list = ["name"]
    column_default_sort = "name"
    column_sortable_list = ["name"]  # unique, so indexed
    column_labels = {"name": fields.label("name"), "sni_code": fields.label("sni_code")}
    form_columns = ["name", "sni_code"]


class CustomTabView(SecureModelView):
    """Egna flikar: the tabs the custom fields sit on, on the company or the contact card; a tab in use is
    deactivated, not deleted."""

    permission_area = "settings"
    endpoint_verbs = SETTINGS_VERBS
    create_label = _l("New custom tab")
    delete_rule = staticmethod(custom_fields.delete_tab)
    column_list = ["sort_order", "name", "applies_to", "active"]
    column_default_sort = [("applies_to", False), ("sort_order", False), ("id", False)]
    column_sortable_list: list = []  # a handful of rows in their own order
    column_labels = {
        "sort_order": _l("Order"),
        "name": fields.label("name"),
        "applies_to": _l("Card"),
        "active": _l("Active"),
    }
    column_formatters = {"applies_to": fmt_choice(CustomTab.KINDS), "active": fmt_bool}
    form_columns = ["name", "applies_to", "sort_order", "active"]
    form_choices = {"applies_to": list(CustomTab.KINDS.items())}
    form_args = {"name": {"description": _l("Shown as a tab of the customer card, e.g. Agreement.")}}

    def search_placeholder(self) -> str:
        return ""  # a handful of rows: no quick search

    def on_model_change(self, form, model, is_created):
        custom_fields.check_tab(db.session, model)


class CustomFieldView(SecureModelView):
    """Egna fält: the fields of the custom tabs; a field holding values is deactivated, not deleted."""

    permission_area = "settings"
    endpoint_verbs = SETTINGS_VERBS
    create_label = _l("New custom field")
    delete_rule = staticmethod(custom_fields.delete_field)
    column_list = ["tab", "sort_order", "label", "field_type", "choices", "required", "active"]
    column_default_sort = [("tab_id", False), ("sort_order", False), ("id", False)]
    column_sortable_list: list = []  # a handful of rows in their own order
    column_select_related_list = [CustomFieldDefinition.tab]
    column_labels = {
        "tab": _l("Tab"),
        "sort_order": _l("Order"),
        "label": _l("Label"),
        "field_type": _l("Type"),
        "choices": _l("Choices"),
        "required": _l("Required"),
        "active": _l("Active"),
    }
    column_formatters = {
        "field_type": fmt_choice(CustomFieldDefinition.TYPES),
        "required": fmt_bool,
        "active": fmt_bool,
        "choices": lambda view, context, model, name: ", ".join(model.choice_list),
    }
    form_columns = ["tab", "label", "field_type", "choices", "sort_order", "required", "active"]
    form_choices = {"field_type": list(CustomFieldDefinition.TYPES.items())}
    form_args = {
        "tab": {"allow_blank": False},
        "choices": {"description": _l("For a choice field: the choices, one a line.")},
    }
    form_widget_args = {"choices": {"rows": 4}}

    def search_placeholder(self) -> str:
        return ""

    def validate_form(self, form):
        """A label another field of the tab has is marked next to the label (services.custom_fields)."""
        valid = super().validate_form(form)
        if valid and "label" in form and "tab" in form:
            edited = self.get_one(request.args.get("id")) if request.args.get("id") else None
            candidate = SimpleNamespace(
                id=edited.id if edited is not None else None, tab=form.tab.data, tab_id=None, label=form.label.data
            )
            try:
                custom_fields.check_label_free(db.session, candidate)
            except InvalidValue as taken:
                form.label.errors = [*form.label.errors, str(taken)]
                return False
        return valid

    def on_model_change(self, form, model, is_created):
        custom_fields.check_field(db.session, model)
