"""Administration – Import: upload, column mapping, dry run, run with progress, cancel, retry, undo.

Thin: every rule (what a column means, how a row is judged, how a job runs,
who may undo) lives in services.importing; the passes run in queue workers
(services.importing.tasks), never in this process. No GET writes anything.
"""

from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from admin_views import downloads as web_downloads
from admin_views import params
from admin_views.base import SecurePage, require
from admin_views.records import record_url
from extensions import db
from models import ImportJob, ImportMapping
from services import export, tasks
from services import storage as storage_module
from services.duplicates import KINDS as DUPLICATE_KINDS
from services.importing import downloads, jobs
from services.importing import tasks as import_tasks
from services.importing.fields import ENTITIES, MODES
from services.importing.reader import FileProblem

PREVIEW_ERRORS = 200


def allow_large_import_files(endpoint, values) -> None:
    """Import files may be larger than other uploads: the request limit is raised for the
    import upload only (a URL preprocessor, so it holds before CSRF protection reads the form)."""
    if endpoint == "import.upload":
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"] + 1024 * 1024
        g.upload_limit = current_app.config["IMPORT_MAX_BYTES"]


def _storage():
    return storage_module.from_config(current_app.config)


def _job(id: int) -> ImportJob:
    return db.get_or_404(ImportJob, id)


def _stalled_seconds() -> int:
    return current_app.config["JOB_STALLED_SECONDS"]


def _state(job: ImportJob) -> dict:
    place = tasks.place_in_queue(job.task_id) if job.status in ("queued", "undoing") and not job.claim else None
    return jobs.state(db.session, job, stalled_seconds=_stalled_seconds(), place=place)


class ImportView(SecurePage):
    """Upload a file, map its columns, check it, run it, follow it, undo it."""

    @expose("/")
    @require("import.run")
    def index(self):
        recent = db.session.scalars(db.select(ImportJob).order_by(ImportJob.id.desc()).limit(30)).all()
        stalled = {job.id for job in recent if jobs.is_stalled(job, _stalled_seconds())}
        return self.render(
            "admin/import/index.html", entities=ENTITIES, jobs=recent, statuses=ImportJob.STATUSES, stalled=stalled
        )

    @expose("/upload", methods=("POST",))
    @require("import.run")
    def upload(self):
        limit = current_app.config["IMPORT_MAX_BYTES"]
        upload, entity = request.files.get("file"), request.form.get("entity", "")
        if upload is None or not upload.filename:
            flash(_("Choose a file to import."), "error")
            return redirect(url_for(".index"))
        try:
            job = jobs.create_job(
                db.session,
                _storage(),
                entity=entity,
                filename=upload.filename,
                stream=upload.stream,
                actor=current_user,
                max_bytes=limit,
            )
        except (FileProblem, jobs.ImportProblem) as exc:
            db.session.rollback()
            flash(_("%(file)s was not imported: %(reason)s", file=upload.filename, reason=str(exc)), "error")
            return redirect(url_for(".index"))
        db.session.commit()
        return redirect(url_for(".mapping", id=job.id))

    @expose("/template/<entity>")
    @require("import.run")
    def template(self, entity):
        if entity not in ENTITIES:
            abort(404)  # a mistyped address says so, not the import page as if it had been asked for
        fmt = downloads.file_format(request.args.get("format"))
        columns = downloads.template_columns(ENTITIES[entity])
        return web_downloads.download(fmt, f"import-{entity}", columns, web_downloads.rows_given([]))

    @expose("/job/<int:id>/mapping", methods=("GET", "POST"))
    @require("import.run")
    def mapping(self, id):
        job = _job(id)
        storage = _storage()
        try:
            headers, samples = jobs.preview(storage, job)
        except FileProblem as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        if request.method == "POST":
            try:
                if request.form.get("sheet"):
                    jobs.choose_sheet(storage, job, request.form["sheet"])
                    db.session.commit()
                    return redirect(url_for(".mapping", id=job.id))
                if request.form.get("saved"):
                    saved = db.get_or_404(ImportMapping, params.id_param("saved", request.form) or 0)
                    jobs.apply_mapping(job, saved, headers)
                    db.session.commit()
                    flash(_("The saved column mapping %(name)s is used.", name=saved.name), "success")
                    return redirect(url_for(".mapping", id=job.id))
                form = request.form
                jobs.configure(
                    db.session,
                    job,
                    actor=current_user,
                    mapping={str(i): form.get(f"column-{i}", "") for i in range(len(headers))},
                    mode=form.get("mode", ""),
                    match_key=form.get("match_key"),
                    all_or_nothing=form.get("all_or_nothing") == "1",
                    headers=headers,
                )
                if form.get("save_as", "").strip():
                    jobs.save_mapping(db.session, job, form["save_as"], headers, current_user)
                jobs.queue(db.session, job, write=False)
            except (jobs.ImportProblem, FileProblem) as exc:
                db.session.rollback()
                flash(str(exc), "error")
                return redirect(url_for(".mapping", id=job.id))
            import_tasks.submit(db.session, job)
            return redirect(url_for(".job", id=job.id))
        entity = ENTITIES[job.entity]
        return self.render(
            "admin/import/mapping.html",
            job=job,
            entity=entity,
            settable=jobs.settable_fields(job.entity, current_user),
            headers=headers,
            samples=samples,
            modes=MODES,
            saved=jobs.mappings_for(db.session, job.entity),
            sheets=jobs.sheets(storage, job),
            unmapped=jobs.unmapped_columns(job, headers),
        )

    @expose("/job/<int:id>")
    @require("import.run")
    def job(self, id):
        job = _job(id)
        return self.render(
            "admin/import/job.html",
            job=job,
            entity=ENTITIES[job.entity],
            state=_state(job),
            errors=jobs.errors(db.session, job, PREVIEW_ERRORS),
            notices=jobs.errors(db.session, job, PREVIEW_ERRORS, kind="notice"),
            record_url=record_url,
            preview_limit=PREVIEW_ERRORS,
            modes=MODES,
        )

    @expose("/job/<int:id>/progress.json")
    @require("import.run")
    def progress(self, id):
        return jsonify(_state(_job(id)))

    @expose("/job/<int:id>/run", methods=("POST",))
    @require("import.run")
    def run(self, id):
        job = _job(id)
        try:
            jobs.queue(db.session, job, write=True)
        except jobs.ImportProblem as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".job", id=job.id))
        import_tasks.submit(db.session, job)
        return redirect(url_for(".job", id=job.id))

    @expose("/job/<int:id>/retry", methods=("POST",))
    @require("import.run")
    def retry(self, id):
        """Försök igen: the same file and mapping, from where it can go on."""
        job = _job(id)
        try:
            jobs.retry(db.session, job)
        except jobs.ImportProblem as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".job", id=job.id))
        import_tasks.submit(db.session, job)
        flash(_("The import is in the queue again."), "info")
        return redirect(url_for(".job", id=job.id))

    @expose("/job/<int:id>/cancel", methods=("POST",))
    @require("import.run")
    def cancel(self, id):
        job = _job(id)
        try:
            outcome = jobs.request_cancel(db.session, job, stalled_seconds=_stalled_seconds())
        except jobs.ImportProblem as exc:
            db.session.rollback()
            flash(str(exc), "warning")
            return redirect(url_for(".job", id=job.id))
        if outcome == "resubmit":
            import_tasks.submit(db.session, job)
        else:
            db.session.commit()
        messages = {
            "cancelled": _("The import was cancelled."),
            "requested": _("The import stops after the batch it is working on."),
            "resubmit": _("The import is being cancelled: a worker removes what it had written."),
        }
        flash(messages[outcome], "info")
        return redirect(url_for(".job", id=job.id))

    @expose("/job/<int:id>/undo", methods=("POST",))
    @require("import.undo")
    def undo(self, id):
        job = _job(id)
        try:
            jobs.request_undo(db.session, job, current_user)
        except jobs.ImportProblem as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".job", id=job.id))
        import_tasks.submit(db.session, job)
        flash(_("The import is being undone in the background."), "info")
        return redirect(url_for(".job", id=job.id))

    @expose("/job/<int:id>/errors")
    @require("import.run")
    def errors(self, id):
        job_id = _job(id).id
        fmt = downloads.file_format(request.args.get("format"))
        rows = lambda session: jobs.errors(session, session.get(ImportJob, job_id), kind=None)  # noqa: E731  (read while streaming)
        # the rows are written after the request has ended: the links' beginnings are made now ("…/card/" + id)
        links = {kind: request.host_url.rstrip("/") + record_url(kind, 0)[:-1] for kind in DUPLICATE_KINDS}
        link = export.Column(
            "link",
            _("Already in the register"),
            getter=lambda e: f"{links[e.record_kind]}{e.record_id}" if e.record_kind in links else "",
        )
        return web_downloads.download(fmt, f"importfel-{job_id}", [*downloads.error_columns(), link], rows)
