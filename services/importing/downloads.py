"""Files to download: an empty template per entity, and an import's errors,
written by services.export like every other CSV/XLSX of the product (so a cell
value from the uploaded file cannot become a formula in Excel)."""

from __future__ import annotations

from flask import Response
from flask_babel import gettext as _

from models import ImportJob, ImportRowError
from services import export
from services.importing.fields import Entity, _label_sv


def _format(fmt: str) -> str:
    return fmt if fmt in export.FORMATS else "csv"


def template(entity: Entity, fmt: str) -> Response:
    """The entity's columns with their Swedish names, ready to fill in."""
    columns = [export.Column(f.key, _label_sv(f.label)) for f in entity.fields]
    return export.response(_format(fmt), f"import-{entity.key}", columns, [])


def errors(job: ImportJob, rows: list[ImportRowError], fmt: str) -> Response:
    """Every error of the import: row, column, value and the Swedish reason."""
    columns = [
        export.Column("row", _("Row")),
        export.Column("column", _("Column"), getter=lambda e: e.column or ""),
        export.Column("value", _("Value"), getter=lambda e: e.value or ""),
        export.Column("message", _("Reason")),
    ]
    return export.response(_format(fmt), f"importfel-{job.id}", columns, rows)
