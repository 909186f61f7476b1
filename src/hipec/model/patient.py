"""Patient submodel: body size and the body-core heat balance.

The body outside the modelled walls is one compartment at core temperature ``T_c`` (the bladder /
oesophageal reading):

``C_body dT_c/dt = Q_met - UA_body (T_c - T_room) - P_cool + (heat from the walls: blood perfusion
and
conduction at the wall's depth)``

- ``C_body = c_body (m - m_walls)`` [J/K];
- metabolic heat ``Q_met`` = (per m2 under anaesthesia) x body surface area [W];
- ``UA_body`` [W/K] is set so that metabolism balances losses at the "core temperature at thermal
  balance" -- a patient left alone stays there;
- ``P_cool`` [W] is an optional cooling command (cooling blanket, cold infusions).

Body surface area: Mosteller 1987, from ``hipec.clinical.anthropometry`` (the same function and the
same plausible ranges the dose plans use).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hipec.clinical.anthropometry import bsa_mosteller, check_height_cm, check_weight_kg
from hipec.errors import InvalidInputError
from hipec.model._arrays import stack
from hipec.model.parameters.base import ParameterSet
from hipec.model.state import (
    INPUT_COOLING,
    INPUT_ONE,
    FloatArray,
    LinearSystemBuilder,
    ThermalLayout,
)


@dataclass(frozen=True)
class Patient:
    """A patient as the twin needs them.

    Parameters
    ----------
    height_cm
        Height [cm], 100-250.
    weight_kg
        Weight [kg], 25-300.
    core_temperature_c
        Core temperature at the start [degC]; ``None`` takes the parameter set's initial value.
    """

    height_cm: float
    weight_kg: float
    core_temperature_c: float | None = None

    def __post_init__(self) -> None:
        check_height_cm(self.height_cm)
        check_weight_kg(self.weight_kg)
        core = self.core_temperature_c
        if core is not None and (not math.isfinite(core) or not 30.0 <= core <= 42.0):
            raise InvalidInputError("core_temperature_c", f"must be 30-42 C, got {core:g}")

    @property
    def body_surface_area_m2(self) -> float:
        """Mosteller body surface area [m2]."""
        return bsa_mosteller(self.height_cm, self.weight_kg)


@dataclass(frozen=True)
class BodyCoefficients:
    """Per-patient body coefficients, arrays of shape ``(patients,)``."""

    body_surface_area_m2: FloatArray
    mass_kg: FloatArray
    specific_heat_j_per_kg_k: FloatArray
    metabolic_heat_w: FloatArray
    room_c: FloatArray
    balance_core_c: FloatArray
    contact_area_m2: FloatArray
    initial_core_c: FloatArray

    @property
    def body_loss_w_per_k(self) -> FloatArray:
        """Conductance to the room that balances metabolism at the balance temperature [W/K]."""
        return np.asarray(
            self.metabolic_heat_w / np.maximum(self.balance_core_c - self.room_c, 1.0)
        )


def body_coefficients(
    patients: Sequence[Patient], sets: Sequence[ParameterSet]
) -> BodyCoefficients:
    """Collect body coefficients for a batch of patients and their parameter sets."""
    bsa = np.array([p.body_surface_area_m2 for p in patients])
    initial = stack(sets, "Initial core temperature [degC]")
    for index, patient in enumerate(patients):
        if patient.core_temperature_c is not None:
            initial[index] = patient.core_temperature_c
    return BodyCoefficients(
        body_surface_area_m2=bsa,
        mass_kg=np.array([p.weight_kg for p in patients], dtype=np.float64),
        specific_heat_j_per_kg_k=stack(sets, "Body specific heat capacity [J/(kg.K)]"),
        metabolic_heat_w=stack(sets, "Metabolic heat production under anaesthesia [W/m2]") * bsa,
        room_c=stack(sets, "Room temperature [degC]"),
        balance_core_c=stack(sets, "Core temperature at thermal balance [degC]"),
        contact_area_m2=stack(sets, "Peritoneal contact area per body surface area [m2/m2]") * bsa,
        initial_core_c=initial,
    )


def core_heat_capacity_j_per_k(
    body: BodyCoefficients, wall_capacity_j_per_k: FloatArray
) -> FloatArray:
    """Heat capacity of the core compartment: the body minus the modelled walls [J/K]."""
    total = body.specific_heat_j_per_kg_k * body.mass_kg
    return np.asarray(total - wall_capacity_j_per_k.reshape(total.size, -1).sum(axis=1))


def add_body_heat(
    builder: LinearSystemBuilder,
    layout: ThermalLayout,
    body: BodyCoefficients,
    core_capacity_j_per_k: FloatArray,
) -> None:
    """Metabolic heat, losses to the room and the cooling command on the core compartment."""
    builder.source(layout.core, INPUT_ONE, body.metabolic_heat_w)
    builder.source(layout.metabolic_energy, INPUT_ONE, body.metabolic_heat_w)
    builder.loss_to_ambient(
        layout.core, layout.body_loss, body.body_loss_w_per_k, core_capacity_j_per_k, body.room_c
    )
    builder.source(layout.core, INPUT_COOLING, -1.0)
    builder.source(layout.cooling_energy, INPUT_COOLING, 1.0)
