"""Citations the digital twin relies on, and a registry that says which ones a simulation used.

In the manner of PyBaMM's ``citations.py``: every parameter set names the keys of the works its
values
come from; :func:`format_citations` prints the full references of the keys a twin was built with.
A key marked ``hipec-assumption`` is a modelling choice of this project, not a published figure.
"""

from __future__ import annotations

from collections.abc import Iterable

from hipec.errors import NotFoundError

#: Full references by key. Only works named in hipec's domain brief or found while sourcing a value
#: are listed; a value that no listed work supports carries ``hipec-assumption``.
CITATIONS: dict[str, str] = {
    "hipec-assumption": (
        "hipec modelling assumption: a plausible engineering value chosen by the hipec developers, "
        "not taken from a publication; configurable, and flagged verified=False."
    ),
    "hipec-calibration": (
        "hipec calibration: value fitted by the hipec developers so that the twin reproduces the "
        "published targets named next to it (see tests/model/test_calibration.py)."
    ),
    "Sapareto1984": (
        "Sapareto SA, Dewey WC. Thermal dose determination in cancer therapy. "
        "Int J Radiat Oncol Biol Phys 1984;10:787-800."
    ),
    "Pennes1948": (
        "Pennes HH. Analysis of tissue and arterial blood temperatures in the resting human "
        "forearm. "
        "J Appl Physiol 1948;1:93-122."
    ),
    "Dedrick1978": (
        "Dedrick RL, Myers CE, Bungay PM, DeVita VT. Pharmacokinetic rationale for peritoneal drug "
        "administration in the treatment of ovarian cancer. Cancer Treat Rep 1978;62:1-11."
    ),
    "Jacquet1996": (
        "Jacquet P, Sugarbaker PH. Clinical research methodologies in diagnosis and staging of "
        "patients with peritoneal carcinomatosis. Cancer Treat Res 1996;82:359-74."
    ),
    "Mosteller1987": (
        "Mosteller RD. Simplified calculation of body-surface area. N Engl J Med 1987;317:1098."
    ),
    "Elias2002": (
        "Elias D, Bonnay M, Puizillou JM, et al. Heated intra-operative intraperitoneal "
        "oxaliplatin "
        "after complete resection of peritoneal carcinomatosis: pharmacokinetics and tissue "
        "distribution. Ann Oncol 2002;13:267-72."
    ),
    "ChalretDuRieu2014": (
        "Chalret du Rieu Q, White-Koning M, Picaud L, et al. Population pharmacokinetics of "
        "peritoneal, plasma ultrafiltrated and protein-bound oxaliplatin concentrations in "
        "patients "
        "with disseminated peritoneal cancer after intraperitoneal hyperthermic chemoperfusion of "
        "oxaliplatin following cytoreductive surgery. Cancer Chemother Pharmacol 2014;74:571-82."
    ),
    "PerezRuixo2013": (
        "Perez-Ruixo C, Valenzuela B, Peris JE, et al. Population pharmacokinetics of hyperthermic "
        "intraperitoneal oxaliplatin in patients with peritoneal carcinomatosis after "
        "cytoreductive "
        "surgery. 2013-2014 (as quoted by the hipec domain brief; journal details not verified)."
    ),
    "VanDerSpeeten2011": (
        "Van der Speeten K, Stuart OA, Chang D, Mahteme H, Sugarbaker PH. Changes induced by "
        "surgical "
        "and clinical factors in the pharmacology of intraperitoneal mitomycin C in 145 patients "
        "with "
        "peritoneal carcinomatosis. Cancer Chemother Pharmacol 2011;68:147-56."
    ),
    "Cerretani2005": (
        "Cerretani D, et al. Pharmacokinetics of mitomycin C after resection of peritoneal "
        "carcinomatosis and intraperitoneal chemohyperthermic perfusion. J Chemother "
        "2005;17(6):668-73 (title, journal, pages and the abstract's figures checked against the "
        "publisher's abstract page; co-authors not verified)."
    ),
    "ClosedInflow44": (
        "Closed-technique HIPEC temperature study, Ann Surg Oncol, doi 10.1245/s10434-017-6279-3 "
        "(as quoted by the hipec domain brief: inflow 44 C gave a mean perfusate of 42 C, "
        "intra-abdominal pressure 2-34 mmHg; authors and title not verified)."
    ),
    "BladderTemperature2021": (
        "Risk of intraoperative hyperthermia and outcomes in adults undergoing cytoreductive "
        "surgery (CRS) with hyperthermic intraperitoneal chemotherapy (HIPEC). Ann Surg Oncol, "
        "doi 10.1245/s10434-021-10929-8 (abstract: 114 of 214 reached a bladder temperature "
        ">= 38 C at any time; perfusion duration (OR 1.094 per min) and blood transfusion (OR 5.7) "
        "predicted >= 39 C; authors, year and pages not verified)."
    ),
    "Cho1999": (
        "Cho HK, Lush RM, Bartlett DL, et al. Pharmacokinetics of cisplatin administered by "
        "continuous hyperthermic peritoneal perfusion (CHPP) to patients with peritoneal "
        "carcinomatosis. J Clin Pharmacol 1999;39:394-401."
    ),
    "Cattel2004": (
        "Cattel L, De Simone M, Passera R, Verlengo MC, Delprino L. Pharmacokinetics of cisplatin "
        "in "
        "semi-closed hyperthermic peritoneal perfusion (HPP) for treatment of peritoneal "
        "carcinomatosis. Anticancer Res 2004;24:2041-5."
    ),
    "VanDerSpeeten2009": (
        "Van der Speeten K, Stuart OA, Mahteme H, Sugarbaker PH. A pharmacologic analysis of "
        "intraoperative intracavitary cancer chemotherapy with doxorubicin. Cancer Chemother "
        "Pharmacol 2009;63:799-805."
    ),
    "Hendrix2020": (
        "Hendrix RJ, Kassira JP, Lambert LA. Elevated maximum core body temperature during "
        "hyperthermic intraperitoneal chemoperfusion (HIPEC) is associated with increased "
        "postoperative complications. Ann Surg Oncol 2020;27:232-9, doi 10.1245/s10434-019-07495-5 "
        "(abstract: 36 of 135 patients (27 %) reached a maximum core >= 39.5 C during the 90-min "
        "HIPEC; flows >= 2.35 L/min went with a lower average core temperature (p = 0.05) and "
        "better peritoneal heating (p = 0.02))."
    ),
    "Fischbach2005": (
        "The influence of peritoneal surface area on dialysis adequacy. Perit Dial Int "
        "2005;25(Suppl 3):S137-40, doi 10.1177/089686080502503s36 (abstract: the contact area, the "
        "wetted membrane, is 30-60 % of the anatomic area in humans by computed tomography; "
        "authors not verified)."
    ),
    "PeritonealAreaReview": (
        "The physiology of peritoneal solute, water, and lymphatic transport (review; abstract: "
        "peritoneal / body surface area 0.6-0.8 in adults from autopsy studies, anatomic areas "
        "1.0-1.3 m2; authors, journal and year not verified)."
    ),
    "Cooney-CFD": (
        "Cooney et al., computational fluid dynamics of HIPEC perfusion: temperature spread "
        "0.9-3.6 K "
        "between sites over 90 min (as quoted by the hipec domain brief; full reference not "
        "verified)."
    ),
    "Helderman2020": (
        "Helderman RFCPA, Loke DR, Verhoeff J, et al. The temperature-dependent effectiveness of "
        "platinum-based drugs mitomycin-C and 5-FU during hyperthermic intraperitoneal "
        "chemotherapy (HIPEC) in colorectal cancer cell lines. Cells 2020;9(8):1775."
    ),
    "Loke2021": (
        "Loke DR, et al., 2021: cisplatin IC50 19.5 uM at 37 C and 6.8 uM at 43 C in vitro (as "
        "quoted by the hipec domain brief; journal and cell line not verified)."
    ),
    "ITIS-database": (
        "Hasgall PA, Di Gennaro F, Baumgartner C, et al. IT'IS Database for thermal and "
        "electromagnetic parameters of biological tissues (itis.swiss/database); version and exact "
        "values not re-checked by hipec."
    ),
}


def citation(key: str) -> str:
    """Full reference text of a citation key.

    Raises
    ------
    NotFoundError
        If ``key`` is not in :data:`CITATIONS`.
    """
    try:
        return CITATIONS[key]
    except KeyError:
        known = ", ".join(sorted(CITATIONS))
        raise NotFoundError("citation", f"must be one of {known}, got {key!r}") from None


def format_citations(keys: Iterable[str]) -> str:
    """Numbered list of the full references for ``keys`` (duplicates removed, order kept)."""
    unique = list(dict.fromkeys(keys))
    return "\n".join(f"[{number}] {citation(key)}" for number, key in enumerate(unique, start=1))
