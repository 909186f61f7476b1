"""CPT 96547/96548 time rules (every boundary) and ICD-10-CM codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hipec.errors import InvalidInputError
from hipec.reports.coding import (
    ICD10_CODES,
    diagnosis_codes,
    hipec_cpt_codes,
    hipec_cpt_units,
)


@pytest.mark.parametrize(
    ("minutes", "units"),
    [
        (0, (0, 0)),
        (30, (0, 0)),
        (30.9, (0, 0)),
        (31, (1, 0)),
        (60, (1, 0)),
        (75, (1, 0)),
        (75.9, (1, 0)),
        (76, (1, 1)),
        (95, (1, 1)),
        (105, (1, 1)),
        (106, (1, 2)),
        (120, (1, 2)),
        (135, (1, 2)),
        (136, (1, 3)),
    ],
)
def test_midpoint_rule(minutes: float, units: tuple[int, int]) -> None:
    assert hipec_cpt_units(minutes) == units


@pytest.mark.parametrize(
    ("minutes", "units"),
    [(59, (0, 0)), (60, (1, 0)), (89, (1, 0)), (90, (1, 1)), (95, (1, 1)), (120, (1, 2))],
)
def test_complete_rule(minutes: float, units: tuple[int, int]) -> None:
    assert hipec_cpt_units(minutes, "complete") == units


def test_codes_list_the_issue_examples() -> None:
    assert [(c.code, c.units) for c in hipec_cpt_codes(60)] == [("96547", 1)]
    assert [(c.code, c.units) for c in hipec_cpt_codes(95)] == [("96547", 1), ("96548", 1)]
    assert [(c.code, c.units) for c in hipec_cpt_codes(120)] == [("96547", 1), ("96548", 2)]
    assert hipec_cpt_codes(20) == []


@given(st.floats(min_value=0, max_value=1440), st.floats(min_value=0, max_value=1440))
def test_more_time_never_gives_fewer_units(a: float, b: float) -> None:
    low, high = sorted((a, b))
    for rule in ("midpoint", "complete"):
        assert hipec_cpt_units(low, rule) <= hipec_cpt_units(high, rule)
    # the midpoint rule never bills less than completed increments
    assert hipec_cpt_units(high, "midpoint") >= hipec_cpt_units(high, "complete")


@pytest.mark.parametrize("bad", [-1, 1441, float("nan"), float("inf")])
def test_impossible_minutes_are_refused(bad: float) -> None:
    with pytest.raises(InvalidInputError) as caught:
        hipec_cpt_units(bad)
    assert caught.value.field == "perfusion_min"


def test_unknown_time_rule_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="midpoint, complete"):
        hipec_cpt_units(60, "rounded")


def test_diagnosis_codes() -> None:
    assert [c.code for c in diagnosis_codes("appendix")] == ["C18.1", "C78.6"]
    assert [c.code for c in diagnosis_codes("colorectal", "C18.0")] == ["C18.0", "C78.6"]
    assert [c.code for c in diagnosis_codes("mesothelioma")] == ["C45.1"]
    assert [c.code for c in diagnosis_codes("other")] == ["C78.6"]
    assert [c.code for c in diagnosis_codes("other", "C48.2")] == ["C48.2"]
    with pytest.raises(InvalidInputError, match="primary_site"):
        diagnosis_codes("liver")


def test_every_code_names_its_source_and_verification() -> None:
    for entry in ICD10_CODES.values():
        assert entry.source and entry.verified is False
