"""Body surface area (BSA), the basis of HIPEC dosing (mg/m2) and carrier volume (L/m2).

Formulas
--------
- Mosteller (default): ``BSA = sqrt(height_cm * weight_kg / 3600)``.
  Mosteller RD. Simplified calculation of body-surface area. N Engl J Med 1987;317:1098.
- DuBois: ``BSA = 0.007184 * height_cm**0.725 * weight_kg**0.425``.
  Du Bois D, Du Bois EF. A formula to estimate the approximate surface area if height and weight be
  known. Arch Intern Med 1916;17:863-71.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from hipec.errors import InvalidInputError

BsaFormula = Literal["mosteller", "dubois"]
BSA_FORMULAS: tuple[str, ...] = get_args(BsaFormula)

#: Plausible adult and adolescent ranges; values outside are almost always entry errors (a height in
#: metres, a weight in pounds) and are refused rather than dosed.
HEIGHT_RANGE_CM: tuple[float, float] = (100.0, 250.0)
WEIGHT_RANGE_KG: tuple[float, float] = (25.0, 300.0)


def _check_range(field: str, value: float, bounds: tuple[float, float], unit: str) -> float:
    low, high = bounds
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidInputError(field, f"must be {low:g}-{high:g} {unit}, got {value:g}")
    return float(value)


def check_height_cm(height_cm: float) -> float:
    """Return ``height_cm`` if it lies in :data:`HEIGHT_RANGE_CM`, else raise InvalidInputError."""
    return _check_range("height_cm", height_cm, HEIGHT_RANGE_CM, "cm")


def check_weight_kg(weight_kg: float) -> float:
    """Return ``weight_kg`` if it lies in :data:`WEIGHT_RANGE_KG`, else raise InvalidInputError."""
    return _check_range("weight_kg", weight_kg, WEIGHT_RANGE_KG, "kg")


def bsa_mosteller(height_cm: float, weight_kg: float) -> float:
    """Body surface area [m2] by Mosteller (1987); inputs unchecked."""
    return math.sqrt(height_cm * weight_kg / 3600.0)


def bsa_dubois(height_cm: float, weight_kg: float) -> float:
    """Body surface area [m2] by DuBois & DuBois (1916); inputs unchecked."""
    return float(0.007184 * height_cm**0.725 * weight_kg**0.425)


def body_surface_area_m2(
    height_cm: float, weight_kg: float, formula: BsaFormula = "mosteller"
) -> float:
    """Body surface area [m2] of a patient.

    Parameters
    ----------
    height_cm
        Height [cm], 100-250.
    weight_kg
        Weight [kg], 25-300.
    formula
        ``"mosteller"`` (default) or ``"dubois"``.

    Raises
    ------
    InvalidInputError
        If a value is outside its plausible range or the formula is unknown.
    """
    height_cm = check_height_cm(height_cm)
    weight_kg = check_weight_kg(weight_kg)
    if formula == "mosteller":
        return bsa_mosteller(height_cm, weight_kg)
    if formula == "dubois":
        return bsa_dubois(height_cm, weight_kg)
    raise InvalidInputError(
        "bsa_formula", f"must be one of {', '.join(BSA_FORMULAS)}, got {formula!r}"
    )
