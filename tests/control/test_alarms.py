"""Alarm catalogue and manager: raise, latch, acknowledge, silence, escalate, clear, every code."""

from __future__ import annotations

import pytest

from hipec.control.alarms import (
    ALARM_CATALOGUE,
    AlarmCondition,
    AlarmConfig,
    AlarmManager,
    AlarmPriority,
)
from hipec.errors import NotFoundError

ALL_CODES = sorted(ALARM_CATALOGUE)
LATCHING = sorted(c for c, d in ALARM_CATALOGUE.items() if d.latching)
NON_LATCHING = sorted(c for c, d in ALARM_CATALOGUE.items() if not d.latching)
ESCALATING = sorted(c for c, d in ALARM_CATALOGUE.items() if d.escalate_after_s is not None)


def kinds(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.kind for e in events]


def test_catalogue_is_complete_data() -> None:
    for code, definition in ALARM_CATALOGUE.items():
        assert definition.code == code and code.isupper()
        assert definition.condition and definition.recovery
        if definition.priority == AlarmPriority.HIGH:
            assert definition.latching, f"{code}: hazardous alarms latch"
        if definition.escalate_after_s is not None:
            assert definition.priority == AlarmPriority.MEDIUM
    priorities = {d.priority for d in ALARM_CATALOGUE.values()}
    assert priorities == set(AlarmPriority)  # high, medium, low and information signals


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_alarm_is_raised_with_value_and_limit(code: str) -> None:
    manager = AlarmManager()
    events = manager.update(5.0, [AlarmCondition(code, 43.2, 43.0, "inflow")])
    assert kinds(events) == ["alarm.raised"]
    event = events[0]
    assert event.code == code and event.time_s == 5.0
    assert event.data["value"] == 43.2 and event.data["limit"] == 43.0
    assert event.data["recovery"] == ALARM_CATALOGUE[code].recovery
    assert manager.is_active(code, "inflow")
    # the condition persisting raises nothing new, and updates the value
    assert manager.update(6.0, [AlarmCondition(code, 43.5, 43.0, "inflow")]) == []
    assert manager.active[0].value == 43.5


@pytest.mark.parametrize("code", NON_LATCHING)
def test_non_latching_alarm_clears_with_its_condition(code: str) -> None:
    manager = AlarmManager()
    manager.update(0.0, [AlarmCondition(code)])
    events = manager.update(1.0, [])
    assert kinds(events) == ["alarm.cleared"]
    assert manager.active == ()
    assert manager.records[0].cleared_s == 1.0


@pytest.mark.parametrize("code", LATCHING)
def test_latching_alarm_needs_acknowledgement_and_a_cleared_condition(code: str) -> None:
    manager = AlarmManager()
    manager.update(0.0, [AlarmCondition(code, 1.0, 0.5)])
    assert manager.update(1.0, []) == []  # condition gone, still latched
    (alarm,) = manager.active
    assert alarm.latched and alarm.audible(1.0)
    events = manager.acknowledge(2.0, code)
    assert kinds(events) == ["alarm.acknowledged", "alarm.cleared"]
    assert manager.active == ()
    record = manager.records[0]
    assert (record.raised_s, record.acknowledged_s, record.cleared_s) == (0.0, 2.0, 2.0)


@pytest.mark.parametrize("code", LATCHING)
def test_acknowledged_latching_alarm_clears_when_the_condition_ends(code: str) -> None:
    manager = AlarmManager()
    manager.update(0.0, [AlarmCondition(code)])
    assert kinds(manager.acknowledge(1.0)) == ["alarm.acknowledged"]
    (alarm,) = manager.active
    assert not alarm.audible(1.5) and alarm.condition_present
    assert manager.update(2.0, [AlarmCondition(code)]) == []
    assert kinds(manager.update(3.0, [])) == ["alarm.cleared"]


@pytest.mark.parametrize("code", [c for c in ALL_CODES if c != "PROCEDURE_PAUSED"])
def test_silence_is_time_limited(code: str) -> None:
    manager = AlarmManager(config=AlarmConfig(silence_s=120.0))
    manager.update(0.0, [AlarmCondition(code)])
    events = manager.silence(10.0)
    assert kinds(events) == ["alarm.silenced"]
    assert manager.audible_priority(10.0) is None
    assert manager.audible_priority(129.9) is None
    assert manager.audible_priority(130.0) == ALARM_CATALOGUE[code].priority


def test_information_signals_never_sound() -> None:
    manager = AlarmManager()
    manager.update(0.0, [AlarmCondition("PROCEDURE_PAUSED")])
    assert manager.audible_priority(0.0) is None
    assert manager.silence(1.0) == []


def test_a_new_alarm_sounds_during_a_silence() -> None:
    manager = AlarmManager()
    manager.update(0.0, [AlarmCondition("DOSE_DUE")])
    manager.silence(1.0)
    manager.update(2.0, [AlarmCondition("DOSE_DUE"), AlarmCondition("AIR_IN_LINE")])
    assert manager.audible_priority(3.0) == AlarmPriority.HIGH


@pytest.mark.parametrize("code", ESCALATING)
def test_unacknowledged_medium_alarm_escalates(code: str) -> None:
    after = ALARM_CATALOGUE[code].escalate_after_s
    assert after is not None
    manager = AlarmManager()
    manager.update(0.0, [AlarmCondition(code)])
    assert manager.update(after - 1.0, [AlarmCondition(code)]) == []
    events = manager.update(after, [AlarmCondition(code)])
    assert kinds(events) == ["alarm.escalated"]
    assert events[0].data["priority"] == "high"
    assert manager.active[0].priority == AlarmPriority.HIGH
    assert manager.records[0].max_priority == AlarmPriority.HIGH
    assert manager.update(after + 50, [AlarmCondition(code)]) == []  # only once


@pytest.mark.parametrize("code", ESCALATING)
def test_acknowledged_medium_alarm_does_not_escalate(code: str) -> None:
    manager = AlarmManager(config=AlarmConfig(escalation_s=30.0))
    manager.update(0.0, [AlarmCondition(code)])
    manager.acknowledge(10.0, code)
    assert manager.update(100.0, [AlarmCondition(code)]) == []
    assert manager.active[0].priority == AlarmPriority.MEDIUM


def test_escalation_time_is_configurable_and_silence_ends_on_escalation() -> None:
    manager = AlarmManager(config=AlarmConfig(escalation_s=30.0))
    manager.update(0.0, [AlarmCondition("VOLUME_IMBALANCE")])
    manager.silence(1.0)
    assert manager.audible_priority(29.0) is None
    manager.update(30.0, [AlarmCondition("VOLUME_IMBALANCE")])
    assert manager.audible_priority(30.0) == AlarmPriority.HIGH


def test_active_alarms_sorted_by_priority_then_time() -> None:
    manager = AlarmManager()
    manager.update(0.0, [AlarmCondition("DOSE_DUE", source="mmc")])
    manager.update(1.0, [AlarmCondition("DOSE_DUE", source="mmc"), AlarmCondition("LEAK")])
    manager.update(
        2.0,
        [
            AlarmCondition("DOSE_DUE", source="mmc"),
            AlarmCondition("VOLUME_IMBALANCE"),
            AlarmCondition("AIR_IN_LINE"),
        ],
    )
    assert [a.code for a in manager.active] == [
        "LEAK",
        "AIR_IN_LINE",
        "VOLUME_IMBALANCE",
        "DOSE_DUE",
    ]


def test_alarms_from_different_sources_are_separate() -> None:
    manager = AlarmManager()
    manager.update(
        0.0,
        [
            AlarmCondition("PROBE_DISCONNECTED", source="cavity[0]"),
            AlarmCondition("PROBE_DISCONNECTED", source="cavity[6]"),
        ],
    )
    assert len(manager.active) == 2
    manager.acknowledge(1.0, "PROBE_DISCONNECTED", "cavity[0]")
    manager.update(2.0, [])
    assert [a.source for a in manager.active] == ["cavity[6]"]


def test_unknown_code_is_refused() -> None:
    with pytest.raises(NotFoundError) as error:
        AlarmManager().update(0.0, [AlarmCondition("NO_SUCH_ALARM")])
    assert error.value.field == "code"


def test_reraised_after_clearing_is_a_new_alarm() -> None:
    manager = AlarmManager()
    manager.update(0.0, [AlarmCondition("DOSE_DUE")])
    manager.update(1.0, [])
    events = manager.update(2.0, [AlarmCondition("DOSE_DUE")])
    assert kinds(events) == ["alarm.raised"]
    assert len(manager.records) == 2
