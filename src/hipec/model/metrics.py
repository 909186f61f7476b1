"""Treatment metrics: plain functions over time-series arrays (time on the first axis).

- Thermal dose CEM43 (Sapareto & Dewey 1984): ``sum dt R^(43 - T)`` with ``R = 0.5`` at
  ``T >= 43 C``, ``0.25`` below, nothing below 37 C; 1 min at 44 C = 2 CEM43 min, 1 min at 42 C =
  0.25 CEM43 min. Each interval uses the temperature at its end (a left-closed step rule would shift
  the dose by one step).
- Time in a temperature range, AUC (trapezoid), exposure ratio, Cmax / Tmax.
- Thermally enhanced AUC: the AUC weighted by the drug's thermal enhancement of cytotoxicity at
  the temperature it was at (:mod:`hipec.model.parameters.thermal`).
- Penetration depth: the depth where the tissue concentration falls to 10 % of its surface value,
  interpolated on log-concentration between cell centres.
- Temperature change over the first mm of wall.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from hipec.errors import InvalidInputError
from hipec.model.state import FloatArray


def _times(time_s: ArrayLike) -> FloatArray:
    times = np.asarray(time_s, dtype=np.float64)
    if times.ndim != 1 or times.size < 1 or np.any(np.diff(times) < 0.0):
        raise InvalidInputError("time_s", "must be a non-decreasing 1-D array of times [s]")
    return times


def _intervals(time_s: ArrayLike) -> FloatArray:
    """Length of the interval ending at each sample [s] (zero for the first)."""
    times = _times(time_s)
    return np.concatenate([[0.0], np.diff(times)])


def _broadcast_time(weights: FloatArray, values: FloatArray) -> FloatArray:
    if values.shape[0] != weights.shape[0]:
        raise InvalidInputError(
            "values",
            f"must have the time axis first ({weights.shape[0]} samples), got {values.shape}",
        )
    return weights.reshape(weights.shape + (1,) * (values.ndim - 1))


def cem43_minutes(time_s: ArrayLike, temperature_c: ArrayLike) -> FloatArray:
    """Cumulative equivalent minutes at 43 C [min] over the series, per trailing element.

    Parameters
    ----------
    time_s
        Sample times [s], shape ``(T,)``.
    temperature_c
        Temperatures [degC], shape ``(T, ...)``.
    """
    temperature = np.asarray(temperature_c, dtype=np.float64)
    dt_min = _broadcast_time(_intervals(time_s) / 60.0, temperature)
    base = np.where(temperature >= 43.0, 0.5, 0.25)
    rate = np.where(temperature >= 37.0, base ** (43.0 - temperature), 0.0)
    return np.asarray((dt_min * rate).sum(axis=0))


def time_in_range_minutes(
    time_s: ArrayLike, temperature_c: ArrayLike, low_c: float = 41.0, high_c: float = 43.0
) -> FloatArray:
    """Minutes with ``low_c <= T <= high_c`` [min] (interval rule as for CEM43)."""
    temperature = np.asarray(temperature_c, dtype=np.float64)
    dt_min = _broadcast_time(_intervals(time_s) / 60.0, temperature)
    inside = (temperature >= low_c) & (temperature <= high_c)
    return np.asarray((dt_min * inside).sum(axis=0))


def auc_mg_min_per_l(time_s: ArrayLike, concentration_mg_l: ArrayLike) -> FloatArray:
    """Area under the concentration curve [mg.min/L] (trapezoid rule)."""
    concentration = np.asarray(concentration_mg_l, dtype=np.float64)
    times = _times(time_s)
    _broadcast_time(times, concentration)
    return np.asarray(np.trapezoid(concentration, times / 60.0, axis=0))


def thermally_enhanced_auc(
    time_s: ArrayLike, concentration_mg_l: ArrayLike, enhancement_ratio: ArrayLike
) -> FloatArray:
    """Drug AUC weighted by the thermal enhancement of its cytotoxicity [mg.min/L]:
    ``integral C(t) TER(T(t)) dt`` (trapezoid rule), the exposure at 37 C that would kill as much
    in vitro. ``enhancement_ratio`` has the shape of ``concentration_mg_l`` (see
    :func:`hipec.model.parameters.thermal.thermal_enhancement_ratio`)."""
    concentration = np.asarray(concentration_mg_l, dtype=np.float64)
    ratio = np.asarray(enhancement_ratio, dtype=np.float64)
    if ratio.shape != concentration.shape:
        raise InvalidInputError(
            "enhancement_ratio",
            f"must have the shape of the concentrations {concentration.shape}, got {ratio.shape}",
        )
    return auc_mg_min_per_l(time_s, concentration * ratio)


def exposure_ratio(
    time_s: ArrayLike, perfusate_mg_l: ArrayLike, plasma_mg_l: ArrayLike
) -> FloatArray:
    """Perfusate AUC / plasma AUC over the same window [-] (NaN where the plasma AUC is zero)."""
    perfusate = auc_mg_min_per_l(time_s, perfusate_mg_l)
    plasma = auc_mg_min_per_l(time_s, plasma_mg_l)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(plasma > 0.0, perfusate / plasma, np.nan))


def peak(time_s: ArrayLike, concentration_mg_l: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``(Cmax [mg/L], Tmax [s])`` along the time axis."""
    concentration = np.asarray(concentration_mg_l, dtype=np.float64)
    times = _times(time_s)
    _broadcast_time(times, concentration)
    index = np.argmax(concentration, axis=0)
    return np.asarray(concentration.max(axis=0)), np.asarray(times[index])


def penetration_depth_m(
    depth_m: ArrayLike, concentration_mg_l: ArrayLike, fraction: float = 0.1
) -> FloatArray:
    """Depth [m] where the tissue concentration first falls to ``fraction`` of its surface value.

    Parameters
    ----------
    depth_m
        Cell-centre depths [m], shape ``(n,)``, increasing.
    concentration_mg_l
        Tissue concentration profiles, shape ``(..., n)``; the first cell stands for the surface.
    fraction
        Threshold relative to the surface value (0-1).

    Returns
    -------
    Depth per profile [m]; the deepest cell centre if the profile never falls that low, NaN for an
    empty (all-zero) profile.
    """
    if not 0.0 < fraction < 1.0:
        raise InvalidInputError("fraction", f"must be between 0 and 1, got {fraction!r}")
    depth = np.asarray(depth_m, dtype=np.float64)
    profile = np.asarray(concentration_mg_l, dtype=np.float64)
    flat = profile.reshape(-1, depth.size)
    result = np.full(flat.shape[0], np.nan)
    for row, values in enumerate(flat):
        surface = values[0]
        if surface <= 0.0:
            continue
        threshold = fraction * surface
        below = np.nonzero(values <= threshold)[0]
        if below.size == 0:
            result[row] = depth[-1]
            continue
        k = int(below[0])
        upper, lower = max(values[k - 1], 1e-300), max(values[k], 1e-300)
        weight = (np.log(upper) - np.log(threshold)) / (np.log(upper) - np.log(lower))
        result[row] = depth[k - 1] + weight * (depth[k] - depth[k - 1])
    return result.reshape(profile.shape[:-1])


def first_mm_temperature_drop_k(
    depth_m: ArrayLike, surface_temperature_c: ArrayLike, wall_temperature_c: ArrayLike
) -> FloatArray:
    """Temperature at the surface minus at 1 mm depth [K] (linear interpolation between cells).

    Parameters
    ----------
    depth_m
        Cell-centre depths [m], shape ``(n,)``.
    surface_temperature_c
        Temperature at depth 0 [degC], shape ``(...)``.
    wall_temperature_c
        Cell temperatures [degC], shape ``(..., n)``.
    """
    depth = np.concatenate([[0.0], np.asarray(depth_m, dtype=np.float64)])
    surface = np.asarray(surface_temperature_c, dtype=np.float64)
    wall = np.asarray(wall_temperature_c, dtype=np.float64)
    profile = np.concatenate([surface[..., None], wall], axis=-1).reshape(-1, depth.size)
    at_1mm = np.array([np.interp(1e-3, depth, row) for row in profile]).reshape(surface.shape)
    return np.asarray(surface - at_1mm)


def perfusate_half_life_h(time_s: ArrayLike, concentration_mg_l: ArrayLike) -> FloatArray:
    """Elimination half-life of the perfusate concentration [h] from a log-linear fit over the
    positive samples."""
    times = _times(time_s)
    concentration = np.asarray(concentration_mg_l, dtype=np.float64)
    _broadcast_time(times, concentration)
    flat = concentration.reshape(times.size, -1)
    result = np.full(flat.shape[1], np.nan)
    for column in range(flat.shape[1]):
        positive = flat[:, column] > 0.0
        if positive.sum() >= 2:
            slope = np.polyfit(times[positive] / 3600.0, np.log(flat[positive, column]), 1)[0]
            if slope < 0.0:
                result[column] = np.log(2.0) / -slope
    return result.reshape(concentration.shape[1:])
