import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hipec.clinical.pci import (
    MAX_PCI,
    PCI_GRID_LAYOUT,
    PCI_REGIONS,
    PCI_SMALL_BOWEL_ROW,
    PciRegion,
    PciScore,
    lesion_size_score_from_mm,
    parse_lesion_size,
    parse_region_arguments,
)
from hipec.errors import InvalidInputError

EXPECTED_NAMES = [
    "Central",
    "Right upper",
    "Epigastrium",
    "Left upper",
    "Left flank",
    "Left lower",
    "Pelvis",
    "Right lower",
    "Right flank",
    "Upper jejunum",
    "Lower jejunum",
    "Upper ileum",
    "Lower ileum",
]


def test_the_13_regions_have_their_published_numbers_and_names() -> None:
    assert tuple(PciRegion(i, name) for i, name in enumerate(EXPECTED_NAMES)) == PCI_REGIONS
    assert MAX_PCI == 39


def test_the_picture_layout_places_every_region_once() -> None:
    placed = [index for row in PCI_GRID_LAYOUT for index in row] + list(PCI_SMALL_BOWEL_ROW)
    assert sorted(placed) == list(range(13))
    # facing the patient: the patient's right (1, 8, 7) is on the viewer's left
    assert [row[0] for row in PCI_GRID_LAYOUT] == [1, 8, 7]
    assert PCI_GRID_LAYOUT[1][1] == 0


@pytest.mark.parametrize(
    ("size_mm", "expected"),
    [
        (0.0, 0),
        (0.01, 1),
        (4.99, 1),
        (5.0, 1),  # "up to 0.5 cm" includes 5 mm
        (5.01, 2),
        (49.99, 2),
        (50.0, 2),  # "up to 5.0 cm" includes 50 mm
        (50.01, 3),
        (500.0, 3),
    ],
)
def test_lesion_size_boundaries(size_mm: float, expected: int) -> None:
    assert lesion_size_score_from_mm(size_mm) == expected


@pytest.mark.parametrize("size_mm", [-0.01, -3.0, math.nan, math.inf])
def test_impossible_sizes_are_refused(size_mm: float) -> None:
    with pytest.raises(InvalidInputError) as caught:
        lesion_size_score_from_mm(size_mm)
    assert caught.value.field == "lesion_size_mm"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("3", 3),
        (" 2 ", 2),
        ("LS3", 3),
        ("ls1", 1),
        ("Ls-2", 2),
        ("LS 0", 0),
        (2, 2),
        (0, 0),
        ("0mm", 0),
        ("4.99mm", 1),
        ("5mm", 1),
        ("5.01mm", 2),
        ("12mm", 2),
        ("4.5 MM", 1),
        ("0.5cm", 1),
        ("1.2cm", 2),
        ("5cm", 2),
        ("5.1cm", 3),
        ("50.01mm", 3),
        ("confluent", 3),
        ("CONFLUENT", 3),
    ],
)
def test_lesion_size_forms(text: str | int, expected: int) -> None:
    assert parse_lesion_size(text) == expected


@pytest.mark.parametrize(
    "text", ["4", 4, -1, True, "LS4", "abc", "", "12", "2.5", "12 in", "mm", "3=3", "conf"]
)
def test_other_lesion_sizes_are_refused_listing_the_accepted_forms(text: str | int) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_lesion_size(text, field="region 4 lesion size")
    assert caught.value.field == "region 4 lesion size"
    for form in ("LS 0-3", "12mm", "confluent"):
        assert form in caught.value.message
    assert repr(text) in caught.value.message


def test_a_negative_size_is_refused_as_negative() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_lesion_size("-3mm", field="region 0 lesion size")
    assert caught.value.field == "region 0 lesion size"
    assert "negative" in caught.value.message
    assert "confluent" in caught.value.message


def test_from_region_scores_sums_and_fills_unnamed_regions_with_zero() -> None:
    score = PciScore.from_region_scores({0: 3, "6": "12mm", 9: "confluent", "12": "LS1"})
    assert score.lesion_size_scores == (3, 0, 0, 0, 0, 0, 2, 0, 0, 3, 0, 0, 1)
    assert score.total == 9
    assert PciScore.from_region_scores({}).total == 0


def test_region_13_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        PciScore.from_region_scores({13: 2})
    assert (caught.value.field, caught.value.message) == ("region", "must be 0-12, got 13")
    with pytest.raises(InvalidInputError, match="must be 0-12, got 13"):
        PciScore.from_region_scores({"13": 2})


@pytest.mark.parametrize("key", ["x", "-1", "1.5", True])
def test_region_keys_that_are_not_numbers_are_refused(key: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        PciScore.from_region_scores({key: 1})  # type: ignore[dict-item]
    assert caught.value.field == "region"
    assert "0-12" in caught.value.message


def test_the_same_region_as_int_and_string_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="region 0 is given twice"):
        PciScore.from_region_scores({0: 1, "0": 2})


def test_a_bad_lesion_size_names_its_region() -> None:
    with pytest.raises(InvalidInputError) as caught:
        PciScore.from_region_scores({7: 4})
    assert caught.value.field == "region 7 lesion size"


def test_the_constructor_checks_its_scores() -> None:
    with pytest.raises(InvalidInputError, match="13 scores"):
        PciScore((1, 2, 3))
    with pytest.raises(InvalidInputError) as caught:
        PciScore((0,) * 12 + (4,))
    assert caught.value.field == "region 12 lesion size"


def test_to_dict_shape() -> None:
    data = PciScore.from_region_scores({1: 2}).to_dict()
    assert set(data) == {"pci", "regions"}
    assert data["pci"] == 2
    assert len(data["regions"]) == 13
    assert data["regions"][1] == {"index": 1, "name": "Right upper", "lesion_size_score": 2}
    assert data["regions"][0] == {"index": 0, "name": "Central", "lesion_size_score": 0}
    assert [r["index"] for r in data["regions"]] == list(range(13))


def test_parse_region_arguments() -> None:
    score = parse_region_arguments(["0=3", "6=12mm", "9=confluent"])
    assert score.total == 8
    assert score.lesion_size_scores[6] == 2
    assert parse_region_arguments([]).total == 0


@pytest.mark.parametrize("word", ["0:3", "abc", "=3", "0=", "03"])
def test_malformed_words_name_the_expected_form(word: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_region_arguments([word])
    assert caught.value.field == "regions"
    assert "REGION=SCORE" in caught.value.message


def test_a_region_named_twice_on_the_command_line_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="region 6 is given twice"):
        parse_region_arguments(["6=1", "06=2"])


def test_arguments_errors_match_the_mapping_errors() -> None:
    with pytest.raises(InvalidInputError, match="must be 0-12, got 13"):
        parse_region_arguments(["13=2"])
    with pytest.raises(InvalidInputError) as caught:
        parse_region_arguments(["0=4"])
    assert caught.value.field == "region 0 lesion size"


lesion_values = st.one_of(
    st.integers(0, 3),
    st.integers(0, 3).map(lambda ls: f"LS{ls}"),
    st.floats(0, 1000, allow_nan=False).map(lambda mm: f"{mm:.2f}mm"),
    st.floats(0, 100, allow_nan=False).map(lambda cm: f"{cm:.3f}cm"),
    st.just("confluent"),
)
region_maps = st.dictionaries(st.integers(0, 12), lesion_values)


@given(region_maps)
def test_pci_is_the_sum_of_its_regions_and_within_0_39(mapping: dict[int, int | str]) -> None:
    score = PciScore.from_region_scores(mapping)  # type: ignore[arg-type]
    assert score.total == sum(score.lesion_size_scores)
    assert 0 <= score.total <= 39
    data = score.to_dict()
    assert data["pci"] == sum(r["lesion_size_score"] for r in data["regions"])
    for index, value in mapping.items():
        assert score.lesion_size_scores[index] == parse_lesion_size(value)
    # unnamed regions score 0
    assert all(score.lesion_size_scores[i] == 0 for i in range(13) if i not in mapping)


@given(region_maps)
def test_command_line_words_give_the_same_pci(mapping: dict[int, int | str]) -> None:
    words = [f"{index}={value}" for index, value in mapping.items()]
    expected = PciScore.from_region_scores(mapping)  # type: ignore[arg-type]
    assert parse_region_arguments(words) == expected


sizes = st.floats(0, 1e6, allow_nan=False)


@given(sizes, sizes)
def test_lesion_size_score_is_monotone_in_size(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert lesion_size_score_from_mm(low) <= lesion_size_score_from_mm(high)


@given(st.floats(0, 200, allow_nan=False))
def test_written_sizes_follow_the_mm_rule(size_mm: float) -> None:
    written = f"{size_mm:.3f}"
    assert parse_lesion_size(f"{written}mm") == lesion_size_score_from_mm(float(written))
    assert parse_lesion_size(f"{written}cm") == lesion_size_score_from_mm(float(written) * 10)
