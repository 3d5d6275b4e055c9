"""Administration – Inställningar – CRM: Kategorier and Branscher."""

from flask_babel import lazy_gettext as _l

from admin_views.base import MODEL_ENDPOINT_VERBS, SecureModelView, fmt_choice
from models import Category

#: Settings are read and written by those who manage settings.
SETTINGS_VERBS = {endpoint: "manage" for endpoint in MODEL_ENDPOINT_VERBS}


class CategoryView(SecureModelView):
    """Kategorier for companies, contacts or both."""

    permission_area = "settings"
    endpoint_verbs = SETTINGS_VERBS
    create_label = _l("New category")
    column_list = ["name", "applies_to", "description"]
    column_editable_list = ["name"]
    column_default_sort = "name"
    column_labels = {"name": _l("Name"), "applies_to": _l("Applies to"), "description": _l("Description")}
    column_formatters = {"applies_to": fmt_choice(Category.SCOPES)}
    form_columns = ["name", "applies_to", "description"]
    form_choices = {"applies_to": list(Category.SCOPES.items())}


class IndustryView(SecureModelView):
    """Branscher, with SNI code."""

    permission_area = "settings"
    endpoint_verbs = SETTINGS_VERBS
    create_label = _l("New industry")
    column_list = ["name", "sni_code"]
    column_editable_list = ["name"]
    column_default_sort = "name"
    column_labels = {"name": _l("Name"), "sni_code": _l("SNI code")}
    form_columns = ["name", "sni_code"]
