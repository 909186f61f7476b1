"""Reading TOML and JSON documents (case files, rule sets, regimens) with one-line errors."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from hipec.errors import InvalidInputError

DOCUMENT_SUFFIXES = (".toml", ".json")


def load_document(path: Path) -> dict[str, Any]:
    """Load a ``.toml`` or ``.json`` file whose top level is a table/object.

    Raises
    ------
    InvalidInputError
        If the file is missing, has another suffix, or does not parse; the message names the file
        and, where the parser says, the line.
    """
    name = str(path)
    if path.suffix.lower() not in DOCUMENT_SUFFIXES:
        raise InvalidInputError(name, "must be a .toml or .json file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(name, "no such file") from None
    except OSError as exc:
        raise InvalidInputError(name, f"cannot be read ({exc.strerror})") from None
    try:
        is_toml = path.suffix.lower() == ".toml"
        data: object = tomllib.loads(text) if is_toml else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(name, f"is not valid TOML ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            name, f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInputError(
            name, "must hold a table (TOML) or an object (JSON) at the top level"
        )
    return data
