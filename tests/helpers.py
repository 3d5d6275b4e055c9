"""Small helpers the test modules share: reading pages (texts, flashes, field
errors), the Swedish catalogue text of a message, and fresh reads from the
database after a request has written in its own session."""

import html
import re
import threading

from sqlalchemy import func, select

from models import CompanyContact

PASSWORD = "Test-losen-1234"


class AuthActions:
    """Log a test client in and out, and post forms with the CSRF token."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self) -> str:
        page = self.client.get("/login").get_data(as_text=True)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'<meta name="csrf-token" content="([^"]+)"', page
        )
        if not match:
            page = self.client.get("/admin/", follow_redirects=True).get_data(as_text=True)
            match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        return match.group(1)

    def login(self, email: str, password: str = PASSWORD):
        return self.client.post("/login", data={"email": email, "password": password, "csrf_token": self.csrf_token()})

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf_token()})

    def post(self, url: str, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.client.post(url, data=data, **kwargs)


# --- pages --------------------------------------------------------------------------------


def sv(msgid: str, **values) -> str:
    """The Swedish text of a UI message as the catalogue has it (and it must have one)."""
    from flask import current_app
    from flask_babel import force_locale, gettext

    with current_app.test_request_context(), force_locale("sv"):
        translated = gettext(msgid, **values)
    assert translated != (msgid % values if values else msgid), f"no Swedish translation of {msgid!r}"
    return translated


def svn(singular: str, plural: str, num: int, **values) -> str:
    """The Swedish text of a plural message for ``num`` as the catalogue has it (and it must have one)."""
    from flask import current_app
    from flask_babel import force_locale, ngettext

    with current_app.test_request_context(), force_locale("sv"):
        translated = ngettext(singular, plural, num, **values)
    assert translated != (singular if num == 1 else plural) % dict(values, num=num), f"no Swedish for {plural!r}"
    return translated


def text(response) -> str:
    """The page of a response as text, HTML entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def flashes(response) -> list[tuple[str, str]]:
    """The flashed messages on a page, as (category, text)."""
    page = response.get_data(as_text=True)
    found = re.findall(r'<div class="alert alert-(\w+)[^"]*"[^>]*>(.*?)</div>', page, re.S)
    return [
        (category, " ".join(html.unescape(re.sub(r"<button.*?</button>|<[^>]+>", "", body, flags=re.S)).split()))
        for category, body in found
    ]


def field_errors(response, field: str) -> list[str]:
    """The error messages shown next to a form field (a select's after its options): Flask-Admin's list in
    one box, or our forms' box per message (templates/macros.html `form_field`)."""
    page = response.get_data(as_text=True)
    options = r"(?:(?:<option[^>]*>[^<]*</option>|\s)*</select>)?"
    feedback = r'(?:\s*<div class="invalid-feedback">.*?</div>)+'
    match = re.search(
        rf'<(?:input|select|textarea)[^>]*\bid="{field}"[^>]*>{options}({feedback})',
        page,
        re.S,
    )
    if not match:
        return []
    boxes = re.findall(r'<div class="invalid-feedback">(.*?)</div>', match.group(1), re.S)
    return [
        html.unescape(re.sub(r"<[^>]+>", "", m)).strip()
        for box in boxes
        for m in (re.findall(r"<li>(.*?)</li>", box, re.S) or [box])
    ]


# --- the database, read afresh --------------------------------------------------------------


def fresh(session, model, id):
    """The row as the database has it now, not as the session remembers it."""
    session.expire_all()
    return session.get(model, id)


def count(session, model, *where) -> int:
    """How many rows of `model` (matching `where`, if given) the database has now."""
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def links_of(session, company) -> dict[int, str | None]:
    """The company's contact links as the database has them now: {contact id: role}."""
    session.expire_all()
    return dict(
        session.execute(
            select(CompanyContact.contact_id, CompanyContact.role).where(CompanyContact.company_id == company.id)
        ).all()
    )


def at_once(work, calls: list[tuple]) -> list:
    """`work(*call)` for each of `calls` on a thread of its own, all let go at the same moment (a double click,
    two users); their answers in the calls' order. Fails when one hangs."""
    barrier, answers = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index: int, call: tuple) -> None:
        barrier.wait(timeout=60)
        answers[index] = work(*call)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    return answers
