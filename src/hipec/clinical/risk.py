"""Preoperative risk scores: incomplete cytoreduction (US HIPEC Collaborative) and the PSDSS.

The published figures (cut-offs, points, bands, rates, stage cut-points) live in
``hipec/clinical/data/*.toml`` next to their citation and a ``verified`` flag; this module only
applies them. Each function takes an optional table so that a centre can use its own (e.g. other
PSDSS stage cut-points) without editing the package.

- Incomplete-cytoreduction risk score: Zaidi MY et al., Ann Surg Oncol 2020;27:156-64
  (doi 10.1245/s10434-019-07626-y). Verified against the abstract.
- PSDSS: Pelz JOW et al., J Surg Oncol 2009;99:9-15. NOT verified: point values and stage cut-points
  are the commonly quoted ones; the result carries ``verified=False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hipec.clinical._common import CitedTable, load_packaged_table, validate_table
from hipec.clinical.pci import MAX_PCI
from hipec.documents import load_document
from hipec.errors import InvalidInputError

PsdssSymptoms = Literal["none", "mild", "severe"]
PsdssHistology = Literal["well-moderate-n0", "moderate-n1-n2", "poor-or-signet-ring"]
PSDSS_SYMPTOMS: tuple[str, ...] = get_args(PsdssSymptoms)
PSDSS_HISTOLOGIES: tuple[str, ...] = get_args(PsdssHistology)
PSDSS_HISTOLOGY_DESCRIPTIONS: dict[str, str] = {
    "well-moderate-n0": "well or moderately differentiated primary, node-negative (N0)",
    "moderate-n1-n2": "moderately differentiated primary, node-positive (N1-N2)",
    "poor-or-signet-ring": "poorly differentiated or signet-ring cell primary",
}

ICRS_TABLE_FILE = "incomplete_cytoreduction_risk.toml"
PSDSS_TABLE_FILE = "psdss.toml"


class PointsBand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    min_points: int = Field(ge=0)
    max_points: int = Field(ge=0)


def _check_bands_cover(bands: tuple[PointsBand, ...], low: int, high: int, what: str) -> None:
    """Bands must be in order, contiguous and cover ``low..high`` exactly (no gap, no overlap)."""
    expected = low
    for band in bands:
        if band.min_points != expected or band.max_points < band.min_points:
            raise ValueError(f"{what} must cover {low}-{high} points in order without gaps")
        expected = band.max_points + 1
    if expected != high + 1:
        raise ValueError(f"{what} must cover {low}-{high} points in order without gaps")


class IcrsBand(PointsBand):
    """A risk band of the incomplete-cytoreduction score with its published CC-2/3 rate."""

    cc2_3_rate_fraction: float = Field(ge=0, le=1)


class IcrsTable(CitedTable):
    """Cut-offs and bands of the incomplete-cytoreduction risk score."""

    ca125_cutoff_u_per_ml: float = Field(gt=0)
    cea_cutoff_ng_per_ml: float = Field(gt=0)
    bands: tuple[IcrsBand, ...]

    @model_validator(mode="after")
    def _bands_cover_all_points(self) -> IcrsTable:
        _check_bands_cover(self.bands, 0, 4, "bands")
        return self


class PsdssPciBand(BaseModel):
    """PSDSS points for a PCI range (inclusive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_pci: int = Field(ge=0)
    max_pci: int = Field(le=MAX_PCI)
    points: int = Field(ge=0)


class PsdssTable(CitedTable):
    """Points and stage cut-points of the PSDSS."""

    symptom_points: dict[PsdssSymptoms, int]
    histology_points: dict[PsdssHistology, int]
    pci_bands: tuple[PsdssPciBand, ...]
    stages: tuple[PointsBand, ...]

    @model_validator(mode="after")
    def _complete(self) -> PsdssTable:
        if set(self.symptom_points) != set(PSDSS_SYMPTOMS):
            raise ValueError(f"symptom_points must give {', '.join(PSDSS_SYMPTOMS)}")
        if set(self.histology_points) != set(PSDSS_HISTOLOGIES):
            raise ValueError(f"histology_points must give {', '.join(PSDSS_HISTOLOGIES)}")
        expected = 0
        for band in self.pci_bands:
            if band.min_pci != expected or band.max_pci < band.min_pci:
                raise ValueError(f"pci_bands must cover PCI 0-{MAX_PCI} in order without gaps")
            expected = band.max_pci + 1
        if expected != MAX_PCI + 1:
            raise ValueError(f"pci_bands must cover PCI 0-{MAX_PCI} in order without gaps")
        low = (
            min(self.symptom_points.values())
            + min(b.points for b in self.pci_bands)
            + min(self.histology_points.values())
        )
        high = (
            max(self.symptom_points.values())
            + max(b.points for b in self.pci_bands)
            + max(self.histology_points.values())
        )
        _check_bands_cover(self.stages, low, high, "stages")
        return self


@cache
def default_icrs_table() -> IcrsTable:
    """The packaged incomplete-cytoreduction risk table (``data/incomplete_cytoreduction_risk``)."""
    return load_packaged_table(IcrsTable, ICRS_TABLE_FILE)


@cache
def default_psdss_table() -> PsdssTable:
    """The packaged PSDSS table (``data/psdss.toml``, ``verified = false``)."""
    return load_packaged_table(PsdssTable, PSDSS_TABLE_FILE)


def load_psdss_table(path: Path) -> PsdssTable:
    """A PSDSS table from a TOML/JSON file of the same shape as the packaged one."""
    return validate_table(PsdssTable, load_document(path), path.name)


def load_icrs_table(path: Path) -> IcrsTable:
    """An incomplete-cytoreduction risk table from a TOML/JSON file shaped like the packaged one."""
    return validate_table(IcrsTable, load_document(path), path.name)


def _check_lab_value(field: str, value: float, unit: str) -> float:
    if isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise InvalidInputError(field, f"must be a concentration of 0 {unit} or more, got {value}")
    return float(value)


@dataclass(frozen=True)
class IncompleteCytoreductionRisk:
    """Result of the incomplete-cytoreduction risk score.

    Attributes
    ----------
    points
        0-4, one per factor present.
    factors
        The factors that scored, e.g. ``("male sex", "CA-125 >= 40 U/mL")``.
    band
        ``"zero"`` (0 points), ``"low"`` (1-2) or ``"high"`` (3-4).
    published_rate_fraction
        CC-2/3 rate [fraction] published for the band (derivation cohort).
    citation, verified
        Source of the table and whether it was checked against it.
    """

    points: int
    factors: tuple[str, ...]
    band: str
    published_rate_fraction: float
    citation: str
    verified: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {
            "points": self.points,
            "factors": list(self.factors),
            "band": self.band,
            "published_rate_fraction": self.published_rate_fraction,
            "citation": self.citation,
            "verified": self.verified,
        }


def incomplete_cytoreduction_risk(
    *,
    male: bool,
    ascites: bool,
    ca125_u_per_ml: float,
    cea_ng_per_ml: float,
    table: IcrsTable | None = None,
) -> IncompleteCytoreductionRisk:
    """Preoperative risk of incomplete cytoreduction (CC-2/3), US HIPEC Collaborative score.

    Parameters
    ----------
    male
        Male sex scores 1 point.
    ascites
        Ascites on preoperative imaging scores 1 point.
    ca125_u_per_ml
        Serum CA-125 [U/mL]; at or above the cut-off (40) scores 1 point.
    cea_ng_per_ml
        Serum CEA [ng/mL]; at or above the cut-off (4.2) scores 1 point.
    table
        Cut-offs and bands; default the packaged, published table.

    Raises
    ------
    InvalidInputError
        If a laboratory value is negative or not a finite number.
    """
    table = table or default_icrs_table()
    ca125 = _check_lab_value("ca125_u_per_ml", ca125_u_per_ml, "U/mL")
    cea = _check_lab_value("cea_ng_per_ml", cea_ng_per_ml, "ng/mL")
    factors: list[str] = []
    if male:
        factors.append("male sex")
    if ascites:
        factors.append("ascites")
    if ca125 >= table.ca125_cutoff_u_per_ml:
        factors.append(f"CA-125 >= {table.ca125_cutoff_u_per_ml:g} U/mL")
    if cea >= table.cea_cutoff_ng_per_ml:
        factors.append(f"CEA >= {table.cea_cutoff_ng_per_ml:g} ng/mL")
    points = len(factors)
    band = next(b for b in table.bands if b.min_points <= points <= b.max_points)
    return IncompleteCytoreductionRisk(
        points=points,
        factors=tuple(factors),
        band=band.name,
        published_rate_fraction=band.cc2_3_rate_fraction,
        citation=table.citation,
        verified=table.verified,
    )


@dataclass(frozen=True)
class PsdssResult:
    """Result of the PSDSS: total points, stage I-IV, points of each criterion, provenance."""

    points: int
    stage: str
    verified: bool
    citation: str
    symptom_points: int
    pci_points: int
    histology_points: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {
            "points": self.points,
            "stage": self.stage,
            "components": {
                "symptoms": self.symptom_points,
                "pci": self.pci_points,
                "histology": self.histology_points,
            },
            "verified": self.verified,
            "citation": self.citation,
        }


def _choice(field: str, value: str, accepted: tuple[str, ...]) -> str:
    word = value.strip().lower() if isinstance(value, str) else value
    if word not in accepted:
        raise InvalidInputError(field, f"must be one of {', '.join(accepted)}, got {value!r}")
    return str(word)


def psdss(
    *,
    symptoms: PsdssSymptoms | str,
    pci: int,
    histology: PsdssHistology | str,
    table: PsdssTable | None = None,
) -> PsdssResult:
    """Peritoneal Surface Disease Severity Score and its stage (I-IV).

    Parameters
    ----------
    symptoms
        ``"none"``, ``"mild"`` or ``"severe"`` (disease-related symptoms).
    pci
        Peritoneal Cancer Index [points], 0-39, usually from imaging.
    histology
        ``"well-moderate-n0"``, ``"moderate-n1-n2"`` or ``"poor-or-signet-ring"`` (primary tumour).
    table
        Points and stage cut-points; default the packaged table, which is NOT verified against
        the primary paper (the result says so in ``verified``).

    Raises
    ------
    InvalidInputError
        For an unknown category or a PCI outside 0-39.
    """
    table = table or default_psdss_table()
    symptom_key = _choice("symptoms", symptoms, PSDSS_SYMPTOMS)
    histology_key = _choice("histology", histology, PSDSS_HISTOLOGIES)
    if isinstance(pci, bool) or not isinstance(pci, int) or not 0 <= pci <= MAX_PCI:
        raise InvalidInputError("pci", f"must be a whole number 0-{MAX_PCI}, got {pci!r}")
    symptom_points = table.symptom_points[cast(PsdssSymptoms, symptom_key)]
    histology_points = table.histology_points[cast(PsdssHistology, histology_key)]
    pci_points = next(b.points for b in table.pci_bands if b.min_pci <= pci <= b.max_pci)
    points = symptom_points + pci_points + histology_points
    stage = next(s.name for s in table.stages if s.min_points <= points <= s.max_points)
    return PsdssResult(
        points=points,
        stage=stage,
        verified=table.verified,
        citation=table.citation,
        symptom_points=symptom_points,
        pci_points=pci_points,
        histology_points=histology_points,
    )
