"""Password guessing meets a limit: failed logins are counted per account and per address.

Every password check goes through `django.contrib.auth.authenticate()`: the API's token
exchange (`POST /api/v1/auth/token/`) and the admin's login page (which the operator page uses)
alike. The authentication backend (`GuardedModelBackend`) asks before any password is
hashed: once the account named, or the address the attempt comes from, has failed
`LOGIN_FAILURES_PER_ACCOUNT` / `LOGIN_FAILURES_PER_ADDRESS` times in the current window of
`LOGIN_FAILURE_WINDOW` seconds, it raises `LoginRefused` — even for the right password, or the
limit would only slow a guesser down. The API answers it with a 429 problem, the admin with a
429 page (app/accounts/views.py), both saying when to try again.

Failures are counted by Django's `user_login_failed` signal, which `authenticate()` sends
whatever the form; an attempt refused here is not counted (it cost no hashing), so the
account opens again when the window ends. A fixed window, like the API throttle's: at most
twice the limit across a window boundary.

Counting per account lets anyone lock an account out for a window by failing on purpose; that
is the price of stopping a guesser who spreads over many addresses. The address is the
client's as `TRUSTED_PROXY_COUNT` says (`app.api.throttling.client_address`).

Redis down: the guard fails closed. The counters cannot be read, so no password is checked at
all (`LoginGuardUnavailable`): the API answers 503, the admin a 503 page. Letting logins through
uncounted would hand a guesser an unlimited window whenever Redis is unreachable; the throttles,
by contrast, fail open (README, "What fails open, what fails closed"). A failure that cannot be
counted (Redis gone between the check and the count) is logged and lost.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from app.accounts.models import User
from app.api.throttling import client_address
from app.common.redis_client import client

logger = logging.getLogger(__name__)


class LoginGuardUnavailable(Exception):
    """The failure counters cannot be read (Redis unavailable): no login is checked until they can."""

    def __init__(self) -> None:
        super().__init__(
            "Logins are unavailable for a moment (the service cannot check failed attempts). Retry shortly."
        )


class LoginRefused(Exception):
    """Too many failed logins for the account or from the address; `wait` seconds to the window's end."""

    def __init__(self, wait: int) -> None:
        super().__init__("Too many failed logins for this account or from this address.")
        self.wait = wait


def _window() -> tuple[int, int]:
    """(the current window's number, seconds until it ends)."""
    length = settings.LOGIN_FAILURE_WINDOW
    now = time.time()
    return int(now // length), max(1, math.ceil(length - now % length))


def _keys(request: HttpRequest | None, username: object) -> list[tuple[str, int]]:
    """The counters an attempt counts on, each with its limit: the account's, and the address's."""
    number, _ = _window()
    # A hash: usernames are the client's text, of any length.
    account = hashlib.sha256(str(username).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    keys = [(f"recsvc:login:account:{account}:{number}", settings.LOGIN_FAILURES_PER_ACCOUNT)]
    if request is not None:
        keys.append((f"recsvc:login:address:{client_address(request)}:{number}", settings.LOGIN_FAILURES_PER_ADDRESS))
    return keys


def login_refusal(request: HttpRequest | None, username: object) -> int | None:
    """Seconds to wait if this attempt must be refused; None if it may check its password.

    Raises `LoginGuardUnavailable` when the counters cannot be read: fail closed.
    """
    keys = _keys(request, username)
    try:
        counts = client().mget([key for key, _ in keys])
    except Exception as exc:
        logger.error("login failure counters unavailable (Redis): logins refused until they answer")
        raise LoginGuardUnavailable from exc
    if any(int(count or 0) >= limit for count, (_, limit) in zip(counts, keys)):
        return _window()[1]
    return None


@receiver(user_login_failed)
def login_failure_count(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    pipe = client().pipeline(transaction=False)
    for key, _ in _keys(request, credentials.get("username", "")):
        pipe.incr(key)
        pipe.expire(key, settings.LOGIN_FAILURE_WINDOW + 1)  # the window is in the key
    try:
        pipe.execute()
    except Exception:
        logger.warning("login failure counters unavailable (Redis): a failure was not counted")


class GuardedModelBackend(ModelBackend):
    """Django's ModelBackend, refusing an attempt over the limits before it checks the password.

    One backend rather than a guard in front of ModelBackend: `force_login` and the session
    name the first backend, and that one must be able to load the user.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs
    ) -> User | None:
        wait = login_refusal(request, username if username is not None else kwargs.get(User.USERNAME_FIELD))
        if wait is not None:
            raise LoginRefused(wait)  # not PermissionDenied: authenticate() would report it as a failure
        return super().authenticate(request, username=username, password=password, **kwargs)
