import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hipec.clinical.cytoreduction import (
    CC_DESCRIPTIONS,
    CcAssessment,
    cc_score_from_residual_mm,
    is_complete_cytoreduction,
    parse_cc_score,
)
from hipec.errors import InvalidInputError


@pytest.mark.parametrize(
    ("residual_mm", "expected"),
    [
        (0.0, 0),
        (0.01, 1),
        (2.49, 1),
        (2.5, 2),  # documented rule: 2.5 mm is CC-2
        (2.51, 2),
        (24.99, 2),
        (25.0, 2),  # documented rule: 25 mm is CC-2
        (25.01, 3),
        (300.0, 3),
    ],
)
def test_cc_boundaries(residual_mm: float, expected: int) -> None:
    assert cc_score_from_residual_mm(residual_mm) == expected


@pytest.mark.parametrize("residual_mm", [-0.1, math.nan, math.inf])
def test_impossible_residual_sizes_are_refused(residual_mm: float) -> None:
    with pytest.raises(InvalidInputError) as caught:
        cc_score_from_residual_mm(residual_mm)
    assert caught.value.field == "residual_mm"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CC-1", 1),
        ("cc1", 1),
        ("1", 1),
        ("CC 2", 2),
        ("CC-0", 0),
        ("CCR-3", 3),
        (" cc-3 ", 3),
        (0, 0),
    ],
)
def test_parse_cc_score(text: str | int, expected: int) -> None:
    assert parse_cc_score(text) == expected


@pytest.mark.parametrize("text", ["CC-4", "4", "-1", -1, 4, "x", "", "CC", True, "CC-1.5"])
def test_other_cc_scores_are_refused(text: str | int) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_cc_score(text)
    assert caught.value.field == "cc_score"
    assert "CC-0 to CC-3" in caught.value.message


def test_complete_cytoreduction_is_cc0_or_cc1() -> None:
    assert [is_complete_cytoreduction(cc) for cc in range(4)] == [True, True, False, False]
    with pytest.raises(InvalidInputError):
        is_complete_cytoreduction(5)


def test_descriptions_cover_every_score() -> None:
    assert sorted(CC_DESCRIPTIONS) == [0, 1, 2, 3]
    assert "2.5 mm" in CC_DESCRIPTIONS[1]
    assert "confluent" in CC_DESCRIPTIONS[3]


def test_assessment() -> None:
    assessment = CcAssessment.from_residual_mm(3.0)
    assert (assessment.score, assessment.label, assessment.complete) == (2, "CC-2", False)
    data = assessment.to_dict()
    assert data["cc_score"] == 2
    assert data["residual_mm"] == 3.0
    assert data["complete_cytoreduction"] is False
    assert CcAssessment(0).to_dict()["residual_mm"] is None
    with pytest.raises(InvalidInputError):
        CcAssessment(7)


sizes = st.floats(0, 1e4, allow_nan=False)


@given(sizes, sizes)
def test_cc_is_monotone_in_residual_size(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert cc_score_from_residual_mm(low) <= cc_score_from_residual_mm(high)


@given(sizes)
def test_complete_means_under_2_5_mm(size: float) -> None:
    assert is_complete_cytoreduction(cc_score_from_residual_mm(size)) == (size < 2.5)
