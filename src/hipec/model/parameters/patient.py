"""Patient and tissue parameter set: body heat balance and the peritoneal wall (Pennes bioheat).

Values are for a reference adult; :mod:`hipec.model.patient` scales what depends on body size.
"""

from __future__ import annotations

from hipec.model.parameters.base import ParameterSet, Sourced

_A = "hipec-assumption"


def get_parameter_values() -> ParameterSet:
    """Default patient and peritoneal-wall parameters."""
    return ParameterSet(
        "patient",
        {
            "Body specific heat capacity [J/(kg.K)]": Sourced(
                3470.0, _A, False, "common textbook value for whole-body heat capacity"
            ),
            "Metabolic heat production under anaesthesia [W/m2]": Sourced(
                40.0, _A, False, "basal about 45 W/m2, reduced under general anaesthesia"
            ),
            "Room temperature [degC]": Sourced(20.0, _A, False, "operating theatre"),
            "Core temperature at thermal balance [degC]": Sourced(
                36.5,
                _A,
                False,
                "core temperature at which metabolic heat equals losses to the room; sets the body "
                "heat-loss conductance",
            ),
            "Peritoneal contact area per body surface area [m2/m2]": Sourced(
                0.3,
                _A,
                False,
                "wetted share of the peritoneum times its area per BSA: published ranges give "
                "0.18-0.48 (30-60 % wetted by CT, Fischbach 2005; 0.6-0.8 m2 per m2 BSA, "
                "peritoneal physiology review), the virtual cohorts sample that range; 0.3 keeps "
                "the core warming about 1.5-3 K in 90 min at 42 C",
            ),
            "Wall thickness [m]": Sourced(0.010, _A, False, "modelled depth of the wall (issue 3)"),
            "Wall first cell thickness [m]": Sourced(
                1.0e-4, _A, False, "geometric grid, finest at the surface for drug penetration"
            ),
            "Wall cells [-]": Sourced(8.0, _A, False, "cells of the 1-D wall grid"),
            "Tissue density [kg/m3]": Sourced(1050.0, "ITIS-database", False, "soft tissue"),
            "Tissue specific heat capacity [J/(kg.K)]": Sourced(
                3600.0, "ITIS-database", False, "soft tissue / bowel wall, rounded"
            ),
            "Tissue thermal conductivity [W/(m.K)]": Sourced(
                0.5, "ITIS-database", False, "soft tissue / bowel wall, rounded"
            ),
            "Tissue blood perfusion rate [1/s]": Sourced(
                3.0e-4,
                "ITIS-database",
                False,
                "volumetric blood flow per tissue volume (about 18 mL/min per 100 mL); surgical "
                "stress and heat change it; configurable",
            ),
            "Blood volumetric heat capacity [J/(m3.K)]": Sourced(
                3.8e6, "ITIS-database", False, "1050 kg/m3 x 3617 J/(kg.K), rounded"
            ),
            "Fluid-to-wall heat transfer coefficient [W/(m2.K)]": Sourced(
                300.0, _A, False, "forced convection of perfusate over the peritoneum"
            ),
            "Initial core temperature [degC]": Sourced(
                36.5, _A, False, "start of HIPEC after cytoreduction"
            ),
        },
    )
