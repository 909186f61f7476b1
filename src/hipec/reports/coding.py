"""Billing and diagnosis codes: CPT 96547/96548 from perfusion minutes, ICD-10-CM from diagnoses.

CPT (American Medical Association, CPT 2024; hipec domain brief section 6):

- 96547: HIPEC including separate incisions and closure, first 60 minutes;
- 96548: each additional 30 minutes (add-on).

The rule for a partly used increment was not found in a primary source, so it is a setting
(:data:`TimeRule`, default ``"midpoint"``). Perfusion time is first rounded *down* to whole minutes
(times are documented in minutes), then:

``"midpoint"`` (the general CPT time convention: a unit is reached once its midpoint is *passed*)
    96547 needs more than 30 min (31 min or more; 30 min gives no code). Each 96548 unit k
    (k = 1, 2, ...) needs more than 60 + 30(k-1) + 15 min: 75 min -> none, 76 min -> one;
    105 min -> one, 106 min -> two. So 60 -> 96547; 95 -> 96547 + 96548 x1; 120 -> 96547 + x2.
``"complete"``
    Only completed increments count: 96547 from 60 min, one 96548 per full 30 min after it.

Below the first threshold nothing is reportable and the list is empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

from hipec.clinical.candidacy import PRIMARY_SITES
from hipec.errors import InvalidInputError

TimeRule = Literal["midpoint", "complete"]
TIME_RULES: tuple[str, ...] = get_args(TimeRule)
DEFAULT_TIME_RULE: TimeRule = "midpoint"

HIPEC_FIRST_CODE = "96547"
HIPEC_ADDITIONAL_CODE = "96548"
FIRST_UNIT_MIN = 60
ADDITIONAL_UNIT_MIN = 30
#: Longest perfusion accepted [min]; beyond it the number is an entry error.
MAX_PERFUSION_MIN = 24 * 60

CPT_SOURCE = "AMA CPT 2024 (codes new in 2024), as summarised in the hipec domain brief section 6"


@dataclass(frozen=True)
class CodeEntry:
    """One code of a code table, with where it comes from."""

    code: str
    system: Literal["CPT", "ICD-10-CM"]
    description: str
    source: str
    verified: bool


CPT_CODES: dict[str, CodeEntry] = {
    HIPEC_FIRST_CODE: CodeEntry(
        HIPEC_FIRST_CODE,
        "CPT",
        "Hyperthermic intraperitoneal chemotherapy (HIPEC), including separate incisions and "
        "closure; first 60 minutes",
        CPT_SOURCE,
        False,
    ),
    HIPEC_ADDITIONAL_CODE: CodeEntry(
        HIPEC_ADDITIONAL_CODE,
        "CPT",
        "Hyperthermic intraperitoneal chemotherapy (HIPEC); each additional 30 minutes",
        CPT_SOURCE,
        False,
    ),
}

ICD10_SOURCE = (
    "ICD-10-CM tabular list (CDC/NCHS); codes as listed in the hipec domain brief section 6, "
    "descriptions not checked against the current release"
)


def _icd(code: str, description: str) -> CodeEntry:
    return CodeEntry(code, "ICD-10-CM", description, ICD10_SOURCE, False)


#: ICD-10-CM codes hipec proposes. ``verified = False``: checked against no release by hipec.
ICD10_CODES: dict[str, CodeEntry] = {
    entry.code: entry
    for entry in (
        _icd("C78.6", "Secondary malignant neoplasm of retroperitoneum and peritoneum"),
        _icd("C48.1", "Malignant neoplasm of specified parts of peritoneum"),
        _icd("C48.2", "Malignant neoplasm of peritoneum, unspecified"),
        _icd("C45.1", "Mesothelioma of peritoneum"),
        _icd("C18.0", "Malignant neoplasm of cecum"),
        _icd("C18.1", "Malignant neoplasm of appendix"),
        _icd("C18.9", "Malignant neoplasm of colon, unspecified"),
        _icd("C20", "Malignant neoplasm of rectum"),
        _icd("C16.9", "Malignant neoplasm of stomach, unspecified"),
        _icd("C56.9", "Malignant neoplasm of unspecified ovary"),
        _icd("C17.9", "Malignant neoplasm of small intestine, unspecified"),
    )
}
SECONDARY_PERITONEUM_CODE = "C78.6"

#: The primary's default code per primary site (hipec.clinical.candidacy vocabulary) when the
#: case names none; None where no single code fits ("other").
DEFAULT_PRIMARY_CODE: dict[str, str | None] = {
    "colorectal": "C18.9",
    "appendix": "C18.1",
    "gastric": "C16.9",
    "ovarian": "C56.9",
    "mesothelioma": "C45.1",
    "small-bowel": "C17.9",
    "other": None,
}
#: Sites whose primary *is* peritoneal: no secondary-peritoneum code is added.
PERITONEAL_PRIMARY_SITES = frozenset({"mesothelioma"})


@dataclass(frozen=True)
class BillingCode:
    """A code to report: the code, its units and its description."""

    code: str
    units: int
    description: str
    system: str

    def to_dict(self) -> dict[str, Any]:
        """``{"code", "units", "description", "system"}``."""
        return {
            "code": self.code,
            "units": self.units,
            "description": self.description,
            "system": self.system,
        }


def _check_minutes(perfusion_min: float) -> int:
    if (
        isinstance(perfusion_min, bool)
        or not math.isfinite(perfusion_min)
        or not 0 <= perfusion_min <= MAX_PERFUSION_MIN
    ):
        raise InvalidInputError(
            "perfusion_min", f"must be 0-{MAX_PERFUSION_MIN} min, got {perfusion_min:g}"
        )
    return math.floor(perfusion_min)


def hipec_cpt_units(perfusion_min: float, time_rule: str = DEFAULT_TIME_RULE) -> tuple[int, int]:
    """Units of 96547 (0 or 1) and of 96548 for a perfusion of ``perfusion_min`` [min].

    Raises
    ------
    InvalidInputError
        Field ``perfusion_min`` outside 0-1440 min, or ``time_rule`` not one of the rules.
    """
    minutes = _check_minutes(perfusion_min)
    if time_rule == "midpoint":
        if minutes <= FIRST_UNIT_MIN // 2:
            return 0, 0
        extra = minutes - FIRST_UNIT_MIN
        # unit k is reached once extra passes 30(k-1) + 15, i.e. extra > 30k - 15
        additional = max(0, math.ceil((extra - ADDITIONAL_UNIT_MIN // 2) / ADDITIONAL_UNIT_MIN))
        return 1, additional
    if time_rule == "complete":
        if minutes < FIRST_UNIT_MIN:
            return 0, 0
        return 1, (minutes - FIRST_UNIT_MIN) // ADDITIONAL_UNIT_MIN
    raise InvalidInputError(
        "time_rule", f"must be one of {', '.join(TIME_RULES)}, got {time_rule!r}"
    )


def hipec_cpt_codes(perfusion_min: float, time_rule: str = DEFAULT_TIME_RULE) -> list[BillingCode]:
    """CPT codes for the perfusion time (empty below the first unit's threshold)."""
    first, additional = hipec_cpt_units(perfusion_min, time_rule)
    codes: list[BillingCode] = []
    if first:
        entry = CPT_CODES[HIPEC_FIRST_CODE]
        codes.append(BillingCode(entry.code, 1, entry.description, "CPT"))
    if additional:
        entry = CPT_CODES[HIPEC_ADDITIONAL_CODE]
        codes.append(BillingCode(entry.code, additional, entry.description, "CPT"))
    return codes


def diagnosis_codes(primary_site: str, primary_icd10: str | None = None) -> list[BillingCode]:
    """ICD-10-CM codes of a case: the primary, then the secondary peritoneal disease.

    Parameters
    ----------
    primary_site
        One of :data:`hipec.clinical.candidacy.PRIMARY_SITES`.
    primary_icd10
        The case's own code for the primary, if recorded; else the site's default.

    Raises
    ------
    InvalidInputError
        Field ``primary_site`` for an unknown site.
    """
    if primary_site not in PRIMARY_SITES:
        raise InvalidInputError(
            "primary_site", f"must be one of {', '.join(PRIMARY_SITES)}, got {primary_site!r}"
        )
    codes: list[BillingCode] = []
    primary = primary_icd10 or DEFAULT_PRIMARY_CODE[primary_site]
    if primary is not None:
        known = ICD10_CODES.get(primary)
        description = known.description if known else f"Primary tumour ({primary_site})"
        codes.append(BillingCode(primary, 1, description, "ICD-10-CM"))
    if primary_site not in PERITONEAL_PRIMARY_SITES and primary not in ("C48.1", "C48.2"):
        entry = ICD10_CODES[SECONDARY_PERITONEUM_CODE]
        codes.append(BillingCode(entry.code, 1, entry.description, "ICD-10-CM"))
    return codes
