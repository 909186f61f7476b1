"""The safety campaign: a reduced campaign (every fault once, one regimen, one seed, short runs)
against the issue-4 requirements, the criteria themselves, and the prefix-sharing shortcut."""

from __future__ import annotations

import os

# small matrices: a multi-threaded BLAS only adds contention (effective only if numpy is not yet
# imported; the lead may want this in tests/conftest.py, as tests/model/conftest.py does)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import math

import pytest

from hipec.control.events import Event
from hipec.control.limits import ABSOLUTE_MAX_REGION_C
from hipec.control.supervisor import SafeAction
from hipec.devices.base import SAFE_FLOW_L_PER_MIN, Command
from hipec.devices.faults import FAULT_NAMES
from hipec.errors import InvalidInputError
from hipec.runner import RunConfig, simulated_run
from hipec.runner.campaign import (
    FAULT_REQUIREMENTS,
    HAZARD_DETECTION_LIMIT_S,
    ONSETS,
    SENSOR_DETECTION_LIMIT_S,
    CampaignCase,
    CampaignPlan,
    CampaignResult,
    CaseResult,
    command_is_safe,
    onset_times,
    reference_plan,
    regimen_ids,
    run_campaign,
    run_case,
    run_onset_group,
    summarise,
)

# prodige7: the shortest procedure of the library (30 min perfusion)
REGIMEN = "prodige7"
OBSERVE_S = 60.0
SENSOR_FAULTS = ("inflow-probe-stuck", "cavity-probe-drift", "probe-disconnected")


@pytest.fixture(scope="module")
def campaign() -> CampaignResult:
    """Every fault once at the late-perfusion onset, one regimen, one seed, 60 s after onset."""
    plan = CampaignPlan(
        regimens=(REGIMEN,), onsets=("late-perfuse",), seeds=(0,), observe_s=OBSERVE_S
    )
    return run_campaign(plan)


def _by_fault(campaign: CampaignResult) -> dict[str, CaseResult]:
    return {r.case.fault or "": r for r in campaign.runs}


def test_reduced_campaign_covers_every_fault_once_and_meets_every_requirement(
    campaign: CampaignResult,
) -> None:
    assert sorted(_by_fault(campaign)) == sorted(FAULT_NAMES)
    assert len(campaign.runs) == len(FAULT_NAMES) and len(campaign.controls) == 1
    assert campaign.passed, campaign.to_dict()["failures"]


@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_each_fault_is_detected_high_within_its_limit_and_made_safe(
    campaign: CampaignResult, fault: str
) -> None:
    run = _by_fault(campaign)[fault]
    limit = SENSOR_DETECTION_LIMIT_S if fault in SENSOR_FAULTS else HAZARD_DETECTION_LIMIT_S
    assert FAULT_REQUIREMENTS[fault].detection_limit_s == limit
    assert run.detection_s is not None and 0.0 <= run.detection_s <= limit, run.failures
    assert run.detected_by is not None
    assert run.detected_by.split(" ")[0] in FAULT_REQUIREMENTS[fault].codes
    assert run.safe_state_s is not None and run.safe_state_s <= limit
    assert SafeAction[run.safe_action.upper()] >= FAULT_REQUIREMENTS[fault].safe_action
    # the true state, not the sensors
    assert run.max_region_c <= ABSOLUTE_MAX_REGION_C
    assert run.max_inflow_c <= run.inflow_limit_c
    assert not any(f.startswith("alarm-before-onset") for f in run.failures)


def test_healthy_run_raises_no_alarm_and_completes(campaign: CampaignResult) -> None:
    (control,) = campaign.controls
    assert control.case.fault is None and control.alarms == ()
    assert control.outcome == "completed" and control.passed
    assert control.max_region_c <= ABSOLUTE_MAX_REGION_C
    assert control.max_inflow_c <= control.inflow_limit_c
    names = [name for name, _ in control.phases]
    assert names[-1] == "complete" and "perfuse" in names


def test_summary_reports_detection_times_and_worst_temperatures(campaign: CampaignResult) -> None:
    rows = {row.fault: row for row in campaign.summary}
    assert set(rows) == {*FAULT_NAMES, "control"}
    for fault in FAULT_NAMES:
        row = rows[fault]
        assert row.runs == row.passed == row.detected == 1 and row.failures == {}
        assert (
            row.detection_median_s == row.detection_max_s == _by_fault(campaign)[fault].detection_s
        )
    assert rows["control"].detected == 0 and rows["control"].limit_s is None
    data = campaign.to_dict()
    assert data["passed"] and data["runs"] == 10 and data["control_runs"] == 1
    assert data["failed_runs"] == 0 and data["failures"] == []


def test_onsets_fall_in_their_phases(campaign: CampaignResult) -> None:
    (control,) = campaign.controls
    onsets = onset_times(control, reference_plan(REGIMEN).duration_min)
    starts = dict(control.phases)
    assert starts["heat"] < onsets["heat"] < starts["perfuse"]
    assert onsets["early-perfuse"] == starts["perfuse"] + 120.0
    assert starts["perfuse"] < onsets["late-perfuse"] < starts["drain"]


def test_drift_during_a_fast_heat_up_is_detected_within_30_s() -> None:
    # aspsm-mmc targets the inflow: its heat phase is a fast ramp (~1 min), where the regions
    # diverge at up to ~2 K/min; the probe's model-based residual follows that, a drift does not
    # the campaign's mid-heat onset, from the first minutes of the fault-free run (same seed)
    first = simulated_run(
        reference_plan("aspsm-mmc"), RunConfig(control_period_s=1.0, max_run_s=400.0), seed=0
    ).run()
    starts = {phase.name: phase.start_min * 60.0 for phase in first.phases}
    onset = round((starts["heat"] + starts["perfuse"]) / 2.0)
    assert starts["heat"] < onset < starts["perfuse"]
    run = run_case(CampaignCase("aspsm-mmc", 0, "cavity-probe-drift", "heat", onset, 60.0))
    assert run.detection_s is not None and run.detection_s <= SENSOR_DETECTION_LIMIT_S
    assert run.detected_by == "PROBE_IMPLAUSIBLE (cavity[0])" and run.passed, run.failures


def test_prefix_sharing_gives_the_same_runs_as_fresh_runs() -> None:
    onset_s = 300.0  # dutch-mmc, early in the perfusion
    shared = run_onset_group("dutch-mmc", 1, "early-perfuse", onset_s, ["leak", "pump-stall"], 60.0)
    for run in shared:
        fresh = run_case(run.case)
        assert fresh.detection_s == run.detection_s and fresh.alarms == run.alarms
        assert fresh.max_region_c == run.max_region_c and fresh.max_inflow_c == run.max_inflow_c
        assert fresh.safe_state_s == run.safe_state_s and fresh.safe_action == run.safe_action


# -- the criteria -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "action", "safe"),
    [
        (Command(0.0, 3.0, 3.0), SafeAction.HEATER_OFF, True),
        (Command(1.0, 0.0, 0.0), SafeAction.HEATER_OFF, False),  # every safe state: heater off
        (Command(0.0, SAFE_FLOW_L_PER_MIN, SAFE_FLOW_L_PER_MIN), SafeAction.SAFE_FLOW, True),
        (Command(0.0, SAFE_FLOW_L_PER_MIN + 0.01, 0.0), SafeAction.SAFE_FLOW, False),
        (Command(0.0, 0.0, SAFE_FLOW_L_PER_MIN + 0.01), SafeAction.SAFE_FLOW, False),
        (Command(0.0, 0.0, 0.5, inflow_clamp_open=False), SafeAction.STOP_INFLOW, True),
        (Command(0.0, 0.0, 0.5), SafeAction.STOP_INFLOW, False),  # clamp open
        (Command(0.0, 0.0, 0.0, False, False), SafeAction.STOP_ALL, True),
        (Command(0.0, 0.0, 0.0, False, True), SafeAction.STOP_ALL, True),  # outflow at 0
        (Command(0.0, 0.0, 0.1, False, True), SafeAction.STOP_ALL, False),
        (Command(0.0, 3.0, 0.0, True, False), SafeAction.STOP_ALL, False),
    ],
)
def test_command_is_safe_at_its_boundaries(
    command: Command, action: SafeAction, safe: bool
) -> None:
    assert command_is_safe(command, action, SAFE_FLOW_L_PER_MIN) is safe


def _result(fault: str | None, detection_s: float | None, failures: tuple[str, ...]) -> CaseResult:
    case = (
        CampaignCase("dutch-mmc", 0)
        if fault is None
        else CampaignCase("dutch-mmc", 0, fault, "heat", 100.0)
    )
    return CaseResult(
        case, "aborted", detection_s, None, None, None, None, "none", 41.0, 42.0, 43.0, (),
        failures, 0.1,
    )  # fmt: skip


def test_summary_medians_maxima_and_failure_counts() -> None:
    rows = summarise(
        [
            _result("leak", 7.0, ()),
            _result("leak", 9.0, ()),
            _result("leak", 12.0, ("late-detection: 12 s > 10 s",)),
            _result("leak", None, ("not-detected: x", "not-safe: y")),
            _result(None, None, ("false-alarm: LEAK at 3.0 min",)),
        ]
    )
    leak, control = rows
    assert leak.fault == "leak" and leak.runs == 4 and leak.passed == 2 and leak.detected == 3
    assert leak.detection_median_s == 9.0 and leak.detection_max_s == 12.0
    assert leak.failures == {"late-detection": 1, "not-detected": 1, "not-safe": 1}
    assert leak.worst_inflow_margin_k == pytest.approx(1.0)
    assert control.fault == "control" and control.failures == {"false-alarm": 1}


def test_requirements_cover_every_fault() -> None:
    assert set(FAULT_REQUIREMENTS) == set(FAULT_NAMES)
    for requirement in FAULT_REQUIREMENTS.values():
        assert requirement.safe_action >= SafeAction.HEATER_OFF and requirement.codes
    assert FAULT_REQUIREMENTS["air-in-line"].safe_action == SafeAction.STOP_ALL


def test_plan_order_covers_every_fault_then_every_onset() -> None:
    plan = CampaignPlan(regimens=regimen_ids(), seeds=(0, 1, 2))
    assert plan.size == 10 * 3 * len(regimen_ids()) * 3 >= 500
    slots = plan.slots()
    assert len(slots) == plan.size == len(set(slots))
    assert {fault for *_, fault in slots[:10]} == set(FAULT_NAMES)
    assert {onset for _, _, onset, _ in slots[:30]} == set(ONSETS)
    short = CampaignPlan(regimens=regimen_ids(), runs=12).slots()
    assert len(short) == 12 and short[:10] == slots[:10]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"runs": 0}, "runs"),
        ({"runs": 10 * 3 + 1}, "runs"),
        ({"observe_s": 59.0}, "observe_s"),
        ({"seeds": ()}, "campaign"),
    ],
)
def test_plan_refuses_bad_input(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        CampaignPlan(regimens=(REGIMEN,), **kwargs)  # type: ignore[arg-type]
    assert error.value.field == field


def test_case_refuses_unknown_fault_onset_and_a_fault_without_onset() -> None:
    with pytest.raises(InvalidInputError):
        CampaignCase(REGIMEN, 0, "gremlins", "heat", 10.0)
    with pytest.raises(InvalidInputError):
        CampaignCase(REGIMEN, 0, "leak", "dawn", 10.0)
    with pytest.raises(InvalidInputError):
        CampaignCase(REGIMEN, 0, "leak", "heat", None)
    with pytest.raises(InvalidInputError):
        run_campaign(CampaignPlan(regimens=(REGIMEN,), runs=1), workers=0)


def test_detection_needs_high_priority_and_the_fault_code() -> None:
    from hipec.runner.campaign import _detection

    def raised(t: float, code: str, priority: str, kind: str = "alarm.raised") -> Event:
        return Event(t, kind, code, code, {"priority": priority, "source": "s"})  # type: ignore[arg-type]

    events = [
        raised(90.0, "LEAK", "high"),  # before the onset
        raised(101.0, "VOLUME_IMBALANCE", "medium"),
        raised(102.0, "PUMP_STALL", "high"),  # not this fault's code
        raised(104.0, "LEAK", "medium"),
        raised(106.0, "LEAK", "high", "alarm.escalated"),
    ]
    assert _detection(events, 100.0, ("LEAK",)) == (6.0, "LEAK (s)")
    assert _detection(events[:4], 100.0, ("LEAK",)) == (None, None)
    assert math.isclose(_detection(events, 100.0, ("PUMP_STALL",))[0] or 0, 2.0)
