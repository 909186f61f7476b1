"""The regimen schema: what it accepts and what it refuses (with the field named)."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest
from pydantic import ValidationError

from hipec.errors import InvalidInputError, from_validation_error
from hipec.protocols import BUILTIN_DIR, Regimen


@pytest.fixture
def dutch() -> dict[str, Any]:
    """The builtin Dutch MMC regimen as raw data, to mutate."""
    return tomllib.loads((BUILTIN_DIR / "dutch-mmc.toml").read_text(encoding="utf-8"))


def refusal(data: dict[str, Any]) -> InvalidInputError:
    with pytest.raises(ValidationError) as caught:
        Regimen.model_validate(data)
    return from_validation_error(caught.value)


def test_the_builtin_data_is_valid(dutch: dict[str, Any]) -> None:
    regimen = Regimen.model_validate(dutch)
    assert regimen.drugs == ("mitomycin C",)
    assert [f.fraction for f in regimen.doses[0].schedule] == [0.5, 0.25, 0.25]


def test_negative_dose_is_refused(dutch: dict[str, Any]) -> None:
    dutch["doses"][0]["mg_per_m2"] = -35
    error = refusal(dutch)
    assert error.field == "doses[0].mg_per_m2"
    assert "greater than 0" in error.message


def test_zero_dose_is_refused(dutch: dict[str, Any]) -> None:
    dutch["doses"][0]["mg_per_m2"] = 0
    assert refusal(dutch).field == "doses[0].mg_per_m2"


def test_dose_at_or_after_the_end_is_refused(dutch: dict[str, Any]) -> None:
    dutch["doses"][0]["schedule"][2]["at_min"] = 90.0  # duration is 90 min
    error = refusal(dutch)
    assert "not before the end of the 90 min perfusion" in error.message
    dutch["doses"][0]["schedule"][2]["at_min"] = 89.9  # just inside
    assert Regimen.model_validate(dutch).doses[0].schedule[2].at_min == 89.9


def test_unknown_field_is_refused(dutch: dict[str, Any]) -> None:
    dutch["carrier"]["volume_ml"] = 3000
    error = refusal(dutch)
    assert error.field == "carrier.volume_ml"
    assert "Extra inputs" in error.message


def test_unknown_top_level_field_is_refused(dutch: dict[str, Any]) -> None:
    dutch["durtion_min"] = 90
    assert refusal(dutch).field == "durtion_min"


@pytest.mark.parametrize(
    ("section", "low_key", "high_key", "low", "high", "needle"),
    [
        ("carrier", "min_volume_l", "max_volume_l", 6.0, 2.0, "must not exceed"),
        ("flow", "min_l_per_min", "max_l_per_min", 2.5, 1.5, "must not exceed"),
    ],
)
def test_min_above_max_is_refused(
    dutch: dict[str, Any],
    section: str,
    low_key: str,
    high_key: str,
    low: float,
    high: float,
    needle: str,
) -> None:
    dutch.setdefault(section, {}).update({low_key: low, high_key: high})
    error = refusal(dutch)
    assert error.field == section
    assert needle in error.message
    dutch[section].update({low_key: high, high_key: high})  # equal is fine
    Regimen.model_validate(dutch)


def test_temperature_band_out_of_order_is_refused(dutch: dict[str, Any]) -> None:
    dutch["temperature"]["inflow"] = {"target_c": 41.5, "min_c": 42.0, "max_c": 41.0}
    error = refusal(dutch)
    assert error.field == "temperature.inflow"
    assert "min_c <= target_c <= max_c" in error.message


def test_target_outside_its_band_is_refused(dutch: dict[str, Any]) -> None:
    dutch["temperature"]["inflow"]["target_c"] = 42.5  # band 41-42
    assert refusal(dutch).field == "temperature.inflow"


def test_implausible_temperature_is_refused(dutch: dict[str, Any]) -> None:
    dutch["temperature"]["inflow"] = {"target_c": 415}  # a missing decimal point
    assert refusal(dutch).field == "temperature.inflow.target_c"


def test_safety_maximum_must_be_above_the_target(dutch: dict[str, Any]) -> None:
    dutch["safety"]["max_inflow_c"] = 41.5  # equal to the inflow target
    error = refusal(dutch)
    assert "safety.max_inflow_c" in error.message
    assert "above the inflow target" in error.message


def test_safety_maximum_must_cover_the_band(dutch: dict[str, Any]) -> None:
    dutch["safety"]["max_inflow_c"] = 41.8  # above target 41.5, below band max 42
    assert "below the inflow band maximum" in refusal(dutch).message


def test_fractions_must_sum_to_one(dutch: dict[str, Any]) -> None:
    dutch["doses"][0]["schedule"][2]["fraction"] = 0.2
    error = refusal(dutch)
    assert error.field == "doses[0]"
    assert "sum to 1, got 0.95" in error.message


def test_schedule_times_must_increase(dutch: dict[str, Any]) -> None:
    dutch["doses"][0]["schedule"][1]["at_min"] = 0.0
    assert "strictly increase" in refusal(dutch).message


def test_exactly_one_dose_basis(dutch: dict[str, Any]) -> None:
    dutch["doses"][0]["mg"] = 60.0
    assert "exactly one of mg_per_m2, mg or mg_per_l" in refusal(dutch).message
    del dutch["doses"][0]["mg"], dutch["doses"][0]["mg_per_m2"]
    assert "exactly one of" in refusal(dutch).message


def test_cap_below_a_fixed_dose_is_refused(dutch: dict[str, Any]) -> None:
    dose = dutch["doses"][0]
    del dose["mg_per_m2"]
    dose.update(mg=40.0, cap_mg=30.0)
    assert "below the fixed dose" in refusal(dutch).message


def test_carrier_needs_exactly_one_volume_rule(dutch: dict[str, Any]) -> None:
    dutch["carrier"]["volume_l"] = 3.0
    error = refusal(dutch)
    assert error.field == "carrier"
    assert "exactly one of volume_l_per_m2 or volume_l" in error.message


def test_fixed_volume_outside_its_bounds_is_refused(dutch: dict[str, Any]) -> None:
    del dutch["carrier"]["volume_l_per_m2"]
    dutch["carrier"]["volume_l"] = 7.0  # bounds 2-6 L
    assert "outside its own bounds" in refusal(dutch).message


def test_the_same_drug_twice_is_refused(dutch: dict[str, Any]) -> None:
    dutch["doses"].append(copy.deepcopy(dutch["doses"][0]))
    assert "appears twice" in refusal(dutch).message


def test_no_dose_is_refused(dutch: dict[str, Any]) -> None:
    dutch["doses"] = []
    assert refusal(dutch).field == "doses"


def test_unverified_paths_must_exist(dutch: dict[str, Any]) -> None:
    dutch["unverified"] = ["carrier.colour"]
    assert "does not exist: 'carrier.colour'" in refusal(dutch).message
    dutch["unverified"] = ["doses[3].mg_per_m2"]
    assert "does not exist" in refusal(dutch).message
    dutch["unverified"] = ["doses[0].schedule[2].at_min", "carrier"]
    Regimen.model_validate(dutch)


def test_unknown_technique_is_refused(dutch: dict[str, Any]) -> None:
    dutch["technique"] = "semi-open"
    assert refusal(dutch).field == "technique"


def test_variant_may_not_repeat_the_main_technique(dutch: dict[str, Any]) -> None:
    dutch["variants"] = {"open": {"duration_min": 60}}
    assert "must not repeat the main technique" in refusal(dutch).message


def test_variant_is_checked_like_the_main_regimen(dutch: dict[str, Any]) -> None:
    dutch["variants"] = {"closed": {"duration_min": 45}}  # the 60-min fraction falls after the end
    error = refusal(dutch)
    assert "variants.closed" in error.message
    assert "not before the end of the 45 min perfusion" in error.message


def test_citation_needs_an_identifier(dutch: dict[str, Any]) -> None:
    dutch["citation"] = {"authors": "Somebody", "title": "Something"}
    error = refusal(dutch)
    assert error.field == "citation"
    assert "doi, pmid, pmcid or url" in error.message


def test_regimen_id_is_a_slug(dutch: dict[str, Any]) -> None:
    dutch["id"] = "Dutch MMC"
    assert refusal(dutch).field == "id"


def test_regimens_are_frozen(dutch: dict[str, Any]) -> None:
    regimen = Regimen.model_validate(dutch)
    with pytest.raises(ValidationError):
        regimen.duration_min = 60  # type: ignore[misc]


def test_is_unverified_marks_children(dutch: dict[str, Any]) -> None:
    regimen = Regimen.model_validate(dutch)  # unverified: duration_min, carrier, safety
    assert regimen.is_unverified("carrier.solution")
    assert regimen.is_unverified("duration_min")
    assert not regimen.is_unverified("doses[0].mg_per_m2")
    assert not regimen.is_unverified("carrier_x")
    paths = dict(regimen.leaves())
    assert paths["doses[0].schedule[1].at_min"] == 30.0
    assert "unverified" not in paths


def test_variant_unverified_marks_follow_the_override(dutch: dict[str, Any]) -> None:
    dutch["variants"] = {
        "closed": {"doses": [{"drug": "mitomycin C", "mg_per_m2": 30.0}], "duration_min": 60}
    }
    dutch["unverified"] = [
        "doses[0].mg_per_m2",  # replaced by the variant's doses: not inherited
        "carrier",  # not overridden: inherited
        "variants.closed.duration_min",  # becomes duration_min of the resolved regimen
    ]
    closed = Regimen.model_validate(dutch).for_technique("closed")
    assert closed.doses[0].mg_per_m2 == 30.0
    assert closed.duration_min == 60
    assert set(closed.unverified) == {"carrier", "duration_min"}
    assert not closed.is_unverified("doses[0].mg_per_m2")
