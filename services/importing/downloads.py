"""The tables an import offers for download: an empty template per entity, and an import's
errors. Written by services.export like every other CSV/XLSX of the product (so a cell value
from the uploaded file cannot become a formula in Excel); the web layer streams them."""

from __future__ import annotations

from flask_babel import gettext as _

from services import export
from services.importing.fields import Entity, _label_sv


def file_format(fmt: str | None) -> str:
    """csv or xlsx; anything else is csv."""
    return fmt if fmt in export.FORMATS else "csv"


def template_columns(entity: Entity) -> list[export.Column]:
    """The entity's columns with their Swedish names, ready to fill in."""
    return [export.Column(f.key, _label_sv(f.label)) for f in entity.fields]


def error_columns() -> list[export.Column]:
    """Every error and notice of an import: row, which of the two, column, value and the Swedish reason."""
    return [
        export.Column("row", _("Row")),
        export.Column("column", _("Column"), getter=lambda e: e.column or ""),
        export.Column("value", _("Value"), getter=lambda e: e.value or ""),
        export.Column("message", _("Reason")),
        export.Column("kind", _("Type"), getter=lambda e: _("Notice") if e.kind == "notice" else _("Error")),
    ]
