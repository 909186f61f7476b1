"""Thermal enhancement of cytotoxicity: how much more a drug kills at a higher temperature.

Published heat effects on HIPEC drugs concern cytotoxicity, not transport (the twin's transfer
coefficients are calibrated on perfusions at 41-43 C and carry no temperature dependence). They
enter hipec as a thermal enhancement ratio, the drug's in-vitro IC50 at 37 C over its IC50 at
temperature ``T``::

    TER(T) = TER_43 ** ((T - 37) / 6)      37 C <= T <= 43 C   (log-linear between the two
    TER(T) = 1                             T < 37 C             measured points: a hipec
    TER(T) = TER_43                        T > 43 C             assumption; no extrapolation)

and weight a region's drug exposure in :func:`hipec.model.metrics.thermally_enhanced_auc`. Only
drugs with a published figure have an entry: mitomycin C (no synergy with heat, ratio 1) and
cisplatin (IC50 19.5 -> 6.8 uM from 37 to 43 C). Oxaliplatin is synergistic with heat above 41 C
(Helderman 2020) but hipec found no ratio to put on it; doxorubicin has none. Both report no
enhanced exposure rather than a guessed one. In-vitro ratios, cell-line specific: for comparing
regions and protocols, not for predicting response.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hipec.model.parameters.base import ParameterSet, Sourced

#: The temperature range the ratios were measured over [degC].
REFERENCE_C, MEASURED_HIGH_C = 37.0, 43.0

_CISPLATIN_IC50_37C_UM, _CISPLATIN_IC50_43C_UM = 19.5, 6.8

#: Drug name -> its thermal enhancement parameter set.
THERMAL_ENHANCEMENT: dict[str, ParameterSet] = {
    "mitomycin C": ParameterSet(
        "mitomycin C thermal enhancement",
        {
            "Thermal enhancement ratio at 43 C [-]": Sourced(
                1.0,
                "Helderman2020",
                False,
                "no synergy of MMC with heat in colorectal cancer cell lines (abstract level)",
            )
        },
    ),
    "cisplatin": ParameterSet(
        "cisplatin thermal enhancement",
        {
            "Thermal enhancement ratio at 43 C [-]": Sourced(
                _CISPLATIN_IC50_37C_UM / _CISPLATIN_IC50_43C_UM,
                "Loke2021",
                False,
                f"IC50 {_CISPLATIN_IC50_37C_UM} uM at 37 C / {_CISPLATIN_IC50_43C_UM} uM at 43 C",
            )
        },
    ),
}


def thermal_enhancement_ratio(drug: str, temperature_c: ArrayLike) -> NDArray[np.float64] | None:
    """``TER(T)`` [-] of ``drug`` at each temperature (see the module docstring), or ``None`` if
    no published ratio is known for the drug."""
    parameters = THERMAL_ENHANCEMENT.get(drug)
    if parameters is None:
        return None
    at_43 = parameters["Thermal enhancement ratio at 43 C [-]"]
    temperature = np.clip(np.asarray(temperature_c, dtype=np.float64), REFERENCE_C, MEASURED_HIGH_C)
    exponent = (temperature - REFERENCE_C) / (MEASURED_HIGH_C - REFERENCE_C)
    return np.asarray(at_43**exponent)


__all__ = ["MEASURED_HIGH_C", "REFERENCE_C", "THERMAL_ENHANCEMENT", "thermal_enhancement_ratio"]
