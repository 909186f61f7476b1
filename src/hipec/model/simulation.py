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
    times: list[float],
    thermal: list[FloatArray],
    drug: list[FloatArray],
    volumes: list[FloatArray],
    dosed: list[FloatArray],
    commands: list[FloatArray],
) -> Trajectory:
    """Turn recorded raw states into physical outputs, vectorised over time."""
    model = twin.model
    t_layout, d_layout = model.thermal_layout, model.drug_layout
    n_fluid = len(t_layout.fluid)
    energy = np.stack(thermal)  # (T, P, n_fluid + 1): fluid states then core
    amount = np.stack(drug)  # (T, P, D, n_fluid + 6): fluid, plasma central, ledgers
    volume = np.stack(volumes)  # (T, P, 2): reservoir, abdomen
    dose = np.stack(dosed)  # (T, P, D)
    applied = np.stack(commands)  # (T, P, 2): heater power, inflow
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
        time_s=np.array(times),
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
    next_event = 0
    t_layout, d_layout = twin.model.thermal_layout, twin.model.drug_layout
    thermal_index = np.array([*t_layout.fluid, t_layout.core])
    # fluid states, then plasma central, peripheral, urine, systemic, degradation, tissue
    # elimination
    drug_index = np.array([*d_layout.fluid, *range(d_layout.plasma_central, d_layout.size)])
    wall = d_layout.wall_slice
    times: list[float] = []
    thermal: list[FloatArray] = []
    drug: list[FloatArray] = []
    volumes: list[FloatArray] = []
    dosed: list[FloatArray] = []
    applied: list[FloatArray] = []

    def record() -> None:
        times.append(twin.time_s - start)
        thermal.append(twin.thermal[:, thermal_index])
        sample = twin.drug[:, :, drug_index]
        # the wall's drug counts as absorbed: fold it into the tissue-elimination column's neighbour
        sample[..., -1] += twin.drug[:, :, wall].sum(axis=-1)
        drug.append(sample)
        volumes.append(np.stack([twin.reservoir_volume_l, twin.abdominal_volume_l], axis=1))
        dosed.append(twin.dosed_mg.copy())
        last = twin.last_commands
        applied.append(np.stack([last.heater_power_w, last.inflow_l_s * 60.0], axis=1))

    def apply_due() -> None:
        nonlocal next_event
        while (
            next_event < len(pending) and pending[next_event].time_s <= twin.time_s - start + 1e-9
        ):
            twin.apply_event(pending[next_event])
            next_event += 1

    apply_due()
    record()
    for step in range(1, n_steps + 1):
        command = commands(twin) if callable(commands) else commands or _IDLE
        twin.step(command, dt_s)
        apply_due()
        if step % record_every == 0 or step == n_steps:
            record()
    return _trajectory(twin, times, thermal, drug, volumes, dosed, applied)
