"""Administration – Import: upload, column mapping, dry run, run with progress, undo.

Thin: every rule (what a column means, how a row is judged, how a job runs,
who may undo) lives in services.importing.
"""

from flask import current_app, flash, g, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from admin_views import downloads as web_downloads
from admin_views import params
from admin_views.base import SecurePage, require
from extensions import db
from models import ImportJob, ImportMapping
from services import storage as storage_module
from services.importing import downloads as import_downloads
from services.importing import jobs
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


class ImportView(SecurePage):
    """Upload a file, map its columns, check it, run it, follow it, undo it."""

    @expose("/")
    @require("import.run")
    def index(self):
        recent = db.session.scalars(db.select(ImportJob).order_by(ImportJob.id.desc()).limit(30)).all()
        return self.render(
            "admin/import/index.html",
            entities=ENTITIES,
            jobs=recent,
            statuses=ImportJob.STATUSES,
            stalled={job.id for job in jobs.stalled(db.session)},  # shown as failed; a POST marks them
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
            return redirect(url_for(".index"))
        fmt = import_downloads.file_format(request.args.get("format"))
        columns = import_downloads.template_columns(ENTITIES[entity])
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
            jobs.mark_stalled(db.session)  # a stalled dry run may be started again
            try:
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
                    mapping={str(i): form.get(f"column-{i}", "") for i in range(len(headers))},
                    mode=form.get("mode", ""),
                    match_key=form.get("match_key"),
                    all_or_nothing=form.get("all_or_nothing") == "1",
                    headers=headers,
                )
                if form.get("save_as", "").strip():
                    jobs.save_mapping(db.session, job, form["save_as"], headers, current_user)
                jobs.queue(db.session, job, write=False)
            except jobs.ImportProblem as exc:
                db.session.rollback()
                flash(str(exc), "error")
                return redirect(url_for(".mapping", id=job.id))
            db.session.commit()
            jobs.start_thread(current_app._get_current_object(), job.id, storage)
            return redirect(url_for(".job", id=job.id))
        entity = ENTITIES[job.entity]
        return self.render(
            "admin/import/mapping.html",
            job=job,
            entity=entity,
            headers=headers,
            samples=samples,
            modes=MODES,
            saved=jobs.mappings_for(db.session, job.entity),
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
            state=jobs.state(db.session, job),
            errors=jobs.errors(db.session, job, PREVIEW_ERRORS),
            preview_limit=PREVIEW_ERRORS,
            modes=MODES,
        )

    @expose("/job/<int:id>/progress.json")
    @require("import.run")
    def progress(self, id):
        return jsonify(jobs.state(db.session, _job(id)))

    @expose("/job/<int:id>/run", methods=("POST",))
    @require("import.run")
    def run(self, id):
        job = _job(id)
        jobs.mark_stalled(db.session)
        try:
            jobs.queue(db.session, job, write=True)
        except jobs.ImportProblem as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".job", id=job.id))
        db.session.commit()
        jobs.start_thread(current_app._get_current_object(), job.id, _storage())
        return redirect(url_for(".job", id=job.id))

    @expose("/job/<int:id>/cancel", methods=("POST",))
    @require("import.run")
    def cancel(self, id):
        job = _job(id)
        if jobs.mark_stalled(db.session):
            db.session.commit()
        try:
            jobs.request_cancel(db.session, job)
            db.session.commit()
            flash(_("The import stops after the batch it is working on."), "info")
        except jobs.ImportProblem as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        return redirect(url_for(".job", id=job.id))

    @expose("/job/<int:id>/undo", methods=("POST",))
    @require("import.undo")
    def undo(self, id):
        job = _job(id)
        try:
            result = jobs.undo(db.session, job, current_user)
        except jobs.ImportProblem as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".job", id=job.id))
        db.session.commit()
        message = _(
            "The import was undone: %(removed)s new records removed (to the trash), %(reverted)s updates reverted.",
            removed=result.removed,
            reverted=result.reverted,
        )
        if result.conflicts:
            message += " " + _(
                "%(count)s records changed again after the import were left as they are.", count=result.conflicts
            )
        flash(message, "success")
        return redirect(url_for(".job", id=job.id))

    @expose("/job/<int:id>/errors")
    @require("import.run")
    def errors(self, id):
        job_id = _job(id).id
        fmt = import_downloads.file_format(request.args.get("format"))
        rows = lambda session: jobs.errors(session, session.get(ImportJob, job_id))  # noqa: E731  (read while streaming)
        return web_downloads.download(fmt, f"importfel-{job_id}", import_downloads.error_columns(), rows)
