"""Simulated perfusions for the synthetic demo registry (``hipec demo-data``, ``serve --demo``).

Every operated synthetic case gets one perfusion of its regimen, run on the digital twin by the real
control system and recorded through the same sink as a live run, so the demo's case pages,
reports and outcome figures show what the software would have captured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from hipec.protocols import get_regimen, plan_perfusion
from hipec.runner.engine import RunConfig
from hipec.runner.recording import record_run
from hipec.runner.simulation import simulated_run
from hipec.store.db import transaction
from hipec.store.demo import DemoCase
from hipec.store.repository import get_case

#: Control period of demo runs [s]. The twin is exact for commands held over a step, so a coarse
#: period gives plausible runs quickly; live runs use the machine's own period.
DEMO_CONTROL_PERIOD_S = 10.0

#: Demo runs are generated, not captured: commit once a simulated hour instead of every second.
DEMO_COMMIT_INTERVAL_S = 3600.0


def record_demo_perfusions(
    engine: Engine,
    cases: Sequence[DemoCase],
    *,
    actor: str = "hipec-demo",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[int]:
    """Simulate and record one perfusion for every operated case in ``cases``.

    Parameters
    ----------
    engine
        The database the cases were seeded into.
    cases
        Synthetic cases (:func:`hipec.store.demo.synthetic_registry`), already in the database.
    actor
        Who the runs are recorded as, for the audit log.
    seed
        Seed of the simulated machines' sensor noise (case ``i`` uses ``seed + i``).
    progress
        Called as ``progress(done, total)`` after each run.

    Returns
    -------
    list[int]
        The ids of the recorded runs.
    """
    operated = [case for case in cases if case.regimen_id is not None]
    run_ids: list[int] = []
    for index, case in enumerate(operated):
        document = case.document
        number = str(document["case_number"])
        regimen = get_regimen(str(case.regimen_id))
        plan = plan_perfusion(
            regimen,
            height_cm=float(document["height_cm"]),
            weight_kg=float(document["weight_kg"]),
            technique=document["procedures"][0]["technique"],
        )
        with transaction(engine) as session:
            procedure_id = get_case(session, number).procedures[0].id
        runner = simulated_run(
            plan, RunConfig(control_period_s=DEMO_CONTROL_PERIOD_S), seed=seed + index
        )
        recorded = record_run(
            runner,
            engine,
            number,
            regimen=regimen,
            procedure_id=procedure_id,
            actor=actor,
            commit_interval_s=DEMO_COMMIT_INTERVAL_S,
        )
        run_ids.append(recorded.run_id)
        if progress is not None:
            progress(index + 1, len(operated))
    return run_ids
