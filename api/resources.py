"""One declaration per kind of record, turned into its endpoints: list (filters, quick search,
sort, cursor pages), get, create, partial update with the version, delete (to the trash) and
restore. The rules are the services' (validation, trash, search, paging); this module only maps
HTTP onto them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import marshmallow as ma
from flask import abort
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from api.core import CrmBlueprint, rate_limit, rate_limit_key, requires
from api.problems import ProblemSchema, problem
from extensions import db, limiter
from services import paging, personal_numbers, search, trash
from services.records import FieldErrors
from services.validation import InvalidValue

#: Rows per page unless `limit` says otherwise, and the most a page may hold.
DEFAULT_LIMIT, MAX_LIMIT = 50, 200


@dataclass
class Sort:
    """A sort order a list offers: its columns (with an index on them and the id), whether the
    first may be empty."""

    columns: Callable[[], list]
    nullable: bool = False


@dataclass
class Resource:
    """How one kind of record is served under /api/v1/<name>."""

    name: str
    model: type
    schema: type[ma.Schema]
    area: str
    sorts: dict[str, Sort]
    default_sort: str
    #: query parameter → (marshmallow field, function(value) → SQL condition)
    filters: dict[str, tuple] = field(default_factory=dict)
    create_schema: type[ma.Schema] | None = None
    #: the 201 of a create, when it says more than the record (default: `schema`)
    created_schema: type[ma.Schema] | None = None
    #: (session, record) → the new record's warnings (WarningSchema), `warnings` of the 201 (created_schema)
    warnings: Callable | None = None
    update_schema: type[ma.Schema] | None = None
    #: (session, actor, data) → the new record, added to the session
    create: Callable | None = None
    #: (session, actor, record, data) → None
    update: Callable | None = None
    #: DELETE: "trash" (soft delete, with restore), a function (session, actor, record), or None
    delete: str | Callable | None = None
    searchable: bool = True
    #: permission verbs → permissions (defaults: <area>.view/create/edit/delete, company.restore)
    permissions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: loader options for a page of rows (selectinload of lists)
    options: Callable[[], tuple] = lambda: ()
    #: extra condition every row must meet (e.g. Leverantörer)
    base: Callable[[], object] | None = None
    description: str = ""

    def needs(self, verb: str) -> tuple[str, ...]:
        if verb in self.permissions:
            return self.permissions[verb]
        if verb == "restore":
            return ("company.restore",)
        return (f"{self.area}.{verb}",)

    @property
    def soft_delete(self) -> bool:
        return hasattr(self.model, "deleted_at")

    def live(self):
        return search.live(self.model)


def page_schema(resource: Resource) -> type[ma.Schema]:
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(resource.schema), required=True),
            "next_cursor": ma.fields.String(
                allow_none=True,
                required=True,
                metadata={
                    "description": "Give as `after` for the next page; null on the last page (and on an empty "
                    "page: the rows beyond the cursor were deleted meanwhile)"
                },
            ),
            "previous_cursor": ma.fields.String(
                allow_none=True,
                required=True,
                metadata={"description": "Give as `before` for the page in front; null on the first page"},
            ),
        },
        name=f"{resource.schema.__name__.removesuffix('Schema')}Page",
    )


def query_schema(resource: Resource) -> type[ma.Schema]:
    sorts = list(resource.sorts) + [f"-{s}" for s in resource.sorts]
    fields = {
        "sort": ma.fields.String(
            load_default=resource.default_sort,
            validate=ma.validate.OneOf(sorts),
            metadata={"description": "Sort order; a leading minus sorts descending"},
        ),
        "limit": ma.fields.Integer(
            load_default=DEFAULT_LIMIT, validate=ma.validate.Range(1, MAX_LIMIT), metadata={"description": "Rows"}
        ),
        "after": ma.fields.String(metadata={"description": "Cursor: the page after this one (next_cursor)"}),
        "before": ma.fields.String(metadata={"description": "Cursor: the page before this one (previous_cursor)"}),
    }
    if resource.searchable:
        fields["q"] = ma.fields.String(
            validate=ma.validate.Length(max=search.MAX_SEARCH_LENGTH),
            metadata={"description": "Quick search: the same search as the lists of the program"},
        )
    if resource.soft_delete and resource.delete == "trash":
        fields["in_trash"] = ma.fields.Boolean(
            load_default=False, metadata={"description": "List the trash instead (needs company.restore)"}
        )
    for name, (ma_field, _condition) in resource.filters.items():
        fields[name] = ma_field
    return ma.Schema.from_dict(fields, name=f"{resource.schema.__name__.removesuffix('Schema')}Query")


def conflict(resource: Resource, record):
    """409 with the record as it is now."""
    db.session.rollback()
    current = db.session.get(resource.model, record.id)
    return problem(409, current=resource.schema().dump(current) if current is not None else None)


def write(fn: Callable, *, deleting: bool = False):
    """Run a write and commit it; a rule broken is 422 (with field errors), a stale version 409,
    a permission the services refuse 403, a delete refused (the row is in use) 409 — and nothing
    is saved."""
    try:
        result = fn()
        db.session.commit()
        return result
    except FieldErrors as exc:
        db.session.rollback()
        return problem(422, errors=exc.errors)
    except InvalidValue as exc:
        db.session.rollback()
        return problem(409 if deleting else 422, str(exc))
    except (trash.NotPermitted, PermissionError):
        db.session.rollback()
        return problem(403)
    except IntegrityError:
        db.session.rollback()
        return problem(409, _in_use() if deleting else None)


def _in_use() -> str:
    from flask_babel import gettext as _

    return _("The record is in use by other records and cannot be deleted.")


def _page(resource: Resource, args: dict):
    model = resource.model
    in_trash = args.get("in_trash", False)
    if in_trash and not all(current_user.has_permission(p) for p in resource.needs("restore")):
        return problem(403)
    stmt = select(model).options(*resource.options())
    if resource.soft_delete and in_trash:
        stmt = stmt.where(model.deleted_at.is_not(None))
    elif args.get("q"):
        by_number = personal_numbers.search_condition(model, args["q"], current_user)
        if by_number is not None:
            stmt = stmt.where(search.live(model), by_number)
        else:
            stmt = stmt.where(search.live_matching(db.session, model, args["q"]))  # the lists' search
    elif resource.soft_delete:
        stmt = stmt.where(search.live(model))
    if resource.base is not None:
        stmt = stmt.where(resource.base())
    for name, (_field, condition) in resource.filters.items():
        if args.get(name) is not None:
            stmt = stmt.where(condition(args[name]))
    if args.get("q") and in_trash:
        stmt = stmt.where(search.condition(db.session, model, args["q"]))
    sort_name = args["sort"]
    descending = sort_name.startswith("-")
    sort = resource.sorts[sort_name.lstrip("-")]
    # The cursors name their sort (with its direction): one of another sort is refused, not read as a value of this one.
    order = paging.ListOrder(sort.columns(), model.id, descending=descending, nullable=sort.nullable, scope=sort_name)
    try:
        page = order.page(
            db.session, stmt, per_page=args["limit"], after=args.get("after"), before=args.get("before"), clamp=False
        )
    except paging.InvalidCursor:
        return problem(400, _invalid_cursor())
    return {"items": page.items, "next_cursor": page.next, "previous_cursor": page.previous}


def _invalid_cursor() -> str:
    from flask_babel import gettext as _

    return _("The cursor is not one of this list's (it belongs to another sort order or was changed).")


def get_live(resource: Resource, id: int, *, deleted: bool = False):
    """The record with this id (live, or in the trash when `deleted`), or a 404 problem."""
    record = db.session.get(resource.model, id)
    if record is None or (resource.soft_delete and record.is_deleted != deleted):
        abort(404)
    if resource.base is not None and not db.session.scalar(
        select(resource.model.id).where(resource.model.id == id, resource.base())
    ):
        abort(404)
    return record


def blueprint(resource: Resource) -> CrmBlueprint:
    """The endpoints of one resource."""
    name = resource.name
    blp = CrmBlueprint(
        f"api_{name.replace('-', '_')}", __name__, url_prefix=f"/api/v1/{name}", description=resource.description
    )
    limiter.limit(rate_limit, key_func=rate_limit_key)(blp)
    schema, page = resource.schema, page_schema(resource)

    @blp.route("", methods=["GET"])
    # An unknown parameter is refused (a misspelt filter would list the whole register), as in a body.
    @blp.arguments(query_schema(resource), location="query", as_kwargs=False, unknown=ma.RAISE)
    @blp.response(200, page)
    @blp.alt_response(400, schema=ProblemSchema, content_type="application/problem+json")
    @requires(*resource.needs("view"))
    def list_records(args):
        """List, filter, search and sort; pages by cursor."""
        return _page(resource, args)

    @blp.route("/<int:id>", methods=["GET"])
    @blp.response(200, schema)
    @blp.alt_response(404, schema=ProblemSchema, content_type="application/problem+json")
    @requires(*resource.needs("view"))
    def get_record(id):
        """One record."""
        return get_live(resource, id)

    if resource.create_schema is not None:

        @blp.route("", methods=["POST"])
        @blp.arguments(resource.create_schema)
        @blp.response(201, resource.created_schema or schema)
        @blp.alt_response(422, schema=ProblemSchema, content_type="application/problem+json")
        @requires(*resource.needs("create"))
        def create_record(data):
            """Create a record (the same checks as the form)."""
            created = write(lambda: _create(resource, data))
            if not isinstance(created, resource.model):
                return created
            headers = {"Location": f"/api/v1/{name}/{created.id}"}
            if resource.warnings is not None:
                return WithWarnings(created, resource.warnings(db.session, created)), 201, headers
            return created, 201, headers

    if resource.update_schema is not None:

        @blp.route("/<int:id>", methods=["PATCH"])
        @blp.arguments(resource.update_schema)
        @blp.response(200, schema)
        @blp.alt_response(409, schema=ProblemSchema, content_type="application/problem+json")
        @blp.alt_response(422, schema=ProblemSchema, content_type="application/problem+json")
        @requires(*resource.needs("edit"))
        def update_record(data, id):
            """Change the given fields; `version` must be the record's current one (else 409 with it)."""
            record = get_live(resource, id)
            version = data.pop("version")
            if record.version != version:
                return conflict(resource, record)
            try:
                result = write(lambda: resource.update(db.session, current_user, record, data))
            except StaleDataError:
                return conflict(resource, record)
            return result if result is not None else record

    if resource.delete is not None:

        @blp.route("/<int:id>", methods=["DELETE"])
        @blp.response(204)
        @blp.alt_response(404, schema=ProblemSchema, content_type="application/problem+json")
        @blp.alt_response(409, schema=ProblemSchema, content_type="application/problem+json")
        @requires(*resource.needs("delete"))
        def delete_record(id):
            """Delete: customers go to the trash (restore them with POST …/restore); a row other records
            use is refused (409)."""
            record = get_live(resource, id)
            if resource.delete == "trash":
                result = write(lambda: trash.delete(db.session, current_user, resource.model, [record.id]))
            else:
                result = write(lambda: resource.delete(db.session, current_user, record), deleting=True)
            return result if hasattr(result, "status_code") else ("", 204)

    if resource.delete == "trash":

        @blp.route("/<int:id>/restore", methods=["POST"])
        @blp.response(200, schema)
        @blp.alt_response(404, schema=ProblemSchema, content_type="application/problem+json")
        @requires(*resource.needs("restore"))
        def restore_record(id):
            """Bring a record back from the trash, with all its links."""
            record = get_live(resource, id, deleted=True)
            result = write(lambda: trash.restore(db.session, current_user, resource.model, [record.id]))
            return result if hasattr(result, "status_code") else record

    return blp


class WithWarnings:
    """A new record and its warnings, read by the 201's schema as the record itself with `warnings`."""

    def __init__(self, record, warnings: list[dict]):
        self._record = record
        self.warnings = warnings

    def __getattr__(self, name):
        return getattr(self._record, name)


def _create(resource: Resource, data: dict):
    record = resource.create(db.session, current_user, data)
    db.session.flush()
    return record
