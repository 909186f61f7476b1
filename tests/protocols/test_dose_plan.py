"""Dose plans: every library regimen for a reference patient (checked by hand), caps, bounds."""

from __future__ import annotations

import math
import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hipec.clinical.anthropometry import HEIGHT_RANGE_CM, WEIGHT_RANGE_KG
from hipec.errors import InvalidInputError
from hipec.protocols import BUILTIN_DIR, Regimen, get_regimen, list_regimens, plan_perfusion

# Reference patient 170 cm, 70 kg: Mosteller BSA = sqrt(170 * 70 / 3600) = sqrt(3.30556) = 1.8181 m2
BSA = 1.8181
# 2 L/m2 x 1.8181 m2 = 3.636 L (inside 2-6 L where bounded).
VOLUME_2_L_PER_M2 = 3.636

# (regimen, technique, [(drug, mg, at_min)], carrier volume [L]) worked by hand:
REFERENCE_PLANS: list[tuple[str, str | None, list[tuple[str, float, float]], float]] = [
    # 460 x 1.8181 = 836.3
    ("prodige7", None, [("oxaliplatin", 836.3, 0)], VOLUME_2_L_PER_M2),
    # 360 x 1.8181 = 654.5
    ("prodige7", "closed", [("oxaliplatin", 654.5, 0)], VOLUME_2_L_PER_M2),
    ("elias-oxaliplatin", None, [("oxaliplatin", 836.3, 0)], VOLUME_2_L_PER_M2),
    # 35 x 1.8181 = 63.6 as 1/2, 1/4, 1/4 = 31.8, 15.9, 15.9
    (
        "dutch-mmc",
        None,
        [("mitomycin C", 31.8, 0), ("mitomycin C", 15.9, 30), ("mitomycin C", 15.9, 60)],
        VOLUME_2_L_PER_M2,
    ),
    # fixed 40 mg as 3/4, 1/4 = 30, 10; fixed 3 L
    ("aspsm-mmc", None, [("mitomycin C", 30.0, 0), ("mitomycin C", 10.0, 60)], 3.0),
    # 100 x 1.8181 = 181.8 as 1/2, 1/4, 1/4 = 90.9, 45.5, 45.5
    (
        "ovhipec-cisplatin",
        None,
        [("cisplatin", 90.9, 0), ("cisplatin", 45.5, 30), ("cisplatin", 45.5, 60)],
        VOLUME_2_L_PER_M2,
    ),
    # 50 x 1.8181 = 90.9; 30 x 1.8181 = 54.5
    (
        "gastric-cisplatin-mmc",
        None,
        [("cisplatin", 90.9, 0), ("mitomycin C", 54.5, 0)],
        VOLUME_2_L_PER_M2,
    ),
    # per litre of carrier: 43 x 3.636 = 156.4; 15.25 x 3.636 = 55.5
    (
        "mesothelioma-cisplatin-doxorubicin",
        None,
        [("cisplatin", 156.4, 0), ("doxorubicin", 55.5, 0)],
        VOLUME_2_L_PER_M2,
    ),
]


@pytest.mark.parametrize(("regimen_id", "technique", "expected", "volume_l"), REFERENCE_PLANS)
def test_reference_patient(
    regimen_id: str,
    technique: str | None,
    expected: list[tuple[str, float, float]],
    volume_l: float,
) -> None:
    plan = plan_perfusion(get_regimen(regimen_id), height_cm=170, weight_kg=70, technique=technique)
    assert plan.bsa_m2 == pytest.approx(BSA, abs=5e-5)
    assert plan.carrier_volume_l == pytest.approx(volume_l, abs=5e-3)
    got = [(d.drug, d.mg, d.at_min) for d in plan.doses]
    assert len(got) == len(expected)
    for (drug, mg, at_min), (exp_drug, exp_mg, exp_at) in zip(got, expected, strict=True):
        assert (drug, at_min) == (exp_drug, exp_at)
        assert mg == pytest.approx(exp_mg, abs=0.051)
    shown = plan.to_dict()["doses"]
    assert [d["mg"] for d in shown] == [mg for _, mg, _ in expected]


def test_every_library_regimen_has_a_reference_plan() -> None:
    assert {r.id for r in list_regimens()} == {row[0] for row in REFERENCE_PLANS}


def test_prodige7_systemic_comedication() -> None:
    plan = plan_perfusion(get_regimen("prodige7"), height_cm=170, weight_kg=70)
    systemic = {s.drug: s for s in plan.systemic}
    assert systemic["fluorouracil"].mg == pytest.approx(400 * BSA, abs=0.05)  # 727.2
    assert systemic["folinic acid"].mg == pytest.approx(20 * BSA, abs=0.05)  # 36.4
    assert systemic["fluorouracil"].at_min == -20
    assert plan.to_dict()["systemic"][0]["route"] == "iv"


def test_ovhipec_thiosulfate() -> None:
    plan = plan_perfusion(get_regimen("ovhipec-cisplatin"), height_cm=170, weight_kg=70)
    bolus, infusion = plan.systemic
    assert bolus.mg == pytest.approx(9000 * BSA, rel=1e-4)  # 16.4 g
    assert (infusion.mg, infusion.over_min) == (pytest.approx(12000 * BSA, rel=1e-4), 360)


def test_dutch_json_shape_and_concentrations() -> None:
    data = plan_perfusion(get_regimen("dutch-mmc"), height_cm=170, weight_kg=70).to_dict()
    for key in ("protocol", "bsa_m2", "bsa_formula", "carrier", "target_temperature_c"):
        assert key in data
    assert data["protocol"] == "dutch-mmc"
    assert data["bsa_m2"] == 1.8181
    assert data["carrier"]["volume_l"] == 3.64
    assert data["target_temperature_c"] == 41.5
    assert data["target_site"] == "inflow"
    assert data["duration_min"] == 90
    assert data["timer_start"] == "inflow_at_target"
    (total,) = data["totals"]
    assert total["mg"] == 63.6
    assert total["cap_applied"] is False
    # fill: 31.8 mg in 3.636 L = 8.75 mg/L; nominal 63.6 / 3.636 = 17.5 mg/L
    assert total["concentration_at_fill_mg_per_l"] == 8.75
    assert total["nominal_concentration_mg_per_l"] == 17.5
    assert any("not verified" in w for w in data["warnings"])


def test_dubois_formula() -> None:
    plan = plan_perfusion(
        get_regimen("dutch-mmc"), height_cm=170, weight_kg=70, bsa_formula="dubois"
    )
    # 0.007184 x 170^0.725 x 70^0.425 = 1.8097 m2; 35 x 1.8097 = 63.3 mg
    assert plan.bsa_m2 == pytest.approx(1.8097, abs=5e-4)
    assert sum(d.mg for d in plan.doses) == pytest.approx(63.3, abs=0.05)
    assert plan.to_dict()["bsa_formula"] == "dubois"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"height_cm": 20, "weight_kg": 70}, "height_cm"),
        ({"height_cm": 170, "weight_kg": 700}, "weight_kg"),
        ({"height_cm": 170, "weight_kg": 70, "bsa_formula": "boyd"}, "bsa_formula"),
        ({"height_cm": 170, "weight_kg": 70, "technique": "closed"}, "technique"),
    ],
)
def test_refusals(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        plan_perfusion(get_regimen("dutch-mmc"), **kwargs)
    assert caught.value.field == field


def _dutch_with(**changes: Any) -> Regimen:
    data = tomllib.loads((BUILTIN_DIR / "dutch-mmc.toml").read_text(encoding="utf-8"))
    data["doses"][0].update(changes.pop("dose", {}))
    data["carrier"].update(changes.pop("carrier", {}))
    data.update(changes)
    return Regimen.model_validate(data)


def test_cap_is_applied_and_said() -> None:
    regimen = _dutch_with(dose={"cap_mg": 60.0})
    plan = plan_perfusion(regimen, height_cm=170, weight_kg=70)  # uncapped 63.6 mg
    assert [d.mg for d in plan.doses] == [30.0, 15.0, 15.0]
    assert all(d.cap_applied for d in plan.doses)
    (total,) = plan.totals
    assert total.cap_applied and total.uncapped_mg == pytest.approx(63.63, abs=0.01)
    assert any("capped at 60 mg (uncapped 63.6 mg)" in w for w in plan.warnings)


def test_cap_above_the_dose_changes_nothing() -> None:
    plan = plan_perfusion(_dutch_with(dose={"cap_mg": 64.0}), height_cm=170, weight_kg=70)
    assert not plan.totals[0].cap_applied
    assert sum(d.mg for d in plan.doses) == pytest.approx(63.63, abs=0.01)


def test_bsa_cap_when_a_regimen_has_one() -> None:
    plan = plan_perfusion(_dutch_with(bsa_cap_m2=1.8), height_cm=170, weight_kg=70)
    assert plan.bsa_m2 == pytest.approx(BSA, abs=5e-5)
    assert plan.dosing_bsa_m2 == 1.8
    assert sum(d.mg for d in plan.doses) == pytest.approx(63.0)
    assert any("capped at 1.8 m2" in w for w in plan.warnings)


def test_carrier_volume_clamped_to_bounds_is_said() -> None:
    small = plan_perfusion(get_regimen("dutch-mmc"), height_cm=100, weight_kg=25)  # 0.83 m2
    assert small.carrier_volume_l == 2.0
    assert any("raised" in w for w in small.warnings)
    large = plan_perfusion(get_regimen("dutch-mmc"), height_cm=250, weight_kg=300)  # 4.56 m2
    assert large.carrier_volume_l == 6.0
    assert any("lowered" in w for w in large.warnings)


def test_plan_is_frozen() -> None:
    plan = plan_perfusion(get_regimen("dutch-mmc"), height_cm=170, weight_kg=70)
    with pytest.raises(AttributeError):
        plan.duration_min = 1  # type: ignore[misc]


# -- properties --------------------------------------------------------------------------------

heights = st.floats(*HEIGHT_RANGE_CM)
weights = st.floats(*WEIGHT_RANGE_KG)
regimens = st.sampled_from(list_regimens())


@settings(max_examples=60, deadline=None)
@given(
    regimen=regimens,
    height=heights,
    weight=weights,
    formula=st.sampled_from(["mosteller", "dubois"]),
)
def test_doses_per_m2_scale_with_bsa(
    regimen: Regimen, height: float, weight: float, formula: str
) -> None:
    plan = plan_perfusion(regimen, height_cm=height, weight_kg=weight, bsa_formula=formula)
    for dose, total in zip(regimen.doses, plan.totals, strict=True):
        if dose.mg_per_m2 is not None and not total.cap_applied:
            assert total.mg == pytest.approx(dose.mg_per_m2 * plan.dosing_bsa_m2, rel=1e-12)
        # the schedule splits the total exactly
        events = [d.mg for d in plan.doses if d.drug == dose.drug]
        assert math.fsum(events) == pytest.approx(total.mg, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(height=heights, weight=weights, factor=st.floats(0.5, 2.0))
def test_doubling_bsa_doubles_per_m2_doses(height: float, weight: float, factor: float) -> None:
    # Mosteller BSA scales with sqrt(height x weight): scaling weight by f^2 scales BSA by f
    new_weight = weight * factor**2
    if not WEIGHT_RANGE_KG[0] <= new_weight <= WEIGHT_RANGE_KG[1]:
        return
    regimen = get_regimen("prodige7")
    first = plan_perfusion(regimen, height_cm=height, weight_kg=weight)
    second = plan_perfusion(regimen, height_cm=height, weight_kg=new_weight)
    assert second.doses[0].mg == pytest.approx(first.doses[0].mg * factor, rel=1e-9)


@settings(max_examples=80, deadline=None)
@given(
    mg_per_m2=st.floats(1, 500),
    cap_mg=st.floats(1, 1000),
    height=heights,
    weight=weights,
)
def test_no_plan_exceeds_a_cap(
    mg_per_m2: float, cap_mg: float, height: float, weight: float
) -> None:
    regimen = _dutch_with(dose={"mg_per_m2": mg_per_m2, "cap_mg": cap_mg})
    plan = plan_perfusion(regimen, height_cm=height, weight_kg=weight)
    delivered = math.fsum(d.mg for d in plan.doses)
    assert delivered <= cap_mg * (1 + 1e-12)
    assert delivered == pytest.approx(min(mg_per_m2 * plan.bsa_m2, cap_mg), rel=1e-12)
    assert plan.totals[0].cap_applied == (mg_per_m2 * plan.bsa_m2 > cap_mg)


@settings(max_examples=80, deadline=None)
@given(regimen=regimens, height=heights, weight=weights, data=st.data())
def test_carrier_volume_within_its_bounds(
    regimen: Regimen, height: float, weight: float, data: st.DataObject
) -> None:
    technique = data.draw(st.sampled_from(regimen.techniques))
    plan = plan_perfusion(regimen, height_cm=height, weight_kg=weight, technique=technique)
    carrier = regimen.for_technique(technique).carrier
    low = carrier.min_volume_l or 0.0
    high = carrier.max_volume_l or math.inf
    assert low <= plan.carrier_volume_l <= high
    assert plan.carrier_volume_l > 0
    # every dose lies inside the perfusion and every concentration is finite
    assert all(0 <= d.at_min < plan.duration_min for d in plan.doses)
    assert all(math.isfinite(t.fill_concentration_mg_per_l) for t in plan.totals)
