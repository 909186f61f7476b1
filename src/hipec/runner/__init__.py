"""One perfusion: clock + device + supervisor + procedure + controller + alarms -> sinks.

The same :class:`PerfusionRunner` serves the command line (``hipec run``, ``hipec simulate``), the
web console (operator actions from another thread) and cohort studies (many runs, as fast as
possible). :func:`simulated_run` builds the usual case: a plan on a simulated machine.

>>> from hipec.protocols import get_regimen, plan_perfusion
>>> from hipec.runner import RunConfig, simulated_run
>>> plan = plan_perfusion(get_regimen("dutch-mmc"), height_cm=170, weight_kg=70)
>>> runner = simulated_run(plan, RunConfig(control_period_s=5.0), seed=1)
>>> runner.run().outcome
'completed'
"""

from hipec.runner.engine import (
    CallbackSink,
    PerfusionRunner,
    RunConfig,
    RunSample,
    RunSink,
    make_controller,
)
from hipec.runner.result import (
    RANGE_HIGH_C,
    RANGE_LOW_C,
    TARGET_TOLERANCE_K,
    AlarmSummary,
    DoseSummary,
    PhaseRecord,
    RunResult,
    RunTrace,
    drug_key,
    simulation_report,
)
from hipec.runner.simulation import simulated_run, simulation_plan

__all__ = [
    "RANGE_HIGH_C",
    "RANGE_LOW_C",
    "TARGET_TOLERANCE_K",
    "AlarmSummary",
    "CallbackSink",
    "DoseSummary",
    "PerfusionRunner",
    "PhaseRecord",
    "RunConfig",
    "RunResult",
    "RunSample",
    "RunSink",
    "RunTrace",
    "drug_key",
    "make_controller",
    "simulated_run",
    "simulation_plan",
    "simulation_report",
]
