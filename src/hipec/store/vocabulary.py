"""Controlled vocabularies of the case record: resections, sources, statuses.

Peritonectomy procedures
------------------------
The six of Sugarbaker PH. Peritonectomy procedures. Ann Surg 1995;221(1):29-42 (abstract checked):
greater omentectomy-splenectomy; left upper quadrant peritonectomy; right upper quadrant
peritonectomy; lesser omentectomy-cholecystectomy with stripping of the omental bursa; pelvic
peritonectomy with sleeve resection of the sigmoid colon; antrectomy. The anterior parietal
peritonectomy is described in Sugarbaker's later work; it is listed here with ``verified = False``
because hipec has not checked that source.

Organ resections are an institutional vocabulary (no citation): the visceral resections registries
record beside the peritonectomies. Extend it in one place, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

SUGARBAKER_1995 = "Sugarbaker PH. Peritonectomy procedures. Ann Surg 1995;221(1):29-42"


@dataclass(frozen=True)
class ResectionTerm:
    """One term of the resection vocabulary."""

    code: str
    label: str
    kind: Literal["peritonectomy", "organ"]
    source: str | None
    verified: bool


PERITONECTOMY_PROCEDURES: tuple[ResectionTerm, ...] = (
    ResectionTerm(
        "greater-omentectomy-splenectomy",
        "Greater omentectomy-splenectomy",
        "peritonectomy",
        SUGARBAKER_1995,
        True,
    ),
    ResectionTerm(
        "left-upper-quadrant-peritonectomy",
        "Left upper quadrant peritonectomy",
        "peritonectomy",
        SUGARBAKER_1995,
        True,
    ),
    ResectionTerm(
        "right-upper-quadrant-peritonectomy",
        "Right upper quadrant peritonectomy",
        "peritonectomy",
        SUGARBAKER_1995,
        True,
    ),
    ResectionTerm(
        "lesser-omentectomy-cholecystectomy",
        "Lesser omentectomy-cholecystectomy with stripping of the omental bursa",
        "peritonectomy",
        SUGARBAKER_1995,
        True,
    ),
    ResectionTerm(
        "pelvic-peritonectomy",
        "Pelvic peritonectomy with sleeve resection of the sigmoid colon",
        "peritonectomy",
        SUGARBAKER_1995,
        True,
    ),
    ResectionTerm("antrectomy", "Antrectomy", "peritonectomy", SUGARBAKER_1995, True),
    ResectionTerm(
        "anterior-parietal-peritonectomy",
        "Anterior parietal peritonectomy",
        "peritonectomy",
        "Sugarbaker PH (later descriptions; not checked by hipec)",
        False,
    ),
)

ORGAN_RESECTIONS: tuple[ResectionTerm, ...] = tuple(
    ResectionTerm(code, label, "organ", None, True)
    for code, label in (
        ("appendicectomy", "Appendicectomy"),
        ("right-hemicolectomy", "Right hemicolectomy"),
        ("transverse-colectomy", "Transverse colectomy"),
        ("left-hemicolectomy", "Left hemicolectomy"),
        ("sigmoid-colectomy", "Sigmoid colectomy"),
        ("anterior-resection-rectum", "Anterior resection of the rectum"),
        ("subtotal-colectomy", "Subtotal or total colectomy"),
        ("small-bowel-resection", "Small bowel resection"),
        ("partial-gastrectomy", "Partial gastrectomy"),
        ("total-gastrectomy", "Total gastrectomy"),
        ("splenectomy", "Splenectomy"),
        ("cholecystectomy", "Cholecystectomy"),
        ("liver-resection", "Liver resection (partial)"),
        ("distal-pancreatectomy", "Distal pancreatectomy"),
        ("diaphragm-resection", "Diaphragm resection"),
        (
            "hysterectomy-bilateral-salpingo-oophorectomy",
            "Hysterectomy with bilateral salpingo-oophorectomy",
        ),
        ("oophorectomy", "Oophorectomy"),
        ("partial-cystectomy", "Partial cystectomy (bladder)"),
        ("ureter-resection", "Ureter resection"),
        ("umbilectomy", "Umbilectomy"),
        ("abdominal-wall-resection", "Abdominal wall resection"),
        ("stoma-formation", "Stoma formation"),
    )
)

RESECTIONS: dict[str, ResectionTerm] = {
    term.code: term for term in (*PERITONECTOMY_PROCEDURES, *ORGAN_RESECTIONS)
}

Sex = Literal["female", "male", "other", "unknown"]
SEXES: tuple[str, ...] = get_args(Sex)

AssessmentSource = Literal["imaging", "laparoscopy", "laparotomy"]
ASSESSMENT_SOURCES: tuple[str, ...] = get_args(AssessmentSource)

RunStatus = Literal["running", "completed", "aborted", "interrupted"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)

#: IEC 60601-1-8 alarm priorities plus information signals.
AlarmPriority = Literal["high", "medium", "low", "info"]
ALARM_PRIORITIES: tuple[str, ...] = get_args(AlarmPriority)

FollowUpStatus = Literal[
    "no-evidence-of-disease",
    "alive-with-disease",
    "dead-of-disease",
    "dead-other-cause",
    "lost-to-follow-up",
]
FOLLOW_UP_STATUSES: tuple[str, ...] = get_args(FollowUpStatus)

RecurrenceSite = Literal["peritoneal", "liver", "lung", "lymph-nodes", "other"]
RECURRENCE_SITES: tuple[str, ...] = get_args(RecurrenceSite)
