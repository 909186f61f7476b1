import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hipec.clinical.complications import (
    ClavienDindoComplication,
    ClavienDindoGrade,
    CtcaeGrade,
    comprehensive_complication_index,
    default_cci_table,
    parse_clavien_dindo,
    parse_ctcae_grade,
)
from hipec.errors import InvalidInputError

G = ClavienDindoGrade


@pytest.mark.parametrize(
    ("text", "grade", "disability"),
    [
        ("I", G.I, False),
        ("ii", G.II, False),
        ("IIIa", G.IIIA, False),
        ("IIIb", G.IIIB, False),
        ("iiib", G.IIIB, False),
        ("IIIa-d", G.IIIA, True),
        ("IIIad", G.IIIA, True),
        ("IVb-d", G.IVB, True),
        ("grade IVa", G.IVA, False),
        (" V ", G.V, False),
    ],
)
def test_parse_clavien_dindo(text: str, grade: ClavienDindoGrade, disability: bool) -> None:
    assert parse_clavien_dindo(text) == ClavienDindoComplication(grade, disability)


@pytest.mark.parametrize("text", ["III", "IV", "VI", "Vd", "V-d", "0", "", "IIIc", "3", "IIIa-x"])
def test_other_grades_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_clavien_dindo(text)
    assert caught.value.field == "clavien_dindo"
    assert "IIIa" in caught.value.message or "grade V" in caught.value.message


def test_labels_round_trip() -> None:
    for text in ["I", "II", "IIIa", "IIIb", "IVa", "IVb", "V", "IIIa-d", "II-d"]:
        assert str(parse_clavien_dindo(text)) == text
    assert str(parse_clavien_dindo("iiiad")) == "IIIa-d"


def test_major_means_grade_iiia_or_more() -> None:
    majors = {grade.label: grade.is_major for grade in ClavienDindoGrade}
    assert majors == {
        "I": False,
        "II": False,
        "IIIa": True,
        "IIIb": True,
        "IVa": True,
        "IVb": True,
        "V": True,
    }
    assert parse_clavien_dindo("IIIa-d").is_major
    assert not parse_clavien_dindo("II-d").is_major


def test_grades_order_by_severity() -> None:
    order = ["I", "II", "IIIa", "IIIb", "IVa", "IVb", "V"]
    parsed = [parse_clavien_dindo(text) for text in reversed(order)]
    assert [str(c) for c in sorted(parsed)] == order
    assert G.IIIA < G.IIIB < G.IVA
    assert parse_clavien_dindo("IIIa") < parse_clavien_dindo("IIIa-d") < parse_clavien_dindo("IIIb")
    assert all(grade.definition for grade in ClavienDindoGrade)


@pytest.mark.parametrize(
    ("grades", "expected"),
    [
        ([], 0.0),
        (["I"], math.sqrt(300) / 2),  # 8.7
        (["II"], math.sqrt(1750) / 2),  # 20.9
        (["IIIa"], math.sqrt(2750) / 2),  # 26.2
        (["IIIb"], math.sqrt(4550) / 2),  # 33.7
        (["IVa"], math.sqrt(7200) / 2),  # 42.4
        (["IVb"], math.sqrt(8550) / 2),  # 46.2
        (["II", "IIIa"], math.sqrt(1750 + 2750) / 2),
        (["I", "I", "II-d"], math.sqrt(300 + 300 + 1750) / 2),
        (["V"], 100.0),
        (["I", "V"], 100.0),
        (["IVb"] * 5, 100.0),  # sqrt(42750)/2 = 103.4, capped
    ],
)
def test_comprehensive_complication_index(grades: list[str], expected: float) -> None:
    assert comprehensive_complication_index(grades) == pytest.approx(expected)


def test_cci_worked_values_to_one_decimal() -> None:
    values = [
        round(comprehensive_complication_index([g]), 1)
        for g in ["I", "II", "IIIa", "IIIb", "IVa", "IVb"]
    ]
    assert values == [8.7, 20.9, 26.2, 33.7, 42.4, 46.2]


def test_cci_accepts_grades_and_complications() -> None:
    assert comprehensive_complication_index([G.II, ClavienDindoComplication(G.I)]) == pytest.approx(
        math.sqrt(2050) / 2
    )
    with pytest.raises(InvalidInputError):
        comprehensive_complication_index(["IIIc"])


def test_cci_table_is_marked_unverified_with_its_source() -> None:
    table = default_cci_table()
    assert table.verified is False
    assert "Slankamenac" in table.citation
    assert table.weight(G.I) == 300


complication_texts = st.lists(
    st.sampled_from(["I", "II", "IIIa", "IIIb", "IVa", "IVb", "V", "IIIa-d", "IVb-d"]), max_size=12
)


@given(complication_texts)
def test_cci_stays_within_0_100(grades: list[str]) -> None:
    assert 0 <= comprehensive_complication_index(grades) <= 100


@given(complication_texts, st.sampled_from(["I", "II", "IIIa", "IIIb", "IVa", "IVb", "V"]))
def test_adding_a_complication_never_lowers_the_cci(grades: list[str], extra: str) -> None:
    assert comprehensive_complication_index([*grades, extra]) >= comprehensive_complication_index(
        grades
    )


@given(complication_texts)
def test_cci_does_not_depend_on_order(grades: list[str]) -> None:
    assert comprehensive_complication_index(grades) == pytest.approx(
        comprehensive_complication_index(list(reversed(grades)))
    )


# CTCAE --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "grade"),
    [
        ("3", CtcaeGrade.SEVERE),
        ("grade 3", CtcaeGrade.SEVERE),
        ("Grade 1", CtcaeGrade.MILD),
        (5, CtcaeGrade.DEATH),
        ("CTCAE grade 4", CtcaeGrade.LIFE_THREATENING),
        ("2", CtcaeGrade.MODERATE),
    ],
)
def test_parse_ctcae_grade(text: str | int, grade: CtcaeGrade) -> None:
    assert parse_ctcae_grade(text) is grade


@pytest.mark.parametrize("text", ["0", "6", 0, 6, "grade three", "", True, "3a"])
def test_other_ctcae_grades_are_refused(text: str | int) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_ctcae_grade(text)
    assert caught.value.field == "ctcae_grade"
    assert "1-5" in caught.value.message


def test_ctcae_definitions() -> None:
    assert [int(g) for g in CtcaeGrade] == [1, 2, 3, 4, 5]
    assert CtcaeGrade.MILD.definition.startswith("mild")
    assert CtcaeGrade.MODERATE.definition.startswith("moderate")
    assert "life-threatening" in CtcaeGrade.LIFE_THREATENING.definition
    assert "death" in CtcaeGrade.DEATH.definition
