"""Fault names, the NAME@MINUTES syntax and fault validation."""

from __future__ import annotations

import math

import pytest

from hipec.devices.faults import DEFAULT_MAGNITUDES, FAULT_EFFECTS, FAULT_NAMES, Fault, parse_fault
from hipec.errors import InvalidInputError


def test_every_fault_has_an_effect_line() -> None:
    assert set(FAULT_EFFECTS) == set(FAULT_NAMES)
    assert len(FAULT_NAMES) == 10


@pytest.mark.parametrize("name", FAULT_NAMES)
def test_parse_every_fault(name: str) -> None:
    fault = parse_fault(f"{name}@2.5")
    assert fault.name == name and fault.onset_s == 150.0
    assert fault.active(150.0) and not fault.active(149.0)


@pytest.mark.parametrize(
    "text",
    ["heater-stuck-on", "@3", "heater-stuck-on@", "heater@3", "leak@-1", "leak@x", "leak@nan"],
)
def test_bad_fault_text_is_refused_listing_the_known_faults(text: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_fault(text)
    assert error.value.field == "fault"
    if "@" in text and text.split("@")[0] and text.split("@")[0] not in FAULT_NAMES:
        assert "heater-stuck-on" in error.value.message and "power-loss" in error.value.message


def test_magnitudes_targets_and_their_checks() -> None:
    assert Fault("leak", 0.0).value == DEFAULT_MAGNITUDES["leak"][0]
    assert Fault("leak", 0.0, magnitude=2.0).value == 2.0
    assert math.isnan(Fault("air-in-line", 0.0).value)
    assert Fault("pump-stall", 0.0).channel == "inflow"
    assert Fault("probe-disconnected", 0.0, target="cavity[6]").channel == "cavity[6]"
    for bad in (
        {"magnitude": 0.0},
        {"target": "heater"},
        {"target": "cavity[13]"},
    ):
        with pytest.raises(InvalidInputError):
            Fault("probe-disconnected", 0.0, **bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        Fault("air-in-line", 0.0, target="inflow")
    with pytest.raises(InvalidInputError):
        Fault("pump-stall", 0.0, target="core")
    with pytest.raises(InvalidInputError):
        Fault("melt-down", 0.0)
