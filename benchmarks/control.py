"""Control benchmark (issue 4): every library regimen x temperature controller on the same twin.

Reference patient 170 cm / 70 kg, unattended runs through the real runner (supervisor, procedure,
simulated machine with sensor noise and calibration offsets seeded per run). Figures are from the
twin's *true* state (:mod:`hipec.runner.result`):

- ``ttt``: time to target [min] from the start of the heat phase (inflow, or the mean of the 13
  regions for abdominal targets, within 0.2 K of the target); ``never`` if it did not get there;
- ``over``: overshoot of the target site over the target in heat and perfuse [K];
- ``in range``: share of region-minutes within 41-43 C during perfuse (13 regions);
- ``ss err``: steady-state error, target site minus target, mean over the last 10 min of perfuse
  [K] (negative: below the target);
- ``max reg``, ``max in``: highest true region and inflow temperature over the run [C];
- ``alarms``: high-priority alarms raised.

Printed: medians over seeds per regimen x controller, the ratio of each controller to the PID
baseline, the goals of issue 4, and the twin's steady state at the highest inflow the limits allow
for abdominal targets (is the target reachable at all?). ``--flow`` reruns at another perfusion
flow (a procedure lever), e.g. ``--flow 2.5``.

Run: ``OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/control.py [--seeds 3] [--period 1]
[--workers 2] [--flow F] [--regimens a,b] [--controllers pid,cascade]``. The load average is
printed before and after: a busy machine changes wall times, not the figures.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import math
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from hipec.control import CONTROLLERS
from hipec.control.temperature import CascadeController, TemperatureSetpoints
from hipec.control.tuning import REFERENCE_HEIGHT_CM, REFERENCE_WEIGHT_KG, steady_regions
from hipec.protocols import get_regimen, list_regimens, plan_perfusion
from hipec.runner import RunConfig, RunResult, simulated_run
from hipec.runner.result import target_site_series

#: Goals of issue 4.
GOAL_TTT_MIN, GOAL_OVERSHOOT_K, GOAL_IN_RANGE = 10.0, 0.3, 0.95
STEADY_WINDOW_MIN = 10.0


@dataclass(frozen=True)
class Row:
    """One run's figures."""

    regimen: str
    controller: str
    seed: int
    target: str
    ttt_min: float | None
    overshoot_k: float
    in_range: float
    steady_error_k: float
    max_region_c: float
    max_inflow_c: float
    high_alarms: tuple[str, ...]
    outcome: str
    wall_s: float


def steady_error_k(result: RunResult) -> float:
    """Target site minus target, mean over the last ``STEADY_WINDOW_MIN`` of perfuse [K]."""
    trace = result.trace
    if trace is None:
        return math.nan
    perfuse = trace.mask("perfuse")
    if perfuse.sum() < 2:
        return math.nan
    times = trace.time_s[perfuse]
    late = times >= times[-1] - STEADY_WINDOW_MIN * 60.0
    site = target_site_series(trace, result.target_site)[perfuse][late]
    return float(np.mean(site) - result.target_c)


def one_run(job: tuple[str, str, int, float, float | None]) -> Row:
    """Run one regimen x controller x seed."""
    regimen, controller, seed, period, flow = job
    plan = plan_perfusion(
        get_regimen(regimen), height_cm=REFERENCE_HEIGHT_CM, weight_kg=REFERENCE_WEIGHT_KG
    )
    config = RunConfig(
        controller=controller, control_period_s=period, perfusion_flow_l_per_min=flow
    )
    start = time.perf_counter()
    result = simulated_run(plan, config, seed=seed).run()
    wall = time.perf_counter() - start
    return Row(
        regimen,
        controller,
        seed,
        f"{result.target_c:g} {'in' if result.target_site == 'inflow' else 'abd'}",
        result.time_to_target_min,
        result.overshoot_c or 0.0,
        result.time_in_range_fraction if result.time_in_range_fraction is not None else math.nan,
        steady_error_k(result),
        result.max_region_c or math.nan,
        result.max_inflow_c or math.nan,
        tuple(a.code for a in result.alarms if a.priority == "high"),
        result.outcome,
        wall,
    )


def _median(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def _ttt(rows: list[Row]) -> float | None:
    reached = [r.ttt_min for r in rows if r.ttt_min is not None]
    if len(reached) * 2 <= len(rows):
        return None  # median is "never"
    return statistics.median(reached + [math.inf] * (len(rows) - len(reached)))


def summarise(rows: list[Row]) -> dict[str, float | None]:
    """Medians over seeds."""
    return {
        "ttt": _ttt(rows),
        "over": _median([r.overshoot_k for r in rows]),
        "range": _median([r.in_range for r in rows]),
        "ss": _median([r.steady_error_k for r in rows]),
        "maxreg": max(r.max_region_c for r in rows),
        "maxin": max(r.max_inflow_c for r in rows),
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "never"
    if not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None:
        return "-" if value is None and base is None else ("better" if base is None else "worse")
    if not (math.isfinite(value) and math.isfinite(base)) or abs(base) < 1e-9:
        return "-"
    return f"{value / base:.2f}"


def reachability(regimen: str, flow: float | None) -> str:
    """The twin's steady regions at the highest inflow a controller may ask for."""
    plan = plan_perfusion(
        get_regimen(regimen), height_cm=REFERENCE_HEIGHT_CM, weight_kg=REFERENCE_WEIGHT_KG
    )
    setpoints = TemperatureSetpoints.from_plan(plan)
    ceiling = CascadeController().setpoint_ceiling_c(setpoints)
    q = flow or (sum(plan.flow_l_per_min) / 2 if plan.flow_l_per_min else 1.5)
    steady = steady_regions(setpoints.technique, ceiling, q)
    verdict = "reachable" if steady.mean_c >= plan.target_temperature_c - 0.2 else "UNREACHABLE"
    return (
        f"{regimen}: target {plan.target_temperature_c:g} C (abdomen), inflow ceiling "
        f"{ceiling:g} C, {q:g} L/min, {setpoints.technique}: steady regions mean "
        f"{steady.mean_c:.2f}, coolest {steady.coolest_c:.2f}, hottest {steady.hottest_c:.2f} C "
        f"-> {verdict}"
    )


def main() -> None:
    """Parse arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--period", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--flow", type=float, default=None)
    parser.add_argument("--regimens", default=",".join(r.id for r in list_regimens()))
    parser.add_argument("--controllers", default=",".join(CONTROLLERS))
    args = parser.parse_args()
    regimens = args.regimens.split(",")
    controllers = args.controllers.split(",")
    jobs = [
        (regimen, controller, seed, args.period, args.flow)
        for regimen in regimens
        for controller in controllers
        for seed in range(1, args.seeds + 1)
    ]
    print(f"load average before: {os.getloadavg()}  cpus: {os.cpu_count()}")
    print(
        f"{len(jobs)} runs: {len(regimens)} regimens x {controllers} x {args.seeds} seeds, "
        f"period {args.period:g} s, flow {args.flow or 'regimen default'}, "
        f"{args.workers} workers"
    )
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one_run, jobs))
    elapsed = time.perf_counter() - start
    header = (
        f"| {'regimen':36s} | target   | {'controller':10s} | ttt min | over K | in range "
        f"| ss err K | max reg | max in | high alarms |"
    )
    print()
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    summaries: dict[tuple[str, str], dict[str, float | None]] = {}
    for regimen in regimens:
        for controller in controllers:
            group = [r for r in rows if r.regimen == regimen and r.controller == controller]
            s = summarise(group)
            summaries[regimen, controller] = s
            alarms = sorted({code for r in group for code in r.high_alarms})
            print(
                f"| {regimen:36s} | {group[0].target:8s} | {controller:10s} | "
                f"{_fmt(s['ttt']):>7s} | {_fmt(s['over']):>6s} | "
                f"{_fmt(s['range'] * 100 if s['range'] is not None else None, 1):>7s}% | "
                f"{_fmt(s['ss']):>8s} | {_fmt(s['maxreg']):>7s} | {_fmt(s['maxin']):>6s} | "
                f"{', '.join(alarms) or '-'} |"
            )
    print("\nratios to the PID baseline (ttt, overshoot, |ss err|: lower is better; in range: "
          "higher is better)")  # fmt: skip
    for regimen in regimens:
        base = summaries.get((regimen, "pid"))
        if base is None:
            continue
        for controller in controllers:
            if controller == "pid":
                continue
            s = summaries[regimen, controller]
            ss = abs(s["ss"]) if s["ss"] is not None else None
            base_ss = abs(base["ss"]) if base["ss"] is not None else None
            print(
                f"  {regimen:36s} {controller:10s} ttt {_ratio(s['ttt'], base['ttt']):>6s}  "
                f"over {_ratio(s['over'], base['over']):>6s}  "
                f"range {_ratio(s['range'], base['range']):>6s}  ss {_ratio(ss, base_ss):>6s}"
            )
    print(
        f"\ngoals: ttt <= {GOAL_TTT_MIN:g} min, overshoot <= {GOAL_OVERSHOOT_K:g} K, in range >= "
        f"{GOAL_IN_RANGE:.0%} for 42 C targets"
    )
    print("\nreachability of abdominal targets (twin steady state, 60 min):")
    for regimen in regimens:
        plan = plan_perfusion(
            get_regimen(regimen), height_cm=REFERENCE_HEIGHT_CM, weight_kg=REFERENCE_WEIGHT_KG
        )
        if plan.target_site != "inflow":
            print("  " + reachability(regimen, args.flow))
    walls = [r.wall_s for r in rows]
    print(
        f"\nwall: {elapsed:.1f} s total, median {statistics.median(walls):.1f} s per run; "
        f"load average after: {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
