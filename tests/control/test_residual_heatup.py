"""The graded heat-up bound of the probe residuals (:mod:`hipec.control.residual`): the full
heat-up bound only while the measured inflow has just moved, then the steady one, and a drift
at the inflow catheter starting in the heat-up confirmed within 30 s on the simulated machine."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import math

import pytest
from control_helpers import assert_drift_confirmed_in_time, reading

from hipec.control.residual import (
    REGION_RESIDUAL_BOUND_K,
    REGION_STEADY_RESIDUAL_BOUND_K,
    CavityResiduals,
    ResidualConfig,
)
from hipec.runner.identification import IdentificationRun

FLOW_L_PER_MIN = 2.0
FILL_S = 90  # 3 L pumped in at 2 L/min, then balanced circulation


def _fractions(
    inflow_c: list[float],
    flow_l_per_min: float = FLOW_L_PER_MIN,
    config: ResidualConfig | None = None,
) -> tuple[list[float], list[float], CavityResiduals]:
    """:attr:`CavityResiduals.heat_up_fraction` and the bound of region 3 at every second of an
    inflow temperature series (a fill of 3 L first, then balanced circulation)."""
    residuals = CavityResiduals("open", config)
    fractions, bounds = [], []
    for t, value in enumerate(inflow_c):
        filling = t < FILL_S * FLOW_L_PER_MIN / flow_l_per_min
        sample = reading(
            time_s=float(t),
            inflow_c=value,
            inflow_l_per_min=flow_l_per_min,
            outflow_l_per_min=0.0 if filling else flow_l_per_min,
        )
        residuals.update(sample)
        fractions.append(residuals.heat_up_fraction)
        bounds.append(residuals.bound_k(3))
    return fractions, bounds, residuals


def _heat_up(ramp_end_s: int, total_s: int) -> list[float]:
    """40 C until 200 s, a rise at 3 K/min until ``ramp_end_s``, then flat."""
    return [40.0 + 3.0 * (min(max(t, 200), ramp_end_s) - 200) / 60.0 for t in range(total_s)]


def test_the_full_heat_up_bound_holds_while_the_inflow_moves_then_the_steady_one() -> None:
    cfg = ResidualConfig()
    fractions, bounds, residuals = _fractions(_heat_up(260, 600))
    heat_up, steady = REGION_RESIDUAL_BOUND_K["open"][3], REGION_STEADY_RESIDUAL_BOUND_K["open"][3]
    assert residuals.abdomen_volume_l == pytest.approx(3.0, abs=0.05)
    # the look-back m V / Q: 22.5 s at 3 L and 2 L/min, over which the ramp (0.05 K/s) rises by
    # the full range R_full = 1 K after 20 s
    memory_s = cfg.graded_exchange_fraction * 60.0 * 3.0 / FLOW_L_PER_MIN
    assert memory_s == pytest.approx(22.5)
    assert fractions[:2] == [1.0, 1.0]  # nothing seen yet: the full heat-up bound
    assert fractions[199] == 0.0  # a flat inflow before the heat-up
    full = range(220, 263)  # 20 s of ramp in the look-back
    assert all(fractions[t] == 1.0 and bounds[t] == heat_up for t in full)
    assert fractions[270] == pytest.approx(0.05 * (260 - (270 - memory_s)), abs=0.03)
    # the inflow has held for the look-back: the steady bound, though not yet steady
    assert all(f == 0.0 for f in fractions[283:])
    assert bounds[300] == steady
    assert all(steady <= b <= heat_up for b in bounds)


def test_the_look_back_scales_with_the_exchange_time() -> None:
    """At twice the flow the abdomen exchanges twice as fast: the bound comes down sooner."""
    inflow = _heat_up(260, 600)
    slow, _, _ = _fractions(inflow, FLOW_L_PER_MIN)
    fast, _, _ = _fractions(inflow, 2.0 * FLOW_L_PER_MIN)
    first_zero = {name: f.index(0.0, 261) for name, f in (("slow", slow), ("fast", fast))}
    assert first_zero["fast"] < first_zero["slow"]
    assert first_zero["slow"] - 260 == pytest.approx(
        ResidualConfig().graded_exchange_fraction * 60.0 * 3.0 / FLOW_L_PER_MIN, abs=2.0
    )


def test_a_swinging_inflow_keeps_most_of_the_heat_up_bound() -> None:
    """A PID's swing of the inflow (+-0.6 K, 50 s period) moves the regions the whole time: the
    full heat-up bound at every swing, at least half of it in between (a 22.5 s look-back sees
    at least 0.6 (1 - cos(2 pi 11.25 / 50)) = 0.51 K of the swing), never steady."""
    inflow = [42.0 + 0.6 * math.sin(2 * math.pi * t / 50.0) for t in range(900)]
    fractions, bounds, residuals = _fractions(inflow)
    heat_up, steady = REGION_RESIDUAL_BOUND_K["open"][3], REGION_STEADY_RESIDUAL_BOUND_K["open"][3]
    filled = FILL_S + 30  # (during the fill the look-back is short: little perfusate yet)
    assert min(fractions[filled:]) >= 0.45
    for period_start in range(200, 850, 50):
        assert max(fractions[period_start : period_start + 50]) == 1.0
    assert all(b >= steady + 0.45 * (heat_up - steady) for b in bounds[filled:])
    assert not residuals.steady


def test_small_inflow_wiggles_grade_the_bound_in_proportion() -> None:
    cfg = ResidualConfig()
    # +-0.1 K (0.2 K range) with a 10 s period, after a flat start
    inflow = [
        42.0 + (0.1 * math.sin(2 * math.pi * t / 10.0) if t > 200 else 0.0) for t in range(600)
    ]
    fractions, _, _ = _fractions(inflow)
    expected = 0.2 / cfg.full_heat_up_inflow_range_k
    assert max(fractions[300:]) == pytest.approx(expected, abs=0.02)


def test_a_pump_stop_or_a_missing_inflow_reading_restores_the_full_heat_up_bound() -> None:
    residuals = CavityResiduals("closed")
    for t in range(300):
        flow = FLOW_L_PER_MIN
        residuals.update(
            reading(
                time_s=float(t),
                inflow_c=42.0,
                inflow_l_per_min=flow,
                outflow_l_per_min=0.0 if t < FILL_S else flow,
            )
        )
    assert residuals.heat_up_fraction == 0.0
    residuals.update(reading(time_s=300.0, inflow_c=math.nan, inflow_l_per_min=FLOW_L_PER_MIN))
    assert residuals.heat_up_fraction == 1.0
    residuals.update(reading(time_s=301.0, inflow_c=42.0, inflow_l_per_min=FLOW_L_PER_MIN))
    assert residuals.heat_up_fraction == 1.0  # the look-back starts over
    residuals.update(reading(time_s=302.0, inflow_c=42.0, inflow_l_per_min=0.0))
    assert residuals.heat_up_fraction == 1.0


#: Mid-heat drifts of the probe at region 3 (next to an inflow catheter): with the full heat-up
#: bound these were confirmed 40 s (open) and 50 s (closed) after their onset.
REGION_3_HEAT_UP_DRIFT_RUNS = [
    IdentificationRun("dutch-mmc", "cascade", 2),
    IdentificationRun("gastric-cisplatin-mmc", "cascade", 2),
]


@pytest.mark.parametrize("run", REGION_3_HEAT_UP_DRIFT_RUNS, ids=str)
def test_a_drift_at_the_inflow_catheter_in_the_heat_up_is_confirmed_within_30_s(
    run: IdentificationRun,
) -> None:
    first = run.runner(400.0).run()
    starts = {phase.name: phase.start_min * 60.0 for phase in first.phases}
    onset_s = float(round((starts["heat"] + starts["perfuse"]) / 2.0))
    assert_drift_confirmed_in_time(run, onset_s, "cavity[3]")
