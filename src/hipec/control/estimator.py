"""State estimation for temperature control: the heating circuit and the 13 abdominal regions.

Two small models, each identified offline from the twin (see :mod:`hipec.control.tuning`) and
held here as plain numbers, so the runtime loop never imports the twin:

Heating circuit (:class:`CircuitModel`, :class:`InflowPredictor`)
-----------------------------------------------------------------
Heater element -> heat exchanger -> ``n`` inflow tube cells -> inflow probe (first-order lag),
with the reservoir temperature as the fluid entering the exchanger and tube losses to the room::

    C_h dT_h/dt = P - UA_h (T_h - T_x)
    C_x dT_x/dt = UA_h (T_h - T_x) + rho_c Q (T_res - T_x)
    C_c dT_i/dt = rho_c Q (T_(i-1) - T_i) - UA_t / n (T_i - T_room)      i = 1..n, T_0 = T_x
    tau_s dy/dt = T_n - y

Linear at a given flow ``Q``; discretised exactly (zero-order hold, matrix exponential) and cached
per flow. :class:`InflowPredictor` runs it in parallel with the plant on the power actually
delivered (internal model control): the difference between the measured and the modelled probe is
an output disturbance ``d`` (calibration offset, model error), assumed constant over the
prediction. Predictions at any horizon are affine in a constant heater power ``P``, which is what a
one-move predictive controller needs.

Regions (:class:`RegionEstimator`)
----------------------------------
The probes see three of the 13 regions. At a given flow the twin's regions spread around their
mean in proportion to the drop from the inflow to that mean::

    T_i ~= m + s_i (T_in - m)

(``s_i`` > 0 near the inflow catheters, < 0 in the far regions). Three or more probes and the
inflow give ``m`` by least squares, and with it all 13 regions, their coolest and their hottest.
The shape ``s`` was identified from the twin's steady perfusions (open and closed abdomen).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import expm

from hipec.devices.base import Reading
from hipec.errors import InvalidInputError

FloatVector = np.ndarray[tuple[int], np.dtype[np.float64]]
FloatMatrix = np.ndarray[tuple[int, int], np.dtype[np.float64]]


@dataclass(frozen=True, slots=True)
class CircuitModel:
    """Heating circuit parameters (the twin's circuit parameter set, checked by
    :func:`hipec.control.tuning.identify_circuit` against the twin's step response).

    Attributes
    ----------
    heater_capacity_j_per_k
        Heater element heat capacity [J/K].
    heater_conductance_w_per_k
        Element to fluid conductance [W/K].
    exchanger_volume_l
        Fluid volume of the heat exchanger [L].
    inflow_tube_volume_l
        Inflow line volume from exchanger to catheters [L].
    tube_cells
        Well-mixed cells the line is split into (the transport delay).
    tube_loss_w_per_k
        Inflow line loss conductance to the room [W/K].
    room_c
        Room temperature [C].
    heat_capacity_j_per_l_k
        Volumetric heat capacity of the perfusate [J/(L.K)].
    probe_time_constant_s
        First-order lag of the inflow probe [s].
    """

    heater_capacity_j_per_k: float = 3000.0
    heater_conductance_w_per_k: float = 300.0
    exchanger_volume_l: float = 0.2
    inflow_tube_volume_l: float = 0.25
    tube_cells: int = 4
    tube_loss_w_per_k: float = 1.5
    room_c: float = 20.0
    heat_capacity_j_per_l_k: float = 4150.0
    probe_time_constant_s: float = 2.0

    def __post_init__(self) -> None:
        positive = (
            "heater_capacity_j_per_k",
            "heater_conductance_w_per_k",
            "exchanger_volume_l",
            "inflow_tube_volume_l",
            "heat_capacity_j_per_l_k",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise InvalidInputError(name, f"must be > 0, got {getattr(self, name)!r}")
        if not 1 <= self.tube_cells <= 20:
            raise InvalidInputError("tube_cells", f"must be 1-20, got {self.tube_cells!r}")
        if self.tube_loss_w_per_k < 0 or self.probe_time_constant_s < 0:
            raise InvalidInputError(
                "circuit model", "tube loss and probe time constant must be >= 0"
            )

    @property
    def n_states(self) -> int:
        """Heater element, exchanger, tube cells, probe."""
        return self.tube_cells + 3

    def continuous(self, flow_l_per_min: float) -> tuple[FloatMatrix, FloatMatrix]:
        """``(A, B)`` of ``dx/dt = A x + B u`` with ``x = [T_h, T_x, T_1..T_n, y]`` [C] and
        ``u = [P [W], T_res [C], T_room [C]]`` at a flow [L/min]."""
        n = self.tube_cells
        size = self.n_states
        a = np.zeros((size, size))
        b = np.zeros((size, 3))
        flow_w_per_k = self.heat_capacity_j_per_l_k * max(flow_l_per_min, 0.0) / 60.0
        ua = self.heater_conductance_w_per_k
        c_h = self.heater_capacity_j_per_k
        c_x = self.heat_capacity_j_per_l_k * self.exchanger_volume_l
        c_cell = self.heat_capacity_j_per_l_k * self.inflow_tube_volume_l / n
        loss = self.tube_loss_w_per_k / n
        a[0, 0], a[0, 1], b[0, 0] = -ua / c_h, ua / c_h, 1.0 / c_h
        a[1, 0], a[1, 1], b[1, 1] = ua / c_x, -(ua + flow_w_per_k) / c_x, flow_w_per_k / c_x
        for i in range(n):
            row = 2 + i
            a[row, row - 1] = flow_w_per_k / c_cell
            a[row, row] = -(flow_w_per_k + loss) / c_cell
            b[row, 2] = loss / c_cell
        probe = size - 1
        if self.probe_time_constant_s > 0:
            a[probe, probe - 1] = 1.0 / self.probe_time_constant_s
            a[probe, probe] = -1.0 / self.probe_time_constant_s
        else:  # no lag: a fast first-order stands in (0.1 s)
            a[probe, probe - 1], a[probe, probe] = 10.0, -10.0
        return a, b

    def discrete(self, flow_l_per_min: float, step_s: float) -> tuple[FloatMatrix, FloatMatrix]:
        """Exact zero-order-hold ``(Phi, Gamma)`` over ``step_s``: ``x+ = Phi x + Gamma u``."""
        a, b = self.continuous(flow_l_per_min)
        size = a.shape[0]
        augmented = np.zeros((size + 3, size + 3))
        augmented[:size, :size] = a
        augmented[:size, size:] = b
        exponential = expm(augmented * step_s)
        return exponential[:size, :size], exponential[:size, size:]

    def steady_state_c(self, flow_l_per_min: float, power_w: float, return_c: float) -> float:
        """Inflow probe temperature at rest under constant power, flow and return [C]."""
        a, b = self.continuous(flow_l_per_min)
        u = np.array([power_w, return_c, self.room_c])
        return float(np.linalg.solve(a, -b @ u)[-1])


@dataclass(frozen=True, slots=True)
class Prediction:
    """Predicted inflow probe temperature at horizons ``h_j`` [s] (the disturbance included) when
    the heater delivers ``P_1`` for the first ``block_s`` seconds and ``P_2`` afterwards::

        y(h_j) = free_c[j] + first_c_per_w[j] * P_1 + rest_c_per_w[j] * P_2

    ``steady_c + steady_c_per_w * P`` is where the probe settles under a constant ``P`` [C]."""

    horizons_s: tuple[float, ...]
    block_s: float
    free_c: FloatVector
    first_c_per_w: FloatVector
    rest_c_per_w: FloatVector
    steady_c: float
    steady_c_per_w: float


@dataclass(slots=True)
class InflowPredictor:
    """The circuit model run in parallel with the plant (see the module docstring).

    Parameters
    ----------
    model
        Circuit parameters.
    horizons_s
        Prediction horizons [s].
    disturbance_time_s
        Filter time constant on the output disturbance [s] (noise against tracking speed).
    flow_resolution_l_per_min
        Flows are rounded to this before discretising (cache key) [L/min].
    """

    model: CircuitModel = field(default_factory=CircuitModel)
    horizons_s: tuple[float, ...] = (10.0, 20.0, 30.0, 45.0, 60.0, 90.0)
    disturbance_time_s: float = 5.0
    flow_resolution_l_per_min: float = 0.02
    _state: FloatVector | None = None
    _disturbance: float = 0.0
    _cache: dict[tuple[float, float], tuple[FloatMatrix, FloatMatrix]] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget the state (the next :meth:`observe` starts at rest at the measured inflow)."""
        self._state = None
        self._disturbance = 0.0

    @property
    def initialised(self) -> bool:
        """The model has a state."""
        return self._state is not None

    @property
    def disturbance_c(self) -> float:
        """Measured minus modelled inflow probe [K] (filtered)."""
        return self._disturbance

    @property
    def state_c(self) -> FloatVector:
        """Model state ``[T_h, T_x, T_1..T_n, y]`` [C] (empty before the first observation)."""
        return np.array([]) if self._state is None else self._state.copy()

    def _matrices(self, flow: float, step_s: float) -> tuple[FloatMatrix, FloatMatrix]:
        resolution = self.flow_resolution_l_per_min
        key = (round(max(flow, 0.0) / resolution) * resolution, round(step_s, 6))
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 512:  # bounded: flows vary over a small range
                self._cache.clear()
            found = self.model.discrete(key[0], key[1])
            self._cache[key] = found
        return found

    def observe(
        self,
        inflow_c: float,
        return_c: float,
        flow_l_per_min: float,
        delivered_power_w: float,
        dt_s: float,
    ) -> None:
        """Advance the model over the last ``dt_s`` under the power delivered then, and update the
        disturbance from the measured inflow probe ``inflow_c`` (all finite)."""
        size = self.model.n_states
        if self._state is None:
            self._state = np.full(size, inflow_c)
            # at rest: the element sits above the fluid by the power it was delivering
            self._state[0] += delivered_power_w / self.model.heater_conductance_w_per_k
            self._disturbance = 0.0
            return
        phi, gamma = self._matrices(flow_l_per_min, dt_s)
        u = np.array([delivered_power_w, return_c, self.model.room_c])
        self._state = phi @ self._state + gamma @ u
        alpha = dt_s / (self.disturbance_time_s + dt_s)
        self._disturbance += alpha * (inflow_c - float(self._state[-1]) - self._disturbance)

    def step_response_c_per_w(self, flow_l_per_min: float, horizon_s: float) -> float:
        """Rise of the probe ``horizon_s`` after a 1 W step from rest [K/W] (0 for h <= 0)."""
        if horizon_s <= 0:
            return 0.0
        return float(self._matrices(flow_l_per_min, horizon_s)[1][-1, 0])

    def predict(self, return_c: float, flow_l_per_min: float, block_s: float) -> Prediction:
        """Affine prediction of the measured inflow at each horizon (see :class:`Prediction`)."""
        if self._state is None:
            raise InvalidInputError("state", "observe a reading before predicting")
        count = len(self.horizons_s)
        free, first, rest = np.empty(count), np.empty(count), np.empty(count)
        base = np.array([0.0, return_c, self.model.room_c])
        for j, horizon in enumerate(self.horizons_s):
            phi, gamma = self._matrices(flow_l_per_min, horizon)
            free[j] = (phi @ self._state + gamma @ base)[-1] + self._disturbance
            step = float(gamma[-1, 0])
            later = self.step_response_c_per_w(flow_l_per_min, horizon - block_s)
            first[j], rest[j] = step - later, later
        resolution = self.flow_resolution_l_per_min
        flow = round(max(flow_l_per_min, 0.0) / resolution) * resolution
        at_zero = self.model.steady_state_c(flow, 0.0, return_c)
        per_watt = self.model.steady_state_c(flow, 1.0, return_c) - at_zero
        return Prediction(
            self.horizons_s,
            block_s,
            free,
            first,
            rest,
            at_zero + self._disturbance,
            per_watt,
        )


# -- regions ------------------------------------------------------------------------------------

#: Region shape ``s_i`` (see the module docstring) identified from the twin at 1.5 L/min, default
#: catheters (inflow regions 1, 3; drains 5, 6, 7) by :func:`hipec.control.tuning.identify_regions`.
#: Open technique mixes twice as much (manual stirring), so its spread is narrower.
#: (At 2.5 L/min every value moves by less than 0.03: the shape hardly depends on the flow.)
REGION_SHAPE: dict[str, tuple[float, ...]] = {
    "closed": (
        -0.244, 0.826, 0.32, 0.746, 0.162, -0.186, -0.564, -0.267, 0.282, 0.165, -0.24, -0.352,
        -0.649,
    ),
    "open": (
        -0.184, 0.685, 0.264, 0.576, 0.064, -0.168, -0.393, -0.22, 0.151, 0.086, -0.177, -0.252,
        -0.432,
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RegionEstimate:
    """The 13 regions estimated from the probes and the inflow [C]."""

    regions_c: tuple[float, ...]
    mean_c: float
    coolest_c: float
    hottest_c: float


@dataclass(frozen=True, slots=True)
class RegionEstimator:
    """All 13 region temperatures from the probes and the inflow (see the module docstring).

    Attributes
    ----------
    shape
        ``s_i`` per region [-] (13 values).
    """

    shape: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.shape) != 13 or not all(math.isfinite(s) for s in self.shape):
            raise InvalidInputError("shape", f"must hold 13 finite values, got {self.shape!r}")

    @classmethod
    def for_technique(cls, technique: str) -> RegionEstimator:
        """The shape identified for ``"open"`` or ``"closed"`` (laparoscopic: closed)."""
        key = "open" if technique == "open" else "closed"
        return cls(REGION_SHAPE[key])

    def estimate(
        self, probes_c: Sequence[float], probe_regions: Sequence[int], inflow_c: float
    ) -> RegionEstimate | None:
        """The estimate, or None without a finite probe. Without a finite inflow the probes'
        mean stands for every region."""
        pairs = [
            (value, region)
            for value, region in zip(probes_c, probe_regions, strict=True)
            if math.isfinite(value) and 0 <= region <= 12
        ]
        if not pairs:
            return None
        shape = np.asarray(self.shape)
        values = np.array([v for v, _ in pairs])
        if not math.isfinite(inflow_c):
            mean = float(values.mean())
            return RegionEstimate((mean,) * 13, mean, mean, mean)
        s = np.array([shape[r] for _, r in pairs])
        # T_j = m (1 - s_j) + s_j T_in  ->  least squares for m
        weight = 1.0 - s
        denominator = float(weight @ weight)
        if denominator <= 1e-9:
            mean = float(values.mean())
        else:
            mean = float(weight @ (values - s * inflow_c)) / denominator
        regions = mean + shape * (inflow_c - mean)
        return RegionEstimate(
            tuple(float(v) for v in regions), mean, float(regions.min()), float(regions.max())
        )

    def estimate_reading(self, reading: Reading) -> RegionEstimate | None:
        """:meth:`estimate` from a reading."""
        return self.estimate(reading.cavity_c, reading.cavity_probe_regions, reading.inflow_c)

    def spread_c(self, drop_k: float) -> tuple[float, float]:
        """Coolest and hottest region relative to the mean at an inflow-to-mean drop ``d`` [K]:
        ``(min_i s_i d, max_i s_i d)`` [K]."""
        offsets = np.asarray(self.shape) * drop_k
        return float(offsets.min()), float(offsets.max())

    def inflow_limit_c(
        self,
        probes_c: Sequence[float],
        probe_regions: Sequence[int],
        limit_c: float,
        inflow_c: float,
    ) -> float:
        """Highest inflow temperature [C] at which no estimated region exceeds ``limit_c``, the
        probes as read (``nan`` without a finite probe or inflow; ``-inf`` if no inflow keeps
        every region at or below it).

        With the probes fixed, each estimated region is affine in the inflow,
        ``T_i(T_in) = a_i + b_i T_in`` (``m`` is linear in ``T_in``, see the module docstring;
        ``b_i < 0`` for far regions: a hotter inflow with the same probe readings means a hotter
        mean and a steeper spread), so the limit is ``min over b_i > 0 of (limit - a_i) / b_i``
        provided it is not below ``max over b_i < 0`` of the same. It depends on the probes
        only, not on the inflow now: a controller bounded by it does not chase the inflow
        measurement."""
        if not math.isfinite(inflow_c):
            return math.nan
        here = self.estimate(probes_c, probe_regions, inflow_c)
        above = self.estimate(probes_c, probe_regions, inflow_c + 1.0)
        if here is None or above is None:
            return math.nan
        now = np.asarray(here.regions_c)
        slope = np.asarray(above.regions_c) - now
        rising, falling = slope > 1e-9, slope < -1e-9
        flat = ~(rising | falling)
        # the inflows at which every region is at or below the limit form an interval:
        # rising regions bound it from above, falling ones (far regions) from below
        crossing = inflow_c + (limit_c - now) / np.where(flat, 1.0, slope)
        upper = float(crossing[rising].min()) if rising.any() else math.inf
        lower = float(crossing[falling].max()) if falling.any() else -math.inf
        if np.any(now[flat] > limit_c) or lower > upper:
            return -math.inf
        return upper

    def inflow_limit_reading_c(self, reading: Reading, limit_c: float) -> float:
        """:meth:`inflow_limit_c` from a reading."""
        return self.inflow_limit_c(
            reading.cavity_c, reading.cavity_probe_regions, limit_c, reading.inflow_c
        )
