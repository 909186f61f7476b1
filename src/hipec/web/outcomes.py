"""A programme's outcomes (complications, mortality, length of stay) beside published benchmarks.

The unit is one procedure with a recorded post-operative course. A major complication is
Clavien-Dindo IIIa or more (grade V included), as :attr:`ClavienDindoGrade.is_major` says. Each
rate comes with its Wilson 95 % interval, because a programme's numbers are small. Rates whose
field was not recorded are computed over the courses that recorded it (the denominator is shown).

The benchmarks are data (``data/outcome_benchmarks.toml``), each with its source.

Note: this belongs with the other registry analyses in ``hipec.analytics`` once that package
exists; the web console is its first user.
"""

from __future__ import annotations

import math
import statistics
import tomllib
from collections.abc import Sequence
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hipec.clinical.complications import parse_clavien_dindo
from hipec.errors import InvalidInputError
from hipec.store.models import Patient, PostopCourse, Procedure

Measure = Literal[
    "major_complication_rate",
    "any_complication_rate",
    "mortality_30d",
    "mortality_90d",
    "readmission_rate",
    "length_of_stay_days",
]
BENCHMARKS_FILE = "outcome_benchmarks.toml"
#: z for a two-sided 95 % interval.
Z_95 = 1.959963984540054


class Benchmark(BaseModel):
    """One published figure: a value and/or a range, in percent or days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    measure: Measure
    value_percent: float | None = Field(None, ge=0, le=100)
    low_percent: float | None = Field(None, ge=0, le=100)
    high_percent: float | None = Field(None, ge=0, le=100)
    value_days: float | None = Field(None, ge=0)
    low_days: float | None = Field(None, ge=0)
    high_days: float | None = Field(None, ge=0)
    population: str
    definition: str
    source: str
    checked: str
    verified: bool

    def text(self) -> str:
        """The figure in words: ``"1.1 %"``, ``"25-35 %"``, ``"< 5 %"``, ``"13 d"``."""
        unit, value, low, high = (
            ("d", self.value_days, self.low_days, self.high_days)
            if self.measure == "length_of_stay_days"
            else ("%", self.value_percent, self.low_percent, self.high_percent)
        )
        parts = []
        if value is not None:
            parts.append(f"{value:g} {unit}")
        if low is not None and high is not None:
            span = f"{low:g}-{high:g} {unit}"
            parts.append(f"(range {span})" if value is not None else span)
        elif high is not None:
            parts.append(f"< {high:g} {unit}")
        return " ".join(parts)


def load_benchmarks() -> list[Benchmark]:
    """The packaged benchmarks, validated."""
    text = resources.files("hipec.web").joinpath("data", BENCHMARKS_FILE).read_text("utf-8")
    data = tomllib.loads(text)
    try:
        return [Benchmark.model_validate(item) for item in data["benchmarks"]]
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise InvalidInputError(BENCHMARKS_FILE, str(exc).splitlines()[0]) from None


def wilson_interval(events: int, total: int) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion, as fractions 0-1 (``(0, 1)`` for no data)."""
    if total == 0:
        return (0.0, 1.0)
    p = events / total
    z2 = Z_95**2
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = Z_95 * math.sqrt(p * (1 - p) / total + z2 / (4 * total**2)) / (1 + z2 / total)
    # the interval always holds the estimate itself (rounding could push it out at 0 and 1)
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def _rate(events: int, total: int) -> dict[str, Any]:
    low, high = wilson_interval(events, total)
    return {
        "events": events,
        "total": total,
        "percent": round(100 * events / total, 1) if total else None,
        "ci95_percent": [round(100 * low, 1), round(100 * high, 1)] if total else None,
    }


def _flag_rate(courses: Sequence[PostopCourse], field: str) -> dict[str, Any]:
    known = [getattr(c, field) for c in courses if getattr(c, field) is not None]
    return _rate(sum(1 for v in known if v), len(known))


def _has_major(course: PostopCourse) -> bool:
    return any(parse_clavien_dindo(c.clavien_dindo).is_major for c in course.complications)


def _length_of_stay(courses: Sequence[PostopCourse]) -> dict[str, Any]:
    days = sorted(c.length_of_stay_days for c in courses if c.length_of_stay_days is not None)
    if not days:
        return {"n": 0, "median_days": None, "iqr_days": None, "mean_days": None}
    quartiles = statistics.quantiles(days, n=4, method="inclusive") if len(days) > 1 else days * 3
    return {
        "n": len(days),
        "median_days": statistics.median(days),
        "iqr_days": [quartiles[0], quartiles[2]],
        "mean_days": round(statistics.fmean(days), 1),
    }


def programme_outcomes(session: Session, *, synthetic: bool | None = None) -> dict[str, Any]:
    """Outcomes over every procedure with a post-operative course.

    Parameters
    ----------
    synthetic
        None: all cases; True: synthetic cases only; False: real cases only.

    Returns
    -------
    dict
        ``procedures``, ``courses`` (counts), ``major_complication_rate``,
        ``any_complication_rate``, ``mortality_30d``, ``mortality_90d``, ``readmission_rate``
        (each ``{events, total, percent, ci95_percent}``), ``length_of_stay_days``
        (``{n, median_days, iqr_days, mean_days}``), ``by_grade`` (worst grade per course) and
        ``benchmarks`` (list).
    """
    query = (
        select(Procedure)
        .join(Patient)
        .options(selectinload(Procedure.postop).selectinload(PostopCourse.complications))
    )
    if synthetic is not None:
        query = query.where(Patient.synthetic == synthetic)
    procedures = list(session.scalars(query))
    courses = [p.postop for p in procedures if p.postop is not None]
    worst: dict[str, int] = {}
    for course in courses:
        grades = [parse_clavien_dindo(c.clavien_dindo).grade for c in course.complications]
        label = max(grades).label if grades else "none"
        worst[label] = worst.get(label, 0) + 1
    return {
        "procedures": len(procedures),
        "courses": len(courses),
        "major_complication_rate": _rate(sum(_has_major(c) for c in courses), len(courses)),
        "any_complication_rate": _rate(sum(bool(c.complications) for c in courses), len(courses)),
        "mortality_30d": _flag_rate(courses, "mortality_30d"),
        "mortality_90d": _flag_rate(courses, "mortality_90d"),
        "readmission_rate": _flag_rate(courses, "readmission"),
        "length_of_stay_days": _length_of_stay(courses),
        "worst_grade_counts": worst,
        "benchmarks": [{**b.model_dump(), "text": b.text()} for b in load_benchmarks()],
    }
