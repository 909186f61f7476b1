"""Reading TOML and JSON documents (case files, rule sets, regimens) with one-line errors."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from hipec.errors import InvalidInputError

DOCUMENT_SUFFIXES = (".toml", ".json")


def read_document_text(path: Path) -> str:
    """The text of a file, or a one-line InvalidInputError naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(str(path), "no such file") from None
    except OSError as exc:
        raise InvalidInputError(str(path), f"cannot be read ({exc.strerror})") from None


def parse_document(text: str, name: str, *, is_toml: bool) -> dict[str, Any]:
    """Parse TOML or JSON text whose top level is a table/object; errors name ``name``."""
    try:
        data: object = tomllib.loads(text) if is_toml else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(name, f"is not valid TOML ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            name, f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInputError(name, "must hold a table (TOML) or object (JSON) at its top level")
    return data


def load_document(path: Path) -> dict[str, Any]:
    """Load a ``.toml`` or ``.json`` file whose top level is a table/object.

    Raises
    ------
    InvalidInputError
        If the file is missing, has another suffix, or does not parse; the message names the file
        and, where the parser says, the line.
    """
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        raise InvalidInputError(str(path), "must be a .toml or .json file")
    return parse_document(read_document_text(path), str(path), is_toml=suffix == ".toml")
