"""Safety campaign benchmark (issue 4): every fault x onset x library regimen x seed.

10 faults x 3 onsets (mid-heat, 2 min into the perfusion, 6 min before its end) x 7 regimens x 3
seeds = 630 fault runs, plus one fault-free control run per regimen and seed (21), on the reference
patient, control period 1 s, each fault run ending 5 min after its onset. Requirements and their
definitions: :mod:`hipec.runner.campaign`.

    .venv/bin/python benchmarks/faults.py [--seeds 3] [--workers 2] [--json out.json]

Prints the per-fault table, every failing run, the wall time and the load average; exits 1 if any
requirement is not met.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: small matrices, 2 processes

import argparse
import json
import sys
import time
from pathlib import Path

from hipec.runner.campaign import (
    CampaignPlan,
    CaseResult,
    default_workers,
    regimen_ids,
    run_campaign,
)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--runs", type=int, default=None, help="only the first N fault runs")
    parser.add_argument("--json", type=Path, default=None, help="write every run here")
    args = parser.parse_args(argv)

    plan = CampaignPlan(regimens=regimen_ids(), seeds=tuple(range(args.seeds)), runs=args.runs)
    load_before = os.getloadavg()
    started = time.perf_counter()

    def progress(result: CaseResult, done: int, total: int) -> None:
        if done % 25 == 0 or done == total or not result.passed:
            mark = "ok" if result.passed else "FAIL " + "; ".join(result.failures)
            elapsed = time.perf_counter() - started
            print(f"[{done:4d}/{total}] {elapsed:6.0f} s  {result.case.label}: {mark}", flush=True)

    result = run_campaign(plan, workers=args.workers, progress=progress)
    load_after = os.getloadavg()

    header = (
        f"{'fault':20s} {'runs':>4s} {'pass':>4s} {'det':>4s} {'med s':>6s} {'max s':>6s} "
        f"{'lim s':>5s} {'region C':>8s} {'inflow C':>8s} {'margin K':>8s}  safe action / failures"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in result.summary:
        failures = ", ".join(f"{k} x{n}" for k, n in row.failures.items()) or "none"
        print(
            f"{row.fault:20s} {row.runs:4d} {row.passed:4d} "
            f"{row.detected if row.limit_s is not None else '-':>4} "
            f"{_fmt(row.detection_median_s):>6s} {_fmt(row.detection_max_s):>6s} "
            f"{_fmt(row.limit_s):>5s} {row.worst_region_c:8.2f} {row.worst_inflow_c:8.2f} "
            f"{row.worst_inflow_margin_k:8.2f}  {'/'.join(row.safe_actions)}; {failures}"
        )
    print()
    print(
        f"{len(result.runs)} fault runs + {len(result.controls)} control runs, "
        f"{result.workers} workers, wall {result.wall_s:.0f} s; load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f} (1 min), {load_after[1]:.2f} (5 min), "
        f"{os.cpu_count()} cores"
    )
    print("every requirement met" if result.passed else "REQUIREMENTS NOT MET")
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_dict(details=True), indent=1))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
