"""Passwords: the policy a new password must meet, and how passwords are hashed.

Policy (ASVS 2.1): at least 12 and at most 128 characters, no composition rules,
and not guessable: not among the 30,000 most common passwords of zxcvbn's list
(drawn from leaked password dumps) and not scored below 3 by zxcvbn, which also
catches the employee's own name or e-mail, keyboard walks, repeats and dates.

Hashing: argon2id with the parameters declared once, in `PARAMETERS`. A hash
made with other parameters (or an older scrypt hash from before argon2id) still
verifies, and `needs_rehash` tells the login to store a new one.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 128
#: zxcvbn's score 3: "safely unguessable", about 10^8 guesses or more.
MIN_SCORE = 3


@dataclass(frozen=True)
class Argon2Parameters:
    time_cost: int
    memory_cost: int  # KiB
    parallelism: int


#: The one place the hashing parameters are declared: OWASP's argon2id choice of 19 MiB, 2 passes,
#: 1 lane (about 30 ms a hash here). Changing them makes every login store a new hash.
PARAMETERS = Argon2Parameters(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@functools.cache
def _common() -> frozenset[str]:
    """zxcvbn's most common passwords. zxcvbn is loaded the first time a password is checked, not at
    import: its word lists take about 17 MB (and 36 MB while loading) that a queue worker, and a web
    process until someone chooses a password, never uses."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


#: Context-specific words (NIST SP 800-63B 5.1.1.2) that zxcvbn's English lists lack: the product,
#: the Swedish word for password, seasons, months, days, greetings, the largest cities and the words
#: Swedish password dumps are built on. One of them (or a common password) with only digits and signs
#: around it ("Sommar2026!!", "Lösenord12345") is refused like a common password.
_SWEDISH = frozenset(
    """
    kundregister kundreg crm losenord losen hemlig hemligt password valkommen valkomna hejsan hejhej
    sommar vinter hosten host varen var sommaren vintern fredag lordag sondag mandag tisdag onsdag torsdag
    januari februari mars april maj juni juli augusti september oktober november december
    sverige svensk svenska stockholm goteborg malmo uppsala vasteras orebro linkoping helsingborg jonkoping
    norrkoping lund umea gavle sundsvall lulea kiruna
    fotboll hockey aik djurgarden hammarby malmoff ifk blavitt frolunda
    karlek alskling alskar mamma pappa familj hunden katten solsken blomma jultomte julafton midsommar
    volvo saab ikea ericsson telia
    """.split()
)
_SURROUNDING = re.compile(r"^[\W\d_]+|[\W\d_]+$")


class WeakPassword(ValueError):
    """The password does not meet the policy; str() is the Swedish-translated reason."""


def _hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=PARAMETERS.time_cost, memory_cost=PARAMETERS.memory_cost, parallelism=PARAMETERS.parallelism
    )


def check_policy(password: str, *, user_inputs: tuple[str, ...] = ()) -> None:
    """Raise WeakPassword with the reason when `password` may not be used.

    `user_inputs` are the employee's own details (name, e-mail), which a password must not lean on.
    """
    password = password or ""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(_l("The password must be at least %(n)s characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        raise WeakPassword(_l("The password may be at most %(n)s characters.", n=MAX_LENGTH))
    core = _without_accents(_SURROUNDING.sub("", password.lower()))
    if password.lower() in _common() or core in _common() or core in _SWEDISH:
        raise WeakPassword(_l("The password is one of the most common passwords. Choose another one."))
    words = [w for text in user_inputs if text for w in re.split(r"[\s@.\-_]+", text.lower()) if len(w) > 2]
    words += [_without_accents(w) for w in words]  # "Nyanställd" is also typed "nyanstalld"
    if _names_in(_without_accents(password.lower()), core, words):
        raise WeakPassword(_l("The password must not contain your name or your e-mail address."))
    from zxcvbn import zxcvbn

    # zxcvbn refuses input over 72 characters (its matching is quadratic); the start is what it scores.
    if zxcvbn(password[:72], user_inputs=words)["score"] < MIN_SCORE:
        raise WeakPassword(
            _l(
                "The password is too easy to guess (a common word, a name, a date, a sequence or a repeat). "
                "Use a longer phrase of several uncommon words."
            )
        )


def _names_in(folded: str, core: str, words: list[str]) -> bool:
    """True when the password leans on the employee's own name or address: a name or address word
    of four letters or more anywhere in it, or a three-letter one ("Eva", "Per") as all its letters."""
    letters = re.sub(r"[\W\d_]+", "", core)
    return any((len(w) >= 4 and _without_accents(w) in folded) or _without_accents(w) == letters for w in words)


def _without_accents(word: str) -> str:
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()


def hash_password(password: str) -> str:
    """An argon2id hash of `password` with the current parameters (salted)."""
    return _hasher().hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches `stored_hash` (argon2id, or a legacy werkzeug scrypt hash)."""
    if not stored_hash:
        return False
    if stored_hash.startswith("$argon2"):
        try:
            return _hasher().verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    return check_password_hash(stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    """True when `stored_hash` was not made with today's algorithm and parameters."""
    if not stored_hash.startswith("$argon2id$"):
        return True
    return _hasher().check_needs_rehash(stored_hash)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so that case takes as long as a wrong password. Made
    at the first such login, not at import: a hash takes 19 MiB while it is computed, which a process
    that never logs anyone in (a queue worker) need not reach."""
    return hash_password("not-a-real-password")


def verify_dummy(password: str) -> None:
    """Spend the time of one verification (for unknown accounts)."""
    verify(_dummy_hash(), password or "")
