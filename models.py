"""All SQLAlchemy models of the customer register (SQLAlchemy 2 typed mappings)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, cast

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from extensions import Model, db


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --- mixins ----------------------------------------------------------------


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SoftDeleteMixin:
    """Deleting moves a row to the trash; `services.trash` restores or purges it.

    `deleted_at` has no plain index on the registers (companies, contacts): nearly every row is
    live, and an index on it tempts SQLite's planner to read every live row and sort them rather
    than walk the sort column's index. The trash has a partial index of its own
    (KEYSET_INDEXES)."""

    deleted_at: Mapped[datetime | None] = mapped_column()
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class VersionMixin:
    """Optimistic locking: SQLAlchemy bumps `version` on every UPDATE."""

    version: Mapped[int] = mapped_column(nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]  # the mapped class's table


class DefaultVersionMixin(VersionMixin):
    """Optimistic locking on a table that had rows before it had a version: the database starts them at 1
    (migration 0027), so set-based inserts that leave the column out still get one."""

    version: Mapped[int] = mapped_column(nullable=False, server_default=text("1"))


class Audited:
    """Marker: every insert, update and (soft) delete writes an AuditEvent."""

    audit_exclude: tuple[str, ...] = ("updated_at", "version", "created_at")


class InvoiceDefaultsMixin:
    """Defaults copied onto orders and invoices of a customer."""

    invoice_language: Mapped[str] = mapped_column(String(5), default="sv")
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    currency: Mapped[str] = mapped_column(String(3), default="SEK")


def table_of(model: type[Model]) -> Table:
    """The Core table of a mapped class (to a type checker `Model.__table__` is any FROM clause)."""
    return cast(Table, model.__table__)


# --- employees -------------------------------------------------------------

employee_group_members = Table(
    "employee_group_member",
    db.metadata,
    Column("employee_id", ForeignKey("employee.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("employee_group.id", ondelete="CASCADE"), primary_key=True),
)


class EmployeeGroup(Model):
    """Säljgrupp: a standard group or a sales group of employees."""

    __tablename__ = "employee_group"

    KINDS = {"standard": _l("Standard"), "sales": _l("Sales group")}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="standard")

    members: Mapped[list[Employee]] = relationship(secondary=employee_group_members, back_populates="groups")

    def __str__(self) -> str:
        return self.name


class Employee(UserMixin, TimestampMixin, Model):
    """Anställd: an employee, and the login user."""

    __tablename__ = "employee"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(30), default="readonly")
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(5))
    #: Behörigheter: what an administrator granted or revoked beyond the role.
    extra_permissions: Mapped[list | None] = mapped_column(JSON)
    revoked_permissions: Mapped[list | None] = mapped_column(JSON)
    #: The employee's own choice of hidden and ordered modules and card tabs.
    preferences: Mapped[dict | None] = mapped_column(JSON)
    #: Two-factor login (TOTP, services.two_factor): the confirmed secret, one being enrolled,
    #: when it was switched on, and the last time step used (a code is never accepted twice).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]

    groups: Mapped[list[EmployeeGroup]] = relationship(secondary=employee_group_members, back_populates="members")

    #: The login session this object was loaded for (Flask-Login's user id is the session's token,
    #: so ending the session on the server ends its cookie and its remember-me cookie too).
    login_token = None
    login_session = None

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive employees cannot log in
        return self.active

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_secret is not None

    def get_id(self) -> str | None:  # Flask-Login
        return self.login_token

    #: The one permission rule, (employee, permission) → allowed: services.permissions registers it.
    permission_rule: ClassVar[Callable[[Employee, str], bool]]

    def has_permission(self, permission: str) -> bool:
        return type(self).permission_rule(self, permission)

    def __str__(self) -> str:
        return self.name


# --- login security: sessions, throttling, two-factor login ---------------------


class LoginSession(Model):
    """One login of an employee (a browser): ended by logout, by a security change or by time.

    The cookie holds a random token; only its SHA-256 is stored here.
    """

    __tablename__ = "login_session"
    __table_args__ = (Index("ix_login_session_employee_ended", "employee_id", "ended_at"),)

    ENDED_REASONS = {
        "logout": _l("Logged out"),
        "ended_by_user": _l("Ended by the employee"),
        "ended_by_admin": _l("Ended by an administrator"),
        "password_changed": _l("Password changed"),
        "role_changed": _l("Role changed"),
        "deactivated": _l("Employee deactivated"),
        "two_factor_reset": _l("Two-factor login reset"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The absolute end of the session (login + 8 h, or + the remember-me lifetime).
    expires_at: Mapped[datetime]
    remember: Mapped[bool] = mapped_column(default=False)
    #: Logged in with a second factor (a TOTP or recovery code).
    two_factor: Mapped[bool] = mapped_column(default=False)
    #: Two-factor login is required of this employee, who has not enrolled yet: only enrolment is open.
    must_enrol: Mapped[bool] = mapped_column(default=False)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(30))

    employee: Mapped[Employee] = relationship()


class LoginThrottle(Model):
    """Failed logins of one account or one IP address in the current window, and its lock.

    Used when no Redis is configured (services.throttle); the key is a hash, never the e-mail.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class RecoveryCode(Model):
    """A one-time recovery code for two-factor login, stored salted and hashed."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class SecurityPolicy(Model):
    """Administration – Säkerhet: who must log in with two-factor login (one row)."""

    __tablename__ = "security_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    require_two_factor_all: Mapped[bool] = mapped_column(default=False)
    #: Role keys (services.permissions.ROLES) whose employees must use two-factor login.
    require_two_factor_roles: Mapped[list | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- settings: categories and industries ------------------------------------


company_categories = Table(
    "company_category",
    db.metadata,
    Column("company_id", ForeignKey("company.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("category.id", ondelete="CASCADE"), primary_key=True),
)

#: The company search's words index (migrations 0046 and 0047, services.word_index): each word of a live company's
#: search text with its name, and the distinct words. Written by PostgreSQL's triggers; on SQLite by
#: services.word_index.catch_up after the commit.
company_word_entries = Table(
    "company_word_entry",
    db.metadata,
    Column("word", Text, primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Index("ix_company_word_entry_id", "id"),
    sqlite_with_rowid=False,
)

company_words = Table(
    "company_word",
    db.metadata,
    Column("id", Integer, primary_key=True),
    Column("word", Text, nullable=False),
    Index("ix_company_word_word", "word", unique=True),
)

contact_categories = Table(
    "contact_category",
    db.metadata,
    Column("contact_id", ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("category.id", ondelete="CASCADE"), primary_key=True),
)


class Category(Audited, DefaultVersionMixin, Model):
    """Kategori, for companies, contacts or both (e.g. for campaigns)."""

    __tablename__ = "category"

    SCOPES = {
        "company": _l("Companies"),
        "contact": _l("Contacts"),
        "both": _l("Companies and contacts"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    applies_to: Mapped[str] = mapped_column(String(10), default="both")
    description: Mapped[str | None] = mapped_column(Text)

    def __str__(self) -> str:
        return self.name


class Industry(Audited, DefaultVersionMixin, Model):
    """Bransch, optionally with its SNI code."""

    __tablename__ = "industry"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    sni_code: Mapped[str | None] = mapped_column(String(10))

    def __str__(self) -> str:
        return self.name


# --- the register ------------------------------------------------------------


COMPANY_STATUS_LABELS = {
    "active": _l("Active"),
    "inactive": _l("Inactive"),
    "bankrupt": _l("Bankrupt"),
    "liquidated": _l("Liquidated"),
    "merged": _l("Merged"),
}
#: The company statuses a user chooses (form, import, API, Ändra flera): "merged" only a merge sets (services.merge).
COMPANY_STATUSES_CHOSEN = {code: label for code, label in COMPANY_STATUS_LABELS.items() if code != "merged"}
_LEAD_SET_BY_SYSTEM = ("converted", "merged")


class AddressMixin:
    postal_street: Mapped[str | None] = mapped_column(String(200))
    postal_postcode: Mapped[str | None] = mapped_column(String(10))
    postal_city: Mapped[str | None] = mapped_column(String(100))


class ConsentMixin:
    """Rättslig grund and marketing consents by channel (services.consent keeps the rule).

    `consent_<channel>`: None not asked, True given, False declined or withdrawn; `_at` when and
    `_source` how it was recorded (form, import, API …), both stamped by services.consent."""

    #: Rättslig grund: code → label.
    BASES: ClassVar[dict[str, Any]] = {
        "contract": _l("Contract (avtal)"),
        "legitimate_interest": _l("Legitimate interest"),
        "consent": _l("Consent"),
        "legal_obligation": _l("Legal obligation"),
    }
    #: The stamps of a consent: written with it, not audited on their own (the consent change is).
    consent_stamps: ClassVar[tuple[str, ...]] = tuple(
        f"consent_{channel}_{part}" for channel in ("email", "sms", "phone") for part in ("at", "source")
    )

    lawful_basis: Mapped[str | None] = mapped_column(String(30), default="legitimate_interest")
    consent_email: Mapped[bool | None]
    consent_email_at: Mapped[datetime | None]
    consent_email_source: Mapped[str | None] = mapped_column(String(20))
    consent_sms: Mapped[bool | None]
    consent_sms_at: Mapped[datetime | None]
    consent_sms_source: Mapped[str | None] = mapped_column(String(20))
    consent_phone: Mapped[bool | None]
    consent_phone_at: Mapped[datetime | None]
    consent_phone_source: Mapped[str | None] = mapped_column(String(20))


class Company(
    Audited,
    SoftDeleteMixin,
    VersionMixin,
    InvoiceDefaultsMixin,
    AddressMixin,
    TimestampMixin,
    Model,
):
    """Kund / Företag. A supplier is a company with `is_supplier`."""

    __tablename__ = "company"
    #: SQLite: ids are never given again (AUTOINCREMENT), not even the highest one after it is purged: the
    #: audit trail and the merge records name a company by id, and a new company with that id showed the
    #: purged one's history (migration 0045; a contact's and a lead's: 0043). PostgreSQL's sequence never
    #: gives an id twice anyway.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_number: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), default="SE")
    org_number: Mapped[str | None] = mapped_column(String(20))
    vat_number: Mapped[str | None] = mapped_column(String(20))
    #: Organisationsform as the company register names it ("Aktiebolag"), filled from the register.
    legal_form: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), default="active")
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("industry.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    is_supplier: Mapped[bool] = mapped_column(default=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(200))
    visit_street: Mapped[str | None] = mapped_column(String(200))
    visit_postcode: Mapped[str | None] = mapped_column(String(10))
    visit_city: Mapped[str | None] = mapped_column(String(100))
    invoice_street: Mapped[str | None] = mapped_column(String(200))
    invoice_postcode: Mapped[str | None] = mapped_column(String(10))
    invoice_city: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    email_locked: Mapped[bool] = mapped_column(default=False)

    industry: Mapped[Industry | None] = relationship()
    owner: Mapped[Employee | None] = relationship(foreign_keys=[owner_id])
    deleted_by: Mapped[Employee | None] = relationship(foreign_keys="Company.deleted_by_id")
    categories: Mapped[list[Category]] = relationship(secondary=company_categories)
    contact_links: Mapped[list[CompanyContact]] = relationship(back_populates="company", cascade="all, delete-orphan")
    #: Egna fält (read-only here: services.custom_fields writes them).
    custom_values: Mapped[list[CustomFieldValue]] = relationship(viewonly=True)

    @property
    def contacts(self) -> list[Contact]:
        return [link.contact for link in self.contact_links if not link.contact.is_deleted]

    def __str__(self) -> str:
        return self.name


class Contact(
    Audited,
    SoftDeleteMixin,
    VersionMixin,
    InvoiceDefaultsMixin,
    AddressMixin,
    ConsentMixin,
    TimestampMixin,
    Model,
):
    """Kontakt; with a customer number it is a Privatkund (can be invoiced)."""

    __tablename__ = "contact"
    audit_exclude = Audited.audit_exclude + ConsentMixin.consent_stamps
    #: SQLite: ids are never given again (AUTOINCREMENT), not even the highest one after it is purged: the
    #: privacy log and the erasure ledger name an erased person by id, and a new record with that id would
    #: be taken for them (migration 0043). PostgreSQL's sequence never gives an id twice anyway.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_number: Mapped[int | None] = mapped_column(unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    mobile: Mapped[str | None] = mapped_column(String(32))
    personal_number: Mapped[str | None] = mapped_column(String(13))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)

    owner: Mapped[Employee | None] = relationship(foreign_keys=[owner_id])
    deleted_by: Mapped[Employee | None] = relationship(foreign_keys="Contact.deleted_by_id")
    categories: Mapped[list[Category]] = relationship(secondary=contact_categories)
    company_links: Mapped[list[CompanyContact]] = relationship(back_populates="contact", cascade="all, delete-orphan")
    #: Egna fält (read-only here: services.custom_fields writes them).
    custom_values: Mapped[list[CustomFieldValue]] = relationship(viewonly=True)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_private_customer(self) -> bool:
        return self.customer_number is not None

    @property
    def companies(self) -> list[Company]:
        return [link.company for link in self.company_links if not link.company.is_deleted]

    def __str__(self) -> str:
        return self.name


class CompanyContact(Model):
    """A contact's link to a company, with the contact's role there."""

    __tablename__ = "company_contact"
    #: Read a company's or a contact's links at a time, never scanned in parallel (migration 0039).
    __table_args__ = {"postgresql_with": {"parallel_workers": 0}}

    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    company: Mapped[Company] = relationship(back_populates="contact_links")
    contact: Mapped[Contact] = relationship(back_populates="company_links")


# --- the customer card: activities, e-mail, files, projects ---------------------


class Activity(Audited, DefaultVersionMixin, TimestampMixin, Model):
    """Aktivitet: a task, meeting, call or note about a customer or contact."""

    __tablename__ = "activity"

    KINDS = {"task": _l("Task"), "meeting": _l("Meeting"), "call": _l("Call"), "note": _l("Note"), "sms": _l("SMS")}
    #: What an employee plans by hand; an SMS is written when one is sent (services.sms).
    PLANNED_KINDS = ("task", "meeting", "call", "note")
    #: Kinds that record something done: never "open".
    RECORD_KINDS = ("note", "sms")

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="task")
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    done: Mapped[bool] = mapped_column(default=False)
    done_at: Mapped[datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunity.id", ondelete="SET NULL"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"), index=True)

    assignee: Mapped[Employee | None] = relationship(foreign_keys=[assignee_id])
    created_by: Mapped[Employee | None] = relationship(foreign_keys=[created_by_id])
    company: Mapped[Company | None] = relationship()
    contact: Mapped[Contact | None] = relationship()
    opportunity: Mapped[Opportunity | None] = relationship()
    lead: Mapped[Lead | None] = relationship()

    def __str__(self) -> str:
        return self.subject


class EmailMessage(Model):
    """E-post linked to a customer card (sent from it, or filed to it)."""

    __tablename__ = "email_message"

    DIRECTIONS = {"out": _l("Sent"), "in": _l("Received")}

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    #: A lead written to (a mass send from Leads); its conversion moves the message to the contact.
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"), index=True)
    direction: Mapped[str] = mapped_column(String(3), default="out")
    sender: Mapped[str] = mapped_column(String(254))
    recipients: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))

    company: Mapped[Company | None] = relationship()
    contact: Mapped[Contact | None] = relationship()
    lead: Mapped[Lead | None] = relationship()
    created_by: Mapped[Employee | None] = relationship()


class Attachment(SoftDeleteMixin, Model):
    """Filer: a file in a customer's file area, kept in services.storage."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    uploaded_by: Mapped[Employee | None] = relationship(foreign_keys=[uploaded_by_id])

    __table_args__ = (Index("ix_attachment_deleted_at", "deleted_at"),)

    def __str__(self) -> str:
        return self.filename


class Project(TimestampMixin, Model):
    """Projekt, with the customers that take part in it."""

    __tablename__ = "project"

    STATUSES = {"planned": _l("Planned"), "active": _l("In progress"), "done": _l("Finished")}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="active")
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))

    owner: Mapped[Employee | None] = relationship()
    participants: Mapped[list[ProjectParticipant]] = relationship(
        back_populates="project", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:
        return self.name


class ProjectParticipant(Model):
    """A customer taking part in a project, with its role there."""

    __tablename__ = "project_participant"

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[str | None] = mapped_column(String(100))

    project: Mapped[Project] = relationship(back_populates="participants")
    company: Mapped[Company] = relationship()


# --- sales: leads ---------------------------------------------------------------------

lead_categories = Table(
    "lead_category",
    db.metadata,
    Column("lead_id", ForeignKey("lead.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("category.id", ondelete="CASCADE"), primary_key=True),
)


class Lead(Audited, SoftDeleteMixin, VersionMixin, ConsentMixin, TimestampMixin, Model):
    """Lead: a potential customer, converted to a company (and contact) by services.leads. Deleting one
    moves it to the trash with its call-list entries and activities (services.trash), as a customer."""

    __tablename__ = "lead"
    audit_exclude = Audited.audit_exclude + ConsentMixin.consent_stamps
    #: Never given again on SQLite, as a contact's (see Contact).
    __table_args__ = {"sqlite_autoincrement": True}

    STATUSES = {
        "new": _l("New"),
        "contacted": _l("Contacted"),
        "qualified": _l("Qualified"),
        "disqualified": _l("Disqualified"),
        "converted": _l("Converted"),
        "merged": _l("Merged"),
    }
    #: Leads no longer worked: converted, disqualified, or merged into another lead (services.merge).
    CLOSED = ("converted", "disqualified", "merged")
    #: Statuses only the system sets (the conversion, a merge), never chosen (form, import, API, Ändra flera).
    SET_BY_SYSTEM = _LEAD_SET_BY_SYSTEM
    STATUSES_CHOSEN = {code: label for code, label in STATUSES.items() if code not in _LEAD_SET_BY_SYSTEM}

    id: Mapped[int] = mapped_column(primary_key=True)
    company_name: Mapped[str] = mapped_column(String(200))
    org_number: Mapped[str | None] = mapped_column(String(20))
    contact_first_name: Mapped[str | None] = mapped_column(String(100))
    contact_last_name: Mapped[str | None] = mapped_column(String(100))
    contact_title: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    contact_email: Mapped[str | None] = mapped_column(String(254), index=True)
    source: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    #: The customer (and its contact) the lead became; set once, by the conversion.
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    converted_at: Mapped[datetime | None]

    owner: Mapped[Employee | None] = relationship(foreign_keys=[owner_id])
    deleted_by: Mapped[Employee | None] = relationship(foreign_keys="Lead.deleted_by_id")
    categories: Mapped[list[Category]] = relationship(secondary=lead_categories)
    company: Mapped[Company | None] = relationship()
    contact: Mapped[Contact | None] = relationship()

    @property
    def contact_name(self) -> str:
        return f"{self.contact_first_name or ''} {self.contact_last_name or ''}".strip()

    @property
    def is_converted(self) -> bool:
        return self.company_id is not None or self.status == "converted"

    def __str__(self) -> str:
        return self.company_name


# --- sales: call lists ------------------------------------------------------------------


class CallList(Audited, TimestampMixin, Model):
    """Ringlista: leads, companies and contacts to call, in order, worked by its owner."""

    __tablename__ = "call_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)

    owner: Mapped[Employee | None] = relationship()
    entries: Mapped[list[CallListEntry]] = relationship(
        back_populates="call_list", cascade="all, delete-orphan", order_by="CallListEntry.position"
    )

    def __str__(self) -> str:
        return self.name


class CallListEntry(Model):
    """One lead, company or contact on a call list, and the outcome of calling it."""

    __tablename__ = "call_list_entry"

    OUTCOMES = {
        "no_answer": _l("No answer"),
        "call_back": _l("Call back"),
        "not_interested": _l("Not interested"),
        "interested": _l("Interested"),
        "wrong_number": _l("Wrong number"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    call_list_id: Mapped[int] = mapped_column(ForeignKey("call_list.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    outcome: Mapped[str | None] = mapped_column(String(20))
    callback_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    called_at: Mapped[datetime | None]
    called_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))

    call_list: Mapped[CallList] = relationship(back_populates="entries")
    lead: Mapped[Lead | None] = relationship()
    company: Mapped[Company | None] = relationship()
    contact: Mapped[Contact | None] = relationship()
    called_by: Mapped[Employee | None] = relationship()

    @property
    def target(self):
        return self.lead or self.company or self.contact


# --- saved searches ------------------------------------------------------------------


class SavedSearch(TimestampMixin, Model):
    """Sparad sökning: a list's search text and search options kept under a name, to run again."""

    __tablename__ = "saved_search"
    __table_args__ = (UniqueConstraint("owner_id", "view", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: The endpoint of the list it searches (company, contact, lead …).
    view: Mapped[str] = mapped_column(String(50))
    #: The list's query string: `search`, the `flt…` options and the sort.
    query: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"), index=True)
    shared: Mapped[bool] = mapped_column(default=False)

    owner: Mapped[Employee] = relationship()

    def __str__(self) -> str:
        return self.name


# --- sales: stages and opportunities ------------------------------------------------


class SalesStage(Audited, DefaultVersionMixin, Model):
    """Säljsteg: a step of the sales process with its default probability."""

    __tablename__ = "sales_stage"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    probability: Mapped[int] = mapped_column(default=0)
    is_won: Mapped[bool] = mapped_column(default=False)
    is_lost: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    def __str__(self) -> str:
        return self.name


class Opportunity(Audited, VersionMixin, TimestampMixin, Model):
    """Säljmöjlighet: a deal with a customer (a company or a private customer).

    Changes of stage, amount, owner, probability and close date are kept as
    OpportunityChange rows by services.sales.
    """

    __tablename__ = "opportunity"

    KINDS = {"new": _l("New customer"), "existing": _l("Existing customer"), "renewal": _l("Renewal")}

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"), index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("sales_stage.id"), index=True)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    probability: Mapped[int | None]
    close_date: Mapped[date | None] = mapped_column(index=True)
    source: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str | None] = mapped_column(String(20))
    lost_reason: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)

    company: Mapped[Company | None] = relationship(active_history=True)
    contact: Mapped[Contact | None] = relationship(active_history=True)
    owner: Mapped[Employee | None] = relationship(active_history=True)
    stage: Mapped[SalesStage] = relationship(active_history=True)
    changes: Mapped[list[OpportunityChange]] = relationship(
        back_populates="opportunity", cascade="all, delete-orphan", order_by="OpportunityChange.id.desc()"
    )

    @property
    def customer(self) -> Company | Contact | None:
        return self.company or self.contact

    @property
    def is_deleted(self) -> bool:
        """An opportunity goes to the trash with its customer (in SQL: search.customer_live)."""
        customer = self.customer
        return customer is not None and customer.is_deleted

    def __str__(self) -> str:
        return self.title


class OpportunityChange(Model):
    """One change in an opportunity's history: who, when, which field, from → to."""

    __tablename__ = "opportunity_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunity.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    field: Mapped[str] = mapped_column(String(30))
    old_value: Mapped[str | None] = mapped_column(String(200))
    new_value: Mapped[str | None] = mapped_column(String(200))

    opportunity: Mapped[Opportunity] = relationship(back_populates="changes")
    actor: Mapped[Employee | None] = relationship()


# --- infrastructure ------------------------------------------------------------


class NumberSequence(Model):
    """A named counter (e.g. customer numbers), advanced atomically in services.numbering."""

    __tablename__ = "number_sequence"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


class AuditEvent(Model):
    """Historik: who changed what, when, old → new."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[int]
    #: What the entity was called then, so history reads well even after a purge.
    entity_label: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    changes: Mapped[dict | None] = mapped_column(JSON)
    #: The import job that made the change (set-based import writes), if any.
    import_job_id: Mapped[int | None] = mapped_column(ForeignKey("import_job.id", ondelete="SET NULL"), index=True)
    #: The API key the change was made through (Administration – Integrationer), if any. No foreign
    #: key: keys are revoked, never deleted, and adding one would make SQLite copy the whole table.
    api_key_id: Mapped[int | None] = mapped_column(index=True)

    actor: Mapped[Employee | None] = relationship()
    #: Named in Historik ("Import: kunder.csv, jobb 12") for a change an import made.
    import_job: Mapped[ImportJob | None] = relationship()
    api_key: Mapped[ApiKey | None] = relationship(primaryjoin="foreign(AuditEvent.api_key_id) == ApiKey.id")


# --- import (Administration – Import) -------------------------------------------


class ImportJob(TimestampMixin, Model):
    """One import of a CSV/XLSX file: its settings, the dry-run result and the run's state.

    The job's truth lives here, not in a process or in the task queue: any web
    process (and a reloaded page) reads the progress, the cancel flag reaches the
    queue worker doing the work, and a write records its last committed batch
    (`batches_done`) in the same transaction as the batch, so another worker can
    take a job over from there when its worker dies (services.importing.jobs).
    """

    __tablename__ = "import_job"

    STATUSES = {
        "uploaded": _l("Uploaded"),
        "checked": _l("Checked"),
        "queued": _l("Waiting to start"),
        "running": _l("Running"),
        "done": _l("Finished"),
        "failed": _l("Failed"),
        "cancelled": _l("Aborted"),  # not "Cancelled": that is an invoice's (Makulerad)
        "undone": _l("Undone"),
        "undoing": _l("Being undone"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(10), default="create")
    match_key: Mapped[str | None] = mapped_column(String(30))
    all_or_nothing: Mapped[bool] = mapped_column(default=False)
    mapping: Mapped[dict | None] = mapped_column(JSON)
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str | None] = mapped_column(String(64))
    file_size: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(12), default="uploaded", index=True)
    dry_run: Mapped[bool] = mapped_column(default=True)
    total_rows: Mapped[int | None]
    rows_done: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    unchanged_count: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    #: Rows the dry run found likely already in the register (imported all the same; see ImportRowError.kind).
    notice_count: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Categories the file names that do not exist yet (created by the import).
    new_categories: Mapped[list | None] = mapped_column(JSON)
    error_summary: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    #: When the job was last put in the queue (for its place in the queue and lost queue messages).
    queued_at: Mapped[datetime | None]
    #: The queue's id of the task that runs the job (its place in the queue).
    task_id: Mapped[str | None] = mapped_column(String(64))
    #: The current run's token: only the worker holding it may write the job's batches.
    claim: Mapped[str | None] = mapped_column(String(64))
    #: The worker running (or that last ran) the job: host, process and thread.
    worker: Mapped[str | None] = mapped_column(String(200))
    #: Batches of rows written and committed by this pass (a resumed pass starts after them).
    batches_done: Mapped[int] = mapped_column(default=0)
    #: How often the job was taken over from a worker that died, and when last.
    resumed_count: Mapped[int] = mapped_column(default=0)
    resumed_at: Mapped[datetime | None]
    #: The sheet of an XLSX file with several (None: the first).
    sheet: Mapped[str | None] = mapped_column(String(100))
    #: An undo's progress and outcome: the status it started from, its committed batches, its counts.
    undo_result: Mapped[dict | None] = mapped_column(JSON)
    undone_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))

    created_by: Mapped[Employee | None] = relationship(foreign_keys=[created_by_id])
    undone_by: Mapped[Employee | None] = relationship(foreign_keys=[undone_by_id])

    def __str__(self) -> str:
        return self.filename


class ImportRowError(Model):
    """One problem with one cell (or row) of an import file, for the preview and the error file.

    `kind` "error": the row is not imported; "notice": the row is, but it looks like the record
    `record_kind` (company, contact or lead) `record_id` already in the register."""

    __tablename__ = "import_row_error"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_job.id", ondelete="CASCADE"), index=True)
    row: Mapped[int]
    column: Mapped[str | None] = mapped_column(String(200))
    value: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10), default="error", server_default="error")
    record_kind: Mapped[str | None] = mapped_column(String(10))
    record_id: Mapped[int | None]


class ImportMapping(TimestampMixin, Model):
    """A saved column mapping (file header → field) for one kind of import, reused by name."""

    __tablename__ = "import_mapping"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(20))
    mapping: Mapped[dict] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))

    def __str__(self) -> str:
        return self.name


__all__ = [
    "Activity",
    "Attachment",
    "AuditEvent",
    "CallList",
    "CallListEntry",
    "EmailMessage",
    "Project",
    "ProjectParticipant",
    "Category",
    "Company",
    "CompanyContact",
    "Contact",
    "Employee",
    "EmployeeGroup",
    "ImportJob",
    "ImportMapping",
    "ImportRowError",
    "Industry",
    "Lead",
    "NumberSequence",
    "Opportunity",
    "OpportunityChange",
    "SalesStage",
    "SavedSearch",
]


# --- reports: saved report-generator definitions ------------------------------------------------


class ReportDefinition(TimestampMixin, Model):
    """A saved Rapportgenerator report: what it reports on, its conditions, columns and sort.

    `definition` is the JSON services.report_generator reads and writes; a shared
    report is listed for everybody, and runs with the permissions of whoever runs it
    (its "Kundansvarig: mig själv" means the one running it).
    """

    __tablename__ = "report_definition"
    __table_args__ = (db.UniqueConstraint("owner_id", "name", name="uq_report_definition_owner_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"), index=True)
    shared: Mapped[bool] = mapped_column(default=False)
    entity: Mapped[str] = mapped_column(String(30))
    definition: Mapped[dict] = mapped_column(JSON)

    owner: Mapped[Employee | None] = relationship()

    #: What it reports on, in the reader's language (not stored: services.report_generator sets it).
    entity_label = ""

    def __str__(self) -> str:
        return self.name


__all__.append("ReportDefinition")
# --- invoicing: products, orders and invoices -----------------------------------------

#: The Swedish VAT rates (moms), in percent.
VAT_RATES = (Decimal("25"), Decimal("12"), Decimal("6"), Decimal("0"))


class Product(Audited, DefaultVersionMixin, TimestampMixin, Model):
    """Produkt: what is sold on order and invoice lines."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    unit: Mapped[str] = mapped_column(String(10), default="st")
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("25"))
    active: Mapped[bool] = mapped_column(default=True)

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class SalesDocumentMixin:
    """What an order and an invoice share: customer, references, currency, language, totals.

    The totals are written by services.invoicing from services.money whenever
    the lines change, so lists and sums are plain SQL.
    """

    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    #: Vår referens (an employee) and Er referens (a contact at the customer).
    our_reference_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    their_reference_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    currency: Mapped[str] = mapped_column(String(3), default="SEK")
    language: Mapped[str] = mapped_column(String(5), default="sv")
    note: Mapped[str | None] = mapped_column(Text)
    net_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    vat_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    rounding: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))

    @declared_attr
    def company(cls: Any) -> Mapped[Company | None]:
        return relationship(foreign_keys=[cls.company_id])

    @declared_attr
    def contact(cls: Any) -> Mapped[Contact | None]:
        return relationship(foreign_keys=[cls.contact_id])

    @declared_attr
    def our_reference(cls: Any) -> Mapped[Employee | None]:
        return relationship(foreign_keys=[cls.our_reference_id])

    @declared_attr
    def their_reference(cls: Any) -> Mapped[Contact | None]:
        return relationship(foreign_keys=[cls.their_reference_id])

    @declared_attr
    def created_by(cls: Any) -> Mapped[Employee | None]:
        return relationship(foreign_keys=[cls.created_by_id])

    @property
    def customer(self) -> Company | Contact | None:
        return self.company or self.contact


class SalesLineMixin:
    """One line of an order or invoice: a product or free text, with its own VAT rate.

    `amount` is the line's net amount after the line discount (services.money).
    """

    position: Mapped[int] = mapped_column(default=0)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=Decimal("1"))
    unit: Mapped[str | None] = mapped_column(String(10))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("25"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))

    @declared_attr
    def product(cls: Any) -> Mapped[Product | None]:
        return relationship()


class SalesOrder(Audited, SalesDocumentMixin, VersionMixin, TimestampMixin, Model):
    """Order: numbered when created; confirmed, then turned into an invoice."""

    __tablename__ = "sales_order"

    STATUSES = {
        "draft": _l("Draft"),
        "confirmed": _l("Confirmed"),
        "invoiced": _l("Invoiced"),
        "cancelled": _l("Cancelled"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    order_date: Mapped[date] = mapped_column(index=True)
    delivery_date: Mapped[date | None]

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.position"
    )

    def __str__(self) -> str:
        return f"Order {self.number}"


class OrderLine(SalesLineMixin, Model):
    __tablename__ = "order_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id", ondelete="CASCADE"), index=True)

    order: Mapped[SalesOrder] = relationship(back_populates="lines")


class Invoice(Audited, SalesDocumentMixin, VersionMixin, TimestampMixin, Model):
    """Faktura. A draft has no number; sending gives it the next number of a
    gap-free sequence, and from then on it is never edited (it is credited)."""

    __tablename__ = "invoice"

    STATUSES = {
        "draft": _l("Draft"),
        "sent": _l("Sent"),
        "paid": _l("Paid"),
        "credited": _l("Credited"),
        "cancelled": _l("Cancelled"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int | None] = mapped_column(unique=True)
    ocr: Mapped[str | None] = mapped_column(String(25))
    invoice_date: Mapped[date | None] = mapped_column(index=True)
    due_date: Mapped[date | None] = mapped_column(index=True)
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    sent_at: Mapped[datetime | None]
    paid_at: Mapped[date | None]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_order.id", ondelete="SET NULL"), index=True)
    #: A credit invoice names the invoice it credits.
    credited_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    #: Bokföringslagen: the buyer's name and address kept on an issued invoice after the person was
    #: erased (services.privacy), until `retained_until`; then the retention task anonymises them.
    retained_name: Mapped[str | None] = mapped_column(String(200))
    retained_address: Mapped[str | None] = mapped_column(String(300))
    retained_until: Mapped[date | None] = mapped_column(index=True)

    order: Mapped[SalesOrder | None] = relationship()
    credited_invoice: Mapped[Invoice | None] = relationship(remote_side=[id], foreign_keys=[credited_invoice_id])
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.position"
    )

    @property
    def is_credit(self) -> bool:
        return self.credited_invoice_id is not None

    def __str__(self) -> str:
        return f"Faktura {self.number}" if self.number else f"Fakturautkast {self.id}"


class InvoiceLine(SalesLineMixin, Model):
    __tablename__ = "invoice_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"), index=True)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


# --- Egna fält: custom tabs and fields on the customer card -------------------------------


class CustomTab(Model):
    """Egen flik: a tab of the company card or the contact card holding custom fields."""

    __tablename__ = "custom_tab"
    __table_args__ = (UniqueConstraint("applies_to", "name", name="uq_custom_tab_applies_to_name"),)

    #: The cards a tab can be on: companies (and suppliers), contacts (and private customers).
    KINDS = {"company": _l("Companies and suppliers"), "contact": _l("Contacts and private customers")}

    id: Mapped[int] = mapped_column(primary_key=True)
    applies_to: Mapped[str] = mapped_column(String(10), default="company")
    name: Mapped[str] = mapped_column(String(50))
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    fields: Mapped[list[CustomFieldDefinition]] = relationship(
        back_populates="tab", order_by="[CustomFieldDefinition.sort_order, CustomFieldDefinition.id]"
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.KINDS.get(self.applies_to, self.applies_to)})"


class CustomFieldDefinition(Model):
    """Eget fält: a field an administrator added to a custom tab; values in CustomFieldValue."""

    __tablename__ = "custom_field_definition"
    __table_args__ = (UniqueConstraint("tab_id", "label", name="uq_custom_field_definition_tab_label"),)

    TYPES = {
        "text": _l("Text"),
        "longtext": _l("Long text"),
        "number": _l("Numeric"),
        "date": _l("Date"),
        "bool": _l("Yes/no"),
        "choice": _l("Choice from a list"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    tab_id: Mapped[int] = mapped_column(ForeignKey("custom_tab.id"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    field_type: Mapped[str] = mapped_column(String(10), default="text")
    #: The choices of a choice field, one a line.
    choices: Mapped[str | None] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(default=0)
    required: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    tab: Mapped[CustomTab] = relationship(back_populates="fields")

    @property
    def applies_to(self) -> str:
        return self.tab.applies_to

    @property
    def choice_list(self) -> list[str]:
        return [line.strip() for line in (self.choices or "").splitlines() if line.strip()]

    def __str__(self) -> str:
        return self.label


class CustomFieldValue(Model):
    """The value of one custom field on one company or contact, in the column of its type.

    A typed EAV table rather than a JSON document: each type has its own SQL
    column (text, number, date, yes/no), so the Rapportgenerator filters and
    sorts on them in SQL, numbers as numbers and dates as dates, on SQLite and
    PostgreSQL alike. A choice is stored as its text. The customer is a company
    or a contact (never both); one value per customer and field.
    """

    __tablename__ = "custom_field_value"
    __table_args__ = (
        UniqueConstraint("field_id", "company_id", name="uq_custom_field_value_field_company"),
        UniqueConstraint("field_id", "contact_id", name="uq_custom_field_value_field_contact"),
        CheckConstraint("(company_id IS NULL) <> (contact_id IS NULL)", name="one_customer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_field_definition.id"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    value_text: Mapped[str | None] = mapped_column(Text)
    value_number: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    value_date: Mapped[date | None]
    value_bool: Mapped[bool | None]

    field: Mapped[CustomFieldDefinition] = relationship()


__all__ += ["CustomTab", "CustomFieldDefinition", "CustomFieldValue"]


# --- Dubbletter: duplicate pairs, merges and mass updates ------------------------------------


class DuplicatePair(Model):
    """Two companies, contacts or leads that look like the same one (services.duplicates).

    Written by the background scan with a score and its reasons; a pair marked
    "inte dubbletter" keeps `dismissed_at` and is never listed again. The lower id is `low_id`.
    Ids are not foreign keys: the pair names rows of one of several tables, like AuditEvent.
    """

    __tablename__ = "duplicate_pair"
    __table_args__ = (
        UniqueConstraint("entity_type", "low_id", "high_id", name="uq_duplicate_pair"),
        Index("ix_duplicate_pair_list", "entity_type", "dismissed_at", "score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(20))
    low_id: Mapped[int]
    high_id: Mapped[int]
    score: Mapped[int]
    #: Reason keys (services.duplicates.REASONS), strongest first.
    reasons: Mapped[list] = mapped_column(JSON)
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
    dismissed_at: Mapped[datetime | None]
    dismissed_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))

    dismissed_by: Mapped[Employee | None] = relationship()


class DuplicateScan(Model):
    """The state of the background duplicate scan of one register (one row per entity type)."""

    __tablename__ = "duplicate_scan"

    entity_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="idle")
    requested_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: Records changed since this moment are checked again by the incremental scan.
    checked_until: Mapped[datetime | None]
    records: Mapped[int] = mapped_column(default=0)
    pairs: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)


class MergeRecord(Model):
    """One merge: which record was kept, which was merged into it, and everything needed to undo it.

    `fields` holds the kept record's values before and after ({field: [old, new]}), `merged_fields`
    the merged record's own changes (trash, status), `moved` the rows moved ({"table.column": [keys]}).
    """

    __tablename__ = "merge_record"
    __table_args__ = (Index("ix_merge_record_survivor", "entity_type", "survivor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(20))
    survivor_id: Mapped[int]
    merged_id: Mapped[int] = mapped_column(index=True)
    merged_label: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    fields: Mapped[dict] = mapped_column(JSON)
    merged_fields: Mapped[dict] = mapped_column(JSON)
    moved: Mapped[dict] = mapped_column(JSON)
    undone_at: Mapped[datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))

    actor: Mapped[Employee | None] = relationship(foreign_keys=[actor_id])
    undone_by: Mapped[Employee | None] = relationship(foreign_keys=[undone_by_id])


class MassUpdate(Model):
    """One "Ändra flera" (mass update) of a list's rows: what was set, and each row's old values to undo it."""

    __tablename__ = "mass_update"

    STATUSES = {
        "queued": _l("Waiting to start"),
        "running": _l("Running"),
        "done": _l("Finished"),
        "failed": _l("Failed"),
        "undone": _l("Undone"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    #: The ids to change (kept so a worker can run it) and the changes ({field: value}).
    target_ids: Mapped[list] = mapped_column(JSON)
    changes: Mapped[dict] = mapped_column(JSON)
    #: {id: {field: old value}} of the rows actually changed.
    previous: Mapped[dict | None] = mapped_column(JSON)
    row_count: Mapped[int] = mapped_column(default=0)
    #: Targets left unchanged because they are an erased person's record (read-only: services.privacy).
    erased_count: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None]
    undone_at: Mapped[datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))

    actor: Mapped[Employee | None] = relationship(foreign_keys=[actor_id])


__all__ += ["DuplicatePair", "DuplicateScan", "MergeRecord", "MassUpdate"]
# --- the company register (Företagsuppslag, services.registry) ------------------------------


class RegistryLoad(Model):
    """One load of Bolagsverket's bulk file; the one `active` is what look-ups read."""

    __tablename__ = "registry_load"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(255))
    #: The date of the data (the file's own date), shown beside every look-up.
    data_date: Mapped[date]
    row_count: Mapped[int] = mapped_column(default=0)
    active_count: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    #: loading, active, replaced or failed
    status: Mapped[str] = mapped_column(String(10), default="loading")


class RegistryCompany(Model):
    """A company of the register as the latest load has it. Replaced as a whole by each load
    (services.registry_loader builds the next table beside this one and switches)."""

    __tablename__ = "registry_company"

    #: The row's number in the file (no sequence: the table is rebuilt by each load).
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    org_number: Mapped[str] = mapped_column(String(12), index=True)
    #: The name, folded as services.search folds text (lower case, accents but å, ä, ö folded):
    #: what the prefix and trigram indexes hold.
    search_name: Mapped[str] = mapped_column(String(250))
    name: Mapped[str] = mapped_column(String(250))
    legal_form: Mapped[str | None] = mapped_column(String(10))
    registered_on: Mapped[date | None]
    deregistered_on: Mapped[date | None]
    deregistration_reason: Mapped[str | None] = mapped_column(String(100))
    business_description: Mapped[str | None] = mapped_column(Text)
    postal_co: Mapped[str | None] = mapped_column(String(200))
    postal_street: Mapped[str | None] = mapped_column(String(200))
    postal_postcode: Mapped[str | None] = mapped_column(String(10))
    postal_city: Mapped[str | None] = mapped_column(String(100))

    @property
    def is_active(self) -> bool:
        return self.deregistered_on is None


# --- the REST API: keys of integrations (Administration – Integrationer) ----------------------


class ApiKey(TimestampMixin, Model):
    """A key an integration calls /api/v1/ with; it acts as its employee, with that employee's permissions.

    The key itself is shown once; only its SHA-256 is stored, and its first characters (`prefix`)
    so people can tell keys apart.
    """

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))

    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    created_by: Mapped[Employee | None] = relationship(foreign_keys=[created_by_id])

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class WebhookSubscription(TimestampMixin, Model):
    """A URL an administrator subscribed to events of the register (services.webhooks).

    Each delivery is signed with `secret` (HMAC-SHA256). Internal addresses (loopback, private
    ranges) are refused unless `allow_internal` was set on purpose.
    """

    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    #: The event names (services.webhooks.EVENTS) delivered to the URL.
    events: Mapped[list] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    allow_internal: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))

    created_by: Mapped[Employee | None] = relationship()

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(Model):
    """One event sent (or being sent) to one subscription: the payload, and how sending went."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_subscription_id_id", "subscription_id", "id"),)

    STATUSES = {
        "pending": _l("Waiting"),
        "sending": _l("Sending"),
        "retrying": _l("Will be retried"),
        "delivered": _l("Delivered"),
        "failed": _l("Failed"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    response_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(300))

    subscription: Mapped[WebhookSubscription] = relationship()


__all__ += ["ApiKey", "WebhookSubscription", "WebhookDelivery"]


# --- Dataskydd (services.privacy) -------------------------------------------------------------


class PrivacyEvent(Model):
    """One register extract, erasure or retention run of Administration – Dataskydd.

    Holds no personal data: who acted, on which record (type and id), what was done, counts per
    place (`summary`), and for an erasure the rows whose text may still name the person (`review`,
    [[table, id], …]) and the date retained invoice data is anonymised.
    """

    __tablename__ = "privacy_event"
    __table_args__ = (Index("ix_privacy_event_subject", "subject_type", "subject_id"),)

    ACTIONS = {
        "extract": _l("Register extract"),
        "erase": _l("Erasure"),
        "retention": _l("Retention: invoice data anonymised"),
        "retention_rule": _l("Retention rule run"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(20))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int]
    summary: Mapped[dict | None] = mapped_column(JSON)
    review: Mapped[list | None] = mapped_column(JSON)
    retained_until: Mapped[date | None]

    actor: Mapped[Employee | None] = relationship()


class RetentionRule(Model):
    """Gallring: an administrator's rule for erasing people the register no longer needs
    (services.retention), run every night by the task queue, or at once from Dataskydd."""

    __tablename__ = "retention_rule"

    #: What a rule selects; `months` is how long untouched.
    KINDS = {
        "lead_untouched": _l("Leads not converted and untouched for"),
        "contact_inactive_customer": _l("Contacts of customers inactive for"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    months: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    last_run_at: Mapped[datetime | None]

    created_by: Mapped[Employee | None] = relationship()

    def __str__(self) -> str:
        return f"{self.KINDS.get(self.kind, self.kind)} {self.months}"


__all__ += ["PrivacyEvent", "RetentionRule"]


# --- indexes the lists page and sort by (services.paging) -----------------------------------
#
# A list is read by key: ORDER BY <sort column(s)>, id from a bound on them, so each sortable
# column has an index on (column…, id) that the database walks from the page's first row on
# instead of sorting the table (migration 0016). Filters that lists combine with the name sort
# (Kundansvarig, kategori) have theirs too. Each also serves whatever an index on its first column alone would
# (look-ups, foreign-key checks): the table has none such (migration 0040 dropped them).

#: table → indexes, each (columns…) or ((columns…), where), the partial index's condition as SQL.
KEYSET_INDEXES: dict[str, list] = {
    "company": [
        ("name", "id"),
        ("customer_number", "id"),
        ("org_number", "id"),
        ("postal_city", "id"),
        ("owner_id", "name", "id"),
        # Leverantörer, and the start page's count of them
        ("is_supplier", "name", "id"),
        # the trash: deleted rows only, newest first
        (("deleted_at", "id"), "deleted_at IS NOT NULL"),
    ],
    "company_category": [("category_id", "company_id")],
    "contact": [
        ("last_name", "first_name", "id"),
        ("first_name", "id"),
        ("customer_number", "id"),
        (("deleted_at", "id"), "deleted_at IS NOT NULL"),
    ],
    "contact_category": [("category_id", "contact_id")],
    "lead": [
        ("created_at", "id"),
        ("company_name", "id"),
        ("org_number", "id"),
        (("deleted_at", "id"), "deleted_at IS NOT NULL"),
    ],
    "call_list": [("created_at", "id"), ("name", "id")],
    "opportunity": [("close_date", "id"), ("title", "id"), ("amount", "id")],
    "sales_order": [("order_date", "id"), ("number", "id"), ("total", "id")],
    "invoice": [("invoice_date", "id"), ("due_date", "id"), ("number", "id"), ("total", "id")],
    "product": [("number", "id"), ("name", "id"), ("price", "id")],
    "employee": [("name", "id")],
    "sales_stage": [("sort_order", "id")],
    "custom_tab": [("applies_to", "sort_order", "id")],
    "custom_field_definition": [("tab_id", "sort_order", "id")],
    # Mina aktiviteter on the start page: an employee's open activities by due date.
    "activity": [("assignee_id", "done", "due_at", "id")],
}


def keyset_index_name(table: str, columns: tuple[str, ...]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


for _table, _indexes in KEYSET_INDEXES.items():
    for _index in _indexes:
        _columns, _where = (_index[0], _index[1]) if isinstance(_index[0], tuple) else (_index, None)
        _partial: dict[str, Any] = {"postgresql_where": text(_where), "sqlite_where": text(_where)} if _where else {}
        Index(keyset_index_name(_table, _columns), *(db.metadata.tables[_table].c[c] for c in _columns), **_partial)


#: The columns a batch of new records' keys are looked up in, for their likely duplicates in the register
#: (services.duplicates.RegisterLookup: an import's dry run); e-mail addresses compared in lower case (a
#: contact is found by its e-mail in any case: the API's ?email=, a lead's conversion), stored as typed.
#: The lower-case ones on PostgreSQL only: on SQLite lower() is the app's own Unicode-aware function
#: (app.py), and an index over it is "damaged" to any connection without it (SQLite's integrity check of
#: a backup); SQLite has an index with its built-in NOCASE collation instead.
DUPLICATE_KEY_INDEXES = [
    Index("ix_company_email_lower", func.lower(Company.email)).ddl_if(dialect="postgresql"),
    Index("ix_company_phone", Company.phone),
    Index("ix_contact_email_lower", func.lower(Contact.email)).ddl_if(dialect="postgresql"),
    Index("ix_contact_phone", Contact.phone),
    Index("ix_contact_mobile", Contact.mobile),
    Index("ix_contact_personal_number", Contact.personal_number),
    Index("ix_lead_contact_email_lower", func.lower(Lead.contact_email)).ddl_if(dialect="postgresql"),
    Index("ix_lead_contact_phone", Lead.contact_phone),
    # SQLite's own NOCASE collation instead (migration 0037; services.duplicates.email_condition)
    Index("ix_company_email_nocase", Company.email.collate("NOCASE")).ddl_if(dialect="sqlite"),
    Index("ix_contact_email_nocase", Contact.email.collate("NOCASE")).ddl_if(dialect="sqlite"),
    Index("ix_lead_contact_email_nocase", Lead.contact_email.collate("NOCASE")).ddl_if(dialect="sqlite"),
]


# --- Massutskick (services.mass_messages) -------------------------------------------------------


class MassMessage(Model):
    """One mass e-mail or SMS from a list (Kontakter, Privatkunder, Leads): the text, who it goes to
    (ids only: addresses are read from the records when each message goes out), and how far the
    worker sending it has come. `claim` is the token of the worker sending it; every write of the
    progress names it, so a worker taken for dead that wakes up writes nothing."""

    __tablename__ = "mass_message"

    STATUSES = {
        "queued": _l("Waiting to start"),
        "running": _l("Sending"),
        "done": _l("Finished"),
        "failed": _l("Failed"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    entity_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id", ondelete="SET NULL"))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    #: The records the send goes to, in order, and the next one's index.
    target_ids: Mapped[list] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(default=0)
    sent_count: Mapped[int] = mapped_column(default=0)
    failed_count: Mapped[int] = mapped_column(default=0)
    #: {reason: count} of the records left out, when confirmed and when their turn came.
    skipped: Mapped[dict] = mapped_column(JSON)
    #: [[record id, why it failed], …] (the first ones).
    failures: Mapped[list | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(String(64))
    claim: Mapped[str | None] = mapped_column(String(64))
    heartbeat_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    actor: Mapped[Employee | None] = relationship()


__all__ += ["MassMessage"]
