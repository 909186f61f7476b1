"""Request bodies of the JSON API (validated by FastAPI: errors are 422 with field details)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from hipec.clinical.anthropometry import BsaFormula
from hipec.clinical.pci import MAX_LESION_SIZE_SCORE, REGION_COUNT
from hipec.protocols.schema import Technique
from hipec.store.users import Role
from hipec.store.vocabulary import AssessmentSource

LesionSizeScores = Annotated[
    list[Annotated[int, Field(ge=0, le=MAX_LESION_SIZE_SCORE)]],
    Field(min_length=REGION_COUNT, max_length=REGION_COUNT),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PciAssessmentBody(_Body):
    """A PCI staging from the editor."""

    assessed_on: dt.date
    source: AssessmentSource
    lesion_size_scores: LesionSizeScores = Field(
        description="Lesion size scores LS 0-3 of regions 0-12, in region order."
    )
    notes: Annotated[str, Field(max_length=5000)] | None = None


class CandidacyBody(_Body):
    """A candidacy assessment: rule set, staging, and the clinical fields of the case."""

    rule_set: str = "default"
    assessed_on: dt.date
    source: AssessmentSource
    lesion_size_scores: LesionSizeScores | None = Field(
        None, description="Default: the case's latest PCI staging."
    )
    clinical: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields of hipec.clinical.candidacy.CandidacyCase other than primary_site, "
        "histology_type and the PCI (those come from the record).",
    )
    notes: Annotated[str, Field(max_length=5000)] | None = None


class PlanBody(_Body):
    """A dose plan request."""

    regimen: Annotated[str, Field(min_length=1, max_length=64)]
    height_cm: float = Field(allow_inf_nan=False)
    weight_kg: float = Field(allow_inf_nan=False)
    bsa_formula: BsaFormula = "mosteller"
    technique: Technique | None = None


class NewUserBody(_Body):
    """A new account."""

    username: Annotated[str, Field(min_length=2, max_length=40)]
    role: Role
    password: Annotated[str, Field(min_length=1, max_length=256)]


class UserChangeBody(_Body):
    """Changes to an account (each optional)."""

    role: Role | None = None
    active: bool | None = None
    password: Annotated[str, Field(min_length=1, max_length=256)] | None = None
