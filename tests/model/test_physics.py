"""Physical behaviour of the twin: signs, orderings and monotone responses."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twin_helpers import make_twin, standard_events

from hipec.model import CatheterPlacement, Commands, Patient, simulate
from hipec.model.cavity import _laplacian

FAST = settings(max_examples=6, deadline=None)


def steady_run(flow: float, power: float = 600.0, placement=None, technique="closed"):  # type: ignore[no-untyped-def]
    twin = make_twin(("mitomycin C",), technique, placement=placement)
    events = standard_events(twin, {"mitomycin C": 35.0})
    return simulate(
        twin, 40 * 60.0, 10.0, events, Commands(heater_power_w=power, inflow_l_min=flow)
    )


def graph_distance_from(sources: tuple[int, ...]) -> np.ndarray:
    adjacency = _laplacian() < 0
    distance = np.full(13, np.inf)
    frontier = list(sources)
    distance[frontier] = 0
    while frontier:
        nxt = []
        for node in frontier:
            for other in np.nonzero(adjacency[node])[0]:
                if distance[other] == np.inf:
                    distance[other] = distance[node] + 1
                    nxt.append(other)
        frontier = nxt
    return distance


@FAST
@given(
    flow=st.floats(0.0, 3.0),
    power=st.floats(0.0, 3000.0),
    outflow=st.one_of(st.none(), st.floats(0.0, 3.0)),
    inflow_regions=st.sets(st.integers(0, 12), min_size=1, max_size=3),
    drain_regions=st.sets(st.integers(0, 12), min_size=1, max_size=3),
    technique=st.sampled_from(["open", "closed"]),
)
def test_no_negative_amounts_no_nan(
    flow, power, outflow, inflow_regions, drain_regions, technique
) -> None:  # type: ignore[no-untyped-def]
    placement = CatheterPlacement(tuple(sorted(inflow_regions)), tuple(sorted(drain_regions)))
    twin = make_twin(("oxaliplatin", "doxorubicin"), technique, placement=placement)
    events = standard_events(twin, {"oxaliplatin": 300.0, "doxorubicin": 15.0})
    commands = Commands(heater_power_w=power, inflow_l_min=flow, outflow_l_min=outflow)
    trajectory = simulate(twin, 300.0, 30.0, events, commands, record_every=2)
    assert np.all(np.isfinite(twin.thermal)) and np.all(np.isfinite(twin.drug))
    assert np.all(twin.drug > -1e-9 * twin.dosed_mg.max())
    assert np.all(twin.abdominal_volume_l >= twin.model.cavity.residual_volume_l - 1e-12)
    assert np.all(twin.reservoir_volume_l >= twin.model.circuit.reservoir_min_volume_l - 1e-12)
    assert np.all(trajectory.region_temperature_c > 0.0)
    assert np.all(trajectory.region_temperature_c < 100.0)


def test_regions_far_from_inflow_run_cooler() -> None:
    placement = CatheterPlacement((1, 3), (5, 6, 7))
    trajectory = steady_run(1.5, placement=placement)
    temperature = trajectory.region_temperature_c[-1, 0]
    distance = graph_distance_from(placement.inflow_regions)
    near = temperature[distance == 0].mean()
    far = temperature[distance >= 2].mean()
    assert near - far > 0.3
    # and the spread is of the size CFD reports (Cooney: 0.9-3.6 K)
    assert 0.5 < temperature.max() - temperature.min() < 4.0


def test_far_regions_receive_the_drug_later() -> None:
    placement = CatheterPlacement((1,), (6,))
    twin = make_twin(("oxaliplatin",), placement=placement)
    events = standard_events(twin, {"oxaliplatin": 460.0})
    trajectory = simulate(twin, 300.0, 1.0, events, Commands(inflow_l_min=1.5))
    concentration = trajectory.region_concentration_mg_l[:, 0, 0, :]
    half_time = (concentration > 0.5 * concentration[-1]).argmax(axis=0).astype(float)
    distance = graph_distance_from(placement.inflow_regions)
    assert half_time.argmin() == 1  # the inflow region first
    assert half_time[distance >= 3].mean() > half_time[distance <= 1].mean() + 10.0


@FAST
@given(st.floats(0.0, 2500.0), st.floats(10.0, 500.0))
def test_more_heater_power_never_cooler(power: float, extra: float) -> None:
    low = steady_run(2.0, power)
    high = steady_run(2.0, power + extra)
    assert np.all(high.region_temperature_c >= low.region_temperature_c - 1e-9)
    assert np.all(high.core_temperature_c >= low.core_temperature_c - 1e-9)


def test_higher_flow_gives_smaller_spread() -> None:
    spreads = []
    for flow in (1.0, 2.0, 3.0):
        temperature = steady_run(flow).region_temperature_c[-1, 0]
        spreads.append(temperature.max() - temperature.min())
    assert spreads[0] > spreads[1] > spreads[2]


def test_absorbed_fraction_grows_with_time_and_sums_up() -> None:
    trajectory = steady_run(2.0)
    absorbed = trajectory.fraction_absorbed[1:, 0, 0]
    assert np.all(np.diff(absorbed) >= -1e-12)
    assert absorbed[-1] > 0.2
    total = trajectory.fraction_absorbed + trajectory.fraction_remaining
    np.testing.assert_allclose(total[1:], 1.0, atol=1e-9)  # no drain or degradation here


def test_core_warms_and_open_abdomen_loses_more_heat() -> None:
    closed = steady_run(2.0, technique="closed")
    opened = steady_run(2.0, technique="open")
    assert closed.core_temperature_c[-1, 0] > closed.core_temperature_c[0, 0] + 0.5
    assert opened.region_temperature_c[-1, 0].mean() < closed.region_temperature_c[-1, 0].mean()
    assert np.all(opened.abdominal_pressure_mmhg == 0.0)
    assert closed.abdominal_pressure_mmhg[-1, 0] > 0.0


def test_wall_profile_and_penetration() -> None:
    from hipec.model import metrics

    trajectory = steady_run(2.0)
    wall = trajectory.wall_temperature_c[0]
    # heat flows from the warm perfusate into the wall: the first cells are warmest
    assert np.all(wall[:, 0] > wall[:, -1])
    drop = metrics.first_mm_temperature_drop_k(
        trajectory.wall_depth_m, trajectory.wall_surface_temperature_c[0], wall
    )
    assert np.all(drop > 0.0) and np.all(drop < 5.0)
    depth = metrics.penetration_depth_m(
        trajectory.wall_depth_m, trajectory.wall_concentration_mg_l[0, 0]
    )
    assert np.all((depth > 0.1e-3) & (depth < 5e-3))


def test_batch_matches_single_runs() -> None:
    patients = [Patient(160.0, 55.0), Patient(190.0, 110.0)]
    batch = make_twin(("oxaliplatin",), patients=patients)
    together = simulate(
        batch, 600.0, 5.0, standard_events(batch, {"oxaliplatin": 460.0}), Commands(800.0, 2.0)
    )
    for index, patient in enumerate(patients):
        single = make_twin(("oxaliplatin",), patients=[patient])
        alone = simulate(
            single,
            600.0,
            5.0,
            standard_events(single, {"oxaliplatin": 460.0}),
            Commands(800.0, 2.0),
        )
        np.testing.assert_allclose(
            together.region_temperature_c[:, index], alone.region_temperature_c[:, 0], atol=1e-9
        )
        np.testing.assert_allclose(
            together.plasma_concentration_mg_l[:, index],
            alone.plasma_concentration_mg_l[:, 0],
            rtol=1e-9,
            atol=1e-12,
        )
    assert not np.allclose(
        together.plasma_concentration_mg_l[-1, 0], together.plasma_concentration_mg_l[-1, 1]
    )


@pytest.mark.parametrize("dt_s", [1.0, 30.0])
def test_large_steps_stay_exact_for_fixed_commands(dt_s: float) -> None:
    twin = make_twin(("oxaliplatin",))
    events = standard_events(twin, {"oxaliplatin": 460.0})
    trajectory = simulate(twin, 1800.0, dt_s, events, Commands(700.0, 2.0))
    reference = make_twin(("oxaliplatin",))
    fine = simulate(
        reference,
        1800.0,
        0.5,
        standard_events(reference, {"oxaliplatin": 460.0}),
        Commands(700.0, 2.0),
    )
    np.testing.assert_allclose(
        trajectory.region_temperature_c[-1], fine.region_temperature_c[-1], atol=1e-6
    )
