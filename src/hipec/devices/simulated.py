"""The simulated perfusion machine: the digital twin behind realistic sensors and actuators.

:class:`SimulatedPerfusionMachine` implements :class:`~hipec.devices.base.SimulatedDevice`
(``read() -> Reading``, ``apply(Command)``, ``advance(dt_s)``) over one patient's
:class:`hipec.model.Twin`, plus the fluid handling an operator does at the machine (loading carrier
bags, adding a drug to the reservoir, rinsing) and the ground truth a study needs.

Actuators
---------
- Heater: delivers ``clip(command, 0, P_max)`` with ``P_max`` the twin's heater limit;
  ``Reading.heater_power_w`` is the power actually *delivered* (faults included).
- Pumps (roller pumps): the command is limited to ``[0, max_flow]``, quantised to the speed
  resolution and approached at a rate limit [L/min per s]. A closed clamp stops its line. A pump
  cannot move fluid that is not there: with the reservoir at its minimum the inflow pump draws air
  (the air detector sees it) and delivers no more than returns; with the abdomen at its residual
  volume the outflow pump delivers no more than comes in.

Fluid paths (how pump flows reach the twin)
-------------------------------------------
The twin rebuilds its propagators whenever a volume changes, so the machine steps it with
*balanced* flows at the inflow pump's rate (the perfusate passes heater, inflow line, abdomen and
outflow line) and moves the *net* volume ``(Q_in - Q_out) dt`` between reservoir and abdomen in
lumps of ``transfer_lump_l``. A lump of drug-free perfusate moves as a pair of twin events (drain
the source, fill the destination at the source's mean temperature: energy is conserved exactly);
once a drug is in the perfusate a lump moves as one exact twin step with the extra flow on the
pump that moves it, so drug and heat travel through the tubing as the physics says. Readings of
the reservoir level and the intra-abdominal pressure include the lump still pending, so the
sensors see a continuous volume. (Approximation: while filling, the twin's abdomen is also washed
through at the inflow rate, as if the outflow ran; the abdomen follows the inflow temperature.)

Sensors
-------
Every channel is the true value through a first-order lag (time constant), plus a calibration
offset drawn once per machine from a seeded generator, plus Gaussian noise, quantised to the
channel's resolution. Line pressure is a documented model: ``R_line * Q_in + IAP`` with ``R_line``
[mmHg per L/min] (an occlusion multiplies ``R_line``). Intra-abdominal pressure reads ``nan`` in the
open technique. Values are hipec engineering choices (no datasheet was available), all
configurable in :class:`MachineConfig`.

Faults: see :mod:`hipec.devices.faults` for the list and each effect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from hipec.devices.base import Command, DeviceInfo, PowerState, Reading
from hipec.devices.faults import Fault
from hipec.errors import InvalidInputError
from hipec.model import REGION_NAMES, CatheterPlacement, Commands, Event, Patient, Twin
from hipec.model.cavity import abdominal_pressure_mmhg
from hipec.model.metrics import first_mm_temperature_drop_k, penetration_depth_m
from hipec.model.parameters.abdomen import REGION_VOLUME_SHARE
from hipec.model.state import FloatArray

_VOLUME_SHARE = np.array(REGION_VOLUME_SHARE)
_TEMPERATURE_CHANNELS: tuple[str, ...] = ("inflow", "outflow", "reservoir", "core")


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """One sensor's imperfections.

    Attributes
    ----------
    time_constant_s
        First-order lag [s] (0: none).
    noise_sd
        Standard deviation of the Gaussian noise per sample [channel unit].
    resolution
        Quantisation step [channel unit] (0: none).
    offset_sd
        Standard deviation of the calibration offset drawn once per machine [channel unit].
    """

    time_constant_s: float = 0.0
    noise_sd: float = 0.0
    resolution: float = 0.0
    offset_sd: float = 0.0


@dataclass(frozen=True, slots=True)
class MachineConfig:
    """Settings of :class:`SimulatedPerfusionMachine` (hipec engineering defaults, unverified).

    Attributes
    ----------
    name
        Device name reported in :class:`~hipec.devices.base.DeviceInfo`.
    cavity_probe_regions
        PCI regions (0-12) of the intra-abdominal probes (at least three).
    control_period_s
        Period [s] at which the machine expects commands.
    max_flow_l_per_min
        Pump limit [L/min].
    pump_rate_limit_l_per_min_s
        Fastest change of a pump's flow [L/min per s].
    pump_resolution_l_per_min
        Pump speed step [L/min].
    line_resistance_mmhg_per_l_min
        Inflow line and catheter resistance [mmHg per L/min].
    transfer_lump_l
        Net volume moved between reservoir and abdomen at once [L] (see the module docstring).
    bag_temperature_c
        Temperature of carrier and rinse bags [C] (warmed before use).
    air_margin_l
        The inflow pump draws air once the reservoir is within this of its minimum [L].
    temperature, cavity, core, flow, line_pressure, abdominal_pressure, level
        Sensor imperfections per channel group.
    """

    name: str = "hipec simulated perfusion machine"
    cavity_probe_regions: tuple[int, ...] = (0, 6, 3)
    control_period_s: float = 1.0
    max_flow_l_per_min: float = 4.0
    pump_rate_limit_l_per_min_s: float = 1.0
    pump_resolution_l_per_min: float = 0.01
    line_resistance_mmhg_per_l_min: float = 60.0
    transfer_lump_l: float = 0.2
    bag_temperature_c: float = 37.0
    air_margin_l: float = 0.01
    temperature: SensorSpec = field(default_factory=lambda: SensorSpec(2.0, 0.03, 0.01, 0.05))
    cavity: SensorSpec = field(default_factory=lambda: SensorSpec(5.0, 0.03, 0.01, 0.1))
    core: SensorSpec = field(default_factory=lambda: SensorSpec(20.0, 0.02, 0.01, 0.1))
    flow: SensorSpec = field(default_factory=lambda: SensorSpec(1.0, 0.01, 0.01, 0.0))
    line_pressure: SensorSpec = field(default_factory=lambda: SensorSpec(1.0, 1.0, 1.0, 0.0))
    abdominal_pressure: SensorSpec = field(default_factory=lambda: SensorSpec(2.0, 0.3, 0.1, 0.0))
    level: SensorSpec = field(default_factory=lambda: SensorSpec(2.0, 0.003, 0.005, 0.0))

    def __post_init__(self) -> None:
        regions = self.cavity_probe_regions
        if len(regions) < 3 or len(set(regions)) != len(regions):
            raise InvalidInputError(
                "cavity_probe_regions", f"must name at least 3 distinct PCI regions, got {regions}"
            )
        if any(not isinstance(r, int) or not 0 <= r <= 12 for r in regions):
            raise InvalidInputError(
                "cavity_probe_regions", f"must hold PCI regions 0-12, got {regions}"
            )
        for name in ("control_period_s", "max_flow_l_per_min", "transfer_lump_l"):
            if not getattr(self, name) > 0:
                raise InvalidInputError(name, f"must be > 0, got {getattr(self, name)!r}")


@dataclass(frozen=True, slots=True)
class PlantTruth:
    """What the twin really holds at one instant (for studies and metrics, never for control).

    Attributes
    ----------
    time_s
        Device time [s].
    region_c
        Fluid temperature of the 13 PCI regions [C].
    inflow_c, outflow_c, reservoir_c, core_c
        True temperatures [C].
    abdominal_volume_l, reservoir_volume_l
        True volumes [L] (pending lumps included).
    perfusate_mg_l, plasma_mg_l
        Mean perfusate and plasma concentration per drug [mg/L] (order of ``drugs``).
    heater_power_w, inflow_l_per_min, outflow_l_per_min
        Delivered heater power [W] and pump flows [L/min] over the last step.
    region_mg_l
        Concentration of each drug in each of the 13 regions [mg/L], drugs first.
    """

    time_s: float
    region_c: tuple[float, ...]
    inflow_c: float
    outflow_c: float
    reservoir_c: float
    core_c: float
    abdominal_volume_l: float
    reservoir_volume_l: float
    perfusate_mg_l: tuple[float, ...]
    plasma_mg_l: tuple[float, ...]
    heater_power_w: float
    inflow_l_per_min: float
    outflow_l_per_min: float
    region_mg_l: tuple[tuple[float, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class DrugSnapshot:
    """One drug's state at an instant (the end of perfusion, typically).

    Attributes
    ----------
    drug
        Drug name as the twin knows it.
    dosed_mg
        Amount given so far [mg].
    fraction_remaining, fraction_absorbed, fraction_urine
        Fractions of the dose [-] (nan before any dose): in the perfusate (circuit included),
        absorbed into tissue and body, excreted in urine.
    penetration_depth_mm
        Mean over the 13 regions of the depth where the tissue concentration falls to 10 % of its
        surface value [mm] (nan before any dose).
    """

    drug: str
    dosed_mg: float
    fraction_remaining: float
    fraction_absorbed: float
    fraction_urine: float
    penetration_depth_mm: float


@dataclass(frozen=True, slots=True)
class PlantSnapshot:
    """Wall and drug state of the twin at an instant.

    Attributes
    ----------
    time_s
        Device time [s].
    wall_gradient_first_mm_k
        Per region: surface temperature minus the temperature 1 mm into the wall [K].
    drugs
        One :class:`DrugSnapshot` per drug.
    """

    time_s: float
    wall_gradient_first_mm_k: tuple[float, ...]
    drugs: tuple[DrugSnapshot, ...]


class _Lag:
    """First-order lag state per channel."""

    def __init__(self, value: float) -> None:
        self.value = value

    def update(self, target: float, dt_s: float, time_constant_s: float) -> float:
        if not math.isfinite(target):
            return self.value
        if not math.isfinite(self.value) or time_constant_s <= 0.0:
            self.value = target
        else:
            self.value += (1.0 - math.exp(-dt_s / time_constant_s)) * (target - self.value)
        return self.value


def _technique(technique: str) -> Literal["open", "closed"]:
    if technique == "open":
        return "open"
    if technique in ("closed", "laparoscopic"):
        return "closed"  # a laparoscopic abdomen is closed for the twin
    raise InvalidInputError("technique", f"must be open, closed or laparoscopic, got {technique!r}")


class SimulatedPerfusionMachine:
    """The twin of one patient behind realistic sensors and actuators; see the module docstring.

    Parameters
    ----------
    patient
        The patient.
    drugs
        Drugs the perfusion may use (twin names, e.g. ``"mitomycin C"``).
    technique
        ``"open"``, ``"closed"`` or ``"laparoscopic"`` (closed for the twin).
    config
        Machine settings.
    faults
        Faults to inject.
    seed
        Seed of the sensor noise and calibration offsets.
    placement
        Catheter placement in the twin (default: the twin's).
    """

    def __init__(
        self,
        patient: Patient,
        drugs: Sequence[str],
        technique: str = "open",
        *,
        config: MachineConfig | None = None,
        faults: Sequence[Fault] = (),
        seed: int | None = 0,
        placement: CatheterPlacement | None = None,
    ) -> None:
        self.config = config or MachineConfig()
        self.technique = _technique(technique)
        unique = list(dict.fromkeys(drugs)) or ["oxaliplatin"]
        self.twin = Twin.create(patient, unique, self.technique, placement)
        self.faults: tuple[Fault, ...] = tuple(faults)
        self._rng = np.random.default_rng(seed)
        cfg = self.config
        self._info = DeviceInfo(
            name=cfg.name,
            max_heater_power_w=float(self.twin.model.circuit.heater_max_power_w[0]),
            max_flow_l_per_min=cfg.max_flow_l_per_min,
            cavity_probe_regions=cfg.cavity_probe_regions,
            control_period_s=cfg.control_period_s,
        )
        self._reservoir_min_l = float(self.twin.model.circuit.reservoir_min_volume_l[0])
        self._residual_l = float(self.twin.model.cavity.residual_volume_l[0])
        self.circuit_volume_l = float(
            self.twin.perfusate_volume_l[0] - self.twin.abdominal_volume_l[0]
        )
        self._command = Command()
        self._heater_w = 0.0
        self._inflow = 0.0  # actual pump flows [L/min]
        self._outflow = 0.0
        self._pending_l = 0.0  # net volume pumped into the abdomen, not yet moved in the twin
        self._leak_pending_l = 0.0
        self._leaked_l = 0.0
        self._air_drawn = False
        self._stuck_values: dict[str, float] = {}
        self._sensor_specs = self._specs()
        self._offsets = self._draw_offsets()
        truth = self._true_channels()
        self._lags = {name: _Lag(value) for name, value in truth.items()}
        self._reading = self._sample()

    # -- construction helpers -------------------------------------------------------------------

    def _draw_offsets(self) -> dict[str, float]:
        return {
            name: float(self._rng.normal(0.0, spec.offset_sd)) if spec.offset_sd > 0 else 0.0
            for name, spec in self._sensor_specs.items()
        }

    def _specs(self) -> dict[str, SensorSpec]:
        cfg = self.config
        specs = {name: cfg.temperature for name in ("inflow", "outflow", "reservoir")}
        specs["core"] = cfg.core
        for region in cfg.cavity_probe_regions:
            specs[f"cavity[{region}]"] = cfg.cavity
        specs["inflow_flow"] = cfg.flow
        specs["outflow_flow"] = cfg.flow
        specs["line_pressure"] = cfg.line_pressure
        specs["abdominal_pressure"] = cfg.abdominal_pressure
        specs["reservoir_volume"] = cfg.level
        return specs

    # -- PerfusionDevice ------------------------------------------------------------------------

    @property
    def info(self) -> DeviceInfo:
        """What the machine declares about itself."""
        return self._info

    @property
    def time_s(self) -> float:
        """Device time [s]."""
        return float(self.twin.time_s)

    def read(self) -> Reading:
        """The latest sample of every channel (taken at the end of the last :meth:`advance`)."""
        return self._reading

    def apply(self, command: Command) -> None:
        """Hold ``command`` from now until the next one."""
        self._command = command

    def advance(self, dt_s: float) -> None:
        """Let ``dt_s`` seconds pass under the last command: actuators, twin, sensors."""
        if not math.isfinite(dt_s) or dt_s <= 0.0:
            raise InvalidInputError("dt_s", f"must be a step > 0 s, got {dt_s!r}")
        now = self.time_s
        self._actuate(now, dt_s)
        self._step_twin(dt_s)
        self._leak(now, dt_s)
        self._reading = self._sample(dt_s)

    # -- operator fluid handling ----------------------------------------------------------------

    def load_reservoir(self, volume_l: float, temperature_c: float | None = None) -> None:
        """Pour ``volume_l`` of carrier [L] at ``temperature_c`` [C] (default: bag temperature)
        into the reservoir."""
        if volume_l > 0.0:
            self.twin.apply_event(
                Event(
                    self.time_s,
                    "fill",
                    volume_l,
                    "reservoir",
                    temperature_c=self._bag(temperature_c),
                )
            )

    def add_drug(self, drug: str, mg: float) -> None:
        """Add ``mg`` of ``drug`` to the reservoir (the drug solution's volume is neglected)."""
        if mg > 0.0:
            self.twin.apply_event(Event(self.time_s, "dose", mg, "reservoir", drug=drug))

    def rinse_abdomen(self, volume_l: float, temperature_c: float | None = None) -> None:
        """Wash the abdomen with ``volume_l`` of saline [L] that is drained at once to waste (it
        takes drug and heat with it; the circuit is not involved)."""
        if volume_l > 0.0:
            self.twin.apply_event(
                Event(
                    self.time_s,
                    "rinse",
                    volume_l,
                    "abdomen",
                    temperature_c=self._bag(temperature_c),
                )
            )

    def _bag(self, temperature_c: float | None) -> float:
        return self.config.bag_temperature_c if temperature_c is None else temperature_c

    # -- ground truth ---------------------------------------------------------------------------

    @property
    def drugs(self) -> tuple[str, ...]:
        """Drugs the twin carries."""
        return tuple(self.twin.model.drugs)

    @property
    def leaked_l(self) -> float:
        """Perfusate lost through a leak so far [L]."""
        return self._leaked_l

    def ground_truth(self) -> PlantTruth:
        """The twin's true state now (for metrics and studies)."""
        twin = self.twin
        return PlantTruth(
            time_s=self.time_s,
            region_c=tuple(float(v) for v in twin.region_temperature_c[0]),
            inflow_c=float(twin.inflow_temperature_c[0]),
            outflow_c=float(twin.outflow_temperature_c[0]),
            reservoir_c=float(twin.reservoir_temperature_c[0]),
            core_c=float(twin.core_temperature_c[0]),
            abdominal_volume_l=self._abdomen_l(),
            reservoir_volume_l=self._reservoir_l(),
            perfusate_mg_l=tuple(float(v) for v in twin.perfusate_concentration_mg_l[0]),
            plasma_mg_l=tuple(float(v) for v in twin.plasma_concentration_mg_l[0]),
            heater_power_w=self._heater_w,
            inflow_l_per_min=self._inflow,
            outflow_l_per_min=self._outflow,
            region_mg_l=tuple(
                tuple(float(v) for v in drug) for drug in twin.region_concentration_mg_l[0]
            ),
        )

    def snapshot(self) -> PlantSnapshot:
        """Wall temperatures and drug fractions now (taken at the end of perfusion)."""
        twin = self.twin
        depth = twin.wall_depth_m
        gradient = first_mm_temperature_drop_k(
            depth, twin.wall_surface_temperature_c[0], twin.wall_temperature_c[0]
        )
        fractions = twin.fractions()
        drugs = []
        for index, drug in enumerate(twin.model.drugs):
            dosed = float(twin.dosed_mg[0, index])
            if dosed > 0.0:
                depths = penetration_depth_m(depth, twin.wall_concentration_mg_l[0, index])
                finite = depths[np.isfinite(depths)]
                penetration = float(finite.mean() * 1e3) if finite.size else math.nan
            else:
                penetration = math.nan
            drugs.append(
                DrugSnapshot(
                    drug,
                    dosed,
                    float(fractions["remaining in perfusate [-]"][0, index]),
                    float(fractions["absorbed [-]"][0, index]),
                    float(fractions["urine [-]"][0, index]),
                    penetration,
                )
            )
        return PlantSnapshot(self.time_s, tuple(float(g) for g in gradient), tuple(drugs))

    # -- internals: actuators -------------------------------------------------------------------

    def _active(self, name: str, now: float) -> Fault | None:
        for fault in self.faults:
            if fault.name == name and fault.active(now):
                return fault
        return None

    def _on_battery(self, now: float) -> bool:
        return self._active("power-loss", now) is not None

    def _actuate(self, now: float, dt_s: float) -> None:
        cfg, command = self.config, self._command
        max_heater = self._info.max_heater_power_w
        heater = min(max(command.heater_power_w, 0.0), max_heater)
        if not math.isfinite(heater):
            heater = 0.0
        if self._active("heater-stuck-on", now):
            heater = max_heater
        if self._active("heater-failed", now) or self._on_battery(now):
            heater = 0.0  # no heater supply on battery, whatever the relay does
        self._heater_w = float(heater)

        def target(value: float, clamp_open: bool, pump: str) -> float:
            if not clamp_open or not math.isfinite(value):
                return 0.0
            stall = self._active("pump-stall", now)
            if stall is not None and stall.channel == pump:
                return 0.0
            value = min(max(value, 0.0), cfg.max_flow_l_per_min)
            step = cfg.pump_resolution_l_per_min
            return round(value / step) * step if step > 0 else value

        def ramp(current: float, wanted: float, stalled: bool) -> float:
            if stalled:
                return 0.0  # a stalled or clamped pump stops at once
            step = cfg.pump_rate_limit_l_per_min_s * dt_s
            return min(max(wanted, current - step), current + step)

        stall = self._active("pump-stall", now)
        in_target = target(command.inflow_l_per_min, command.inflow_clamp_open, "inflow")
        out_target = target(command.outflow_l_per_min, command.outflow_clamp_open, "outflow")
        inflow = ramp(
            self._inflow,
            in_target,
            not command.inflow_clamp_open or (stall is not None and stall.channel == "inflow"),
        )
        outflow = ramp(
            self._outflow,
            out_target,
            not command.outflow_clamp_open or (stall is not None and stall.channel == "outflow"),
        )
        # a pump cannot move fluid that is not there
        self._air_drawn = False
        reservoir_spare = self._reservoir_l() - self._reservoir_min_l
        if inflow > outflow and (inflow - outflow) * dt_s / 60.0 > reservoir_spare:
            allowed = outflow + max(reservoir_spare, 0.0) * 60.0 / dt_s
            self._air_drawn = reservoir_spare <= self.config.air_margin_l
            inflow = min(inflow, allowed)
        abdomen_spare = self._abdomen_l() - self._residual_l
        if outflow > inflow and (outflow - inflow) * dt_s / 60.0 > abdomen_spare:
            outflow = min(outflow, inflow + max(abdomen_spare, 0.0) * 60.0 / dt_s)
        self._inflow, self._outflow = inflow, outflow

    # -- internals: the twin --------------------------------------------------------------------

    def _reservoir_l(self) -> float:
        return float(self.twin.reservoir_volume_l[0]) - self._pending_l - self._leak_pending_l

    def _abdomen_l(self) -> float:
        return float(self.twin.abdominal_volume_l[0]) + self._pending_l

    def _step_twin(self, dt_s: float) -> None:
        twin = self.twin
        self._pending_l += (self._inflow - self._outflow) * dt_s / 60.0
        lump = self._pending_l if abs(self._pending_l) >= self.config.transfer_lump_l else 0.0
        circulation = self._inflow
        if lump != 0.0 and float(twin.dosed_mg.sum()) > 0.0:
            # drug in the perfusate: move the lump with the pumps, exactly
            extra = abs(lump) * 60.0 / dt_s
            inflow = circulation + (extra if lump > 0 else 0.0)
            outflow = circulation + (extra if lump < 0 else 0.0)
            before = float(twin.abdominal_volume_l[0])
            twin.step(Commands(self._heater_w, inflow, outflow), dt_s)
            self._pending_l -= float(twin.abdominal_volume_l[0]) - before
            return
        if lump != 0.0:
            self._move_by_events(lump)
        twin.step(Commands(self._heater_w, circulation, circulation), dt_s)

    def _move_by_events(self, volume_l: float) -> None:
        """Move drug-free perfusate between reservoir (source if positive) and abdomen, with its
        heat: drain the source, fill the destination at the source's mean temperature."""
        twin, now = self.twin, self.time_s
        if volume_l > 0:
            temperature = float(twin.reservoir_temperature_c[0])
            before = float(twin.reservoir_volume_l[0])
            twin.apply_event(Event(now, "drain", volume_l, "reservoir"))
            moved = before - float(twin.reservoir_volume_l[0])
            target = "abdomen"
        else:
            temperature = float(np.dot(twin.region_temperature_c[0], _VOLUME_SHARE))
            before = float(twin.abdominal_volume_l[0])
            twin.apply_event(Event(now, "drain", -volume_l, "abdomen"))
            moved = before - float(twin.abdominal_volume_l[0])
            target = "reservoir"
        if moved > 0.0:
            twin.apply_event(Event(now, "fill", moved, target, temperature_c=temperature))
        self._pending_l -= moved if volume_l > 0 else -moved

    def _leak(self, now: float, dt_s: float) -> None:
        fault = self._active("leak", now)
        if fault is None:
            return
        available = self._reservoir_l() - self._reservoir_min_l
        lost = min(fault.value * dt_s / 60.0, max(available, 0.0))
        self._leak_pending_l += lost
        self._leaked_l += lost
        if self._leak_pending_l >= self.config.transfer_lump_l or (
            available <= lost and self._leak_pending_l > 0.0
        ):
            before = float(self.twin.reservoir_volume_l[0])
            self.twin.apply_event(Event(now, "drain", self._leak_pending_l, "reservoir"))
            self._leak_pending_l -= before - float(self.twin.reservoir_volume_l[0])

    # -- internals: sensors ---------------------------------------------------------------------

    def _true_channels(self) -> dict[str, float]:
        twin = self.twin
        regions = twin.region_temperature_c[0]
        truth = {
            "inflow": float(twin.inflow_temperature_c[0]),
            "outflow": float(twin.outflow_temperature_c[0]),
            "reservoir": float(twin.reservoir_temperature_c[0]),
            "core": float(twin.core_temperature_c[0]),
        }
        for region in self.config.cavity_probe_regions:
            truth[f"cavity[{region}]"] = float(regions[region])
        truth["inflow_flow"] = self._inflow
        truth["outflow_flow"] = self._outflow
        truth["abdominal_pressure"] = self._abdominal_pressure()
        truth["line_pressure"] = self._line_pressure(self.time_s)
        truth["reservoir_volume"] = self._reservoir_l()
        return truth

    def _abdominal_pressure(self) -> float:
        volume: FloatArray = np.array([self._abdomen_l()])
        return float(abdominal_pressure_mmhg(self.twin.model.cavity, self.technique, volume)[0])

    def _line_pressure(self, now: float) -> float:
        resistance = self.config.line_resistance_mmhg_per_l_min
        occlusion = self._active("occlusion", now)
        if occlusion is not None:
            resistance *= occlusion.value
        return resistance * self._inflow + self._abdominal_pressure()

    def _measure(self, name: str, true_value: float, dt_s: float) -> float:
        spec = self._sensor_specs[name]
        lagged = self._lags[name].update(true_value, dt_s, spec.time_constant_s)
        value = lagged + self._offsets.get(name, 0.0)
        if spec.noise_sd > 0:
            value += float(self._rng.normal(0.0, spec.noise_sd))
        if spec.resolution > 0:
            # round twice: the second removes the binary residue of the multiplication
            value = round(round(value / spec.resolution) * spec.resolution, 9)
        return value

    def _sample(self, dt_s: float = 0.0) -> Reading:
        now, cfg = self.time_s, self.config
        truth = self._true_channels()
        measured = {name: self._measure(name, value, dt_s) for name, value in truth.items()}
        measured["inflow_flow"] = max(measured["inflow_flow"], 0.0)
        measured["outflow_flow"] = max(measured["outflow_flow"], 0.0)
        measured["reservoir_volume"] = max(measured["reservoir_volume"], 0.0)
        if self.technique == "open":
            measured["abdominal_pressure"] = math.nan
        self._sensor_faults(now, measured)
        air = self._air_drawn or self._active("air-in-line", now) is not None
        power: PowerState = "battery" if self._on_battery(now) else "mains"
        return Reading(
            time_s=now,
            inflow_c=measured["inflow"],
            outflow_c=measured["outflow"],
            reservoir_c=measured["reservoir"],
            cavity_c=tuple(measured[f"cavity[{r}]"] for r in cfg.cavity_probe_regions),
            cavity_probe_regions=cfg.cavity_probe_regions,
            core_c=measured["core"],
            inflow_l_per_min=measured["inflow_flow"],
            outflow_l_per_min=measured["outflow_flow"],
            line_pressure_mmhg=max(measured["line_pressure"], 0.0),
            abdominal_pressure_mmhg=measured["abdominal_pressure"],
            reservoir_volume_l=measured["reservoir_volume"],
            air_in_line=air,
            power=power,
            heater_power_w=self._heater_w,
        )

    def _channel(self, target: str) -> str:
        if target == "cavity":
            return f"cavity[{self.config.cavity_probe_regions[0]}]"
        return target

    def _sensor_faults(self, now: float, measured: dict[str, float]) -> None:
        for fault in self.faults:
            if not fault.active(now):
                continue
            channel = self._channel(fault.channel)
            probe_fault = fault.name in (
                "inflow-probe-stuck",
                "cavity-probe-drift",
                "probe-disconnected",
            )
            if probe_fault and channel not in measured:
                raise InvalidInputError(
                    "fault",
                    f"{fault.name}: no probe {channel!r} on this machine "
                    f"(cavity probes in regions {list(self.config.cavity_probe_regions)})",
                )
            if fault.name == "inflow-probe-stuck":
                frozen = self._stuck_values.setdefault(channel, measured[channel])
                measured[channel] = frozen
            elif fault.name == "cavity-probe-drift":
                measured[channel] += fault.value * (now - fault.onset_s) / 60.0
            elif fault.name == "probe-disconnected":
                measured[channel] = math.nan


def machine_for_plan(
    height_cm: float,
    weight_kg: float,
    drugs: Sequence[str],
    technique: str,
    *,
    config: MachineConfig | None = None,
    faults: Sequence[Fault] = (),
    seed: int | None = 0,
) -> SimulatedPerfusionMachine:
    """A machine for one patient (``height_cm`` [cm], ``weight_kg`` [kg])."""
    return SimulatedPerfusionMachine(
        Patient(height_cm, weight_kg),
        drugs,
        technique,
        config=config,
        faults=faults,
        seed=seed,
    )


__all__ = [
    "REGION_NAMES",
    "DrugSnapshot",
    "MachineConfig",
    "PlantSnapshot",
    "PlantTruth",
    "SensorSpec",
    "SimulatedPerfusionMachine",
    "machine_for_plan",
]
