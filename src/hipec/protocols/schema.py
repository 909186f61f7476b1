"""The HIPEC regimen schema: a regimen is data, validated on load.

A regimen file (TOML or JSON) describes one published HIPEC protocol: technique, carrier solution
and its volume rule, target temperature(s), flow, duration, when the timer starts, the
intraperitoneal drugs with their dose schedule, systemic co-medication, safety limits, its
citation, and the list of fields not checked against the primary source (``unverified``).

Design choices
--------------
- Units live in field names (``mg_per_m2``, ``volume_l_per_m2``, ``at_min``, ``target_c``).
- One :class:`DrugDose` per intraperitoneal drug. Its *total* dose has exactly one basis:
  ``mg_per_m2`` (body surface area), ``mg`` (fixed) or ``mg_per_l`` (per litre of carrier, as in the
  Milan mesothelioma protocol). Its ``schedule`` splits the total into fractions given at times
  after the timer start (e.g. the Dutch MMC 1/2, 1/4, 1/4 at 0, 30, 60 min); fractions must sum
  to 1. An optional ``cap_mg`` caps the drug's *total*; every fraction scales with it.
- Technique variants: a regimen has one ``technique`` and may carry ``variants`` keyed by another
  technique, each overriding ``doses``, ``carrier``, ``temperature``, ``flow`` or ``duration_min``
  (PRODIGE 7: open 460 mg/m2, ``variants.closed`` 360 mg/m2). :meth:`Regimen.for_technique`
  resolves one; a technique neither the regimen nor its variants name is refused.
- ``unverified`` lists dotted field paths (``"carrier.solution"``, ``"doses[0].mg_per_m2"``,
  ``"variants.closed.carrier"``); a path also marks everything beneath it. Each path must exist.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hipec.errors import InvalidInputError, from_validation_error

Technique = Literal["open", "closed", "laparoscopic"]
TECHNIQUES: tuple[str, ...] = get_args(Technique)

#: When the perfusion timer (time 0 of every ``at_min``) starts.
TimerStart = Literal["inflow_at_target", "abdomen_at_target", "drug_added", "perfusion_start"]
TIMER_START_MEANINGS: dict[str, str] = {
    "inflow_at_target": "when the inflow reaches its target temperature; the drug goes in then",
    "abdomen_at_target": "when the intra-abdominal temperature reaches its target",
    "drug_added": "when the first drug is added to the circulating perfusate",
    "perfusion_start": "when the perfusate starts circulating",
}

#: Temperatures a regimen may name at all [C]; outside this span a value is an entry error.
PLAUSIBLE_TEMPERATURE_C: tuple[float, float] = (37.0, 48.0)
#: Tolerance on the sum of dose fractions.
FRACTION_SUM_TOLERANCE = 1e-6

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Temperature = Annotated[
    float,
    Field(ge=PLAUSIBLE_TEMPERATURE_C[0], le=PLAUSIBLE_TEMPERATURE_C[1], allow_inf_nan=False),
]
RegimenId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]


class _Strict(BaseModel):
    """Frozen, and unknown keys are refused (a typo in a regimen file must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Citation(_Strict):
    """Where a regimen comes from. Never invent one: leave unknown parts out."""

    authors: str | None = None
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    title: str | None = None
    journal: str | None = None
    doi: str | None = None
    pmid: Annotated[str, Field(pattern=r"^\d+$")] | None = None
    pmcid: Annotated[str, Field(pattern=r"^PMC\d+$")] | None = None
    url: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _identifiable(self) -> Citation:
        identifiers = (self.doi, self.pmid, self.pmcid, self.url)
        if not any(identifiers) and not (self.journal and self.year):
            raise ValueError("needs a doi, pmid, pmcid or url, or at least journal and year")
        return self

    def short(self) -> str:
        """A short reference, e.g. ``"Quénet 2021, Lancet Oncol"``."""
        first_author = (self.authors or "").split(",")[0].strip()
        # drop trailing initials ("van Driel WJ" -> "van Driel")
        words = first_author.split()
        while len(words) > 1 and words[-1].isupper():
            words.pop()
        head = " ".join(part for part in (" ".join(words), str(self.year or "")) if part)
        journal = re.split(r"\s\d", self.journal)[0] if self.journal else None
        tail = journal or self.pmcid or self.pmid or self.doi or self.url or ""
        return ", ".join(part for part in (head, tail) if part)

    def full(self) -> str:
        """The whole reference on one line."""
        parts = [self.authors, self.title, self.journal, str(self.year) if self.year else None]
        text = ". ".join(p.rstrip(".") for p in parts if p)
        ids = [
            f"doi:{self.doi}" if self.doi else None,
            f"PMID {self.pmid}" if self.pmid else None,
            self.pmcid,
            self.url,
        ]
        id_text = "; ".join(i for i in ids if i)
        return f"{text}. {id_text}".strip(". ") if id_text else text


class CarrierRule(_Strict):
    """The carrier solution and its volume: litres per m2 of BSA or fixed litres, with bounds."""

    solution: str = Field(min_length=1)
    volume_l_per_m2: PositiveFloat | None = None
    volume_l: PositiveFloat | None = None
    min_volume_l: PositiveFloat | None = None
    max_volume_l: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_rule_within_bounds(self) -> CarrierRule:
        if (self.volume_l_per_m2 is None) == (self.volume_l is None):
            raise ValueError("give exactly one of volume_l_per_m2 or volume_l")
        low, high = self.min_volume_l, self.max_volume_l
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_volume_l ({low:g}) must not exceed max_volume_l ({high:g})")
        if self.volume_l is not None and (
            (low is not None and self.volume_l < low) or (high is not None and self.volume_l > high)
        ):
            raise ValueError(f"volume_l ({self.volume_l:g}) lies outside its own bounds")
        return self


class TemperatureBand(_Strict):
    """A target temperature [C] with the band the source allows around it."""

    target_c: Temperature
    min_c: Temperature | None = None
    max_c: Temperature | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TemperatureBand:
        low = self.min_c if self.min_c is not None else self.target_c
        high = self.max_c if self.max_c is not None else self.target_c
        if not low <= self.target_c <= high:
            raise ValueError(
                f"need min_c <= target_c <= max_c, got {low:g} / {self.target_c:g} / {high:g}"
            )
        return self


class TemperatureTargets(_Strict):
    """Where the temperature is controlled: at the inflow, inside the abdomen, or both."""

    inflow: TemperatureBand | None = None
    intra_abdominal: TemperatureBand | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> TemperatureTargets:
        if self.inflow is None and self.intra_abdominal is None:
            raise ValueError("give an inflow and/or an intra_abdominal target")
        return self


class FlowRange(_Strict):
    """Perfusate flow [L/min]."""

    min_l_per_min: PositiveFloat
    max_l_per_min: PositiveFloat

    @model_validator(mode="after")
    def _ordered(self) -> FlowRange:
        if self.min_l_per_min > self.max_l_per_min:
            raise ValueError(
                f"min_l_per_min ({self.min_l_per_min:g}) must not exceed "
                f"max_l_per_min ({self.max_l_per_min:g})"
            )
        return self


class DoseFraction(_Strict):
    """Part of a drug's total dose given at ``at_min`` minutes after the timer start."""

    at_min: NonNegativeFloat
    fraction: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


DoseBasis = Literal["mg_per_m2", "mg", "mg_per_l"]
DOSE_BASIS_UNITS: dict[str, str] = {"mg_per_m2": "mg/m2", "mg": "mg", "mg_per_l": "mg/L carrier"}


class DrugDose(_Strict):
    """One intraperitoneal drug: its total dose (one basis), its schedule and an optional cap."""

    drug: str = Field(min_length=1)
    mg_per_m2: PositiveFloat | None = None
    mg: PositiveFloat | None = None
    mg_per_l: PositiveFloat | None = None
    cap_mg: PositiveFloat | None = None
    schedule: tuple[DoseFraction, ...] = (DoseFraction(at_min=0.0, fraction=1.0),)
    #: The range the source gives for this dose, in the dose's own basis (documentation only).
    source_range: tuple[PositiveFloat, PositiveFloat] | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DrugDose:
        given = [b for b in ("mg_per_m2", "mg", "mg_per_l") if getattr(self, b) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of mg_per_m2, mg or mg_per_l")
        if not self.schedule:
            raise ValueError("schedule needs at least one dose fraction")
        total = math.fsum(f.fraction for f in self.schedule)
        if abs(total - 1.0) > FRACTION_SUM_TOLERANCE:
            raise ValueError(f"schedule fractions must sum to 1, got {total:g}")
        times = [f.at_min for f in self.schedule]
        if any(later <= earlier for earlier, later in itertools.pairwise(times)):
            raise ValueError(f"schedule times must strictly increase, got {times}")
        if self.mg is not None and self.cap_mg is not None and self.cap_mg < self.mg:
            raise ValueError(f"cap_mg ({self.cap_mg:g}) is below the fixed dose ({self.mg:g} mg)")
        if self.source_range is not None and self.source_range[0] > self.source_range[1]:
            raise ValueError("source_range must be [low, high]")
        return self

    @property
    def basis(self) -> DoseBasis:
        """Which basis the total dose is given in."""
        if self.mg_per_m2 is not None:
            return "mg_per_m2"
        if self.mg is not None:
            return "mg"
        return "mg_per_l"

    @property
    def amount(self) -> float:
        """The total dose in its own basis (see :attr:`basis`)."""
        value = getattr(self, self.basis)
        assert isinstance(value, float)
        return value


class SystemicDrug(_Strict):
    """Systemic (IV) co-medication, timed relative to the timer start (negative = before)."""

    drug: str = Field(min_length=1)
    route: Literal["iv"] = "iv"
    mg_per_m2: PositiveFloat | None = None
    mg: PositiveFloat | None = None
    at_min: FiniteFloat = 0.0
    #: Infusion time [min]; 0 = bolus.
    over_min: NonNegativeFloat = 0.0
    note: str | None = None

    @model_validator(mode="after")
    def _one_basis(self) -> SystemicDrug:
        if (self.mg_per_m2 is None) == (self.mg is None):
            raise ValueError("give exactly one of mg_per_m2 or mg")
        return self


class SafetyLimits(_Strict):
    """Temperatures [C] a perfusion must never exceed (above every target)."""

    max_inflow_c: Temperature
    max_intra_abdominal_c: Temperature


class Variant(_Strict):
    """What changes when the regimen is run with another technique."""

    doses: tuple[DrugDose, ...] | None = None
    carrier: CarrierRule | None = None
    temperature: TemperatureTargets | None = None
    flow: FlowRange | None = None
    duration_min: PositiveFloat | None = None
    note: str | None = None


_PATH_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")
_PATH_SYNTAX = re.compile(r"^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*$")


class Regimen(_Strict):
    """A validated HIPEC regimen; see the module docstring for the design."""

    id: RegimenId
    name: str = Field(min_length=1)
    indication: str = Field(min_length=1)
    technique: Technique
    duration_min: PositiveFloat
    timer_start: TimerStart
    carrier: CarrierRule
    temperature: TemperatureTargets
    flow: FlowRange | None = None
    doses: tuple[DrugDose, ...] = Field(min_length=1)
    systemic: tuple[SystemicDrug, ...] = ()
    safety: SafetyLimits
    #: Optional BSA ceiling for dosing [m2]; only where the source gives one (none is invented).
    bsa_cap_m2: PositiveFloat | None = None
    citation: Citation
    additional_citations: tuple[Citation, ...] = ()
    variants: dict[Technique, Variant] = Field(default_factory=dict)
    unverified: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Regimen:
        if self.technique in self.variants:
            raise ValueError(f"variants must not repeat the main technique {self.technique!r}")
        _check_consistency(self.doses, self.duration_min, self.temperature, self.safety, where="")
        for technique, variant in self.variants.items():
            _check_consistency(
                variant.doses if variant.doses is not None else self.doses,
                variant.duration_min if variant.duration_min is not None else self.duration_min,
                variant.temperature if variant.temperature is not None else self.temperature,
                self.safety,
                where=f"variants.{technique}: ",
            )
        for path in self.unverified:
            if not _path_exists(self, path):
                raise ValueError(f"unverified names a field that does not exist: {path!r}")
        return self

    # -- reading -------------------------------------------------------------------------------

    @property
    def techniques(self) -> tuple[str, ...]:
        """Every technique this regimen supports, the main one first."""
        return (self.technique, *sorted(self.variants))

    @property
    def drugs(self) -> tuple[str, ...]:
        """Intraperitoneal drugs of the main technique, in order."""
        return tuple(dose.drug for dose in self.doses)

    def for_technique(self, technique: str | None) -> Regimen:
        """This regimen as run with ``technique`` (None: the main one), variants applied.

        Raises
        ------
        InvalidInputError
            (field ``technique``) if the technique is unknown or not supported by this regimen.
        """
        if technique is None or technique == self.technique:
            return self
        if technique not in TECHNIQUES:
            raise InvalidInputError(
                "technique", f"must be one of {', '.join(TECHNIQUES)}, got {technique!r}"
            )
        variant = next((v for t, v in self.variants.items() if t == technique), None)
        if variant is None:
            raise InvalidInputError(
                "technique",
                f"regimen '{self.id}' supports {', '.join(self.techniques)}, got {technique!r}",
            )
        overrides = {
            key: getattr(variant, key)
            for key in ("doses", "carrier", "temperature", "flow", "duration_min")
            if getattr(variant, key) is not None
        }
        data = self.model_dump()
        data.update(variant.model_dump(include=set(overrides)))
        prefix = f"variants.{technique}."
        unverified = [
            path
            for path in self.unverified
            if not path.startswith("variants.") and _top(path) not in overrides
        ]
        unverified += [path[len(prefix) :] for path in self.unverified if path.startswith(prefix)]
        if f"variants.{technique}" in self.unverified:
            unverified += list(overrides)
        data.update(technique=technique, variants={}, unverified=unverified)
        if variant.note:
            data["notes"] = [*self.notes, variant.note]
        try:
            return Regimen.model_validate(data)
        except ValidationError as exc:  # pragma: no cover - the variant was validated on load
            raise from_validation_error(exc, f"regimen {self.id} ({technique})") from None

    def is_unverified(self, path: str) -> bool:
        """True if ``path`` or one of its parents is listed in :attr:`unverified`."""
        return any(path == u or path.startswith((u + ".", u + "[")) for u in self.unverified)

    def leaves(self) -> Iterator[tuple[str, Any]]:
        """Every leaf field as ``(dotted path, value)``, in declaration order (for display)."""
        yield from _leaves(self.model_dump(mode="json", exclude={"unverified"}), "")


def _top(path: str) -> str:
    match = _PATH_TOKEN.match(path)
    return match.group(1) if match and match.group(1) else path


def _check_consistency(
    doses: tuple[DrugDose, ...],
    duration_min: float,
    temperature: TemperatureTargets,
    safety: SafetyLimits,
    where: str,
) -> None:
    """Rules that tie several fields together (raise ValueError naming the fields)."""
    seen: set[str] = set()
    for index, dose in enumerate(doses):
        if dose.drug in seen:
            raise ValueError(f"{where}doses[{index}]: drug {dose.drug!r} appears twice")
        seen.add(dose.drug)
        for fraction in dose.schedule:
            if fraction.at_min >= duration_min:
                raise ValueError(
                    f"{where}doses[{index}] ({dose.drug}): a dose at {fraction.at_min:g} min "
                    f"is not before the end of the {duration_min:g} min perfusion"
                )
    pairs = (
        ("inflow", temperature.inflow, safety.max_inflow_c, "max_inflow_c"),
        (
            "intra_abdominal",
            temperature.intra_abdominal,
            safety.max_intra_abdominal_c,
            "max_intra_abdominal_c",
        ),
    )
    for site, band, limit, limit_name in pairs:
        if band is None:
            continue
        if limit <= band.target_c:
            raise ValueError(
                f"{where}safety.{limit_name} ({limit:g} C) must be above the {site} target "
                f"({band.target_c:g} C)"
            )
        if band.max_c is not None and limit < band.max_c:
            raise ValueError(
                f"{where}safety.{limit_name} ({limit:g} C) is below the {site} band maximum "
                f"({band.max_c:g} C)"
            )


def _path_exists(model: BaseModel, path: str) -> bool:
    """True if the dotted path (``a.b[2].c``, dict keys as names) names a field of ``model``."""
    if not _PATH_SYNTAX.match(path):
        return False
    node: Any = model
    for match in _PATH_TOKEN.finditer(path):
        name, index = match.group(1), match.group(2)
        if name is not None:
            if isinstance(node, dict):
                if name not in node:
                    return False
                node = node[name]
            elif isinstance(node, BaseModel) and name in type(node).model_fields:
                node = getattr(node, name)
            else:
                return False
        elif isinstance(node, tuple | list) and int(index) < len(node):
            node = node[int(index)]
        else:
            return False
    return True


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value and any(isinstance(v, dict | list) for v in value):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    elif value is not None and value != {} and value != []:
        yield path, value
