"""Circuit model, inflow predictor and region estimator (hipec.control.estimator)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from control_helpers import reading
from hypothesis import given, settings
from hypothesis import strategies as st

from hipec.control.estimator import (
    REGION_SHAPE,
    CircuitModel,
    InflowPredictor,
    RegionEstimator,
)
from hipec.control.temperature import CascadeConfig, CascadeController, TemperatureSetpoints
from hipec.errors import InvalidInputError

LOSSLESS = CircuitModel(tube_loss_w_per_k=0.0)


@pytest.mark.parametrize("flow", [0.5, 1.5, 3.0])
def test_steady_state_is_the_energy_balance(flow: float) -> None:
    """Without tube loss the probe settles at T_res + P / (rho c Q)."""
    rho_c_q = 4150.0 * flow / 60.0
    assert LOSSLESS.steady_state_c(flow, 500.0, 38.0) == pytest.approx(38.0 + 500.0 / rho_c_q)
    # with loss it settles a little lower
    assert CircuitModel().steady_state_c(flow, 500.0, 38.0) < 38.0 + 500.0 / rho_c_q


def test_discretisation_composes() -> None:
    """Two 1 s steps equal one 2 s step (exact zero-order hold)."""
    model = CircuitModel()
    phi1, gamma1 = model.discrete(1.5, 1.0)
    phi2, gamma2 = model.discrete(1.5, 2.0)
    assert np.allclose(phi1 @ phi1, phi2)
    assert np.allclose(phi1 @ gamma1 + gamma1, gamma2)


def test_step_response_has_the_transport_delay_and_falls_with_flow() -> None:
    predictor = InflowPredictor(LOSSLESS)
    early = predictor.step_response_c_per_w(1.5, 5.0)
    late = predictor.step_response_c_per_w(1.5, 600.0)
    assert early < 0.05 * late  # heater lag + exchanger + tube: little after 5 s
    assert late == pytest.approx(60.0 / (4150.0 * 1.5), rel=1e-3)
    assert predictor.step_response_c_per_w(3.0, 600.0) == pytest.approx(late / 2, rel=1e-3)
    assert predictor.step_response_c_per_w(1.5, 0.0) == 0.0


def test_disturbance_converges_to_a_calibration_offset() -> None:
    """The plant is the model plus a 0.3 K probe offset: the predictor learns the offset, and
    its prediction of the probe is then right."""
    plant = InflowPredictor(CircuitModel())
    model = InflowPredictor(CircuitModel(), disturbance_time_s=5.0)
    plant.observe(40.0, 39.0, 1.5, 300.0, 1.0)
    model.observe(40.3, 39.0, 1.5, 300.0, 1.0)
    for _ in range(300):
        plant.observe(0.0, 39.0, 1.5, 300.0, 1.0)  # the plant's own measurement is not used
        true_probe = float(plant.state_c[-1])
        model.observe(true_probe + 0.3, 39.0, 1.5, 300.0, 1.0)
    assert model.disturbance_c == pytest.approx(0.3, abs=0.02)
    prediction = model.predict(39.0, 1.5, block_s=1.0)
    predicted = prediction.free_c[0] + 300.0 * (
        prediction.first_c_per_w[0] + prediction.rest_c_per_w[0]
    )
    for _ in range(10):
        plant.observe(0.0, 39.0, 1.5, 300.0, 1.0)
    assert predicted == pytest.approx(float(plant.state_c[-1]) + 0.3, abs=0.02)


def test_predict_needs_an_observation() -> None:
    with pytest.raises(InvalidInputError):
        InflowPredictor().predict(39.0, 1.5, block_s=1.0)


def test_circuit_model_refuses_bad_parameters() -> None:
    with pytest.raises(InvalidInputError):
        CircuitModel(heater_capacity_j_per_k=0.0)
    with pytest.raises(InvalidInputError):
        CircuitModel(tube_cells=0)


# -- regions ------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    mean=st.floats(36.0, 43.0),
    drop=st.floats(0.0, 3.0),
    probes=st.lists(st.integers(0, 12), min_size=3, max_size=5, unique=True),
    technique=st.sampled_from(["open", "closed"]),
)
def test_regions_are_recovered_when_they_follow_the_shape(
    mean: float, drop: float, probes: list[int], technique: str
) -> None:
    shape = np.array(REGION_SHAPE[technique])
    inflow = mean + drop
    truth = mean + shape * (inflow - mean)
    estimate = RegionEstimator(tuple(shape)).estimate(
        [float(truth[r]) for r in probes], probes, inflow
    )
    assert estimate is not None
    assert estimate.mean_c == pytest.approx(mean, abs=1e-6)
    assert estimate.coolest_c == pytest.approx(truth.min(), abs=1e-6)
    assert estimate.hottest_c == pytest.approx(truth.max(), abs=1e-6)


def test_regions_without_probes_or_inflow() -> None:
    estimator = RegionEstimator.for_technique("closed")
    assert estimator.estimate([math.nan] * 3, [0, 6, 3], 42.0) is None
    estimate = estimator.estimate([40.0, math.nan, 41.0], [0, 6, 3], math.nan)
    assert estimate is not None and estimate.mean_c == pytest.approx(40.5)
    assert estimator.estimate_reading(reading()) is not None
    with pytest.raises(InvalidInputError):
        RegionEstimator((0.0,) * 12)


def test_the_coolest_region_is_a_far_one() -> None:
    """The shape puts the coolest region far from the inflow catheters (regions 1 and 3)."""
    for technique in ("open", "closed"):
        shape = REGION_SHAPE[technique]
        assert shape.index(min(shape)) == 12 and shape.index(max(shape)) == 1
        assert abs(float(np.mean(shape))) < 0.01  # spread about the mean


def test_band_edge_makes_the_outer_loop_control_on_the_coolest_region() -> None:
    controller = CascadeController(CascadeConfig(cavity_aggregate="estimated_mean"))
    setpoints = TemperatureSetpoints(42.0, "intra_abdominal", max_inflow_c=45.0, max_region_c=44.0)
    cold_spread = reading(inflow_c=43.5, cavity_c=(40.0, 39.0, 42.0))
    demand = controller.update(cold_spread, setpoints, 1.0)
    assert demand.controlled_on == "cavity estimated coolest"
    even = reading(inflow_c=42.5, cavity_c=(41.9, 41.8, 42.2))
    demand = controller.update(even, setpoints, 1.0)
    assert demand.controlled_on == "cavity estimated mean"


# -- the predictive inner loop on a model plant -------------------------------------------------


def run_model_plant(
    plant_model: CircuitModel, offset_k: float, target_c: float, seconds: int = 600
) -> list[tuple[float, float]]:
    """The cascade's predictive loop on a circuit-model plant (return fluid at 38 C, 1.5 L/min)
    whose probe reads ``offset_k`` high; returns (true probe, power) per second."""
    controller = CascadeController()
    setpoints = TemperatureSetpoints(target_c, "inflow", max_inflow_c=44.0, max_region_c=44.0)
    plant = InflowPredictor(plant_model)
    plant.observe(40.0, 38.0, 1.5, 0.0, 1.0)
    power, history = 0.0, []
    for t in range(seconds):
        plant.observe(0.0, 38.0, 1.5, power, 1.0)
        true_probe = float(plant.state_c[-1])
        sample = reading(
            time_s=float(t),
            inflow_c=true_probe + offset_k,
            reservoir_c=38.0,
            inflow_l_per_min=1.5,
            heater_power_w=power,
        )
        power = controller.update(sample, setpoints, 1.0).heater_power_w
        history.append((true_probe, power))
    return history


@pytest.mark.parametrize(
    ("plant_model", "max_overshoot_k"),
    [
        (CircuitModel(), 0.1),
        (CircuitModel(heater_capacity_j_per_k=4500.0, heater_conductance_w_per_k=220.0), 0.3),
        # 40 % more transport delay and 2.7 x the line loss: the guard is planned on the wrong
        # delay, so the overshoot grows to about 0.3 K
        (CircuitModel(inflow_tube_volume_l=0.35, tube_loss_w_per_k=4.0), 0.4),
    ],
    ids=["exact", "slower heater", "longer lossier line"],
)
def test_predictive_loop_is_fast_without_overshoot_and_robust(
    plant_model: CircuitModel, max_overshoot_k: float
) -> None:
    history = run_model_plant(plant_model, offset_k=0.2, target_c=42.0)
    measured = [probe + 0.2 for probe, _ in history]
    reached = next(t for t, value in enumerate(measured) if value >= 42.0 - 0.2)
    assert reached <= 60  # 2 K in a minute, transport delay included
    assert max(measured) <= 42.0 + max_overshoot_k
    assert measured[-1] == pytest.approx(42.0, abs=0.02)  # no steady-state error
    assert all(0.0 <= power <= 3000.0 for _, power in history)


def test_predictive_loop_never_plans_above_the_ceiling() -> None:
    """A target above the ceiling (44 - 0.5 C): the inflow stops at the ceiling plus the guard."""
    history = run_model_plant(CircuitModel(), offset_k=0.0, target_c=46.0)
    assert max(probe for probe, _ in history) <= 43.5 + 0.1 + 0.02
    assert history[-1][0] == pytest.approx(43.5, abs=0.05)


def test_heater_off_without_flow_and_bumpless_fallback_to_pid() -> None:
    controller = CascadeController()
    setpoints = TemperatureSetpoints(42.0, "inflow", max_inflow_c=44.0, max_region_c=44.0)
    for t in range(30):
        demand = controller.update(reading(time_s=float(t), inflow_c=41.0), setpoints, 1.0)
    predictive = demand.heater_power_w
    assert predictive > 0
    still = controller.update(reading(time_s=30.0, inflow_l_per_min=0.05), setpoints, 1.0)
    assert still.heater_power_w == 0.0
    controller.reset()
    for t in range(30):
        demand = controller.update(reading(time_s=float(t), inflow_c=41.9), setpoints, 1.0)
    before = demand.heater_power_w
    lost_flow = controller.update(
        reading(time_s=30.0, inflow_c=41.9, inflow_l_per_min=math.nan), setpoints, 1.0
    )
    # the flow reading is lost: the last flow keeps the model running, no jump in power
    assert abs(lost_flow.heater_power_w - before) < 300.0


@settings(max_examples=60, deadline=None)
@given(
    mean=st.floats(36.0, 43.0),
    drop=st.floats(0.05, 3.0),
    inflow_now=st.floats(37.0, 45.0),
    limit=st.floats(40.0, 44.0),
    technique=st.sampled_from(["open", "closed"]),
)
def test_inflow_limit_puts_the_hottest_region_at_the_limit(
    mean: float, drop: float, inflow_now: float, limit: float, technique: str
) -> None:
    """At the returned inflow the estimated hottest region is at the limit, and the answer
    does not depend on the inflow read now (only on the probes)."""
    estimator = RegionEstimator.for_technique(technique)
    shape = np.asarray(estimator.shape)
    probes = [0, 6, 3]
    values = [float(mean + shape[r] * drop) for r in probes]
    bound = estimator.inflow_limit_c(values, probes, limit, inflow_now)
    assert bound == pytest.approx(estimator.inflow_limit_c(values, probes, limit, 40.0))
    if not math.isfinite(bound):
        return
    at_bound = estimator.estimate(values, probes, bound)
    assert at_bound is not None
    assert at_bound.hottest_c == pytest.approx(limit, abs=1e-6)
    above = estimator.estimate(values, probes, bound + 0.1)
    assert above is not None and above.hottest_c > limit


def test_inflow_limit_without_probes_or_inflow_and_spread() -> None:
    estimator = RegionEstimator.for_technique("closed")
    assert math.isnan(estimator.inflow_limit_c([math.nan] * 3, [0, 6, 3], 43.0, 42.0))
    assert math.isnan(estimator.inflow_limit_c([41.0] * 3, [0, 6, 3], 43.0, math.nan))
    assert math.isfinite(estimator.inflow_limit_reading_c(reading(), 43.0))
    coolest, hottest = estimator.spread_c(1.0)
    assert (coolest, hottest) == (min(REGION_SHAPE["closed"]), max(REGION_SHAPE["closed"]))
    assert estimator.spread_c(-1.0) == (-hottest, -coolest)
