"""Webhook deliveries and internal addresses (review of issue 19): the address checked is the
address connected to. A host name whose DNS answer changes between the check and the connection
(DNS rebinding) must not reach loopback, and a redirect is an answer, not a second request."""

import socket

import pytest
from webhook_receiver import Receiver

from models import WebhookDelivery, utcnow
from services import webhooks

PUBLIC = "93.184.216.34"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def rebinding(monkeypatch):
    """`rebind.test` resolves to a public address the first two times it is asked (the checks when the
    subscription is saved and before the delivery), then to 127.0.0.1 (a short-lived DNS answer)."""
    real = socket.getaddrinfo

    class Asked(list):
        public_answers = 2

    asked = Asked()

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "rebind.test":
            asked.append(host)
            address = PUBLIC if len(asked) <= asked.public_answers else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def _delivery(session, url: str, *, allow_internal: bool = False) -> WebhookDelivery:
    subscription = webhooks.subscribe(
        session, None, name="Kund", url=url, events=["company.created"], allow_internal=allow_internal
    )
    delivery = WebhookDelivery(
        subscription=subscription, event="company.created", payload={"event": "x"}, created_at=utcnow(), attempts=0
    )
    session.add(delivery)
    session.flush()
    return delivery


def test_a_host_that_resolves_to_loopback_after_the_check_is_not_posted_to(session, receiver, rebinding):
    port = receiver.server.server_port
    delivery = _delivery(session, f"http://rebind.test:{port}/hook")  # the check saw the public address
    assert rebinding == ["rebind.test"]
    assert webhooks.attempt(session, delivery) is None
    assert receiver.requests == [], "the delivery reached 127.0.0.1"
    assert delivery.status == "failed" and "127.0.0.1" in delivery.error


def test_a_subscription_allowed_internal_addresses_still_reaches_them(session, receiver, rebinding):
    rebinding.public_answers = 0  # an allowed subscription is not checked: the connection asks
    port = receiver.server.server_port
    delivery = _delivery(session, f"http://rebind.test:{port}/hook", allow_internal=True)
    assert webhooks.attempt(session, delivery) is None
    assert delivery.status == "delivered" and len(receiver.requests) == 1


def test_a_redirect_is_not_followed_and_is_tried_again_later(session, monkeypatch):
    """A receiver answering 302 to 169.254.169.254 gets no second request: the 302 is a failed attempt."""
    sent = []

    def post(url, body, headers, *rest):
        sent.append(url)
        return 302

    monkeypatch.setattr(webhooks, "internal_address", lambda host: None)
    delivery = _delivery(session, "https://hooks.example.com/x")
    assert webhooks.attempt(session, delivery, post=post) == webhooks.FIRST_RETRY_SECONDS
    assert sent == ["https://hooks.example.com/x"] and delivery.response_code == 302


class _RawServer:
    """A TCP server on 127.0.0.1 that reads a request and answers `chunks`, `pause` seconds apart."""

    def __init__(self, chunks: list[bytes], pause: float = 0.0):
        import threading

        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"
        self.chunks, self.pause, self.done = chunks, pause, threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import time

        try:
            conn, _address = self.server.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            for chunk in self.chunks:
                if self.done.is_set():
                    break
                try:
                    conn.sendall(chunk)
                except OSError:
                    break
                time.sleep(self.pause)

    def close(self):
        self.done.set()
        self.server.close()


def test_an_answer_that_is_not_http_is_a_failed_attempt(session):
    """It raised out of the worker's task, and the delivery stayed "sending" until the lost-message sweep."""
    server = _RawServer([b"NOT HTTP AT ALL\r\n\r\n"])
    try:
        delivery = _delivery(session, server.url, allow_internal=True)
        assert webhooks.attempt(session, delivery) == webhooks.FIRST_RETRY_SECONDS
        assert delivery.status == "retrying" and delivery.response_code is None and delivery.error
    finally:
        server.close()


def test_a_receiver_answering_a_byte_at_a_time_is_given_up_at_the_deadline(session, monkeypatch):
    """Each byte came within the socket timeout, so the worker waited as long as the receiver liked."""
    monkeypatch.setattr(webhooks, "DEADLINE_SECONDS", 0.5)
    answer = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 40 + b"\r\nContent-Length: 0\r\n\r\n"
    server = _RawServer([bytes([b]) for b in answer], pause=0.1)  # about 6 s in all
    try:
        delivery = _delivery(session, server.url, allow_internal=True)
        assert webhooks.attempt(session, delivery) == webhooks.FIRST_RETRY_SECONDS
        assert delivery.status == "retrying" and delivery.response_code is None
        assert "0.5" in delivery.error
    finally:
        server.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34:99999/hook",
        "http://93.184.216.34:abc/hook",
        "http://93.184.216.34:0/hook",
        "https://93.184.216.34/hook\r\nX-Injected: 1",
        "https://93.184.216.34/my hook",
        "https://93.184.216.34/\x00",
    ],
)
def test_an_address_no_request_can_be_sent_to_is_refused_when_saved(session, url):
    """A port out of range or a space or control character in the address: every delivery would fail
    for 24 hours (urllib refuses to send it), so the subscription is refused with the form's message."""
    from services.validation import InvalidValue

    with pytest.raises(InvalidValue):
        webhooks.subscribe(session, None, name="Fel", url=url, events=["company.created"])
