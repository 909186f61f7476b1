"""Offline analysis on the twin (hipec.control.tuning): the models the controllers carry match the
twin, and the reachability evidence for abdominal targets."""

from __future__ import annotations

import numpy as np
import pytest

from hipec.control.estimator import REGION_SHAPE, CircuitModel
from hipec.control.tuning import (
    circuit_model_error_k,
    circuit_model_from_twin,
    identify_region_shape,
    steady_regions,
)
from hipec.errors import InvalidInputError


def test_the_controllers_circuit_model_is_the_twins() -> None:
    assert circuit_model_from_twin() == CircuitModel()


@pytest.mark.parametrize("flow", [1.0, 2.5])
def test_circuit_model_follows_the_twin_through_a_power_step(flow: float) -> None:
    """1.5 kW step from rest: the model (fed the twin's reservoir temperature) stays within
    0.15 K of the twin's inflow while it rises by about 10-20 K."""
    assert circuit_model_error_k(CircuitModel(), flow, 1500.0, 120.0) < 0.15


def test_region_shape_in_use_is_the_identified_one() -> None:
    identified = identify_region_shape("closed")
    assert np.allclose(identified, REGION_SHAPE["closed"], atol=0.002)


def test_open_abdomen_cannot_reach_43_c_at_the_inflow_ceiling() -> None:
    """PRODIGE 7 / Elias: 43 C abdomen, inflow at most min(45, 44) - 0.5 = 43.5 C: the open
    abdomen levels below 43 C (mean) even at 2 L/min, while its hottest region stays below 44 C."""
    steady = steady_regions("open", 43.5, 2.0)
    assert steady.mean_c < 43.0 - 0.2
    assert steady.hottest_c < 44.0
    assert steady.coolest_c > 41.0  # ... but every region is in the 41-43 C band's low part


def test_refuses_an_unknown_technique() -> None:
    with pytest.raises(InvalidInputError):
        steady_regions("laparoscopic", 42.0, 1.5)
