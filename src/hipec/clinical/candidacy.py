"""Candidacy assessment for CRS + HIPEC: a case, a rule set, a decision with every reason.

A :class:`CandidacyCase` describes one patient (disease, patient and technical factors). A
:class:`RuleSet` is an institution-configurable list of :class:`Rule` s loaded from TOML; each rule
states the condition for *acceptance* (``pci < 20``) and what happens when it is not met
(``exclude`` -> not a candidate, ``review`` -> needs team review). :func:`assess` evaluates every
rule and decides:

- any rule says ``exclude``  -> ``"not a candidate"``;
- else any rule says ``review`` -> ``"needs team review"``;
- else ``"candidate"``.

A rule whose input is not recorded says ``review`` ("X not recorded"), never ``met``: a case is
never a candidate on missing data a rule needs.

Two rule sets ship with hipec (``hipec/clinical/rules/*.toml``):

- ``default``: the criteria of the seed patient-education page on CRS + HIPEC (colorectal: PCI
  under 20, no extraperitoneal disease, response or stable disease on systemic therapy, CC-0/1
  achievable), ESPEN nutritional-risk criteria (Weimann et al., Clin Nutr 2017;36:623-50) and
  clearly labelled institutional defaults (``verified = false``).
- ``prodige7``: PRODIGE 7 eligibility (Quenet et al., Lancet Oncol 2021;22:256-66).

This is research and training software: the result supports, never replaces, the
multidisciplinary team.
"""

from __future__ import annotations

import operator as _operator
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic import ValidationInfo as _ValidationInfo

from hipec.clinical.cytoreduction import parse_cc_score
from hipec.clinical.pci import PciScore
from hipec.documents import load_document
from hipec.errors import InvalidInputError, NotFoundError

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

PrimarySite = Literal[
    "colorectal", "appendix", "gastric", "ovarian", "mesothelioma", "small-bowel", "other"
]
PRIMARY_SITES: tuple[str, ...] = get_args(PrimarySite)

HistologyType = Literal[
    "adenocarcinoma",
    "mucinous-adenocarcinoma",
    "signet-ring-cell-carcinoma",
    "low-grade-appendiceal-mucinous-neoplasm",
    "high-grade-appendiceal-mucinous-neoplasm",
    "serous-carcinoma",
    "epithelioid-mesothelioma",
    "non-epithelioid-mesothelioma",
    "neuroendocrine",
    "other",
]
HISTOLOGY_TYPES: tuple[str, ...] = get_args(HistologyType)

ExtraperitonealSite = Literal[
    "liver-parenchymal", "lung", "distant-nodes", "bone", "brain", "other"
]
EXTRAPERITONEAL_SITES: tuple[str, ...] = get_args(ExtraperitonealSite)

SystemicResponse = Literal["response", "stable", "progression", "not-given"]
SYSTEMIC_RESPONSES: tuple[str, ...] = get_args(SystemicResponse)

Comorbidity = Literal[
    "heart-failure",
    "ischaemic-heart-disease",
    "severe-pulmonary-disease",
    "cirrhosis",
    "dialysis",
    "other-severe",
]
COMORBIDITIES: tuple[str, ...] = get_args(Comorbidity)

PerformanceScale = Literal["ecog", "who"]

Operator = Literal["<", "<=", ">", ">=", "in", "not in", "empty", "not empty"]
OPERATORS: tuple[str, ...] = get_args(Operator)

RuleOutcome = Literal["exclude", "review"]
Outcome = Literal["met", "review", "exclude", "not applicable"]
Decision = Literal["candidate", "not a candidate", "needs team review"]

CANDIDATE: Decision = "candidate"
NOT_A_CANDIDATE: Decision = "not a candidate"
NEEDS_REVIEW: Decision = "needs team review"

#: Decisions from best to worst; a higher index is a worse decision for the patient's candidacy.
DECISION_ORDER: tuple[Decision, ...] = (CANDIDATE, NEEDS_REVIEW, NOT_A_CANDIDATE)

# --------------------------------------------------------------------------------------------
# The case
# --------------------------------------------------------------------------------------------

PCI_RANGE = (0, 39)
CC_RANGE = (0, 3)
PERFORMANCE_STATUS_RANGE = (0, 4)
AGE_RANGE_YEARS = (0, 120)
EGFR_RANGE_ML_MIN_1_73M2 = (0.0, 200.0)
BILIRUBIN_RANGE_UMOL_PER_L = (0.0, 1000.0)
#: The lower bound 10 g/L catches albumin given in g/dL (3.5 g/dL = 35 g/L).
ALBUMIN_RANGE_G_PER_L = (10.0, 70.0)
WEIGHT_LOSS_RANGE_PERCENT = (0.0, 60.0)
BMI_RANGE_KG_PER_M2 = (10.0, 80.0)


def _one_of(values: Sequence[object]) -> str:
    return "one of " + ", ".join(str(v) for v in values)


def _span(bounds: tuple[float, float], unit: str = "") -> str:
    low, high = bounds
    return f"{low:g}-{high:g}{' ' + unit if unit else ''}"


#: What each case field accepts, in words; used to finish one-line error messages.
CASE_FIELD_ACCEPTS: dict[str, str] = {
    "case_id": "a free label (no patient identifiers)",
    "primary_site": _one_of(PRIMARY_SITES),
    "histology": "free text",
    "histology_type": _one_of(HISTOLOGY_TYPES),
    "pci": f"an integer {_span(PCI_RANGE)}",
    "pci_regions": "a table region index 0-12 -> lesion size score 0-3 or a size such as '12mm'",
    "extraperitoneal_disease": f"a list (empty = none) of {_one_of(EXTRAPERITONEAL_SITES)}",
    "response_to_systemic_therapy": _one_of(SYSTEMIC_RESPONSES),
    "performance_status": f"an integer {_span(PERFORMANCE_STATUS_RANGE)} (ECOG or WHO)",
    "performance_scale": "ecog or who",
    "egfr_ml_min_1_73m2": _span(EGFR_RANGE_ML_MIN_1_73M2, "mL/min/1.73 m2"),
    "bilirubin_umol_per_l": _span(BILIRUBIN_RANGE_UMOL_PER_L, "umol/L"),
    "significant_comorbidities": f"a list (empty = none) of {_one_of(COMORBIDITIES)}",
    "albumin_g_per_l": _span(ALBUMIN_RANGE_G_PER_L, "g/L"),
    "weight_loss_percent_6_months": _span(WEIGHT_LOSS_RANGE_PERCENT, "%"),
    "bmi_kg_per_m2": _span(BMI_RANGE_KG_PER_M2, "kg/m2"),
    "anticipated_cc": "0-3 or CC-0 to CC-3",
    "age_years": f"an integer {_span(AGE_RANGE_YEARS, 'years')}",
    "notes": "free text",
}


class CandidacyCase(BaseModel):
    """One patient considered for CRS + HIPEC.

    Every field except ``primary_site`` is optional: a missing value never crashes, it makes
    every rule that needs it ask for team review. For lists, ``None`` means "not recorded" and
    ``[]`` means "none".
    """

    model_config = ConfigDict(extra="forbid")

    case_id: str | None = Field(
        None, max_length=100, description="Free label for the case; no patient identifiers."
    )
    primary_site: PrimarySite = Field(description="Site of the primary tumour.")
    histology: str | None = Field(
        None, max_length=500, description="Histology as reported by pathology (free text)."
    )
    histology_type: HistologyType | None = Field(
        None, description="Histology in a controlled vocabulary, for rules."
    )
    pci: int | None = Field(
        None,
        ge=PCI_RANGE[0],
        le=PCI_RANGE[1],
        description="Peritoneal Cancer Index total [points], 0-39 (Jacquet & Sugarbaker 1996). "
        "Filled in from pci_regions when only those are given.",
    )
    pci_regions: dict[str, int | str] | None = Field(
        None,
        description="Lesion size per PCI region: region index 0-12 -> score 0-3 or a size "
        "such as '12mm' / 'confluent'; missing regions count 0.",
    )
    extraperitoneal_disease: list[ExtraperitonealSite] | None = Field(
        None, description="Sites of disease outside the peritoneum; [] = none, absent = unknown."
    )
    response_to_systemic_therapy: SystemicResponse | None = Field(
        None, description="Response of the disease to systemic chemotherapy."
    )
    performance_status: int | None = Field(
        None,
        ge=PERFORMANCE_STATUS_RANGE[0],
        le=PERFORMANCE_STATUS_RANGE[1],
        description="Performance status [grade], 0-4 (ECOG and WHO use the same grades).",
    )
    performance_scale: PerformanceScale = Field(
        "ecog", description="Scale of performance_status: ecog or who."
    )
    egfr_ml_min_1_73m2: float | None = Field(
        None,
        ge=EGFR_RANGE_ML_MIN_1_73M2[0],
        le=EGFR_RANGE_ML_MIN_1_73M2[1],
        allow_inf_nan=False,
        description="Estimated glomerular filtration rate [mL/min/1.73 m2], 0-200.",
    )
    bilirubin_umol_per_l: float | None = Field(
        None,
        ge=BILIRUBIN_RANGE_UMOL_PER_L[0],
        le=BILIRUBIN_RANGE_UMOL_PER_L[1],
        allow_inf_nan=False,
        description="Total serum bilirubin [umol/L], 0-1000 (1 mg/dL = 17.1 umol/L).",
    )
    significant_comorbidities: list[Comorbidity] | None = Field(
        None, description="Significant organ dysfunction; [] = none, absent = unknown."
    )
    albumin_g_per_l: float | None = Field(
        None,
        ge=ALBUMIN_RANGE_G_PER_L[0],
        le=ALBUMIN_RANGE_G_PER_L[1],
        allow_inf_nan=False,
        description="Serum albumin [g/L], 10-70 (1 g/dL = 10 g/L).",
    )
    weight_loss_percent_6_months: float | None = Field(
        None,
        ge=WEIGHT_LOSS_RANGE_PERCENT[0],
        le=WEIGHT_LOSS_RANGE_PERCENT[1],
        allow_inf_nan=False,
        description="Unintended weight loss over the last 6 months [% of body weight], 0-60.",
    )
    bmi_kg_per_m2: float | None = Field(
        None,
        ge=BMI_RANGE_KG_PER_M2[0],
        le=BMI_RANGE_KG_PER_M2[1],
        allow_inf_nan=False,
        description="Body mass index [kg/m2], 10-80.",
    )
    anticipated_cc: int | None = Field(
        None,
        ge=CC_RANGE[0],
        le=CC_RANGE[1],
        description="Completeness of cytoreduction the team expects to achieve [CC score], 0-3; "
        "'CC-1' is accepted too.",
    )
    age_years: int | None = Field(
        None,
        ge=AGE_RANGE_YEARS[0],
        le=AGE_RANGE_YEARS[1],
        description="Age [years], 0-120.",
    )
    notes: str | None = Field(None, max_length=2000, description="Free-text remarks.")

    @field_validator(
        "pci",
        "performance_status",
        "egfr_ml_min_1_73m2",
        "bilirubin_umol_per_l",
        "albumin_g_per_l",
        "weight_loss_percent_6_months",
        "bmi_kg_per_m2",
        "age_years",
        mode="before",
    )
    @classmethod
    def _no_booleans(cls, value: object) -> object:
        # pydantic would read true as 1; in a case file it is always a mistake
        if isinstance(value, bool):
            raise ValueError(f"must be a number, got {value!r}")
        return value

    @field_validator("anticipated_cc", mode="before")
    @classmethod
    def _parse_cc(cls, value: object) -> object:
        # "CC-1", "cc1" and 1 all mean the same score; the cytoreduction module owns that rule.
        if value is None:
            return value
        if isinstance(value, int | str):
            try:
                return int(parse_cc_score(value))
            except InvalidInputError as exc:
                raise ValueError(exc.message) from None
        return value

    @field_validator("pci_regions")
    @classmethod
    def _check_regions(
        cls, regions: dict[str, int | str] | None, info: _ValidationInfo
    ) -> dict[str, int | str] | None:
        if regions is None:
            return None
        total = _pci_total_from_regions(regions)
        given = info.data.get("pci")
        if given is not None and given != total:
            raise ValueError(
                f"the regions add up to PCI {total} but pci = {given}; give one, or make them agree"
            )
        return regions

    @model_validator(mode="after")
    def _fill_pci_from_regions(self) -> CandidacyCase:
        if self.pci is None and self.pci_regions is not None:
            self.pci = _pci_total_from_regions(self.pci_regions)
        return self


def _pci_total_from_regions(regions: Mapping[str, int | str]) -> int:
    """PCI total [points] of region scores, via :class:`hipec.clinical.pci.PciScore`."""
    # TOML and JSON keys are strings ("6"); the PCI module reads them as region numbers.
    keyed: dict[int | str, int | str] = {key: value for key, value in regions.items()}
    try:
        return int(PciScore.from_region_scores(keyed).total)
    except InvalidInputError as exc:
        raise ValueError(str(exc)) from None


# --------------------------------------------------------------------------------------------
# Fields rules may test
# --------------------------------------------------------------------------------------------

FieldKind = Literal["number", "choice", "list"]


@dataclass(frozen=True)
class FieldSpec:
    """How a rule may test one case field and how to show it to a clinician."""

    label: str
    unit: str
    kind: FieldKind
    choices: tuple[str, ...] = ()


RuleField = Literal[
    "primary_site",
    "histology_type",
    "pci",
    "extraperitoneal_disease",
    "response_to_systemic_therapy",
    "performance_status",
    "egfr_ml_min_1_73m2",
    "bilirubin_umol_per_l",
    "significant_comorbidities",
    "albumin_g_per_l",
    "weight_loss_percent_6_months",
    "bmi_kg_per_m2",
    "anticipated_cc",
    "age_years",
]

FIELD_SPECS: dict[str, FieldSpec] = {
    "primary_site": FieldSpec("primary site", "", "choice", PRIMARY_SITES),
    "histology_type": FieldSpec("histology", "", "choice", HISTOLOGY_TYPES),
    "pci": FieldSpec("PCI", "", "number"),
    "extraperitoneal_disease": FieldSpec(
        "extraperitoneal disease", "", "list", EXTRAPERITONEAL_SITES
    ),
    "response_to_systemic_therapy": FieldSpec(
        "response to systemic therapy", "", "choice", SYSTEMIC_RESPONSES
    ),
    "performance_status": FieldSpec("performance status", "", "number"),
    "egfr_ml_min_1_73m2": FieldSpec("eGFR", "mL/min/1.73 m2", "number"),
    "bilirubin_umol_per_l": FieldSpec("bilirubin", "umol/L", "number"),
    "significant_comorbidities": FieldSpec("significant comorbidities", "", "list", COMORBIDITIES),
    "albumin_g_per_l": FieldSpec("albumin", "g/L", "number"),
    "weight_loss_percent_6_months": FieldSpec("weight loss over 6 months", "%", "number"),
    "bmi_kg_per_m2": FieldSpec("BMI", "kg/m2", "number"),
    "anticipated_cc": FieldSpec("anticipated cytoreduction", "", "number"),
    "age_years": FieldSpec("age", "years", "number"),
}

_NUMERIC_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": _operator.lt,
    "<=": _operator.le,
    ">": _operator.gt,
    ">=": _operator.ge,
}
_OPERATOR_WORDS: dict[str, str] = {
    "<": "under",
    "<=": "at most",
    ">": "over",
    ">=": "at least",
    "in": "one of",
    "not in": "none of",
    "empty": "none",
    "not empty": "at least one",
}

# --------------------------------------------------------------------------------------------
# Rules and rule sets
# --------------------------------------------------------------------------------------------

RuleValue = int | float | list[int | float | str] | None


class Rule(BaseModel):
    """One candidacy criterion: ``field operator value`` must hold for acceptance.

    When it does not hold, ``outcome`` says what follows: ``exclude`` (not a candidate) or
    ``review`` (needs team review). ``primary_sites`` limits the rule to those primaries.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=60)]
    description: Annotated[str, Field(min_length=1)]
    field: RuleField
    operator: Operator
    value: RuleValue = None
    outcome: RuleOutcome
    primary_sites: list[PrimarySite] | None = None
    source: Annotated[str, Field(min_length=1)]
    verified: bool
    note: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _no_booleans(cls, value: object) -> object:
        if isinstance(value, bool) or (
            isinstance(value, list) and any(isinstance(v, bool) for v in value)
        ):
            raise ValueError("must be a number or a list, not true/false")
        return value

    @model_validator(mode="after")
    def _operator_fits_field(self) -> Rule:
        spec = FIELD_SPECS[self.field]
        if self.operator in _NUMERIC_OPERATORS:
            if spec.kind != "number":
                raise ValueError(
                    f"operator {self.operator!r} needs a numeric field, {self.field} is not; "
                    "use in / not in / empty / not empty"
                )
            if not isinstance(self.value, int | float):
                raise ValueError(f"operator {self.operator!r} needs a number as value")
        elif self.operator in ("in", "not in"):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"operator {self.operator!r} needs a non-empty list as value")
            if spec.kind == "number":
                if not all(isinstance(v, int | float) for v in self.value):
                    raise ValueError(f"{self.field} is numeric: the list must hold numbers")
            else:
                unknown = [v for v in self.value if v not in spec.choices]
                if unknown:
                    raise ValueError(
                        f"value {unknown[0]!r} is not a {spec.label} value; "
                        f"accepted: {', '.join(spec.choices)}"
                    )
        else:  # empty / not empty
            if spec.kind != "list":
                raise ValueError(f"operator {self.operator!r} needs a list field")
            if self.value is not None:
                raise ValueError(f"operator {self.operator!r} takes no value")
        return self

    def applies_to(self, primary_site: str) -> bool:
        """Whether this rule applies to a case with this primary site."""
        return self.primary_sites is None or primary_site in self.primary_sites

    @property
    def criterion(self) -> str:
        """The acceptance condition in words, e.g. ``"PCI under 20"``."""
        spec = FIELD_SPECS[self.field]
        words = _OPERATOR_WORDS[self.operator]
        if self.operator in ("empty", "not empty"):
            return f"{spec.label}: {words}"
        if isinstance(self.value, list) and len(self.value) == 1 and spec.kind != "list":
            # "response to systemic therapy other than progression" reads better than "none of"
            words = "is" if self.operator == "in" else "other than"
        elif self.operator == "in" and spec.kind == "list":
            words = "only"
        return f"{spec.label} {words} {_format_value(self.field, self.value)}"


class RuleSet(BaseModel):
    """A named, cited list of rules, loaded from TOML and validated on load."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1)]
    description: Annotated[str, Field(min_length=1)]
    sources: list[str] = Field(default_factory=list)
    rules: Annotated[list[Rule], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

_RULES_FOLDER = "rules"


def _builtin_folder() -> Traversable:
    return resources.files("hipec.clinical").joinpath(_RULES_FOLDER)


def builtin_rule_sets() -> list[str]:
    """Names of the rule sets shipped with hipec (``["default", "prodige7"]``)."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _builtin_folder().iterdir()
        if entry.name.endswith(".toml")
    )


def _first_error(exc: ValidationError) -> tuple[tuple[int | str, ...], str, Any]:
    error = exc.errors(include_url=False)[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    shown = error.get("input")
    if error["type"] not in ("missing", "extra_forbidden", "value_error") and shown is not None:
        text = repr(shown)
        if len(text) <= 60:
            message = f"{message}, got {text}"
    return tuple(error["loc"]), message, error["type"]


def rule_set_from_dict(data: Mapping[str, Any], source_name: str) -> RuleSet:
    """Validate a rule-set document.

    Raises
    ------
    InvalidInputError
        One line naming ``source_name``, the rule id (or index) and the field.
    """
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        loc, message, kind = _first_error(exc)
        where = ".".join(str(part) for part in loc) or "(root)"
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            raw_rules = data.get("rules")
            raw = raw_rules[loc[1]] if isinstance(raw_rules, list) else None
            rule_id = raw.get("id") if isinstance(raw, dict) else None
            rule_name = f"rule {rule_id!r}" if isinstance(rule_id, str) else f"rule #{loc[1] + 1}"
            rest = ".".join(str(part) for part in loc[2:3])  # drop pydantic's union-branch names
            where = f"{rule_name}" + (f" {rest}" if rest else "")
        if kind == "extra_forbidden":
            message = "unknown field"
        raise InvalidInputError(f"{source_name}: {where}", message) from None


def load_rule_set(name_or_path: str | Path) -> RuleSet:
    """Load a built-in rule set by name (``"default"``, ``"prodige7"``) or from a file.

    Files are ``.toml`` or ``.json`` with the layout of ``hipec/clinical/rules/default.toml``.

    Raises
    ------
    NotFoundError
        If the name is neither built in nor an existing file.
    InvalidInputError
        If the file does not parse or a rule is malformed (unknown field or operator, ...).
    """
    text_name = str(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in builtin_rule_sets():
        resource = _builtin_folder().joinpath(f"{name_or_path}.toml")
        data = tomllib.loads(resource.read_text(encoding="utf-8"))
        return rule_set_from_dict(data, f"{name_or_path}.toml")
    path = Path(name_or_path)
    if path.suffix.lower() in (".toml", ".json") or path.exists():
        return rule_set_from_dict(load_document(path), text_name)
    raise NotFoundError(
        "rules",
        f"unknown rule set {text_name!r}; built in: {', '.join(builtin_rule_sets())}, "
        "or give a .toml/.json file",
    )


def case_from_dict(data: Mapping[str, Any], source_name: str = "case") -> CandidacyCase:
    """Validate a case document.

    Raises
    ------
    InvalidInputError
        One line naming ``source_name``, the field, what was given and what is accepted.
    """
    try:
        return CandidacyCase.model_validate(data)
    except ValidationError as exc:
        loc, message, kind = _first_error(exc)
        field = str(loc[0]) if loc else "(root)"
        where = ".".join(str(part) for part in loc[:2]) if field == "pci_regions" else field
        if field in ("extraperitoneal_disease", "significant_comorbidities") and len(loc) > 1:
            where = f"{field}[{loc[1]}]"
        if kind == "extra_forbidden":
            message = "unknown field; accepted fields: " + ", ".join(CASE_FIELD_ACCEPTS)
        elif field in CASE_FIELD_ACCEPTS and not _lists_accepted_values(kind, field):
            message = f"{message} (accepted: {CASE_FIELD_ACCEPTS[field]})"
        raise InvalidInputError(f"{source_name}: {where}", message) from None


def _lists_accepted_values(kind: str, field: str) -> bool:
    # pydantic's choice errors and the PCI / CC parsers' messages already say what is accepted
    return kind == "literal_error" or (
        kind == "value_error" and field in ("pci_regions", "anticipated_cc")
    )


def load_case(path: str | Path) -> CandidacyCase:
    """Load a case from a ``.toml`` or ``.json`` file (see ``docs/examples/cases/``).

    Raises
    ------
    InvalidInputError
        If the file is missing or malformed; the message names the file and the field.
    """
    path = Path(path)
    return case_from_dict(load_document(path), str(path))


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleResult:
    """What one rule said about one case."""

    rule: Rule
    outcome: Outcome
    value: Any
    message: str

    @property
    def is_problem(self) -> bool:
        """True if this rule stands between the case and candidacy (exclude or review)."""
        return self.outcome in ("exclude", "review")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready reason: rule, outcome, field, value, operator, threshold, message, ..."""
        return {
            "rule": self.rule.id,
            "outcome": self.outcome,
            "field": self.rule.field,
            "value": self.value,
            "operator": self.rule.operator,
            "threshold": self.rule.value,
            "message": self.message,
            "source": self.rule.source,
            "verified": self.rule.verified,
        }


_OUTCOME_ORDER: dict[str, int] = {"exclude": 0, "review": 1, "met": 2, "not applicable": 3}


@dataclass(frozen=True)
class Assessment:
    """The decision on one case under one rule set, with every rule's result (in rule order)."""

    decision: Decision
    rule_set: str
    case: CandidacyCase
    results: tuple[RuleResult, ...]

    def problems_first(self) -> list[RuleResult]:
        """The results ordered exclude, review, met, not applicable (stable within each)."""
        return sorted(self.results, key=lambda result: _OUTCOME_ORDER[result.outcome])

    def to_dict(self) -> dict[str, Any]:
        """``{"decision", "rule_set", "case", "reasons"}``, ready for JSON."""
        return {
            "decision": self.decision,
            "rule_set": self.rule_set,
            "case": self.case.model_dump(mode="json"),
            "reasons": [result.to_dict() for result in self.results],
        }


def _format_value(field: str, value: Any) -> str:
    spec = FIELD_SPECS[field]
    if isinstance(value, list):
        if field == "anticipated_cc":
            return ", ".join(f"CC-{v}" for v in value) or "none"
        return ", ".join(str(v) for v in value) or "none"
    if field == "anticipated_cc" and isinstance(value, int | float):
        return f"CC-{value:g}"
    text = f"{value:g}" if isinstance(value, float | int) else str(value)
    return f"{text} {spec.unit}" if spec.unit else text


def _capitalised(label: str) -> str:
    # leave "eGFR" and "PCI" alone, capitalise "age"
    return label if label[1:2].isupper() else label[:1].upper() + label[1:]


def _observed(case: CandidacyCase, field: str, value: Any) -> str:
    spec = FIELD_SPECS[field]
    label = spec.label
    if field == "performance_status":
        label = f"{case.performance_scale.upper()} performance status"
    return f"{_capitalised(label)}: {_format_value(field, value)}"


def _condition_holds(rule: Rule, value: Any) -> bool:
    if rule.operator in _NUMERIC_OPERATORS:
        assert isinstance(rule.value, int | float)  # guaranteed by Rule validation
        return _NUMERIC_OPERATORS[rule.operator](float(value), float(rule.value))
    if rule.operator == "empty":
        return len(value) == 0
    if rule.operator == "not empty":
        return len(value) > 0
    allowed = rule.value if isinstance(rule.value, list) else []
    # For list fields "in" means every item is allowed, "not in" means no item is listed.
    items = value if isinstance(value, list) else [value]
    if rule.operator == "in":
        return all(item in allowed for item in items)
    return not any(item in allowed for item in items)


def evaluate_rule(rule: Rule, case: CandidacyCase) -> RuleResult:
    """Evaluate one rule on one case."""
    if not rule.applies_to(case.primary_site):
        sites = ", ".join(rule.primary_sites or [])
        return RuleResult(
            rule,
            "not applicable",
            None,
            f"Applies only to {sites} primaries; this case is {case.primary_site}.",
        )
    value = getattr(case, rule.field)
    if value is None:
        label = FIELD_SPECS[rule.field].label
        return RuleResult(
            rule,
            "review",
            None,
            f"{_capitalised(label)} not recorded, and the rule '{rule.criterion}' "
            "needs it: the team should review.",
        )
    observed = _observed(case, rule.field, value)
    if _condition_holds(rule, value):
        return RuleResult(rule, "met", value, f"{observed} (required: {rule.criterion}).")
    verdict = "not a candidate" if rule.outcome == "exclude" else "the team should review"
    return RuleResult(
        rule,
        rule.outcome,
        value,
        f"{observed} fails the criterion ({rule.criterion}): {verdict}. {rule.description}",
    )


def decide(outcomes: Sequence[Outcome]) -> Decision:
    """Any exclude -> not a candidate; else any review -> needs team review; else candidate."""
    if "exclude" in outcomes:
        return NOT_A_CANDIDATE
    if "review" in outcomes:
        return NEEDS_REVIEW
    return CANDIDATE


def assess(case: CandidacyCase, rules: RuleSet) -> Assessment:
    """Evaluate every rule of ``rules`` on ``case`` and decide.

    Parameters
    ----------
    case
        The patient (see :class:`CandidacyCase`).
    rules
        The rule set (see :func:`load_rule_set`).

    Returns
    -------
    Assessment
        The decision and every rule's outcome, measured value, threshold and message.
    """
    results = tuple(evaluate_rule(rule, case) for rule in rules.rules)
    return Assessment(
        decision=decide([result.outcome for result in results]),
        rule_set=rules.name,
        case=case,
        results=results,
    )
