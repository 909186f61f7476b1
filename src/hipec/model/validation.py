"""Published experiments reproduced on the twin (``hipec validate``).

Each :class:`Experiment` restates a published procedure -- drug, dose, carrier volume, technique,
flow, inflow temperature, duration -- and the values the study reported (:class:`PublishedValue`:
value, spread, accepted tolerance and why, citation key). :func:`run_validation` runs every
experiment open-loop on the twin, as the studies describe them, and returns one
:class:`ValidationRow` per published value: the model's value and whether it lies within tolerance.

Conditions common to every experiment (hipec's choices where a study is silent, stated in
``conditions``):

- the perfusate (2 L/m2 unless stated, circuit included) is filled at the inflow temperature and
  the drug goes into the reservoir at t = 0 (the Dutch protocol starts the timer once the inflow is
  at temperature);
- the heater holds the published inflow temperature with :func:`inflow_hold_rule` -- a documented
  proportional rule with feed-forward, not the perfusion controller (``hipec.control``);
- after the perfusion the abdomen is drained and the plasma is followed for ``follow_up_h``.

Tolerances. Where a study gives a standard deviation the tolerance is one SD; where it gives an
approximate value ("about half", "near 42 C") the tolerance is stated next to it with its reason.
Tolerances were set from the publications, before looking at the model's values, and are never
tuned to make a row pass: a row that fails stays failed and its ``note`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from hipec.errors import InvalidInputError
from hipec.model import metrics
from hipec.model.cavity import VOLUME_SHARE, Technique
from hipec.model.citations import citation
from hipec.model.events import Event
from hipec.model.parameters import patient as patient_parameters
from hipec.model.patient import Patient
from hipec.model.simulation import Trajectory, simulate
from hipec.model.solver import Commands, Twin
from hipec.model.state import FloatArray

#: Proportional gain of the inflow-holding heater rule [W/K]: about the heat-capacity flow of
#: 1.5-2 L/min, so the loop stays stable with its ~30 s delay (heater lag and tubing transport);
#: the inflow then settles about 0.1 K below the setpoint.
HOLD_GAIN_W_PER_K = 150.0
#: Step of the validation runs [s].
VALIDATION_STEP_S = 2.0


@dataclass(frozen=True)
class InflowHoldRule:
    """The heater rule of the validation runs (a stand-in for the perfusionist holding the
    published inflow temperature; not the perfusion controller of ``hipec.control``).

    ``P = rho_c Q (T_set - T_reservoir) + G (T_set - T_inflow)``: the feed-forward heats the
    pumped flow from the reservoir temperature to the setpoint, the proportional part (``G`` =
    :data:`HOLD_GAIN_W_PER_K`) trims the tubing losses; the twin clips ``P`` to the heater's
    range. Pumps are balanced at ``flow_l_min``.
    """

    setpoint_c: float | FloatArray
    flow_l_min: float | FloatArray

    def __call__(self, twin: Twin) -> Commands:
        heat_capacity_flow = twin.model.fluid_heat_capacity * self.flow_l_min / 60.0  # [W/K]
        feed_forward = heat_capacity_flow * (self.setpoint_c - twin.reservoir_temperature_c)
        trim = HOLD_GAIN_W_PER_K * (self.setpoint_c - twin.inflow_temperature_c)
        power = np.maximum(feed_forward + trim, 0.0)
        return Commands(heater_power_w=power, inflow_l_min=self.flow_l_min)


def inflow_hold_rule(
    setpoint_c: float | FloatArray, flow_l_min: float | FloatArray
) -> InflowHoldRule:
    """An :class:`InflowHoldRule` holding ``setpoint_c`` [degC] at ``flow_l_min`` [L/min]
    (scalars, or one value per patient)."""
    return InflowHoldRule(setpoint_c, flow_l_min)


#: Outflow temperature the outflow-holding rule keeps [degC]: the centre of 41-43 C.
OUTFLOW_HOLD_C = 42.0
#: Highest inflow setpoint of the outflow-holding rule [degC] (heater-side safety cap).
OUTFLOW_HOLD_MAX_INFLOW_C = 45.0


@dataclass
class OutflowHoldRule:
    """The other way a centre runs the heat: hold the *outflow* (the abdominal temperature) at
    ``outflow_c`` by moving the inflow setpoint, a PI loop around :class:`InflowHoldRule`::

        T_set = clip(T_out,set + K (T_out,set - T_out) + I, T_out,set, T_set,max)
        dI/dt = (T_out,set - T_out) / T_i       (frozen while T_set is clipped)

    ``K`` = ``gain`` [K/K], ``T_i`` = ``integral_time_s`` [s]; evaluated every ``step_s`` [s]. A
    stand-in for a perfusionist, not the controller of ``hipec.control``; used to tell what the
    control site does to the core temperature (:func:`core_tail_drivers`).
    """

    outflow_c: float | FloatArray
    flow_l_min: float | FloatArray
    step_s: float
    max_inflow_c: float = OUTFLOW_HOLD_MAX_INFLOW_C
    gain: float = 1.0
    integral_time_s: float = 300.0
    _integral_k: FloatArray | None = None

    def __call__(self, twin: Twin) -> Commands:
        error = self.outflow_c - twin.outflow_temperature_c
        integral = np.zeros_like(error) if self._integral_k is None else self._integral_k
        wanted = self.outflow_c + self.gain * error + integral
        setpoint = np.clip(wanted, self.outflow_c, self.max_inflow_c)
        free = setpoint == wanted  # anti-windup: integrate only while unclipped
        self._integral_k = integral + np.where(free, error * self.step_s / self.integral_time_s, 0)
        return InflowHoldRule(setpoint, self.flow_l_min)(twin)


@dataclass(frozen=True)
class PublishedValue:
    """One value a study reported, and how close the twin must come.

    Parameters
    ----------
    outcome
        Key of the twin outcome compared (see :func:`experiment_outcomes`).
    quantity
        What it is, in words.
    unit
        Unit of ``value``, ``spread`` and ``tolerance``.
    value
        Published value.
    spread
        Published spread (SD unless ``spread_kind`` says otherwise); ``None`` if none was given.
    spread_kind
        ``"SD"``, ``"approximate"``, ``"point estimate"``, ...
    tolerance
        Accepted absolute deviation of the twin from ``value``.
    tolerance_basis
        Why this tolerance.
    source
        Citation key (:data:`hipec.model.citations.CITATIONS`).
    note
        Caveats, or the evidence why the twin cannot match the value.
    """

    outcome: str
    quantity: str
    unit: str
    value: float
    spread: float | None
    spread_kind: str
    tolerance: float
    tolerance_basis: str
    source: str
    note: str = ""

    @property
    def spread_text(self) -> str:
        """The spread as printed, e.g. ``"+- 0.085 (SD)"``."""
        if self.spread is None:
            return self.spread_kind
        return f"+- {self.spread:g} ({self.spread_kind})"


@dataclass(frozen=True)
class Experiment:
    """A published procedure with the values it reported.

    Parameters
    ----------
    identifier
        Short id, e.g. ``"elias-2002"``.
    title
        One line for the table.
    drug
        Drug name, or ``None`` for a thermal experiment.
    dose_mg_per_m2
        Dose [mg/m2] given into the reservoir at t = 0.
    technique
        ``"open"`` or ``"closed"``.
    flow_l_min
        Pump flow [L/min] (balanced pumps).
    inflow_c
        Inflow temperature held by :func:`inflow_hold_rule` [degC].
    duration_min
        Perfusion time [min].
    volume_l_per_m2
        Total perfusate [L/m2] (circuit included).
    follow_up_h
        Plasma follow-up after the drain [h] (0: none).
    patients
        ``(height_cm, weight_kg)`` of each virtual patient; one unless the study reports a
        cohort statistic.
    values
        What the study reported.
    conditions
        The published conditions and hipec's choices where the study is silent.
    cohort
        A :class:`VirtualCohort` with per-patient start temperature, flow, inflow temperature and
        heat transfer; when given it replaces ``patients``, ``flow_l_min`` and ``inflow_c``.
    """

    identifier: str
    title: str
    drug: str | None
    dose_mg_per_m2: float
    technique: Technique
    flow_l_min: float
    inflow_c: float
    duration_min: float
    volume_l_per_m2: float
    follow_up_h: float
    values: tuple[PublishedValue, ...]
    conditions: str
    patients: tuple[tuple[float, float], ...] = ((170.0, 70.0),)
    cohort: VirtualCohort | None = None


@dataclass(frozen=True)
class ValidationRow:
    """One published value next to the twin's value."""

    experiment: str
    title: str
    quantity: str
    unit: str
    published: float
    spread: str
    tolerance: float
    model: float
    met: bool
    source: str
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (NaN becomes ``None``)."""
        return {
            "experiment": self.experiment,
            "title": self.title,
            "quantity": self.quantity,
            "unit": self.unit,
            "published": self.published,
            "spread": self.spread,
            "tolerance": self.tolerance,
            "model": None if math.isnan(self.model) else self.model,
            "met": self.met,
            "source": self.source,
            "note": self.note,
        }


@dataclass(frozen=True)
class CohortDistribution:
    """How one between-patient quantity of the virtual cohort is sampled.

    Parameters
    ----------
    kind
        ``"normal"`` (``centre`` = mean, ``spread`` = SD) or ``"uniform"`` (``centre`` = low,
        ``spread`` = high); normal draws are clipped to ``low`` .. ``high``.
    centre, spread
        See ``kind`` [unit of the key].
    low, high
        Plausible bounds [unit of the key].
    source
        Citation key (:data:`hipec.model.citations.CITATIONS`).
    verified
        ``True`` only if the distribution was checked against the source.
    note
        Where the figures come from, or why they are an assumption.
    """

    kind: str
    centre: float
    spread: float
    low: float
    high: float
    source: str
    verified: bool
    note: str

    def __post_init__(self) -> None:
        citation(self.source)  # refuse unknown citation keys early

    def sample(self, rng: np.random.Generator, count: int) -> FloatArray:
        """``count`` draws [unit of the key]."""
        if self.kind == "uniform":
            return np.asarray(rng.uniform(self.centre, self.spread, count))
        return np.clip(rng.normal(self.centre, self.spread, count), self.low, self.high)


_A = "hipec-assumption"
_HTC_KEY = "Fluid-to-wall heat transfer coefficient [W/(m2.K)]"
_CONTACT_KEY = "Peritoneal contact area per body surface area [m2/m2]"
_ANATOMIC_KEY = "Anatomic peritoneal area per body surface area [m2/m2]"
_WETTED_KEY = "Wetted share of the anatomic peritoneum [-]"

#: Between-patient variability of the core-temperature cohort, keyed by quantity and unit. No
#: published distribution of the core temperature at the start of HIPEC (end of CRS) was found
#: (searched: Hendrix 2020 and doi 10.1245/s10434-021-10929-8 abstracts, the 2023 Front Oncol
#: review of temperature management, site-comparison studies): that entry is a hipec assumption.
COHORT_DISTRIBUTIONS: dict[str, CohortDistribution] = {
    "Height [cm]": CohortDistribution(
        "normal", 170.0, 9.5, 150.0, 195.0, _A, False,
        "mixed-sex adult height (men about 176, women about 162 cm, SD about 7 each); the "
        "studies' abstracts report no heights",
    ),
    "Body mass index [kg/m2]": CohortDistribution(
        "normal", 27.0, 5.0, 18.0, 40.0, _A, False,
        "CRS-HIPEC adults; BMI is a named factor in doi 10.1245/s10434-021-10929-8 but its "
        "distribution is not in the abstract",
    ),
    "Core temperature at the start of HIPEC [degC]": CohortDistribution(
        "uniform", 35.0, 37.5, 35.0, 37.5, _A, False,
        "after 6-12 h of CRS patients range from hypothermic (35 C) to normothermic (37.5 C); "
        "no published distribution found, so the range is sampled uniformly (the least "
        "informative choice for a range)",
    ),
    "Perfusion flow [L/min]": CohortDistribution(
        "uniform", 1.5, 3.0, 1.5, 3.0, "Hendrix2020", False,
        "Hendrix 2020 compares flows below and at or above 2.35 L/min; the range around that "
        "split (1.5-3 L/min) is hipec's reading, the flows themselves are not in the abstract",
    ),
    "Inflow temperature [degC]": CohortDistribution(
        "uniform", 42.0, 44.0, 42.0, 44.0, "ClosedInflow44", False,
        "closed technique inflow 42-44 C (44 C gave a mean perfusate of 42 C, "
        "doi 10.1245/s10434-017-6279-3; Elias 2002: 42-44 C)",
    ),
    _HTC_KEY: CohortDistribution(
        "uniform", 200.0, 400.0, 200.0, 400.0, _A, False,
        "forced convection of perfusate over the peritoneum, +-1/3 around the patient set's "
        "300 W/(m2.K) (wetting and stirring differ between patients); no published range",
    ),
    _ANATOMIC_KEY: CohortDistribution(
        "uniform", 0.6, 0.8, 0.6, 0.8, "PeritonealAreaReview", False,
        "peritoneal / body surface area 0.6-0.8 in adults (autopsy studies)",
    ),
    _WETTED_KEY: CohortDistribution(
        "uniform", 0.3, 0.6, 0.3, 0.6, "Fischbach2005", False,
        "contact (wetted) area 30-60 % of the anatomic peritoneum by CT, with posture and fill "
        "volume; the product of the two is the patient's peritoneal contact area per body "
        "surface area (0.18-0.48; the patient set's 0.3 lies inside)",
    ),
}  # fmt: skip


#: Perfusion time by regimen [min] with the share of patients given it, for cohorts that mix
#: regimens (doi 10.1245/s10434-021-10929-8 treated patients with mitomycin C, cisplatin or
#: oxaliplatin and names perfusion duration as a risk factor; its regimen mix is not in the
#: abstract, so the shares are equal thirds, a hipec assumption).
REGIMEN_PERFUSION_MIN: dict[str, tuple[float, float, str, bool, str]] = {
    # regimen: (perfusion time [min], share of patients [-], source, verified, note)
    "oxaliplatin": (30.0, 1.0 / 3.0, "Elias2002", False, "30 min (domain brief, section 3)"),
    "mitomycin C": (90.0, 1.0 / 3.0, "VanDerSpeeten2011", False, "90 min"),
    "cisplatin": (
        90.0, 1.0 / 3.0, _A, False,
        "OVHIPEC-1 90 min [verify]; gastric protocols 60-90 min (domain brief, section 3)",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class VirtualCohort:
    """Patients and their perfusion conditions, one entry per patient (see
    :func:`virtual_cohort`)."""

    patients: tuple[Patient, ...]
    flow_l_min: tuple[float, ...]
    inflow_c: tuple[float, ...]
    heat_transfer_w_per_m2_k: tuple[float, ...]
    regimen_perfusion_min: tuple[float, ...]
    seed: int
    #: peritoneal contact area per body surface area [m2/m2] (anatomic area x wetted share)
    contact_area_per_bsa: tuple[float, ...] = ()


def virtual_cohort(
    count: int,
    seed: int = 2020,
    distributions: dict[str, CohortDistribution] | None = None,
) -> VirtualCohort:
    """A reproducible virtual cohort sampled from :data:`COHORT_DISTRIBUTIONS`.

    Parameters
    ----------
    count
        Number of patients.
    seed
        Seed of :func:`numpy.random.default_rng`: the same seed gives the same cohort.
    distributions
        Replacements for some entries of :data:`COHORT_DISTRIBUTIONS` (same keys).
    """
    chosen = {**COHORT_DISTRIBUTIONS, **(distributions or {})}
    rng = np.random.default_rng(seed)
    # one draw per key in a fixed order, so that the cohort depends only on the seed
    later = (_ANATOMIC_KEY, _WETTED_KEY)  # added later: drawn last, earlier draws unchanged
    draws = {
        key: chosen[key].sample(rng, count) for key in COHORT_DISTRIBUTIONS if key not in later
    }
    heights = np.round(draws["Height [cm]"], 1)
    weights = np.round(draws["Body mass index [kg/m2]"] * (heights / 100.0) ** 2, 1)
    starts = np.round(draws["Core temperature at the start of HIPEC [degC]"], 2)
    regimen_times = [entry[0] for entry in REGIMEN_PERFUSION_MIN.values()]
    regimen_shares = [entry[1] for entry in REGIMEN_PERFUSION_MIN.values()]
    perfusion_min = rng.choice(regimen_times, size=count, p=regimen_shares)
    draws.update({key: chosen[key].sample(rng, count) for key in later})
    contact = draws[_ANATOMIC_KEY] * draws[_WETTED_KEY]
    patients = tuple(
        Patient(float(h), float(w), float(t))
        for h, w, t in zip(heights, weights, starts, strict=True)
    )
    return VirtualCohort(
        patients=patients,
        flow_l_min=tuple(float(v) for v in np.round(draws["Perfusion flow [L/min]"], 2)),
        inflow_c=tuple(float(v) for v in np.round(draws["Inflow temperature [degC]"], 2)),
        heat_transfer_w_per_m2_k=tuple(float(v) for v in np.round(draws[_HTC_KEY], 1)),
        regimen_perfusion_min=tuple(float(v) for v in perfusion_min),
        seed=seed,
        contact_area_per_bsa=tuple(float(v) for v in np.round(contact, 3)),
    )


#: Flow split of Hendrix 2020 [L/min].
HENDRIX_FLOW_SPLIT_L_MIN = 2.35
_CORE_COHORT = virtual_cohort(40)


_SD = "one published SD"

#: The published experiments of the domain brief (section 5) and the sources named there.
EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        identifier="oxaliplatin-elias-2002",
        title="Oxaliplatin 460 mg/m2, open, 2 L/m2, 2 L/min, 30 min",
        drug="oxaliplatin",
        dose_mg_per_m2=460.0,
        technique="open",
        flow_l_min=2.0,
        inflow_c=43.0,
        duration_min=30.0,
        volume_l_per_m2=2.0,
        follow_up_h=24.0,
        conditions=(
            "Elias 2002: open (skin pulled upwards), 42-44 C, 2 L/m2 dextrose 5 %, 2 L/min, 30 "
            "min; hipec holds the inflow at 43 C and follows plasma 24 h after the drain"
        ),
        values=(
            PublishedValue(
                "fraction_absorbed", "fraction of the dose absorbed at 30 min", "-", 0.50, None,
                "'half the dose', all dose levels", 0.08,
                "the spread Chalret du Rieu 2014 reports for the same quantity (8.5 %)",
                "Elias2002",
            ),
            PublishedValue(
                "fraction_absorbed", "maximum fraction absorbed", "-", 0.537, 0.085, "SD",
                0.085, _SD, "ChalretDuRieu2014",
            ),
            PublishedValue(
                "perfusate_half_life_h", "peritoneal elimination half-life", "h", 0.49, 0.10,
                "SD", 0.10, _SD, "ChalretDuRieu2014",
            ),
            PublishedValue(
                "auc_ratio_24h", "AUC perfusate / AUC plasma ultrafiltrate", "-", 5.3, 2.0, "SD",
                2.0, _SD, "ChalretDuRieu2014",
                "perfusate AUC over the perfusion, plasma AUC 0-24 h",
            ),
            PublishedValue(
                "peak_ratio", "peak perfusate / peak plasma concentration", "-", 25.0, None,
                "'25-fold' at 460 mg/m2", 10.0,
                "hipec's choice: +-40 % for a ratio read from a single dose level",
                "Elias2002",
            ),
            PublishedValue(
                "fraction_absorbed", "extent of absorption (population PK)", "-", 0.38, None,
                "point estimate", 0.08,
                "as for the Elias value",
                "PerezRuixo2013",
                "Perez-Ruixo's 38 % contradicts Elias 2002 (50 %) and Chalret du Rieu 2014 "
                "(53.7 +- 8.5 %) for the same procedure; the twin is calibrated to the latter "
                "two, so it cannot match both",
            ),
        ),
    ),
    Experiment(
        identifier="mmc-van-der-speeten-2011",
        title="Mitomycin C, open, 2 L/m2, 1.5 L/min, 90 min (n=145)",
        drug="mitomycin C",
        dose_mg_per_m2=35.0,
        technique="open",
        flow_l_min=1.5,
        inflow_c=42.0,
        duration_min=90.0,
        volume_l_per_m2=2.0,
        follow_up_h=0.0,
        conditions=(
            "Van der Speeten 2011: single intraperitoneal bolus, 90 min; dose, volume, flow and "
            "technique not in the abstract: hipec uses 35 mg/m2 (fractions do not depend on the "
            "dose in this linear model), 2 L/m2, 1.5 L/min, open, inflow 42 C"
        ),
        values=(
            PublishedValue(
                "fraction_remaining", "fraction of the dose in the perfusate at 90 min", "-",
                0.29, None, "mean, n=145", 0.05,
                "hipec's choice: +-5 percentage points (no spread in the abstract)",
                "VanDerSpeeten2011",
            ),
            PublishedValue(
                "fraction_retained", "fraction retained in the body at 90 min", "-", 0.62, None,
                "mean, n=145", 0.05, "as above", "VanDerSpeeten2011",
            ),
            PublishedValue(
                "fraction_urine", "fraction in urine at 90 min", "-", 0.09, None, "mean, n=145",
                0.03, "hipec's choice: +-3 percentage points (a third of the value)",
                "VanDerSpeeten2011",
            ),
            PublishedValue(
                "auc_ratio_window", "peritoneal / plasma exposure (AUC) ratio", "-", 27.0, None,
                "mean, n=145", 8.0, "hipec's choice: +-30 % (AUC ratios vary widely)",
                "VanDerSpeeten2011",
            ),
        ),
    ),
    Experiment(
        identifier="mmc-cerretani-2005",
        title="Mitomycin C 20 mg/m2, 60 min (n=28)",
        drug="mitomycin C",
        dose_mg_per_m2=20.0,
        technique="closed",
        flow_l_min=1.5,
        inflow_c=42.0,
        duration_min=60.0,
        volume_l_per_m2=2.0,
        follow_up_h=24.0,
        conditions=(
            "Cerretani 2005: 20 mg/m2 perfused over 60 min; technique, volume and flow not in "
            "the abstract: hipec uses closed, 2 L/m2, 1.5 L/min, inflow 42 C, 24 h follow-up"
        ),
        values=(
            PublishedValue(
                "plasma_cmax_mg_l", "plasma Cmax", "mg/L", 0.14, 0.086, "SD", 0.086, _SD,
                "Cerretani2005",
                "within one SD only at its edge: the MMC peritoneal PA and clearances are fitted "
                "to Van der Speeten 2011 (n=145), whose 71 % absorbed by 90 min implies about "
                "55 % by 60 min, against Cerretani's 37 +- 14 % (n=28); more drug reaches the "
                "plasma in the twin",
            ),
            PublishedValue(
                "plasma_tmax_min", "plasma Tmax", "min", 48.7, 5.61, "SD", 5.61, _SD,
                "Cerretani2005",
                "Van der Speeten 2011 and Cerretani 2005 disagree on how fast MMC leaves the "
                "perfusate (71 % absorbed by 90 min vs 37 % by 60 min); the twin follows the "
                "larger study, so its plasma exposure is higher than Cerretani's",
            ),
            PublishedValue(
                "plasma_auc_24h", "plasma AUC 0-24 h", "mg.min/L", 15.8, 9.8, "SD", 9.8, _SD,
                "Cerretani2005",
                "Van der Speeten 2011 and Cerretani 2005 disagree on how fast MMC leaves the "
                "perfusate (71 % absorbed by 90 min vs 37 % by 60 min); the twin follows the "
                "larger study, so its plasma exposure is higher than Cerretani's",
            ),
            PublishedValue(
                "plasma_terminal_half_life_min", "plasma terminal half-life", "min", 83.7, 31.74,
                "SD", 31.74, _SD, "Cerretani2005",
                "the twin's MMC plasma volumes (15 + 35 L) are hipec assumptions, not fitted; "
                "with the clearances fitted to Van der Speeten 2011 they set the terminal phase",
            ),
            PublishedValue(
                "fraction_absorbed", "fraction of the dose absorbed at 60 min", "-", 0.37, 0.14,
                "SD (range 0.14-0.57)", 0.14, _SD, "Cerretani2005",
                "Van der Speeten 2011 and Cerretani 2005 disagree on how fast MMC leaves the "
                "perfusate (71 % absorbed by 90 min vs 37 % by 60 min); the twin follows the "
                "larger study, so its plasma exposure is higher than Cerretani's",
            ),
            PublishedValue(
                "fraction_urine_24h", "fraction of the dose in 24-h urine", "-", 0.0721, 0.0373,
                "SD", 0.0373, _SD, "Cerretani2005",
                "the renal clearance is fitted to Van der Speeten's 9 % in urine by 90 min; "
                "urine collection then continues 24 h at that clearance, and more drug was "
                "absorbed (see above)",
            ),
        ),
    ),
    Experiment(
        identifier="closed-inflow-44c",
        title="Closed technique, inflow 44 C, 2 L/m2, 1.5 L/min, 90 min",
        drug=None,
        dose_mg_per_m2=0.0,
        technique="closed",
        flow_l_min=1.5,
        inflow_c=44.0,
        duration_min=90.0,
        volume_l_per_m2=2.0,
        follow_up_h=0.0,
        conditions=(
            "closed technique, inflow 44 C (domain brief, doi 10.1245/s10434-017-6279-3); flow "
            "and volume not given there: hipec uses 1.5 L/min and 2 L/m2, 90 min; the mean "
            "perfusate is the volume-weighted mean over the 13 regions after the first 10 min"
        ),
        values=(
            PublishedValue(
                "mean_perfusate_c", "mean abdominal perfusate temperature", "degC", 42.0, None,
                "'a mean perfusate of 42 C'", 0.5,
                "hipec's choice: +-0.5 K (probe sites differ by up to 1.5 C)",
                "ClosedInflow44",
            ),
        ),
    ),
    Experiment(
        identifier="core-temperature-cohort",
        title="Core temperature, 40 virtual patients, closed, inflow 42-44 C, 1.5-3 L/min",
        drug=None,
        dose_mg_per_m2=0.0,
        technique="closed",
        flow_l_min=math.nan,
        inflow_c=math.nan,
        duration_min=90.0,
        volume_l_per_m2=2.0,
        follow_up_h=0.0,
        cohort=_CORE_COHORT,
        conditions=(
            "closed perfusions without cooling, 40 virtual adults sampled with seed 2020 from "
            "COHORT_DISTRIBUTIONS (height, BMI, core temperature at the start of HIPEC 35-37.5 C, "
            "flow 1.5-3 L/min, inflow 42-44 C, fluid-to-wall heat transfer, peritoneal contact "
            "area; each with its source "
            "or assumption flag); Hendrix 2020: every patient 90 min; doi "
            "10.1245/s10434-021-10929-8 (mitomycin C, cisplatin, oxaliplatin): each patient's "
            "maximum within their regimen's perfusion time (REGIMEN_PERFUSION_MIN, equal thirds, "
            "an assumption); cooling protocols are not standardised: none is modelled"
        ),
        values=(
            PublishedValue(
                "share_core_39_5", "share of patients whose core reached >= 39.5 C", "-", 0.27,
                None, "36 of 135", 0.15,
                "hipec's choice: +-15 percentage points (cooling and probe sites differ between "
                "centres by up to 1.5 C)",
                "Hendrix2020",
                "with physiological variability (contact area 0.18-0.48 m2/m2 from published "
                "ranges, heat transfer, body size, flow, inflow) the twin warms patients by "
                "1.3-4 K in 90 min (highest core SD about 0.6 K), so only warm starts at hot "
                "inflows reach 39.5 C. Neither study reports the core at the start of HIPEC, and "
                "the two studies pull it apart (core_start_sensitivity, 40 patients): starts "
                "35-37.5 C give 0.05 here and 0.55 for >= 38 C (within tolerance); starts "
                "36-38 C give 0.15 here (within) but 0.75 for >= 38 C (outside). The centres "
                "differ (cooling protocols are "
                "not standardised; probe sites differ by up to 1.5 C) and transfusion (OR 5.7 "
                "for >= 39 C) is not modelled. Hendrix's flow associations depend on what the "
                "centre holds (flow_effect: the same 40 patients at 1.9 and 2.8 L/min): with the "
                "outflow held at 42 C, as a centre targeting the abdominal temperature does, the "
                "twin reproduces both, a lower core (by 0.04 K in every patient) and more region "
                "time in 41-43 C (0.88 -> 0.99); with each inflow held, more flow carries more "
                "heat in and the core rises 0.14 K",
            ),
            PublishedValue(
                "share_core_38_regimen_time",
                "share of patients whose bladder temperature reached >= 38 C", "-", 0.533, None,
                "114 of 214", 0.15, "as above", "BladderTemperature2021",
                "reproduced through perfusion time (a named risk factor of the study): 30-min "
                "oxaliplatin perfusions rarely reach 38 C, 90-min ones mostly do",
            ),
        ),
    ),
)  # fmt: skip


def _events(twin: Twin, experiment: Experiment) -> list[Event]:
    bsa = np.array([patient.body_surface_area_m2 for patient in twin.model.patients])
    fill = np.maximum(experiment.volume_l_per_m2 * bsa - twin.perfusate_volume_l, 0.0)
    if experiment.cohort is None:
        events = [Event(0.0, "fill", tuple(fill), "abdomen", temperature_c=experiment.inflow_c)]
    else:  # each patient filled at their own inflow temperature: one fill event per patient
        events = []
        for index, inflow_c in enumerate(experiment.cohort.inflow_c):
            amounts = np.zeros_like(fill)
            amounts[index] = fill[index]
            events.append(Event(0.0, "fill", tuple(amounts), "abdomen", temperature_c=inflow_c))
    if experiment.drug is not None:
        dose = tuple(experiment.dose_mg_per_m2 * bsa)
        events.append(Event(0.0, "dose", dose, "reservoir", drug=experiment.drug))
    return events


def _run(experiment: Experiment, hold: str = "inflow") -> tuple[Twin, Trajectory]:
    """Build the experiment's twin and run the perfusion (no follow-up). ``hold``: ``"inflow"``
    holds the published (or each patient's) inflow temperature; ``"outflow"`` holds the outflow
    at :data:`OUTFLOW_HOLD_C` instead (:class:`OutflowHoldRule`)."""
    drugs = [experiment.drug] if experiment.drug is not None else ["mitomycin C"]
    cohort = experiment.cohort
    if cohort is None:
        patients = [Patient(height, weight) for height, weight in experiment.patients]
        twin = Twin.create(patients, drugs, experiment.technique)
        rule = inflow_hold_rule(experiment.inflow_c, experiment.flow_l_min)
    else:
        defaults = patient_parameters.get_parameter_values()
        contact = cohort.contact_area_per_bsa or (None,) * len(cohort.patients)
        sets = [
            defaults.with_overrides(
                {_HTC_KEY: htc} if area is None else {_HTC_KEY: htc, _CONTACT_KEY: area}
            )
            for htc, area in zip(cohort.heat_transfer_w_per_m2_k, contact, strict=True)
        ]
        twin = Twin.create(
            list(cohort.patients), drugs, experiment.technique, patient_parameters=sets
        )
        rule = inflow_hold_rule(np.array(cohort.inflow_c), np.array(cohort.flow_l_min))
    commands: InflowHoldRule | OutflowHoldRule = rule
    if hold == "outflow":
        commands = OutflowHoldRule(OUTFLOW_HOLD_C, rule.flow_l_min, VALIDATION_STEP_S)
    elif hold != "inflow":
        raise InvalidInputError("hold", f"must be 'inflow' or 'outflow', got {hold!r}")
    trajectory = simulate(
        twin,
        experiment.duration_min * 60.0,
        VALIDATION_STEP_S,
        _events(twin, experiment),
        commands,
        record_every=5,
    )
    return twin, trajectory


def _core_maxima_within(trajectory: Trajectory, minutes: tuple[float, ...]) -> FloatArray:
    """Each patient's highest core temperature up to their own time ``minutes`` [degC]."""
    reached = trajectory.time_s[:, None] <= np.asarray(minutes)[None, :] * 60.0 + 1e-6
    masked = np.where(reached, trajectory.core_temperature_c, -np.inf)
    return np.asarray(masked.max(axis=0))


def _cohort_of(experiment: Experiment) -> VirtualCohort:
    """The experiment's virtual cohort; :class:`InvalidInputError` if it has none."""
    if experiment.cohort is None:
        raise InvalidInputError(
            "experiment", f"must have a virtual cohort, got {experiment.identifier}"
        )
    return experiment.cohort


def _region_time_in_range(trajectory: Trajectory) -> FloatArray:
    """Each patient's share of region-minutes within 41-43 C once the abdomen has filled and
    heated (after the first 10 min) [-], shape ``(patients,)``."""
    regions = trajectory.region_temperature_c[trajectory.time_s >= 600.0]
    return np.asarray(np.mean((regions >= 41.0) & (regions <= 43.0), axis=(0, 2)))


def core_tail_drivers(experiment: Experiment, hold: str = "inflow") -> dict[str, float]:
    """What drives the core-temperature tail of a cohort experiment.

    Splits the cohort at the median starting core temperature, at the median inflow temperature
    and at Hendrix's flow of :data:`HENDRIX_FLOW_SPLIT_L_MIN`, and returns for each half the mean
    highest core temperature [degC] (``mean_core_max_<half>_c``) and the share reaching
    >= 39.5 C [-] (``share_39_5_<half>``), and the share of region-minutes within 41-43 C after
    the first 10 min [-] (``region_time_in_range_<half>``). Halves: ``cool_start`` / ``warm_start``,
    ``cool_inflow`` / ``hot_inflow``, ``low_flow`` / ``high_flow`` (>= 2.35 L/min).

    ``hold="inflow"`` runs the cohort as the experiment says (each patient's inflow temperature
    held); ``hold="outflow"`` holds every patient's outflow at :data:`OUTFLOW_HOLD_C` instead
    (the inflow halves then split by the cohort's drawn inflow, which the rule does not use).

    Raises
    ------
    InvalidInputError
        If the experiment has no virtual cohort, or ``hold`` is neither.
    """
    cohort = _cohort_of(experiment)
    _, trajectory = _run(experiment, hold)
    maxima = np.asarray(trajectory.core_temperature_c.max(axis=0))
    in_range = _region_time_in_range(trajectory)
    starts = np.array([patient.core_temperature_c for patient in cohort.patients], dtype=float)
    inflow = np.array(cohort.inflow_c)
    flow = np.array(cohort.flow_l_min)
    splits = {
        ("cool_start", "warm_start"): starts > np.median(starts),
        ("cool_inflow", "hot_inflow"): inflow > np.median(inflow),
        ("low_flow", "high_flow"): flow >= HENDRIX_FLOW_SPLIT_L_MIN,
    }
    drivers: dict[str, float] = {}
    for (low, high), upper in splits.items():
        for name, members in ((low, ~upper), (high, upper)):
            drivers[f"mean_core_max_{name}_c"] = float(maxima[members].mean())
            drivers[f"share_39_5_{name}"] = float(np.mean(maxima[members] >= 39.5))
            drivers[f"region_time_in_range_{name}"] = float(in_range[members].mean())
    return drivers


#: Flows [L/min] of :func:`flow_effect`: either side of Hendrix 2020's 2.35 L/min split, inside
#: the cohort's 1.5-3 L/min.
FLOW_EFFECT_L_MIN = (1.9, 2.8)


def flow_effect(
    experiment: Experiment,
    hold: str = "inflow",
    flows_l_min: tuple[float, float] = FLOW_EFFECT_L_MIN,
) -> dict[str, float]:
    """What more flow does to the same patients: the cohort is run at each of the two flows (all
    patients alike, everything else as drawn) and compared patient by patient, so the
    between-patient spread that blurs a split of the cohort by its own flows cancels.

    Returns ``core_max_change_c`` (mean over patients of the highest core at the higher flow minus
    at the lower) [K], ``core_max_change_min_c`` / ``core_max_change_max_c`` (its range) [K], and
    ``region_time_in_range_low_flow`` / ``region_time_in_range_high_flow`` (share of
    region-minutes within 41-43 C after the first 10 min, cohort mean) [-]. ``hold`` as in
    :func:`core_tail_drivers`.

    Raises
    ------
    InvalidInputError
        If the experiment has no virtual cohort, the flows are not ``low < high`` within
        0.5-5 L/min, or ``hold`` is neither.
    """
    cohort = _cohort_of(experiment)
    low, high = flows_l_min
    if not 0.5 <= low < high <= 5.0:
        raise InvalidInputError(
            "flows_l_min", f"must be low < high within 0.5-5 L/min, got {low}, {high}"
        )
    maxima: list[FloatArray] = []
    in_range: list[float] = []
    for flow in (low, high):
        alike = replace(cohort, flow_l_min=(flow,) * len(cohort.patients))
        _, trajectory = _run(replace(experiment, cohort=alike), hold)
        maxima.append(np.asarray(trajectory.core_temperature_c.max(axis=0)))
        in_range.append(float(_region_time_in_range(trajectory).mean()))
    change = maxima[1] - maxima[0]
    return {
        "core_max_change_c": float(change.mean()),
        "core_max_change_min_c": float(change.min()),
        "core_max_change_max_c": float(change.max()),
        "region_time_in_range_low_flow": in_range[0],
        "region_time_in_range_high_flow": in_range[1],
    }


#: Ranges of the core temperature at the start of HIPEC [degC] that
#: :func:`core_start_sensitivity` compares: the cohort's own (a hipec assumption) and two warmer,
#: normothermic ones (centres that warm patients during the cytoreduction).
START_RANGES_C: tuple[tuple[float, float], ...] = ((35.0, 37.5), (36.0, 38.0), (36.5, 37.5))


def core_start_sensitivity(
    experiment: Experiment, start_ranges_c: tuple[tuple[float, float], ...] = START_RANGES_C
) -> list[dict[str, float]]:
    """How the cohort's core-temperature shares depend on the unpublished starting core.

    Re-samples the experiment's cohort (same size and seed) with the core temperature at the start
    of HIPEC uniform over each range and returns per range ``start_low_c``, ``start_high_c``,
    ``core_max_mean_c`` (90-min maxima, mean) [degC], ``share_core_39_5`` (Hendrix 2020's measure)
    and ``share_core_38_regimen_time`` (doi 10.1245/s10434-021-10929-8's measure, each patient
    within their regimen's time) [-].

    Raises
    ------
    InvalidInputError
        If the experiment has no virtual cohort, or a range is not ``low < high`` within 30-42 C.
    """
    cohort = _cohort_of(experiment)
    key = "Core temperature at the start of HIPEC [degC]"
    for low, high in start_ranges_c:  # all refused before any run
        if not 30.0 <= low < high <= 42.0:
            raise InvalidInputError(
                "start_ranges_c", f"each range must be low < high within 30-42 C, got {low}-{high}"
            )
    rows: list[dict[str, float]] = []
    for low, high in start_ranges_c:
        start = CohortDistribution("uniform", low, high, low, high, _A, False, "sensitivity")
        resampled = virtual_cohort(len(cohort.patients), cohort.seed, {key: start})
        _, trajectory = _run(replace(experiment, cohort=resampled))
        maxima = np.asarray(trajectory.core_temperature_c.max(axis=0))
        own = _core_maxima_within(trajectory, resampled.regimen_perfusion_min)
        rows.append(
            {
                "start_low_c": low,
                "start_high_c": high,
                "core_max_mean_c": float(maxima.mean()),
                "share_core_39_5": float(np.mean(maxima >= 39.5)),
                "share_core_38_regimen_time": float(np.mean(own >= 38.0)),
            }
        )
    return rows


def _terminal_half_life_min(time_s: FloatArray, plasma: FloatArray) -> float:
    """Half-life of the last third of the plasma curve [min] (log-linear fit)."""
    late = time_s >= time_s[0] + (time_s[-1] - time_s[0]) * 2.0 / 3.0
    positive = late & (plasma > 0.0)
    if positive.sum() < 2:
        return math.nan
    slope = float(np.polyfit(time_s[positive] / 60.0, np.log(plasma[positive]), 1)[0])
    return math.log(2.0) / -slope if slope < 0.0 else math.nan


def experiment_outcomes(experiment: Experiment) -> dict[str, float]:
    """Run one experiment on the twin and return every outcome the published values refer to.

    Keys: ``fraction_absorbed``, ``fraction_remaining``, ``fraction_retained``,
    ``fraction_urine`` (end of perfusion); ``perfusate_half_life_h``; ``auc_ratio_window``
    (perfusion window), ``auc_ratio_24h`` (perfusate over the perfusion / plasma 0 to the end of
    follow-up); ``peak_ratio``; ``plasma_cmax_mg_l``, ``plasma_tmax_min``, ``plasma_auc_24h``,
    ``plasma_terminal_half_life_min``, ``fraction_urine_24h``; ``mean_perfusate_c``,
    ``mean_inflow_c``; ``share_core_38``, ``share_core_39_5``, ``core_max_c`` (cohort mean);
    with a cohort also ``share_core_38_regimen_time`` (each patient's maximum within their
    regimen's perfusion time, :data:`REGIMEN_PERFUSION_MIN`).
    """
    twin, trajectory = _run(experiment)
    outcomes = _thermal_outcomes(twin, trajectory)
    if experiment.cohort is not None:
        own = _core_maxima_within(trajectory, experiment.cohort.regimen_perfusion_min)
        outcomes["share_core_38_regimen_time"] = float(np.mean(own >= 38.0))
    if experiment.drug is not None:
        outcomes.update(_drug_outcomes(twin, trajectory, experiment))
    return outcomes


def _thermal_outcomes(twin: Twin, trajectory: Trajectory) -> dict[str, float]:
    times = trajectory.time_s
    settled = times >= 600.0
    # volume-weighted over the regions (levels equalise: each region holds a fixed share)
    mean_region = (trajectory.region_temperature_c * VOLUME_SHARE).sum(axis=-1)  # (T, P)
    core_max = trajectory.core_temperature_c.max(axis=0)  # (P,)
    return {
        "mean_perfusate_c": float(mean_region[settled].mean()),
        "mean_inflow_c": float(trajectory.inflow_temperature_c[settled].mean()),
        "core_max_c": float(core_max.mean()),
        "share_core_38": float(np.mean(core_max >= 38.0)),
        "share_core_39_5": float(np.mean(core_max >= 39.5)),
    }


def _drug_outcomes(twin: Twin, trajectory: Trajectory, experiment: Experiment) -> dict[str, float]:
    times = trajectory.time_s
    perfusate = trajectory.perfusate_concentration_mg_l[:, 0, 0]
    plasma = trajectory.plasma_concentration_mg_l[:, 0, 0]
    absorbed = float(trajectory.fraction_absorbed[-1, 0, 0])
    urine = float(trajectory.fraction_urine[-1, 0, 0])
    late = times >= 300.0
    outcomes = {
        "fraction_absorbed": absorbed,
        "fraction_remaining": float(trajectory.fraction_remaining[-1, 0, 0]),
        "fraction_urine": urine,
        "fraction_retained": absorbed - urine,
        "perfusate_half_life_h": float(metrics.perfusate_half_life_h(times[late], perfusate[late])),
        "auc_ratio_window": float(metrics.exposure_ratio(times, perfusate, plasma)),
        "peak_ratio": float(perfusate.max() / plasma.max()),
    }
    all_times, all_plasma = times, plasma
    if experiment.follow_up_h > 0.0:
        twin.apply_event(Event(0.0, "drain", math.inf, "abdomen"))
        tail = simulate(twin, experiment.follow_up_h * 3600.0, 60.0, (), Commands())
        all_times = np.concatenate([times, times[-1] + tail.time_s[1:]])
        all_plasma = np.concatenate([plasma, tail.plasma_concentration_mg_l[1:, 0, 0]])
        outcomes["fraction_urine_24h"] = float(tail.fraction_urine[-1, 0, 0])
        outcomes["plasma_terminal_half_life_min"] = _terminal_half_life_min(
            tail.time_s, tail.plasma_concentration_mg_l[:, 0, 0]
        )
    cmax, tmax = metrics.peak(all_times, all_plasma)
    plasma_auc = float(metrics.auc_mg_min_per_l(all_times, all_plasma))
    outcomes["plasma_cmax_mg_l"] = float(cmax)
    outcomes["plasma_tmax_min"] = float(tmax) / 60.0
    outcomes["plasma_auc_24h"] = plasma_auc
    outcomes["auc_ratio_24h"] = float(metrics.auc_mg_min_per_l(times, perfusate)) / plasma_auc
    return outcomes


ProgressCallback = Callable[[int, int, str], None]


def run_validation(
    experiments: tuple[Experiment, ...] = EXPERIMENTS,
    progress: ProgressCallback | None = None,
) -> list[ValidationRow]:
    """Run every experiment and compare the twin with each published value.

    Parameters
    ----------
    experiments
        What to run (default :data:`EXPERIMENTS`).
    progress
        Called as ``progress(done, total, title)`` before each experiment and once at the end.
    """
    rows: list[ValidationRow] = []
    total = len(experiments)
    for index, experiment in enumerate(experiments):
        if progress is not None:
            progress(index, total, experiment.title)
        outcomes = experiment_outcomes(experiment)
        for published in experiment.values:
            model = outcomes.get(published.outcome, math.nan)
            met = bool(math.isfinite(model) and abs(model - published.value) <= published.tolerance)
            rows.append(
                ValidationRow(
                    experiment=experiment.identifier,
                    title=experiment.title,
                    quantity=published.quantity,
                    unit=published.unit,
                    published=published.value,
                    spread=published.spread_text,
                    tolerance=published.tolerance,
                    model=model,
                    met=met,
                    source=published.source,
                    note=published.note,
                )
            )
    if progress is not None:
        progress(total, total, "done")
    return rows
