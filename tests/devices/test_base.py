import math

import pytest

from hipec.devices import Command, Reading, safe_command


def reading(**overrides: object) -> Reading:
    values: dict[str, object] = {
        "time_s": 0.0,
        "inflow_c": 42.0,
        "outflow_c": 40.5,
        "reservoir_c": 41.8,
        "cavity_c": (41.2, math.nan, 40.9),
        "cavity_probe_regions": (0, 6, 3),
        "core_c": 37.4,
        "inflow_l_per_min": 1.5,
        "outflow_l_per_min": 1.5,
        "line_pressure_mmhg": 120.0,
        "abdominal_pressure_mmhg": math.nan,
        "reservoir_volume_l": 1.2,
        "air_in_line": False,
        "power": "mains",
        "heater_power_w": 600.0,
    }
    values.update(overrides)
    return Reading(**values)  # type: ignore[arg-type]


def test_probe_lookup_by_region_treats_nan_as_no_reading() -> None:
    sample = reading()
    assert sample.cavity_probe(0) == 41.2
    assert math.isnan(sample.cavity_probe(6))
    assert math.isnan(sample.cavity_probe(12))  # no probe there
    assert sample.max_cavity_c == 41.2
    assert sample.mean_cavity_c == pytest.approx((41.2 + 40.9) / 2)


def test_all_probes_silent_gives_nan_not_a_number() -> None:
    sample = reading(cavity_c=(math.nan, math.nan, math.nan))
    assert math.isnan(sample.max_cavity_c)
    assert math.isnan(sample.mean_cavity_c)


def test_probe_values_and_regions_must_pair_up() -> None:
    with pytest.raises(ValueError, match="same length"):
        reading(cavity_c=(41.0,))


def test_safe_command_turns_the_heater_off_and_keeps_a_balanced_flow() -> None:
    command = safe_command()
    assert command.heater_power_w == 0.0
    assert command.inflow_l_per_min == command.outflow_l_per_min > 0.0
    assert command.inflow_clamp_open and command.outflow_clamp_open
    assert Command().heater_power_w == 0.0  # the default command never heats
