"""Offline identification of the cavity probe residual models on the simulated machine.

Reproduces :data:`hipec.control.residual.REGION_MODELS`,
:data:`~hipec.control.residual.REGION_RESIDUAL_BOUND_K` and
:data:`~hipec.control.residual.REGION_STEADY_RESIDUAL_BOUND_K` (never in the runtime loop; it
lives in the runner layer because it runs the simulated machine).

1. :func:`record_run`: a fault-free run of the simulated machine at a 1 s control period with
   the supervisor's residual check disabled (a false trip would change the trajectory the model is
   fitted to); every reading is kept.
2. :func:`identify_region_model`: output-error least squares (``scipy.optimize.least_squares``,
   coefficients in 0-4 L/(L/min s)) of the region's residual before isolation, computed by the
   runtime :class:`~hipec.control.residual.ProbeResidual` itself wherever the runtime gate judges
   it::

       min_p  sum_runs sum_(t judged) r(t; p)^2

3. :func:`healthy_residual_bounds_k`: per region and operating state (heat-up, steady inflow:
   :attr:`~hipec.control.residual.CavityResiduals.steady`), the largest healthy isolated residual
   ``|r_iso|`` [K] with two other probes of the default layout (0, 6, 3) (a region outside the
   layout with every pair of it), rounded up to 0.01 K; and the largest ``|r_iso|`` as a fraction
   of the supervisor's trip level in use (with the graded heat-up bound).

The run sets: :data:`IDENTIFICATION_RUNS` (the fit) and :data:`HELD_OUT_RUNS` (checked, and in
the bounds). Regenerate the tables (about 15 min on one core)::

    .venv/bin/python -m hipec.runner.identification            # both techniques, every region
    .venv/bin/python -m hipec.runner.identification open 0,6,3  # a technique, some regions
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from hipec.control.events import Event
from hipec.control.procedure import ProcedureConfig
from hipec.control.residual import (
    REGION_MODELS,
    REGION_RESIDUAL_BOUND_K,
    REGION_STEADY_RESIDUAL_BOUND_K,
    CavityResiduals,
    ProbeResidual,
    ResidualConfig,
)
from hipec.control.supervisor import SupervisorConfig
from hipec.devices.base import Reading
from hipec.devices.faults import Fault
from hipec.devices.simulated import MachineConfig
from hipec.protocols import get_regimen, plan_perfusion
from hipec.runner.engine import PerfusionRunner, RunConfig, RunSample, RunSink
from hipec.runner.simulation import simulated_run

Coefficients = tuple[float, float, float, float, float, float]

#: Number of PCI regions (0-12).
REGION_COUNT = 13
#: The simulated machine's default cavity probes (PCI regions).
DEFAULT_PROBES: tuple[int, ...] = (0, 6, 3)
#: Start of every fit ``(a_1, b_1, a_2, b_2, a_3, b_3)`` [L/(L/min s)].
INITIAL_COEFFICIENTS: Coefficients = (0.2, 0.0, 0.3, 0.0, 0.5, 0.5)
#: Upper bound of every coefficient [L/(L/min s)] (a faster compartment is a pass-through).
MAX_COEFFICIENT = 4.0
#: Length of every identification run [s] (priming, fill, heat-up, the first minutes of perfusion:
#: where the regions diverge most).
RUN_LENGTH_S = 1500.0


@dataclass(frozen=True, slots=True)
class IdentificationRun:
    """One fault-free run of the simulated machine.

    Attributes
    ----------
    regimen
        Library regimen id.
    controller
        ``"cascade"`` or ``"pid"``.
    seed
        Sensor noise and calibration seed.
    height_cm, weight_kg
        Patient [cm], [kg].
    flow_l_per_min
        Perfusion flow [L/min] (None: the procedure's default).
    every_region
        A probe in each of the 13 regions (else the default layout :data:`DEFAULT_PROBES`).
    """

    regimen: str
    controller: str
    seed: int
    height_cm: float = 170.0
    weight_kg: float = 70.0
    flow_l_per_min: float | None = None
    every_region: bool = False

    @property
    def technique(self) -> str:
        """The model set the run belongs to: ``"open"`` or ``"closed"`` (laparoscopic)."""
        return "open" if get_regimen(self.regimen).technique == "open" else "closed"

    def runner(
        self,
        max_run_s: float,
        *,
        faults: Sequence[Fault] = (),
        supervisor: SupervisorConfig | None = None,
        sinks: Sequence[RunSink] = (),
    ) -> PerfusionRunner:
        """The run on the simulated machine at a 1 s control period, ending at ``max_run_s`` [s]
        (the procedure's default flow unless ``flow_l_per_min``)."""
        plan = plan_perfusion(
            get_regimen(self.regimen), height_cm=self.height_cm, weight_kg=self.weight_kg
        )
        procedure = (
            None
            if self.flow_l_per_min is None
            else ProcedureConfig(perfusion_flow_l_per_min=self.flow_l_per_min)
        )
        config = RunConfig(
            control_period_s=1.0,
            max_run_s=max_run_s,
            controller=self.controller,
            procedure=procedure,
            supervisor=supervisor,
        )
        regions = tuple(range(REGION_COUNT)) if self.every_region else DEFAULT_PROBES
        machine = MachineConfig(cavity_probe_regions=regions)
        return simulated_run(
            plan, config, faults=faults, seed=self.seed, machine=machine, sinks=sinks
        )


def _every_region_runs() -> list[IdentificationRun]:
    runs = []
    for regimen in _REGIMENS:
        runs.append(IdentificationRun(regimen, "cascade", 0, every_region=True))
        runs.append(IdentificationRun(regimen, "pid", 1, every_region=True))
    for regimen in ("aspsm-mmc", "dutch-mmc"):  # one of each technique: flows and sizes
        runs += [
            IdentificationRun(regimen, "cascade", 2, flow_l_per_min=1.0, every_region=True),
            IdentificationRun(regimen, "pid", 2, flow_l_per_min=2.5, every_region=True),
            IdentificationRun(regimen, "cascade", 3, 150.0, 45.0, every_region=True),
            IdentificationRun(regimen, "pid", 3, 195.0, 120.0, every_region=True),
        ]
    return runs


_REGIMENS = (
    "aspsm-mmc",
    "dutch-mmc",
    "elias-oxaliplatin",
    "gastric-cisplatin-mmc",
    "mesothelioma-cisplatin-doxorubicin",
    "ovhipec-cisplatin",
    "prodige7",
)

#: The fit: a probe in every region (7 regimens, both controllers; flows 1.0 and 2.5 L/min and
#: patients 150 cm / 45 kg and 195 cm / 120 kg on one regimen of each technique), and the default
#: probes (7 regimens, both controllers, seeds 1 and 2).
IDENTIFICATION_RUNS: tuple[IdentificationRun, ...] = (
    *_every_region_runs(),
    *(
        IdentificationRun(regimen, controller, seed)
        for regimen in _REGIMENS
        for seed in (1, 2)
        for controller in ("cascade", "pid")
    ),
    IdentificationRun("prodige7", "cascade", 0),
)

#: Held out of the fit (in the bounds): other seeds, flows and sizes, default probes.
HELD_OUT_RUNS: tuple[IdentificationRun, ...] = tuple(
    run
    for regimen in _REGIMENS[3:]  # gastric, mesothelioma, ovhipec, prodige7
    for run in (
        IdentificationRun(regimen, "cascade", 4, flow_l_per_min=1.0),
        IdentificationRun(regimen, "pid", 4, flow_l_per_min=2.5),
        IdentificationRun(regimen, "cascade", 5, 150.0, 45.0),
        IdentificationRun(regimen, "pid", 5, 195.0, 120.0),
        IdentificationRun(regimen, "cascade", 6, 150.0, 45.0, 2.5),
        IdentificationRun(regimen, "pid", 6, 195.0, 120.0, 1.0),
    )
)


@dataclass(frozen=True, slots=True)
class Recording:
    """The readings of one :class:`IdentificationRun` (one per control period)."""

    run: IdentificationRun
    readings: tuple[Reading, ...]

    @property
    def technique(self) -> str:
        """``"open"`` or ``"closed"``."""
        return self.run.technique


class _Readings:
    """Sink that keeps every reading."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []

    def on_sample(self, sample: RunSample) -> None:
        self.readings.append(sample.reading)

    def on_event(self, event: Event) -> None:
        """Not needed."""


def record_run(run: IdentificationRun, max_run_s: float = RUN_LENGTH_S) -> Recording:
    """Run ``run`` fault free for ``max_run_s`` [s] (1 s control period, residual check off)."""
    sink = _Readings()
    run.runner(
        max_run_s, supervisor=SupervisorConfig(residual_limit_k=math.inf), sinks=[sink]
    ).run()
    return Recording(run, tuple(sink.readings))


def record_runs(runs: Iterable[IdentificationRun]) -> list[Recording]:
    """:func:`record_run` of each run."""
    return [record_run(run) for run in runs]


@dataclass(frozen=True, slots=True)
class _RegionData:
    """One recording's inputs of one region's model, as the runtime gate sees them."""

    time_s: tuple[float, ...]
    probe_c: tuple[float, ...]
    inflow_c: tuple[float, ...]
    outflow_c: tuple[float, ...]
    flow_l_per_min: tuple[float, ...]
    volume_l: tuple[float, ...]
    judged: tuple[bool, ...]


def _region_data(recording: Recording, region: int, config: ResidualConfig) -> _RegionData | None:
    if region not in recording.readings[0].cavity_probe_regions:
        return None
    gate = CavityResiduals(recording.technique, config)
    volume, judged = [], []
    for reading in recording.readings:
        gate.update(replace(reading, cavity_c=(), cavity_probe_regions=()))
        volume.append(gate.abdomen_volume_l)
        judged.append(gate.judged)
    readings = recording.readings
    return _RegionData(
        tuple(r.time_s for r in readings),
        tuple(r.cavity_probe(region) for r in readings),
        tuple(r.inflow_c for r in readings),
        tuple(r.outflow_c for r in readings),
        tuple(r.inflow_l_per_min for r in readings),
        tuple(volume),
        tuple(judged),
    )


def _residuals_k(
    data: Sequence[_RegionData], coefficients: Coefficients, config: ResidualConfig
) -> NDArray[np.float64]:
    """The region's residuals ``r`` [K] wherever judged, every recording in turn."""
    out: list[float] = []
    for run in data:
        probe = ProbeResidual(coefficients, config)
        for sample in zip(
            run.time_s,
            run.probe_c,
            run.inflow_c,
            run.outflow_c,
            run.flow_l_per_min,
            run.volume_l,
            run.judged,
            strict=True,
        ):
            residual = probe.update(*sample)
            if math.isfinite(residual):
                out.append(residual)
    return np.asarray(out)


def region_residuals_k(
    recordings: Sequence[Recording],
    region: int,
    coefficients: Coefficients,
    config: ResidualConfig | None = None,
) -> NDArray[np.float64]:
    """Healthy residuals ``r`` before isolation [K] of ``region``'s probe with ``coefficients``,
    wherever the runtime gate judges them, over every recording with a probe in the region."""
    cfg = config or ResidualConfig()
    data = [d for rec in recordings if (d := _region_data(rec, region, cfg)) is not None]
    return _residuals_k(data, coefficients, cfg)


def identify_region_model(
    recordings: Sequence[Recording],
    region: int,
    config: ResidualConfig | None = None,
    initial: Coefficients = INITIAL_COEFFICIENTS,
    max_coefficient: float = MAX_COEFFICIENT,
) -> Coefficients:
    """Output-error least-squares coefficients of ``region``'s model (module docstring) from the
    recordings with a probe in it (all of one technique), each in 0-``max_coefficient``
    [L/(L/min s)], rounded to 1e-4."""
    cfg = config or ResidualConfig()
    techniques = {rec.technique for rec in recordings}
    if len(techniques) != 1:
        raise ValueError(f"recordings must be of one technique, got {sorted(techniques)}")
    data = [d for rec in recordings if (d := _region_data(rec, region, cfg)) is not None]
    if not data:
        raise ValueError(f"no recording has a probe in region {region}")

    def objective(p: NDArray[np.float64]) -> NDArray[np.float64]:
        return _residuals_k(data, _coefficients(p), cfg)

    fit = least_squares(objective, initial, diff_step=1e-3, bounds=(0.0, max_coefficient))
    return _coefficients(np.round(fit.x, 4))


def _coefficients(values: Iterable[float]) -> Coefficients:
    a1, b1, a2, b2, a3, b3 = (float(v) for v in values)
    return (a1, b1, a2, b2, a3, b3)


def identify_region_models(
    recordings: Sequence[Recording], regions: Iterable[int] = range(REGION_COUNT)
) -> dict[int, Coefficients]:
    """:func:`identify_region_model` of each region."""
    return {region: identify_region_model(recordings, region) for region in regions}


def _layouts(regions: Sequence[int], layout: Sequence[int]) -> list[tuple[int, tuple[int, ...]]]:
    """``(region, probes)``: each region of a recording judged with two others of ``layout``."""
    out: list[tuple[int, tuple[int, ...]]] = []
    for region in regions:
        others = [r for r in layout if r != region and r in regions]
        for pair in itertools.combinations(others, 2):
            out.append((region, (region, *pair)))
    return out


#: By operating state (steady or not), each probe's largest ``|r_iso|`` [K]; each probe's largest
#: fraction of the trip level.
_Largest = tuple[dict[bool, dict[int, float]], dict[int, float]]


@dataclass(frozen=True, slots=True)
class HealthyBounds:
    """Per region 0-12, the largest healthy isolated residual ``|r_iso|`` [K] in each operating
    state (:attr:`hipec.control.residual.CavityResiduals.steady`).

    Attributes
    ----------
    heat_up_k
        While the inflow is not steady (:data:`~hipec.control.residual.REGION_RESIDUAL_BOUND_K`).
    steady_k
        In steady inflow (:data:`~hipec.control.residual.REGION_STEADY_RESIDUAL_BOUND_K`).
    limit_fraction
        In either state, the largest ``|r_iso|`` as a fraction of the supervisor's trip level in
        use at that sample, ``max(residual_limit_k, residual_bound_factor * bound)`` with the
        graded bound :meth:`~hipec.control.residual.CavityResiduals.bound_k` (1 or more: a
        false alarm were it held for the confirmation time).
    """

    heat_up_k: tuple[float, ...]
    steady_k: tuple[float, ...]
    limit_fraction: tuple[float, ...]


def healthy_residual_bounds_k(
    recordings: Sequence[Recording],
    models: Sequence[Coefficients] | None = None,
    config: ResidualConfig | None = None,
    layout: Sequence[int] = DEFAULT_PROBES,
    supervisor: SupervisorConfig | None = None,
) -> HealthyBounds:
    """Per region 0-12 and operating state, the largest healthy isolated residual ``|r_iso|``
    [K] in the recordings (all of one technique), judged with two other probes of ``layout``,
    rounded up to 0.01 K (0 for a region without a probe or never judged in the state), and the
    largest fraction of the trip level of ``supervisor`` (None: the default one).
    ``models``: the regions' coefficients (None: the stored ones)."""
    techniques = {rec.technique for rec in recordings}
    if len(techniques) != 1:
        raise ValueError(f"recordings must be of one technique, got {sorted(techniques)}")
    technique = techniques.pop()
    trip = supervisor or SupervisorConfig()
    worst = {False: [0.0] * REGION_COUNT, True: [0.0] * REGION_COUNT}  # by steady
    fraction = [0.0] * REGION_COUNT
    for recording in recordings:
        regions = recording.readings[0].cavity_probe_regions
        seen: dict[frozenset[int], _Largest] = {}  # a layout is run once
        for region, probes in _layouts(regions, layout):
            key = frozenset(probes)
            if key not in seen:
                seen[key] = _largest_isolated_k(recording, probes, technique, models, config, trip)
            largest_by_state, largest_fraction = seen[key]
            for steady, largest in largest_by_state.items():
                worst[steady][region] = max(worst[steady][region], largest[region])
            fraction[region] = max(fraction[region], largest_fraction[region])

    def rounded(values: list[float]) -> tuple[float, ...]:
        return tuple(math.ceil(round(w * 100.0, 6)) / 100.0 for w in values)

    return HealthyBounds(rounded(worst[False]), rounded(worst[True]), tuple(fraction))


def _largest_isolated_k(
    recording: Recording,
    probes: Sequence[int],
    technique: str,
    models: Sequence[Coefficients] | None,
    config: ResidualConfig | None,
    trip: SupervisorConfig,
) -> _Largest:
    """By operating state (steady or not), each probe's largest ``|r_iso|`` [K]; each probe's
    largest fraction of the trip level in use."""
    residuals = CavityResiduals(technique, config)
    if models is not None:
        residuals.models = tuple(models)
    largest = {False: dict.fromkeys(probes, 0.0), True: dict.fromkeys(probes, 0.0)}
    fraction = dict.fromkeys(probes, 0.0)
    for reading in recording.readings:
        subset = replace(
            reading,
            cavity_c=tuple(reading.cavity_probe(r) for r in probes),
            cavity_probe_regions=tuple(probes),
        )
        isolated = residuals.update(subset)
        state = largest[residuals.steady]
        for region, value in isolated.items():
            if math.isfinite(value):
                state[region] = max(state[region], abs(value))
                level = max(
                    trip.residual_limit_k, trip.residual_bound_factor * residuals.bound_k(region)
                )
                fraction[region] = max(fraction[region], abs(value) / level)
    return largest, fraction


def regenerate_tables(
    techniques: Sequence[str] = ("open", "closed"), regions: Sequence[int] = range(REGION_COUNT)
) -> str:
    """Record the runs, fit ``regions`` and bound them; the two tables as Python source, each
    line with the largest healthy residual of the stored and the refitted model [K]."""
    lines = []
    for technique in techniques:
        fit_set = record_runs(r for r in IDENTIFICATION_RUNS if r.technique == technique)
        every = record_runs(
            r for r in IDENTIFICATION_RUNS + HELD_OUT_RUNS if r.technique == technique
        )
        models = list(REGION_MODELS[technique])
        lines.append(f'    "{technique}": (')
        for region in regions:
            fitted = identify_region_model(fit_set, region)
            stored = REGION_MODELS[technique][region]
            worst = [
                float(np.abs(region_residuals_k(every, region, m)).max()) for m in (stored, fitted)
            ]
            models[region] = fitted
            numbers = ", ".join(f"{c:.4f}" for c in fitted)
            lines.append(
                f"        ({numbers}),  # {region}: max |r| stored {worst[0]:.3f} K, "
                f"refit {worst[1]:.3f} K"
            )
        lines.append("    ),")
        refit = healthy_residual_bounds_k(every, models)
        kept = healthy_residual_bounds_k(every)
        for label, bounds in (
            ("heat-up bounds, refit models ", refit.heat_up_k),
            ("heat-up bounds, stored models", kept.heat_up_k),
            ("heat-up bounds in use        ", REGION_RESIDUAL_BOUND_K[technique]),
            ("steady bounds, refit models  ", refit.steady_k),
            ("steady bounds, stored models ", kept.steady_k),
            ("steady bounds in use         ", REGION_STEADY_RESIDUAL_BOUND_K[technique]),
        ):
            lines.append(f"    # {technique} {label}: {', '.join(f'{b:.2f}' for b in bounds)}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - offline tool
    chosen = (sys.argv[1],) if len(sys.argv) > 1 else ("open", "closed")
    picked = [int(r) for r in sys.argv[2].split(",")] if len(sys.argv) > 2 else range(REGION_COUNT)
    print(regenerate_tables(chosen, list(picked)))
