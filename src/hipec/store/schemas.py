"""Validated input of the case record: one pydantic model per entity, and the case document.

A case document (``hipec cases add --file``, and each entry of a registry export) is a patient's
fields plus optional lists ``assessments``, ``procedures`` (each with an optional ``postop``
course), ``follow_ups`` and ``perfusion_runs``. Scores go through the clinical modules that own
their rules (:class:`~hipec.clinical.pci.PciScore`,
:func:`~hipec.clinical.cytoreduction.parse_cc_score`,
:func:`~hipec.clinical.complications.parse_clavien_dindo`, ...); nothing is re-implemented here.

Times: a datetime with an offset is converted to UTC; one without is taken as UTC.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from hipec.clinical.anthropometry import check_height_cm, check_weight_kg
from hipec.clinical.candidacy import Decision, HistologyType, PrimarySite
from hipec.clinical.complications import parse_clavien_dindo, parse_ctcae_grade
from hipec.clinical.cytoreduction import parse_cc_score
from hipec.clinical.pci import REGION_COUNT, PciScore
from hipec.errors import InvalidInputError, field_path, from_validation_error
from hipec.protocols.schema import Technique
from hipec.store.models import CAVITY_COLUMNS, SAMPLE_FLOAT_CHANNELS
from hipec.store.vocabulary import (
    RESECTIONS,
    AlarmPriority,
    AssessmentSource,
    FollowUpStatus,
    RecurrenceSite,
    RunStatus,
    Sex,
)

#: Pseudonymous case numbers: letters, digits, ".", "_" and "-", 1-40 characters.
CASE_NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
#: ICD-10 / ICD-10-CM code form: letter, two digits, optional dot and up to four characters.
ICD10_PATTERN = r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$"
EARLIEST_BIRTH_YEAR = 1900
MAX_ICU_DAYS = 365.0
MAX_STAY_DAYS = 1000
MAX_BLOOD_LOSS_ML = 50_000

Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Notes = Annotated[str, Field(max_length=5000)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class PatientIn(_Input):
    """A case's patient fields."""

    case_number: Annotated[str, Field(pattern=CASE_NUMBER_PATTERN)]
    sex: Sex
    birth_year: StrictInt
    height_cm: FiniteFloat | None = None
    weight_kg: FiniteFloat | None = None
    primary_site: PrimarySite
    primary_icd10: Annotated[str, Field(pattern=ICD10_PATTERN)] | None = None
    histology: Annotated[str, Field(max_length=500)] | None = None
    histology_type: HistologyType | None = None
    synthetic: StrictBool = False
    notes: Notes | None = None

    @field_validator("birth_year")
    @classmethod
    def _plausible_year(cls, year: int) -> int:
        this_year = dt.date.today().year
        if not EARLIEST_BIRTH_YEAR <= year <= this_year:
            raise ValueError(f"must be {EARLIEST_BIRTH_YEAR}-{this_year}, got {year}")
        return year

    @field_validator("height_cm")
    @classmethod
    def _height(cls, value: float | None) -> float | None:
        return None if value is None else _range_checked(check_height_cm, value)

    @field_validator("weight_kg")
    @classmethod
    def _weight(cls, value: float | None) -> float | None:
        return None if value is None else _range_checked(check_weight_kg, value)


def _range_checked(check: Any, value: float) -> float:
    # anthropometry owns the plausible ranges; turn its error into a pydantic one
    try:
        return float(check(value))
    except InvalidInputError as exc:
        raise ValueError(exc.message) from None


class AssessmentIn(_Input):
    """A staging: date, source and the PCI, as region scores or the 13 lesion size scores.

    ``pci_regions`` takes what :meth:`PciScore.from_region_scores` accepts (``{"6": "12mm"}``);
    ``lesion_size_scores`` the 13 scores in region order. ``pci``, if given, must agree.
    """

    assessed_on: dt.date
    source: AssessmentSource
    pci_regions: dict[str, StrictInt | str] | None = None
    lesion_size_scores: list[StrictInt] | None = None
    pci: StrictInt | None = None
    decision: Decision | None = None
    rule_set: Annotated[str, Field(max_length=100)] | None = None
    reasons: list[dict[str, Any] | str] = Field(default_factory=list)
    notes: Notes | None = None

    @model_validator(mode="after")
    def _one_pci(self) -> AssessmentIn:
        if (self.pci_regions is None) == (self.lesion_size_scores is None):
            raise ValueError("give the PCI as pci_regions or as lesion_size_scores (one of them)")
        try:
            if self.pci_regions is not None:
                keyed: dict[int | str, int | str] = dict(self.pci_regions.items())
                score = PciScore.from_region_scores(keyed)
            else:
                assert self.lesion_size_scores is not None
                score = PciScore(tuple(self.lesion_size_scores))
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None
        if self.pci is not None and self.pci != score.total:
            raise ValueError(f"the regions add up to PCI {score.total} but pci = {self.pci}")
        self.lesion_size_scores = list(score.lesion_size_scores)
        self.pci_regions = None
        self.pci = score.total
        return self

    @property
    def pci_score(self) -> PciScore:
        """The validated PCI."""
        assert self.lesion_size_scores is not None
        return PciScore(tuple(self.lesion_size_scores))


class ComplicationIn(_Input):
    """One complication with its Clavien-Dindo grade (``"IIIa"``, ``"IIIa-d"``) and CTCAE grade."""

    description: Text200
    clavien_dindo: str
    ctcae_grade: StrictInt | str | None = None
    onset_day: Annotated[StrictInt, Field(ge=0, le=MAX_STAY_DAYS)] | None = None

    @field_validator("clavien_dindo", mode="before")
    @classmethod
    def _grade(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return str(parse_clavien_dindo(value))
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None

    @field_validator("ctcae_grade")
    @classmethod
    def _ctcae(cls, value: int | str | None) -> int | None:
        if value is None:
            return None
        try:
            return int(parse_ctcae_grade(value))
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None


class PostopIn(_Input):
    """The post-operative course of one procedure."""

    icu_days: Annotated[FiniteFloat, Field(ge=0, le=MAX_ICU_DAYS)] | None = None
    length_of_stay_days: Annotated[StrictInt, Field(ge=0, le=MAX_STAY_DAYS)] | None = None
    reoperation: StrictBool | None = None
    readmission: StrictBool | None = None
    mortality_30d: StrictBool | None = None
    mortality_90d: StrictBool | None = None
    complications: list[ComplicationIn] = Field(default_factory=list)
    notes: Notes | None = None

    @model_validator(mode="after")
    def _deaths_consistent(self) -> PostopIn:
        if self.mortality_30d and self.mortality_90d is False:
            raise ValueError("mortality_30d is true, so mortality_90d cannot be false")
        return self


class ProcedureIn(_Input):
    """Cytoreductive surgery: date, HIPEC technique, CRS times, resections, CC score, blood loss."""

    performed_on: dt.date
    technique: Technique
    crs_start: dt.datetime | None = None
    crs_end: dt.datetime | None = None
    resections: list[str] = Field(default_factory=list)
    cc_score: StrictInt | str | None = None
    blood_loss_ml: Annotated[StrictInt, Field(ge=0, le=MAX_BLOOD_LOSS_ML)] | None = None
    notes: Notes | None = None
    postop: PostopIn | None = None

    @field_validator("crs_start", "crs_end")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _as_utc(value)

    @field_validator("resections")
    @classmethod
    def _known_resections(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if code not in RESECTIONS:
                raise ValueError(f"unknown resection {code!r}; accepted: {', '.join(RESECTIONS)}")
        if len(set(codes)) != len(codes):
            raise ValueError("a resection is listed twice")
        return codes

    @field_validator("cc_score")
    @classmethod
    def _cc(cls, value: int | str | None) -> int | None:
        if value is None:
            return None
        try:
            return parse_cc_score(value)
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None

    @model_validator(mode="after")
    def _ordered(self) -> ProcedureIn:
        if self.crs_start and self.crs_end and self.crs_end < self.crs_start:
            raise ValueError("crs_end is before crs_start")
        return self


class FollowUpIn(_Input):
    """One follow-up visit."""

    seen_on: dt.date
    status: FollowUpStatus
    recurrence: StrictBool | None = None
    recurrence_sites: list[RecurrenceSite] = Field(default_factory=list)
    notes: Notes | None = None


class RunEventIn(_Input):
    """An event of a run (export/import form)."""

    time_s: FiniteFloat
    kind: Annotated[str, Field(min_length=1, max_length=32)]
    message: str
    data: dict[str, Any] | None = None


class RunAlarmIn(_Input):
    """An alarm of a run (export/import form)."""

    code: Annotated[str, Field(min_length=1, max_length=64)]
    priority: AlarmPriority
    message: str
    raised_s: FiniteFloat
    acknowledged_s: FiniteFloat | None = None
    cleared_s: FiniteFloat | None = None


class RunDoseIn(_Input):
    """A dose of a run, planned and given (export/import form)."""

    drug: Annotated[str, Field(min_length=1, max_length=100)]
    route: Annotated[str, Field(min_length=1, max_length=32)] = "intraperitoneal"
    planned_mg: Annotated[FiniteFloat, Field(ge=0)] | None = None
    planned_at_min: FiniteFloat | None = None
    given_mg: Annotated[FiniteFloat, Field(ge=0)] | None = None
    given_at_s: FiniteFloat | None = None


SampleValue = float | bool | str | None


class PerfusionRunIn(_Input):
    """A recorded perfusion run (export/import form). ``samples`` is column-wise."""

    procedure_index: Annotated[StrictInt, Field(ge=0)] | None = None
    status: RunStatus
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    regimen_id: Annotated[str, Field(max_length=64)] | None = None
    regimen: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    device_name: Annotated[str, Field(max_length=100)] | None = None
    cavity_probe_regions: list[Annotated[StrictInt, Field(ge=0, lt=REGION_COUNT)]] = Field(
        default_factory=list
    )
    host: Annotated[str, Field(max_length=255)] | None = None
    pid: StrictInt | None = None
    end_reason: str | None = None
    duration_s: FiniteFloat | None = None
    perfusion_min: FiniteFloat | None = None
    max_inflow_c: FiniteFloat | None = None
    max_cavity_c: FiniteFloat | None = None
    summary: dict[str, Any] | None = None
    samples: dict[str, list[SampleValue]] = Field(default_factory=dict)
    events: list[RunEventIn] = Field(default_factory=list)
    alarms: list[RunAlarmIn] = Field(default_factory=list)
    doses: list[RunDoseIn] = Field(default_factory=list)

    @field_validator("started_at", "ended_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _as_utc(value)

    @field_validator("samples")
    @classmethod
    def _columns(cls, samples: dict[str, list[SampleValue]]) -> dict[str, list[SampleValue]]:
        if not samples:
            return samples
        expected = {
            "seq",
            "time_s",
            *SAMPLE_FLOAT_CHANNELS,
            "air_in_line",
            "power",
            *CAVITY_COLUMNS,
        }
        if set(samples) != expected:
            missing = sorted(expected - set(samples))
            extra = sorted(set(samples) - expected)
            raise ValueError(f"sample columns differ: missing {missing}, unknown {extra}")
        lengths = {len(values) for values in samples.values()}
        if len(lengths) != 1:
            raise ValueError("every sample column must have the same length")
        for name in ("seq", "time_s", *SAMPLE_FLOAT_CHANNELS, *CAVITY_COLUMNS):
            for index, value in enumerate(samples[name]):
                required = name in ("seq", "time_s")
                ok = (value is None and not required) or (
                    isinstance(value, int | float)
                    and not isinstance(value, bool)
                    and math.isfinite(value)
                )
                if not ok:
                    raise ValueError(f"samples.{name}[{index}] must be a number, got {value!r}")
        if any(not isinstance(v, bool) for v in samples["air_in_line"]):
            raise ValueError("samples.air_in_line must hold true/false")
        if any(v not in ("mains", "battery") for v in samples["power"]):
            raise ValueError("samples.power must hold 'mains' or 'battery'")
        seqs = samples["seq"]
        if len(set(seqs)) != len(seqs):
            raise ValueError("samples.seq holds a sample number twice")
        return samples


class CaseIn(PatientIn):
    """A whole case: the patient and everything recorded about them."""

    assessments: list[AssessmentIn] = Field(default_factory=list)
    procedures: list[ProcedureIn] = Field(default_factory=list)
    follow_ups: list[FollowUpIn] = Field(default_factory=list)
    perfusion_runs: list[PerfusionRunIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _runs_point_at_procedures(self) -> CaseIn:
        for index, run in enumerate(self.perfusion_runs):
            if run.procedure_index is not None and run.procedure_index >= len(self.procedures):
                raise ValueError(
                    f"perfusion_runs[{index}].procedure_index {run.procedure_index} names no "
                    f"procedure (this case has {len(self.procedures)})"
                )
        return self


ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_input(
    model: type[ModelT], data: Mapping[str, Any] | ModelT, where: str = ""
) -> ModelT:
    """Validate ``data`` as ``model``; one :class:`InvalidInputError` naming the field if bad.

    ``where`` goes before the field (``"cases[3]"`` -> ``"cases[3].sex"``).
    """
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input_from(exc, where) from None


def invalid_input_from(exc: ValidationError, where: str = "") -> InvalidInputError:
    """The first error of ``exc`` as one :class:`InvalidInputError` with a dotted field path."""
    first = exc.errors(include_url=False)[0]
    if first["type"] != "value_error":
        converted = from_validation_error(exc)
        field, message = converted.field, converted.message
    else:
        # our validators already say what was given; drop pydantic's "Value error, " prefix
        field = field_path(first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
    if field == "(root)":
        field = ""
    joined = f"{where}.{field}" if where and field else (where or field or "(document)")
    return InvalidInputError(joined, message)


__all__ = [
    "CASE_NUMBER_PATTERN",
    "ICD10_PATTERN",
    "AssessmentIn",
    "CaseIn",
    "ComplicationIn",
    "FollowUpIn",
    "PatientIn",
    "PerfusionRunIn",
    "PostopIn",
    "ProcedureIn",
    "RunAlarmIn",
    "RunDoseIn",
    "RunEventIn",
    "invalid_input_from",
    "validate_input",
]
