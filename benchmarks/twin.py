"""Benchmark of the perfusion digital twin (prints medians and ratios; not a test).

(a) one 90-min procedure at a 1 s step with a heater rule in the loop;
(b) a cohort of virtual patients (default 1,000) through the same procedure at a control period of
    ``--batch-dt`` seconds (default 30 s: the solution is exact for commands held over a step),
    split over ``--workers`` processes, each stepping its share as one twin or as twins of
    ``--sub-batch`` patients; once with every patient distinct (a large twin interpolates its
    propagators over the body-size family; the difference to exact per-patient propagators is
    printed for ``--family-check`` patients), once drawn from ``--classes`` body sizes (patients
    with identical inputs share their propagators);
(c) the same single run through the solve_ivp (BDF) reference, with the accuracy difference.

Goals from issue 3: (a) <= 100 ms on one core; (b) >= 1,000 procedures/s on 2 cores; (c) fast path
>= 20x faster than the reference at max |dT| <= 0.05 K and AUC difference <= 1 %.

Run: ``.venv/bin/python benchmarks/twin.py [--patients 1000] [--batch-dt 30] [--workers 2]
[--classes 50] [--sub-batch 32] [--family-check 300] [--reference-minutes 90]``. The load average
is printed before and after: figures taken on a busy machine are slower.
BLAS is pinned to one thread (set before numpy loads) so that (a) measures one core.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import multiprocessing
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from hipec.model import Event, Patient, Trajectory, Twin, metrics, simple_heater_rule, simulate
from hipec.model.solver import _exponentials
from hipec.model.state import FloatArray

DURATION_S = 90 * 60.0


def procedure(
    patients: list[Patient], integrator: str = "exact", interpolate: bool = True
) -> tuple[Twin, list[Event]]:
    """Closed MMC HIPEC: fill to 2 L/m2 at 42 C, 35 mg/m2 into the reservoir at t = 0."""
    twin = Twin.create(
        patients,
        ["mitomycin C"],
        "closed",
        integrator=integrator,  # type: ignore[arg-type]
        interpolate_propagators=interpolate,
    )
    bsa = np.array([p.body_surface_area_m2 for p in patients])
    fill = tuple(2.0 * bsa - twin.perfusate_volume_l)
    events = [
        Event(0.0, "fill", fill, "abdomen", temperature_c=42.0),
        Event(0.0, "dose", tuple(35.0 * bsa), "reservoir", drug="mitomycin C"),
    ]
    return twin, events


def run(
    patients: list[Patient],
    dt_s: float,
    integrator: str = "exact",
    record_every: int = 1,
    duration_s: float = DURATION_S,
    interpolate: bool = True,
) -> tuple[float, Trajectory]:
    twin, events = procedure(patients, integrator, interpolate)
    rule = simple_heater_rule(43.0, 2.0)
    start = time.perf_counter()
    trajectory = simulate(twin, duration_s, dt_s, events, rule, record_every=record_every)
    return time.perf_counter() - start, trajectory


def cohort(n: int, seed: int = 3, classes: int = 0) -> list[Patient]:
    """``n`` virtual patients, 150-195 cm and 45-120 kg; with ``classes`` > 0 drawn from that many
    distinct body sizes (patients of a class share their propagators)."""
    rng = np.random.default_rng(seed)
    count = classes or n
    heights = rng.uniform(150.0, 195.0, count)
    weights = rng.uniform(45.0, 120.0, count)
    sizes = [Patient(float(h), float(w)) for h, w in zip(heights, weights, strict=True)]
    # class by class: patients sharing propagators sit next to each other (the twin then steps
    # each class in place)
    return [sizes[index * count // n] for index in range(n)]


def _cohort_part(args: tuple[list[Patient], float, int]) -> FloatArray:
    """Worker: one part of the cohort, as twins of at most ``sub_batch`` patients (0: one twin);
    returns the core temperature at the end [degC]."""
    patients, dt_s, sub_batch = args
    size = sub_batch or len(patients)
    cores = []
    for start in range(0, len(patients), size):
        part = patients[start : start + size]
        _, trajectory = run(part, dt_s, record_every=max(1, round(60.0 / dt_s)))
        cores.append(np.asarray(trajectory.core_temperature_c[-1]))
    return np.concatenate(cores)


def run_cohort(
    patients: list[Patient], dt_s: float, workers: int, sub_batch: int = 0
) -> tuple[float, FloatArray]:
    """Wall time of the whole cohort split over ``workers`` processes (start-up included); each
    process steps its share as one twin (``sub_batch`` 0) or as twins of ``sub_batch`` patients
    (their propagators then stay in cache between steps)."""
    start = time.perf_counter()
    if workers <= 1:
        core = _cohort_part((patients, dt_s, sub_batch))
    else:
        size = -(-len(patients) // workers)
        parts = [patients[index : index + size] for index in range(0, len(patients), size)]
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            jobs = [(part, dt_s, sub_batch) for part in parts]
            core = np.concatenate(list(pool.map(_cohort_part, jobs)))
    return time.perf_counter() - start, core


def _differences(fast: Trajectory, reference: Trajectory) -> tuple[float, float]:
    """Max |dT| [K] over region, inflow and core temperatures and the max relative AUC difference
    of the perfusate and plasma concentrations [-]."""
    temperature = max(
        float(np.abs(getattr(fast, name) - getattr(reference, name)).max())
        for name in ("region_temperature_c", "inflow_temperature_c", "core_temperature_c")
    )
    auc = max(
        float(
            np.abs(
                metrics.auc_mg_min_per_l(fast.time_s, getattr(fast, name))
                / metrics.auc_mg_min_per_l(reference.time_s, getattr(reference, name))
                - 1.0
            ).max()
        )
        for name in ("perfusate_concentration_mg_l", "plasma_concentration_mg_l")
    )
    return temperature, auc


def _exponential_cost(
    patients: list[Patient], dt_s: float, repeats: int = 3
) -> tuple[float, int, int]:
    """Median CPU time of the exact propagators of one distinct patient [s] (both matrix
    exponentials, batched as the twin does), with the thermal and drug state counts."""
    twin, events = procedure(patients)
    for event in events:
        twin.apply_event(event)
    flow = np.full(len(patients), 2.0 / 60.0)
    volumes = (twin.reservoir_volume_l, twin.abdominal_volume_l, flow, flow)
    a_thermal, b_thermal = twin.model.thermal_system(*volumes)
    a_drug = twin.model.drug_system(*volumes)
    _, cpu = _median_times(
        lambda: _exponentials(a_thermal, b_thermal, a_drug, dt_s, interpolate=False), repeats
    )
    return cpu / len(patients), twin.model.thermal_layout.size, twin.model.drug_layout.size


def _median_times(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU time of ``function`` [s]."""
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--batch-dt", type=float, default=30.0, help="cohort control period [s]")
    parser.add_argument("--workers", type=int, default=2, help="processes for the cohort")
    parser.add_argument("--classes", type=int, default=50, help="body sizes of the shared cohort")
    parser.add_argument("--sub-batch", type=int, default=32, help="patients per twin (cache)")
    parser.add_argument(
        "--family-check", type=int, default=300, help="patients compared with exact propagators"
    )
    parser.add_argument("--reference-minutes", type=float, default=90.0)
    args = parser.parse_args()
    single = [Patient(170.0, 70.0)]
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")

    run(single, 1.0, duration_s=60.0)  # warm-up (imports, BLAS)
    single_s, single_cpu = _median_times(lambda: run(single, 1.0), args.repeats)
    print(
        f"(a) one 90-min procedure, 1 s step: median {single_s * 1e3:.1f} ms wall, "
        f"{single_cpu * 1e3:.1f} ms CPU over {args.repeats} repeats (goal <= 100 ms; ratio to "
        f"goal {single_s / 0.1:.2f})"
    )

    for label, patients in (
        ("distinct patients", cohort(args.patients)),
        (f"{args.classes} body-size classes", cohort(args.patients, classes=args.classes)),
    ):
        for sub_batch in (0, args.sub_batch):
            batch_s, core = run_cohort(patients, args.batch_dt, args.workers, sub_batch)
            rate = args.patients / batch_s
            layout = f"twins of {sub_batch}" if sub_batch else "one twin per process"
            print(
                f"(b) {args.patients} virtual patients ({label}), {args.batch_dt:g} s step, "
                f"{args.workers} processes, {layout}: {batch_s:.2f} s, {rate:.0f} procedures/s "
                f"(goal >= 1000/s; ratio to goal {rate / 1000:.2f}); core temperature at 90 min "
                f"{np.percentile(core, 5):.2f}-{np.percentile(core, 95):.2f} C (5th-95th "
                "percentile)"
            )
    exponential_s, thermal_states, drug_states = _exponential_cost(cohort(64), args.batch_dt)
    print(
        f"    exact propagators (thermal {thermal_states} states + 3 inputs, drug {drug_states}) "
        f"cost {exponential_s * 1e3:.2f} ms CPU per distinct patient: at most "
        f"{1.0 / exponential_s:.0f} distinct procedures/s per core before any stepping"
    )

    patients = cohort(args.family_check)
    cpu_s: dict[bool, float] = {}
    runs: dict[bool, Trajectory] = {}
    for interpolate in (True, False):
        start = time.process_time()
        _, runs[interpolate] = run(patients, args.batch_dt, interpolate=interpolate)
        cpu_s[interpolate] = time.process_time() - start
    family_dt, family_auc = _differences(runs[True], runs[False])
    print(
        f"    {args.family_check} distinct patients in one twin, one process: propagators "
        f"interpolated over the body-size family {cpu_s[True]:.2f} s CPU vs one exponential per "
        f"patient {cpu_s[False]:.2f} s; max |dT| {family_dt:.1e} K, max AUC difference "
        f"{family_auc:.1e}"
    )

    minutes = args.reference_minutes
    fast_s, fast = run(single, 1.0, duration_s=minutes * 60.0)
    reference_s, reference = run(single, 1.0, "reference", duration_s=minutes * 60.0)
    temperature_error, auc_error = _differences(fast, reference)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(
        f"(c) {minutes:g}-min run: fast {fast_s * 1e3:.1f} ms, solve_ivp BDF reference "
        f"{reference_s:.1f} s, speed-up {reference_s / fast_s:.0f}x (goal >= 20x); max |dT| "
        f"{temperature_error:.2e} K (goal <= 0.05), max AUC difference {auc_error:.2e} "
        f"(goal <= 0.01)"
    )


if __name__ == "__main__":
    main()
