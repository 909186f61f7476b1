"""Security mechanisms of the console: CSRF tokens, login throttling, response headers.

CSRF
----
Every state-changing request (POST, PUT, PATCH, DELETE) must carry the session's CSRF token, in
the ``X-CSRF-Token`` header (the pages' JavaScript reads it from ``<meta name="csrf-token">``) or
in the form field ``csrf_token``. The token is random per session and kept server-side; it is
compared in constant time. The login form, before any session exists, uses a double-submit
token: a random value in a ``SameSite=Strict`` cookie that the form must echo. Requests whose
``Origin`` header names another site are refused as well. Session cookies are ``SameSite=Strict``.

Login throttling
----------------
:class:`LoginThrottle` counts failed logins in a sliding window, per username and per client
address; once a key reaches its limit, further attempts (even with the right password) get HTTP
429 with ``Retry-After`` until the oldest failure leaves the window. The counts live in the
server process (one uvicorn worker, as ``hipec serve`` runs it); a restart forgets them.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

#: Header and form field that carry the CSRF token.
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
#: Cookie of the login form's double-submit token.
LOGIN_CSRF_COOKIE = "hipec_login_csrf"
#: The session cookie.
SESSION_COOKIE = "hipec_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Content-Security-Policy: our own scripts and styles only; no inline script anywhere. Inline
#: *styles* are allowed because Plotly sets element styles from its own code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def new_token() -> str:
    """A random 256-bit URL-safe token."""
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; False if either is missing or empty."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


class LoginThrottle:
    """Failed-login counter with a sliding window, safe to share between threads.

    Parameters
    ----------
    max_failures
        Failures allowed per key within the window; the next attempt is refused.
    window_s
        Length of the window [s].
    clock
        Monotonic clock [s] (injectable for tests).
    """

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def retry_after_s(self, keys: dict[str, int]) -> int:
        """Seconds until an attempt is allowed (0: allowed now).

        ``keys`` maps each key to its limit (a username key: ``max_failures``; an address key a
        multiple, since many users share one address in a hospital).
        """
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key, limit in keys.items():
                times = self._prune(key, now)
                if len(times) >= limit:
                    # allowed again when enough failures have aged out of the window
                    oldest_needed = times[len(times) - limit]
                    wait = max(wait, self.window_s - (now - oldest_needed))
        return math.ceil(wait) if wait > 0 else 0

    def record_failure(self, keys: list[str]) -> None:
        """Count one failed attempt against each key."""
        now = self._clock()
        with self._lock:
            for key in keys:
                self._prune(key, now).append(now)

    def reset(self, key: str) -> None:
        """Forget the failures of ``key`` (after a successful login)."""
        with self._lock:
            self._failures.pop(key, None)
