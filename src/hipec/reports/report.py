"""The procedure report of one case, as a plain dataclass tree assembled from the database.

:func:`build_report` reads a case (:mod:`hipec.store`) and returns a :class:`ProcedureReport`:
the patient and the dose plan, the PCI map of the staging, the cytoreduction (resections, CC), and,
when the case has a perfusion run, its phases, doses planned and given, alarms, the 1 Hz samples,
the regional thermal dose and drug exposure, the delivered totals and the billing codes. The HTML
(:mod:`hipec.reports.html`) and PDF (:mod:`hipec.reports.pdf`) renderers only lay this tree out;
they compute nothing of their own.

Where the figures come from
---------------------------
- Per-region temperatures, time in range and CEM43 of all 13 regions, and the drug figures, come
  from the run's ``summary`` (the runner's; issue 3's ``hipec simulate --json`` shape:
  ``thermal.regions[]`` with ``index, name, mean_c, min_c, max_c, time_in_range_fraction,
  cem43_min``, ``drugs.{drug}`` with ``dose_mg``, fractions, AUC ratio, plasma Cmax/Tmax,
  penetration depth, and optionally ``regions[]`` with ``auc_mg_min_per_l`` per region). On a real
  machine only the probed regions are measured, so these are model estimates: the report says so.
- The *measured* thermal dose of each intra-abdominal probe is computed here from the stored
  samples (:func:`hipec.model.metrics.cem43_minutes`, Sapareto & Dewey 1984) over the perfusion
  period (timer start to timer end; the whole run if the timer was never recorded).
- Billing: CPT from the run's perfusion minutes (:func:`hipec.reports.coding.hipec_cpt_codes`),
  ICD-10-CM from the primary site and code (:func:`hipec.reports.coding.diagnosis_codes`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from hipec.clinical.anthropometry import body_surface_area_m2
from hipec.clinical.cytoreduction import CC_DESCRIPTIONS, is_complete_cytoreduction
from hipec.clinical.pci import PCI_REGIONS, REGION_COUNT
from hipec.errors import InvalidInputError, NotFoundError
from hipec.model.metrics import cem43_minutes
from hipec.model.state import FloatArray
from hipec.reports.coding import (
    DEFAULT_TIME_RULE,
    TIME_RULES,
    BillingCode,
    diagnosis_codes,
    hipec_cpt_codes,
)
from hipec.store.models import (
    CAVITY_COLUMNS,
    SAMPLE_FLOAT_CHANNELS,
    Assessment,
    Patient,
    PerfusionRun,
    Procedure,
)
from hipec.store.repository import get_case, run_samples_columns
from hipec.store.vocabulary import RESECTIONS

DISCLAIMER = (
    "Produced by hipec, research and training software, not a certified medical device. "
    "Check every figure against the primary record before clinical use."
)
SYNTHETIC_NOTICE = "SYNTHETIC CASE: fictional data, not a real patient."

#: Lesion size scores (Jacquet & Sugarbaker 1996; hipec's boundary rule, hipec.clinical.pci).
LESION_SIZE_DESCRIPTIONS: dict[int, str] = {
    0: "no implant",
    1: "up to 0.5 cm",
    2: "over 0.5 up to 5 cm",
    3: "over 5 cm or confluent",
}
#: Phases in the order a perfusion passes through them (hipec.control.procedure.Phase values).
PHASE_ORDER: tuple[str, ...] = (
    "setup",
    "prime",
    "fill",
    "heat",
    "perfuse",
    "drain",
    "rinse",
    "complete",
    "aborted",
)
ALARM_PRIORITY_ORDER: dict[str, int] = {"high": 0, "medium": 1, "low": 2, "info": 3}


# --------------------------------------------------------------------------------------------
# The report tree
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientSummary:
    """Who the report is about (pseudonymous)."""

    case_number: str
    sex: str
    birth_year: int
    age_years: int | None
    height_cm: float | None
    weight_kg: float | None
    bsa_m2: float | None
    primary_site: str
    primary_icd10: str | None
    histology: str | None
    synthetic: bool


@dataclass(frozen=True)
class PciMap:
    """One staging: the lesion size score (0-3) of each of the 13 regions and their sum."""

    assessed_on: dt.date
    source: str
    pci: int
    scores: tuple[int, ...]
    decision: str | None

    @property
    def involved(self) -> tuple[tuple[int, str, int], ...]:
        """``(index, name, score)`` of every region with disease."""
        return tuple(
            (region.index, region.name, score)
            for region, score in zip(PCI_REGIONS, self.scores, strict=True)
            if score
        )


@dataclass(frozen=True)
class StagingLine:
    """One staging in the case's history (date, source, PCI)."""

    assessed_on: dt.date
    source: str
    pci: int


@dataclass(frozen=True)
class Resection:
    """One resection of the vocabulary :data:`hipec.store.vocabulary.RESECTIONS`."""

    code: str
    label: str
    kind: str


@dataclass(frozen=True)
class SurgerySummary:
    """The cytoreductive surgery."""

    performed_on: dt.date
    technique: str
    crs_start: dt.datetime | None
    crs_end: dt.datetime | None
    crs_minutes: float | None
    resections: tuple[Resection, ...]
    cc_score: int | None
    cc_description: str | None
    blood_loss_ml: int | None

    @property
    def complete_cytoreduction(self) -> bool | None:
        """CC-0 or CC-1 (None if the CC score was not recorded)."""
        return None if self.cc_score is None else is_complete_cytoreduction(self.cc_score)

    @property
    def peritonectomies(self) -> tuple[Resection, ...]:
        """The peritonectomy procedures among the resections."""
        return tuple(r for r in self.resections if r.kind == "peritonectomy")

    @property
    def organ_resections(self) -> tuple[Resection, ...]:
        """The organ resections among the resections."""
        return tuple(r for r in self.resections if r.kind != "peritonectomy")


@dataclass(frozen=True)
class PlanSummary:
    """The dose plan the run was started with (its stored ``PerfusionPlan.to_dict()``)."""

    regimen_id: str
    regimen_name: str
    technique: str
    bsa_m2: float
    dosing_bsa_m2: float
    bsa_formula: str
    carrier_solution: str
    carrier_volume_l: float
    target_site: str
    target_temperature_c: float
    target_range_c: tuple[float, float] | None
    max_inflow_c: float | None
    max_intra_abdominal_c: float | None
    flow_l_per_min: tuple[float, float] | None
    duration_min: float
    timer_start: str
    warnings: tuple[str, ...]
    citation: str


@dataclass(frozen=True)
class PhaseSpan:
    """One phase of the run, in device time [s]."""

    phase: str
    start_s: float
    end_s: float

    @property
    def minutes(self) -> float:
        """Length [min]."""
        return (self.end_s - self.start_s) / 60.0


@dataclass(frozen=True)
class DoseRow:
    """A dose as planned and as given (either side may be missing)."""

    drug: str
    route: str
    planned_mg: float | None
    planned_at_min: float | None
    given_mg: float | None
    given_at_s: float | None
    #: When it was given [min after the perfusion timer started], None without a timer.
    given_at_timer_min: float | None

    @property
    def deviation_percent(self) -> float | None:
        """(given - planned) / planned [%], None unless both are known."""
        if self.planned_mg is None or self.given_mg is None or self.planned_mg == 0:
            return None
        return 100.0 * (self.given_mg - self.planned_mg) / self.planned_mg


@dataclass(frozen=True)
class AlarmRow:
    """An alarm with its device times [s]."""

    code: str
    priority: str
    message: str
    raised_s: float
    acknowledged_s: float | None
    cleared_s: float | None

    @property
    def active_s(self) -> float | None:
        """How long the condition lasted [s], None if it never cleared."""
        return None if self.cleared_s is None else self.cleared_s - self.raised_s


@dataclass(frozen=True)
class RegionThermal:
    """Thermal figures of one region over the perfusion period (model estimate: run summary)."""

    index: int
    name: str
    mean_c: float | None
    min_c: float | None
    max_c: float | None
    time_in_range_fraction: float | None
    cem43_min: float | None
    probed: bool


@dataclass(frozen=True)
class ProbeThermal:
    """What one intra-abdominal probe measured over the perfusion period."""

    region: int
    name: str
    mean_c: float | None
    min_c: float | None
    max_c: float | None
    cem43_min: float | None
    samples: int


@dataclass(frozen=True)
class DrugExposure:
    """One drug's delivered exposure (run summary)."""

    drug: str
    dose_mg: float | None
    fraction_remaining_in_perfusate: float | None
    fraction_absorbed: float | None
    fraction_in_urine: float | None
    auc_ratio_perfusate_to_plasma: float | None
    plasma_cmax_mg_per_l: float | None
    plasma_tmax_min: float | None
    penetration_depth_mm: float | None
    #: Perfusate AUC of each region [mg.min/L] (13 values, None where not given), or None.
    region_auc_mg_min_per_l: tuple[float | None, ...] | None


@dataclass(frozen=True)
class DrugTotal:
    """One drug: total planned and total given [mg]."""

    drug: str
    planned_mg: float | None
    given_mg: float | None


@dataclass(frozen=True)
class DeliveredTotals:
    """What the perfusion delivered, in numbers."""

    perfusion_min: float | None
    run_min: float | None
    time_to_target_min: float | None
    inflow_mean_c: float | None
    outflow_mean_c: float | None
    inflow_max_c: float | None
    cavity_max_c: float | None
    core_max_c: float | None
    flow_mean_l_per_min: float | None
    drugs: tuple[DrugTotal, ...]
    samples: int


@dataclass(frozen=True)
class RunSeries:
    """The run's 1 Hz samples: device time [s] and each channel (nan = no value)."""

    time_s: FloatArray
    channels: Mapping[str, FloatArray]
    probe_regions: tuple[int, ...]

    def channel(self, name: str) -> FloatArray:
        """One channel's values (nan where the channel had no value)."""
        return self.channels[name]

    def has_values(self, name: str) -> bool:
        """True if the channel has at least one value."""
        values = self.channels.get(name)
        return values is not None and bool(np.isfinite(values).any())


@dataclass(frozen=True)
class RunReport:
    """One perfusion run."""

    run_id: int
    status: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    end_reason: str | None
    device_name: str | None
    plan: PlanSummary | None
    phases: tuple[PhaseSpan, ...]
    timer_start_s: float | None
    timer_end_s: float | None
    doses: tuple[DoseRow, ...]
    alarms: tuple[AlarmRow, ...]
    series: RunSeries
    region_thermal: tuple[RegionThermal, ...]
    probe_thermal: tuple[ProbeThermal, ...]
    drugs: tuple[DrugExposure, ...]
    totals: DeliveredTotals

    @property
    def region_cem43(self) -> tuple[float | None, ...]:
        """CEM43 [min] of regions 0-12 from the summary (None where not given)."""
        if not self.region_thermal:
            return (None,) * REGION_COUNT
        return tuple(r.cem43_min for r in self.region_thermal)

    @property
    def probe_cem43(self) -> tuple[float | None, ...]:
        """Measured CEM43 [min] of regions 0-12 (None where there is no probe)."""
        values: list[float | None] = [None] * REGION_COUNT
        for probe in self.probe_thermal:
            values[probe.region] = probe.cem43_min
        return tuple(values)


@dataclass(frozen=True)
class BillingSection:
    """Codes to report: CPT from the perfusion minutes, ICD-10-CM from the diagnoses."""

    perfusion_min: float | None
    time_rule: str
    cpt: tuple[BillingCode, ...]
    icd10: tuple[BillingCode, ...]
    note: str


@dataclass(frozen=True)
class ProcedureReport:
    """The whole report of one case (see the module docstring)."""

    generated_at: dt.datetime
    patient: PatientSummary
    pci: PciMap | None
    staging_history: tuple[StagingLine, ...]
    surgery: SurgerySummary | None
    run: RunReport | None
    other_runs: tuple[tuple[int, str, dt.datetime], ...]
    billing: BillingSection
    disclaimer: str = DISCLAIMER
    notices: tuple[str, ...] = field(default_factory=tuple)

    @property
    def synthetic(self) -> bool:
        """The case is synthetic (demo data)."""
        return self.patient.synthetic

    @property
    def title(self) -> str:
        """Report title."""
        return f"CRS + HIPEC procedure report: case {self.patient.case_number}"


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------


def _float(value: Any) -> float | None:
    """A finite float, or None (missing, nan, not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _patient_summary(patient: Patient, on: dt.date) -> PatientSummary:
    bsa = None
    if patient.height_cm is not None and patient.weight_kg is not None:
        try:
            bsa = body_surface_area_m2(patient.height_cm, patient.weight_kg)
        except InvalidInputError:  # an implausible stored value: show none rather than fail
            bsa = None
    return PatientSummary(
        case_number=patient.case_number,
        sex=patient.sex,
        birth_year=patient.birth_year,
        age_years=on.year - patient.birth_year if patient.birth_year else None,
        height_cm=patient.height_cm,
        weight_kg=patient.weight_kg,
        bsa_m2=bsa,
        primary_site=patient.primary_site,
        primary_icd10=patient.primary_icd10,
        histology=patient.histology,
        synthetic=bool(patient.synthetic),
    )


def _pci_map(assessment: Assessment) -> PciMap:
    return PciMap(
        assessed_on=assessment.assessed_on,
        source=assessment.source,
        pci=assessment.pci,
        scores=tuple(int(s) for s in assessment.lesion_size_scores),
        decision=assessment.decision,
    )


def _choose_staging(assessments: Sequence[Assessment], on: dt.date | None) -> Assessment | None:
    """The staging the report draws: the surgical one (laparotomy) on or before the operation,
    else the latest on or before it, else the latest of all."""
    if not assessments:
        return None
    before = [a for a in assessments if on is None or a.assessed_on <= on]
    surgical = [a for a in before if a.source == "laparotomy"]
    for candidates in (surgical, before, list(assessments)):
        if candidates:
            return max(candidates, key=lambda a: (a.assessed_on, a.id))
    return None


def _surgery(procedure: Procedure) -> SurgerySummary:
    minutes = None
    if procedure.crs_start is not None and procedure.crs_end is not None:
        minutes = (procedure.crs_end - procedure.crs_start).total_seconds() / 60.0
    resections = tuple(
        Resection(code, RESECTIONS[code].label, RESECTIONS[code].kind)
        if code in RESECTIONS
        else Resection(code, code, "other")
        for code in procedure.resections
    )
    cc = procedure.cc_score
    return SurgerySummary(
        performed_on=procedure.performed_on,
        technique=procedure.technique,
        crs_start=procedure.crs_start,
        crs_end=procedure.crs_end,
        crs_minutes=minutes,
        resections=resections,
        cc_score=cc,
        cc_description=CC_DESCRIPTIONS.get(cc) if cc is not None else None,
        blood_loss_ml=procedure.blood_loss_ml,
    )


def _plan_summary(plan: Mapping[str, Any], regimen: Mapping[str, Any] | None) -> PlanSummary:
    carrier = plan.get("carrier") or {}
    limits = plan.get("safety_limits_c") or {}
    flow = plan.get("flow_l_per_min")
    target_site = str(plan.get("target_site", "inflow"))
    band: tuple[float, float] | None = None
    site_rule = ((regimen or {}).get("temperature") or {}).get(target_site) or {}
    low, high = _float(site_rule.get("min_c")), _float(site_rule.get("max_c"))
    if low is not None and high is not None:
        band = (low, high)
    return PlanSummary(
        regimen_id=str(plan.get("protocol", "")),
        regimen_name=str(plan.get("name", "")),
        technique=str(plan.get("technique", "")),
        bsa_m2=float(plan.get("bsa_m2", math.nan)),
        dosing_bsa_m2=float(plan.get("dosing_bsa_m2", math.nan)),
        bsa_formula=str(plan.get("bsa_formula", "")),
        carrier_solution=str(carrier.get("solution", "")),
        carrier_volume_l=float(carrier.get("volume_l", math.nan)),
        target_site=target_site,
        target_temperature_c=float(plan.get("target_temperature_c", math.nan)),
        target_range_c=band,
        max_inflow_c=_float(limits.get("max_inflow")),
        max_intra_abdominal_c=_float(limits.get("max_intra_abdominal")),
        flow_l_per_min=(float(flow["min"]), float(flow["max"])) if flow else None,
        duration_min=float(plan.get("duration_min", math.nan)),
        timer_start=str(plan.get("timer_start_meaning") or plan.get("timer_start", "")),
        warnings=tuple(str(w) for w in plan.get("warnings", ())),
        citation=str(plan.get("citation", "")),
    )


def _event_phase(kind: str, message: str, data: Mapping[str, Any] | None) -> str | None:
    """The phase a ``phase.changed`` event enters (from its data, else its message)."""
    if kind not in ("phase.changed", "phase"):
        return None
    data = data or {}
    for key in ("to", "phase", "code"):
        if isinstance(data.get(key), str):
            return str(data[key])
    # messages read "prime -> fill" or "procedure opened: setup"
    tail = message.replace(":", "->").split("->")[-1].strip()
    return tail or None


def _phases(run: PerfusionRun, end_s: float) -> tuple[PhaseSpan, ...]:
    changes = [
        (event.time_s, phase)
        for event in sorted(run.events, key=lambda e: (e.time_s, e.id))
        if (phase := _event_phase(event.kind, event.message, event.data)) is not None
    ]
    spans: list[PhaseSpan] = []
    for i, (start, phase) in enumerate(changes):
        if phase in ("complete", "aborted"):
            continue  # terminal: no span of its own
        stop = changes[i + 1][0] if i + 1 < len(changes) else end_s
        if stop > start:
            spans.append(PhaseSpan(phase, start, stop))
    return tuple(spans)


def _timer(run: PerfusionRun, phases: Sequence[PhaseSpan]) -> tuple[float | None, float | None]:
    start = next((e.time_s for e in run.events if e.kind == "timer.started"), None)
    end = next((e.time_s for e in run.events if e.kind == "timer.ended"), None)
    perfuse = [p for p in phases if p.phase == "perfuse"]
    if start is None and perfuse:
        start = perfuse[0].start_s
    if end is None and perfuse:
        end = perfuse[-1].end_s
    return start, end


def _series(session: Session, run: PerfusionRun) -> RunSeries:
    # a run still being recorded has no sample count yet, but its committed samples count
    columns = run_samples_columns(session, run.id)
    time_s = np.asarray(columns.get("time_s", []), dtype=np.float64)
    channels: dict[str, FloatArray] = {}
    for name in (*SAMPLE_FLOAT_CHANNELS, *CAVITY_COLUMNS):
        values = columns.get(name, [])
        channels[name] = np.array(
            [math.nan if v is None else float(v) for v in values], dtype=np.float64
        )
    probes = tuple(int(r) for r in run.cavity_probe_regions or ())
    return RunSeries(time_s, channels, probes)


def _window(series: RunSeries, start_s: float | None, end_s: float | None) -> FloatArray:
    """Boolean mask of the samples in [start, end] (everything when the timer is unknown)."""
    mask = np.ones(series.time_s.shape, dtype=bool)
    if start_s is not None:
        mask &= series.time_s >= start_s
    if end_s is not None:
        mask &= series.time_s <= end_s
    return mask


def _stats(values: FloatArray) -> tuple[float | None, float | None, float | None]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None, None
    return float(finite.mean()), float(finite.min()), float(finite.max())


def _probe_thermal(series: RunSeries, mask: FloatArray) -> tuple[ProbeThermal, ...]:
    result = []
    for region in series.probe_regions:
        values = series.channel(CAVITY_COLUMNS[region])[mask]
        times = series.time_s[mask]
        finite = np.isfinite(values)
        mean, low, high = _stats(values)
        cem43 = None
        if finite.sum() >= 2:
            # a gap (no value) adds no dose: sum over the readings the probe actually gave
            cem43 = float(cem43_minutes(times[finite], values[finite]))
        result.append(
            ProbeThermal(
                region, PCI_REGIONS[region].name, mean, low, high, cem43, int(finite.sum())
            )
        )
    return tuple(result)


def _region_thermal(summary: Mapping[str, Any], probes: Sequence[int]) -> tuple[RegionThermal, ...]:
    regions = (summary.get("thermal") or {}).get("regions") or []
    by_index: dict[int, Mapping[str, Any]] = {}
    for item in regions:
        index = item.get("index") if isinstance(item, Mapping) else None
        if isinstance(index, int) and 0 <= index < REGION_COUNT:
            by_index[index] = item
    if not by_index:
        return ()
    return tuple(
        RegionThermal(
            index=region.index,
            name=region.name,
            mean_c=_float(by_index.get(region.index, {}).get("mean_c")),
            min_c=_float(by_index.get(region.index, {}).get("min_c")),
            max_c=_float(by_index.get(region.index, {}).get("max_c")),
            time_in_range_fraction=_float(
                by_index.get(region.index, {}).get("time_in_range_fraction")
            ),
            cem43_min=_float(by_index.get(region.index, {}).get("cem43_min")),
            probed=region.index in probes,
        )
        for region in PCI_REGIONS
    )


def _drugs(summary: Mapping[str, Any]) -> tuple[DrugExposure, ...]:
    drugs = summary.get("drugs") or {}
    result = []
    for name, figures in drugs.items():
        if not isinstance(figures, Mapping):
            continue
        region_auc: tuple[float | None, ...] | None = None
        regions = figures.get("regions")
        if isinstance(regions, list) and regions:
            values: list[float | None] = [None] * REGION_COUNT
            for item in regions:
                index = item.get("index") if isinstance(item, Mapping) else None
                if isinstance(index, int) and 0 <= index < REGION_COUNT:
                    values[index] = _float(item.get("auc_mg_min_per_l"))
            region_auc = tuple(values)
        result.append(
            DrugExposure(
                drug=str(name),
                dose_mg=_float(figures.get("dose_mg")),
                fraction_remaining_in_perfusate=_float(
                    figures.get("fraction_remaining_in_perfusate")
                ),
                fraction_absorbed=_float(figures.get("fraction_absorbed")),
                fraction_in_urine=_float(figures.get("fraction_in_urine")),
                auc_ratio_perfusate_to_plasma=_float(figures.get("auc_ratio_perfusate_to_plasma")),
                plasma_cmax_mg_per_l=_float(figures.get("plasma_cmax_mg_per_l")),
                plasma_tmax_min=_float(figures.get("plasma_tmax_min")),
                penetration_depth_mm=_float(figures.get("penetration_depth_mm")),
                region_auc_mg_min_per_l=region_auc,
            )
        )
    return tuple(result)


def _doses(run: PerfusionRun, timer_start_s: float | None) -> tuple[DoseRow, ...]:
    rows = []
    for dose in run.doses:
        at_timer = None
        if dose.given_at_s is not None and timer_start_s is not None:
            at_timer = (dose.given_at_s - timer_start_s) / 60.0
        rows.append(
            DoseRow(
                drug=dose.drug,
                route=dose.route,
                planned_mg=dose.planned_mg,
                planned_at_min=dose.planned_at_min,
                given_mg=dose.given_mg,
                given_at_s=dose.given_at_s,
                given_at_timer_min=at_timer,
            )
        )
    return tuple(rows)


def _drug_totals(doses: Sequence[DoseRow]) -> tuple[DrugTotal, ...]:
    totals: dict[str, tuple[float | None, float | None]] = {}
    for dose in doses:
        planned, given = totals.get(dose.drug, (None, None))
        if dose.planned_mg is not None:
            planned = (planned or 0.0) + dose.planned_mg
        if dose.given_mg is not None:
            given = (given or 0.0) + dose.given_mg
        totals[dose.drug] = (planned, given)
    return tuple(DrugTotal(drug, p, g) for drug, (p, g) in totals.items())


def _perfusion_minutes(
    run: PerfusionRun, timer_start_s: float | None, timer_end_s: float | None
) -> float | None:
    if run.perfusion_min is not None:
        return float(run.perfusion_min)
    if timer_start_s is not None and timer_end_s is not None and timer_end_s > timer_start_s:
        return (timer_end_s - timer_start_s) / 60.0
    return None


def _run_report(session: Session, run: PerfusionRun) -> RunReport:
    series = _series(session, run)
    end_s = float(series.time_s[-1]) if series.time_s.size else 0.0
    if run.events:
        end_s = max(end_s, max(e.time_s for e in run.events))
    phases = _phases(run, end_s)
    timer_start, timer_end = _timer(run, phases)
    mask = _window(series, timer_start, timer_end)
    summary: Mapping[str, Any] = run.summary or {}
    thermal = summary.get("thermal") or {}
    doses = _doses(run, timer_start)
    flows = series.channel("inflow_l_per_min")[mask]
    cavity = np.concatenate(
        [series.channel(CAVITY_COLUMNS[r]) for r in series.probe_regions] or [np.array([])]
    )
    totals = DeliveredTotals(
        perfusion_min=_perfusion_minutes(run, timer_start, timer_end),
        run_min=(run.duration_s / 60.0) if run.duration_s is not None else None,
        time_to_target_min=_float(thermal.get("time_to_target_min")),
        inflow_mean_c=_stats(series.channel("inflow_c")[mask])[0],
        outflow_mean_c=_stats(series.channel("outflow_c")[mask])[0],
        inflow_max_c=_stats(series.channel("inflow_c"))[2],
        cavity_max_c=_stats(cavity)[2],
        core_max_c=_stats(series.channel("core_c"))[2],
        flow_mean_l_per_min=_stats(flows)[0],
        drugs=_drug_totals(doses),
        samples=int(series.time_s.size),
    )
    alarms = tuple(
        sorted(
            (
                AlarmRow(a.code, a.priority, a.message, a.raised_s, a.acknowledged_s, a.cleared_s)
                for a in run.alarms
            ),
            key=lambda a: a.raised_s,
        )
    )
    return RunReport(
        run_id=run.id,
        status=run.status,
        started_at=run.started_at,
        ended_at=run.ended_at,
        end_reason=run.end_reason,
        device_name=run.device_name,
        plan=_plan_summary(run.plan, run.regimen) if run.plan else None,
        phases=phases,
        timer_start_s=timer_start,
        timer_end_s=timer_end,
        doses=doses,
        alarms=alarms,
        series=series,
        region_thermal=_region_thermal(summary, series.probe_regions),
        probe_thermal=_probe_thermal(series, mask),
        drugs=_drugs(summary),
        totals=totals,
    )


def _choose_run(patient: Patient, run_id: int | None) -> PerfusionRun | None:
    if run_id is not None:
        for run in patient.runs:
            if run.id == run_id:
                return run
        known = ", ".join(str(r.id) for r in patient.runs) or "none"
        raise NotFoundError(
            "run", f"case {patient.case_number} has no perfusion run {run_id} (its runs: {known})"
        )
    if not patient.runs:
        return None
    # the latest run; a run still being recorded is reported too (status says so)
    return max(patient.runs, key=lambda r: (r.started_at, r.id))


def _billing(patient: Patient, perfusion_min: float | None, time_rule: str) -> BillingSection:
    icd10 = tuple(diagnosis_codes(patient.primary_site, patient.primary_icd10))
    if perfusion_min is None:
        return BillingSection(
            None, time_rule, (), icd10, "No perfusion time recorded: no HIPEC procedure code."
        )
    cpt = tuple(hipec_cpt_codes(perfusion_min, time_rule))
    whole = math.floor(perfusion_min)
    rule_text = (
        "a unit counts once its midpoint is passed"
        if time_rule == "midpoint"
        else "only completed units count"
    )
    note = f"CPT from {whole} perfusion minutes ({time_rule} rule: {rule_text})."
    if not cpt:
        note += " Below the first unit's threshold: no HIPEC code reportable."
    return BillingSection(perfusion_min, time_rule, cpt, icd10, note)


def build_report(
    session: Session,
    case_number: str,
    *,
    run_id: int | None = None,
    time_rule: str = DEFAULT_TIME_RULE,
    now: dt.datetime | None = None,
) -> ProcedureReport:
    """Assemble the procedure report of a case.

    Parameters
    ----------
    session
        An open session on the case database.
    case_number
        The case to report.
    run_id
        The perfusion run to report; None: the case's latest run (a case without a run still
        gets a report: staging, surgery and diagnosis codes).
    time_rule
        CPT time rule for partly used units (:data:`hipec.reports.coding.TIME_RULES`).
    now
        Time stamp of the report (default: now, UTC).

    Raises
    ------
    NotFoundError
        Field ``case`` for an unknown case, ``run`` for a run the case does not have.
    InvalidInputError
        Field ``time_rule`` for an unknown rule.
    """
    if time_rule not in TIME_RULES:
        raise InvalidInputError(
            "time_rule", f"must be one of {', '.join(TIME_RULES)}, got {time_rule!r}"
        )
    patient = get_case(session, case_number)
    run = _choose_run(patient, run_id)
    procedure: Procedure | None = None
    if run is not None and run.procedure is not None:
        procedure = run.procedure
    elif patient.procedures:
        procedure = max(patient.procedures, key=lambda p: (p.performed_on, p.id))
    generated = now or dt.datetime.now(dt.UTC)
    on = procedure.performed_on if procedure is not None else generated.date()
    staging = _choose_staging(patient.assessments, procedure.performed_on if procedure else None)
    run_report = _run_report(session, run) if run is not None else None
    perfusion_min = run_report.totals.perfusion_min if run_report is not None else None
    notices: list[str] = []
    if patient.synthetic:
        notices.append(SYNTHETIC_NOTICE)
    if run_report is not None and run_report.status != "completed":
        notices.append(
            f"Perfusion run {run_report.run_id} is {run_report.status}"
            + (f": {run_report.end_reason}" if run_report.end_reason else "")
            + "."
        )
    return ProcedureReport(
        generated_at=generated,
        patient=_patient_summary(patient, on),
        pci=_pci_map(staging) if staging is not None else None,
        staging_history=tuple(
            StagingLine(a.assessed_on, a.source, a.pci) for a in patient.assessments
        ),
        surgery=_surgery(procedure) if procedure is not None else None,
        run=run_report,
        other_runs=tuple(
            (r.id, r.status, r.started_at) for r in patient.runs if run is None or r.id != run.id
        ),
        billing=_billing(patient, perfusion_min, time_rule),
        notices=tuple(notices),
    )


def report_to_dict(report: ProcedureReport) -> dict[str, Any]:
    """A JSON-ready digest of the report (everything but the sample series)."""

    def convert(value: Any) -> Any:
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()
        if isinstance(value, BillingCode):
            return value.to_dict()
        if isinstance(value, RunSeries):
            return {
                "samples": int(value.time_s.size),
                "probe_regions": list(value.probe_regions),
            }
        if hasattr(value, "__dataclass_fields__"):
            return {name: convert(getattr(value, name)) for name in value.__dataclass_fields__}
        if isinstance(value, Mapping):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, tuple | list):
            return [convert(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    result = convert(report)
    assert isinstance(result, dict)
    return result
