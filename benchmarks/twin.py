"""Benchmark of the perfusion digital twin (prints medians and ratios; not a test).

(a) one 90-min procedure at a 1 s step with a heater rule in the loop;
(b) a batch of virtual patients (default 1,000) through the same procedure;
(c) the same single run through the solve_ivp (BDF) reference, with the accuracy difference.

Goals from issue 3: (a) <= 100 ms on one core; (b) >= 1,000 procedures/s on 2 cores; (c) fast path
>= 20x faster than the reference at max |dT| <= 0.05 K and AUC difference <= 1 %.

Run: ``.venv/bin/python benchmarks/twin.py [--patients 1000] [--batch-dt 1] [--reference-minutes
90]``.
BLAS is pinned to one thread (set before numpy loads) so that (a) measures one core.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import statistics
import time

import numpy as np

from hipec.model import Event, Patient, Trajectory, Twin, metrics, simple_heater_rule, simulate

DURATION_S = 90 * 60.0


def procedure(patients: list[Patient], integrator: str = "exact") -> tuple[Twin, list[Event]]:
    """Closed MMC HIPEC: fill to 2 L/m2 at 42 C, 35 mg/m2 into the reservoir at t = 0."""
    twin = Twin.create(patients, ["mitomycin C"], "closed", integrator=integrator)  # type: ignore[arg-type]
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
) -> tuple[float, Trajectory]:
    twin, events = procedure(patients, integrator)
    rule = simple_heater_rule(43.0, 2.0)
    start = time.perf_counter()
    trajectory = simulate(twin, duration_s, dt_s, events, rule, record_every=record_every)
    return time.perf_counter() - start, trajectory


def cohort(n: int, seed: int = 3) -> list[Patient]:
    rng = np.random.default_rng(seed)
    heights = rng.uniform(150.0, 195.0, n)
    weights = rng.uniform(45.0, 120.0, n)
    return [Patient(float(h), float(w)) for h, w in zip(heights, weights, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--batch-dt", type=float, default=1.0)
    parser.add_argument("--reference-minutes", type=float, default=90.0)
    args = parser.parse_args()
    single = [Patient(170.0, 70.0)]

    run(single, 1.0, duration_s=60.0)  # warm-up (imports, BLAS)
    times = [run(single, 1.0)[0] for _ in range(args.repeats)]
    single_s = statistics.median(times)
    print(
        f"(a) one 90-min procedure, 1 s step: median {single_s * 1e3:.1f} ms over {args.repeats} "
        f"repeats (goal <= 100 ms; ratio to goal {single_s / 0.1:.2f})"
    )

    batch_s, batch = run(cohort(args.patients), args.batch_dt, record_every=60)
    rate = args.patients / batch_s
    print(
        f"(b) batch of {args.patients} patients, {args.batch_dt:g} s step: {batch_s:.2f} s, "
        f"{rate:.1f} procedures/s (goal >= 1000/s; ratio to goal {rate / 1000:.3f}); "
        f"core temperature at 90 min {np.percentile(batch.core_temperature_c[-1], 5):.2f}-"
        f"{np.percentile(batch.core_temperature_c[-1], 95):.2f} C (5th-95th percentile)"
    )

    minutes = args.reference_minutes
    fast_s, fast = run(single, 1.0, duration_s=minutes * 60.0)
    reference_s, reference = run(single, 1.0, "reference", duration_s=minutes * 60.0)
    temperature_error = max(
        float(np.abs(getattr(fast, name) - getattr(reference, name)).max())
        for name in ("region_temperature_c", "inflow_temperature_c", "core_temperature_c")
    )
    auc_errors = [
        float(
            np.abs(
                metrics.auc_mg_min_per_l(fast.time_s, getattr(fast, name))
                / metrics.auc_mg_min_per_l(reference.time_s, getattr(reference, name))
                - 1.0
            ).max()
        )
        for name in ("perfusate_concentration_mg_l", "plasma_concentration_mg_l")
    ]
    print(
        f"(c) {minutes:g}-min run: fast {fast_s * 1e3:.1f} ms, solve_ivp BDF reference "
        f"{reference_s:.1f} s, speed-up {reference_s / fast_s:.0f}x (goal >= 20x); max |dT| "
        f"{temperature_error:.2e} K (goal <= 0.05), max AUC difference {max(auc_errors):.2e} "
        f"(goal <= 0.01)"
    )


if __name__ == "__main__":
    main()
