"""A local HTTP receiver of webhook deliveries, and the check of their signatures (tests only)."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """An HTTP server on 127.0.0.1 recording each POST; answers with `statuses` in turn (then 200)."""

    def __init__(self, statuses=()):
        self.requests, self.statuses = [], list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int, seconds: float = 15) -> list:
        deadline = time.monotonic() + seconds
        while len(self.requests) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def signed_payloads(receiver, subscription, n: int) -> list[dict]:
    """The first `n` bodies the receiver got, each checked against its HMAC-SHA256 signature."""
    received = receiver.wait_for(n)
    assert len(received) >= n, received
    payloads = []
    for headers, body in received[:n]:
        expected = hmac.new(
            subscription.secret.encode(), headers["X-Kundregister-Timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert headers["X-Kundregister-Signature"] == f"sha256={expected}"
        payloads.append(json.loads(body))
    return payloads
