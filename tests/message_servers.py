"""Real servers on localhost for e-mail and SMS tests: an SMTP server (aiosmtpd)
that keeps what it is sent, and an HTTP server that answers as 46elks' SMS API."""

import base64
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

SMTP_LOGIN = (b"crm", b"hemligt")
SMS_LOGIN = ("u123", "p456")
#: The gateway refuses this number as 46elks does an invalid one.
SMS_REFUSED_NUMBER = "+46700000000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """The SMTP server's handler: keeps every envelope (and the client's address and port it came
    from: one per connection); refuses recipients @refused.example."""

    def __init__(self):
        self.envelopes = []
        self.peers = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = (auth_data.login, auth_data.password) == SMTP_LOGIN
    return AuthResult(success=ok, handled=False)  # the server answers 535 on failure


def start_smtp(*, login_required: bool) -> tuple[Controller, Inbox]:
    """A running SMTP server on 127.0.0.1 (controller.port); stop it with controller.stop()."""
    inbox = Inbox()
    options = (
        {"authenticator": _authenticate, "auth_require_tls": False, "auth_required": True} if login_required else {}
    )
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller, inbox


class _Gateway46elks(BaseHTTPRequestHandler):
    """POST /a1/sms as 46elks answers it: Basic auth, form fields, JSON back."""

    def do_POST(self):
        expected = "Basic " + base64.b64encode(":".join(SMS_LOGIN).encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._answer(401, b"Unauthorized")
            return
        length = int(self.headers["Content-Length"])
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if form.get("to") == SMS_REFUSED_NUMBER:
            self._answer(403, b"Invalid to number")
            return
        self.server.sent.append(form)
        self._answer(
            200, json.dumps({"id": f"s{len(self.server.sent)}", "status": "created", "parts": 1, **form}).encode()
        )

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_sms_gateway() -> ThreadingHTTPServer:
    """A running gateway; its URL is sms_url(server), what it took is server.sent; stop with shutdown()."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway46elks)
    server.sent = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def sms_url(server) -> str:
    return f"http://127.0.0.1:{server.server_port}/a1/sms"
