"""Test data: a plausible case document and plausible 1 Hz readings (built here, not stand-ins)."""

from __future__ import annotations

import math
from typing import Any

from hipec.devices.base import Reading


def case_document(case_number: str = "T-001", **changes: Any) -> dict[str, Any]:
    """A complete case: assessment, procedure with post-op course, follow-up."""
    document: dict[str, Any] = {
        "case_number": case_number,
        "sex": "female",
        "birth_year": 1962,
        "height_cm": 165.0,
        "weight_kg": 62.5,
        "primary_site": "appendix",
        "primary_icd10": "C18.1",
        "histology": "low-grade appendiceal mucinous neoplasm",
        "histology_type": "low-grade-appendiceal-mucinous-neoplasm",
        "assessments": [
            {
                "assessed_on": "2024-03-01",
                "source": "laparoscopy",
                "pci_regions": {"0": 2, "6": "confluent", "9": "4mm"},
                "decision": "candidate",
                "rule_set": "default",
                "reasons": [{"rule": "pci", "outcome": "met"}],
            }
        ],
        "procedures": [
            {
                "performed_on": "2024-04-02",
                "technique": "open",
                "crs_start": "2024-04-02T08:10:00+02:00",
                "crs_end": "2024-04-02T14:40:00+02:00",
                "resections": ["greater-omentectomy-splenectomy", "pelvic-peritonectomy"],
                "cc_score": "CC-0",
                "blood_loss_ml": 900,
                "postop": {
                    "icu_days": 2.5,
                    "length_of_stay_days": 16,
                    "reoperation": False,
                    "readmission": False,
                    "mortality_30d": False,
                    "mortality_90d": False,
                    "complications": [
                        {
                            "description": "pleural effusion drained",
                            "clavien_dindo": "IIIa",
                            "ctcae_grade": 3,
                            "onset_day": 5,
                        },
                        {"description": "wound infection", "clavien_dindo": "I"},
                    ],
                },
            }
        ],
        "follow_ups": [
            {"seen_on": "2024-10-01", "status": "no-evidence-of-disease", "recurrence": False}
        ],
    }
    document.update(changes)
    return document


def reading(
    time_s: float, *, regions: tuple[int, ...] = (0, 6, 3), probe_nan: bool = False
) -> Reading:
    """A plausible mid-perfusion reading at ``time_s``: inflow ~42.5 C, cavity ~41.5 C."""
    wobble = 0.2 * math.sin(time_s / 30.0)
    cavity = tuple(41.5 + wobble - 0.1 * i for i in range(len(regions)))
    if probe_nan:
        cavity = (math.nan, *cavity[1:])
    return Reading(
        time_s=time_s,
        inflow_c=42.5 + wobble,
        outflow_c=41.2 + wobble,
        reservoir_c=42.8 + wobble,
        cavity_c=cavity,
        cavity_probe_regions=regions,
        core_c=37.9 + 0.001 * time_s,
        inflow_l_per_min=1.5,
        outflow_l_per_min=1.5,
        line_pressure_mmhg=180.0,
        abdominal_pressure_mmhg=math.nan,
        reservoir_volume_l=2.1,
        air_in_line=False,
        power="mains",
        heater_power_w=850.0,
    )
