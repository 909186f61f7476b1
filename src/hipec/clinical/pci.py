"""Peritoneal Cancer Index (PCI): extent of peritoneal disease over 13 regions, 0-39.

Jacquet P, Sugarbaker PH. Clinical research methodologies in diagnosis and staging of patients with
peritoneal carcinomatosis. Cancer Treat Res 1996;82:359-74.

The abdomen and pelvis are divided into nine regions (0-8) by two transverse and two sagittal lines;
the small bowel gives four more (9-12). Each region scores the lesion size (LS) of its largest
implant:

- LS-0: no implant seen;
- LS-1: implants up to 0.5 cm;
- LS-2: implants up to 5.0 cm;
- LS-3: implants over 5.0 cm, or confluent disease.

Boundary rule (sources disagree at exactly 5 mm and 50 mm; hipec follows the original "up to")::

    0 mm              -> LS-0 (no implant)
    > 0  and <= 5 mm  -> LS-1
    > 5  and <= 50 mm -> LS-2
    > 50 mm           -> LS-3 (so is "confluent", whatever its size)

The PCI is the sum of the 13 lesion size scores, 0-39.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hipec.clinical._common import check_size_mm
from hipec.errors import InvalidInputError


@dataclass(frozen=True)
class PciRegion:
    """One of the 13 PCI regions: its number (0-12) and name."""

    index: int
    name: str


PCI_REGIONS: tuple[PciRegion, ...] = tuple(
    PciRegion(index, name)
    for index, name in enumerate(
        (
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
        )
    )
)
REGION_COUNT = len(PCI_REGIONS)
MAX_LESION_SIZE_SCORE = 3
MAX_PCI = REGION_COUNT * MAX_LESION_SIZE_SCORE

#: The nine abdominopelvic regions as the classic 3x3 diagram draws them, facing the patient (the
#: patient's right is on the viewer's left), top row first.
PCI_GRID_LAYOUT: tuple[tuple[int, int, int], ...] = ((1, 2, 3), (8, 0, 4), (7, 6, 5))
#: The four small-bowel regions, drawn in a row beneath the grid.
PCI_SMALL_BOWEL_ROW: tuple[int, int, int, int] = (9, 10, 11, 12)

#: Upper bounds [mm] of LS-1 and LS-2 (inclusive); above the second is LS-3.
LS1_MAX_MM = 5.0
LS2_MAX_MM = 50.0

ACCEPTED_LESION_SIZE_FORMS = (
    "LS 0-3 (e.g. 2 or LS2), the largest implant's size (e.g. 12mm, 4.5mm, 1.2cm) or 'confluent'"
)
_LS_PATTERN = re.compile(r"^(?:ls[\s-]?)?(\d+)$")
_SIZE_PATTERN = re.compile(r"^([+-]?\d+(?:\.\d+)?|[+-]?\.\d+)\s*(mm|cm)$")
_MM_PER_UNIT = {"mm": 1.0, "cm": 10.0}


def lesion_size_score_from_mm(size_mm: float) -> int:
    """Lesion size score (0-3) of a region from the size of its largest implant.

    Parameters
    ----------
    size_mm
        Largest diameter of the largest implant [mm]; 0 means no implant.

    Returns
    -------
    int
        0 for 0 mm, 1 up to and including 5 mm, 2 up to and including 50 mm, 3 above.

    Raises
    ------
    InvalidInputError
        If the size is negative or not a finite number.
    """
    size_mm = check_size_mm("lesion_size_mm", size_mm)
    if size_mm == 0:
        return 0
    if size_mm <= LS1_MAX_MM:
        return 1
    if size_mm <= LS2_MAX_MM:
        return 2
    return 3


def _refuse_lesion_size(field: str, given: object) -> InvalidInputError:
    return InvalidInputError(field, f"must be {ACCEPTED_LESION_SIZE_FORMS}; got {given!r}")


def parse_lesion_size(text: str | int, field: str = "lesion_size") -> int:
    """Lesion size score (0-3) from what a surgeon writes.

    Accepted: an LS score ``0``-``3`` (``"2"``, ``"LS2"``, ``"ls-2"`` or the int ``2``); the size
    of the largest implant with its unit (``"12mm"``, ``"4.5 mm"``, ``"1.2cm"``), converted by
    :func:`lesion_size_score_from_mm`; or ``"confluent"`` (LS-3). Case is ignored.

    Parameters
    ----------
    text
        The lesion size as written.
    field
        Name of the field in error messages, e.g. ``"region 6 lesion size"``.

    Raises
    ------
    InvalidInputError
        If the text is none of the accepted forms, the score is above 3 or the size negative.
    """
    if isinstance(text, bool):
        raise _refuse_lesion_size(field, text)
    if isinstance(text, int):
        if 0 <= text <= MAX_LESION_SIZE_SCORE:
            return text
        raise _refuse_lesion_size(field, text)
    if not isinstance(text, str):
        raise _refuse_lesion_size(field, text)
    word = text.strip().lower()
    if word == "confluent":
        return MAX_LESION_SIZE_SCORE
    score = _LS_PATTERN.match(word)
    if score is not None:
        value = int(score.group(1))
        if value <= MAX_LESION_SIZE_SCORE:
            return value
        raise _refuse_lesion_size(field, text)
    size = _SIZE_PATTERN.match(word)
    if size is not None:
        size_mm = float(size.group(1)) * _MM_PER_UNIT[size.group(2)]
        if size_mm < 0:
            raise InvalidInputError(
                field,
                f"an implant size cannot be negative, got {text.strip()!r}; "
                f"accepted: {ACCEPTED_LESION_SIZE_FORMS}",
            )
        return lesion_size_score_from_mm(size_mm)
    raise _refuse_lesion_size(field, text)


def parse_region_index(key: int | str) -> int:
    """Region number 0-12 from an int or a string of digits.

    Raises
    ------
    InvalidInputError
        Field ``"region"`` if the key is not a number or not 0-12.
    """
    if isinstance(key, bool):
        raise InvalidInputError("region", f"must be a region number 0-12, got {key!r}")
    if isinstance(key, str):
        word = key.strip()
        if not word.isdecimal():
            raise InvalidInputError("region", f"must be a region number 0-12, got {key!r}")
        key = int(word)
    if not isinstance(key, int):
        raise InvalidInputError("region", f"must be a region number 0-12, got {key!r}")
    if not 0 <= key < REGION_COUNT:
        raise InvalidInputError("region", f"must be 0-{REGION_COUNT - 1}, got {key}")
    return key


@dataclass(frozen=True)
class PciScore:
    """Lesion size scores of the 13 regions, in region order 0-12."""

    lesion_size_scores: tuple[int, ...]

    def __post_init__(self) -> None:
        scores = self.lesion_size_scores
        if len(scores) != REGION_COUNT:
            raise InvalidInputError(
                "lesion_size_scores",
                f"must hold {REGION_COUNT} scores (regions 0-12), got {len(scores)}",
            )
        for region, score in zip(PCI_REGIONS, scores, strict=True):
            if (
                isinstance(score, bool)
                or not isinstance(score, int)
                or not 0 <= score <= MAX_LESION_SIZE_SCORE
            ):
                raise InvalidInputError(
                    f"region {region.index} lesion size", f"must be LS 0-3, got {score!r}"
                )

    @property
    def total(self) -> int:
        """The PCI: sum of the 13 lesion size scores, 0-39."""
        return sum(self.lesion_size_scores)

    def regions(self) -> Iterator[tuple[PciRegion, int]]:
        """Each region with its lesion size score, in region order."""
        return zip(PCI_REGIONS, self.lesion_size_scores, strict=True)

    @classmethod
    def from_region_scores(cls, mapping: Mapping[int | str, int | str]) -> PciScore:
        """PCI from ``{region: lesion size}``; regions not named score 0.

        Keys are region numbers (``6`` or ``"6"``); values anything :func:`parse_lesion_size`
        accepts (``3``, ``"LS2"``, ``"12mm"``, ``"confluent"``).

        Raises
        ------
        InvalidInputError
            For a region outside 0-12, a region given twice (``6`` and ``"6"``) or a lesion size
            that does not parse.
        """
        scores = [0] * REGION_COUNT
        seen: set[int] = set()
        for key, value in mapping.items():
            index = parse_region_index(key)
            if index in seen:
                raise InvalidInputError("region", f"region {index} is given twice")
            seen.add(index)
            scores[index] = parse_lesion_size(value, field=f"region {index} lesion size")
        return cls(tuple(scores))

    def to_dict(self) -> dict[str, Any]:
        """``{"pci": total, "regions": [{"index", "name", "lesion_size_score"}, ...13]}``."""
        return {
            "pci": self.total,
            "regions": [
                {"index": region.index, "name": region.name, "lesion_size_score": score}
                for region, score in self.regions()
            ],
        }


def parse_region_arguments(args: Sequence[str]) -> PciScore:
    """PCI from command-line words ``REGION=SCORE``: ``"0=3"``, ``"6=12mm"``, ``"9=confluent"``.

    No words at all is a valid PCI of 0.

    Raises
    ------
    InvalidInputError
        For a word not of the form REGION=SCORE, a region named twice, or any error of
        :meth:`PciScore.from_region_scores`.
    """
    mapping: dict[int | str, int | str] = {}
    for word in args:
        region, sep, score = word.partition("=")
        if not sep or not region.strip() or not score.strip():
            raise InvalidInputError(
                "regions",
                f"each region must be written REGION=SCORE (e.g. 0=3, 6=12mm, 9=confluent), "
                f"got {word!r}",
            )
        index = parse_region_index(region)
        if index in mapping:
            raise InvalidInputError("region", f"region {index} is given twice")
        mapping[index] = score
    return PciScore.from_region_scores(mapping)
