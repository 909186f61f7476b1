"""The safety supervisor: interlocks on raw readings, independent of the controller.

It sees only what the machine reports (:class:`~hipec.devices.base.Reading`) and the command last
applied (:class:`~hipec.devices.base.Command`); it never looks at a controller's state. Each tick::

    verdict = supervisor.check(reading, last_applied_command)  # conditions, safe state
    command = controller...(verdict.trusted_reading, ...)      # faulty channels read nan
    command = supervisor.constrain(command)                    # the final say before apply

Three layers
------------
1. **Immediate inhibit.** While a hazardous condition is present in the current sample
   (over-temperature, over-pressure, air, low reservoir, battery), the heater is off -- before any
   debounce.
2. **Trip.** A condition that persists for its check's ``persist_s`` is *confirmed*: it is
   reported as an :class:`~hipec.control.alarms.AlarmCondition` and its :class:`SafeAction`
   latches. A latched trip holds the safe state until :meth:`Supervisor.reset` (operator
   acknowledgement) once the condition has cleared, or after ``auto_release_after_s`` of clear
   condition if configured.
3. **Plausibility.** Sensor faults (disconnected, stuck, disagreeing with the redundant probes) are
   confirmed the same way; a faulty channel reads ``nan`` in
   :attr:`SupervisorVerdict.trusted_reading` (what the controller should use), and the heater
   stays off (``HEATER_OFF``, pumps circulating) until the operator has checked the probe and
   reset. A cavity probe drifting is caught by its model-based residual
   (:mod:`hipec.control.residual`: its reading against a small model of its region fed by the
   measured inflow, outflow and flow, isolated against the other probes), in every phase with
   balanced circulation of a filled abdomen, heat-up included (twin: a 0.5 K/min drift within
   20-27 s); also by its distance from the median of the other probes and the outflow
   (> ``disagree_k``) and by its distance from its own baseline (> ``drift_k``).

Every threshold and persistence is data: :class:`~hipec.control.limits.SafetyLimits` (regimen limits
plus defaults) and :class:`SupervisorConfig` (checks, plausibility thresholds).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum

from hipec.control.alarms import AlarmCondition
from hipec.control.events import Event
from hipec.control.limits import SafetyLimits
from hipec.control.residual import CavityResiduals, ResidualConfig
from hipec.devices.base import Command, DeviceInfo, Reading


class SafeAction(IntEnum):
    """What a confirmed check forces; a higher value is more restrictive."""

    NONE = 0
    #: heater off, pumps as commanded (on battery: keep circulating and monitoring)
    HEATER_OFF = 1
    #: heater off, pumps at most the safe rate
    SAFE_FLOW = 2
    #: heater off, inflow pump stopped and its clamp closed, outflow at most the safe rate
    STOP_INFLOW = 3
    #: heater off, both pumps stopped, both clamps closed
    STOP_ALL = 4


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """How one check acts.

    Attributes
    ----------
    persist_s
        The condition must hold this long [s] before it is confirmed (debounce; 0 = at once).
    action
        Safe action once confirmed.
    hazardous
        While present in a sample (even before confirmation) the heater is off.
    """

    persist_s: float
    action: SafeAction
    hazardous: bool = False


_A = SafeAction
#: Default checks (hipec defaults, to be tuned against the twin; detection time = persistence plus
#: the time the condition takes to appear).
DEFAULT_CHECKS: dict[str, CheckSpec] = {
    "INFLOW_TEMP_HIGH": CheckSpec(2.0, _A.STOP_INFLOW, hazardous=True),
    "CAVITY_TEMP_HIGH": CheckSpec(2.0, _A.SAFE_FLOW, hazardous=True),
    "CORE_TEMP_HIGH": CheckSpec(5.0, _A.SAFE_FLOW, hazardous=True),
    "CORE_TEMP_WARNING": CheckSpec(10.0, _A.NONE),
    "LINE_PRESSURE_HIGH": CheckSpec(2.0, _A.STOP_INFLOW, hazardous=True),
    "ABDOMINAL_PRESSURE_HIGH": CheckSpec(3.0, _A.STOP_INFLOW, hazardous=True),
    "ABDOMINAL_PRESSURE_WARNING": CheckSpec(10.0, _A.NONE),
    "AIR_IN_LINE": CheckSpec(0.0, _A.STOP_ALL, hazardous=True),
    "RESERVOIR_LOW": CheckSpec(2.0, _A.STOP_INFLOW, hazardous=True),
    # 2 s (was 3 s) over a 6 s window (was 10 s): a 0.5 L/min leak must be confirmed within 10 s
    # of its onset, and the level sensor's own lag (2 s) comes first
    "LEAK": CheckSpec(2.0, _A.STOP_ALL),
    "VOLUME_IMBALANCE": CheckSpec(5.0, _A.NONE),
    "PUMP_STALL": CheckSpec(3.0, _A.SAFE_FLOW),
    "HEATER_STUCK_ON": CheckSpec(3.0, _A.STOP_INFLOW),
    "HEATER_FAILED": CheckSpec(5.0, _A.HEATER_OFF),
    "POWER_ON_BATTERY": CheckSpec(0.0, _A.HEATER_OFF, hazardous=True),
    # A faulty temperature probe puts the heater off until the operator has checked it and
    # acknowledged (was: masked only). The supervisor's cross-checks need the redundant probes; with
    # one lost or lying, an over-temperature elsewhere may go unseen, so heating stops while the
    # pumps keep circulating (circulation without heat is safe). Issue 4: every hazardous fault
    # puts the machine in its safe state.
    "PROBE_DISCONNECTED": CheckSpec(2.0, _A.HEATER_OFF),
    "PROBE_STUCK": CheckSpec(0.0, _A.HEATER_OFF),  # the stuck window is its persistence
    # 3 s (was 10 s): its conditions are already averaged (a smoothed model residual, or a state
    # held since the heater settled); a 0.5 K/min drift must be confirmed within 30 s of its onset
    "PROBE_IMPLAUSIBLE": CheckSpec(3.0, _A.HEATER_OFF),
}

#: Codes that mean "this channel cannot be trusted" (the channel is masked for the controller).
SENSOR_FAULT_CODES: frozenset[str] = frozenset(
    {"PROBE_DISCONNECTED", "PROBE_STUCK", "PROBE_IMPLAUSIBLE"}
)


@dataclass(frozen=True, slots=True)
class SupervisorConfig:
    """Plausibility thresholds and check table (hipec defaults; tune against the twin).

    Attributes
    ----------
    checks
        Persistence and action per alarm code.
    heater_off_on_sensor_fault
        Channels whose fault turns the heater off (the controller cannot heat safely without them).
    min_trusted_cavity_probes
        A faulty cavity probe that the operator has checked and acknowledged is left out, and
        heating resumes, only while at least this many cavity probes remain trusted (the
        cross-checks need two); otherwise its trip holds the heater off until it reads again.
    min_flow_l_per_min
        Flow-dependent checks run only above this flow [L/min].
    stuck_window_s, stuck_resolution_k, stuck_others_move_k
        A probe is stuck if over ``stuck_window_s`` [s] it changed by no more than
        ``stuck_resolution_k`` [K] while another temperature channel changed by at least
        ``stuck_others_move_k`` [K].
    disagree_k
        A cavity probe further than this [K] from the median of the other cavity probes and the
        outflow is implausible (regions legitimately differ by up to ~3.6 K in CFD studies).
    drift_k, drift_baseline_s, drift_settle_s
        A cavity probe whose deviation from that median moves more than ``drift_k`` [K] from its own
        running baseline (exponential, time constant ``drift_baseline_s`` [s]) is implausible; the
        baseline is used only after ``drift_settle_s`` [s] of continuous flow.
    residual, residual_limit_k, residual_bound_factor
        Model-based residual check (:mod:`hipec.control.residual`): a cavity probe whose isolated
        residual (reading minus its region model, against the model error ``residual.window_s``
        earlier and against the other probes) exceeds ``max(residual_limit_k,
        residual_bound_factor * bound)`` [K] is implausible, ``bound`` being the largest healthy
        residual of its region in the identification runs in the current operating state
        (:meth:`~hipec.control.residual.CavityResiduals.bound_k`: the heat-up bound
        :data:`~hipec.control.residual.REGION_RESIDUAL_BOUND_K` while the measured inflow
        temperature changes, near the inflow catheters the model is least accurate, graded down
        towards the steady bound by the inflow's range over the last quarter of the abdomen's
        exchange time; the steady bound
        :data:`~hipec.control.residual.REGION_STEADY_RESIDUAL_BOUND_K` once it has held).
        It needs no quasi-steady circulation (the model follows heat-up and inflow changes), only
        balanced pumps and a filled abdomen. A 0.5 K/min drift crosses
        0.15 K 18 s after its onset. It replaces the rate cross-check (a probe's deviation from
        the other probes moving faster than 0.3 K/min while they held still), which ran only in
        quasi-steady circulation (drifts starting in heat-up were confirmed after 34-273 s) and
        condemned probes at an inflow catheter that followed an oscillating inflow.
    heater_tolerance_w
        Allowed difference between commanded and delivered heater power [W].
    heater_settle_s
        After the heater command drops to zero, and after the flow (re)starts, thermal checks of a
        stuck-on heater wait this long [s] (the element and the tubing still hold heat).
    stuck_on_rise_k_per_min, rise_window_s
        With the heater off and settled, an inflow rising faster than this [K/min] over
        ``rise_window_s`` [s] while above the reservoir means the heater still heats.
    inflow_above_reservoir_k
        With the heater off and settled, the inflow should not be above the reservoir by more than
        this [K].
    heater_failed_fraction, heater_failed_window_s, heater_failed_min_rise_k
        Heater commanded at >= this fraction of its maximum for ``heater_failed_window_s`` [s] and
        the inflow less than ``heater_failed_min_rise_k`` [K] above the reservoir: heater failed.
    pump_stall_min_command_l_per_min, pump_stall_fraction
        A pump commanded at least this rate [L/min] whose measured flow is below this fraction of
        the command has stalled.
    volume_imbalance_time_constant_s
        Forgetting time [s] of the pumped-versus-commanded volume integral (so calibration offsets
        do not accumulate).
    leak_window_s
        Window [s] over which the reservoir's unexplained loss is measured.
    leak_steady_net_flow_l_per_min
        The leak check runs only while the measured net pump flow varied by no more than this
        [L/min] over the window (a step in pump rate outruns the level sensor's lag).
    auto_release_after_s
        Release a trip automatically once its condition has been clear this long [s]; None: hold
        until :meth:`Supervisor.reset`.
    max_heater_power_w, max_flow_l_per_min
        Actuator limits enforced by :meth:`Supervisor.constrain` (from the device when given).
    """

    checks: Mapping[str, CheckSpec] = field(default_factory=lambda: dict(DEFAULT_CHECKS))
    heater_off_on_sensor_fault: tuple[str, ...] = ("inflow",)
    min_trusted_cavity_probes: int = 2
    min_flow_l_per_min: float = 0.3
    stuck_window_s: float = 20.0
    stuck_resolution_k: float = 0.005
    stuck_others_move_k: float = 0.1
    disagree_k: float = 4.0
    drift_k: float = 1.5
    drift_baseline_s: float = 120.0
    drift_settle_s: float = 300.0
    residual: ResidualConfig = field(default_factory=ResidualConfig)
    residual_limit_k: float = 0.15
    residual_bound_factor: float = 1.5
    heater_tolerance_w: float = 100.0
    heater_settle_s: float = 60.0
    stuck_on_rise_k_per_min: float = 1.0
    rise_window_s: float = 10.0
    inflow_above_reservoir_k: float = 1.5
    heater_failed_fraction: float = 0.5
    heater_failed_window_s: float = 45.0
    heater_failed_min_rise_k: float = 1.0
    pump_stall_min_command_l_per_min: float = 0.3
    pump_stall_fraction: float = 0.2
    volume_imbalance_time_constant_s: float = 120.0
    leak_window_s: float = 6.0
    leak_steady_net_flow_l_per_min: float = 0.1
    auto_release_after_s: float | None = None
    max_heater_power_w: float = 3000.0
    max_flow_l_per_min: float = 4.0


@dataclass(frozen=True, slots=True)
class SupervisorVerdict:
    """What the supervisor concluded from one reading.

    Attributes
    ----------
    forced_command
        The safe command in force (the last applied command constrained), None if no safe state.
    conditions
        Confirmed conditions, for :meth:`~hipec.control.alarms.AlarmManager.update`.
    trusted_reading
        The reading with every channel judged faulty replaced by ``nan`` (feed this to the
        controller and the procedure).
    safe_action
        The most restrictive latched action.
    heater_inhibited
        The heater is off this tick (a latched action or a hazard present in this sample).
    masked_channels
        Channels judged faulty.
    events
        ``supervisor.tripped`` / ``supervisor.released`` events of this tick.
    """

    forced_command: Command | None
    conditions: tuple[AlarmCondition, ...]
    trusted_reading: Reading
    safe_action: SafeAction
    heater_inhibited: bool
    masked_channels: tuple[str, ...]
    events: tuple[Event, ...]


@dataclass(slots=True)
class _Trip:
    action: SafeAction
    tripped_s: float
    clear_since_s: float | None = None


@dataclass(frozen=True, slots=True)
class _Sample:
    time_s: float
    temperatures: dict[str, float]
    reservoir_l: float
    net_return_l: float  # cumulative outflow minus inflow since start [L]
    net_flow_l_per_min: float  # measured outflow minus inflow now [L/min]


def _finite(value: float) -> bool:
    return math.isfinite(value)


def _cavity_channel(region: int) -> str:
    return f"cavity[{region}]"


def temperature_channels(reading: Reading) -> dict[str, float]:
    """Every temperature channel of ``reading`` by name (``inflow``, ``outflow``, ``reservoir``,
    ``core``, ``cavity[<region>]``) [C]."""
    channels = {
        "inflow": reading.inflow_c,
        "outflow": reading.outflow_c,
        "reservoir": reading.reservoir_c,
        "core": reading.core_c,
    }
    for region, value in zip(reading.cavity_probe_regions, reading.cavity_c, strict=True):
        channels[_cavity_channel(region)] = value
    return channels


def mask_channels(reading: Reading, channels: set[str] | frozenset[str]) -> Reading:
    """``reading`` with the named temperature channels set to ``nan``."""
    if not channels:
        return reading
    nan = math.nan
    cavity = tuple(
        nan if _cavity_channel(region) in channels else value
        for region, value in zip(reading.cavity_probe_regions, reading.cavity_c, strict=True)
    )
    return replace(
        reading,
        inflow_c=nan if "inflow" in channels else reading.inflow_c,
        outflow_c=nan if "outflow" in channels else reading.outflow_c,
        reservoir_c=nan if "reservoir" in channels else reading.reservoir_c,
        core_c=nan if "core" in channels else reading.core_c,
        cavity_c=cavity,
    )


class Supervisor:
    """The safety supervisor; see the module docstring.

    Parameters
    ----------
    limits
        Hard limits and trip points (:meth:`SafetyLimits.from_plan`).
    config
        Check table and plausibility thresholds.
    device
        When given, its heater and pump limits replace those of ``config``.
    """

    def __init__(
        self,
        limits: SafetyLimits,
        config: SupervisorConfig | None = None,
        device: DeviceInfo | None = None,
    ) -> None:
        config = config or SupervisorConfig()
        if device is not None:
            config = replace(
                config,
                max_heater_power_w=device.max_heater_power_w,
                max_flow_l_per_min=device.max_flow_l_per_min,
            )
        self.limits = limits
        self.config = config
        self.reset_all()

    def reset_all(self) -> None:
        """Forget all history and trips (a new perfusion)."""
        self._since: dict[tuple[str, str], float] = {}
        self._confirmed: set[tuple[str, str]] = set()
        self._trips: dict[tuple[str, str], _Trip] = {}
        self._history: deque[_Sample] = deque()
        self._last_time_s: float | None = None
        self._imbalance_l = 0.0
        self._net_return_l = 0.0
        self._heater_off_since_s: float | None = None
        self._heater_high_since_s: float | None = None
        self._flow_since_s: float | None = None
        self._drift_baseline_k: dict[str, float] = {}
        self._inhibit = False
        self._hazard_now = False
        self._pending_events: list[Event] = []
        self._cavity_channels: tuple[str, ...] = ()
        self._residual_model = CavityResiduals(self.limits.technique, self.config.residual)
        self._residuals_k: dict[int, float] = {}

    # -- state ----------------------------------------------------------------------------------

    @property
    def safe_action(self) -> SafeAction:
        """The most restrictive latched action."""
        return max((t.action for t in self._trips.values()), default=SafeAction.NONE)

    @property
    def masked_channels(self) -> frozenset[str]:
        """Channels judged faulty (latched until reset)."""
        return frozenset(
            source for code, source in self._trips if code in SENSOR_FAULT_CODES and source
        )

    @property
    def trips(self) -> tuple[tuple[str, str], ...]:
        """Latched ``(code, source)`` trips."""
        return tuple(self._trips)

    # -- the tick -------------------------------------------------------------------------------

    def check(self, reading: Reading, last_command: Command | None = None) -> SupervisorVerdict:
        """Check one reading (``last_command``: the command applied since the previous reading).

        Returns
        -------
        SupervisorVerdict
            Confirmed conditions, the safe state in force and the trusted reading.
        """
        now = reading.time_s
        dt_s = 0.0 if self._last_time_s is None else max(now - self._last_time_s, 0.0)
        self._last_time_s = now
        self._cavity_channels = tuple(_cavity_channel(r) for r in reading.cavity_probe_regions)
        self._track(reading, last_command, dt_s)
        self._remember(reading)
        faulty = self.masked_channels
        self._residuals_k = self._residual_model.update(
            reading,
            frozenset(r for r in reading.cavity_probe_regions if _cavity_channel(r) in faulty),
        )

        raw: list[AlarmCondition] = []
        raw += self._limit_checks(reading)
        raw += self._fluid_checks(reading, last_command, dt_s)
        raw += self._actuator_checks(reading, last_command)
        raw += self._sensor_checks(reading, dt_s)

        checks = self.config.checks
        present: dict[tuple[str, str], AlarmCondition] = {}
        for condition in raw:
            present.setdefault(condition.key, condition)
        self._since = {key: self._since.get(key, now) for key in present}
        confirmed = [
            condition
            for key, condition in present.items()
            if now - self._since[key] >= checks[condition.code].persist_s - 1e-9
        ]
        self._confirmed = {c.key for c in confirmed}
        hazard_now = any(checks[c.code].hazardous for c in present.values())

        events = self._update_trips(now, confirmed)
        masked = self.masked_channels
        self._hazard_now = hazard_now
        self._update_inhibit()
        forced = None
        if self._inhibit:
            forced = self.constrain(last_command if last_command is not None else Command())
        return SupervisorVerdict(
            forced_command=forced,
            conditions=tuple(confirmed),
            trusted_reading=mask_channels(reading, masked),
            safe_action=self.safe_action,
            heater_inhibited=self._inhibit,
            masked_channels=tuple(sorted(masked)),
            events=tuple(events),
        )

    def _update_inhibit(self) -> None:
        critical = self.masked_channels & set(self.config.heater_off_on_sensor_fault)
        self._inhibit = self._hazard_now or bool(critical) or self.safe_action > SafeAction.NONE

    def constrain(self, command: Command) -> Command:
        """The final say before ``device.apply``: actuator limits, and the safe state in force.

        Non-finite values become 0; the heater is 0 while inhibited; pumps and clamps follow the
        most restrictive latched action.
        """
        cfg = self.config

        def limited(value: float, high: float) -> float:
            return min(max(value, 0.0), high) if _finite(value) else 0.0

        heater = limited(command.heater_power_w, cfg.max_heater_power_w)
        inflow = limited(command.inflow_l_per_min, cfg.max_flow_l_per_min)
        outflow = limited(command.outflow_l_per_min, cfg.max_flow_l_per_min)
        inflow_open, outflow_open = command.inflow_clamp_open, command.outflow_clamp_open
        action = self.safe_action
        safe = self.limits.safe_flow_l_per_min
        if self._inhibit or action > SafeAction.NONE:
            heater = 0.0
        if action == SafeAction.SAFE_FLOW:
            inflow, outflow = min(inflow, safe), min(outflow, safe)
        elif action == SafeAction.STOP_INFLOW:
            inflow, inflow_open, outflow = 0.0, False, min(outflow, safe)
        elif action == SafeAction.STOP_ALL:
            inflow, outflow, inflow_open, outflow_open = 0.0, 0.0, False, False
        return Command(heater, inflow, outflow, inflow_open, outflow_open)

    def reset(
        self, time_s: float, code: str | None = None, source: str | None = None
    ) -> list[Event]:
        """Operator reset: release latched trips (all, or by ``code`` / ``source``) whose condition
        is no longer confirmed, and accept faulty cavity probes that still are (see
        :meth:`_accept_faulty_probe`). Returns the ``supervisor.released`` events."""
        events = []
        for key in list(self._trips):
            if (code is not None and key[0] != code) or (source is not None and key[1] != source):
                continue
            if key not in self._confirmed:
                events.append(self._release(time_s, key, "reset by the operator"))
            elif self._can_leave_out(key):
                events.append(self._accept_faulty_probe(time_s, key))
        self._update_inhibit()
        return events

    def _can_leave_out(self, key: tuple[str, str]) -> bool:
        code, channel = key
        if code not in SENSOR_FAULT_CODES or not channel.startswith("cavity["):
            return False
        if self._trips[key].action == SafeAction.NONE:
            return False  # already accepted
        trusted = [
            c for c in self._cavity_channels if c not in self.masked_channels and c != channel
        ]
        return len(trusted) >= self.config.min_trusted_cavity_probes

    def _accept_faulty_probe(self, now: float, key: tuple[str, str]) -> Event:
        """The operator has checked a cavity probe that stays faulty (a probe does not reconnect
        itself mid-perfusion): it stays masked, and heating resumes on the remaining probes.
        Holding the heater off instead would cool the drug-laden perfusate out of the therapeutic
        range for the rest of the perfusion."""
        self._trips[key].action = SafeAction.NONE
        return Event(
            now,
            "supervisor.released",
            key[0],
            f"{key[0]} ({key[1]}) left out by the operator: heating resumes on the other probes",
            {"action": "none", "source": key[1], "masked": True},
        )

    # -- trips ----------------------------------------------------------------------------------

    def _update_trips(self, now: float, confirmed: list[AlarmCondition]) -> list[Event]:
        events = self._pending_events
        self._pending_events = []
        for condition in confirmed:
            spec = self.config.checks[condition.code]
            latches = spec.action > SafeAction.NONE or condition.code in SENSOR_FAULT_CODES
            trip = self._trips.get(condition.key)
            if trip is not None:
                trip.clear_since_s = None
            elif latches:
                self._trips[condition.key] = _Trip(spec.action, now)
                where = f" ({condition.source})" if condition.source else ""
                events.append(
                    Event(
                        now,
                        "supervisor.tripped",
                        condition.code,
                        f"{condition.code}{where}: {spec.action.name.lower()}",
                        {
                            "action": spec.action.name.lower(),
                            "source": condition.source,
                            "value": condition.value,
                            "limit": condition.limit,
                        },
                    )
                )
        release_after = self.config.auto_release_after_s
        for key, trip in list(self._trips.items()):
            if key in self._confirmed:
                continue
            if trip.clear_since_s is None:
                trip.clear_since_s = now
            if release_after is not None and now - trip.clear_since_s >= release_after:
                events.append(self._release(now, key, f"clear for {release_after:g} s"))
        return events

    def _release(self, now: float, key: tuple[str, str], why: str) -> Event:
        trip = self._trips.pop(key)
        if key[0] in SENSOR_FAULT_CODES:
            self._drift_baseline_k.pop(key[1], None)
        return Event(
            now,
            "supervisor.released",
            key[0],
            f"{key[0]} ({key[1]}) released: {why}" if key[1] else f"{key[0]} released: {why}",
            {"action": trip.action.name.lower(), "source": key[1]},
        )

    # -- history --------------------------------------------------------------------------------

    def _track(self, reading: Reading, command: Command | None, dt_s: float) -> None:
        """Integrators and timers that need the previous tick."""
        now, cfg = reading.time_s, self.config
        in_q, out_q = reading.inflow_l_per_min, reading.outflow_l_per_min
        if _finite(in_q) and _finite(out_q):
            self._net_return_l += (out_q - in_q) * dt_s / 60.0
            if command is not None:
                commanded_in = command.inflow_l_per_min if command.inflow_clamp_open else 0.0
                commanded_out = command.outflow_l_per_min if command.outflow_clamp_open else 0.0
                mismatch = (in_q - out_q) - (commanded_in - commanded_out)
                decay = math.exp(-dt_s / cfg.volume_imbalance_time_constant_s)
                self._imbalance_l = self._imbalance_l * decay + mismatch * dt_s / 60.0
        flowing = _finite(in_q) and in_q >= cfg.min_flow_l_per_min
        if not flowing:
            self._flow_since_s = None
        elif self._flow_since_s is None:
            self._flow_since_s = now
        if command is None:
            return
        off = command.heater_power_w <= 1.0
        if not off:
            self._heater_off_since_s = None
        elif self._heater_off_since_s is None:
            self._heater_off_since_s = now
        high = command.heater_power_w >= cfg.heater_failed_fraction * cfg.max_heater_power_w
        if not high:
            self._heater_high_since_s = None
        elif self._heater_high_since_s is None:
            self._heater_high_since_s = now

    def _remember(self, reading: Reading) -> None:
        cfg = self.config
        self._history.append(
            _Sample(
                reading.time_s,
                temperature_channels(reading),
                reading.reservoir_volume_l,
                self._net_return_l,
                reading.outflow_l_per_min - reading.inflow_l_per_min,
            )
        )
        keep_s = max(cfg.stuck_window_s, cfg.leak_window_s, cfg.rise_window_s)
        # keep one sample at or before the longest window's start
        while len(self._history) > 2 and self._history[1].time_s <= reading.time_s - keep_s:
            self._history.popleft()

    def _at_window_start(self, now: float, window_s: float) -> _Sample | None:
        """The latest stored sample at or before ``now - window_s`` (None: history too short)."""
        start = None
        for sample in self._history:
            if sample.time_s <= now - window_s + 1e-9:
                start = sample
            else:
                break
        return start

    def _window(self, now: float, window_s: float) -> list[_Sample] | None:
        start = self._at_window_start(now, window_s)
        if start is None:
            return None
        return [s for s in self._history if s.time_s >= start.time_s]

    # -- checks ---------------------------------------------------------------------------------

    def _limit_checks(self, r: Reading) -> list[AlarmCondition]:
        lim = self.limits
        out: list[AlarmCondition] = []
        if _finite(r.inflow_c) and r.inflow_c > lim.inflow_trip_c:
            out.append(AlarmCondition("INFLOW_TEMP_HIGH", r.inflow_c, lim.inflow_trip_c, "inflow"))
        for region, value in zip(r.cavity_probe_regions, r.cavity_c, strict=True):
            if _finite(value) and value > lim.region_trip_c:
                out.append(
                    AlarmCondition(
                        "CAVITY_TEMP_HIGH", value, lim.region_trip_c, _cavity_channel(region)
                    )
                )
        if _finite(r.core_c) and r.core_c > lim.max_core_c:
            out.append(AlarmCondition("CORE_TEMP_HIGH", r.core_c, lim.max_core_c, "core"))
        elif _finite(r.core_c) and r.core_c > lim.core_warning_c:
            out.append(AlarmCondition("CORE_TEMP_WARNING", r.core_c, lim.core_warning_c, "core"))
        pressure = r.line_pressure_mmhg
        if _finite(pressure) and pressure > lim.max_line_pressure_mmhg:
            out.append(
                AlarmCondition("LINE_PRESSURE_HIGH", pressure, lim.max_line_pressure_mmhg, "line")
            )
        iap = r.abdominal_pressure_mmhg
        if lim.closed and _finite(iap):
            if iap > lim.max_abdominal_pressure_mmhg:
                out.append(
                    AlarmCondition(
                        "ABDOMINAL_PRESSURE_HIGH", iap, lim.max_abdominal_pressure_mmhg, "abdomen"
                    )
                )
            elif iap > lim.abdominal_pressure_warning_mmhg:
                out.append(
                    AlarmCondition(
                        "ABDOMINAL_PRESSURE_WARNING",
                        iap,
                        lim.abdominal_pressure_warning_mmhg,
                        "abdomen",
                    )
                )
        if r.air_in_line:
            out.append(AlarmCondition("AIR_IN_LINE", 1.0, 0.0, "inflow line"))
        if _finite(r.reservoir_volume_l) and r.reservoir_volume_l < lim.min_reservoir_l:
            out.append(
                AlarmCondition(
                    "RESERVOIR_LOW", r.reservoir_volume_l, lim.min_reservoir_l, "reservoir"
                )
            )
        if r.power == "battery":
            out.append(AlarmCondition("POWER_ON_BATTERY", message="mains power lost"))
        return out

    def _fluid_checks(
        self, r: Reading, command: Command | None, dt_s: float
    ) -> list[AlarmCondition]:
        lim, cfg = self.limits, self.config
        out: list[AlarmCondition] = []
        if command is not None and abs(self._imbalance_l) > lim.max_volume_imbalance_l:
            out.append(
                AlarmCondition(
                    "VOLUME_IMBALANCE",
                    self._imbalance_l,
                    lim.max_volume_imbalance_l,
                    "pumps",
                    "pumped net volume differs from the commanded one",
                )
            )
        start = self._at_window_start(r.time_s, cfg.leak_window_s)
        if (
            start is not None
            and _finite(r.reservoir_volume_l)
            and _finite(start.reservoir_l)
            and self._net_flow_steady(r.time_s)
        ):
            span_s = r.time_s - start.time_s
            expected = self._net_return_l - start.net_return_l
            unexplained = (r.reservoir_volume_l - start.reservoir_l) - expected
            loss_rate = -unexplained / span_s * 60.0 if span_s > 0 else 0.0
            if loss_rate > lim.leak_rate_l_per_min:
                out.append(
                    AlarmCondition(
                        "LEAK",
                        loss_rate,
                        lim.leak_rate_l_per_min,
                        "circuit",
                        f"{-unexplained:.2f} L lost in {span_s:g} s",
                    )
                )
        return out

    def _net_flow_steady(self, now: float) -> bool:
        """Whether the measured net pump flow held still over the leak window: when it steps, the
        level sensor's lag alone looks like a loss for a few seconds (false leaks at every change
        of pump rate)."""
        window = self._window(now, self.config.leak_window_s)
        if not window:
            return False
        flows = [s.net_flow_l_per_min for s in window]
        if not all(_finite(f) for f in flows):
            return False
        return max(flows) - min(flows) <= self.config.leak_steady_net_flow_l_per_min

    def _actuator_checks(self, r: Reading, command: Command | None) -> list[AlarmCondition]:
        if command is None:
            return []
        cfg = self.config
        out: list[AlarmCondition] = []
        pumps = (
            (
                "inflow pump",
                command.inflow_l_per_min,
                command.inflow_clamp_open,
                r.inflow_l_per_min,
            ),
            (
                "outflow pump",
                command.outflow_l_per_min,
                command.outflow_clamp_open,
                r.outflow_l_per_min,
            ),
        )
        for name, commanded, clamp_open, measured in pumps:
            if (
                clamp_open
                and commanded >= cfg.pump_stall_min_command_l_per_min
                and _finite(measured)
                and measured < cfg.pump_stall_fraction * commanded
            ):
                out.append(AlarmCondition("PUMP_STALL", measured, commanded, name))

        delivered, commanded_w = r.heater_power_w, command.heater_power_w
        if _finite(delivered):
            if delivered > commanded_w + cfg.heater_tolerance_w:
                out.append(
                    AlarmCondition(
                        "HEATER_STUCK_ON",
                        delivered,
                        commanded_w + cfg.heater_tolerance_w,
                        "heater",
                        f"delivers {delivered:.0f} W, commanded {commanded_w:.0f} W",
                    )
                )
            elif r.power == "mains" and delivered < commanded_w - cfg.heater_tolerance_w:
                out.append(
                    AlarmCondition(
                        "HEATER_FAILED",
                        delivered,
                        commanded_w - cfg.heater_tolerance_w,
                        "heater",
                        f"delivers {delivered:.0f} W, commanded {commanded_w:.0f} W",
                    )
                )

        flowing = _finite(r.inflow_l_per_min) and r.inflow_l_per_min >= cfg.min_flow_l_per_min
        inflow, reservoir = r.inflow_c, r.reservoir_c
        above_reservoir = inflow - reservoir if _finite(reservoir) else math.nan
        # settled: heater off AND flow running for heater_settle_s -- when circulation restarts
        # after a stop, the hot slug left in the exchanger reaches the inflow probe (twin: rinse
        # after drain) and must not read as a heater stuck on
        settled_off = (
            self._heater_off_since_s is not None
            and r.time_s - self._heater_off_since_s >= cfg.heater_settle_s
            and self._flow_since_s is not None
            and r.time_s - self._flow_since_s >= cfg.heater_settle_s
        )
        if settled_off and flowing and _finite(inflow):
            start = self._at_window_start(r.time_s, cfg.rise_window_s)
            earlier = start.temperatures["inflow"] if start is not None else math.nan
            rise_k_per_min = (
                (inflow - earlier) / (r.time_s - start.time_s) * 60.0
                if start is not None and _finite(earlier) and r.time_s > start.time_s
                else math.nan
            )
            hot = not _finite(above_reservoir) or above_reservoir > 0.0
            if _finite(rise_k_per_min) and rise_k_per_min > cfg.stuck_on_rise_k_per_min and hot:
                out.append(
                    AlarmCondition(
                        "HEATER_STUCK_ON",
                        rise_k_per_min,
                        cfg.stuck_on_rise_k_per_min,
                        "inflow rise",
                        f"inflow rising {rise_k_per_min:.1f} K/min with the heater off",
                    )
                )
            elif _finite(above_reservoir) and above_reservoir > cfg.inflow_above_reservoir_k:
                out.append(
                    AlarmCondition(
                        "PROBE_IMPLAUSIBLE",
                        above_reservoir,
                        cfg.inflow_above_reservoir_k,
                        "inflow",
                        "inflow warmer than the reservoir with the heater off",
                    )
                )
        heater_high = (
            self._heater_high_since_s is not None
            and r.time_s - self._heater_high_since_s >= cfg.heater_failed_window_s
        )
        if (
            heater_high
            and flowing
            and r.power == "mains"
            and _finite(above_reservoir)
            and above_reservoir < cfg.heater_failed_min_rise_k
        ):
            out.append(
                AlarmCondition(
                    "HEATER_FAILED",
                    above_reservoir,
                    cfg.heater_failed_min_rise_k,
                    "inflow rise",
                    "inflow not above the reservoir with the heater at high power",
                )
            )
        return out

    def _sensor_checks(self, r: Reading, dt_s: float) -> list[AlarmCondition]:
        cfg, lim = self.config, self.limits
        out: list[AlarmCondition] = []
        channels = temperature_channels(r)
        for name, value in channels.items():
            if not _finite(value):
                out.append(AlarmCondition("PROBE_DISCONNECTED", source=name, message="no reading"))
        others_numeric = {
            "inflow_flow": r.inflow_l_per_min,
            "outflow_flow": r.outflow_l_per_min,
            "line_pressure": r.line_pressure_mmhg,
            "reservoir_volume": r.reservoir_volume_l,
        }
        if lim.closed:
            others_numeric["abdominal_pressure"] = r.abdominal_pressure_mmhg
        for name, value in others_numeric.items():
            if not _finite(value):
                out.append(AlarmCondition("PROBE_DISCONNECTED", source=name, message="no reading"))

        flowing = self._flow_since_s is not None
        masked = self.masked_channels
        flow_s = r.time_s - self._flow_since_s if self._flow_since_s is not None else 0.0
        window = self._window(r.time_s, cfg.stuck_window_s)
        if window is not None and flow_s >= cfg.stuck_window_s:
            ranges: dict[str, float] = {}
            for name in channels:
                if name == "core":
                    continue  # the core moves too slowly to judge
                values = [s.temperatures.get(name, math.nan) for s in window]
                ranges[name] = (
                    max(values) - min(values) if all(_finite(v) for v in values) else math.nan
                )
            for name, spread in ranges.items():
                if name == "reservoir" or not _finite(spread) or spread > cfg.stuck_resolution_k:
                    continue
                others = [
                    other_spread
                    for other, other_spread in ranges.items()
                    if other != name and other not in masked and _finite(other_spread)
                ]
                # "the others move": most of them, so one moving probe cannot make the rest
                # look stuck
                if len(others) >= 2 and statistics.median(others) >= cfg.stuck_others_move_k:
                    out.append(
                        AlarmCondition(
                            "PROBE_STUCK",
                            spread,
                            cfg.stuck_resolution_k,
                            name,
                            f"unchanged for {cfg.stuck_window_s:g} s while the others moved",
                        )
                    )

        if flowing:
            out += self._cavity_plausibility(r, dt_s, masked)
        return out

    def _cavity_plausibility(
        self, r: Reading, dt_s: float, masked: frozenset[str]
    ) -> list[AlarmCondition]:
        cfg = self.config
        out: list[AlarmCondition] = []
        group = {
            _cavity_channel(region): value
            for region, value in zip(r.cavity_probe_regions, r.cavity_c, strict=True)
            if _finite(value) and _cavity_channel(region) not in masked
        }
        outflow = r.outflow_c if _finite(r.outflow_c) and "outflow" not in masked else None
        settled = (
            self._flow_since_s is not None and r.time_s - self._flow_since_s >= cfg.drift_settle_s
        )
        alpha = min(1.0, dt_s / cfg.drift_baseline_s) if cfg.drift_baseline_s > 0 else 1.0
        condemned: set[str] = set()
        for region in r.cavity_probe_regions:
            name = _cavity_channel(region)
            residual = self._residuals_k.get(region, math.nan)
            bound = self._residual_model.bound_k(region)  # of the operating state
            limit = max(cfg.residual_limit_k, cfg.residual_bound_factor * bound)
            if name in group and _finite(residual) and abs(residual) > limit:
                condemned.add(name)
                out.append(
                    AlarmCondition(
                        "PROBE_IMPLAUSIBLE",
                        abs(residual),
                        limit,
                        name,
                        f"{residual:+.2f} K from its region model",
                    )
                )
        for name, value in group.items():
            others = [v for other, v in group.items() if other != name]
            if outflow is not None:
                others.append(outflow)
            if len(others) < 2 or name in condemned:
                continue  # a drifting probe must not drag its own baseline along
            deviation = value - statistics.median(others)
            if abs(deviation) > cfg.disagree_k:
                out.append(
                    AlarmCondition(
                        "PROBE_IMPLAUSIBLE",
                        abs(deviation),
                        cfg.disagree_k,
                        name,
                        f"{deviation:+.1f} K from the median of the other probes",
                    )
                )
                continue
            baseline = self._drift_baseline_k.get(name)
            if baseline is None:
                self._drift_baseline_k[name] = deviation
                continue
            if settled and abs(deviation - baseline) > cfg.drift_k:
                out.append(
                    AlarmCondition(
                        "PROBE_IMPLAUSIBLE",
                        abs(deviation - baseline),
                        cfg.drift_k,
                        name,
                        f"drifted {deviation - baseline:+.1f} K against the other probes",
                    )
                )
                continue  # a drifting probe must not drag its own baseline along
            self._drift_baseline_k[name] = baseline + alpha * (deviation - baseline)
        return out
