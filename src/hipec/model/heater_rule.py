"""A deliberately minimal heater rule for tests, benchmarks and demos -- NOT the controller.

The real perfusion controller (PID with anti-windup, supervisor, interlocks) lives in
``hipec.control`` and replaces this. The rule is proportional on the inflow temperature with a
feed-forward for the heat the perfusate loses, clipped to the heater's range by the twin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hipec.errors import InvalidInputError
from hipec.model.solver import Commands, Twin
from hipec.model.state import FloatArray


@dataclass(frozen=True)
class SimpleHeaterRule:
    """Proportional heater rule on the inflow temperature, with fixed pump flows.

    ``P = feed_forward + gain (setpoint - T_inflow)``, held at zero below zero (the twin clips the
    top).

    Parameters
    ----------
    setpoint_c
        Inflow temperature target [degC].
    flow_l_min
        Inflow and outflow pump flow [L/min].
    gain_w_per_k
        Proportional gain [W/K].
    feed_forward_w
        Constant heater power [W].
    """

    setpoint_c: float | FloatArray
    flow_l_min: float | FloatArray
    gain_w_per_k: float = 500.0
    feed_forward_w: float = 300.0

    def __call__(self, twin: Twin) -> Commands:
        setpoint = self.setpoint_c
        if isinstance(setpoint, float | int) and twin.model.n_patients == 1:
            # one patient: plain floats (this runs every step)
            error = setpoint - twin.inflow_temperature_of(0)
            scalar = max(self.feed_forward_w + self.gain_w_per_k * error, 0.0)
            return Commands(heater_power_w=scalar, inflow_l_min=self.flow_l_min)
        errors = np.asarray(setpoint) - twin.inflow_temperature_c
        power = np.maximum(self.feed_forward_w + self.gain_w_per_k * errors, 0.0)
        return Commands(heater_power_w=power, inflow_l_min=self.flow_l_min)


def simple_heater_rule(
    setpoint_c: float | FloatArray,
    flow_l_min: float | FloatArray,
    gain_w_per_k: float = 500.0,
    feed_forward_w: float = 300.0,
) -> Callable[[Twin], Commands]:
    """A :class:`SimpleHeaterRule` (checks its arguments).

    Raises
    ------
    InvalidInputError
        For a setpoint outside 30-48 C, a negative flow or gain.
    """
    setpoints = np.atleast_1d(np.asarray(setpoint_c, dtype=np.float64))
    if not np.all((setpoints >= 30.0) & (setpoints <= 48.0)):
        raise InvalidInputError("setpoint_c", f"must be 30-48 C, got {setpoint_c!r}")
    if np.any(np.asarray(flow_l_min) < 0.0):
        raise InvalidInputError("flow_l_min", f"must be >= 0 L/min, got {flow_l_min!r}")
    if gain_w_per_k < 0.0 or feed_forward_w < 0.0:
        raise InvalidInputError("gain_w_per_k", "gain and feed-forward must be >= 0")
    return SimpleHeaterRule(setpoint_c, flow_l_min, gain_w_per_k, feed_forward_w)
