"""A synthetic demo registry: fictional CRS + HIPEC cases with plausible distributions.

Every case is marked ``synthetic = True``, numbered ``SYN-<seed>-<nnn>`` and says in its notes
that it is not a real patient. The generator is deterministic for a seed (and a reference date).

How the cases are drawn (programme-level shapes, not a model of any real cohort):

- primary site: colorectal 45 %, appendix 22 %, ovarian 15 %, gastric 10 %, mesothelioma 8 %;
  age about 57 +- 11 years (25-80); ovarian cases are female;
- disease burden per site (appendix and ovarian higher), spread over the 13 PCI regions with
  the pelvis, the central region and the right lower quadrant most often involved; imaging
  (the staging before surgery) under-reads small-bowel disease, the laparotomy sees it all;
- the candidacy decision comes from the real rules (:func:`hipec.clinical.candidacy.assess`,
  rule set ``default``) applied to the staging; candidates are operated on, half of those
  needing team review too;
- CC-0 less likely as the PCI rises; regimen and HIPEC technique by primary site (from the
  regimen library);
- complications: major (Clavien-Dindo IIIa or more) about 18 % + 0.8 % per PCI point, minor ones
  in about a third; deaths follow some major complications (30-day mortality about 2 %); length
  of stay about 11 days, longer after a major complication; follow-up at 3, 6, 12 and 24 months
  while in the past.

The outcome benchmarks this is shown against are in ``hipec/web/data/outcome_benchmarks.toml``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from hipec.clinical.candidacy import assess, case_from_dict, load_rule_set
from hipec.clinical.pci import MAX_LESION_SIZE_SCORE, PCI_REGIONS, REGION_COUNT
from hipec.errors import InvalidInputError
from hipec.protocols import get_regimen
from hipec.store.repository import add_case
from hipec.store.users import ROLES, add_user, find_user, generate_password

DEFAULT_CASE_COUNT = 60
DEFAULT_SEED = 2026
MAX_CASE_COUNT = 999
RULE_SET = "default"


@dataclass(frozen=True)
class SiteProfile:
    """How one primary site's cases are drawn."""

    weight: float
    mean_burden: float
    icd10: tuple[str, ...]
    histology: tuple[tuple[str, str], ...]
    regimens: tuple[str, ...]


SITES: dict[str, SiteProfile] = {
    "colorectal": SiteProfile(
        0.45,
        0.75,
        ("C18.0", "C18.2", "C18.4", "C18.7", "C20"),
        (
            ("adenocarcinoma", "moderately differentiated adenocarcinoma"),
            ("mucinous-adenocarcinoma", "mucinous adenocarcinoma"),
            ("signet-ring-cell-carcinoma", "signet ring cell carcinoma"),
        ),
        ("dutch-mmc", "prodige7", "elias-oxaliplatin"),
    ),
    "appendix": SiteProfile(
        0.22,
        1.35,
        ("C18.1",),
        (
            (
                "low-grade-appendiceal-mucinous-neoplasm",
                "low-grade appendiceal mucinous neoplasm (pseudomyxoma peritonei)",
            ),
            (
                "high-grade-appendiceal-mucinous-neoplasm",
                "high-grade appendiceal mucinous neoplasm",
            ),
            ("mucinous-adenocarcinoma", "mucinous adenocarcinoma of the appendix"),
        ),
        ("aspsm-mmc", "dutch-mmc"),
    ),
    "ovarian": SiteProfile(
        0.15,
        1.05,
        ("C56",),
        (("serous-carcinoma", "high-grade serous carcinoma, after neoadjuvant chemotherapy"),),
        ("ovhipec-cisplatin",),
    ),
    "gastric": SiteProfile(
        0.10,
        0.55,
        ("C16.9",),
        (
            ("adenocarcinoma", "poorly differentiated adenocarcinoma"),
            ("signet-ring-cell-carcinoma", "signet ring cell carcinoma"),
        ),
        ("gastric-cisplatin-mmc",),
    ),
    "mesothelioma": SiteProfile(
        0.08,
        1.1,
        ("C45.1",),
        (("epithelioid-mesothelioma", "epithelioid malignant peritoneal mesothelioma"),),
        ("mesothelioma-cisplatin-doxorubicin",),
    ),
}

#: Relative chance of disease per PCI region 0-12 (pelvis, central, right lower most often).
REGION_WEIGHTS: tuple[float, ...] = (
    1.3,
    0.9,
    0.7,
    0.7,
    0.8,
    0.9,
    1.5,
    1.2,
    0.8,
    0.6,
    0.6,
    0.7,
    0.8,
)
SMALL_BOWEL_REGIONS = frozenset({9, 10, 11, 12})

MINOR_COMPLICATIONS: tuple[tuple[str, str], ...] = (
    ("Paralytic ileus", "I"),
    ("Wound infection opened at the bedside", "I"),
    ("Pneumonia treated with antibiotics", "II"),
    ("Urinary tract infection", "II"),
    ("Blood transfusion for postoperative anaemia", "II"),
    ("Neutropenia after intraperitoneal chemotherapy", "II"),
    ("Deep vein thrombosis", "II"),
)
MAJOR_COMPLICATIONS: tuple[tuple[str, str], ...] = (
    ("Intra-abdominal abscess, percutaneous drainage", "IIIa"),
    ("Pleural effusion, chest drain", "IIIa"),
    ("Anastomotic leak, relaparotomy", "IIIb"),
    ("Postoperative bleeding, relaparotomy", "IIIb"),
    ("Enterocutaneous fistula, reoperation", "IIIb"),
    ("Acute kidney injury needing dialysis", "IVa"),
    ("Respiratory failure needing ventilation", "IVa"),
    ("Septic shock with multi-organ failure", "IVb"),
)
SYNTHETIC_NOTE = "Synthetic demo case generated by hipec (seed {seed}); not a real patient."


def _pick(rng: random.Random, options: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(list(options), weights=list(weights), k=1)[0]


def _clip(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _lesion_scores(rng: random.Random, burden: float) -> list[int]:
    scores = []
    for weight in REGION_WEIGHTS:
        level = burden * weight
        score = 0
        # each step up is less likely than the one before: few regions reach LS-3
        while score < MAX_LESION_SIZE_SCORE and rng.random() < _clip(level / (1 + score), 0, 0.95):
            score += 1
        scores.append(score)
    if not any(scores):
        scores[rng.choice((0, 6, 7))] = 1  # a staged patient has some disease
    return scores


def _imaging_scores(rng: random.Random, true_scores: Sequence[int]) -> list[int]:
    # CT under-reads small implants, above all on the small bowel
    seen = []
    for region, score in enumerate(true_scores):
        miss = 0.45 if region in SMALL_BOWEL_REGIONS else 0.2
        seen.append(max(0, score - 1) if score and rng.random() < miss else score)
    return seen


def _cc_score(rng: random.Random, pci: int, site: str) -> int:
    p_cc0 = 0.9 if pci < 10 else 0.7 if pci <= 20 else 0.45
    if site == "appendix":
        p_cc0 = min(0.95, p_cc0 + 0.1)
    if rng.random() < p_cc0:
        return 0
    return int(_pick(rng, (1, 2, 3), (0.7, 0.2, 0.1)))


def _resections(rng: random.Random, site: str, scores: Sequence[int]) -> list[str]:
    chosen: list[str] = []
    by_region = {
        0: "greater-omentectomy-splenectomy",
        1: "right-upper-quadrant-peritonectomy",
        2: "lesser-omentectomy-cholecystectomy",
        3: "left-upper-quadrant-peritonectomy",
        6: "pelvic-peritonectomy",
    }
    for region, code in by_region.items():
        if scores[region] >= 1:
            chosen.append(code)
    organ = {
        "colorectal": ("right-hemicolectomy", "sigmoid-colectomy", "anterior-resection-rectum"),
        "appendix": ("right-hemicolectomy", "appendicectomy"),
        "ovarian": ("hysterectomy-bilateral-salpingo-oophorectomy",),
        "gastric": ("partial-gastrectomy", "total-gastrectomy"),
        "mesothelioma": ("umbilectomy",),
    }[site]
    chosen.append(rng.choice(organ))
    if sum(scores[r] for r in SMALL_BOWEL_REGIONS) >= 3:
        chosen.append("small-bowel-resection")
    if rng.random() < 0.25 and "stoma-formation" not in chosen:
        chosen.append("stoma-formation")
    return list(dict.fromkeys(chosen))


def _postop(rng: random.Random, pci: int) -> dict[str, Any]:
    complications: list[dict[str, Any]] = []
    if rng.random() < 0.35:
        description, grade = rng.choice(MINOR_COMPLICATIONS)
        complications.append(
            {"description": description, "clavien_dindo": grade, "onset_day": rng.randint(1, 8)}
        )
    major = rng.random() < _clip(0.18 + 0.008 * pci, 0, 0.6)
    died_30d = False
    if major:
        description, grade = rng.choice(MAJOR_COMPLICATIONS)
        onset = rng.randint(2, 14)
        complications.append(
            {"description": description, "clavien_dindo": grade, "onset_day": onset}
        )
        if grade.startswith("IV") and rng.random() < 0.3:
            died_30d = True
            complications.append(
                {
                    "description": "Death from multi-organ failure",
                    "clavien_dindo": "V",
                    "onset_day": min(30, onset + rng.randint(3, 15)),
                }
            )
    died_90d = died_30d or rng.random() < 0.015
    stay = round(rng.lognormvariate(2.4, 0.22))
    if major:
        stay += rng.randint(5, 20)
    icu = round(_clip(rng.gauss(1.5, 0.8), 0, 5) + (rng.uniform(2, 10) if major else 0), 1)
    return {
        "icu_days": icu,
        "length_of_stay_days": int(_clip(stay, 6, 120)),
        "reoperation": any(c["clavien_dindo"] == "IIIb" for c in complications),
        "readmission": (not died_30d) and rng.random() < (0.3 if major else 0.12),
        "mortality_30d": died_30d,
        "mortality_90d": died_90d,
        "complications": complications,
    }


def _follow_ups(
    rng: random.Random, site: str, cc: int, surgery: dt.date, today: dt.date
) -> list[dict[str, Any]]:
    visits = []
    recurred = False
    yearly_recurrence = {"appendix": 0.12, "mesothelioma": 0.25}.get(site, 0.35)
    if cc >= 2:
        yearly_recurrence += 0.3
    for months in (3, 6, 12, 24):
        seen_on = surgery + dt.timedelta(days=round(months * 30.44))
        if seen_on > today:
            break
        if not recurred and rng.random() < yearly_recurrence * (months / 12) / 2:
            recurred = True
        status = "alive-with-disease" if recurred else "no-evidence-of-disease"
        visits.append(
            {
                "seen_on": seen_on.isoformat(),
                "status": status,
                "recurrence": recurred,
                "recurrence_sites": [_pick(rng, ("peritoneal", "liver", "lung"), (6, 3, 1))]
                if recurred
                else [],
            }
        )
    return visits


@dataclass(frozen=True)
class DemoCase:
    """A synthetic case document and the HIPEC regimen of its operation (``None``: not operated).

    The regimen is kept beside the document so that a perfusion of that regimen can be simulated
    and recorded for the case (the procedure record itself has no regimen field).
    """

    document: dict[str, Any]
    regimen_id: str | None


def synthetic_case(index: int, seed: int, rng: random.Random, today: dt.date) -> dict[str, Any]:
    """One synthetic case document (the form :func:`hipec.store.repository.add_case` takes)."""
    return _synthetic_case(index, seed, rng, today).document


def _synthetic_case(index: int, seed: int, rng: random.Random, today: dt.date) -> DemoCase:
    site = _pick(rng, list(SITES), [p.weight for p in SITES.values()])
    profile = SITES[site]
    sex = "female" if site == "ovarian" else _pick(rng, ("female", "male"), (0.52, 0.48))
    age = int(_clip(rng.gauss(57, 11), 25, 80))
    height = _clip(rng.gauss(164 if sex == "female" else 177, 7), 145, 200)
    bmi = _clip(rng.gauss(25.5, 4), 17, 40)
    weight = bmi * (height / 100) ** 2
    histology_type, histology = rng.choice(profile.histology)
    true_scores = _lesion_scores(rng, rng.gammavariate(2.0, profile.mean_burden / 2.0))
    imaging = _imaging_scores(rng, true_scores)
    surgery = today - dt.timedelta(days=rng.randint(20, 3 * 365))
    staged = surgery - dt.timedelta(days=rng.randint(14, 45))
    anticipated_cc = 0 if sum(imaging) < 15 else _pick(rng, (0, 1, 2), (0.5, 0.4, 0.1))
    candidacy = case_from_dict(
        {
            "case_id": f"SYN-{seed}-{index:03d}",
            "primary_site": site,
            "histology_type": histology_type,
            "pci_regions": {str(i): s for i, s in enumerate(imaging) if s},
            "extraperitoneal_disease": [] if rng.random() > 0.05 else ["liver-parenchymal"],
            "response_to_systemic_therapy": _pick(
                rng, ("response", "stable", "progression", "not-given"), (55, 30, 7, 8)
            ),
            "performance_status": _pick(rng, (0, 1, 2, 3), (50, 40, 8, 2)),
            "egfr_ml_min_1_73m2": round(_clip(rng.gauss(85, 15), 25, 130)),
            "bilirubin_umol_per_l": round(_clip(rng.gauss(10, 4), 3, 40)),
            "significant_comorbidities": [] if rng.random() > 0.12 else ["ischaemic-heart-disease"],
            "albumin_g_per_l": round(_clip(rng.gauss(38, 4), 22, 50)),
            "weight_loss_percent_6_months": round(_clip(rng.gauss(4, 3), 0, 18), 1),
            "bmi_kg_per_m2": round(bmi, 1),
            "anticipated_cc": anticipated_cc,
            "age_years": age,
        }
    )
    decision = assess(candidacy, load_rule_set(RULE_SET))
    assessments: list[dict[str, Any]] = [
        {
            "assessed_on": staged.isoformat(),
            "source": "imaging",
            "lesion_size_scores": imaging,
            "decision": decision.decision,
            "rule_set": decision.rule_set,
            "reasons": [result.to_dict() for result in decision.results],
            "notes": "staging CT; candidacy under the default rule set",
        }
    ]
    operated = decision.decision == "candidate" and rng.random() < 0.95
    operated = operated or (decision.decision == "needs team review" and rng.random() < 0.5)
    procedures: list[dict[str, Any]] = []
    follow_ups: list[dict[str, Any]] = []
    regimen_id: str | None = None
    if operated:
        pci = sum(true_scores)
        assessments.append(
            {
                "assessed_on": surgery.isoformat(),
                "source": "laparotomy",
                "lesion_size_scores": true_scores,
                "notes": "intra-operative PCI",
            }
        )
        regimen = get_regimen(rng.choice(profile.regimens))
        regimen_id = regimen.id
        cc = _cc_score(rng, pci, site)
        start = dt.datetime.combine(surgery, dt.time(8, rng.choice((0, 15, 30))), dt.UTC)
        hours = _clip(rng.gauss(5 + 0.22 * pci, 1.2), 3, 13)
        postop = _postop(rng, pci)
        procedures.append(
            {
                "performed_on": surgery.isoformat(),
                "technique": regimen.technique,
                "crs_start": start.isoformat(),
                "crs_end": (start + dt.timedelta(hours=hours)).isoformat(),
                "resections": _resections(rng, site, true_scores),
                "cc_score": cc,
                "blood_loss_ml": int(_clip(rng.lognormvariate(6.2, 0.5) + 25 * pci, 50, 8000)),
                "notes": f"HIPEC regimen {regimen.id} ({regimen.name})",
                "postop": postop,
            }
        )
        if not postop["mortality_90d"]:
            follow_ups = _follow_ups(rng, site, cc, surgery, today)
    icd10 = rng.choice(profile.icd10)
    document = {
        "case_number": f"SYN-{seed}-{index:03d}",
        "sex": sex,
        "birth_year": surgery.year - age,
        "height_cm": round(height, 1),
        "weight_kg": round(weight, 1),
        "primary_site": site,
        "primary_icd10": icd10,
        "histology": histology,
        "histology_type": histology_type,
        "synthetic": True,
        "notes": SYNTHETIC_NOTE.format(seed=seed),
        "assessments": assessments,
        "procedures": procedures,
        "follow_ups": follow_ups,
    }
    return DemoCase(document, regimen_id)


def synthetic_registry(
    count: int = DEFAULT_CASE_COUNT, seed: int = DEFAULT_SEED, today: dt.date | None = None
) -> list[DemoCase]:
    """``count`` synthetic cases with their regimens, the same for the same seed and date.

    Raises
    ------
    InvalidInputError
        Field ``cases`` if ``count`` is not 1-999.
    """
    if not 1 <= count <= MAX_CASE_COUNT:
        raise InvalidInputError("cases", f"must be 1-{MAX_CASE_COUNT}, got {count}")
    rng = random.Random(seed)
    day = today or dt.date.today()
    return [_synthetic_case(index, seed, rng, day) for index in range(1, count + 1)]


def synthetic_cases(
    count: int = DEFAULT_CASE_COUNT, seed: int = DEFAULT_SEED, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """``count`` synthetic case documents, the same for the same seed and date.

    Raises
    ------
    InvalidInputError
        Field ``cases`` if ``count`` is not 1-999.
    """
    return [case.document for case in synthetic_registry(count, seed, today)]


def seed_demo_registry(
    session: Session,
    *,
    count: int = DEFAULT_CASE_COUNT,
    seed: int = DEFAULT_SEED,
    actor: str,
    today: dt.date | None = None,
) -> list[str]:
    """Add ``count`` synthetic cases (audited as ``actor``); return their case numbers.

    Raises
    ------
    InvalidInputError
        If a case number of this seed exists already (seed again with another ``seed``).
    """
    return [
        add_case(session, case.document, actor=actor).case_number
        for case in synthetic_registry(count, seed, today)
    ]


def create_demo_users(session: Session, *, actor: str) -> dict[str, str]:
    """One account per role, named after it, with a random password; ``{username: password}``.

    Raises
    ------
    InvalidInputError
        If one of the accounts exists already.
    """
    passwords: dict[str, str] = {}
    for role in ROLES:
        if find_user(session, role) is not None:
            raise InvalidInputError("username", f"user {role!r} already exists")
        password = generate_password()
        add_user(session, role, role, password, actor=actor)
        passwords[role] = password
    return passwords


__all__ = [
    "DEFAULT_CASE_COUNT",
    "DEFAULT_SEED",
    "PCI_REGIONS",
    "REGION_COUNT",
    "DemoCase",
    "create_demo_users",
    "seed_demo_registry",
    "synthetic_case",
    "synthetic_cases",
    "synthetic_registry",
]
