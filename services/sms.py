"""SMS from the customer card, through an SMS gateway with 46elks' HTTP API
(POST from/to/message with HTTP Basic auth, JSON answer). A sent SMS is kept as
an activity of the customer ("SMS"), so it shows in its history; one the
gateway did not take is not kept."""

import base64
import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from models import Activity, Company, Employee, Lead, utcnow
from services import activities, formatting, validation
from services.validation import InvalidValue

#: GSM 03.38: characters of one septet, and those of the extension table (two septets).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")
MAX_PARTS = 6


def parts(text: str) -> int:
    """How many SMS the text is sent as (GSM 7-bit: 160, then 153 a part; otherwise UCS-2: 70, then 67)."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        units, single, multi = sum(2 if c in GSM_EXTENDED else 1 for c in text), 160, 153
    else:
        units, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)


@dataclass(frozen=True)
class Gateway:
    url: str
    username: str
    password: str
    sender: str = "Kundreg"
    timeout: float = 20

    @classmethod
    def from_config(cls, config) -> "Gateway | None":
        """The app's SMS gateway, or None when sending SMS is not set up."""
        if not config.get("SMS_USERNAME"):
            return None
        return cls(config["SMS_API_URL"], config["SMS_USERNAME"], config["SMS_PASSWORD"], config["SMS_SENDER"])

    def post(self, to: str, message: str) -> dict:
        """Hand the SMS to the gateway; its JSON answer (id, status, parts …)."""
        data = urllib.parse.urlencode({"from": self.sender, "to": to, "message": message}).encode()
        credentials = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            self.url, data=data, method="POST", headers={"Authorization": f"Basic {credentials}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as exc:
            reason = exc.read().decode(errors="replace")[:200]
            if exc.code == 401:
                raise SendFailed(
                    _("The SMS service did not accept the login. Ask your administrator to check the settings.")
                ) from exc
            raise SendFailed(_("The SMS service refused the message: %(reason)s", reason=reason)) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SendFailed(
                _("The SMS could not be sent: the SMS service did not answer. Nothing was saved; try again later.")
            ) from exc


def not_set_up_message(employee: Employee) -> str:
    """What the SMS page says when no SMS service is set up: who to ask, or, to an administrator,
    which settings of the server's environment set it up (a seller sees no setting names)."""
    if employee is not None and employee.has_permission("settings.manage"):
        return _(
            "SMS cannot be sent: no SMS service is set up. Whoever runs the server sets it in the server's "
            "environment: CRM_SMS_USERNAME and CRM_SMS_PASSWORD (the SMS service's login) and, where needed, "
            "CRM_SMS_API_URL and CRM_SMS_SENDER; then the application is restarted."
        )
    return _("SMS cannot be sent: no SMS service is set up. Ask your administrator to set one up.")


class SendFailed(Exception):
    """The gateway could not be reached or refused the SMS; the text is for the user."""


def send(
    session: Session, gateway: Gateway | None, sender: Employee, customer, *, to: str, message: str, contact=None
) -> Activity:
    """Send an SMS about `customer` (a company, contact or lead; `contact`: a company's contact it went to)
    and keep it as a done "SMS" activity; the caller commits."""
    if gateway is None:
        raise SendFailed(not_set_up_message(sender))
    number = validation.mobile_phone(to)
    if number is None:
        raise InvalidValue(_("Give the mobile number to send to."))
    message = clean_message(message)
    gateway.post(number, message)
    if isinstance(customer, Company):
        owner = {"company_id": customer.id, "contact_id": contact.id if contact else None}
    else:
        owner = {"lead_id": customer.id} if isinstance(customer, Lead) else {"contact_id": customer.id}
    return activities.create(
        session,
        sender,
        kind="sms",
        subject=_("SMS to %(number)s", number=formatting.phone(number)),
        description=message,
        due_at=utcnow(),
        **owner,
    )


def clean_message(message: str | None) -> str:
    """The text as it is sent; InvalidValue when it is empty or longer than MAX_PARTS parts."""
    message = (message or "").strip()
    if not message:
        raise InvalidValue(_("Write a message."))
    if parts(message) > MAX_PARTS:
        raise InvalidValue(_("The message is too long: at most %(parts)s SMS parts.", parts=MAX_PARTS))
    return message
