"""E-post from the customer card: sent through the configured SMTP server, then
kept on the card's E-post tab. A message that could not be sent is not kept."""

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, make_msgid

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from models import Company, EmailMessage, Employee, Lead
from services import validation
from services.validation import InvalidValue

SUBJECT_MAX = 300
BODY_MAX = 100_000


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls, ssl or none
    user: str = ""
    password: str = ""
    timeout: float = 20

    @classmethod
    def from_config(cls, config) -> "SmtpSettings | None":
        """The app's SMTP server, or None when sending e-mail is not set up."""
        if not config.get("SMTP_HOST"):
            return None
        return cls(
            config["SMTP_HOST"],
            config["SMTP_PORT"],
            config["SMTP_SECURITY"],
            config["SMTP_USER"],
            config["SMTP_PASSWORD"],
        )


def not_set_up_message(employee: Employee) -> str:
    """What the e-mail page says when no e-mail server is set up: who to ask, or, to an
    administrator, which settings of the server's environment set it up (a seller sees no setting names)."""
    if employee is not None and employee.has_permission("settings.manage"):
        return _(
            "E-mail cannot be sent: no e-mail server is set up. Whoever runs the server sets it in the server's "
            "environment: CRM_SMTP_HOST (the e-mail server) and, where that server needs them, CRM_SMTP_PORT, "
            "CRM_SMTP_SECURITY (starttls, ssl or none), CRM_SMTP_USER and CRM_SMTP_PASSWORD; then the application "
            "is restarted."
        )
    return _("E-mail cannot be sent: no e-mail server is set up. Ask your administrator to set one up.")


class SendFailed(Exception):
    """The SMTP server could not be reached or refused the message; the text is for the user."""


def addresses(value: str | None) -> list[str]:
    """Comma- or semicolon-separated e-mail addresses, each validated and normalised."""
    parts = [p.strip() for p in (value or "").replace(";", ",").split(",") if p.strip()]
    valid = []
    for part in parts:
        try:
            address = validation.email(part)
        except InvalidValue:
            raise InvalidValue(_("%(address)s is not a valid e-mail address.", address=part)) from None
        if address:
            valid.append(address)
    return valid


def compose(sender: Employee, to: list[str], cc: list[str], subject: str, body: str) -> MimeMessage:
    """The MIME message as it goes out: from the employee, UTF-8 throughout."""
    message = MimeMessage()
    message["From"] = formataddr((sender.name, sender.email))
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.email.rpartition("@")[2] or None)
    message.set_content(body)
    return message


class Connection:
    """One session with the SMTP server for many messages (Massutskick: a login per message is slow and
    servers limit how often one may connect). Opened at the first message; after an error it is closed
    and the next message opens a new one, so one refused message does not stop the rest."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _open(self) -> smtplib.SMTP:
        settings, context = self.settings, ssl.create_default_context()
        smtp = (
            smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
            if settings.security == "ssl"
            else smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        )
        try:
            if settings.security == "starttls":
                smtp.starttls(context=context)
            if settings.user:
                smtp.login(settings.user, settings.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def deliver(self, message: MimeMessage) -> None:
        """Send `message`; SendFailed, with the reason for the user, when the server does not take it."""
        try:
            if self._smtp is not None:
                try:
                    self._smtp.send_message(message)
                    return
                except smtplib.SMTPServerDisconnected:  # it closed the idle session: once more on a new one
                    self._smtp = None
            self._smtp = self._open()
            self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:  # the session is still good: the next message uses it
            raise SendFailed(
                _("The e-mail server refused the recipient %(address)s.", address=", ".join(exc.recipients))
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            raise SendFailed(
                _("The e-mail server did not accept the login. Ask your administrator to check the settings.")
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise SendFailed(
                _(
                    "The e-mail could not be sent: the e-mail server did not answer or refused the message "
                    "(%(reason)s). Nothing was saved; try again later.",
                    reason=exc.__class__.__name__,
                )
            ) from exc


def send(
    session: Session,
    settings: SmtpSettings | None,
    sender: Employee,
    customer,
    *,
    to: str,
    subject: str,
    body: str,
    cc: str = "",
    contact=None,
    connection: Connection | None = None,
) -> EmailMessage:
    """Send an e-mail about `customer` (a company, contact or lead; `contact`: a company's contact
    it was written to) and keep it on the card; the caller commits. `connection`: an open session
    with the server to send it through (else one is made for this message).

    Raises InvalidValue for bad input and SendFailed when the server does not take it;
    in both cases nothing is added to the session.
    """
    if settings is None:
        raise SendFailed(not_set_up_message(sender))
    recipients, copies = addresses(to), addresses(cc)
    if not recipients:
        raise InvalidValue(_("Give at least one recipient."))
    subject, body = clean_text(subject, body)
    message = compose(sender, recipients, copies, subject, body)
    if connection is not None:
        connection.deliver(message)
    else:
        with Connection(settings) as single:
            single.deliver(message)
    if isinstance(customer, Company):
        owner = {"company": customer, "contact": contact}
    else:
        owner = {"lead": customer} if isinstance(customer, Lead) else {"contact": customer}
    stored = EmailMessage(
        direction="out",
        sender=sender.email,
        recipients=", ".join(recipients + copies),
        subject=subject,
        body=body,
        created_by=sender,
        **owner,
    )
    session.add(stored)
    return stored


def clean_text(subject: str | None, body: str | None) -> tuple[str, str]:
    """The subject and message as they are sent; InvalidValue when the subject is missing or either is too long."""
    # A subject is one line: line breaks (only a hand-made request has them) become spaces.
    subject, body = " ".join((subject or "").split()), (body or "").strip()
    if not subject:
        raise InvalidValue(_("Give the e-mail a subject."))
    if len(subject) > SUBJECT_MAX or len(body) > BODY_MAX:
        raise InvalidValue(
            _(
                "The subject may be at most %(subject)s and the message at most %(body)s characters.",
                subject=SUBJECT_MAX,
                body=BODY_MAX,
            )
        )
    return subject, body
