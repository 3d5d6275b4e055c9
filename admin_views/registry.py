"""Företagsuppslag: the company register's look-up (JSON for the forms) and its status page."""

from flask import current_app, jsonify, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from sqlalchemy import select

from admin_views.base import SecurePage, may, require
from admin_views.records import TITLES, record_url
from extensions import db
from models import RegistryLoad
from services import formatting, register, registry

#: Characters of a look-up text that are used.
MAX_QUERY = 100


def sources() -> list:
    """The register's sources as the administrator configured them."""
    return registry.providers(current_app.config)


def existing_links(org_numbers, *, exclude=None) -> dict[str, list[dict]]:
    """Customers and leads that already have each of these organisationsnummer, with links to them (a
    customer in the trash links to Återställa kunder, for those who may restore)."""
    trash_url = url_for("trash.index") if may("trash.index") else None
    return {
        number: [
            {
                "kind": e.kind,
                "label": _("Customer in the trash") if e.in_trash else str(TITLES[e.kind]),
                "name": e.name,
                "url": trash_url if e.in_trash else record_url(e.kind, e.id),
            }
            for e in found
        ]
        for number, found in register.existing_with_org_numbers(db.session, org_numbers, exclude=exclude).items()
    }


class RegistryView(SecurePage):
    """/admin/registry/: the state of the register; /admin/registry/lookup?q=… answers the forms."""

    def is_visible(self) -> bool:
        return False

    @expose("/")
    @require("registry.lookup")
    def index(self):
        """The register's data date and the loads so far, with a search box."""
        loads = db.session.scalars(select(RegistryLoad).order_by(RegistryLoad.id.desc()).limit(10)).all()
        return self.render(
            "admin/registry.html",
            current=registry.active_load(db.session),
            loads=loads,
            online=registry.BolagsverketApiProvider.from_config(current_app.config) is not None,
        )

    @expose("/lookup")
    @require("registry.lookup")
    def lookup(self):
        """Companies of the register matching `q` (name or organisationsnummer), as JSON; reads only."""
        text = request.args.get("q", "")[:MAX_QUERY]
        result = registry.lookup(db.session, text, sources=sources()) if text.strip() else None
        entries = result.entries if result else []
        data_date = result.data_date if result else getattr(registry.active_load(db.session), "data_date", None)
        existing = existing_links([e.org_number for e in entries])
        return jsonify(
            {
                "query": text,
                "data_date": formatting.iso_date(data_date) if data_date else None,
                "warning": _("The online register did not answer; showing the file's data.")
                if result and result.warning
                else None,
                "results": [{**e.as_json(), "existing": existing.get(e.org_number, [])} for e in entries],
            }
        )
