"""Helpers the clinical scores share: cited data tables and size checks."""

from __future__ import annotations

import math
import tomllib
from importlib.resources import files
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from hipec.errors import InvalidInputError, from_validation_error


class CitedTable(BaseModel):
    """A published table kept as data, with its source and whether it was checked against it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    citation: str
    verified: bool
    verified_against: str = ""


TableT = TypeVar("TableT", bound=BaseModel)


def validate_table(model: type[TableT], data: dict[str, Any], source: str) -> TableT:
    """Validate ``data`` as ``model``; errors become one InvalidInputError naming ``source``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, source) from None


def load_packaged_table(model: type[TableT], file_name: str) -> TableT:
    """Load and validate a table shipped in ``hipec/clinical/data/``."""
    text = files("hipec.clinical").joinpath("data", file_name).read_text(encoding="utf-8")
    return validate_table(model, tomllib.loads(text), file_name)


def check_size_mm(field: str, size_mm: float) -> float:
    """Return ``size_mm`` [mm] if it is a finite size of 0 mm or more, else raise."""
    if isinstance(size_mm, bool) or not math.isfinite(size_mm) or size_mm < 0:
        raise InvalidInputError(field, f"must be a size of 0 mm or more, got {size_mm:g} mm")
    return float(size_mm)
