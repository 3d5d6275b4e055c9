"""Filer: the file area of a customer card, with size and type limits."""

import mimetypes
from pathlib import PurePath

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from models import Attachment, Employee, utcnow
from services.storage import Storage, TooLarge, save_in_transaction

#: File types a customer's file area accepts (documents, spreadsheets, images, mail, archives).
ALLOWED_EXTENSIONS = frozenset(
    "pdf doc docx odt rtf txt csv xls xlsx ods ppt pptx odp png jpg jpeg gif webp eml msg zip".split()
)
DEFAULT_MAX_BYTES = 25 * 1024 * 1024


class RejectedFile(ValueError):
    """The file cannot be stored; the message says why, in Swedish."""


def clean_filename(filename: str | None) -> str:
    """The last path component, without control characters, at most 255 characters."""
    name = PurePath((filename or "").replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name or name in (".", ".."):
        raise RejectedFile(_("Choose a file to upload."))
    return name[-255:]


def check_type(filename: str) -> str:
    """The content type to store for an allowed file name."""
    extension = PurePath(filename).suffix.lower().lstrip(".")
    if extension not in ALLOWED_EXTENSIONS:
        raise RejectedFile(
            _(
                "Files of type .%(ext)s cannot be uploaded. Allowed: %(allowed)s.",
                ext=extension or "?",
                allowed=", ".join(sorted(ALLOWED_EXTENSIONS)),
            )
        )
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def upload(
    session: Session,
    storage: Storage,
    *,
    actor: Employee,
    stream,
    filename: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    **owner,
) -> Attachment:
    """Store an uploaded file for a company (company_id=) or contact (contact_id=)."""
    name = clean_filename(filename)
    content_type = check_type(name)
    try:
        key, size = save_in_transaction(session, storage, stream, max_bytes=max_bytes)
    except TooLarge:
        raise RejectedFile(
            _("The file is larger than %(mb)s MB and was not uploaded.", mb=max_bytes // (1024 * 1024))
        ) from None
    if size == 0:
        storage.delete(key)
        raise RejectedFile(_("The file is empty."))
    attachment = Attachment(
        filename=name, content_type=content_type, size=size, storage_key=key, uploaded_by_id=actor.id, **owner
    )
    session.add(attachment)
    return attachment


def delete(session: Session, actor: Employee, attachment: Attachment) -> None:
    """Move a file to the trash (the stored bytes stay until it is purged)."""
    if not actor.has_permission("file.delete"):
        raise PermissionError("file.delete")
    attachment.deleted_at = utcnow()
    attachment.deleted_by_id = actor.id
