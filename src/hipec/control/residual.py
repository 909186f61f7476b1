"""Model-based residuals of the intra-abdominal probes, for the safety supervisor.

Each cavity probe gets a small model of its region, driven only by raw readings (measured inflow
temperature, outflow temperature and inflow rate), never by a controller's state. The region is
three well-mixed compartments in series fed by the inflow, each also exchanging with the mixed
return (the outflow), followed by the probe's first-order lag::

    dz_1/dt = (Q / V) [a_1 (T_in  - z_1) + b_1 (T_out - z_1)]
    dz_2/dt = (Q / V) [a_2 (z_1   - z_2) + b_2 (T_out - z_2)]
    dz_3/dt = (Q / V) [a_3 (z_2   - z_3) + b_3 (T_out - z_3)]
    tau_p dy/dt = z_3 - y

with ``Q`` the measured inflow [L/min], ``V`` the perfusate pumped into the abdomen (measured inflow
minus outflow since the start, at least ``min_model_volume_l``) [L] (the regions' volumes scale
with it: patients of every size), ``a_k``, ``b_k`` [L/(L/min s)] and ``tau_p`` the probe lag [s].
Each compartment is advanced exactly over a sample interval with its inputs held (first-order
relaxation), so any control period is stable.

Residual. ``e = y_measured - y_model``; ``d`` is ``e`` low-passed (time constant ``bias_time_s``:
calibration offsets and slow model error); the residual is::

    r(t) = mean(e over the last smoothing_s) - d(t - W)

A probe whose reading drifts at ``s`` [K/min] from ``t_0`` shows ``r ~= s (t - t_0) / 60`` for
``t - t_0 < W`` (the reference ``d(t - W)`` predates the drift), whatever the regions do; a healthy
probe's ``r`` stays within the model error over ``W`` plus sensor noise.

Isolation. Model errors common to all probes (a heat-up faster than modelled) cancel against the
other probes, a drift of one probe does not; a probe is judged on its isolated residual::

    r_iso,i = sign(r_i) min(|r_i|, |r_i - mean_(j != i) r_j|)   if both have the same sign, else 0

(only ``r_i`` with fewer than two other probes).

The model runs whenever the inflow pump runs (it restarts from the readings after a stop and is
judged only ``settle_s`` later), so its hidden compartments have followed the priming and the fill
when the heat-up starts. The residual is judged only in balanced circulation of a filled abdomen
(``|Q_in - Q_out|`` at most ``max_net_flow_l_per_min``, ``Q_in`` at least ``min_flow_l_per_min``,
at least ``min_abdomen_volume_l`` pumped in) held for ``window_s``: priming (empty abdomen),
filling and draining change what the model assumes.

Operating state. The model is least accurate while the inflow temperature rises fast (the
heat-up: near an inflow catheter up to 0.23 K), and accurate once it is steady (at most 0.11 K),
so each region has two bounds, chosen from the measured inflow temperature alone
(:attr:`CavityResiduals.steady`)::

    settled(t) = |mean(T_in over (t - M, t]) - mean(T_in over (t - 2M, t - M])| <= c
    steady(t)  = settled at every sample of [t - H, t]   (and the inflow pump running)

with ``M`` = 30 s, ``c`` = 0.25 K and ``H`` = 60 s (:class:`ResidualConfig`): the heat-up bound
:data:`REGION_RESIDUAL_BOUND_K` applies until then and again for ``H`` after any change of the
inflow, the steady bound :data:`REGION_STEADY_RESIDUAL_BOUND_K` otherwise. (The means average out
sensor noise and small swings; an inflow swinging by a K over minutes, as a PID's can, keeps the
heat-up bound. ``H`` lets the regions and the residual's reference catch up with the inflow.)

Graded heat-up bound. The heat-up model error follows the inflow's own change with the regions'
lag, and it is gone once the inflow has held for a fraction of the abdomen's exchange time; the
full heat-up bound is needed only while the inflow has just moved. Until :attr:`steady`, a
region's bound is interpolated between its two bounds by the range of the measured inflow
temperature over the recent exchange fraction (:attr:`CavityResiduals.heat_up_fraction`)::

    L(t)      = m * 60 V / Q                                           [s]
    R(t)      = max(T_in over [t - L, t]) - min(T_in over [t - L, t])  [K]
    f(t)      = min(1, R(t) / R_full)
    bound(t)  = b_steady + f(t) (b_heat_up - b_steady)                 [K]

with ``V`` the perfusate pumped into the abdomen [L], ``Q`` the measured inflow [L/min] (so
``V / Q`` is the abdomen's exchange time [min]: small patients and high flows settle faster),
``m`` = 0.25 and ``R_full`` = 1.0 K (:class:`ResidualConfig`); ``f`` = 1 (the full heat-up bound)
until the readings cover ``L``, after a pump stop or a missing inflow reading. Measured on the
twin (hipec, unverified clinically; ``benchmarks/drift_regions.py``, 7 regimens x 3 seeds): a
0.5 K/min drift of the probe at the inflow catheter (region 3) starting halfway through the heat
phase was confirmed 22-53 s after its onset against the full heat-up bound (limit 0.26-0.35 K),
against the graded one within 30 s under the cascade and coverage controllers (a PID swinging
the inflow keeps the full bound). Over the fault-free runs of ``tests/control/test_residual.py``,
the identification and held-out runs and the 7 regimens x 3 seeds x 3 controllers, the largest
healthy isolated residual at region 3 is 0.91 of the supervisor's limit with the graded bound
(prodige7 at 1.0 L/min; 0.83 with the full one), of any default probe 0.92 either way (region 0,
195 cm / 120 kg at 1.0 L/min). ``m`` = 0.2 reached 1.03 at region 3, ``R_full`` = 2 K 1.11;
``m`` = 0.3 left 7 of 21 such drifts under the coverage controller later than 30 s.

The coefficients (:data:`REGION_MODELS`) were identified offline, per technique, by output-error
least squares (``scipy.optimize.least_squares`` on ``r`` wherever it is judged) from fault-free
runs of the simulated machine at a 1 s control period (default catheters: inflow regions 1 and 3,
drains 5, 6, 7): a probe in each of the 13 regions for the 7 library regimens with both
controllers, plus flows 1.0 and 2.5 L/min and patients 150 cm / 45 kg and 195 cm / 120 kg on two
regimens; the default probes (0, 6, 3) for the 7 regimens, both controllers, seeds 1 and 2. They
were checked on held-out runs (other regimens, seeds, sizes and flows). They are held here as plain
numbers so the runtime loop never imports the twin; hipec model fits, not published figures
(the twin's own regions, not a patient's: unverified clinically). The bounds of each state are
the largest healthy isolated residuals in that state over the identification and held-out runs.

The procedure and its run sets are :mod:`hipec.runner.identification` (offline tooling: it runs
the simulated machine). Regenerate both tables, each model printed with its largest healthy
residual beside the stored one's (about 15 min on one core)::

    .venv/bin/python -m hipec.runner.identification             # both techniques
    .venv/bin/python -m hipec.runner.identification open 0,6,3  # one technique, some regions

``tests/control/test_residual.py`` re-identifies region 3 from fresh runs and checks the stored
bounds of both states on held-out runs. (Regenerated on the twin of commit e221e29: other
coefficients of equal fit, largest healthy residual within 0.03 K of the stored models', and
heat-up bounds of the stored models at or at most 0.02 K below the stored bounds; the stored
numbers are kept.)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from hipec.devices.base import Reading
from hipec.errors import InvalidInputError

#: Per technique, per PCI region 0-12: ``(a_1, b_1, a_2, b_2, a_3, b_3)`` [L/(L/min s)] (see the
#: module docstring). Laparoscopic perfusion uses ``"closed"``.
REGION_MODELS: dict[str, tuple[tuple[float, float, float, float, float, float], ...]] = {
    "open": (
        (0.1118, 0.0000, 0.2509, 0.0000, 0.2248, 0.8232),  # 0
        (0.1563, 0.0000, 4.0000, 0.5493, 3.9597, 0.8618),  # 1
        (0.1025, 0.0000, 0.6192, 0.0000, 1.6252, 1.5110),  # 2
        (0.1855, 0.0000, 4.0000, 1.3950, 4.0000, 0.5274),  # 3
        (0.1060, 0.0000, 0.9479, 0.0707, 0.6882, 1.3120),  # 4
        (0.0874, 0.0000, 0.0873, 0.5227, 1.1225, 0.3297),  # 5
        (0.0851, 1.8179, 0.1800, 0.0000, 1.6969, 1.0019),  # 6
        (0.1309, 0.0000, 0.1124, 0.4438, 0.8529, 1.1818),  # 7
        (0.1114, 0.0000, 0.4975, 0.0000, 1.1967, 1.9450),  # 8
        (0.1158, 0.0000, 0.6557, 0.0000, 0.8638, 1.7600),  # 9
        (0.1789, 0.0000, 0.1862, 0.0001, 0.1644, 1.0036),  # 10
        (0.2014, 0.0000, 0.2020, 0.0000, 0.1366, 1.2411),  # 11
        (0.0587, 1.4911, 0.3967, 0.0000, 1.6625, 0.8541),  # 12
    ),
    "closed": (
        (0.1035, 0.0000, 0.1057, 0.0000, 0.3062, 0.8552),  # 0
        (0.1376, 0.0000, 4.0000, 0.4640, 4.0000, 0.4032),  # 1
        (0.0803, 0.0000, 0.3231, 0.0000, 4.0000, 2.5079),  # 2
        (0.1668, 0.0000, 4.0000, 0.6153, 4.0000, 0.5795),  # 3
        (0.0804, 0.0000, 0.4383, 0.0000, 1.4749, 1.8953),  # 4
        (0.0759, 0.0000, 0.1864, 0.0325, 0.0846, 0.3684),  # 5
        (4.0000, 3.9999, 4.0000, 4.0000, 0.0152, 0.1349),  # 6
        (0.1558, 0.0000, 0.1540, 0.0004, 0.1056, 0.8855),  # 7
        (0.0837, 0.0000, 0.3386, 0.0000, 3.9985, 3.7062),  # 8
        (0.0898, 0.0000, 0.3511, 0.0000, 2.4873, 3.3201),  # 9
        (0.1265, 0.0000, 0.1247, 0.0000, 0.1911, 0.9952),  # 10
        (0.1417, 0.0000, 0.1431, 0.0000, 0.1462, 1.2931),  # 11
        (0.0661, 3.3985, 3.4680, 0.0126, 0.2151, 0.0000),  # 12
    ),
}

#: Per technique, per PCI region: the largest healthy isolated residual ``|r_iso|`` [K] met in the
#: identification runs and in held-out runs (patients 150 cm / 45 kg and 195 cm / 120 kg, flows 1.0
#: and 2.5 L/min), probes with two others of the default layout (0, 6, 3): the heat-up bound (used
#: while :attr:`CavityResiduals.steady` is False). Set before the operating states were told apart
#: (the largest over whole runs); the heat-up alone gives the same or at most 0.02 K less
#: (``python -m hipec.runner.identification``): the stored numbers are kept.
REGION_RESIDUAL_BOUND_K: dict[str, tuple[float, ...]] = {
    "open": (0.10, 0.18, 0.15, 0.17, 0.09, 0.11, 0.08, 0.07, 0.11, 0.11, 0.07, 0.06, 0.10),
    "closed": (0.10, 0.21, 0.16, 0.23, 0.10, 0.10, 0.10, 0.07, 0.11, 0.10, 0.06, 0.07, 0.13),
}

#: Per technique, per PCI region: the largest healthy isolated residual ``|r_iso|`` [K] in steady
#: inflow (:attr:`CavityResiduals.steady`), same runs and layout as :data:`REGION_RESIDUAL_BOUND_K`
#: (hipec model fits on the twin, unverified clinically).
REGION_STEADY_RESIDUAL_BOUND_K: dict[str, tuple[float, ...]] = {
    "open": (0.07, 0.07, 0.06, 0.07, 0.05, 0.06, 0.07, 0.07, 0.07, 0.07, 0.07, 0.06, 0.09),
    "closed": (0.07, 0.08, 0.08, 0.08, 0.06, 0.07, 0.08, 0.07, 0.07, 0.08, 0.06, 0.07, 0.11),
}

#: Cavity probe lag the models were identified with [s] (the simulated machine's cavity sensor).
PROBE_TIME_CONSTANT_S = 5.0


@dataclass(frozen=True, slots=True)
class ResidualConfig:
    """Settings of :class:`CavityResiduals` (hipec defaults, checked against the twin).

    Attributes
    ----------
    window_s
        Look-back ``W`` of the residual [s].
    settle_s
        After a (re)start the model runs this long before its residual is judged [s] (its hidden
        compartments start at the probe reading; in a procedure the pumps start with the priming,
        minutes before the heat-up).
    smoothing_s
        The model error is averaged over this long before it is judged (sensor noise) [s].
    min_model_volume_l
        Floor of ``V`` in the model [L] (priming: the abdomen is still empty).
    bias_time_s
        Time constant of the low-passed model error ``d`` [s].
    min_flow_l_per_min
        The model runs only above this inflow [L/min].
    max_net_flow_l_per_min
        ... and with the pumps balanced within this [L/min].
    min_abdomen_volume_l
        ... and with at least this much perfusate pumped into the abdomen (measured inflow minus
        outflow since the start) [L]: priming circulates through an empty abdomen, where the
        probes read no perfusate.
    probe_time_constant_s
        Cavity probe lag ``tau_p`` [s].
    inflow_mean_s
        The inflow is steady when its mean over the last ``inflow_mean_s`` [s] differs from its
        mean over the ``inflow_mean_s`` before by at most ``max_steady_inflow_change_k`` [K] ...
    max_steady_inflow_change_k
        ... (the means average out sensor noise and small swings of the inflow) ...
    steady_hold_s
        ... at every sample of the last ``steady_hold_s`` [s] (the regions and the residual's
        reference catch up with the inflow).
    graded_exchange_fraction
        ``m``: until the inflow is steady, the heat-up bound is graded by the range of the
        measured inflow temperature over the last ``m`` exchange times ``V / Q`` of the abdomen
        (hipec, measured on the twin: see the module docstring) ...
    full_heat_up_inflow_range_k
        ... ``R_full`` [K]: an inflow range of at least this much keeps the full heat-up bound
        (hipec, measured on the twin).
    max_graded_memory_s
        The inflow range looks back at most this long [s] (hipec: about four times the
        largest ``m V / Q`` met on the twin, 63 s at 195 cm / 120 kg and 1.0 L/min).
    """

    window_s: float = 30.0
    settle_s: float = 120.0
    smoothing_s: float = 5.0
    min_model_volume_l: float = 0.5
    bias_time_s: float = 60.0
    min_flow_l_per_min: float = 0.3
    max_net_flow_l_per_min: float = 0.2
    min_abdomen_volume_l: float = 1.0
    probe_time_constant_s: float = PROBE_TIME_CONSTANT_S
    inflow_mean_s: float = 30.0
    max_steady_inflow_change_k: float = 0.25
    steady_hold_s: float = 60.0
    graded_exchange_fraction: float = 0.25
    full_heat_up_inflow_range_k: float = 1.0
    max_graded_memory_s: float = 240.0

    def __post_init__(self) -> None:
        positive = (
            "window_s",
            "settle_s",
            "smoothing_s",
            "min_model_volume_l",
            "bias_time_s",
            "min_flow_l_per_min",
            "max_net_flow_l_per_min",
            "min_abdomen_volume_l",
            "inflow_mean_s",
            "max_steady_inflow_change_k",
            "steady_hold_s",
            "graded_exchange_fraction",
            "full_heat_up_inflow_range_k",
            "max_graded_memory_s",
        )
        for name in positive:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InvalidInputError(name, f"must be > 0, got {value!r}")
        if not (math.isfinite(self.probe_time_constant_s) and self.probe_time_constant_s >= 0):
            raise InvalidInputError(
                "probe_time_constant_s", f"must be >= 0, got {self.probe_time_constant_s!r}"
            )


def _relax(state: float, inflow: float, outflow: float, rate_in: float, rate_out: float) -> float:
    """Exact step of ``dz/dt = k_in (u - z) + k_out (v - z)`` with ``u``, ``v`` held, where the
    rates are already multiplied by the interval (dimensionless)."""
    total = rate_in + rate_out
    if total <= 1e-12:
        return state
    target = (rate_in * inflow + rate_out * outflow) / total
    return target + (state - target) * math.exp(-total)


@dataclass(slots=True)
class ProbeResidual:
    """The model of one probe's region and its residual (see the module docstring).

    Parameters
    ----------
    coefficients
        ``(a_1, b_1, a_2, b_2, a_3, b_3)`` [L/(L/min s)].
    config
        Window, bias filter and gating.
    """

    coefficients: tuple[float, float, float, float, float, float]
    config: ResidualConfig = field(default_factory=ResidualConfig)
    _state: list[float] | None = None
    _bias_k: float = 0.0
    _since_s: float = 0.0
    _last: tuple[float, float, float, float, float] | None = None  # t, T_in, T_out, Q, V
    _bias_history: deque[tuple[float, float]] = field(default_factory=deque)
    _errors: deque[tuple[float, float]] = field(default_factory=deque)
    residual_k: float = math.nan

    def __post_init__(self) -> None:
        if len(self.coefficients) != 6 or not all(
            math.isfinite(c) and c >= 0 for c in self.coefficients
        ):
            raise InvalidInputError(
                "coefficients", f"must be 6 finite values >= 0, got {self.coefficients!r}"
            )

    def reset(self) -> None:
        """Forget the state (the next sample with flow restarts the model from the readings)."""
        self._state = None
        self._last = None
        self._bias_history.clear()
        self._errors.clear()
        self.residual_k = math.nan

    def update(
        self,
        time_s: float,
        probe_c: float,
        inflow_c: float,
        outflow_c: float,
        flow_l_per_min: float,
        volume_l: float,
        judged: bool,
    ) -> float:
        """Advance over the interval since the previous sample (inputs held from it) and return
        the residual ``r`` [K]: nan unless ``judged`` (the caller's gate) and the model has run for
        ``settle_s`` and ``window_s``. The model runs while the inflow is at least
        ``min_flow_l_per_min`` and every input is finite, and restarts from the readings otherwise.
        """
        values = (probe_c, inflow_c, outflow_c, flow_l_per_min, volume_l)
        if flow_l_per_min < self.config.min_flow_l_per_min or not all(
            math.isfinite(v) for v in values
        ):
            self.reset()
            return self.residual_k
        if self._state is None or self._last is None:
            self._state = [probe_c, probe_c, probe_c, probe_c]
            self._bias_k = 0.0
            self._since_s = time_s
            self._last = (time_s, inflow_c, outflow_c, flow_l_per_min, volume_l)
            self._bias_history.append((time_s, 0.0))
            self.residual_k = math.nan
            return self.residual_k
        last_time, last_inflow, last_outflow, last_flow, last_volume = self._last
        dt_s = max(time_s - last_time, 0.0)
        a1, b1, a2, b2, a3, b3 = self.coefficients
        scale = last_flow / max(last_volume, self.config.min_model_volume_l) * dt_s
        z1, z2, z3, probe = self._state
        z1 = _relax(z1, last_inflow, last_outflow, a1 * scale, b1 * scale)
        z2 = _relax(z2, z1, last_outflow, a2 * scale, b2 * scale)
        z3 = _relax(z3, z2, last_outflow, a3 * scale, b3 * scale)
        tau = self.config.probe_time_constant_s
        probe = z3 + (probe - z3) * (math.exp(-dt_s / tau) if tau > 0 else 0.0)
        self._state = [z1, z2, z3, probe]
        self._last = (time_s, inflow_c, outflow_c, flow_l_per_min, volume_l)

        error = probe_c - probe
        errors = self._errors
        errors.append((time_s, error))
        while errors[0][0] <= time_s - self.config.smoothing_s + 1e-9:
            errors.popleft()
        smoothed = sum(e for _, e in errors) / len(errors)
        window = self.config.window_s
        history = self._bias_history
        # the reference: the bias at or just before t - W (one sample at or before it is kept)
        while len(history) > 1 and history[1][0] <= time_s - window + 1e-9:
            history.popleft()
        settled = time_s - self._since_s >= max(window, self.config.settle_s) - 1e-9
        full = settled and history[0][0] <= time_s - window + 1e-9
        self.residual_k = smoothed - history[0][1] if judged and full else math.nan
        alpha = 1.0 - math.exp(-dt_s / self.config.bias_time_s)
        self._bias_k += alpha * (error - self._bias_k)
        history.append((time_s, self._bias_k))
        return self.residual_k


class CavityResiduals:
    """One :class:`ProbeResidual` per cavity probe of a reading, by PCI region.

    Parameters
    ----------
    technique
        ``"open"``, ``"closed"`` or ``"laparoscopic"`` (closed models).
    config
        Window, bias filter and gating.
    """

    def __init__(self, technique: str, config: ResidualConfig | None = None) -> None:
        key = "open" if technique == "open" else "closed"
        self.models = REGION_MODELS[key]
        #: heat-up bounds (inflow not yet steady) [K]
        self.bounds_k = REGION_RESIDUAL_BOUND_K[key]
        #: steady-inflow bounds [K]
        self.steady_bounds_k = REGION_STEADY_RESIDUAL_BOUND_K[key]
        self.config = config or ResidualConfig()
        self._probes: dict[int, ProbeResidual] = {}
        self._abdomen_l = 0.0
        self._last_time_s: float | None = None
        self._balanced_since_s: float | None = None
        self._inflow: deque[tuple[float, float]] = deque()
        self._inflow_settled_since_s: float | None = None
        self._recent_inflow: deque[tuple[float, float]] = deque()
        #: the latest residual of every probe before isolation [K]
        self.raw_residuals_k: dict[int, float] = {}
        #: the latest sample was in balanced circulation of a filled abdomen for ``window_s``
        self.judged = False
        #: the measured inflow temperature has been steady for ``steady_hold_s``
        #: (:class:`ResidualConfig`): the steady bounds apply
        self.steady = False
        #: ``f``: how much of the heat-up bound applies until :attr:`steady` (0-1, module
        #: docstring)
        self.heat_up_fraction = 1.0

    def bound_k(self, region: int) -> float:
        """The region's largest healthy isolated residual in the identification runs [K], in the
        current operating state: :attr:`steady_bounds_k` when :attr:`steady`, else between it and
        :attr:`bounds_k` by :attr:`heat_up_fraction` (nan for a region without a model)."""
        if not 0 <= region < len(self.bounds_k):
            return math.nan
        steady = self.steady_bounds_k[region]
        if self.steady:
            return steady
        heat_up = self.bounds_k[region]
        # never above the heat-up bound nor below the steady one (a table may have them equal)
        return max(steady, min(heat_up, steady + self.heat_up_fraction * (heat_up - steady)))

    def _track_inflow_range(self, reading: Reading, flowing: bool) -> float:
        """Update and return :attr:`heat_up_fraction` from the measured inflow temperature, flow
        and pumped volume alone (module docstring): 1 until the readings cover the look-back."""
        cfg = self.config
        history = self._recent_inflow
        if not (flowing and math.isfinite(reading.inflow_c)):
            history.clear()
            return 1.0
        now = reading.time_s
        history.append((now, reading.inflow_c))
        while len(history) > 1 and history[1][0] <= now - cfg.max_graded_memory_s + 1e-9:
            history.popleft()
        exchange_s = 60.0 * max(self._abdomen_l, cfg.min_model_volume_l) / reading.inflow_l_per_min
        memory_s = min(cfg.graded_exchange_fraction * exchange_s, cfg.max_graded_memory_s)
        if history[0][0] > now - memory_s + 1e-9:
            return 1.0  # not yet seen the whole look-back
        start = now - memory_s - 1e-9
        highest = lowest = reading.inflow_c
        for time_s, value in reversed(history):  # newest first: only the look-back is read
            if time_s < start:
                break
            highest, lowest = max(highest, value), min(lowest, value)
        return min(1.0, (highest - lowest) / cfg.full_heat_up_inflow_range_k)

    def _track_inflow(self, time_s: float, inflow_c: float, flowing: bool) -> bool:
        """Update and return :attr:`steady` from the measured inflow temperature alone::

            settled(t) = |mean(T_in over (t - M, t]) - mean(T_in over (t - 2M, t - M])| <= c
            steady(t)  = settled at every sample of [t - H, t]

        ``M`` = ``inflow_mean_s``, ``c`` = ``max_steady_inflow_change_k``, ``H`` =
        ``steady_hold_s``. A pump stop or a missing reading starts over (not steady)."""
        cfg = self.config
        history = self._inflow
        if not (flowing and math.isfinite(inflow_c)):
            history.clear()
            self._inflow_settled_since_s = None
            return False
        history.append((time_s, inflow_c))
        span = 2.0 * cfg.inflow_mean_s
        while len(history) > 1 and history[1][0] <= time_s - span + 1e-9:
            history.popleft()
        settled = False
        if history[0][0] <= time_s - span + 1e-9:
            split = time_s - cfg.inflow_mean_s + 1e-9
            recent = [value for t, value in history if t > split]
            earlier = [value for t, value in history if time_s - span + 1e-9 < t <= split]
            if recent and earlier:
                change = sum(recent) / len(recent) - sum(earlier) / len(earlier)
                settled = abs(change) <= cfg.max_steady_inflow_change_k
        if not settled:
            self._inflow_settled_since_s = None
            return False
        if self._inflow_settled_since_s is None:
            self._inflow_settled_since_s = time_s
        return time_s - self._inflow_settled_since_s >= cfg.steady_hold_s - 1e-9

    @property
    def abdomen_volume_l(self) -> float:
        """Measured inflow minus outflow since the start [L] (the perfusate in the abdomen)."""
        return self._abdomen_l

    def reset(self) -> None:
        """Forget every probe's state and the pumped volume (a new perfusion)."""
        self._probes.clear()
        self._abdomen_l = 0.0
        self._last_time_s = None
        self._balanced_since_s = None
        self._inflow.clear()
        self._inflow_settled_since_s = None
        self._recent_inflow.clear()
        self.judged = False
        self.steady = False
        self.heat_up_fraction = 1.0

    def update(self, reading: Reading, excluded: frozenset[int] = frozenset()) -> dict[int, float]:
        """Advance every probe's model with ``reading``; isolated residual ``r_iso`` [K] by region
        (nan: none yet). Probes in ``excluded`` (known faulty) are no reference for the others."""
        cfg = self.config
        flow, net = reading.inflow_l_per_min, reading.inflow_l_per_min - reading.outflow_l_per_min
        if self._last_time_s is not None and math.isfinite(net):
            self._abdomen_l += net * max(reading.time_s - self._last_time_s, 0.0) / 60.0
        self._last_time_s = reading.time_s
        balanced = (
            math.isfinite(net)
            and flow >= cfg.min_flow_l_per_min
            and abs(net) <= cfg.max_net_flow_l_per_min
            and self._abdomen_l >= cfg.min_abdomen_volume_l
        )
        if not balanced:
            self._balanced_since_s = None
        elif self._balanced_since_s is None:
            self._balanced_since_s = reading.time_s
        judged = self.judged = (
            self._balanced_since_s is not None
            and reading.time_s - self._balanced_since_s >= cfg.window_s - 1e-9
        )
        flowing = math.isfinite(flow) and flow >= cfg.min_flow_l_per_min
        self.steady = self._track_inflow(reading.time_s, reading.inflow_c, flowing)
        self.heat_up_fraction = self._track_inflow_range(reading, flowing)
        raw: dict[int, float] = {}
        for region, value in zip(reading.cavity_probe_regions, reading.cavity_c, strict=True):
            if not 0 <= region < len(self.models):
                continue
            probe = self._probes.get(region)
            if probe is None:
                probe = self._probes[region] = ProbeResidual(self.models[region], cfg)
            raw[region] = probe.update(
                reading.time_s,
                value,
                reading.inflow_c,
                reading.outflow_c,
                flow,
                self._abdomen_l,
                judged,
            )
        self.raw_residuals_k = raw
        trusted = {region: r for region, r in raw.items() if region not in excluded}
        return {
            region: isolated_residual(region, {**trusted, region: r}) for region, r in raw.items()
        }


def isolated_residual(region: int, residuals_k: dict[int, float]) -> float:
    """``r_iso`` of ``region`` from every probe's residual [K] (module docstring; nan if its own
    is nan)."""
    own = residuals_k[region]
    others = [r for other, r in residuals_k.items() if other != region and math.isfinite(r)]
    if not math.isfinite(own) or len(others) < 2:
        return own
    relative = own - sum(others) / len(others)
    if own * relative <= 0.0:
        return 0.0
    return math.copysign(min(abs(own), abs(relative)), own)
