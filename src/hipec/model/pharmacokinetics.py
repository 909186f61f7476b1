"""Pharmacokinetics submodel: peritoneum-to-plasma transfer and plasma disposition, per drug.

- Dedrick (1978) membrane route, per region ``i``: ``J_i = PA s_i (C_i - C_p)`` [mg/s], where
  ``PA`` [L/s] is the peritoneal permeability-area product and ``s_i`` the region's surface share --
  a region holding little or no drug passes little or none.
- Plasma, two compartments (free / ultrafilterable drug): central ``V_c`` and peripheral ``V_p`` [L]
  exchanging at ``Q`` [L/s]; renal clearance ``CL_r`` into the urine ledger and non-renal clearance
  ``CL_nr`` into the systemic-elimination ledger [L/s].
- Degradation in the perfusate ``k_deg`` [1/s] in every fluid compartment (circuit and cavity) into
  the degradation ledger.

For a single well-mixed cavity this reduces to Dedrick's ``AUC_IP / AUC_plasma = 1 + CL / PA``.
Size scaling: volumes, clearances and PA are proportional to body surface area relative to the
drug's reference BSA (a hipec assumption; the calibration data are for average adults).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hipec.model.parameters.base import ParameterSet
from hipec.model.state import DrugLayout, FloatArray, LinearSystemBuilder
from hipec.model.tissue import SURFACE_SHARE


@dataclass(frozen=True)
class DrugCoefficients:
    """Per-patient, per-drug coefficients, arrays of shape ``(patients, drugs)``."""

    permeability_area_l_s: FloatArray
    central_volume_l: FloatArray
    peripheral_volume_l: FloatArray
    intercompartmental_l_s: FloatArray
    renal_clearance_l_s: FloatArray
    nonrenal_clearance_l_s: FloatArray
    degradation_1_s: FloatArray


def drug_coefficients(
    sets: Sequence[Sequence[ParameterSet]], body_surface_area_m2: FloatArray
) -> DrugCoefficients:
    """Collect and size-scale drug coefficients; ``sets[patient][drug]``."""

    def table(key: str) -> FloatArray:
        return np.array([[s.value(key) for s in row] for row in sets], dtype=np.float64)

    scale = body_surface_area_m2[:, None] / table("Reference body surface area [m2]")
    return DrugCoefficients(
        permeability_area_l_s=table("Peritoneal permeability-area product [L/min]") * scale / 60.0,
        central_volume_l=table("Plasma central volume [L]") * scale,
        peripheral_volume_l=table("Plasma peripheral volume [L]") * scale,
        intercompartmental_l_s=table("Intercompartmental clearance [L/min]") * scale / 60.0,
        renal_clearance_l_s=table("Renal clearance [L/min]") * scale / 60.0,
        nonrenal_clearance_l_s=table("Non-renal clearance [L/min]") * scale / 60.0,
        degradation_1_s=table("Perfusate degradation rate [1/min]") / 60.0,
    )


def add_pharmacokinetics(
    builder: LinearSystemBuilder,
    layout: DrugLayout,
    coefficients: DrugCoefficients,
    region_volume_l: FloatArray,
) -> None:
    """Dedrick transfer, plasma disposition and perfusate degradation (drug system)."""
    central = coefficients.central_volume_l
    for region, share in enumerate(SURFACE_SHARE):
        builder.exchange(
            layout.regions[region],
            layout.plasma_central,
            coefficients.permeability_area_l_s * share,
            builder.per_patient(region_volume_l[:, region]),
            central,
        )
    builder.exchange(
        layout.plasma_central,
        layout.plasma_peripheral,
        coefficients.intercompartmental_l_s,
        central,
        coefficients.peripheral_volume_l,
    )
    builder.transfer(
        layout.plasma_central, layout.urine, coefficients.renal_clearance_l_s / central
    )
    builder.transfer(
        layout.plasma_central,
        layout.systemic_elimination,
        coefficients.nonrenal_clearance_l_s / central,
    )
    for index in layout.fluid:
        builder.transfer(index, layout.perfusate_degradation, coefficients.degradation_1_s)
