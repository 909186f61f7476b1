"""Dose plan: regimen + patient (height, weight) -> BSA, carrier volume, doses in mg at their times.

Rules
-----
- BSA by :func:`hipec.clinical.anthropometry.body_surface_area_m2` (Mosteller by default). If the
  regimen has a ``bsa_cap_m2`` the *dosing* BSA is capped there (said so in ``warnings``).
- Carrier volume [L] = ``volume_l_per_m2`` x dosing BSA, or the fixed ``volume_l``; clamped to the
  rule's bounds, and the clamp is said.
- Each drug's total [mg] = ``mg_per_m2`` x dosing BSA, or fixed ``mg``, or ``mg_per_l`` x carrier
  volume. A ``cap_mg`` caps the total (said so); each scheduled fraction takes its share of the
  (capped) total.
- Concentration at fill [mg/L] = the drug's first fraction / carrier volume (the concentration right
  after it enters the filled circuit, before any absorption); the nominal concentration is the whole
  total over the carrier volume.
- Full precision is kept in the plan; :meth:`PerfusionPlan.to_dict` rounds for display (mg to 0.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hipec.clinical.anthropometry import BSA_FORMULAS, BsaFormula, body_surface_area_m2
from hipec.errors import InvalidInputError
from hipec.protocols.schema import DOSE_BASIS_UNITS, TIMER_START_MEANINGS, Regimen

INTRAPERITONEAL = "intraperitoneal"


@dataclass(frozen=True)
class PlannedDose:
    """One intraperitoneal dose event."""

    drug: str
    mg: float
    at_min: float
    fraction: float
    cap_applied: bool
    route: str = INTRAPERITONEAL


@dataclass(frozen=True)
class DrugTotal:
    """One drug's total over the perfusion."""

    drug: str
    basis: str
    dose_per_basis: float
    uncapped_mg: float
    mg: float
    cap_mg: float | None
    cap_applied: bool
    fill_concentration_mg_per_l: float
    nominal_concentration_mg_per_l: float


@dataclass(frozen=True)
class PlannedSystemicDose:
    """Systemic co-medication, timed relative to the perfusion timer (negative = before)."""

    drug: str
    mg: float
    mg_per_m2: float | None
    at_min: float
    over_min: float
    route: str
    note: str | None


@dataclass(frozen=True)
class PerfusionPlan:
    """Everything needed to run one perfusion for one patient; see the module docstring."""

    regimen_id: str
    regimen_name: str
    technique: str
    height_cm: float
    weight_kg: float
    bsa_formula: str
    bsa_m2: float
    dosing_bsa_m2: float
    carrier_solution: str
    carrier_volume_l: float
    carrier_rule: str
    target_site: str
    target_temperature_c: float
    inflow_target_c: float | None
    intra_abdominal_target_c: float | None
    max_inflow_c: float
    max_intra_abdominal_c: float
    flow_l_per_min: tuple[float, float] | None
    duration_min: float
    timer_start: str
    doses: tuple[PlannedDose, ...]
    totals: tuple[DrugTotal, ...]
    systemic: tuple[PlannedSystemicDose, ...]
    warnings: tuple[str, ...]
    unverified: tuple[str, ...]
    citation: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (rounded for display: mg 0.1, BSA 0.0001 m2, litres 0.01)."""
        return {
            "protocol": self.regimen_id,
            "name": self.regimen_name,
            "technique": self.technique,
            "patient": {"height_cm": self.height_cm, "weight_kg": self.weight_kg},
            "bsa_m2": round(self.bsa_m2, 4),
            "bsa_formula": self.bsa_formula,
            "dosing_bsa_m2": round(self.dosing_bsa_m2, 4),
            "carrier": {
                "solution": self.carrier_solution,
                "volume_l": round(self.carrier_volume_l, 2),
                "rule": self.carrier_rule,
            },
            "target_temperature_c": self.target_temperature_c,
            "target_site": self.target_site,
            "temperature_targets_c": {
                "inflow": self.inflow_target_c,
                "intra_abdominal": self.intra_abdominal_target_c,
            },
            "safety_limits_c": {
                "max_inflow": self.max_inflow_c,
                "max_intra_abdominal": self.max_intra_abdominal_c,
            },
            "flow_l_per_min": (
                None
                if self.flow_l_per_min is None
                else {"min": self.flow_l_per_min[0], "max": self.flow_l_per_min[1]}
            ),
            "duration_min": self.duration_min,
            "timer_start": self.timer_start,
            "timer_start_meaning": TIMER_START_MEANINGS[self.timer_start],
            "doses": [
                {
                    "drug": d.drug,
                    "mg": round(d.mg, 1),
                    "at_min": d.at_min,
                    "route": d.route,
                    "fraction": d.fraction,
                    "mg_per_m2": round(d.mg / self.dosing_bsa_m2, 2),
                    "cap_applied": d.cap_applied,
                }
                for d in self.doses
            ],
            "totals": [
                {
                    "drug": t.drug,
                    "mg": round(t.mg, 1),
                    "uncapped_mg": round(t.uncapped_mg, 1),
                    "dose": t.dose_per_basis,
                    "dose_unit": DOSE_BASIS_UNITS[t.basis],
                    "cap_mg": t.cap_mg,
                    "cap_applied": t.cap_applied,
                    "concentration_at_fill_mg_per_l": round(t.fill_concentration_mg_per_l, 2),
                    "nominal_concentration_mg_per_l": round(t.nominal_concentration_mg_per_l, 2),
                }
                for t in self.totals
            ],
            "systemic": [
                {
                    "drug": s.drug,
                    "mg": round(s.mg, 1),
                    "mg_per_m2": s.mg_per_m2,
                    "at_min": s.at_min,
                    "over_min": s.over_min,
                    "route": s.route,
                    "note": s.note,
                }
                for s in self.systemic
            ],
            "warnings": list(self.warnings),
            "unverified": list(self.unverified),
            "citation": self.citation,
        }


def _carrier_volume_l(regimen: Regimen, dosing_bsa_m2: float, warnings: list[str]) -> float:
    rule = regimen.carrier
    if rule.volume_l is not None:
        return rule.volume_l
    assert rule.volume_l_per_m2 is not None  # one of the two is set (schema rule)
    volume = rule.volume_l_per_m2 * dosing_bsa_m2
    if rule.min_volume_l is not None and volume < rule.min_volume_l:
        warnings.append(
            f"carrier volume raised from {volume:.2f} L to its minimum {rule.min_volume_l:g} L"
        )
        volume = rule.min_volume_l
    if rule.max_volume_l is not None and volume > rule.max_volume_l:
        warnings.append(
            f"carrier volume lowered from {volume:.2f} L to its maximum {rule.max_volume_l:g} L"
        )
        volume = rule.max_volume_l
    return volume


def _carrier_rule_text(regimen: Regimen) -> str:
    rule = regimen.carrier
    base = (
        f"{rule.volume_l:g} L fixed"
        if rule.volume_l is not None
        else f"{rule.volume_l_per_m2:g} L/m2"
    )
    bounds = []
    if rule.min_volume_l is not None:
        bounds.append(f"min {rule.min_volume_l:g} L")
    if rule.max_volume_l is not None:
        bounds.append(f"max {rule.max_volume_l:g} L")
    return f"{base} ({', '.join(bounds)})" if bounds else base


def plan_perfusion(
    regimen: Regimen,
    *,
    height_cm: float,
    weight_kg: float,
    bsa_formula: str = "mosteller",
    technique: str | None = None,
) -> PerfusionPlan:
    """Plan one perfusion of ``regimen`` for a patient.

    Parameters
    ----------
    regimen
        A validated regimen (see :func:`hipec.protocols.get_regimen`).
    height_cm
        Height [cm], 100-250.
    weight_kg
        Weight [kg], 25-300.
    bsa_formula
        ``"mosteller"`` (default) or ``"dubois"``.
    technique
        ``"open"``, ``"closed"`` or ``"laparoscopic"``; None: the regimen's own technique.

    Returns
    -------
    PerfusionPlan
        Frozen; ``.to_dict()`` gives the JSON form.

    Raises
    ------
    InvalidInputError
        For an implausible height or weight, an unknown BSA formula, or a technique the regimen
        does not support (one line naming the field and what is accepted).
    """
    if bsa_formula not in BSA_FORMULAS:
        raise InvalidInputError(
            "bsa_formula", f"must be one of {', '.join(BSA_FORMULAS)}, got {bsa_formula!r}"
        )
    formula: BsaFormula = "dubois" if bsa_formula == "dubois" else "mosteller"
    bsa_m2 = body_surface_area_m2(height_cm, weight_kg, formula)
    resolved = regimen.for_technique(technique)
    warnings: list[str] = []

    dosing_bsa_m2 = bsa_m2
    if resolved.bsa_cap_m2 is not None and bsa_m2 > resolved.bsa_cap_m2:
        dosing_bsa_m2 = resolved.bsa_cap_m2
        warnings.append(
            f"BSA {bsa_m2:.2f} m2 capped at {resolved.bsa_cap_m2:g} m2 for dosing (regimen rule)"
        )
    volume_l = _carrier_volume_l(resolved, dosing_bsa_m2, warnings)

    doses: list[PlannedDose] = []
    totals: list[DrugTotal] = []
    for dose in resolved.doses:
        if dose.basis == "mg_per_m2":
            uncapped = dose.amount * dosing_bsa_m2
        elif dose.basis == "mg":
            uncapped = dose.amount
        else:
            uncapped = dose.amount * volume_l
        total = uncapped
        capped = dose.cap_mg is not None and uncapped > dose.cap_mg
        if capped:
            assert dose.cap_mg is not None
            total = dose.cap_mg
            warnings.append(
                f"{dose.drug}: total capped at {dose.cap_mg:g} mg (uncapped {uncapped:.1f} mg)"
            )
        for part in dose.schedule:
            doses.append(
                PlannedDose(
                    drug=dose.drug,
                    mg=total * part.fraction,
                    at_min=part.at_min,
                    fraction=part.fraction,
                    cap_applied=capped,
                )
            )
        totals.append(
            DrugTotal(
                drug=dose.drug,
                basis=dose.basis,
                dose_per_basis=dose.amount,
                uncapped_mg=uncapped,
                mg=total,
                cap_mg=dose.cap_mg,
                cap_applied=capped,
                fill_concentration_mg_per_l=total * dose.schedule[0].fraction / volume_l,
                nominal_concentration_mg_per_l=total / volume_l,
            )
        )
    doses.sort(key=lambda d: d.at_min)  # stable: drugs given together keep the regimen's order

    systemic = tuple(
        PlannedSystemicDose(
            drug=s.drug,
            mg=s.mg if s.mg is not None else (s.mg_per_m2 or 0.0) * dosing_bsa_m2,
            mg_per_m2=s.mg_per_m2,
            at_min=s.at_min,
            over_min=s.over_min,
            route=s.route,
            note=s.note,
        )
        for s in resolved.systemic
    )
    if resolved.unverified:
        warnings.append(
            f"{len(resolved.unverified)} field(s) of this regimen are not verified against the "
            "primary source: " + ", ".join(resolved.unverified)
        )

    temperature = resolved.temperature
    inflow = temperature.inflow.target_c if temperature.inflow else None
    abdominal = temperature.intra_abdominal.target_c if temperature.intra_abdominal else None
    # the controlled site: the inflow where the regimen names one, else the abdomen
    target_site, target_c = (
        ("inflow", inflow) if inflow is not None else ("intra_abdominal", abdominal)
    )
    assert target_c is not None  # the schema requires at least one target
    flow = resolved.flow
    return PerfusionPlan(
        regimen_id=resolved.id,
        regimen_name=resolved.name,
        technique=resolved.technique,
        height_cm=float(height_cm),
        weight_kg=float(weight_kg),
        bsa_formula=formula,
        bsa_m2=bsa_m2,
        dosing_bsa_m2=dosing_bsa_m2,
        carrier_solution=resolved.carrier.solution,
        carrier_volume_l=volume_l,
        carrier_rule=_carrier_rule_text(resolved),
        target_site=target_site,
        target_temperature_c=target_c,
        inflow_target_c=inflow,
        intra_abdominal_target_c=abdominal,
        max_inflow_c=resolved.safety.max_inflow_c,
        max_intra_abdominal_c=resolved.safety.max_intra_abdominal_c,
        flow_l_per_min=None if flow is None else (flow.min_l_per_min, flow.max_l_per_min),
        duration_min=resolved.duration_min,
        timer_start=resolved.timer_start,
        doses=tuple(doses),
        totals=tuple(totals),
        systemic=systemic,
        warnings=tuple(warnings),
        unverified=resolved.unverified,
        citation=resolved.citation.full(),
    )
