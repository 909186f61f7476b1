"""The twin reproduces the published outcomes its drug parameters were calibrated against."""

import math

import numpy as np
import pytest
from twin_helpers import make_twin, standard_events

from hipec.model import CALIBRATION_TARGETS, Commands, Event, metrics, simulate

# heat does not change drug transport in this model, so a fixed heater command is enough here


def outcomes(
    drug: str, technique: str, flow: float, minutes: float, dose: float
) -> dict[str, float]:
    twin = make_twin((drug,), technique)
    commands = Commands(heater_power_w=300.0, inflow_l_min=flow)
    trajectory = simulate(twin, minutes * 60.0, 10.0, standard_events(twin, {drug: dose}), commands)
    times = trajectory.time_s
    perfusate = trajectory.perfusate_concentration_mg_l[:, 0, 0]
    plasma = trajectory.plasma_concentration_mg_l[:, 0, 0]
    late = times >= 300.0
    result = {
        "fraction absorbed": float(trajectory.fraction_absorbed[-1, 0, 0]),
        "fraction remaining": float(trajectory.fraction_remaining[-1, 0, 0]),
        "fraction urine": float(trajectory.fraction_urine[-1, 0, 0]),
        "window ratio": float(metrics.exposure_ratio(times, perfusate, plasma)),
        "half-life": float(metrics.perfusate_half_life_h(times[late], perfusate[late])),
    }
    perfusate_auc = float(metrics.auc_mg_min_per_l(times, perfusate))
    plasma_auc = float(metrics.auc_mg_min_per_l(times, plasma))
    twin.apply_event(Event(0.0, "drain", math.inf, "abdomen"))
    tail = simulate(twin, 24 * 3600.0, 300.0, (), Commands())
    plasma_auc += float(
        metrics.auc_mg_min_per_l(tail.time_s, tail.plasma_concentration_mg_l[:, 0, 0])
    )
    result["ratio to 24 h"] = perfusate_auc / plasma_auc
    return result


def target(drug: str, quantity_start: str):  # type: ignore[no-untyped-def]
    """The published value with its accepted absolute deviation."""
    for item in CALIBRATION_TARGETS:
        if item.drug == drug and item.quantity.startswith(quantity_start):
            return pytest.approx(item.value, abs=item.tolerance)
    raise AssertionError(quantity_start)


def test_oxaliplatin_elias_2002_and_chalret_du_rieu_2014() -> None:
    result = outcomes("oxaliplatin", "open", 2.0, 30.0, 460.0)
    assert result["fraction absorbed"] == (target("oxaliplatin", "fraction absorbed"))
    assert result["half-life"] == (target("oxaliplatin", "perfusate half-life"))
    assert result["ratio to 24 h"] == (target("oxaliplatin", "perfusate AUC"))


def test_mitomycin_van_der_speeten_2011() -> None:
    result = outcomes("mitomycin C", "open", 1.5, 90.0, 35.0)
    assert result["fraction remaining"] == (target("mitomycin C", "fraction remaining"))
    assert result["fraction urine"] == (target("mitomycin C", "fraction in urine"))
    assert result["window ratio"] == (target("mitomycin C", "perfusate / plasma"))


def test_cisplatin_cho_1999() -> None:
    result = outcomes("cisplatin", "closed", 1.5, 90.0, 100.0)
    assert result["fraction remaining"] == (target("cisplatin", "fraction remaining"))
    assert result["window ratio"] == (target("cisplatin", "perfusate / plasma"))
    assert np.isfinite(result["half-life"])
