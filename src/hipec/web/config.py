"""Settings of the web console, read from the environment (``HIPEC_*``).

=================================  =============================================================
variable                           meaning (default)
=================================  =============================================================
``HIPEC_DATABASE_URL``             the case database (see :mod:`hipec.store.db`)
``HIPEC_DATA_DIR``                 hipec's data folder (see :mod:`hipec.settings`)
``HIPEC_COOKIE_SECURE``            ``auto`` (default): the session cookie is ``Secure`` unless the
                                   request is plain http to a loopback address (127.0.0.1, ::1,
                                   localhost); ``true``: always; ``false``: never (only behind a
                                   trusted TLS terminator that rewrites nothing)
``HIPEC_SESSION_HOURS``            absolute lifetime of a login [h] (12, one long operating day)
``HIPEC_SESSION_IDLE_MINUTES``     a login ends after this long without a request [min] (60)
``HIPEC_LOGIN_MAX_FAILURES``       failed logins allowed per username, and per client address
                                   x4, within the window, before refusing with 429 (5)
``HIPEC_LOGIN_WINDOW_SECONDS``     the throttling window [s] (900)
``HIPEC_MAX_LIVE_RUNS``            simulated perfusions that may run at once in one console, each a
                                   thread stepping the twin (4; 1-32)
``HIPEC_DEMO``                     set by ``hipec serve --demo``: shows a "synthetic demo" banner
=================================  =============================================================
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hipec.errors import InvalidInputError, from_validation_error
from hipec.settings import Settings


class WebSettings(BaseSettings):
    """The console's configuration; every field can be set as ``HIPEC_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="HIPEC_", extra="ignore")

    database_url: str | None = None
    cookie_secure: Literal["auto", "true", "false"] = "auto"
    session_hours: float = Field(12.0, gt=0, le=24 * 7)
    session_idle_minutes: float = Field(60.0, gt=0, le=24 * 60)
    login_max_failures: int = Field(5, ge=1, le=1000)
    login_window_seconds: float = Field(900.0, gt=0, le=24 * 3600)
    max_live_runs: int = Field(4, ge=1, le=32)
    demo: bool = False

    @property
    def session_lifetime(self) -> dt.timedelta:
        """Absolute lifetime of a login session."""
        return dt.timedelta(hours=self.session_hours)

    @property
    def session_idle_timeout(self) -> dt.timedelta:
        """A session unused for this long ends."""
        return dt.timedelta(minutes=self.session_idle_minutes)

    def resolved_database_url(self) -> str:
        """``HIPEC_DATABASE_URL`` or the SQLite file in the data folder."""
        from hipec.store.db import database_url

        return self.database_url or database_url(Settings())


def get_web_settings() -> WebSettings:
    """Read the console settings afresh from the environment.

    Raises
    ------
    InvalidInputError
        Naming the variable (``HIPEC_<FIELD>``) and what it accepts, if one is out of range.
    """
    try:
        return WebSettings()
    except ValidationError as exc:
        error = from_validation_error(exc)
        raise InvalidInputError(f"HIPEC_{error.field.upper()}", error.message) from None
