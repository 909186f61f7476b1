"""Complications: Clavien-Dindo grades, the Comprehensive Complication Index and CTCAE v5.0 grades.

- Clavien-Dindo: Dindo D, Demartines N, Clavien PA. Classification of surgical complications: a new
  proposal with evaluation in a cohort of 6336 patients and results of a survey. Ann Surg
  2004;240(2):205-13. Grades I, II, IIIa, IIIb, IVa, IVb, V; the suffix "d" marks a complication
  still present at discharge (disability). Major complication: grade IIIa or more.
- Comprehensive Complication Index (CCI): Slankamenac K, Graf R, Barkun J, Puhan MA, Clavien PA.
  Ann Surg 2013;258(1):1-7. ``CCI = sqrt(sum of weights) / 2``, capped at 100; grade V gives 100.
  The weights live in ``data/comprehensive_complication_index.toml`` (``verified = false``: only
  the grade I and II weights were confirmed, from a secondary source).
- CTCAE: National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE)
  version 5.0, 27 November 2017; the general grade definitions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from functools import cache

from pydantic import Field, model_validator

from hipec.clinical._common import CitedTable, load_packaged_table
from hipec.errors import InvalidInputError

CCI_TABLE_FILE = "comprehensive_complication_index.toml"


class ClavienDindoGrade(IntEnum):
    """Clavien-Dindo grade; the integer order is the order of severity."""

    I = 1  # noqa: E741 - the grade's own name
    II = 2
    IIIA = 3
    IIIB = 4
    IVA = 5
    IVB = 6
    V = 7

    @property
    def label(self) -> str:
        """The grade as written in the literature: ``"IIIa"``, ``"IVb"``, ..."""
        return _GRADE_LABELS[self]

    @property
    def definition(self) -> str:
        """What the grade means (Dindo et al. 2004)."""
        return CLAVIEN_DINDO_DEFINITIONS[self]

    @property
    def is_major(self) -> bool:
        """True for grade IIIa or more (a major complication)."""
        return self >= ClavienDindoGrade.IIIA


_GRADE_LABELS: dict[ClavienDindoGrade, str] = {
    ClavienDindoGrade.I: "I",
    ClavienDindoGrade.II: "II",
    ClavienDindoGrade.IIIA: "IIIa",
    ClavienDindoGrade.IIIB: "IIIb",
    ClavienDindoGrade.IVA: "IVa",
    ClavienDindoGrade.IVB: "IVb",
    ClavienDindoGrade.V: "V",
}
_GRADES_BY_LABEL: dict[str, ClavienDindoGrade] = {
    label.lower(): grade for grade, label in _GRADE_LABELS.items()
}

CLAVIEN_DINDO_DEFINITIONS: dict[ClavienDindoGrade, str] = {
    ClavienDindoGrade.I: "any deviation from the normal postoperative course without the need for "
    "pharmacological treatment or surgical, endoscopic or radiological intervention "
    "(antiemetics, antipyretics, analgesics, diuretics, electrolytes, physiotherapy and wound "
    "infections opened at the bedside are allowed)",
    ClavienDindoGrade.II: "requiring pharmacological treatment with drugs other than those allowed "
    "for grade I; blood transfusions and total parenteral nutrition included",
    ClavienDindoGrade.IIIA: "requiring surgical, endoscopic or radiological intervention not under "
    "general anaesthesia",
    ClavienDindoGrade.IIIB: "requiring surgical, endoscopic or radiological intervention under "
    "general anaesthesia",
    ClavienDindoGrade.IVA: "life-threatening complication requiring intermediate or intensive "
    "care: single-organ dysfunction (including dialysis)",
    ClavienDindoGrade.IVB: "life-threatening complication requiring intermediate or intensive "
    "care: multi-organ dysfunction",
    ClavienDindoGrade.V: "death of the patient",
}

ACCEPTED_CLAVIEN_DINDO_FORMS = (
    "I, II, IIIa, IIIb, IVa, IVb or V, optionally with the suffix d for a complication present at "
    "discharge (e.g. IIIa-d or IIIad; not on V)"
)
_CLAVIEN_DINDO_PATTERN = re.compile(r"^(?:grade\s*)?(i|ii|iiia|iiib|iva|ivb|v)(?:\s*-?\s*(d))?$")


@dataclass(frozen=True, order=True)
class ClavienDindoComplication:
    """One complication: its grade and whether it was still present at discharge (suffix "d").

    Complications order by grade first, then without before with the suffix.
    """

    grade: ClavienDindoGrade
    disability_at_discharge: bool = False

    def __post_init__(self) -> None:
        if self.grade is ClavienDindoGrade.V and self.disability_at_discharge:
            raise InvalidInputError(
                "clavien_dindo",
                "grade V (death) cannot carry the suffix d (disability at discharge)",
            )

    @property
    def is_major(self) -> bool:
        """True for grade IIIa or more."""
        return self.grade.is_major

    def __str__(self) -> str:
        return self.grade.label + ("-d" if self.disability_at_discharge else "")


def parse_clavien_dindo(
    text: str | ClavienDindoGrade | ClavienDindoComplication,
) -> ClavienDindoComplication:
    """A Clavien-Dindo complication from ``"IIIb"``, ``"iiib"``, ``"IIIa-d"`` or ``"IIIad"``.

    Raises
    ------
    InvalidInputError
        Field ``"clavien_dindo"`` for anything else, including the bare ``"III"`` and ``"IV"`` (the
        2004 classification splits them into a and b).
    """
    if isinstance(text, ClavienDindoComplication):
        return text
    if isinstance(text, ClavienDindoGrade):
        return ClavienDindoComplication(text)
    if not isinstance(text, str):
        raise InvalidInputError(
            "clavien_dindo", f"must be {ACCEPTED_CLAVIEN_DINDO_FORMS}, got {text!r}"
        )
    match = _CLAVIEN_DINDO_PATTERN.match(text.strip().lower())
    if match is None:
        raise InvalidInputError(
            "clavien_dindo", f"must be {ACCEPTED_CLAVIEN_DINDO_FORMS}, got {text!r}"
        )
    return ClavienDindoComplication(_GRADES_BY_LABEL[match.group(1)], match.group(2) is not None)


class CciTable(CitedTable):
    """Weights of the Clavien-Dindo grades for the Comprehensive Complication Index."""

    max_index: float = Field(gt=0)
    weights: dict[str, float]

    @model_validator(mode="after")
    def _every_grade_but_death(self) -> CciTable:
        expected = {label for grade, label in _GRADE_LABELS.items() if grade < ClavienDindoGrade.V}
        if set(self.weights) != expected:
            raise ValueError(f"weights must give grades {', '.join(sorted(expected))}")
        ordered = [self.weights[_GRADE_LABELS[g]] for g in ClavienDindoGrade if g.label in expected]
        if any(w <= 0 for w in ordered) or ordered != sorted(ordered):
            raise ValueError("weights must be positive and grow with the grade")
        return self

    def weight(self, grade: ClavienDindoGrade) -> float:
        """Weight of one complication of ``grade`` (grades I-IVb)."""
        return self.weights[grade.label]


@cache
def default_cci_table() -> CciTable:
    """The packaged CCI weights (``data/comprehensive_complication_index.toml``)."""
    return load_packaged_table(CciTable, CCI_TABLE_FILE)


def comprehensive_complication_index(
    complications: Iterable[str | ClavienDindoGrade | ClavienDindoComplication],
    table: CciTable | None = None,
) -> float:
    """Comprehensive Complication Index (0-100) of one patient's complications.

    Parameters
    ----------
    complications
        Every complication of the patient, each a Clavien-Dindo grade (``"II"``, ``"IIIb-d"``, a
        :class:`ClavienDindoGrade` or :class:`ClavienDindoComplication`). None at all gives 0.
    table
        Grade weights; default the packaged table.

    Returns
    -------
    float
        ``sqrt(sum of weights) / 2`` capped at 100 [points]; 100 if any complication is grade V.
    """
    table = table or default_cci_table()
    total_weight = 0.0
    for item in complications:
        grade = parse_clavien_dindo(item).grade
        if grade is ClavienDindoGrade.V:
            return table.max_index
        total_weight += table.weight(grade)
    return min(math.sqrt(total_weight) / 2.0, table.max_index)


class CtcaeGrade(IntEnum):
    """CTCAE v5.0 adverse-event grade."""

    MILD = 1
    MODERATE = 2
    SEVERE = 3
    LIFE_THREATENING = 4
    DEATH = 5

    @property
    def definition(self) -> str:
        """The general CTCAE v5.0 definition of the grade."""
        return CTCAE_GRADE_DEFINITIONS[self]


CTCAE_GRADE_DEFINITIONS: dict[CtcaeGrade, str] = {
    CtcaeGrade.MILD: "mild; asymptomatic or mild symptoms; clinical or diagnostic observations "
    "only; intervention not indicated",
    CtcaeGrade.MODERATE: "moderate; minimal, local or noninvasive intervention indicated; limiting "
    "age-appropriate instrumental activities of daily living",
    CtcaeGrade.SEVERE: "severe or medically significant but not immediately life-threatening; "
    "hospitalization or prolongation of hospitalization indicated; disabling; limiting self-care "
    "activities of daily living",
    CtcaeGrade.LIFE_THREATENING: "life-threatening consequences; urgent intervention indicated",
    CtcaeGrade.DEATH: "death related to the adverse event",
}
_CTCAE_PATTERN = re.compile(r"^(?:(?:ctcae\s*)?grade\s*)?(\d+)$")


def parse_ctcae_grade(text: str | int) -> CtcaeGrade:
    """CTCAE grade from ``3``, ``"3"``, ``"grade 3"`` or ``"Grade 3"``.

    Raises
    ------
    InvalidInputError
        Field ``"ctcae_grade"`` unless the grade is 1-5.
    """
    accepted = "must be a CTCAE grade 1-5 (e.g. 3 or 'grade 3')"
    if isinstance(text, bool):
        raise InvalidInputError("ctcae_grade", f"{accepted}, got {text!r}")
    if isinstance(text, int):
        value = text
    else:
        match = _CTCAE_PATTERN.match(str(text).strip().lower())
        if match is None:
            raise InvalidInputError("ctcae_grade", f"{accepted}, got {text!r}")
        value = int(match.group(1))
    if not CtcaeGrade.MILD <= value <= CtcaeGrade.DEATH:
        raise InvalidInputError("ctcae_grade", f"{accepted}, got {text!r}")
    return CtcaeGrade(value)
