import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hipec.errors import InvalidInputError
from hipec.model import metrics


def minute_at(temperature: float) -> tuple[np.ndarray, np.ndarray]:
    return np.array([0.0, 60.0]), np.array([temperature, temperature])


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [(44.0, 2.0), (43.0, 1.0), (42.0, 0.25), (41.0, 0.0625), (37.0, 0.25**6), (36.99, 0.0)],
)
def test_cem43_worked_values(temperature: float, expected: float) -> None:
    # Sapareto & Dewey 1984: 1 min at 44 C = 2, at 42 C = 0.25; nothing below 37 C
    assert metrics.cem43_minutes(*minute_at(temperature)) == pytest.approx(expected)


def test_cem43_adds_over_intervals_and_keeps_trailing_axes() -> None:
    times = np.array([0.0, 60.0, 120.0])
    temperatures = np.array([[40.0, 43.0], [44.0, 43.0], [42.0, 43.0]])
    np.testing.assert_allclose(metrics.cem43_minutes(times, temperatures), [2.25, 2.0])


@given(st.floats(37.0, 47.0), st.floats(0.0, 2.0))
def test_cem43_grows_with_temperature(temperature: float, increase: float) -> None:
    low = metrics.cem43_minutes(*minute_at(temperature))
    high = metrics.cem43_minutes(*minute_at(temperature + increase))
    assert high >= low


def test_time_in_range_boundaries_inclusive() -> None:
    times = np.arange(5) * 60.0
    temperatures = np.array([40.0, 40.99, 41.0, 43.0, 43.01])
    # intervals end at samples 1..4: 40.99 out, 41.0 in, 43.0 in, 43.01 out
    assert metrics.time_in_range_minutes(times, temperatures) == pytest.approx(2.0)


def test_auc_peak_ratio_and_half_life() -> None:
    times = np.linspace(0.0, 3600.0, 361)
    perfusate = 100.0 * np.exp(-np.log(2.0) * times / 1800.0)  # half-life 0.5 h
    plasma = np.full_like(times, 2.0)
    assert metrics.auc_mg_min_per_l(times, plasma) == pytest.approx(120.0)
    assert metrics.perfusate_half_life_h(times, perfusate) == pytest.approx(0.5)
    expected_auc = 100.0 * 30.0 / np.log(2.0) * (1.0 - 0.25)
    ratio = metrics.exposure_ratio(times, perfusate, plasma)
    assert ratio == pytest.approx(expected_auc / 120.0, rel=1e-4)
    cmax, tmax = metrics.peak(times, perfusate)
    assert (cmax, tmax) == (100.0, 0.0)


def test_penetration_depth_of_an_exponential_profile() -> None:
    depth = np.array([0.1, 0.5, 1.0, 2.0, 4.0]) * 1e-3
    length = 0.8e-3
    profile = np.exp(-(depth - depth[0]) / length)
    expected = depth[0] + length * np.log(10.0)  # log-linear interpolation is exact here
    assert metrics.penetration_depth_m(depth, profile) == pytest.approx(expected)
    assert metrics.penetration_depth_m(depth, np.ones(5)) == pytest.approx(depth[-1])
    assert np.isnan(metrics.penetration_depth_m(depth, np.zeros(5)))
    with pytest.raises(InvalidInputError):
        metrics.penetration_depth_m(depth, profile, fraction=1.5)


def test_first_mm_drop_of_a_linear_profile() -> None:
    depth = np.array([0.25, 0.75, 1.5, 3.0]) * 1e-3
    wall = 42.0 - 2000.0 * depth  # 2 K per mm
    assert metrics.first_mm_temperature_drop_k(depth, 42.0, wall) == pytest.approx(2.0)


def test_refuses_bad_time_axes() -> None:
    with pytest.raises(InvalidInputError, match="time_s"):
        metrics.cem43_minutes([0.0, 60.0, 30.0], [40.0, 40.0, 40.0])
    with pytest.raises(InvalidInputError, match="values"):
        metrics.auc_mg_min_per_l([0.0, 60.0], [1.0, 2.0, 3.0])


def test_thermal_enhancement_ratio_published_points_and_bounds() -> None:
    from hipec.model.parameters.thermal import thermal_enhancement_ratio

    ratio = thermal_enhancement_ratio("cisplatin", [30.0, 37.0, 40.0, 43.0, 45.0])
    assert ratio is not None
    # IC50 19.5 uM at 37 C, 6.8 uM at 43 C; log-linear between, not extrapolated
    np.testing.assert_allclose(ratio, [1.0, 1.0, (19.5 / 6.8) ** 0.5, 19.5 / 6.8, 19.5 / 6.8])
    mmc = thermal_enhancement_ratio("mitomycin C", [37.0, 42.0, 44.0])
    assert mmc is not None
    np.testing.assert_allclose(mmc, 1.0)  # no synergy with heat
    assert thermal_enhancement_ratio("oxaliplatin", [42.0]) is None  # synergy, but no figure
    assert thermal_enhancement_ratio("doxorubicin", [42.0]) is None


@given(st.floats(30.0, 50.0), st.floats(0.0, 5.0))
def test_thermal_enhancement_never_decreases_with_temperature(low: float, rise: float) -> None:
    from hipec.model.parameters.thermal import thermal_enhancement_ratio

    ratio = thermal_enhancement_ratio("cisplatin", [low, low + rise])
    assert ratio is not None
    assert 1.0 <= ratio[0] <= ratio[1] + 1e-12


def test_thermally_enhanced_auc_weights_each_interval() -> None:
    times = np.array([0.0, 60.0, 120.0])
    concentration = np.array([[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]])
    ratio = np.array([[1.0, 3.0], [1.0, 3.0], [1.0, 3.0]])
    np.testing.assert_allclose(
        metrics.thermally_enhanced_auc(times, concentration, ratio), [4.0, 12.0]
    )
    with pytest.raises(InvalidInputError, match="enhancement_ratio"):
        metrics.thermally_enhanced_auc(times, concentration, ratio[:, :1])
