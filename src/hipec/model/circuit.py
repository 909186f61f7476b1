"""Circuit submodel: reservoir, heater and heat exchanger, inflow / outflow pumps and tubing.

Equations (fluid heat capacity ``rho_c`` [J/(L.K)], volumes ``V`` [L], flows ``Q`` [L/s]):

- Perfusate path at the inflow pump flow ``Q_in``: reservoir -> exchanger -> ``n`` inflow tube cells
  -> inflow catheters (split over the inflow regions). Each cell is well mixed, so ``n`` cells in
  series give the transport delay ``V_tube / Q_in`` with little numerical smearing at 4 or more
  cells.
- Return path at the outflow pump flow ``Q_out``: drained regions -> ``n`` outflow cells ->
  reservoir.
- Advection carries heat and drug: ``d x_next / dt += Q x_cell / V_cell`` for a cell content ``x``
  (energy [J] or amount [mg]).
- Heater element (capacity ``C_h`` [J/K], power ``P`` [W], limited to ``[0, P_max]`` by the twin):
  ``C_h dT_h/dt = P - UA_h (T_h - T_exchanger)``: the lag between a power change and the fluid.
- Losses to the room from reservoir and tubing: ``UA (T - T_room)``, booked in the circuit-loss
  ledger.
- Priming volume: the fluid held by reservoir, exchanger and lines carries drug like the cavity
  does;
  at the end it counts as "remaining in perfusate".
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from hipec.errors import InvalidInputError
from hipec.model._arrays import stack
from hipec.model.parameters.base import ParameterSet
from hipec.model.state import (
    INPUT_HEATER,
    CircuitSlots,
    FloatArray,
    LinearSystemBuilder,
    ThermalLayout,
)


@dataclass(frozen=True)
class CircuitCoefficients:
    """Per-patient circuit coefficients, arrays of shape ``(patients,)`` in the units named."""

    heater_max_power_w: FloatArray
    heater_capacity_j_per_k: FloatArray
    heater_conductance_w_per_k: FloatArray
    exchanger_volume_l: FloatArray
    inflow_tube_volume_l: FloatArray
    outflow_tube_volume_l: FloatArray
    inflow_tube_loss_w_per_k: FloatArray
    outflow_tube_loss_w_per_k: FloatArray
    reservoir_loss_w_per_k: FloatArray
    reservoir_priming_volume_l: FloatArray
    reservoir_min_volume_l: FloatArray
    fluid_heat_capacity_j_per_l_k: FloatArray
    priming_temperature_c: FloatArray
    n_tube_cells: int


def circuit_coefficients(sets: Sequence[ParameterSet]) -> CircuitCoefficients:
    """Collect circuit coefficients for a batch of circuit parameter sets."""
    cells = {round(s.value("Tubing cells [-]")) for s in sets}
    if len(cells) != 1 or min(cells) < 1:
        raise InvalidInputError(
            "Tubing cells [-]",
            f"must be one positive count shared by all patients, got {sorted(cells)}",
        )
    return CircuitCoefficients(
        heater_max_power_w=stack(sets, "Heater maximum power [W]"),
        heater_capacity_j_per_k=stack(sets, "Heater element heat capacity [J/K]"),
        heater_conductance_w_per_k=stack(sets, "Heater element to fluid conductance [W/K]"),
        exchanger_volume_l=stack(sets, "Heat exchanger fluid volume [L]"),
        inflow_tube_volume_l=stack(sets, "Inflow tubing volume [L]"),
        outflow_tube_volume_l=stack(sets, "Outflow tubing volume [L]"),
        inflow_tube_loss_w_per_k=stack(sets, "Inflow tubing heat loss conductance [W/K]"),
        outflow_tube_loss_w_per_k=stack(sets, "Outflow tubing heat loss conductance [W/K]"),
        reservoir_loss_w_per_k=stack(sets, "Reservoir heat loss conductance [W/K]"),
        reservoir_priming_volume_l=stack(sets, "Reservoir priming volume [L]"),
        reservoir_min_volume_l=stack(sets, "Reservoir minimum volume [L]"),
        fluid_heat_capacity_j_per_l_k=stack(sets, "Perfusate volumetric heat capacity [J/(L.K)]"),
        priming_temperature_c=stack(sets, "Priming fluid temperature [degC]"),
        n_tube_cells=cells.pop(),
    )


def add_circuit_advection(
    builder: LinearSystemBuilder,
    slots: CircuitSlots,
    coefficients: CircuitCoefficients,
    reservoir_volume_l: FloatArray,
    region_volume_l: FloatArray,
    inflow_l_s: FloatArray,
    outflow_l_s: FloatArray,
    inflow_weights: FloatArray,
    drain_weights: FloatArray,
) -> None:
    """Advection around the loop (heat or drug alike).

    Parameters
    ----------
    builder
        System to write into; batch ``(patients,)`` or ``(patients, drugs)``.
    slots
        State layout.
    coefficients
        Circuit coefficients.
    reservoir_volume_l
        Reservoir volume [L], shape ``(patients,)``.
    region_volume_l
        Region volumes [L], shape ``(patients, 13)``.
    inflow_l_s, outflow_l_s
        Pump flows [L/s], shape ``(patients,)``.
    inflow_weights, drain_weights
        Share of the inflow delivered to / outflow drawn from each region, shape ``(13,)``.
    """
    expand = builder.per_patient
    cells = coefficients.n_tube_cells
    q_in = expand(inflow_l_s)
    q_out = expand(outflow_l_s)
    cell_in = expand(coefficients.inflow_tube_volume_l / cells)
    cell_out = expand(coefficients.outflow_tube_volume_l / cells)
    builder.transfer(slots.reservoir, slots.exchanger, q_in / expand(reservoir_volume_l))
    inflow_cells = list(slots.inflow_tube)
    builder.transfer(
        slots.exchanger, inflow_cells[0], q_in / expand(coefficients.exchanger_volume_l)
    )
    for upstream, downstream in itertools.pairwise(inflow_cells):
        builder.transfer(upstream, downstream, q_in / cell_in)
    outflow_cells = list(slots.outflow_tube)
    for region, (weight_in, weight_out) in enumerate(
        zip(inflow_weights, drain_weights, strict=True)
    ):
        index = slots.regions[region]
        if weight_in > 0.0:
            builder.transfer(inflow_cells[-1], index, q_in * weight_in / cell_in)
        if weight_out > 0.0:
            volume = expand(region_volume_l[:, region])
            builder.transfer(index, outflow_cells[0], q_out * weight_out / volume)
    for upstream, downstream in itertools.pairwise(outflow_cells):
        builder.transfer(upstream, downstream, q_out / cell_out)
    builder.transfer(outflow_cells[-1], slots.reservoir, q_out / cell_out)


def add_circuit_heat(
    builder: LinearSystemBuilder,
    layout: ThermalLayout,
    coefficients: CircuitCoefficients,
    reservoir_volume_l: FloatArray,
    room_c: FloatArray,
) -> None:
    """Heater element, heater-to-fluid transfer and circuit losses to the room (thermal system)."""
    rho_c = coefficients.fluid_heat_capacity_j_per_l_k
    cells = coefficients.n_tube_cells
    builder.source(layout.heater, INPUT_HEATER, 1.0)
    builder.source(layout.heater_energy, INPUT_HEATER, 1.0)
    builder.exchange(
        layout.heater,
        layout.exchanger,
        coefficients.heater_conductance_w_per_k,
        coefficients.heater_capacity_j_per_k,
        rho_c * coefficients.exchanger_volume_l,
    )
    builder.loss_to_ambient(
        layout.reservoir,
        layout.circuit_loss,
        coefficients.reservoir_loss_w_per_k,
        rho_c * reservoir_volume_l,
        room_c,
    )
    for cell in layout.inflow_tube:
        builder.loss_to_ambient(
            cell,
            layout.circuit_loss,
            coefficients.inflow_tube_loss_w_per_k / cells,
            rho_c * coefficients.inflow_tube_volume_l / cells,
            room_c,
        )
    for cell in layout.outflow_tube:
        builder.loss_to_ambient(
            cell,
            layout.circuit_loss,
            coefficients.outflow_tube_loss_w_per_k / cells,
            rho_c * coefficients.outflow_tube_volume_l / cells,
            room_c,
        )
