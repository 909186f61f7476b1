from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hipec.clinical.candidacy import (
    CANDIDATE,
    CASE_FIELD_ACCEPTS,
    COMORBIDITIES,
    DECISION_ORDER,
    EXTRAPERITONEAL_SITES,
    FIELD_SPECS,
    HISTOLOGY_TYPES,
    NEEDS_REVIEW,
    NOT_A_CANDIDATE,
    PRIMARY_SITES,
    SYSTEMIC_RESPONSES,
    CandidacyCase,
    Rule,
    RuleSet,
    assess,
    builtin_rule_sets,
    case_from_dict,
    decide,
    load_case,
    load_rule_set,
    rule_set_from_dict,
)
from hipec.errors import InvalidInputError, NotFoundError

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cases"

#: A case that every rule of both built-in sets accepts.
GOOD_CASE: dict[str, Any] = {
    "primary_site": "colorectal",
    "histology_type": "adenocarcinoma",
    "pci": 8,
    "extraperitoneal_disease": [],
    "response_to_systemic_therapy": "response",
    "performance_status": 0,
    "egfr_ml_min_1_73m2": 90,
    "bilirubin_umol_per_l": 10,
    "significant_comorbidities": [],
    "albumin_g_per_l": 40,
    "weight_loss_percent_6_months": 2,
    "bmi_kg_per_m2": 24,
    "anticipated_cc": 0,
    "age_years": 55,
}

RULE_SETS = {name: load_rule_set(name) for name in ("default", "prodige7")}


def case(**changes: Any) -> CandidacyCase:
    return case_from_dict({**GOOD_CASE, **changes})


def outcome_of(rule_set: str, rule_id: str, **changes: Any) -> str:
    assessment = assess(case(**changes), RULE_SETS[rule_set])
    (result,) = [r for r in assessment.results if r.rule.id == rule_id]
    return result.outcome


def decision_of(rule_set: str, **changes: Any) -> str:
    return assess(case(**changes), RULE_SETS[rule_set]).decision


# ---- rule sets ----------------------------------------------------------------------------------


def test_builtin_rule_sets_load_and_are_cited() -> None:
    assert builtin_rule_sets() == ["default", "prodige7"]
    for name, rules in RULE_SETS.items():
        assert rules.name == name
        assert rules.sources
        for rule in rules.rules:
            assert rule.source.strip()
            assert rule.description.strip()
            # anything not checked against its source must say why
            if not rule.verified:
                assert rule.note, rule.id


def test_the_good_case_is_a_candidate_under_both_sets() -> None:
    for name in RULE_SETS:
        assessment = assess(case(), RULE_SETS[name])
        assert assessment.decision == CANDIDATE, [
            r.message for r in assessment.results if r.is_problem
        ]
        assert {r.outcome for r in assessment.results} <= {"met", "not applicable"}


# Each row: rule set, rule id, field, accepted value, refused value, outcome when refused,
# decision when refused, extra changes to the good case.
BOUNDARIES: list[tuple[str, str, str, Any, Any, str, str, dict[str, Any]]] = [
    ("default", "pci-colorectal", "pci", 19, 20, "exclude", NOT_A_CANDIDATE, {}),
    (
        "default",
        "pci-other-sites",
        "pci",
        19,
        20,
        "review",
        NEEDS_REVIEW,
        {"primary_site": "appendix"},
    ),
    ("default", "complete-cytoreduction", "anticipated_cc", 1, 2, "exclude", NOT_A_CANDIDATE, {}),
    (
        "default",
        "complete-cytoreduction",
        "anticipated_cc",
        "CC-1",
        "CC-3",
        "exclude",
        NOT_A_CANDIDATE,
        {"primary_site": "gastric"},
    ),
    (
        "default",
        "complete-cytoreduction-appendix",
        "anticipated_cc",
        1,
        2,
        "review",
        NEEDS_REVIEW,
        {"primary_site": "appendix"},
    ),
    (
        "default",
        "extraperitoneal-disease",
        "extraperitoneal_disease",
        [],
        ["liver-parenchymal"],
        "exclude",
        NOT_A_CANDIDATE,
        {},
    ),
    (
        "default",
        "no-progression",
        "response_to_systemic_therapy",
        "stable",
        "progression",
        "exclude",
        NOT_A_CANDIDATE,
        {},
    ),
    (
        "default",
        "systemic-therapy-given",
        "response_to_systemic_therapy",
        "response",
        "not-given",
        "review",
        NEEDS_REVIEW,
        {},
    ),
    (
        "default",
        "performance-status-review",
        "performance_status",
        1,
        2,
        "review",
        NEEDS_REVIEW,
        {},
    ),
    (
        "default",
        "performance-status-limit",
        "performance_status",
        2,
        3,
        "exclude",
        NOT_A_CANDIDATE,
        {},
    ),
    ("default", "albumin", "albumin_g_per_l", 30, 29.9, "review", NEEDS_REVIEW, {}),
    (
        "default",
        "weight-loss",
        "weight_loss_percent_6_months",
        10,
        10.1,
        "review",
        NEEDS_REVIEW,
        {},
    ),
    ("default", "bmi", "bmi_kg_per_m2", 18.5, 18.4, "review", NEEDS_REVIEW, {}),
    ("default", "renal-function", "egfr_ml_min_1_73m2", 60, 59.9, "review", NEEDS_REVIEW, {}),
    ("default", "liver-function", "bilirubin_umol_per_l", 30, 30.1, "review", NEEDS_REVIEW, {}),
    (
        "default",
        "organ-dysfunction",
        "significant_comorbidities",
        [],
        ["heart-failure"],
        "review",
        NEEDS_REVIEW,
        {},
    ),
    ("default", "age", "age_years", 75, 76, "review", NEEDS_REVIEW, {}),
    ("prodige7", "p7-pci", "pci", 25, 26, "exclude", NOT_A_CANDIDATE, {}),
    ("prodige7", "p7-age-maximum", "age_years", 70, 71, "exclude", NOT_A_CANDIDATE, {}),
    ("prodige7", "p7-age-minimum", "age_years", 18, 17, "exclude", NOT_A_CANDIDATE, {}),
    (
        "prodige7",
        "p7-performance-status",
        "performance_status",
        1,
        2,
        "exclude",
        NOT_A_CANDIDATE,
        {},
    ),
    (
        "prodige7",
        "p7-colorectal-primary",
        "primary_site",
        "colorectal",
        "appendix",
        "exclude",
        NOT_A_CANDIDATE,
        {},
    ),
    (
        "prodige7",
        "p7-histology",
        "histology_type",
        "signet-ring-cell-carcinoma",
        "neuroendocrine",
        "review",
        NEEDS_REVIEW,
        {},
    ),
    ("prodige7", "p7-residual-under-1mm", "anticipated_cc", 0, 1, "review", NEEDS_REVIEW, {}),
    (
        "prodige7",
        "p7-complete-cytoreduction",
        "anticipated_cc",
        1,
        2,
        "exclude",
        NOT_A_CANDIDATE,
        {},
    ),
    (
        "prodige7",
        "p7-no-extraperitoneal-disease",
        "extraperitoneal_disease",
        [],
        ["distant-nodes"],
        "exclude",
        NOT_A_CANDIDATE,
        {},
    ),
    (
        "prodige7",
        "p7-organ-dysfunction",
        "significant_comorbidities",
        [],
        ["cirrhosis"],
        "review",
        NEEDS_REVIEW,
        {},
    ),
    ("prodige7", "p7-renal-function", "egfr_ml_min_1_73m2", 60, 59, "review", NEEDS_REVIEW, {}),
    ("prodige7", "p7-liver-function", "bilirubin_umol_per_l", 30, 31, "review", NEEDS_REVIEW, {}),
]


@pytest.mark.parametrize(
    ("rule_set", "rule_id", "field", "accepted", "refused", "outcome", "decision", "extra"),
    BOUNDARIES,
    ids=[f"{row[0]}:{row[1]}:{row[3]}/{row[4]}" for row in BOUNDARIES],
)
def test_rule_boundaries(
    rule_set: str,
    rule_id: str,
    field: str,
    accepted: Any,
    refused: Any,
    outcome: str,
    decision: str,
    extra: dict[str, Any],
) -> None:
    assert outcome_of(rule_set, rule_id, **extra, **{field: accepted}) == "met"
    assert outcome_of(rule_set, rule_id, **extra, **{field: refused}) == outcome
    refused_assessment = assess(case(**extra, **{field: refused}), RULE_SETS[rule_set])
    assert refused_assessment.decision == decision
    # the refusal names the value and the criterion
    (result,) = [r for r in refused_assessment.results if r.rule.id == rule_id]
    assert "fails the criterion" in result.message


def test_every_builtin_rule_is_exercised_by_a_boundary_test() -> None:
    tested = {(row[0], row[1]) for row in BOUNDARIES}
    for name, rules in RULE_SETS.items():
        for rule in rules.rules:
            assert (name, rule.id) in tested, rule.id


def test_rules_limited_to_other_primaries_are_not_applicable() -> None:
    assert outcome_of("default", "pci-other-sites") == "not applicable"
    assert outcome_of("default", "pci-colorectal", primary_site="ovarian") == "not applicable"
    # appendix: CC-2 is a review, not an exclusion
    assert decision_of("default", primary_site="appendix", anticipated_cc=3) == NEEDS_REVIEW


# ---- missing data ------------------------------------------------------------------------------

OPTIONAL_RULE_FIELDS = sorted(
    field for field in FIELD_SPECS if field in GOOD_CASE and field != "primary_site"
)


@pytest.mark.parametrize("rule_set", sorted(RULE_SETS))
@pytest.mark.parametrize("field", OPTIONAL_RULE_FIELDS)
def test_missing_data_needs_review_never_candidate(rule_set: str, field: str) -> None:
    data = {key: value for key, value in GOOD_CASE.items() if key != field}
    assessment = assess(case_from_dict(data), RULE_SETS[rule_set])
    needing = [
        r for r in assessment.results if r.rule.field == field and r.outcome != "not applicable"
    ]
    if not needing:  # this rule set does not use the field
        assert assessment.decision == CANDIDATE
        return
    assert assessment.decision == NEEDS_REVIEW
    for result in needing:
        assert result.outcome == "review"
        assert result.value is None
        assert "not recorded" in result.message


def test_an_empty_case_never_crashes_and_is_never_a_candidate() -> None:
    for site in PRIMARY_SITES:
        for rules in RULE_SETS.values():
            assessment = assess(CandidacyCase(primary_site=site), rules)  # type: ignore[arg-type]
            assert assessment.decision != CANDIDATE


# ---- the case model -----------------------------------------------------------------------------


def test_pci_regions_give_the_total_through_the_pci_module() -> None:
    built = case(pci=None, pci_regions={"0": 3, "6": "12mm", "9": "confluent"})
    assert built.pci == 3 + 2 + 3
    assert case(pci=8, pci_regions={"0": 3, "6": 3, "7": 2}).pci == 8


def test_cc_accepts_labels() -> None:
    assert case(anticipated_cc="CC-1").anticipated_cc == 1
    assert case(anticipated_cc="cc0").anticipated_cc == 0


@pytest.mark.parametrize(
    ("changes", "field", "accepted"),
    [
        ({"pci": 40}, "pci", "0-39"),
        ({"pci": -1}, "pci", "0-39"),
        ({"performance_status": 5}, "performance_status", "0-4"),
        ({"albumin_g_per_l": -3}, "albumin_g_per_l", "10-70 g/L"),
        ({"albumin_g_per_l": 3.5}, "albumin_g_per_l", "10-70 g/L"),  # g/dL by mistake
        ({"age_years": 130}, "age_years", "0-120"),
        ({"pci": True}, "pci", "0-39"),
        ({"anticipated_cc": "CC-4"}, "anticipated_cc", "CC-0 to CC-3"),
        ({"anticipated_cc": True}, "anticipated_cc", "CC-0 to CC-3"),
        ({"primary_site": "liver"}, "primary_site", "colorectal"),
        ({"extraperitoneal_disease": ["spleen"]}, "extraperitoneal_disease[0]", "lung"),
        ({"response_to_systemic_therapy": "partial"}, "response_to_systemic_therapy", "stable"),
        ({"weight_loss_percent_6_months": float("nan")}, "weight_loss_percent_6_months", "%"),
        ({"ecog": 1}, "ecog", "accepted fields"),
        ({"pci": 12, "pci_regions": {"0": 3}}, "pci_regions", "agree"),
        ({"pci": None, "pci_regions": {"13": 1}}, "pci_regions", "0-12"),
    ],
)
def test_malformed_cases_are_refused_in_one_line(
    changes: dict[str, Any], field: str, accepted: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        case_from_dict({**GOOD_CASE, **changes}, "case.toml")
    assert caught.value.field == f"case.toml: {field}"
    assert accepted in caught.value.message
    assert "\n" not in str(caught.value)


def test_missing_primary_site_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="primary_site"):
        case_from_dict({"pci": 3})


def test_every_case_field_says_what_it_accepts() -> None:
    assert set(CASE_FIELD_ACCEPTS) == set(CandidacyCase.model_fields)
    for name, info in CandidacyCase.model_fields.items():
        assert info.description, name


def test_load_case_reads_toml_and_json(tmp_path: Path) -> None:
    toml_case = load_case(EXAMPLES / "candidate-colorectal.toml")
    assert toml_case.pci == 8
    json_file = tmp_path / "case.json"
    json_file.write_text(json.dumps(GOOD_CASE), encoding="utf-8")
    assert load_case(json_file) == case()
    with pytest.raises(InvalidInputError, match=r"nothing\.toml: no such file"):
        load_case(tmp_path / "nothing.toml")


@pytest.mark.parametrize(
    ("example", "default", "prodige7"),
    [
        ("candidate-colorectal.toml", CANDIDATE, CANDIDATE),
        ("refusal-extraperitoneal.json", NOT_A_CANDIDATE, NOT_A_CANDIDATE),
        ("review-appendix.toml", NEEDS_REVIEW, NOT_A_CANDIDATE),
    ],
)
def test_example_cases(example: str, default: str, prodige7: str) -> None:
    loaded = load_case(EXAMPLES / example)
    assert assess(loaded, RULE_SETS["default"]).decision == default
    assert assess(loaded, RULE_SETS["prodige7"]).decision == prodige7


# ---- rule-set validation ------------------------------------------------------------------------


def _rule(**changes: Any) -> dict[str, Any]:
    base = {
        "id": "my-rule",
        "description": "PCI under 15.",
        "field": "pci",
        "operator": "<",
        "value": 15,
        "outcome": "exclude",
        "source": "institutional",
        "verified": False,
    }
    return {key: value for key, value in {**base, **changes}.items() if value is not None}


def _rules(*rules: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"name": "mine", "description": "test", "rules": list(rules), **top}


@pytest.mark.parametrize(
    ("document", "where", "says"),
    [
        (_rules(_rule(operator="=<")), "rule 'my-rule' operator", "'<='"),
        (_rules(_rule(field="ecog")), "rule 'my-rule' field", "performance_status"),
        (_rules(_rule(treshold=3)), "rule 'my-rule' treshold", "unknown field"),
        (_rules(_rule(outcome="refuse")), "rule 'my-rule' outcome", "'exclude'"),
        (_rules(_rule(operator="empty")), "rule 'my-rule'", "needs a list field"),
        (
            _rules(_rule(field="extraperitoneal_disease", operator="<")),
            "rule 'my-rule'",
            "needs a numeric field",
        ),
        (_rules(_rule(value=[1, 2])), "rule 'my-rule'", "needs a number"),
        (
            _rules(_rule(field="primary_site", operator="in", value=["colon"])),
            "rule 'my-rule'",
            "'colon' is not a primary site value",
        ),
        (
            _rules(_rule(field="extraperitoneal_disease", operator="empty", value=1)),
            "rule 'my-rule'",
            "takes no value",
        ),
        (_rules(_rule(operator="in", value=[])), "rule 'my-rule'", "non-empty list"),
        (_rules(_rule(value=True)), "rule 'my-rule' value", "not true/false"),
        (_rules(_rule(primary_sites=["colon"])), "rule 'my-rule' primary_sites", "colorectal"),
        (_rules(_rule(source=None)), "rule 'my-rule' source", "Field required"),
        (_rules(_rule(id=None)), "rule #1 id", "Field required"),
        (_rules(_rule(), _rule()), "(root)", "used twice"),
        (_rules(), "rules", "at least 1"),
        (_rules(_rule(), version=2), "version", "unknown field"),
    ],
)
def test_malformed_rule_sets_are_refused_naming_the_rule(
    document: dict[str, Any], where: str, says: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        rule_set_from_dict(document, "mine.toml")
    assert caught.value.field == f"mine.toml: {where}"
    assert says in caught.value.message
    assert "\n" not in str(caught.value)


def test_unknown_rule_set_name() -> None:
    with pytest.raises(NotFoundError, match="default, prodige7"):
        load_rule_set("strict")


def test_a_rule_file_replaces_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "ours.toml"
    path.write_text(
        'name = "ours"\ndescription = "PCI under 15 for everyone"\n'
        "[[rules]]\n"
        'id = "pci"\ndescription = "PCI under 15."\nfield = "pci"\noperator = "<"\nvalue = 15\n'
        'outcome = "exclude"\nsource = "our MDT, 2024"\nverified = false\n',
        encoding="utf-8",
    )
    ours = load_rule_set(path)
    assert ours.name == "ours"
    assert assess(case(pci=14), ours).decision == CANDIDATE
    assert assess(case(pci=15), ours).decision == NOT_A_CANDIDATE
    assert load_rule_set(str(path)) == ours


@pytest.mark.parametrize(
    ("operator", "value", "field_value", "holds"),
    [
        (">", 10, 11, True),
        (">", 10, 10, False),
        (">=", 10, 10, True),
        ("<", 10, 10, False),
        ("<=", 10, 10, True),
        ("in", [0, 1], 1, True),
        ("not in", [0, 1], 1, False),
    ],
)
def test_numeric_operators(operator: str, value: Any, field_value: int, holds: bool) -> None:
    rules = RuleSet(
        name="t",
        description="t",
        rules=[Rule(**_rule(field="age_years", operator=operator, value=value))],
    )
    assessment = assess(case(age_years=field_value), rules)
    assert (assessment.decision == CANDIDATE) is holds


@pytest.mark.parametrize(
    ("operator", "value", "sites", "holds"),
    [
        ("in", ["lung", "bone"], ["lung"], True),
        ("in", ["lung", "bone"], ["lung", "brain"], False),
        ("in", ["lung"], [], True),
        ("not in", ["brain"], ["lung"], True),
        ("not in", ["brain"], ["lung", "brain"], False),
        ("empty", None, [], True),
        ("empty", None, ["lung"], False),
        ("not empty", None, ["lung"], True),
        ("not empty", None, [], False),
    ],
)
def test_list_operators(operator: str, value: Any, sites: list[str], holds: bool) -> None:
    rules = RuleSet(
        name="t",
        description="t",
        rules=[
            Rule(**_rule(field="extraperitoneal_disease", operator=operator, value=value))  # type: ignore[arg-type]
        ],
    )
    assessment = assess(case(extraperitoneal_disease=sites), rules)
    assert (assessment.decision == CANDIDATE) is holds


# ---- the result ------------------------------------------------------------------------------


def test_to_dict_shape() -> None:
    assessment = assess(case(pci=22), RULE_SETS["default"])
    data = assessment.to_dict()
    assert set(data) == {"decision", "rule_set", "case", "reasons"}
    assert data["decision"] == NOT_A_CANDIDATE
    assert data["rule_set"] == "default"
    assert data["case"]["pci"] == 22
    assert len(data["reasons"]) == len(RULE_SETS["default"].rules)
    reason = next(r for r in data["reasons"] if r["rule"] == "pci-colorectal")
    assert reason == {
        "rule": "pci-colorectal",
        "outcome": "exclude",
        "field": "pci",
        "value": 22,
        "operator": "<",
        "threshold": 20,
        "message": reason["message"],
        "source": "patient-education page on CRS + HIPEC (seeds)",
        "verified": True,
    }
    assert "PCI: 22" in reason["message"] and "PCI under 20" in reason["message"]
    json.dumps(data)  # JSON-ready
    ordered = [r.outcome for r in assessment.problems_first()]
    assert ordered[0] == "exclude"
    assert ordered == sorted(ordered, key=["exclude", "review", "met", "not applicable"].index)


def test_decide() -> None:
    assert decide([]) == CANDIDATE
    assert decide(["met", "not applicable"]) == CANDIDATE
    assert decide(["met", "review"]) == NEEDS_REVIEW
    assert decide(["review", "exclude", "met"]) == NOT_A_CANDIDATE


# ---- invariants --------------------------------------------------------------------------------


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


cases = st.builds(
    CandidacyCase,
    primary_site=st.sampled_from(PRIMARY_SITES),
    histology_type=_maybe(st.sampled_from(HISTOLOGY_TYPES)),
    pci=_maybe(st.integers(0, 39)),
    extraperitoneal_disease=_maybe(st.lists(st.sampled_from(EXTRAPERITONEAL_SITES), max_size=3)),
    response_to_systemic_therapy=_maybe(st.sampled_from(SYSTEMIC_RESPONSES)),
    performance_status=_maybe(st.integers(0, 4)),
    egfr_ml_min_1_73m2=_maybe(st.floats(0, 200)),
    bilirubin_umol_per_l=_maybe(st.floats(0, 1000)),
    significant_comorbidities=_maybe(st.lists(st.sampled_from(COMORBIDITIES), max_size=2)),
    albumin_g_per_l=_maybe(st.floats(10, 70)),
    weight_loss_percent_6_months=_maybe(st.floats(0, 60)),
    bmi_kg_per_m2=_maybe(st.floats(10, 80)),
    anticipated_cc=_maybe(st.integers(0, 3)),
    age_years=_maybe(st.integers(0, 120)),
)
rule_set_names = st.sampled_from(sorted(RULE_SETS))


def rank(decision: str) -> int:
    return DECISION_ORDER.index(decision)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(cases, rule_set_names)
def test_never_candidate_when_a_rule_excludes_or_data_is_missing(
    patient: CandidacyCase, name: str
) -> None:
    assessment = assess(patient, RULE_SETS[name])
    outcomes = [r.outcome for r in assessment.results]
    assert len(assessment.results) == len(RULE_SETS[name].rules)
    assert assessment.decision == decide(outcomes)
    if "exclude" in outcomes:
        assert assessment.decision == NOT_A_CANDIDATE
    if assessment.decision == CANDIDATE:
        for result in assessment.results:
            assert result.outcome in ("met", "not applicable")
            if result.outcome == "met":
                assert getattr(patient, result.rule.field) is not None


# Changes that can only add a reason to refuse.
WORSENINGS = {
    "extraperitoneal_disease": lambda c: [*(c.extraperitoneal_disease or []), "lung"],
    "response_to_systemic_therapy": lambda c: "progression",
    "pci": lambda c: None if c.pci is None else min(39, c.pci + 7),
    "performance_status": lambda c: None if c.performance_status is None else 4,
    "anticipated_cc": lambda c: None if c.anticipated_cc is None else 3,
    "significant_comorbidities": lambda c: [*(c.significant_comorbidities or []), "cirrhosis"],
    "albumin_g_per_l": lambda c: None if c.albumin_g_per_l is None else 12.0,
    "age_years": lambda c: None if c.age_years is None else max(c.age_years, 90),
}


@settings(max_examples=300, deadline=None)
@given(cases, rule_set_names, st.sampled_from(sorted(WORSENINGS)))
def test_adding_a_reason_to_refuse_never_improves_the_decision(
    patient: CandidacyCase, name: str, field: str
) -> None:
    before = assess(patient, RULE_SETS[name]).decision
    worse = patient.model_copy(update={field: WORSENINGS[field](patient)})
    after = assess(worse, RULE_SETS[name]).decision
    assert rank(after) >= rank(before)


@settings(max_examples=200, deadline=None)
@given(
    cases, rule_set_names, st.sampled_from(RULE_SETS["default"].rules + RULE_SETS["prodige7"].rules)
)
def test_adding_a_rule_never_improves_the_decision(
    patient: CandidacyCase, name: str, extra_rule: Rule
) -> None:
    rules = RULE_SETS[name]
    before = assess(patient, rules).decision
    renamed = extra_rule.model_copy(update={"id": "extra-" + extra_rule.id})
    more = RuleSet(name="more", description="more", rules=[*rules.rules, renamed])
    assert rank(assess(patient, more).decision) >= rank(before)
