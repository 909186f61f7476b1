import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hipec.clinical.anthropometry import (
    HEIGHT_RANGE_CM,
    WEIGHT_RANGE_KG,
    body_surface_area_m2,
)
from hipec.errors import InvalidInputError


@pytest.mark.parametrize(
    ("height_cm", "weight_kg", "mosteller", "dubois"),
    [
        # worked by hand: sqrt(170*70/3600) and 0.007184 * 170^0.725 * 70^0.425
        (170.0, 70.0, 1.8181, 1.8097),
        (180.0, 80.0, 2.0000, 1.9964),
        (160.0, 55.0, 1.5635, 1.5632),
    ],
)
def test_worked_values(height_cm: float, weight_kg: float, mosteller: float, dubois: float) -> None:
    assert body_surface_area_m2(height_cm, weight_kg) == pytest.approx(mosteller, abs=5e-4)
    assert body_surface_area_m2(height_cm, weight_kg, "dubois") == pytest.approx(dubois, abs=5e-4)


@pytest.mark.parametrize(
    ("height_cm", "weight_kg", "field"),
    [
        (99.9, 70, "height_cm"),
        (250.1, 70, "height_cm"),
        (20, 70, "height_cm"),
        (170, 24.9, "weight_kg"),
        (170, 300.1, "weight_kg"),
        (170, math.nan, "weight_kg"),
        (math.inf, 70, "height_cm"),
    ],
)
def test_implausible_values_are_refused(height_cm: float, weight_kg: float, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        body_surface_area_m2(height_cm, weight_kg)
    assert caught.value.field == field
    assert "must be" in caught.value.message


def test_range_edges_are_accepted() -> None:
    for height in HEIGHT_RANGE_CM:
        for weight in WEIGHT_RANGE_KG:
            assert body_surface_area_m2(height, weight) > 0


def test_unknown_formula_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="bsa_formula"):
        body_surface_area_m2(170, 70, "boyd")  # type: ignore[arg-type]


heights = st.floats(*HEIGHT_RANGE_CM)
weights = st.floats(*WEIGHT_RANGE_KG)


@given(heights, weights, weights)
def test_bsa_grows_with_weight(height: float, w1: float, w2: float) -> None:
    low, high = sorted((w1, w2))
    for formula in ("mosteller", "dubois"):
        assert body_surface_area_m2(height, low, formula) <= body_surface_area_m2(
            height, high, formula
        )


@given(heights, weights)
def test_formulas_agree_for_real_body_shapes(height: float, weight: float) -> None:
    # the formulas part ways only for shapes no patient has (100 cm and 300 kg); within BMI 15-50
    # a grid over the whole range shows at most 9.4 % (100 cm, 50 kg)
    assume(15 <= weight / (height / 100) ** 2 <= 50)
    m = body_surface_area_m2(height, weight)
    d = body_surface_area_m2(height, weight, "dubois")
    assert abs(m - d) / m < 0.10
