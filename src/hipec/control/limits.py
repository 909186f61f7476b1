"""Safety limits of one perfusion: the regimen's hard limits plus hipec's configurable defaults.

The regimen (through its :class:`~hipec.protocols.plan.PerfusionPlan`) gives the maximum inflow and
intra-abdominal temperatures. Everything else is a hipec default, not a published figure: each is
listed in :data:`DEFAULT_LIMIT_SOURCES` with ``verified = False`` and can be overridden.

Trip points sit a margin *below* the hard limits so that the supervisor acts before a limit is
reached (the heater and the tubing keep heating for some seconds after the heater is cut).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from hipec.devices.base import SAFE_FLOW_L_PER_MIN
from hipec.errors import InvalidInputError
from hipec.protocols.plan import PerfusionPlan

#: No region of the abdomen may ever exceed this [C] (the fault campaign's requirement, issue 4).
ABSOLUTE_MAX_REGION_C = 44.0

LimitTechnique = Literal["open", "closed", "laparoscopic"]

#: Where each default comes from. None of these is a published limit; all need review.
DEFAULT_LIMIT_SOURCES: dict[str, dict[str, Any]] = {
    "max_core_c": {
        "value": 40.0,
        "verified": False,
        "source": "hipec default. Context: 27 % of 135 patients reached bladder >= 39.5 C during "
        "90 min HIPEC (Hendrix, Ann Surg Oncol 2020, via the domain brief); that is a reported "
        "share, not a limit.",
    },
    "core_warning_c": {
        "value": 39.5,
        "verified": False,
        "source": "hipec default: the 39.5 C threshold reported by Hendrix 2020 (domain brief).",
    },
    "max_line_pressure_mmhg": {
        "value": 300.0,
        "verified": False,
        "source": "hipec default for roller-pump inflow lines; no published figure found.",
    },
    "abdominal_pressure_warning_mmhg": {
        "value": 20.0,
        "verified": False,
        "source": "hipec default; 20 mmHg is the usual abdominal compartment syndrome threshold "
        "in intensive care (not checked against the WSACS consensus here).",
    },
    "max_abdominal_pressure_mmhg": {
        "value": 30.0,
        "verified": False,
        "source": "hipec default; closed HIPEC reported 2-34 mmHg "
        "(doi 10.1245/s10434-017-6279-3, via the domain brief).",
    },
    "min_reservoir_l": {
        "value": 0.25,
        "verified": False,
        "source": "hipec default, above the twin's 0.2 L reservoir minimum.",
    },
    "max_volume_imbalance_l": {"value": 0.5, "verified": False, "source": "hipec default"},
    "leak_rate_l_per_min": {"value": 0.3, "verified": False, "source": "hipec default"},
}


@dataclass(frozen=True, slots=True)
class SafetyLimits:
    """Limits the safety supervisor enforces (units in the names).

    Attributes
    ----------
    max_inflow_c
        The regimen's hard inflow limit [C].
    max_region_c
        Hard limit for any intra-abdominal probe [C]: the regimen's maximum, never above
        :data:`ABSOLUTE_MAX_REGION_C`.
    inflow_trip_margin_k, region_trip_margin_k
        The supervisor trips this far below the hard limits [K].
    max_core_c, core_warning_c
        Core temperature: trip (heater off) and medium warning [C].
    max_line_pressure_mmhg
        Inflow line pressure above which the line counts as occluded [mmHg].
    abdominal_pressure_warning_mmhg, max_abdominal_pressure_mmhg
        Intra-abdominal pressure: medium warning and trip (closed technique) [mmHg].
    min_reservoir_l
        Reservoir level below which the inflow pump could draw air [L].
    max_volume_imbalance_l
        Difference between pumped and commanded net volume (leaky integral) that raises an alarm
        [L].
    leak_rate_l_per_min
        Unexplained loss from the reservoir that counts as a leak [L/min].
    safe_flow_l_per_min
        Pump rate in the safe state [L/min].
    technique
        ``"open"``, ``"closed"`` or ``"laparoscopic"`` (pressure checks need a closed abdomen).
    """

    max_inflow_c: float
    max_region_c: float
    inflow_trip_margin_k: float = 0.3
    region_trip_margin_k: float = 0.3
    max_core_c: float = 40.0
    core_warning_c: float = 39.5
    max_line_pressure_mmhg: float = 300.0
    abdominal_pressure_warning_mmhg: float = 20.0
    max_abdominal_pressure_mmhg: float = 30.0
    min_reservoir_l: float = 0.25
    max_volume_imbalance_l: float = 0.5
    leak_rate_l_per_min: float = 0.3
    safe_flow_l_per_min: float = SAFE_FLOW_L_PER_MIN
    technique: LimitTechnique = "open"

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, float | int) and not math.isfinite(value):
                raise InvalidInputError(item.name, f"must be a finite number, got {value}")
        if self.max_region_c > ABSOLUTE_MAX_REGION_C:
            raise InvalidInputError(
                "max_region_c",
                f"must be <= {ABSOLUTE_MAX_REGION_C:g} C, got {self.max_region_c:g}",
            )
        for name in ("inflow_trip_margin_k", "region_trip_margin_k", "safe_flow_l_per_min"):
            if getattr(self, name) < 0:
                raise InvalidInputError(name, f"must be >= 0, got {getattr(self, name):g}")
        if self.core_warning_c > self.max_core_c:
            raise InvalidInputError(
                "core_warning_c",
                f"must not exceed max_core_c ({self.max_core_c:g} C), got {self.core_warning_c:g}",
            )

    @property
    def inflow_trip_c(self) -> float:
        """Inflow temperature at which the supervisor trips [C]."""
        return self.max_inflow_c - self.inflow_trip_margin_k

    @property
    def region_trip_c(self) -> float:
        """Intra-abdominal probe temperature at which the supervisor trips [C]."""
        return self.max_region_c - self.region_trip_margin_k

    @property
    def closed(self) -> bool:
        """The abdomen is closed (closed or laparoscopic), so intra-abdominal pressure is
        monitored."""
        return self.technique != "open"

    @classmethod
    def from_plan(cls, plan: PerfusionPlan, **overrides: Any) -> SafetyLimits:
        """Limits for one planned perfusion: the regimen's temperatures, hipec defaults for the
        rest, then ``overrides`` (any attribute by name).

        Raises
        ------
        InvalidInputError
            For an unknown override name or an invalid value.
        """
        technique: LimitTechnique = (
            "closed"
            if plan.technique == "closed"
            else "laparoscopic"
            if plan.technique == "laparoscopic"
            else "open"
        )
        limits = cls(
            max_inflow_c=plan.max_inflow_c,
            max_region_c=min(plan.max_intra_abdominal_c, ABSOLUTE_MAX_REGION_C),
            technique=technique,
        )
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InvalidInputError(
                unknown[0], f"is not a safety limit; accepted: {', '.join(sorted(known))}"
            )
        return replace(limits, **overrides)
