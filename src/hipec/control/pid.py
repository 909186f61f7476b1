"""A PID controller small enough to read in a minute (in the style of simple-pid).

Form (parallel, explicit ``dt``)::

    p = kp * (b * setpoint - measurement)          # setpoint weight b (1 = plain PID)
    d = -kd * d(measurement)/dt                    # derivative on measurement: no kick on a step
    v = p + i + d + feedforward                    # i is the integral term, in output units
    u = clamp(v, output_min, output_max)
    i += ki * error * dt  (+ anti-windup, see below)

Anti-windup
-----------
- ``"back_calculation"`` (default): ``i += ki e dt + (u - v) dt / tracking_time_s``; while the
  output saturates, the integral is pulled back towards the value that just reaches the limit.
- ``"conditional"``: the integral does not grow while the output saturates in the direction the
  error pushes.

Manual mode and bumpless transfer
---------------------------------
In manual mode :meth:`Pid.update` returns the manual output and keeps the integral at
``manual - p - feedforward`` (derivative state cleared), so the first automatic output equals the
last manual one when the measurement has not moved in between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from hipec.errors import InvalidInputError

AntiWindup = Literal["back_calculation", "conditional"]


@dataclass(frozen=True, slots=True)
class PidGains:
    """Gains and limits of a :class:`Pid`.

    Attributes
    ----------
    kp
        Proportional gain [output unit per measurement unit].
    ki
        Integral gain [output unit per (measurement unit x s)].
    kd
        Derivative gain [output unit x s per measurement unit].
    output_min, output_max
        Output limits [output unit].
    setpoint_weight
        Weight ``b`` of the setpoint in the proportional term (0-1); below 1 softens the response to
        setpoint steps without changing the response to disturbances.
    anti_windup
        ``"back_calculation"`` or ``"conditional"``.
    tracking_time_s
        Back-calculation time constant [s]; None: ``kp / ki`` (the integral time), or 1 s if ``ki``
        is zero.
    derivative_filter_s
        Time constant [s] of a first-order filter on the derivative term (0: none).
    """

    kp: float
    ki: float = 0.0
    kd: float = 0.0
    output_min: float = 0.0
    output_max: float = 1.0
    setpoint_weight: float = 1.0
    anti_windup: AntiWindup = "back_calculation"
    tracking_time_s: float | None = None
    derivative_filter_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.output_min < self.output_max:
            raise InvalidInputError(
                "output_max",
                f"must be above output_min ({self.output_min:g}), got {self.output_max:g}",
            )
        if min(self.kp, self.ki, self.kd) < 0:
            raise InvalidInputError(
                "gains", f"kp, ki and kd must be >= 0, got {self.kp:g}, {self.ki:g}, {self.kd:g}"
            )
        if not 0.0 <= self.setpoint_weight <= 1.0:
            raise InvalidInputError("setpoint_weight", f"must be 0-1, got {self.setpoint_weight:g}")

    @property
    def tracking_s(self) -> float:
        """The back-calculation time constant in use [s]."""
        if self.tracking_time_s is not None:
            return max(self.tracking_time_s, 1e-9)
        return max(self.kp / self.ki, 1e-9) if self.ki > 0 and self.kp > 0 else 1.0


def clamp(value: float, low: float, high: float) -> float:
    """``value`` limited to ``[low, high]``."""
    return min(max(value, low), high)


class Pid:
    """A PID controller with explicit ``dt``; see the module docstring.

    Parameters
    ----------
    gains
        Gains and limits; may be replaced later through :attr:`gains` (gain scheduling, tuning).
    """

    def __init__(self, gains: PidGains) -> None:
        self.gains = gains
        self._integral = 0.0
        self._derivative = 0.0
        self._last_measurement: float | None = None
        self._manual_output: float | None = None
        self._last_output = gains.output_min

    # -- state ----------------------------------------------------------------------------------

    @property
    def integral(self) -> float:
        """The integral term [output unit]."""
        return self._integral

    @property
    def auto(self) -> bool:
        """True in automatic mode, False in manual."""
        return self._manual_output is None

    @property
    def last_output(self) -> float:
        """The output of the last :meth:`update` [output unit]."""
        return self._last_output

    def reset(self) -> None:
        """Forget the integral, the derivative history and the manual mode."""
        self._integral = 0.0
        self._derivative = 0.0
        self._last_measurement = None
        self._manual_output = None
        self._last_output = self.gains.output_min

    def set_manual(self, output: float) -> None:
        """Switch to manual mode: :meth:`update` returns ``output`` (clamped to the limits)."""
        self._manual_output = clamp(output, self.gains.output_min, self.gains.output_max)

    def set_auto(self) -> None:
        """Switch to automatic mode; bumpless because manual mode tracked the integral."""
        self._manual_output = None

    # -- the loop -------------------------------------------------------------------------------

    def update(
        self,
        setpoint: float,
        measurement: float,
        dt_s: float,
        feedforward: float = 0.0,
        gain_scale: float = 1.0,
        hold_integral: bool = False,
    ) -> float:
        """One control step.

        Parameters
        ----------
        setpoint, measurement
            Both in the measurement's unit; must be finite (the caller handles missing readings).
        dt_s
            Time since the last step [s], > 0.
        feedforward
            Added to the output before clamping [output unit].
        gain_scale
            Multiplies kp, ki and kd for this step (gain scheduling; 1 = as configured).
        hold_integral
            Do not integrate this step (the caller knows the output cannot act, e.g. an inner loop
            saturates).

        Returns
        -------
        float
            The output, within ``[output_min, output_max]``.
        """
        if not (math.isfinite(setpoint) and math.isfinite(measurement)):
            raise InvalidInputError(
                "measurement",
                f"setpoint and measurement must be finite, got {setpoint}, {measurement}",
            )
        if not dt_s > 0:
            raise InvalidInputError("dt_s", f"must be > 0 s, got {dt_s:g}")
        g = self.gains
        kp, ki, kd = g.kp * gain_scale, g.ki * gain_scale, g.kd * gain_scale
        error = setpoint - measurement
        proportional = kp * (g.setpoint_weight * setpoint - measurement)
        if self._last_measurement is None:
            raw_derivative = 0.0
        else:
            raw_derivative = -kd * (measurement - self._last_measurement) / dt_s
        alpha = dt_s / (g.derivative_filter_s + dt_s)
        self._derivative += alpha * (raw_derivative - self._derivative)
        self._last_measurement = measurement

        if self._manual_output is not None:
            # track: the first automatic step starts exactly at the manual output (if the
            # measurement has not moved since; a moving measurement rightly brings derivative)
            self._derivative = 0.0
            self._integral = self._manual_output - proportional - feedforward
            self._last_output = self._manual_output
            return self._manual_output

        unclamped = proportional + self._integral + self._derivative + feedforward
        output = clamp(unclamped, g.output_min, g.output_max)
        if not hold_integral:
            if g.anti_windup == "back_calculation":
                self._integral += ki * error * dt_s + (output - unclamped) * min(
                    1.0, dt_s / g.tracking_s
                )
            else:
                pushing_up = unclamped > g.output_max and error > 0
                pushing_down = unclamped < g.output_min and error < 0
                if not (pushing_up or pushing_down):
                    self._integral += ki * error * dt_s
        self._last_output = output
        return output
