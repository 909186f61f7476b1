"""Flow balance: pump rates per mode, the balance trim, imbalance detection."""

from __future__ import annotations

import pytest
from control_helpers import reading

from hipec.control.flow import BalanceConfig, FlowBalance, FlowSetpoints, compose_command
from hipec.control.temperature import HeaterDemand


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("stop", (0.0, 0.0)), ("fill", (2.0, 0.0)), ("drain", (0.0, 2.0))],
)
def test_modes(mode: str, expected: tuple[float, float]) -> None:
    demand = FlowBalance().update(reading(), FlowSetpoints(mode, 2.0), 1.0)  # type: ignore[arg-type]
    assert (demand.inflow_l_per_min, demand.outflow_l_per_min) == expected


def test_rate_is_limited_to_the_pump_range() -> None:
    balance = FlowBalance(BalanceConfig(max_flow_l_per_min=3.0))
    assert balance.update(reading(), FlowSetpoints("fill", 9.0), 1.0).inflow_l_per_min == 3.0


def test_volume_accumulating_in_the_abdomen_raises_the_outflow() -> None:
    balance = FlowBalance()
    setpoints = FlowSetpoints("circulate", 1.5)
    for t in range(59):  # the outflow pump under-delivers: volume accumulates
        demand = balance.update(reading(time_s=t, outflow_l_per_min=1.2), setpoints, 1.0)
    assert demand.net_volume_l == pytest.approx(0.295)  # 59 steps of 1 s at 0.3 L/min
    assert demand.trim_l_per_min > 0 and demand.outflow_l_per_min > 1.5
    assert demand.conditions == ()
    for t in range(59, 70):
        demand = balance.update(reading(time_s=t, outflow_l_per_min=1.2), setpoints, 1.0)
    assert [c.code for c in demand.conditions] == ["ABDOMINAL_VOLUME_DRIFT"]


def test_closed_technique_balances_on_pressure() -> None:
    balance = FlowBalance(BalanceConfig(pressure_target_mmhg=10.0))
    setpoints = FlowSetpoints("circulate", 1.5)
    high = balance.update(reading(abdominal_pressure_mmhg=15.0), setpoints, 1.0)
    assert high.trim_l_per_min == pytest.approx(0.02 * 5.0)
    balance.reset()
    low = balance.update(reading(abdominal_pressure_mmhg=5.0), setpoints, 1.0)
    assert low.trim_l_per_min < 0


def test_reservoir_falling_while_circulating_is_detected() -> None:
    balance = FlowBalance()
    setpoints = FlowSetpoints("circulate", 1.5)
    codes = []
    for t in range(40):
        level = 2.0 - 0.25 * t / 60
        demand = balance.update(reading(time_s=t, reservoir_volume_l=level), setpoints, 1.0)
        codes.append([c.source for c in demand.conditions])
    assert codes[29] == [] and codes[30] == ["reservoir"]


def test_changing_mode_restarts_the_volume_count() -> None:
    balance = FlowBalance()
    for t in range(30):
        balance.update(reading(time_s=t, outflow_l_per_min=1.0), FlowSetpoints("circulate", 1.5), 1)
    assert balance.net_volume_l > 0.2
    balance.update(reading(time_s=31), FlowSetpoints("drain", 2.0), 1.0)
    assert balance.net_volume_l == 0.0


def test_compose_command() -> None:
    balance = FlowBalance()
    pumps = balance.update(reading(), FlowSetpoints("fill", 2.0), 1.0)
    command = compose_command(HeaterDemand(900.0, 42.0, "inflow", 41.0), pumps)
    assert (command.heater_power_w, command.inflow_l_per_min, command.outflow_l_per_min) == (
        900.0,
        2.0,
        0.0,
    )
