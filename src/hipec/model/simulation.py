"""Run a twin over time: events from an event table, commands from a callable, outputs recorded.

:func:`simulate` is the loop a runner or a test needs when no real controller is in the loop: at
every step boundary it applies the events that are due, asks ``commands(twin)`` for the actuator
commands, steps, and records the outputs every ``record_every`` steps. The result is a
:class:`Trajectory` of plain arrays (time first, then patients) for :mod:`hipec.model.metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hipec.errors import InvalidInputError
from hipec.model.cavity import abdominal_pressure_mmhg
from hipec.model.events import Event
from hipec.model.solver import Commands, Twin, fluid_volumes_l
from hipec.model.state import REFERENCE_TEMPERATURE_C, FloatArray

CommandSource = Commands | Callable[[Twin], Commands]
_IDLE = Commands()
#: Recordings up to this size keep whole state vectors [bytes].
_WHOLE_STATE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Trajectory:
    """Recorded outputs; arrays are ``(time, patients, ...)``.

    Attributes
    ----------
    time_s
        Sample times [s], shape ``(T,)``.
    heater_power_w, inflow_l_min
        Applied (limited) commands over the step ending at each sample; zero at t = 0.
    region_temperature_c
        ``(T, P, 13)`` [degC].
    core_temperature_c, inflow_temperature_c, outflow_temperature_c, reservoir_temperature_c
        ``(T, P)`` [degC].
    abdominal_volume_l, abdominal_pressure_mmhg
        ``(T, P)`` [L], [mmHg].
    perfusate_concentration_mg_l, plasma_concentration_mg_l
        ``(T, P, D)`` [mg/L].
    region_concentration_mg_l
        ``(T, P, D, 13)`` [mg/L].
    fraction_remaining, fraction_absorbed, fraction_urine
        ``(T, P, D)`` fractions of the dose given so far [-].
    wall_temperature_c
        End of run, ``(P, 13, cells)`` [degC]; ``wall_surface_temperature_c`` ``(P, 13)``.
    wall_concentration_mg_l
        End of run, ``(P, D, 13, cells)`` [mg/L tissue].
    wall_depth_m
        Cell-centre depths [m], ``(cells,)``.
    drugs
        Drug names along the D axis.
    """

    time_s: FloatArray
    heater_power_w: FloatArray
    inflow_l_min: FloatArray
    region_temperature_c: FloatArray
    core_temperature_c: FloatArray
    inflow_temperature_c: FloatArray
    outflow_temperature_c: FloatArray
    reservoir_temperature_c: FloatArray
    abdominal_volume_l: FloatArray
    abdominal_pressure_mmhg: FloatArray
    perfusate_concentration_mg_l: FloatArray
    plasma_concentration_mg_l: FloatArray
    region_concentration_mg_l: FloatArray
    fraction_remaining: FloatArray
    fraction_absorbed: FloatArray
    fraction_urine: FloatArray
    wall_temperature_c: FloatArray
    wall_surface_temperature_c: FloatArray
    wall_concentration_mg_l: FloatArray
    wall_depth_m: FloatArray
    drugs: tuple[str, ...]


def _trajectory(
    twin: Twin,
    times: FloatArray,
    energy: FloatArray,
    amount: FloatArray,
    volume: FloatArray,
    dose: FloatArray,
    applied: FloatArray,
) -> Trajectory:
    """Turn recorded raw states into physical outputs, vectorised over time.

    ``energy`` ``(T, P, n_fluid + 1)``: fluid states then core; ``amount`` ``(T, P, D, n_fluid +
    6)``: fluid, plasma central, peripheral, urine, systemic, degradation, tissue (wall included);
    ``volume`` ``(T, P, 2)``: reservoir, abdomen; ``dose`` ``(T, P, D)``; ``applied`` ``(T, P,
    2)``: heater power, inflow.
    """
    model = twin.model
    t_layout, d_layout = model.thermal_layout, model.drug_layout
    n_fluid = len(t_layout.fluid)
    fluid_volume = fluid_volumes_l(model, volume[..., 0], volume[..., 1])  # (T, P, n_fluid)
    temperature = energy[..., :n_fluid] / (fluid_volume * model.fluid_heat_capacity[:, None])
    temperature = temperature + REFERENCE_TEMPERATURE_C
    regions = slice(t_layout.regions.start, t_layout.regions.stop)
    perfusate = amount[..., :n_fluid].sum(axis=-1)
    absorbed = amount[..., n_fluid:].sum(axis=-1) - amount[..., n_fluid + 4]
    with np.errstate(invalid="ignore", divide="ignore"):
        per_dose = 1.0 / np.where(dose > 0.0, dose, np.nan)
    region_volume = fluid_volume[..., regions]
    return Trajectory(
        time_s=times,
        heater_power_w=applied[..., 0],
        inflow_l_min=applied[..., 1],
        region_temperature_c=temperature[..., regions],
        core_temperature_c=energy[..., n_fluid] / model.core_capacity_j_per_k
        + REFERENCE_TEMPERATURE_C,
        inflow_temperature_c=temperature[..., t_layout.inflow_tube[-1]],
        outflow_temperature_c=temperature[..., t_layout.outflow_tube[0]],
        reservoir_temperature_c=temperature[..., t_layout.reservoir],
        abdominal_volume_l=volume[..., 1],
        abdominal_pressure_mmhg=abdominal_pressure_mmhg(
            model.cavity, model.technique, volume[..., 1]
        ),
        perfusate_concentration_mg_l=perfusate / fluid_volume.sum(axis=-1)[..., None],
        plasma_concentration_mg_l=amount[..., n_fluid] / model.pk.central_volume_l,
        region_concentration_mg_l=amount[..., d_layout.regions.start : d_layout.regions.stop]
        / region_volume[:, :, None, :],
        fraction_remaining=np.nan_to_num(perfusate * per_dose),
        fraction_absorbed=np.nan_to_num(absorbed * per_dose),
        fraction_urine=np.nan_to_num(amount[..., n_fluid + 2] * per_dose),
        wall_temperature_c=twin.wall_temperature_c,
        wall_surface_temperature_c=twin.wall_surface_temperature_c,
        wall_concentration_mg_l=twin.wall_concentration_mg_l,
        wall_depth_m=twin.wall_depth_m,
        drugs=model.drugs,
    )


class _Recorder:
    """Preallocated storage for the raw samples :func:`_trajectory` needs (no per-sample
    allocation: a sample is a handful of copies into arrays sized for the whole run)."""

    def __init__(self, twin: Twin, samples: int) -> None:
        model = twin.model
        t_layout, d_layout = model.thermal_layout, model.drug_layout
        n, d = model.n_patients, len(model.drugs)
        self.twin = twin
        self.count = 0
        self.thermal_index = np.array([*t_layout.fluid, t_layout.core])
        # drug outputs as one product with a selection matrix: fluid states, then plasma central,
        # peripheral, urine, systemic, degradation, tissue elimination plus the wall's content
        # (the wall's drug counts as absorbed)
        drug_index = [*d_layout.fluid, *range(d_layout.plasma_central, d_layout.size)]
        selection = np.zeros((d_layout.size, len(drug_index)))
        selection[drug_index, np.arange(len(drug_index))] = 1.0
        selection[d_layout.wall_slice, -1] = 1.0
        self.selection = selection
        self.drug_index = np.array(drug_index)
        self.wall_slice = d_layout.wall_slice
        # a small batch copies whole state vectors (cheapest per sample) and selects at the end;
        # a large one selects while recording to bound memory
        state_values = n * (t_layout.size + d * d_layout.size)
        self.whole = samples * state_values * 8 <= _WHOLE_STATE_BYTES
        self.times = np.empty(samples)
        if self.whole:
            self.thermal = np.empty((samples, n, t_layout.size))
            self.drug = np.empty((samples, n, d, d_layout.size))
        else:
            self.thermal = np.empty((samples, n, self.thermal_index.size))
            self.drug = np.empty((samples, n, d, len(drug_index)))
        self.volume_version = -1
        self.event_count = -1
        self.changes: list[tuple[int, FloatArray, FloatArray, FloatArray]] = []
        # applied heater power [W] and inflow [L/s], one row per sample
        self.heater_w = np.empty((samples, n))
        self.inflow_l_s = np.empty((samples, n))

    def record(self, time_s: float) -> None:
        # runs every step in a single-patient run: attribute look-ups kept to a minimum
        twin, k = self.twin, self.count
        self.times[k] = time_s
        if self.whole:
            self.thermal[k] = twin.thermal
            self.drug[k] = twin.drug
        else:
            np.take(twin.thermal, self.thermal_index, axis=1, out=self.thermal[k])
            np.matmul(twin.drug, self.selection, out=self.drug[k])
        # volumes and doses change only at events and with unbalanced pumps: copied on change
        if twin.volume_version != self.volume_version or twin.event_count != self.event_count:
            self.volume_version, self.event_count = twin.volume_version, twin.event_count
            self.changes.append(
                (k, twin.reservoir_volume_l.copy(), twin.abdominal_volume_l.copy(),
                 twin.dosed_mg.copy())
            )  # fmt: skip
        last = twin.last_commands
        self.heater_w[k] = last.heater_power_w
        self.inflow_l_s[k] = last.inflow_l_s
        self.count = k + 1

    def trajectory(self) -> Trajectory:
        k = self.count
        thermal, drug = self.thermal[:k], self.drug[:k]
        if self.whole:
            thermal = np.take(thermal, self.thermal_index, axis=-1)
            # the selection's columns picked and the wall summed: cheaper than the product
            wall = drug[..., self.wall_slice].sum(axis=-1)
            drug = np.take(drug, self.drug_index, axis=-1)
            drug[..., -1] += wall
        applied = np.stack([self.heater_w[:k], self.inflow_l_s[:k] * 60.0], axis=-1)  # L/min
        volumes = np.empty((k, *self.changes[0][1].shape, 2))
        dosed = np.empty((k, *self.changes[0][3].shape))
        bounds = [change[0] for change in self.changes[1:]] + [k]
        for (first, reservoir, abdomen, dose), stop in zip(self.changes, bounds, strict=True):
            volumes[first:stop, :, 0] = reservoir
            volumes[first:stop, :, 1] = abdomen
            dosed[first:stop] = dose
        return _trajectory(self.twin, self.times[:k].copy(), thermal, drug, volumes, dosed, applied)


def simulate(
    twin: Twin,
    duration_s: float,
    dt_s: float = 1.0,
    events: Sequence[Event] = (),
    commands: CommandSource | None = None,
    record_every: int = 1,
) -> Trajectory:
    """Advance ``twin`` by ``duration_s`` and record its outputs.

    Parameters
    ----------
    twin
        The twin (advanced in place; it may have run before).
    duration_s
        How long to run [s]; a whole number of steps is taken (rounded).
    dt_s
        Step [s].
    events
        Events; each is applied at the first step boundary at or after its ``time_s`` (measured from
        the twin's current time). Events before the end that are never reached do not happen.
    commands
        Fixed :class:`Commands` (default: everything off), or a callable ``twin -> Commands``
        evaluated before every step (the controller's seat).
    record_every
        Record one sample every this many steps (and always the first and last).

    Raises
    ------
    InvalidInputError
        For a non-positive duration, step or recording interval.
    """
    if not math.isfinite(duration_s) or duration_s <= 0.0:
        raise InvalidInputError("duration_s", f"must be > 0 s, got {duration_s!r}")
    if not math.isfinite(dt_s) or dt_s <= 0.0:
        raise InvalidInputError("dt_s", f"must be a step > 0 s, got {dt_s!r}")
    if record_every < 1:
        raise InvalidInputError("record_every", f"must be >= 1, got {record_every!r}")
    n_steps = max(1, round(duration_s / dt_s))
    start = twin.time_s
    pending = sorted(events, key=lambda event: event.time_s)
    # event times relative to the twin's clock, with the tolerance for step rounding
    due_at = [start + event.time_s - 1e-9 for event in pending]
    next_event = 0
    recorder = _Recorder(twin, n_steps // record_every + 2)
    fixed = commands if isinstance(commands, Commands) else _IDLE
    source = commands if callable(commands) and not isinstance(commands, Commands) else None

    while next_event < len(pending) and due_at[next_event] <= twin.time_s:
        twin.apply_event(pending[next_event])
        next_event += 1
    recorder.record(twin.time_s - start)
    n_events = len(pending)
    next_due = due_at[next_event] if next_event < n_events else math.inf
    for step in range(1, n_steps + 1):
        twin.step(fixed if source is None else source(twin), dt_s)
        if twin.time_s >= next_due:
            while next_event < n_events and due_at[next_event] <= twin.time_s:
                twin.apply_event(pending[next_event])
                next_event += 1
            next_due = due_at[next_event] if next_event < n_events else math.inf
        if step % record_every == 0 or step == n_steps:
            recorder.record(twin.time_s - start)
    return recorder.trajectory()
