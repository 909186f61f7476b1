"""The summary of one perfusion run, and the twin's thermal and drug metrics over it.

Definitions (all from the twin's *true* state when the machine is simulated, not from its probes):

- ``time_to_target_min``: from the start of the heat phase to the first time the target site is
  within ``TARGET_TOLERANCE_K`` of the target; the target site is the inflow for regimens that
  target the inflow, the mean of the 13 region temperatures for regimens that target the abdomen.
  None if it never got there.
- ``overshoot_c``: the largest excess of the target site over the target in heat and perfuse [K]
  (0 if it never exceeded it).
- ``time_in_range_fraction``: share of region-minutes within 41-43 C during the perfuse phase
  (13 regions).
- ``max_region_c``, ``max_inflow_c``, ``core_max_c``: maxima over the whole run.
- Drug fractions and penetration depth: at the end of perfusion (the moment the drain begins, or
  the abort, or the end of the run if neither happened).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hipec.control import AlarmManager, Procedure
from hipec.control.events import Event
from hipec.devices.simulated import PlantSnapshot, PlantTruth
from hipec.model import REGION_NAMES
from hipec.model.metrics import (
    auc_mg_min_per_l,
    cem43_minutes,
    peak,
    thermally_enhanced_auc,
    time_in_range_minutes,
)
from hipec.model.parameters.thermal import MEASURED_HIGH_C, thermal_enhancement_ratio
from hipec.model.state import FloatArray
from hipec.protocols.plan import PerfusionPlan

#: "At target" for ``time_to_target_min`` [K] (the procedure's default at-target tolerance).
TARGET_TOLERANCE_K = 0.2
#: The therapeutic range of the time-in-range metric [C] (issue 4).
RANGE_LOW_C, RANGE_HIGH_C = 41.0, 43.0


@dataclass(frozen=True)
class RunTrace:
    """The twin's true state at every control period, as arrays (time first).

    Attributes
    ----------
    time_s
        Device time [s] from the start of the run, shape ``(T,)``.
    phase
        Procedure phase at each sample.
    region_c
        ``(T, 13)`` [C].
    inflow_c, outflow_c, reservoir_c, core_c
        ``(T,)`` [C].
    perfusate_mg_l, plasma_mg_l
        ``(T, D)`` [mg/L].
    region_mg_l
        ``(T, D, 13)`` [mg/L]: each drug in each region.
    drugs
        Drug names along D.
    """

    time_s: FloatArray
    phase: tuple[str, ...]
    region_c: FloatArray
    inflow_c: FloatArray
    outflow_c: FloatArray
    reservoir_c: FloatArray
    core_c: FloatArray
    perfusate_mg_l: FloatArray
    plasma_mg_l: FloatArray
    region_mg_l: FloatArray
    drugs: tuple[str, ...]

    @classmethod
    def from_truth(
        cls,
        truth: tuple[PlantTruth, ...],
        phases: tuple[str, ...],
        start_s: float,
        drugs: tuple[str, ...],
    ) -> RunTrace:
        """Stack per-period truths."""
        n_drugs = len(truth[0].perfusate_mg_l) if truth else 0
        return cls(
            time_s=np.array([t.time_s - start_s for t in truth]),
            phase=phases,
            region_c=np.array([t.region_c for t in truth]).reshape(len(truth), 13),
            inflow_c=np.array([t.inflow_c for t in truth]),
            outflow_c=np.array([t.outflow_c for t in truth]),
            reservoir_c=np.array([t.reservoir_c for t in truth]),
            core_c=np.array([t.core_c for t in truth]),
            perfusate_mg_l=np.array([t.perfusate_mg_l for t in truth]).reshape(len(truth), n_drugs),
            plasma_mg_l=np.array([t.plasma_mg_l for t in truth]).reshape(len(truth), n_drugs),
            region_mg_l=np.array([t.region_mg_l for t in truth]).reshape(len(truth), n_drugs, 13),
            drugs=drugs,
        )

    def mask(self, *phases: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Samples taken in any of ``phases``."""
        return np.array([p in phases for p in self.phase], dtype=bool)


@dataclass(frozen=True)
class PhaseRecord:
    """One phase: name, start and end [min from the start of the run] (end None if running)."""

    name: str
    start_min: float
    end_min: float | None


@dataclass(frozen=True)
class AlarmSummary:
    """One alarm's life: times [min from the start of the run], None if it did not happen."""

    code: str
    priority: str
    source: str
    raised_min: float
    acknowledged_min: float | None
    cleared_min: float | None


@dataclass(frozen=True)
class DoseSummary:
    """One planned dose: given time [min from the start of the run] or None if not given."""

    drug: str
    mg: float
    planned_min: float
    given_min: float | None
    confirmed_by: str | None


@dataclass(frozen=True)
class RunResult:
    """Summary of one perfusion; :meth:`to_dict` gives the ``hipec run --json`` shape.

    Attributes beyond the issue's JSON: ``protocol``, ``controller``, ``reason`` (why it was
    aborted), ``events``, ``trace`` (the twin's truth, None for a real machine), ``snapshot``
    (end of perfusion), ``timer_start_min``, ``perfusion_end_min``, ``wall_time_s``.
    """

    protocol: str
    controller: str
    outcome: str
    reason: str | None
    phases: tuple[PhaseRecord, ...]
    alarms: tuple[AlarmSummary, ...]
    doses: tuple[DoseSummary, ...]
    time_to_target_min: float | None
    overshoot_c: float | None
    time_in_range_fraction: float | None
    max_region_c: float | None
    max_inflow_c: float | None
    core_max_c: float | None
    timer_start_min: float | None
    perfusion_end_min: float | None
    target_c: float
    target_site: str
    events: tuple[Event, ...]
    trace: RunTrace | None
    snapshot: PlantSnapshot | None
    wall_time_s: float

    def to_dict(self) -> dict[str, Any]:
        """The issue's JSON shape (minutes rounded to 0.01, temperatures to 0.01 C)."""
        return {
            "outcome": self.outcome,
            "phases": [
                {"name": p.name, "start_min": _r(p.start_min), "end_min": _r(p.end_min)}
                for p in self.phases
            ],
            "alarms": [
                {
                    "code": a.code,
                    "priority": a.priority,
                    "raised_min": _r(a.raised_min),
                    "acknowledged_min": _r(a.acknowledged_min),
                    "cleared_min": _r(a.cleared_min),
                }
                for a in self.alarms
            ],
            "doses": [
                {
                    "drug": d.drug,
                    "mg": round(d.mg, 1),
                    "planned_min": d.planned_min,
                    "given_min": _r(d.given_min),
                }
                for d in self.doses
            ],
            "time_to_target_min": _r(self.time_to_target_min),
            "overshoot_c": _r(self.overshoot_c, 3),
            "time_in_range_fraction": _r(self.time_in_range_fraction, 4),
            "max_region_c": _r(self.max_region_c),
            "max_inflow_c": _r(self.max_inflow_c),
            "core_max_c": _r(self.core_max_c),
        }


def _r(value: float | None, digits: int = 2) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def build_result(
    *,
    plan: PerfusionPlan,
    procedure: Procedure,
    alarms: AlarmManager,
    events: tuple[Event, ...],
    start_s: float,
    truth: tuple[PlantTruth, ...],
    phases_at: tuple[str, ...],
    snapshot: PlantSnapshot | None,
    controller: str,
    wall_time_s: float,
    reason: str | None,
    drugs: tuple[str, ...],
) -> RunResult:
    """Assemble a :class:`RunResult` from the runner's parts."""

    def minutes(time_s: float | None) -> float | None:
        return None if time_s is None else (time_s - start_s) / 60.0

    phases = tuple(
        PhaseRecord(span.phase.value, (span.start_s - start_s) / 60.0, minutes(span.end_s))
        for span in procedure.phases
    )
    alarm_rows = tuple(
        AlarmSummary(
            record.code,
            record.max_priority.label,
            record.source,
            (record.raised_s - start_s) / 60.0,
            minutes(record.acknowledged_s),
            minutes(record.cleared_s),
        )
        for record in alarms.records
    )
    doses = tuple(
        DoseSummary(d.drug, d.mg, d.planned_min, minutes(d.given_s), d.confirmed_by)
        for d in procedure.doses
    )
    timer_start = next((e.time_s for e in events if e.kind == "timer.started"), None)
    perfusion_end = next(
        (s.end_s for s in procedure.phases if s.phase.value == "perfuse" and s.end_s is not None),
        None,
    )
    outcome = "completed" if procedure.phase.value == "complete" else "aborted"
    if outcome == "aborted" and reason is None:
        reason = next((e.message for e in events if e.kind == "procedure.aborted"), None)
    target_site = "inflow" if plan.target_site == "inflow" else "intra_abdominal"
    trace = RunTrace.from_truth(truth, phases_at, start_s, drugs) if truth else None
    thermal = _thermal(trace, plan.target_temperature_c, target_site)
    return RunResult(
        protocol=plan.regimen_id,
        controller=controller,
        outcome=outcome,
        reason=reason if outcome == "aborted" else None,
        phases=phases,
        alarms=alarm_rows,
        doses=doses,
        timer_start_min=minutes(timer_start),
        perfusion_end_min=minutes(perfusion_end),
        target_c=plan.target_temperature_c,
        target_site=target_site,
        events=events,
        trace=trace,
        snapshot=snapshot,
        wall_time_s=wall_time_s,
        **thermal,
    )


def target_site_series(trace: RunTrace, target_site: str) -> FloatArray:
    """The target site's true temperature at each sample [C]: the inflow, or the mean region."""
    if target_site == "inflow":
        return trace.inflow_c
    return np.asarray(trace.region_c.mean(axis=1))


def _thermal(trace: RunTrace | None, target_c: float, target_site: str) -> dict[str, Any]:
    empty: dict[str, Any] = {
        "time_to_target_min": None,
        "overshoot_c": None,
        "time_in_range_fraction": None,
        "max_region_c": None,
        "max_inflow_c": None,
        "core_max_c": None,
    }
    if trace is None or trace.time_s.size == 0:
        return empty
    site = target_site_series(trace, target_site)
    heating = trace.mask("heat", "perfuse")
    result = dict(empty)
    heat = trace.mask("heat")
    if heating.any():
        start = trace.time_s[np.argmax(heat)] if heat.any() else trace.time_s[np.argmax(heating)]
        reached = heating & (site >= target_c - TARGET_TOLERANCE_K) & (trace.time_s >= start)
        if reached.any():
            result["time_to_target_min"] = (trace.time_s[np.argmax(reached)] - start) / 60.0
        result["overshoot_c"] = max(float(site[heating].max()) - target_c, 0.0)
    perfuse = trace.mask("perfuse")
    if perfuse.sum() >= 2:
        times, regions = trace.time_s[perfuse], trace.region_c[perfuse]
        inside = time_in_range_minutes(times, regions, RANGE_LOW_C, RANGE_HIGH_C)
        span_min = (times[-1] - times[0]) / 60.0
        if span_min > 0:
            result["time_in_range_fraction"] = float(inside.sum() / (13 * span_min))
    result["max_region_c"] = float(trace.region_c.max())
    result["max_inflow_c"] = float(trace.inflow_c.max())
    result["core_max_c"] = float(trace.core_c.max())
    return result


def drug_key(name: str) -> str:
    """The lowercase generic name used as a JSON key (``"mitomycin C"`` -> ``"mitomycin"``)."""
    return name.lower().split()[0]


def _drug_region_rows(
    drug: str, times: FloatArray, region_c: FloatArray, region_mg_l: FloatArray
) -> list[dict[str, Any]]:
    """Per region: the drug's AUC and, where a thermal enhancement of its cytotoxicity is
    published, the AUC weighted by it at the region's temperature (None otherwise)."""
    auc = auc_mg_min_per_l(times, region_mg_l)
    ratio = thermal_enhancement_ratio(drug, region_c)
    enhanced = thermally_enhanced_auc(times, region_mg_l, ratio) if ratio is not None else None
    return [
        {
            "index": index,
            "name": REGION_NAMES[index],
            "auc_mg_min_per_l": _r(float(auc[index]), 1),
            "thermally_enhanced_auc_mg_min_per_l": (
                _r(float(enhanced[index]), 1) if enhanced is not None else None
            ),
        }
        for index in range(13)
    ]


def simulation_report(result: RunResult, plan: PerfusionPlan) -> dict[str, Any]:
    """The ``hipec simulate --json`` document (issue 3's shape plus the run's outcome).

    Means, minima, maxima and time in range are over the perfusion period (timer start to drain);
    CEM43 over the whole run; AUC ratio over the perfusion period; plasma Cmax over the run from
    the timer start and Tmax in minutes from the timer start; fractions and penetration depth at
    the end of perfusion.
    """
    trace = result.trace
    if trace is None:
        raise ValueError("simulation_report needs a simulated run (no trace)")
    perfuse = trace.mask("perfuse")
    window = perfuse if perfuse.sum() >= 2 else np.ones_like(perfuse)
    times = trace.time_s[window]
    regions = trace.region_c[window]
    span_min = (times[-1] - times[0]) / 60.0 if times.size > 1 else 0.0
    in_range = time_in_range_minutes(times, regions, RANGE_LOW_C, RANGE_HIGH_C)
    cem43 = cem43_minutes(trace.time_s, trace.region_c)
    snapshot = result.snapshot
    gradient = float(np.mean(snapshot.wall_gradient_first_mm_k)) if snapshot is not None else None
    region_rows = [
        {
            "index": index,
            "name": REGION_NAMES[index],
            "mean_c": _r(float(_time_mean(times, regions[:, index]))),
            "min_c": _r(float(regions[:, index].min())),
            "max_c": _r(float(regions[:, index].max())),
            "time_in_range_fraction": _r(in_range[index] / span_min if span_min > 0 else None, 4),
            "cem43_min": _r(float(cem43[index]), 3),
        }
        for index in range(13)
    ]
    drugs: dict[str, Any] = {}
    timer_start_s = (result.timer_start_min or 0.0) * 60.0
    after_start = trace.time_s >= timer_start_s - 1e-9
    for column, name in enumerate(trace.drugs):
        given = sum(d.mg for d in result.doses if d.drug == name and d.given_min is not None)
        state = next((d for d in snapshot.drugs if d.drug == name), None) if snapshot else None
        perfusate, plasma = trace.perfusate_mg_l[:, column], trace.plasma_mg_l[:, column]
        auc_perfusate = float(auc_mg_min_per_l(times, perfusate[window]))
        auc_plasma = float(auc_mg_min_per_l(times, plasma[window]))
        cmax, tmax_s = peak(trace.time_s[after_start], plasma[after_start])
        at_43 = thermal_enhancement_ratio(name, MEASURED_HIGH_C)
        drugs[drug_key(name)] = {
            "dose_mg": round(given, 1),
            "fraction_remaining_in_perfusate": _r(state.fraction_remaining if state else None, 4),
            "fraction_absorbed": _r(state.fraction_absorbed if state else None, 4),
            "fraction_in_urine": _r(state.fraction_urine if state else None, 4),
            "auc_ratio_perfusate_to_plasma": _r(
                auc_perfusate / auc_plasma if auc_plasma > 0 else None, 2
            ),
            "plasma_cmax_mg_per_l": _r(float(cmax), 4),
            "plasma_tmax_min": _r((float(tmax_s) - timer_start_s) / 60.0, 1),
            "penetration_depth_mm": _r(state.penetration_depth_mm if state else None, 3),
            "thermal_enhancement_ratio_at_43c": _r(float(at_43) if at_43 is not None else None, 3),
            "regions": _drug_region_rows(name, times, regions, trace.region_mg_l[window, column]),
        }
    return {
        "protocol": plan.regimen_id,
        "technique": plan.technique,
        "outcome": result.outcome,
        "duration_min": plan.duration_min,
        "controller": result.controller,
        "target_c": plan.target_temperature_c,
        "target_site": result.target_site,
        "thermal": {
            "time_to_target_min": _r(result.time_to_target_min),
            "overshoot_c": _r(result.overshoot_c, 3),
            "time_in_range_fraction": _r(result.time_in_range_fraction, 4),
            "inflow_mean_c": _r(float(_time_mean(times, trace.inflow_c[window]))),
            "outflow_mean_c": _r(float(_time_mean(times, trace.outflow_c[window]))),
            "core_max_c": _r(result.core_max_c),
            "max_region_c": _r(result.max_region_c),
            "wall_gradient_first_mm_c": _r(gradient, 3),
            "regions": region_rows,
        },
        "drugs": drugs,
        "phases": result.to_dict()["phases"],
        "alarms": result.to_dict()["alarms"],
    }


def _time_mean(times: FloatArray, values: FloatArray) -> float:
    """Time-weighted mean (trapezoid) [unit of values]; the plain mean for a single sample."""
    if times.size < 2 or times[-1] <= times[0]:
        return float(np.mean(values))
    return float(np.trapezoid(values, times) / (times[-1] - times[0]))
