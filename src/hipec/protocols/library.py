"""The regimen library: the builtin regimens (``protocols/library/*.toml``) plus user regimens.

A user adds regimens as ``.toml`` or ``.json`` files in the folders named by ``HIPEC_REGIMEN_PATH``
(:attr:`hipec.settings.Settings.regimen_dirs`). They are validated exactly like the builtins. An
id defined twice (a user file clashing with a builtin or with another user file) is an error naming
both files; a folder that does not exist is an error too (a typo in the path must not hide
regimens).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from hipec.documents import DOCUMENT_SUFFIXES, load_document
from hipec.errors import InvalidInputError, NotFoundError, from_validation_error
from hipec.protocols.schema import Regimen
from hipec.settings import get_settings

#: Folder of the builtin regimen files (one per published regimen).
BUILTIN_DIR = Path(__file__).with_name("library")


def load_regimen_file(path: Path | str) -> Regimen:
    """Load and validate one regimen file.

    Raises
    ------
    InvalidInputError
        One line naming the file and the offending field, e.g.
        ``my.toml: doses[0].mg_per_m2: Input should be greater than 0, got -5``.
    """
    path = Path(path)
    data = load_document(path)
    try:
        return Regimen.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, str(path)) from None


def _regimen_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES
    )


@lru_cache(maxsize=1)
def _builtin_regimens() -> tuple[tuple[Regimen, Path], ...]:
    # the builtins cannot change while the process runs; user folders are read afresh each call
    return tuple((load_regimen_file(p), p) for p in _regimen_files(BUILTIN_DIR))


def _user_regimens(folders: list[Path]) -> list[tuple[Regimen, Path]]:
    found: list[tuple[Regimen, Path]] = []
    for folder in folders:
        if not folder.is_dir():
            raise InvalidInputError(
                "HIPEC_REGIMEN_PATH", f"must name existing folders, got {str(folder)!r}"
            )
        found.extend((load_regimen_file(p), p) for p in _regimen_files(folder))
    return found


def _all_regimens() -> dict[str, tuple[Regimen, Path]]:
    by_id: dict[str, tuple[Regimen, Path]] = {}
    for regimen, path in [*_builtin_regimens(), *_user_regimens(get_settings().regimen_dirs)]:
        if regimen.id in by_id:
            first = by_id[regimen.id][1]
            raise InvalidInputError(
                "protocol", f"regimen id '{regimen.id}' is defined twice: in {first} and in {path}"
            )
        by_id[regimen.id] = (regimen, path)
    return by_id


def list_regimens() -> list[Regimen]:
    """Every regimen (builtin and user), sorted by id."""
    return [regimen for _, (regimen, _path) in sorted(_all_regimens().items())]


def regimen_source_file(regimen_id: str) -> Path:
    """The file a regimen was loaded from (raises like :func:`get_regimen`)."""
    get_regimen(regimen_id)
    return _all_regimens()[regimen_id][1]


def get_regimen(regimen_id: str) -> Regimen:
    """The regimen with id ``regimen_id``.

    Raises
    ------
    NotFoundError
        (field ``protocol``) ``unknown regimen 'x'; known: a, b, ...``.
    """
    regimens = _all_regimens()
    if regimen_id not in regimens:
        raise NotFoundError(
            "protocol", f"unknown regimen {regimen_id!r}; known: {', '.join(sorted(regimens))}"
        )
    return regimens[regimen_id][0]
