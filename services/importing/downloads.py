"""Files to download: an empty template per entity, and an import's errors.

Written with tablib (CSV for Swedish Excel: semicolon, UTF-8 with BOM; or
XLSX). To be moved onto services.export when that arrives on main.
"""

from __future__ import annotations

import tablib
from flask import Response
from flask_babel import gettext as _

from models import ImportJob, ImportRowError
from services.importing.fields import Entity, _label_sv

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _file(dataset: tablib.Dataset, name: str, fmt: str) -> Response:
    fmt = fmt if fmt in FORMATS else "csv"
    if fmt == "csv":
        body = "\ufeff" + dataset.export("csv", delimiter=";")
        data = body.encode("utf-8")
    else:
        data = dataset.export("xlsx")
    return Response(data, mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


def template(entity: Entity, fmt: str) -> Response:
    """The entity's columns with their Swedish names, ready to fill in (one example row's worth of headers)."""
    dataset = tablib.Dataset(headers=[_label_sv(f.label) for f in entity.fields])
    return _file(dataset, f"import-{entity.key}", fmt)


def errors(job: ImportJob, rows: list[ImportRowError], fmt: str) -> Response:
    dataset = tablib.Dataset(headers=[_("Row"), _("Column"), _("Value"), _("Reason")])
    for error in rows:
        dataset.append([error.row, error.column or "", error.value or "", error.message])
    return _file(dataset, f"importfel-{job.id}", fmt)
