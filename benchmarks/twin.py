"""Benchmark of the perfusion digital twin (prints medians and ratios; not a test).

(a) one 90-min procedure at a 1 s step with a heater rule in the loop;
(b) a cohort of virtual patients (default 1,000) through the same procedure at a control period of
    ``--batch-dt`` seconds (default 30 s: the solution is exact for commands held over a step),
    split over ``--workers`` processes, each stepping its share in one of three layouts: one twin
    (a large twin interpolates its propagators over the body-size family), twins of
    ``--sub-batch`` patients (cache-sized; each too small to interpolate, so exact exponentials),
    and twins of ``--sub-batch`` patients sharing one ``PropagatorFamily`` built once from the
    whole cohort (its build is timed with the run: with more than one worker it is built by this
    process and a helper process at once, see :func:`parallel_cohort_family`; the twins then take
    their propagators from the systems the family visited); once with every patient distinct,
    once drawn from ``--classes`` body sizes (patients with identical inputs share their
    propagators). The difference to exact per-patient propagators is printed for
    ``--family-check`` patients;
(c) the same single run through the solve_ivp (BDF) reference, with the accuracy difference.

Goals from issue 3: (a) <= 100 ms on one core; (b) >= 1,000 procedures/s on 2 cores; (c) fast path
>= 20x faster than the reference at max |dT| <= 0.05 K and AUC difference <= 1 %.

Run: ``.venv/bin/python benchmarks/twin.py [--only a b c] [--patients 1000] [--batch-dt 30]
[--workers 2] [--classes 50] [--sub-batch 20] [--cohorts distinct classes] [--layouts one own
shared] [--cohort-repeats 1] [--family-check 300] [--reference-minutes 90]``; e.g. ``--only b
--cohorts distinct --layouts shared --cohort-repeats 5 --family-check 0`` times the shared-family
cohort alone. The load average is printed before and after: figures taken on a busy machine are
slower, so (b) also prints the CPU time of the family build (and of its helper) and of each
worker, and the rate they would give on free cores (CPU time itself grows when another process
shares the caches: compare runs at similar load). BLAS is pinned to one thread (set before numpy
loads) so that (a) measures one core.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import multiprocessing
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from hipec.model import (
    Commands,
    Event,
    Patient,
    PropagatorFamily,
    Trajectory,
    Twin,
    metrics,
    simple_heater_rule,
    simulate,
)
from hipec.model.solver import _exponentials
from hipec.model.state import FloatArray

DURATION_S = 90 * 60.0
RULE = simple_heater_rule(43.0, 2.0)
#: Patients per twin of a cohort (hipec-chosen, measured on the 2-core machine of the goal): a
#: distinct patient's propagators take ~290 kB, re-read every step, so a twin's must stay in the
#: cache the two workers share. With two workers, twins of 32 (9 MB each) took 4.7 to 9.4 us per
#: patient-step from run to run, twins of 20 4.7-5.0 us (both ~4.8 us with one worker); smaller
#: twins add their fixed cost per step more often.
SUB_BATCH = 20


def procedure(
    patients: list[Patient],
    integrator: str = "exact",
    interpolate: bool = True,
    family: PropagatorFamily | None = None,
) -> tuple[Twin, list[Event]]:
    """Closed MMC HIPEC: fill to 2 L/m2 at 42 C, 35 mg/m2 into the reservoir at t = 0."""
    twin = Twin.create(
        patients,
        ["mitomycin C"],
        "closed",
        integrator=integrator,  # type: ignore[arg-type]
        interpolate_propagators=interpolate,
        propagators=family,
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
    family: PropagatorFamily | None = None,
) -> tuple[float, Trajectory]:
    twin, events = procedure(patients, integrator, interpolate, family)
    start = time.perf_counter()
    trajectory = simulate(twin, duration_s, dt_s, events, RULE, record_every=record_every)
    return time.perf_counter() - start, trajectory


def _cohort_twin(patients: list[Patient]) -> tuple[Twin, Commands]:
    """A twin of every patient (never stepped) after the t = 0 events, with the heater rule's
    commands (its pump flows are the procedure's configuration)."""
    twin, events = procedure(patients)
    for event in events:
        twin.apply_event(event)
    return twin, RULE(twin)


def cohort_family(patients: list[Patient], dt_s: float) -> PropagatorFamily:
    """The propagator family of the whole cohort in the procedure's configuration, built by this
    process alone."""
    return PropagatorFamily.for_twin(*_cohort_twin(patients), dt_s)


#: The cohort twin and its commands, set before the family's helper process forks (it inherits
#: them: no copy).
_COHORT: tuple[Twin, Commands] | None = None


def _helper_drug_family(dt_s: float) -> tuple[PropagatorFamily, float]:
    """Helper: the drug grids of :data:`_COHORT`'s family and the CPU time they took [s]."""
    start = time.process_time()
    if _COHORT is None:
        raise RuntimeError("the cohort must be set before the helper forks")
    family = PropagatorFamily.for_twin(*_COHORT, dt_s, thermal=False)
    return family, time.process_time() - start


def _helper_exponentials(stack: FloatArray) -> tuple[FloatArray, float]:
    """Helper: ``scipy.linalg.expm`` of a stack and the CPU time it took [s]."""
    start = time.process_time()
    return scipy.linalg.expm(stack), time.process_time() - start


#: Matrices per piece of a stack shared with the helper (a few ms of work each).
_PIECE = 2
#: Stacks at least this large are shared even while the helper still builds the drug grids (it
#: takes its first piece when done); smaller ones (the grid's convergence lines, each needed
#: before the next) are then computed here, so as not to wait for the helper.
_SHARED_STACK = 16


class _SharedExponentials:
    """Grid exponentials shared with the helper process (see :data:`_SHARED_STACK`): the stack is
    cut into pieces of :data:`_PIECE` matrices, the helper takes them from the front (two in
    flight, so that it never waits for the next) and this process from the back until they
    meet, so the work splits by how fast each runs whatever the machine's load. ``expm`` treats
    every matrix of a stack on its own, so the sharing changes the grids by round-off at most."""

    def __init__(
        self, helper: ProcessPoolExecutor, busy: Future[tuple[PropagatorFamily, float]]
    ) -> None:
        self.helper, self.busy = helper, busy
        self.helper_cpu_s = 0.0

    def __call__(self, stack: FloatArray) -> FloatArray:
        if stack.shape[0] <= _PIECE or (stack.shape[0] < _SHARED_STACK and not self.busy.done()):
            return np.asarray(scipy.linalg.expm(stack))
        pieces = [stack[start : start + _PIECE] for start in range(0, stack.shape[0], _PIECE)]
        results: list[FloatArray | None] = [None] * len(pieces)
        # next piece of the helper, one past the next of this process, pieces in the helper
        bounds = [0, len(pieces)]
        in_flight = [0]
        lock = threading.Lock()
        helper_done = threading.Event()
        failure: list[BaseException] = []

        def send_next() -> None:
            with lock:
                if bounds[0] >= bounds[1] or failure:
                    if in_flight[0] == 0:
                        helper_done.set()
                    return
                index = bounds[0]
                bounds[0] += 1
                in_flight[0] += 1
            future = self.helper.submit(_helper_exponentials, pieces[index])
            future.add_done_callback(lambda done: receive(index, done))

        def receive(index: int, done: Future[tuple[FloatArray, float]]) -> None:
            try:
                results[index], cpu_s = done.result()
                self.helper_cpu_s += cpu_s
            except BaseException as error:
                failure.append(error)
            with lock:
                in_flight[0] -= 1
            send_next()

        send_next()
        send_next()
        while True:
            with lock:
                if bounds[1] <= bounds[0]:
                    break
                bounds[1] -= 1
                index = bounds[1]
            results[index] = scipy.linalg.expm(pieces[index])
        helper_done.wait()
        if failure:
            raise failure[0]
        return np.concatenate([result for result in results if result is not None])


def parallel_cohort_family(patients: list[Patient], dt_s: float) -> tuple[PropagatorFamily, float]:
    """:func:`cohort_family` built by this process and one helper process at once: the helper
    builds the drug grids, then shares the stacks of thermal grid exponentials with this process
    (:class:`_SharedExponentials`) while it builds the thermal grid. Returns the family (the
    grids of a serial build) and the helper's CPU time [s]."""
    global _COHORT
    _COHORT = _cohort_twin(patients)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(1, mp_context=context) as helper:
            drugs = helper.submit(_helper_drug_family, dt_s)
            exponentials = _SharedExponentials(helper, drugs)
            family = PropagatorFamily.for_twin(
                *_COHORT, dt_s, drugs=False, exponentials=exponentials
            )
            drug_family, drug_cpu_s = drugs.result()
    finally:
        _COHORT = None
    family.extend(drug_family)
    return family, drug_cpu_s + exponentials.helper_cpu_s


def run_in_parts(
    patients: list[Patient],
    dt_s: float,
    sub_batch: int,
    family: PropagatorFamily | None = None,
    interpolate: bool = True,
) -> list[Trajectory]:
    """The procedure for twins of at most ``sub_batch`` patients (0: one twin), in order."""
    size = sub_batch or len(patients)
    return [
        run(
            patients[start : start + size],
            dt_s,
            record_every=max(1, round(60.0 / dt_s)),
            interpolate=interpolate,
            family=family,
        )[1]
        for start in range(0, len(patients), size)
    ]


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


#: The cohort's shared family, set before the worker processes fork (they inherit it: no copy).
_SHARED_FAMILY: PropagatorFamily | None = None


@dataclass(frozen=True)
class CohortRun:
    """One run of the cohort: wall time [s] (family build and process start-up included), core
    temperature at 90 min [degC], parts served from / declined by the shared family, and CPU
    times [s] of the family build (parent and, when built in parallel, its helper process) and
    of each worker."""

    wall_s: float
    core_c: FloatArray
    served: int
    declined: int
    family_cpu_s: float
    worker_cpu_s: list[float]
    helper_cpu_s: float = 0.0

    @property
    def free_core_rate(self) -> float:
        """Procedures/s were the cores free: the patients over the family build's CPU time (the
        busier of parent and helper: they run at once) plus the busiest worker's (an estimate
        for a quiet machine; process start-up left out)."""
        family_s = max(self.family_cpu_s, self.helper_cpu_s)
        return self.core_c.size / (family_s + max(self.worker_cpu_s))


def _cohort_part(
    args: tuple[list[Patient], float, int, bool],
) -> tuple[FloatArray, int, int, float]:
    """Worker: one part of the cohort, as twins of at most ``sub_batch`` patients (0: one twin),
    with ``shared`` all interpolating from :data:`_SHARED_FAMILY`; returns the core temperature
    at the end [degC], the parts served from and declined by the shared family and its CPU time
    [s]."""
    start = time.process_time()
    patients, dt_s, sub_batch, shared = args
    family = _SHARED_FAMILY if shared else None
    trajectories = run_in_parts(patients, dt_s, sub_batch, family)
    core = np.concatenate([np.asarray(t.core_temperature_c[-1]) for t in trajectories])
    served, declined = (family.served, family.declined) if family else (0, 0)
    return core, served, declined, time.process_time() - start


def run_cohort(
    patients: list[Patient], dt_s: float, workers: int, sub_batch: int = 0, shared: bool = False
) -> CohortRun:
    """The whole cohort split over ``workers`` processes; each process steps its share as one
    twin (``sub_batch`` 0) or as twins of ``sub_batch`` patients (their propagators then stay in
    cache between steps), with ``shared`` all interpolating from one family of the whole cohort
    (built here, in the timed part, before the split; with more than one worker by this process
    and a helper at once: :func:`parallel_cohort_family`)."""
    global _SHARED_FAMILY
    start, start_cpu = time.perf_counter(), time.process_time()
    helper_cpu_s = 0.0
    if not shared:
        _SHARED_FAMILY = None
    elif workers <= 1:
        _SHARED_FAMILY = cohort_family(patients, dt_s)
    else:
        _SHARED_FAMILY, helper_cpu_s = parallel_cohort_family(patients, dt_s)
    family_cpu_s = time.process_time() - start_cpu
    if workers <= 1:
        results = [_cohort_part((patients, dt_s, sub_batch, shared))]
    else:
        size = -(-len(patients) // workers)
        parts = [patients[index : index + size] for index in range(0, len(patients), size)]
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            jobs = [(part, dt_s, sub_batch, shared) for part in parts]
            results = list(pool.map(_cohort_part, jobs))
    _SHARED_FAMILY = None
    return CohortRun(
        wall_s=time.perf_counter() - start,
        core_c=np.concatenate([result[0] for result in results]),
        served=sum(result[1] for result in results),
        declined=sum(result[2] for result in results),
        family_cpu_s=family_cpu_s,
        worker_cpu_s=[result[3] for result in results],
        helper_cpu_s=helper_cpu_s,
    )


def _differences(fast: Trajectory, reference: Trajectory) -> tuple[float, float]:
    """Max |dT| [K] over region, inflow and core temperatures and the max relative AUC difference
    of the perfusate and plasma concentrations [-]."""
    return _differences_in_parts([fast], reference)


def _differences_in_parts(parts: list[Trajectory], reference: Trajectory) -> tuple[float, float]:
    """:func:`_differences` of twins holding consecutive patients of ``reference``'s twin."""

    def joined(name: str) -> FloatArray:
        return np.concatenate([getattr(part, name) for part in parts], axis=1)

    fast = {
        name: joined(name)
        for name in (
            "region_temperature_c",
            "inflow_temperature_c",
            "core_temperature_c",
            "perfusate_concentration_mg_l",
            "plasma_concentration_mg_l",
        )
    }
    temperature = max(
        float(np.abs(fast[name] - getattr(reference, name)).max())
        for name in ("region_temperature_c", "inflow_temperature_c", "core_temperature_c")
    )
    auc = max(
        float(
            np.abs(
                metrics.auc_mg_min_per_l(parts[0].time_s, fast[name])
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


_LAYOUTS = ("one", "own", "shared")
_COHORTS = ("distinct", "classes")


def _cohort_figures(args: argparse.Namespace) -> None:
    """(b): the cohort in the chosen layouts (median over ``--cohort-repeats`` runs), the cost of
    exact propagators and the family check against them."""
    cohorts = {
        "distinct": ("distinct patients", cohort(args.patients)),
        "classes": (
            f"{args.classes} body-size classes",
            cohort(args.patients, classes=args.classes),
        ),
    }
    layouts = {
        "one": (0, False, "one twin per process"),
        "own": (args.sub_batch, False, f"twins of {args.sub_batch}, own propagators"),
        "shared": (args.sub_batch, True, f"twins of {args.sub_batch}, one shared cohort family"),
    }
    for cohort_name in args.cohorts:
        label, patients = cohorts[cohort_name]
        for layout_name in args.layouts:
            sub_batch, shared, layout = layouts[layout_name]
            runs = [
                run_cohort(patients, args.batch_dt, args.workers, sub_batch, shared)
                for _ in range(args.cohort_repeats)
            ]
            result = sorted(runs, key=lambda run: run.wall_s)[len(runs) // 2]  # median wall
            free_rate = statistics.median(run.free_core_rate for run in runs)
            rate = args.patients / result.wall_s
            if shared:
                layout += f" ({result.served} parts served, {result.declined} declined)"
            core = result.core_c
            workers_cpu = "/".join(f"{cpu:.2f}" for cpu in result.worker_cpu_s)
            family_cpu = f"{result.family_cpu_s:.2f}"
            if result.helper_cpu_s:
                family_cpu += f" (+ helper {result.helper_cpu_s:.2f})"
            print(
                f"(b) {args.patients} virtual patients ({label}), {args.batch_dt:g} s step, "
                f"{args.workers} processes, {layout}: median of {len(runs)} runs "
                f"{result.wall_s:.2f} s, {rate:.0f} procedures/s (goal >= 1000/s; ratio to goal "
                f"{rate / 1000:.2f}); CPU {family_cpu} s family + {workers_cpu} s workers: "
                f"{free_rate:.0f}/s were the cores free (median); core temperature at 90 min "
                f"{np.percentile(core, 5):.2f}-{np.percentile(core, 95):.2f} C (5th-95th "
                "percentile)",
                flush=True,
            )
    if args.family_check <= 0:
        return
    exponential_s, thermal_states, drug_states = _exponential_cost(cohort(64), args.batch_dt)
    print(
        f"    exact propagators (thermal {thermal_states} states + 3 inputs, drug {drug_states}) "
        f"cost {exponential_s * 1e3:.2f} ms CPU per distinct patient: at most "
        f"{1.0 / exponential_s:.0f} distinct procedures/s per core before any stepping"
    )

    patients = cohort(args.family_check)
    checks: dict[str, Callable[[], list[Trajectory]]] = {
        "exact": lambda: run_in_parts(patients, args.batch_dt, 0, interpolate=False),
        "one twin, interpolated": lambda: run_in_parts(patients, args.batch_dt, 0),
        f"twins of {args.sub_batch}, shared cohort family": lambda: run_in_parts(
            patients,
            args.batch_dt,
            args.sub_batch,
            cohort_family(patients, args.batch_dt),
        ),
    }
    results: dict[str, tuple[float, list[Trajectory]]] = {}
    for name, layout_run in checks.items():
        start = time.process_time()
        trajectories = layout_run()
        results[name] = (time.process_time() - start, trajectories)
    exact_cpu, (exact,) = results.pop("exact")
    for name, (cpu, trajectories) in results.items():
        family_dt, family_auc = _differences_in_parts(trajectories, exact)
        print(
            f"    {args.family_check} distinct patients, one process, {name}: {cpu:.2f} s CPU "
            f"(exact per-patient propagators: {exact_cpu:.2f} s); vs exact: max |dT| "
            f"{family_dt:.1e} K, max AUC difference {family_auc:.1e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="+", choices=("a", "b", "c"), default=["a", "b", "c"], help="parts to run"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--batch-dt", type=float, default=30.0, help="cohort control period [s]")
    parser.add_argument("--workers", type=int, default=2, help="processes for the cohort")
    parser.add_argument("--classes", type=int, default=50, help="body sizes of the shared cohort")
    parser.add_argument(
        "--sub-batch", type=int, default=SUB_BATCH, help="patients per twin (cache: see SUB_BATCH)"
    )
    parser.add_argument(
        "--cohorts", nargs="+", choices=_COHORTS, default=list(_COHORTS), help="(b) cohorts"
    )
    parser.add_argument(
        "--layouts",
        nargs="+",
        choices=_LAYOUTS,
        default=list(_LAYOUTS),
        help="(b) layouts: one twin per process, twins with their own propagators, twins "
        "sharing the cohort family",
    )
    parser.add_argument(
        "--cohort-repeats", type=int, default=1, help="(b) runs per layout (median printed)"
    )
    parser.add_argument(
        "--family-check",
        type=int,
        default=300,
        help="patients compared with exact propagators (0: skip)",
    )
    parser.add_argument("--reference-minutes", type=float, default=90.0)
    args = parser.parse_args()
    single = [Patient(170.0, 70.0)]
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")

    run(single, 1.0, duration_s=60.0)  # warm-up (imports, BLAS)
    if "a" in args.only:
        single_s, single_cpu = _median_times(lambda: run(single, 1.0), args.repeats)
        print(
            f"(a) one 90-min procedure, 1 s step: median {single_s * 1e3:.1f} ms wall, "
            f"{single_cpu * 1e3:.1f} ms CPU over {args.repeats} repeats (goal <= 100 ms; ratio "
            f"to goal {single_s / 0.1:.2f})",
            flush=True,
        )
    if "b" in args.only:
        _cohort_figures(args)
    if "c" not in args.only:
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return

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
