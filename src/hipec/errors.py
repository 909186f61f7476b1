"""Domain exceptions.

Every error a user can cause is an :class:`InvalidInputError` that names the offending field and the
accepted values in one sentence a clinician understands. The edges turn it into exit code 2 (CLI) or
HTTP 422 (API); nothing below the edges prints or exits.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError


class HipecError(Exception):
    """Base class of every error hipec raises on purpose."""


class InvalidInputError(HipecError, ValueError):
    """Input outside what hipec accepts.

    Parameters
    ----------
    field
        Dotted path of the offending field, e.g. ``"height_cm"`` or ``"doses[1].mg_per_m2"``.
    message
        What is wrong and what is accepted, e.g. ``"must be 100-250 cm, got 20"``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFoundError(InvalidInputError):
    """A named thing (regimen, rule set, case) does not exist."""


def field_path(loc: Sequence[int | str]) -> str:
    """Render a pydantic error location as ``a.b[2].c``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(root)"


def from_validation_error(exc: ValidationError, prefix: str = "") -> InvalidInputError:
    """Turn a pydantic ``ValidationError`` into one :class:`InvalidInputError` (its first error).

    ``prefix`` names the document the error is in (a file name, say); it goes before the field.
    """
    first = exc.errors(include_url=False)[0]
    field = field_path(first["loc"])
    message = first["msg"]
    if "input" in first and first["type"] not in ("missing", "extra_forbidden"):
        shown = repr(first["input"])
        if len(shown) <= 60:
            message = f"{message}, got {shown}"
    if prefix:
        field = f"{prefix}: {field}"
    return InvalidInputError(field, message)
