"""Drug parameter sets: mitomycin C, oxaliplatin, cisplatin, doxorubicin.

Each drug has a Dedrick peritoneum-to-plasma permeability-area product, a two-compartment plasma
model
(free / ultrafilterable drug) with renal and non-renal clearance, degradation in the perfusate and
tissue-wall transport (diffusion, linear binding, capillary clearance). Values are for a reference
adult of body surface area ``"Reference body surface area [m2]"``;
:mod:`hipec.model.pharmacokinetics`
scales volumes, clearances and PA with body surface area.

The peritoneal PA and the clearances are *calibrated*: published HIPEC studies report outcomes
(fraction absorbed, perfusate half-life, exposure ratio), not the model's coefficients, so hipec
fitted the coefficients so that its twin reproduces those outcomes under the published procedure
(:data:`CALIBRATION_TARGETS`, checked by ``tests/model/test_calibration.py``). Such entries cite
``hipec-calibration`` and name their targets in the note. Calibration scenario (all drugs): patient
170 cm / 70 kg, total perfusate 2 L/m2 (circuit included), dose into the reservoir at t = 0;
oxaliplatin open, 2 L/min, 30 min, drained, plasma followed 24 h; mitomycin C open, 1.5 L/min, 90
min, 35 mg/m2 at once; cisplatin closed, 1.5 L/min, 90 min. Volumes and flows the studies did not
report are hipec's choices. Not fitted: Cerretani 2005 (MMC 20 mg/m2, 60 min); the twin's plasma
Cmax (about 0.23 mg/L) lies at the edge of Cerretani's 0.14 +- 0.086 ug/mL, its absorption, plasma
AUC and urine do not match (``hipec validate`` shows the rows and why). Tissue-transport values are
engineering estimates (``hipec-assumption``). Doxorubicin has no verified quantitative source in
hipec: every value is an order-of-magnitude placeholder flagged unverified, for exploration only.

Temperature: no temperature dependence of these coefficients is applied (the plasma-to-peritoneum
transfer at 41-43 C is what the calibration data describe). The published heat effects hipec knows
concern cytotoxicity, not transport (platinum synergy above 41 C, none for MMC; domain brief section
5): they weight the exposure in :mod:`hipec.model.parameters.thermal`, not the dynamics.
"""

from __future__ import annotations

from dataclasses import dataclass

from hipec.errors import NotFoundError
from hipec.model.parameters.base import ParameterSet, Sourced

_A = "hipec-assumption"
_C = "hipec-calibration"


def _common_tissue(diffusivity: float, binding: float, note: str) -> dict[str, Sourced]:
    return {
        "Tissue diffusivity [m2/s]": Sourced(diffusivity, _A, False, note),
        "Tissue binding ratio [-]": Sourced(
            binding, _A, False, "bound / free amount at equilibrium (linear binding)"
        ),
        "Tissue capillary clearance [1/min]": Sourced(
            0.02, _A, False, "capillary uptake per tissue volume; below tissue blood flow"
        ),
        "Tissue elimination rate [1/min]": Sourced(
            0.0, _A, False, "irreversible binding / metabolism in the wall; off by default"
        ),
    }


def mitomycin_c() -> ParameterSet:
    """Mitomycin C, calibrated to Van der Speeten 2011 (90 min, n=145)."""
    return ParameterSet(
        "mitomycin C",
        {
            "Reference body surface area [m2]": Sourced(1.8, _A, False, "scaling reference"),
            "Peritoneal permeability-area product [L/min]": Sourced(
                0.0357, _C, False, "target: 29 % of dose in perfusate at 90 min (VanDerSpeeten2011)"
            ),
            "Plasma central volume [L]": Sourced(
                15.0, _A, False, "with the peripheral volume gives Vss about 50 L"
            ),
            "Plasma peripheral volume [L]": Sourced(35.0, _A, False, ""),
            "Intercompartmental clearance [L/min]": Sourced(0.5, _A, False, ""),
            "Renal clearance [L/min]": Sourced(
                0.183, _C, False, "target: 9 % of dose in urine at 90 min (VanDerSpeeten2011)"
            ),
            "Non-renal clearance [L/min]": Sourced(
                0.393, _C, False, "target: peritoneal/plasma exposure ratio 27 (VanDerSpeeten2011)"
            ),
            "Perfusate degradation rate [1/min]": Sourced(
                0.0, _A, False, "chemical degradation in the perfusate not modelled by default"
            ),
            **_common_tissue(5.0e-10, 2.0, "small molecule in interstitium (~334 g/mol)"),
        },
    )


def oxaliplatin() -> ParameterSet:
    """Oxaliplatin, calibrated to Elias 2002 and Chalret du Rieu 2014 (30 min, 2 L/min, open)."""
    return ParameterSet(
        "oxaliplatin",
        {
            "Reference body surface area [m2]": Sourced(1.8, _A, False, "scaling reference"),
            "Peritoneal permeability-area product [L/min]": Sourced(
                0.0647,
                _C,
                False,
                "targets: half the dose absorbed in 30 min (Elias2002); perfusate half-life 0.49 h "
                "(ChalretDuRieu2014)",
            ),
            "Plasma central volume [L]": Sourced(
                20.0, _A, False, "Vss 77 L (PerezRuixo2013) split central / peripheral"
            ),
            "Plasma peripheral volume [L]": Sourced(
                57.0, "PerezRuixo2013", False, "Vss 77 L - 20 L"
            ),
            "Intercompartmental clearance [L/min]": Sourced(0.5, _A, False, ""),
            "Renal clearance [L/min]": Sourced(
                0.270, _C, False, "equal to the non-renal clearance (hipec assumption)"
            ),
            "Non-renal clearance [L/min]": Sourced(
                0.270,
                _C,
                False,
                "target: AUC ratio perfusate / plasma ultrafiltrate 5.3 (ChalretDuRieu2014); the "
                "CL 1.71 L/h of PerezRuixo2013 is inconsistent with that ratio in a Dedrick model "
                "and is not used",
            ),
            "Perfusate degradation rate [1/min]": Sourced(
                0.0, _A, False, "oxaliplatin is stable in 5 % dextrose over 30 min"
            ),
            **_common_tissue(5.0e-10, 4.0, "platinum complex (~397 g/mol); binds to proteins"),
        },
    )


def cisplatin() -> ParameterSet:
    """Cisplatin, calibrated to Cho 1999 (90 min, 1.5 L/min, 42.5 C, 100-400 mg/m2)."""
    return ParameterSet(
        "cisplatin",
        {
            "Reference body surface area [m2]": Sourced(1.8, _A, False, "scaling reference"),
            "Peritoneal permeability-area product [L/min]": Sourced(
                0.0385,
                _C,
                False,
                "target: 27.8 % of dose in perfusate at 90 min (Cho1999); Cattel2004 saw 35-37 % "
                "left at 60 min",
            ),
            "Plasma central volume [L]": Sourced(15.0, _A, False, "ultrafilterable cisplatin"),
            "Plasma peripheral volume [L]": Sourced(20.0, _A, False, ""),
            "Intercompartmental clearance [L/min]": Sourced(0.3, _A, False, ""),
            "Renal clearance [L/min]": Sourced(
                0.0239, _C, False, "equal to the non-renal clearance (hipec assumption)"
            ),
            "Non-renal clearance [L/min]": Sourced(
                0.0239,
                _C,
                False,
                "target: perfusate / plasma AUC ratio 13 (Cho1999); far below systemic cisplatin "
                "clearances, a sign that one well-mixed plasma and this ratio definition are crude",
            ),
            "Perfusate degradation rate [1/min]": Sourced(
                0.0, _A, False, "aquation / binding in perfusate not modelled by default"
            ),
            **_common_tissue(5.0e-10, 4.0, "small platinum complex (~300 g/mol)"),
        },
    )


def doxorubicin() -> ParameterSet:
    """Doxorubicin: unverified order-of-magnitude values (prolonged peritoneal retention,
    VanDerSpeeten2009, qualitative only)."""
    note = (
        "no verified quantitative source; prolonged retention per VanDerSpeeten2009 (qualitative)"
    )
    return ParameterSet(
        "doxorubicin",
        {
            "Reference body surface area [m2]": Sourced(1.8, _A, False, "scaling reference"),
            "Peritoneal permeability-area product [L/min]": Sourced(0.01, _A, False, note),
            "Plasma central volume [L]": Sourced(25.0, _A, False, note),
            "Plasma peripheral volume [L]": Sourced(800.0, _A, False, note),
            "Intercompartmental clearance [L/min]": Sourced(1.0, _A, False, note),
            "Renal clearance [L/min]": Sourced(0.05, _A, False, note),
            "Non-renal clearance [L/min]": Sourced(1.0, _A, False, note),
            "Perfusate degradation rate [1/min]": Sourced(0.0, _A, False, note),
            **_common_tissue(1.0e-10, 20.0, "large, DNA-intercalating; penetrates few cell layers"),
        },
    )


#: Drug name -> parameter-set factory.
DRUGS = {
    "mitomycin C": mitomycin_c,
    "oxaliplatin": oxaliplatin,
    "cisplatin": cisplatin,
    "doxorubicin": doxorubicin,
}

#: Accepted spellings -> canonical drug name.
DRUG_ALIASES: dict[str, str] = {
    "mitomycin c": "mitomycin C",
    "mitomycin": "mitomycin C",
    "mmc": "mitomycin C",
    "oxaliplatin": "oxaliplatin",
    "cisplatin": "cisplatin",
    "doxorubicin": "doxorubicin",
}


def drug_parameters(name: str) -> ParameterSet:
    """Parameter set of a drug by (case-insensitive) name or alias.

    Raises
    ------
    NotFoundError
        For an unknown drug.
    """
    canonical = DRUG_ALIASES.get(name.strip().lower())
    if canonical is None:
        raise NotFoundError("drug", f"must be one of {', '.join(DRUGS)} (or MMC), got {name!r}")
    return DRUGS[canonical]()


@dataclass(frozen=True)
class CalibrationTarget:
    """A published outcome the twin is calibrated against.

    Parameters
    ----------
    drug
        Drug name.
    quantity
        What is compared, e.g. ``"fraction remaining in perfusate [-]"``.
    value
        Published value.
    tolerance
        Accepted absolute deviation of the twin from ``value``.
    source
        Citation key.
    """

    drug: str
    quantity: str
    value: float
    tolerance: float
    source: str


#: Published outcomes (domain brief section 5 and the sources named there).
CALIBRATION_TARGETS: tuple[CalibrationTarget, ...] = (
    CalibrationTarget("oxaliplatin", "fraction absorbed at 30 min [-]", 0.50, 0.08, "Elias2002"),
    CalibrationTarget(
        "oxaliplatin", "perfusate half-life [h]", 0.49, 0.10, "ChalretDuRieu2014"
    ),
    CalibrationTarget(
        "oxaliplatin",
        "perfusate AUC 0-30 min / plasma AUC 0-24 h [-]",
        5.3,
        2.0,
        "ChalretDuRieu2014",
    ),
    CalibrationTarget(
        "mitomycin C", "fraction remaining in perfusate at 90 min [-]", 0.29, 0.05,
        "VanDerSpeeten2011",
    ),
    CalibrationTarget(
        "mitomycin C", "fraction in urine at 90 min [-]", 0.09, 0.03, "VanDerSpeeten2011"
    ),
    CalibrationTarget(
        "mitomycin C", "perfusate / plasma AUC ratio over the perfusion [-]", 27.0, 8.0,
        "VanDerSpeeten2011"
    ),
    CalibrationTarget(
        "cisplatin", "fraction remaining in perfusate at 90 min [-]", 0.278, 0.05, "Cho1999"
    ),
    CalibrationTarget("cisplatin", "perfusate / plasma AUC ratio over the perfusion [-]", 13.0, 4.0,
    "Cho1999"),
)  # fmt: skip
