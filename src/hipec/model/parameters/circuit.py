"""Perfusion circuit parameter set: reservoir, heater / heat exchanger, pumps and tubing.

No machine datasheet was available to hipec: every value is a plausible engineering figure for a
HIPEC perfusion machine (roller pumps, heater and heat exchanger, 3/8 inch tubing) and is flagged
unverified; all are configurable.
"""

from __future__ import annotations

from hipec.model.parameters.base import ParameterSet, Sourced

_A = "hipec-assumption"


def get_parameter_values() -> ParameterSet:
    """Default circuit parameters."""
    return ParameterSet(
        "circuit",
        {
            "Heater maximum power [W]": Sourced(3000.0, _A, False, "power limit of the heater"),
            "Heater element heat capacity [J/K]": Sourced(
                3000.0, _A, False, "heater block and exchanger metal"
            ),
            "Heater element to fluid conductance [W/K]": Sourced(
                300.0, _A, False, "with the element capacity gives a 10 s thermal lag"
            ),
            "Heat exchanger fluid volume [L]": Sourced(0.2, _A, False, ""),
            "Inflow tubing volume [L]": Sourced(
                0.25, _A, False, "about 3.5 m of 3/8 inch (9.5 mm) tubing"
            ),
            "Outflow tubing volume [L]": Sourced(0.25, _A, False, "as inflow"),
            "Tubing cells [-]": Sourced(
                4.0, _A, False, "plug-flow cells per line; gives the transport delay"
            ),
            "Inflow tubing heat loss conductance [W/K]": Sourced(
                1.5, _A, False, "about 0.4 W/K per metre, PVC tubing partly under drapes"
            ),
            "Outflow tubing heat loss conductance [W/K]": Sourced(1.5, _A, False, "as inflow"),
            "Reservoir heat loss conductance [W/K]": Sourced(3.0, _A, False, ""),
            "Reservoir priming volume [L]": Sourced(
                0.4,
                _A,
                False,
                "fluid in the reservoir once the circuit is primed; with the exchanger and lines "
                "the "
                "circuit holds about 1.1 L (J Ovarian Res 2021: about 20 % of a cisplatin dose "
                "stays in "
                "the circuit, via the domain brief)",
            ),
            "Reservoir minimum volume [L]": Sourced(
                0.2, _A, False, "the inflow pump stops short of running the reservoir dry"
            ),
            "Perfusate volumetric heat capacity [J/(L.K)]": Sourced(
                4150.0, _A, False, "water at 40 C: 992 kg/m3 x 4.18 kJ/(kg.K)"
            ),
            "Priming fluid temperature [degC]": Sourced(37.0, _A, False, "fluid warmed before use"),
        },
    )
