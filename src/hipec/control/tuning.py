"""Offline analysis of the temperature control plant on the twin (never in the runtime loop).

In the spirit of python-control: identify and check the small models the controllers carry, and
show what the plant can and cannot do.

- :func:`circuit_model_from_twin`: the heating circuit model (:class:`CircuitModel`) from the twin's
  circuit parameter set and room temperature.
- :func:`circuit_model_error_k`: drive the twin open loop with a heater power step and compare its
  inflow with the circuit model fed the twin's reservoir temperature (the model's input).
- :func:`identify_region_shape`: the region shape ``s_i`` of
  :class:`~hipec.control.estimator.RegionEstimator` from a steady perfusion of the twin.
- :func:`steady_regions`: the regions' steady temperatures at a fixed inflow temperature and flow
  (what the plant can reach at all: e.g. a 43 C abdomen in the open technique at the highest inflow
  the limits allow).

The twin is imported inside the functions: :mod:`hipec.control` keeps no runtime dependency on
:mod:`hipec.model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hipec.control.estimator import CircuitModel
from hipec.errors import InvalidInputError

#: The reference patient of the control benchmark [cm], [kg].
REFERENCE_HEIGHT_CM, REFERENCE_WEIGHT_KG = 170.0, 70.0


def _twin(technique: str, fill_temperature_c: float, volume_l_per_m2: float = 2.0) -> object:
    from hipec.model import Event, Patient, Twin

    if technique not in ("open", "closed"):
        raise InvalidInputError("technique", f"must be open or closed, got {technique!r}")
    patient = Patient(REFERENCE_HEIGHT_CM, REFERENCE_WEIGHT_KG)
    twin = Twin.create(patient, ["mitomycin C"], technique)  # type: ignore[arg-type]
    fill = volume_l_per_m2 * patient.body_surface_area_m2 - float(twin.perfusate_volume_l[0])
    twin.apply_event(Event(0.0, "fill", fill, "abdomen", temperature_c=fill_temperature_c))
    return twin


def circuit_model_from_twin(technique: str = "closed") -> CircuitModel:
    """The circuit model with the twin's own parameters (probe lag: the simulated machine's)."""
    twin = _twin(technique, 37.0)
    circuit = twin.model.circuit  # type: ignore[attr-defined]
    room = twin.model.body.room_c  # type: ignore[attr-defined]
    return CircuitModel(
        heater_capacity_j_per_k=float(circuit.heater_capacity_j_per_k[0]),
        heater_conductance_w_per_k=float(circuit.heater_conductance_w_per_k[0]),
        exchanger_volume_l=float(circuit.exchanger_volume_l[0]),
        inflow_tube_volume_l=float(circuit.inflow_tube_volume_l[0]),
        tube_cells=int(circuit.n_tube_cells),
        tube_loss_w_per_k=float(circuit.inflow_tube_loss_w_per_k[0]),
        room_c=float(np.asarray(room).ravel()[0]),
        heat_capacity_j_per_l_k=float(circuit.fluid_heat_capacity_j_per_l_k[0]),
    )


def circuit_model_error_k(
    model: CircuitModel,
    flow_l_per_min: float = 1.5,
    power_w: float = 1500.0,
    duration_s: float = 120.0,
    step_s: float = 1.0,
) -> float:
    """Largest difference [K] between the twin's inflow and the circuit model's (probe lag
    removed) after a heater power step from rest at 37 C, the model fed the twin's reservoir
    temperature."""
    from hipec.model import Commands

    twin = _twin("closed", 37.0)
    no_lag = CircuitModel(
        model.heater_capacity_j_per_k,
        model.heater_conductance_w_per_k,
        model.exchanger_volume_l,
        model.inflow_tube_volume_l,
        model.tube_cells,
        model.tube_loss_w_per_k,
        model.room_c,
        model.heat_capacity_j_per_l_k,
        probe_time_constant_s=0.0,
    )
    phi, gamma = no_lag.discrete(flow_l_per_min, step_s)
    # start both at the twin's own rest state under circulation without heat
    for _ in range(600):
        twin.step(Commands(0.0, flow_l_per_min, flow_l_per_min), 1.0)  # type: ignore[attr-defined]
    state = np.full(no_lag.n_states, float(twin.inflow_temperature_c[0]))  # type: ignore[attr-defined]
    state[0] = float(twin.heater_temperature_c[0])  # type: ignore[attr-defined]
    worst = 0.0
    for _ in range(round(duration_s / step_s)):
        reservoir = float(twin.reservoir_temperature_c[0])  # type: ignore[attr-defined]
        state = phi @ state + gamma @ np.array([power_w, reservoir, no_lag.room_c])
        twin.step(Commands(power_w, flow_l_per_min, flow_l_per_min), step_s)  # type: ignore[attr-defined]
        twin_inflow = float(twin.inflow_temperature_c[0])  # type: ignore[attr-defined]
        worst = max(worst, abs(twin_inflow - float(state[-2])))
    return worst


@dataclass(frozen=True, slots=True)
class SteadyRegions:
    """The twin's regions after a long perfusion at a fixed inflow temperature and flow.

    Attributes
    ----------
    inflow_c
        Inflow temperature held [C].
    flow_l_per_min
        Circulation [L/min].
    regions_c
        The 13 regions, time mean over the last ``window`` [C].
    shape
        ``(T_i - m) / (T_in - m)`` per region [-] (``m``: the regions' mean).
    """

    technique: str
    inflow_c: float
    flow_l_per_min: float
    regions_c: tuple[float, ...]
    shape: tuple[float, ...]

    @property
    def mean_c(self) -> float:
        """Mean of the 13 regions [C]."""
        return float(np.mean(self.regions_c))

    @property
    def coolest_c(self) -> float:
        """Coolest region [C]."""
        return min(self.regions_c)

    @property
    def hottest_c(self) -> float:
        """Hottest region [C]."""
        return max(self.regions_c)


def steady_regions(
    technique: str,
    inflow_c: float,
    flow_l_per_min: float,
    minutes: float = 60.0,
    window_min: float = 10.0,
    step_s: float = 5.0,
) -> SteadyRegions:
    """Perfuse the reference patient's twin at a held inflow temperature and flow (filled at
    that temperature) and return the regions at the end (mean over the last ``window_min``)."""
    from hipec.model import simple_heater_rule, simulate

    twin = _twin(technique, inflow_c)
    rule = simple_heater_rule(inflow_c, flow_l_per_min, gain_w_per_k=2000.0)
    trajectory = simulate(twin, minutes * 60.0, step_s, (), rule)  # type: ignore[arg-type]
    late = trajectory.time_s >= trajectory.time_s[-1] - window_min * 60.0
    regions = trajectory.region_temperature_c[late, 0, :]
    inflow = trajectory.inflow_temperature_c[late, 0]
    mean = regions.mean(axis=1)
    drop = inflow - mean
    shape = ((regions - mean[:, None]) / drop[:, None]).mean(axis=0)
    return SteadyRegions(
        technique,
        inflow_c,
        flow_l_per_min,
        tuple(float(v) for v in regions.mean(axis=0)),
        tuple(float(v) for v in shape),
    )


def identify_region_shape(
    technique: str, flow_l_per_min: float = 1.5, inflow_c: float = 42.5
) -> tuple[float, ...]:
    """The region shape ``s_i`` for :data:`hipec.control.estimator.REGION_SHAPE` (rounded to
    0.001)."""
    found = steady_regions(technique, inflow_c, flow_l_per_min)
    return tuple(round(s, 3) for s in found.shape)
