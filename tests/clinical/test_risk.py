import itertools
import math
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

from hipec.clinical.risk import (
    PSDSS_HISTOLOGIES,
    PSDSS_SYMPTOMS,
    IncompleteCytoreductionRisk,
    default_psdss_table,
    incomplete_cytoreduction_risk,
    load_icrs_table,
    load_psdss_table,
    psdss,
)
from hipec.errors import InvalidInputError

DATA = files("hipec.clinical").joinpath("data")
LOW_LABS = {"ca125_u_per_ml": 10.0, "cea_ng_per_ml": 1.0}


def _icrs(**overrides: object) -> IncompleteCytoreductionRisk:
    kwargs: dict[str, object] = {"male": False, "ascites": False, **LOW_LABS, **overrides}
    return incomplete_cytoreduction_risk(**kwargs)  # type: ignore[arg-type]


def test_every_packaged_table_names_its_source_and_verification() -> None:
    names = [p.name for p in DATA.iterdir() if p.name.endswith(".toml")]
    assert len(names) >= 3
    for name in names:
        table = tomllib.loads(DATA.joinpath(name).read_text(encoding="utf-8"))
        assert isinstance(table["verified"], bool), name
        assert table["citation"], name


@pytest.mark.parametrize(
    ("ca125", "cea", "points"),
    [(39.99, 4.19, 0), (40.0, 4.19, 1), (39.99, 4.2, 1), (40.0, 4.2, 2), (0.0, 0.0, 0)],
)
def test_lab_cut_offs_score_at_the_cut(ca125: float, cea: float, points: int) -> None:
    result = incomplete_cytoreduction_risk(
        male=False, ascites=False, ca125_u_per_ml=ca125, cea_ng_per_ml=cea
    )
    assert result.points == points


@pytest.mark.parametrize(
    ("points", "band", "rate"),
    [(0, "zero", 0.016), (1, "low", 0.13), (2, "low", 0.13), (3, "high", 0.39), (4, "high", 0.39)],
)
def test_bands_and_published_rates(points: int, band: str, rate: float) -> None:
    flags = [True] * points + [False] * (4 - points)
    result = incomplete_cytoreduction_risk(
        male=flags[0],
        ascites=flags[1],
        ca125_u_per_ml=40.0 if flags[2] else 39.0,
        cea_ng_per_ml=4.2 if flags[3] else 4.0,
    )
    assert (result.points, result.band, result.published_rate_fraction) == (points, band, rate)


def test_points_count_the_factors_present() -> None:
    for male, ascites, high_ca125, high_cea in itertools.product([False, True], repeat=4):
        result = incomplete_cytoreduction_risk(
            male=male,
            ascites=ascites,
            ca125_u_per_ml=100.0 if high_ca125 else 5.0,
            cea_ng_per_ml=10.0 if high_cea else 1.0,
        )
        assert result.points == male + ascites + high_ca125 + high_cea
        assert len(result.factors) == result.points
        assert ("male sex" in result.factors) == male
        assert ("ascites" in result.factors) == ascites


def test_result_carries_its_source() -> None:
    result = _icrs(male=True)
    assert result.factors == ("male sex",)
    assert "Zaidi" in result.citation
    assert "10.1245/s10434-019-07626-y" in result.citation
    assert result.verified is True
    data = result.to_dict()
    assert set(data) == {
        "points",
        "factors",
        "band",
        "published_rate_fraction",
        "citation",
        "verified",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ca125_u_per_ml", -1.0),
        ("cea_ng_per_ml", -0.1),
        ("cea_ng_per_ml", math.nan),
        ("ca125_u_per_ml", math.inf),
    ],
)
def test_impossible_lab_values_are_refused(field: str, value: float) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _icrs(**{field: value})
    assert caught.value.field == field
    assert "0" in caught.value.message


def test_a_centre_can_load_its_own_icrs_table(tmp_path: Path) -> None:
    text = DATA.joinpath("incomplete_cytoreduction_risk.toml").read_text(encoding="utf-8")
    custom = tmp_path / "icrs.toml"
    custom.write_text(text.replace("cea_cutoff_ng_per_ml = 4.2", "cea_cutoff_ng_per_ml = 5.0"))
    table = load_icrs_table(custom)
    assert _icrs(cea_ng_per_ml=4.5).points == 1
    result = incomplete_cytoreduction_risk(
        male=False, ascites=False, ca125_u_per_ml=1.0, cea_ng_per_ml=4.5, table=table
    )
    assert result.points == 0


def test_an_icrs_table_with_a_gap_is_refused(tmp_path: Path) -> None:
    text = DATA.joinpath("incomplete_cytoreduction_risk.toml").read_text(encoding="utf-8")
    broken = tmp_path / "icrs.toml"
    broken.write_text(text.replace("min_points = 3", "min_points = 4"))
    with pytest.raises(InvalidInputError, match=r"icrs\.toml"):
        load_icrs_table(broken)


# PSDSS --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symptoms", "points"), [("none", 0), ("mild", 1), ("severe", 6), ("Mild", 1)]
)
def test_psdss_symptom_points(symptoms: str, points: int) -> None:
    assert psdss(symptoms=symptoms, pci=0, histology="well-moderate-n0").symptom_points == points


@pytest.mark.parametrize(("pci", "points"), [(0, 1), (9, 1), (10, 3), (20, 3), (21, 7), (39, 7)])
def test_psdss_pci_points_at_the_cuts(pci: int, points: int) -> None:
    assert psdss(symptoms="none", pci=pci, histology="well-moderate-n0").pci_points == points


@pytest.mark.parametrize(
    ("histology", "points"),
    [("well-moderate-n0", 1), ("moderate-n1-n2", 3), ("poor-or-signet-ring", 9)],
)
def test_psdss_histology_points(histology: str, points: int) -> None:
    assert psdss(symptoms="none", pci=0, histology=histology).histology_points == points


@pytest.mark.parametrize(
    ("symptoms", "pci", "histology", "total", "stage"),
    [
        ("none", 5, "well-moderate-n0", 2, "I"),
        ("mild", 5, "well-moderate-n0", 3, "I"),
        ("none", 10, "well-moderate-n0", 4, "II"),
        ("mild", 10, "moderate-n1-n2", 7, "II"),
        ("severe", 5, "well-moderate-n0", 8, "III"),
        ("none", 21, "moderate-n1-n2", 10, "III"),
        ("mild", 21, "moderate-n1-n2", 11, "IV"),
        ("severe", 39, "poor-or-signet-ring", 22, "IV"),
    ],
)
def test_psdss_stage_at_each_cut_point(
    symptoms: str, pci: int, histology: str, total: int, stage: str
) -> None:
    result = psdss(symptoms=symptoms, pci=pci, histology=histology)
    assert (result.points, result.stage) == (total, stage)
    assert result.points == result.symptom_points + result.pci_points + result.histology_points


def test_psdss_says_it_is_unverified() -> None:
    result = psdss(symptoms="none", pci=3, histology="well-moderate-n0")
    assert result.verified is False
    assert "Pelz" in result.citation
    assert result.to_dict()["verified"] is False
    assert default_psdss_table().verified is False


def test_every_psdss_combination_has_a_stage() -> None:
    for symptoms, histology, pci in itertools.product(PSDSS_SYMPTOMS, PSDSS_HISTOLOGIES, range(40)):
        assert psdss(symptoms=symptoms, pci=pci, histology=histology).stage in {
            "I",
            "II",
            "III",
            "IV",
        }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pci": 40}, "pci"),
        ({"pci": -1}, "pci"),
        ({"pci": True}, "pci"),
        ({"symptoms": "moderate"}, "symptoms"),
        ({"histology": "adenocarcinoma"}, "histology"),
    ],
)
def test_psdss_refusals_name_the_field_and_accepted_values(
    kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"symptoms": "none", "pci": 5, "histology": "moderate-n1-n2"}
    with pytest.raises(InvalidInputError) as caught:
        psdss(**{**arguments, **kwargs})  # type: ignore[arg-type]
    assert caught.value.field == field
    assert "0-39" in caught.value.message or "one of" in caught.value.message


def test_other_stage_cut_points_can_be_loaded(tmp_path: Path) -> None:
    # the cut-points quoted by an ovarian-cancer evaluation: II 4-6, III 7-10
    text = DATA.joinpath("psdss.toml").read_text(encoding="utf-8")
    custom = tmp_path / "psdss.toml"
    custom.write_text(
        text.replace("min_points = 4\nmax_points = 7", "min_points = 4\nmax_points = 6").replace(
            "min_points = 8\nmax_points = 10", "min_points = 7\nmax_points = 10"
        )
    )
    table = load_psdss_table(custom)
    arguments = {"symptoms": "mild", "pci": 10, "histology": "moderate-n1-n2"}
    assert psdss(**arguments).stage == "II"  # type: ignore[arg-type]
    assert psdss(**arguments, table=table).stage == "III"  # type: ignore[arg-type]


def test_a_psdss_table_with_overlapping_stages_is_refused(tmp_path: Path) -> None:
    text = DATA.joinpath("psdss.toml").read_text(encoding="utf-8")
    broken = tmp_path / "psdss.toml"
    broken.write_text(
        text.replace("min_points = 8\nmax_points = 10", "min_points = 7\nmax_points = 10")
    )
    with pytest.raises(InvalidInputError, match="stages"):
        load_psdss_table(broken)
