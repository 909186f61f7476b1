"""Completeness of cytoreduction (CC) score, after Sugarbaker.

Jacquet P, Sugarbaker PH. Clinical research methodologies in diagnosis and staging of patients with
peritoneal carcinomatosis. Cancer Treat Res 1996;82:359-74.

- CC-0: no visible peritoneal disease after cytoreduction;
- CC-1: residual nodules under 2.5 mm (a size thought penetrable by intraperitoneal chemotherapy);
- CC-2: residual nodules from 2.5 mm to 2.5 cm;
- CC-3: residual nodules over 2.5 cm, or a confluent unresectable layer anywhere.

Boundary rule (the published wording leaves the exact edges open; hipec fixes them)::

    0 mm                   -> CC-0
    > 0 and < 2.5 mm       -> CC-1
    >= 2.5 and <= 25 mm    -> CC-2
    > 25 mm (or confluent) -> CC-3

CC-0 and CC-1 count as complete cytoreduction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hipec.clinical._common import check_size_mm
from hipec.errors import InvalidInputError

#: Residual nodule sizes [mm]: below CC1_LIMIT_MM is CC-1; from it up to CC2_MAX_MM inclusive CC-2.
CC1_LIMIT_MM = 2.5
CC2_MAX_MM = 25.0

CC_DESCRIPTIONS: dict[int, str] = {
    0: "no visible residual peritoneal disease",
    1: "residual nodules smaller than 2.5 mm",
    2: "residual nodules from 2.5 mm to 2.5 cm",
    3: "residual nodules larger than 2.5 cm or confluent unresectable disease",
}
BOUNDARY_RULE = (
    "0 mm CC-0; under 2.5 mm CC-1; 2.5 mm up to and including 25 mm CC-2; over 25 mm CC-3"
)
ACCEPTED_CC_FORMS = "CC-0 to CC-3 (also cc1, CC 1 or just 0-3)"
_CC_PATTERN = re.compile(r"^(?:ccr?[\s-]?)?(\d+)$")


def cc_score_from_residual_mm(size_mm: float) -> int:
    """CC score (0-3) from the size of the largest residual nodule.

    Parameters
    ----------
    size_mm
        Largest residual nodule [mm]; 0 when no disease is visible.

    Raises
    ------
    InvalidInputError
        If the size is negative or not a finite number.
    """
    size_mm = check_size_mm("residual_mm", size_mm)
    if size_mm == 0:
        return 0
    if size_mm < CC1_LIMIT_MM:
        return 1
    if size_mm <= CC2_MAX_MM:
        return 2
    return 3


def parse_cc_score(text: str | int) -> int:
    """CC score from ``"CC-1"``, ``"cc1"``, ``"CC 1"``, ``"CCR-1"``, ``"1"`` or the int ``1``.

    Raises
    ------
    InvalidInputError
        Field ``"cc_score"`` if the text is not one of CC-0 to CC-3.
    """
    if isinstance(text, bool):
        raise InvalidInputError("cc_score", f"must be {ACCEPTED_CC_FORMS}, got {text!r}")
    if isinstance(text, int):
        value = text
    else:
        match = _CC_PATTERN.match(str(text).strip().lower())
        if match is None:
            raise InvalidInputError("cc_score", f"must be {ACCEPTED_CC_FORMS}, got {text!r}")
        value = int(match.group(1))
    if value not in CC_DESCRIPTIONS:
        raise InvalidInputError("cc_score", f"must be {ACCEPTED_CC_FORMS}, got {text!r}")
    return value


def is_complete_cytoreduction(cc: int) -> bool:
    """True for CC-0 and CC-1 (complete or near-complete cytoreduction)."""
    return parse_cc_score(cc) <= 1


@dataclass(frozen=True)
class CcAssessment:
    """A CC score with what it means; ``residual_mm`` is set when it came from a size."""

    score: int
    residual_mm: float | None = None

    def __post_init__(self) -> None:
        parse_cc_score(self.score)

    @property
    def label(self) -> str:
        """``"CC-0"`` ... ``"CC-3"``."""
        return f"CC-{self.score}"

    @property
    def description(self) -> str:
        """What the score means."""
        return CC_DESCRIPTIONS[self.score]

    @property
    def complete(self) -> bool:
        """True for CC-0/1."""
        return is_complete_cytoreduction(self.score)

    @classmethod
    def from_residual_mm(cls, size_mm: float) -> CcAssessment:
        """Assessment from the largest residual nodule [mm]."""
        return cls(cc_score_from_residual_mm(size_mm), float(size_mm))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {
            "cc_score": self.score,
            "label": self.label,
            "description": self.description,
            "complete_cytoreduction": self.complete,
            "residual_mm": self.residual_mm,
            "boundary_rule": BOUNDARY_RULE,
        }
