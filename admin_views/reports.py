"""CRM – Rapporter: Försäljningsrapport and "Grafisk och tabellöversikt över
säljaktiviteter" (issue 5), shown as tables and a chart (Chart.js) and exported
through services.export. The figures come from services.reports."""

from datetime import date
from functools import partial

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import Form, RadioField, SelectField, SelectMultipleField
from wtforms.validators import Optional

from admin_views import downloads, params
from admin_views.base import SecurePage, SwedishDateField, can, require
from admin_views.listing import Pager, count_text
from extensions import db
from models import Activity, Category, EmployeeGroup, Industry, ReportDefinition, utcnow
from services import employees, export, paging, report_generator, reports, visibility
from services.validation import InvalidValue

#: Colours of the activity kinds in the chart (legend and bars), readable on white.
KIND_COLOURS = {"task": "#4e79a7", "meeting": "#f28e2b", "call": "#59a14f", "note": "#b07aa1", "sms": "#e15759"}


class ReportForm(Form):
    """Report conditions read from the query string; dates as YYYY-MM-DD."""

    class Meta:
        def get_translations(self, form):
            from wtforms.i18n import get_translations

            return get_translations([str(get_locale() or "sv")])

    seller = SelectMultipleField(_l("Sellers"), coerce=params.form_id, validate_choice=False)
    group = SelectMultipleField(_l("Groups"), coerce=params.form_id, validate_choice=False)


class SalesReportForm(ReportForm):
    by = SelectField(_l("Pipeline per"), choices=list(reports.PIPELINE_DIMENSIONS.items()), default="stage")
    close_from = SwedishDateField(_l("Expected close from"), validators=[Optional()])
    close_to = SwedishDateField(_l("Expected close to"), validators=[Optional()])
    decided_from = SwedishDateField(_l("Won or lost from"), validators=[Optional()])
    decided_to = SwedishDateField(_l("Won or lost to"), validators=[Optional()])


class ActivityReportForm(ReportForm):
    axis = RadioField(_l("X axis"), choices=list(reports.AXES.items()), default="sellers")
    start = SwedishDateField(_l("From"), validators=[Optional()])
    end = SwedishDateField(_l("To"), validators=[Optional()])


def _form(form_class, **defaults):
    """The form filled from the query string, with defaults where a field is not given."""
    form = form_class(request.args)
    for name, value in defaults.items():
        if name not in request.args:
            form[name].data = value
    return form


def stacked_chart(labels: list[str], series: list[tuple[str, str, list[int]]]) -> dict:
    """The data of a stacked bar chart for static/js/activity_chart.js (Chart.js): one bar per
    label, one dataset per series (name, colour, values in label order), every series in the legend."""
    return {
        "labels": labels,
        "datasets": [{"label": name, "backgroundColor": colour, "data": values} for name, colour, values in series],
    }


class ReportsView(SecurePage):
    """CRM – Rapporter: the sales reports and the saved report-generator reports."""

    def render(self, template, **kwargs):
        kwargs.setdefault("can_export", can("report.export"))
        return super().render(template, **kwargs)

    @expose("/")
    @require("report.view")
    def index(self):
        return self.render(
            "admin/reports/index.html",
            saved=report_generator.visible_definitions(db.session, _current()),
            sees_activities=visibility.may_see(_current(), visibility.Part.ACTIVITIES),
        )

    # --- pickers shared by the reports ---------------------------------------------

    @staticmethod
    def chooser_options() -> dict:
        """Active employees and the groups (sales groups first) for "Välj säljare"."""
        return {
            "employees": employees.active(db.session),
            "groups": db.session.scalars(
                select(EmployeeGroup).order_by(EmployeeGroup.kind != "sales", EmployeeGroup.name)
            ).all(),
        }

    # --- Försäljningsrapport --------------------------------------------------------

    def _sales(self):
        today = utcnow().date()
        form = _form(SalesReportForm, decided_from=date(today.year, 1, 1), decided_to=today)
        if request.args and not form.validate():
            return form, None, None
        owners = [e.id for e in reports.chosen_sellers(db.session, form.seller.data or (), form.group.data or ())]
        if (form.seller.data or form.group.data) and not owners:
            owners = [0]  # groups without members: nobody, not everybody
        pipeline = reports.pipeline(
            db.session, form.by.data, owner_ids=owners, close_from=form.close_from.data, close_to=form.close_to.data
        )
        outcome = reports.outcome(db.session, form.decided_from.data, form.decided_to.data, owner_ids=owners)
        return form, pipeline, outcome

    @expose("/sales")
    @require("report.view", "opportunity.view")
    def sales(self):
        """Försäljningsrapport: the pipeline per stage, seller or month, and won/lost in a period."""
        form, pipeline, outcome = self._sales()
        return self.render(
            "admin/reports/sales.html",
            form=form,
            pipeline=pipeline,
            outcome=outcome,
            pipeline_total=reports.totals(pipeline or []),
            outcome_total=reports.outcome_totals(outcome or []),
            **self.chooser_options(),
        )

    @expose("/sales/export/<fmt>/")
    @require("report.view", "report.export", "opportunity.view")
    def sales_export(self, fmt):
        form, pipeline, outcome = self._sales()
        if pipeline is None or fmt not in export.FORMATS:
            abort(404)
        if request.args.get("table") == "outcome":
            columns = [
                export.Column("label", _("Seller")),
                export.Column("won_count", _("Won")),
                export.Column("won_amount", _("Won amount (SEK)"), number_format="#,##0.00"),
                export.Column("lost_count", _("Lost")),
                export.Column("lost_amount", _("Lost amount (SEK)"), number_format="#,##0.00"),
                export.Column("win_rate", _("Win rate (percent)")),
            ]
            return downloads.download(fmt, _("Won and lost"), columns, downloads.rows_given(outcome))
        columns = [
            export.Column("label", str(reports.PIPELINE_DIMENSIONS[form.by.data])),
            export.Column("count", _("Number")),
            export.Column("amount", _("Pipeline value (SEK)"), number_format="#,##0.00"),
            export.Column("weighted", _("Weighted value (SEK)"), number_format="#,##0.00"),
        ]
        return downloads.download(fmt, _("Sales report"), columns, downloads.rows_given(pipeline))

    # --- Grafisk och tabellöversikt över säljaktiviteter -------------------------------------

    def _activities(self):
        today = utcnow().date()
        form = _form(ActivityReportForm, start=date(today.year, 1, 1), end=today)
        if request.args and not form.validate():
            return form, None
        rows = reports.activity_overview(
            db.session,
            seller_ids=form.seller.data or (),
            group_ids=form.group.data or (),
            axis=form.axis.data,
            start=form.start.data,
            end=form.end.data,
        )
        return form, rows

    def activity_columns(self, axis: str) -> list[export.Column]:
        """The table of the overview (and its export); opportunity figures need opportunity.view."""
        columns = [export.Column("label", _("Group") if axis == "groups" else _("Seller"))]
        columns += [
            export.Column(kind, str(label), getter=lambda row, kind=kind: row.kinds[kind])
            for kind, label in Activity.KINDS.items()
        ]
        columns += [export.Column("activities", _("Activities in total")), export.Column("done", _("Done"))]
        if can("opportunity.view"):
            columns += [
                export.Column("new_opportunities", _("New sales opportunities")),
                export.Column("pipeline_amount", _("Open pipeline (SEK)"), number_format="#,##0.00"),
                export.Column("won_amount", _("Won in the period (SEK)"), number_format="#,##0.00"),
            ]
        return columns

    @expose("/activities")
    @require("report.view", visibility.permission(visibility.Part.ACTIVITIES))
    def activities(self):
        """Grafisk och tabellöversikt över säljaktiviteter: a bar per seller or group."""
        form, rows = self._activities()
        chart = None
        if rows:
            chart = stacked_chart(
                [row.label for row in rows],
                [
                    (str(label), KIND_COLOURS[kind], [row.kinds[kind] for row in rows])
                    for kind, label in Activity.KINDS.items()
                ],
            )
        return self.render(
            "admin/reports/activities.html",
            form=form,
            rows=rows,
            chart=chart,
            columns=self.activity_columns(form.axis.data),
            **self.chooser_options(),
        )

    @expose("/activities/export/<fmt>/")
    @require("report.view", "report.export", visibility.permission(visibility.Part.ACTIVITIES))
    def activities_export(self, fmt):
        form, rows = self._activities()
        if rows is None or fmt not in export.FORMATS:
            abort(404)
        return downloads.download(
            fmt, _("Sales activities"), self.activity_columns(form.axis.data), downloads.rows_given(rows)
        )


def _current():
    from flask_login import current_user

    return current_user._get_current_object()


# --- CRM – Rapportgenerator ------------------------------------------------------------------


def cell(value, field=None) -> str:
    """A report value as the screen shows it (Swedish amounts, ISO dates, Ja/Nej;
    a custom field as services.custom_fields shows it)."""
    from decimal import Decimal as _Decimal

    from services import formatting

    if value is None:
        return ""
    if field is not None and field.display is not None:
        return field.display(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, _Decimal):
        return formatting.money(value)
    if isinstance(value, date):
        return formatting.iso_date(value)
    return str(value)


class ReportGeneratorView(SecurePage):
    """Rapportgenerator: choose records, conditions, columns and sort; see, export, save, rerun."""

    def _spec(self):
        """The report the query string describes, as the employee may run it (custom fields the
        employee may not see are left out, or a condition on them refused); (spec, error message)."""
        args = request.args.to_dict()
        entity = args.get("entity") or "company"
        known = report_generator.ENTITIES.get(entity)
        columns = report_generator.all_columns(db.session, entity)
        cols = [c for c in request.args.getlist("col") if known is None or c in columns]
        try:
            spec = report_generator.parse(args, getlist=lambda name: cols, session=db.session, employee=_current())
            return spec, None
        except (InvalidValue, report_generator.NotPermitted) as exc:
            empty = report_generator.Spec(entity=entity if known else "company")
            empty.extra_fields = report_generator.custom_columns(db.session, empty.entity, _current())
            return empty, str(exc)

    def _entities(self):
        user = _current()
        return {key: kind for key, kind in report_generator.ENTITIES.items() if user.has_permission(kind.permission)}

    @expose("/")
    @require("report.view")
    def index(self):
        spec, error = self._spec()
        entities = self._entities()
        if spec.entity not in entities:
            if "entity" in request.args:
                error = error or _("You do not have permission to see these records.")
            spec = report_generator.Spec(entity=next(iter(entities), "company"))
        total, rows, pager = None, None, None
        if error:
            flash(error, "error")
        elif spec.left_out:
            flash(_("Custom fields are left out of the report: you do not have permission to see them."), "warning")
        if not error and request.args.get("run") and spec.entity in entities:
            position = {
                "after": request.args.get("after") or None,
                "before": request.args.get("before") or None,
                "last": bool(request.args.get("last")),
            }
            try:
                total, result = report_generator.page(db.session, spec, _current(), **position)
            except paging.InvalidCursor:
                message = _("The page could not be found again (the address is not complete); the first page is shown.")
                flash(message, "warning")
                total, result = report_generator.page(db.session, spec, _current())
            except report_generator.NotPermitted:
                flash(_("You do not have permission to see these records."), "error")
                total = result = None
            if result is not None:
                rows = result.items
                pager = Pager(result, partial(url_for, ".index", run=1, **spec.to_args()))
        kind = spec.kind
        categories = db.session.scalars(select(Category).order_by(Category.name)).all()
        industries = db.session.scalars(select(Industry).order_by(Industry.name)).all() if kind.has_industry else []
        chosen = [c for c in spec.columns]
        column_order = chosen + [c for c in spec.fields if c not in chosen]
        return self.render(
            "admin/reports/generator.html",
            spec=spec,
            kind=kind,
            entities=entities,
            rows=rows,
            total=count_text(total) if total is not None else "",
            pager=pager,
            employees=employees.active(db.session),
            categories=categories,
            industries=industries,
            statuses=kind.statuses(db.session) if kind.statuses else [],
            column_order=column_order,
            fields=spec.fields,
            cell=cell,
            args=spec.to_args(),
            custom_conditions=[f for f in spec.fields.values() if f.definition is not None],
            can_export=can("report.export"),
            can_share=can("saved.share"),
            saved=report_generator.visible_definitions(db.session, _current()),
        )

    @expose("/export/<fmt>/")
    @require("report.view", "report.export")
    def export(self, fmt):
        """The whole report (all pages) as CSV or XLSX, streamed."""
        spec, error = self._spec()
        if fmt not in export.FORMATS:
            abort(404)
        if error:
            raise params.BadParameter(error)
        try:
            stmt = report_generator.query(spec, _current())
        except report_generator.NotPermitted:
            abort(403)
        return downloads.download(
            fmt,
            f"{_('Report')} {spec.kind.label} {utcnow().date().isoformat()}",
            report_generator.columns(spec),
            downloads.rows_of_query(stmt),
            title=str(spec.kind.label),
        )

    @expose("/save", methods=("POST",))
    @require("report.view")
    def save(self):
        """Spara rapport: the report as shown, under a name, shared or not."""
        try:
            spec = report_generator.parse(
                request.form.to_dict(), getlist=request.form.getlist, session=db.session, employee=_current()
            )
            if not report_generator.may_run(_current(), spec):
                abort(403)
            definition, created = report_generator.save(
                db.session, _current(), request.form.get("name", ""), spec, shared=request.form.get("shared") == "1"
            )
            db.session.commit()
        except report_generator.NotPermitted:
            db.session.rollback()
            abort(403)
        except InvalidValue as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(
                url_for(".index", **report_generator.Spec(entity=request.form.get("entity") or "company").to_args())
            )
        flash(
            _("The report %(name)s was saved.", name=definition.name)
            if created
            else _("The report %(name)s was updated.", name=definition.name),
            "success",
        )
        return redirect(url_for(".index", run=1, saved=definition.id, **spec.to_args()))

    @staticmethod
    def _definition_or_404(id: int) -> ReportDefinition:
        """A saved report the employee may see (own or shared), else 404."""
        definition = db.session.get(ReportDefinition, id)
        if definition is None or not report_generator.readable(_current(), definition):
            abort(404)
        return definition

    @expose("/saved/<int:id>")
    @require("report.view")
    def run(self, id):
        """Run a saved report again (with the permissions of whoever runs it)."""
        definition = self._definition_or_404(id)
        try:
            spec = report_generator.load(definition, db.session, _current())
        except (InvalidValue, report_generator.NotPermitted) as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        if spec.left_out:
            flash(_("Custom fields are left out of the report: you do not have permission to see them."), "warning")
        return redirect(url_for(".index", run=1, saved=definition.id, **spec.to_args()))

    @expose("/saved/<int:id>/delete", methods=("POST",))
    @require("report.view")
    def delete(self, id):
        """Only its owner deletes a saved report."""
        definition = self._definition_or_404(id)
        try:
            report_generator.delete(db.session, _current(), definition)
        except report_generator.NotPermitted:
            abort(403)
        db.session.commit()
        flash(_("The report %(name)s was deleted.", name=definition.name), "success")
        return redirect(url_for(".index"))
