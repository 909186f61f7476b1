"""Cavity probe drift detection at each default probe (regions 0, 6, 3) and onset.

For every library regimen x seed x controller: one fault-free run to its end (the probe alarms it
raises are false alarms; its phases set the onsets), then a 0.5 K/min ``cavity-probe-drift`` of
each default probe at each onset (``mid-heat``: halfway between the heat phase and the perfusion;
``early-perfuse``: 2 min into the perfusion; ``late-perfuse``: 6 min before its planned end, as in
:func:`hipec.runner.campaign.onset_times`). The runs are those of the tests
(:class:`hipec.runner.identification.IdentificationRun`: reference patient 170 cm / 70 kg, 1 s
control period). The fault-free prefix is simulated once per run and copied at each onset
(:func:`hipec.runner.campaign.fork_runner`); each copy drifts one probe and runs on for
``OBSERVE_S``. Detection: the first ``PROBE_IMPLAUSIBLE`` naming the drifting probe.

    .venv/bin/python benchmarks/drift_regions.py [--quick] [--controllers cascade,pid,coverage]

Prints per controller, region and onset the median and largest detection time [s] and how many
runs took longer than the limit (30 s) or were never confirmed, and the false alarms of the
fault-free runs. One process (the machine is shared).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: small matrices

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field, replace

from hipec.control.events import Event
from hipec.control.supervisor import SENSOR_FAULT_CODES
from hipec.devices.faults import Fault
from hipec.devices.simulated import SimulatedPerfusionMachine
from hipec.protocols import get_regimen, plan_perfusion
from hipec.runner.campaign import (
    EARLY_PERFUSE_S,
    LATE_PERFUSE_BEFORE_END_S,
    SENSOR_DETECTION_LIMIT_S,
    fork_runner,
    regimen_ids,
)
from hipec.runner.engine import PerfusionRunner, RunSample
from hipec.runner.identification import DEFAULT_PROBES, IdentificationRun

#: Onsets, in the order of the table.
ONSETS = ("mid-heat", "early-perfuse", "late-perfuse")
#: A drift run ends this long after its onset [s] (past the limit: late detections are measured).
OBSERVE_S = 90.0
#: A fault-free run ends at the latest this long after the start [s] (every regimen completes).
CONTROL_RUN_S = 6 * 3600.0


def onset_times(run: IdentificationRun, phases: dict[str, float]) -> dict[str, float]:
    """Each onset [s] from the fault-free run's phase starts [s] (campaign definitions)."""
    heat_s, perfuse_s = phases["heat"], phases["perfuse"]
    plan = plan_perfusion(
        get_regimen(run.regimen), height_cm=run.height_cm, weight_kg=run.weight_kg
    )
    duration_s = plan.duration_min * 60.0
    return {
        "mid-heat": float(round(heat_s + (perfuse_s - heat_s) / 2.0)),
        "early-perfuse": perfuse_s + EARLY_PERFUSE_S,
        "late-perfuse": perfuse_s + max(duration_s - LATE_PERFUSE_BEFORE_END_S, EARLY_PERFUSE_S),
    }


class _Snapshots:
    """Sink that copies the runner at the last tick before each onset, and stops it after the
    last copy."""

    def __init__(self, onsets_s: dict[str, float], period_s: float) -> None:
        self.pending = dict(sorted(onsets_s.items(), key=lambda item: item[1]))
        self.period_s = period_s
        self.runner: PerfusionRunner | None = None
        self.copies: dict[str, PerfusionRunner] = {}

    def on_sample(self, sample: RunSample) -> None:
        if self.runner is None or not self.pending:
            return
        name, onset_s = next(iter(self.pending.items()))
        if sample.reading.time_s < onset_s - self.period_s - 1e-9:
            return
        self.copies[name] = fork_runner(self.runner, {id(self): None})
        del self.pending[name]
        if not self.pending:
            self.runner.stop("snapshots taken")

    def on_event(self, event: Event) -> None:
        """Not needed."""


def _drift_detection_s(copy: PerfusionRunner, region: int, onset_s: float) -> float | None:
    """Drift the probe in ``region`` from ``onset_s`` on a copy of ``copy``: seconds from the
    onset to the first ``PROBE_IMPLAUSIBLE`` naming it (None: not within ``OBSERVE_S``)."""
    runner = fork_runner(copy, {})
    runner.sinks = []
    device = runner.device
    if not isinstance(device, SimulatedPerfusionMachine):  # pragma: no cover - simulated runs
        raise TypeError("needs the simulated machine")
    source = f"cavity[{region}]"
    device.faults = (Fault("cavity-probe-drift", onset_s, target=source),)
    runner.config = replace(runner.config, max_run_s=onset_s + OBSERVE_S)
    device.advance(runner.period_s)  # the original loop advances after the copied tick
    runner.run()
    times = [
        a.raised_s - onset_s
        for a in runner.alarms.records
        if a.code == "PROBE_IMPLAUSIBLE" and a.source == source and a.raised_s >= onset_s - 1e-9
    ]
    return min(times) if times else None


@dataclass
class Tally:
    """Detections [s] (None: missed) by ``(controller, region, onset)``, false alarms by
    controller."""

    detections: dict[tuple[str, int, str], list[float | None]] = field(default_factory=dict)
    controls: dict[str, int] = field(default_factory=dict)
    false_alarms: dict[str, list[str]] = field(default_factory=dict)


def measure_run(run: IdentificationRun, tally: Tally) -> None:
    """The fault-free run and every drift of ``run`` into ``tally``."""
    control = run.runner(CONTROL_RUN_S)
    result = control.run()
    phases = {phase.name: phase.start_min * 60.0 for phase in result.phases}
    tally.controls[run.controller] = tally.controls.get(run.controller, 0) + 1
    alarms = tally.false_alarms.setdefault(run.controller, [])
    for a in control.alarms.records:
        if a.code in SENSOR_FAULT_CODES:
            alarms.append(f"{run}: {a.code} ({a.source}) at {a.raised_s:.0f} s")
    if "perfuse" not in phases:
        alarms.append(f"{run}: never reached the perfusion")
        return
    onsets = onset_times(run, phases)
    snapshots = _Snapshots(onsets, 1.0)
    prefix = run.runner(CONTROL_RUN_S, sinks=[snapshots])
    snapshots.runner = prefix
    prefix.run()
    for onset, copy in snapshots.copies.items():
        for region in DEFAULT_PROBES:
            detected = _drift_detection_s(copy, region, onsets[onset])
            tally.detections.setdefault((run.controller, region, onset), []).append(detected)


def _row(values: list[float | None]) -> str:
    found = [v for v in values if v is not None]
    late = sum(1 for v in values if v is None or v > SENSOR_DETECTION_LIMIT_S + 1e-9)
    median = f"{statistics.median(found):.0f}" if found else "-"
    largest = f"{max(found):.0f}" if found else "-"
    missed = sum(1 for v in values if v is None)
    return f"{median:>6s} {largest:>6s} {late:>3d}/{len(values):<3d} {missed:>6d}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controllers", default="cascade", help="comma-separated (cascade)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="seed 0 only, every regimen (about a third)"
    )
    args = parser.parse_args(argv)
    controllers = [c.strip() for c in args.controllers.split(",") if c.strip()]
    seeds = range(1 if args.quick else args.seeds)
    tally = Tally()
    started = time.perf_counter()
    for controller in controllers:
        for regimen in regimen_ids():
            for seed in seeds:
                run = IdentificationRun(regimen, controller, seed)
                measure_run(run, tally)
                print(
                    f"{time.perf_counter() - started:6.0f} s  {regimen}/{controller}/{seed}",
                    flush=True,
                )

    header = f"{'controller':10s} {'region':>6s} {'onset':14s} {'med s':>6s} {'max s':>6s} "
    header += f"{'>30 s':>7s} {'missed':>6s}"
    print()
    print(header)
    print("-" * len(header))
    for controller in controllers:
        for region in DEFAULT_PROBES:
            for onset in ONSETS:
                values = tally.detections.get((controller, region, onset), [])
                print(f"{controller:10s} {region:6d} {onset:14s} {_row(values)}")
    print()
    failed = False
    for controller in controllers:
        alarms = tally.false_alarms.get(controller, [])
        print(
            f"{controller}: {len(alarms)} false probe alarms in {tally.controls[controller]} runs"
        )
        for line in alarms:
            print("   ", line)
        failed |= bool(alarms)
    late = [
        v
        for values in tally.detections.values()
        for v in values
        if v is None or v > SENSOR_DETECTION_LIMIT_S + 1e-9
    ]
    failed |= bool(late)
    print(f"wall {time.perf_counter() - started:.0f} s")
    print("every drift confirmed within 30 s, no false alarm" if not failed else "NOT MET")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
