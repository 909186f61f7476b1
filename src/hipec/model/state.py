"""State layout of the twin and the matrix builder the submodels write their equations into.

The twin is linear in its state for given volumes and pump flows, so each submodel contributes
coefficients to ``dx/dt = A x + B u`` (:class:`LinearSystemBuilder`). Two systems are kept apart
because they do not interact: the *thermal* system (state: energy relative to 37 C [J]) and the
*drug* system, one copy per drug (state: amount [mg]). Every arriving or leaving quantity is a state
as well -- ledger accumulators for each sink and source -- so that conservation can be checked: the
weighted sum ``w . x`` (content +1, losses +1, sources -1) is constant, and any exact or implicit
linear integrator keeps it constant to round-off.

Arrays are batched: ``A`` has shape ``(*batch, n, n)`` where ``batch`` is ``(patients,)`` for the
thermal system and ``(patients, drugs)`` for drugs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hipec.model.parameters.abdomen import REGION_NAMES

FloatArray = NDArray[np.float64]

#: Number of PCI regions.
N_REGIONS = len(REGION_NAMES)
#: Reference temperature of the thermal state: state = heat capacity x (T - 37 C) [J].
REFERENCE_TEMPERATURE_C = 37.0

#: Thermal input columns: heater power [W], cooling power [W], constant 1 (ambient and metabolic).
INPUT_HEATER, INPUT_COOLING, INPUT_ONE = 0, 1, 2
N_THERMAL_INPUTS = 3


@dataclass(frozen=True)
class CircuitSlots:
    """Indices shared by both systems for the fluid path: reservoir, exchanger, tubing, regions."""

    n_tube_cells: int
    n_wall: int

    @property
    def reservoir(self) -> int:
        return 0

    @property
    def exchanger(self) -> int:
        return 1

    @property
    def inflow_tube(self) -> range:
        return range(2, 2 + self.n_tube_cells)

    @property
    def outflow_tube(self) -> range:
        start = 2 + self.n_tube_cells
        return range(start, start + self.n_tube_cells)

    @property
    def regions(self) -> range:
        start = 2 + 2 * self.n_tube_cells
        return range(start, start + N_REGIONS)

    def wall(self, region: int, cell: int) -> int:
        """Index of wall cell ``cell`` (0 at the surface) under ``region``."""
        return self.regions.stop + region * self.n_wall + cell

    @property
    def wall_slice(self) -> slice:
        return slice(self.regions.stop, self.regions.stop + N_REGIONS * self.n_wall)

    @property
    def fluid(self) -> list[int]:
        """Every perfusate-holding state (circuit and cavity)."""
        return [
            self.reservoir,
            self.exchanger,
            *self.inflow_tube,
            *self.outflow_tube,
            *self.regions,
        ]


@dataclass(frozen=True)
class ThermalLayout(CircuitSlots):
    """Thermal state: fluid path, wall cells, heater element, body core and energy ledgers [J]."""

    @property
    def heater(self) -> int:
        return self.regions.stop + N_REGIONS * self.n_wall

    @property
    def core(self) -> int:
        return self.heater + 1

    # ledger accumulators (cumulative energy) [J]
    @property
    def heater_energy(self) -> int:
        return self.core + 1

    @property
    def metabolic_energy(self) -> int:
        return self.core + 2

    @property
    def cavity_loss(self) -> int:
        """Heat lost from the cavity to air / room (open surface or closed wall)."""
        return self.core + 3

    @property
    def circuit_loss(self) -> int:
        return self.core + 4

    @property
    def body_loss(self) -> int:
        return self.core + 5

    @property
    def cooling_energy(self) -> int:
        return self.core + 6

    @property
    def size(self) -> int:
        return self.core + 7

    @property
    def content(self) -> list[int]:
        return list(range(self.core + 1))

    def ledger_weights(self) -> FloatArray:
        """Weights ``w`` with ``w . x`` constant: content and losses +1, sources -1."""
        weights = np.ones(self.size)
        weights[[self.heater_energy, self.metabolic_energy]] = -1.0
        return weights


@dataclass(frozen=True)
class DrugLayout(CircuitSlots):
    """Drug state: fluid path, wall cells, plasma compartments and sink ledgers [mg]."""

    @property
    def plasma_central(self) -> int:
        return self.regions.stop + N_REGIONS * self.n_wall

    @property
    def plasma_peripheral(self) -> int:
        return self.plasma_central + 1

    @property
    def urine(self) -> int:
        return self.plasma_central + 2

    @property
    def systemic_elimination(self) -> int:
        return self.plasma_central + 3

    @property
    def perfusate_degradation(self) -> int:
        return self.plasma_central + 4

    @property
    def tissue_elimination(self) -> int:
        return self.plasma_central + 5

    @property
    def size(self) -> int:
        return self.plasma_central + 6


class LinearSystemBuilder:
    """Accumulates ``dx/dt = A x + B u`` from submodel terms.

    Every term moves a quantity from one state to another (or between a state and an input), so the
    column sums of ``A`` and ``B`` weighted by the ledger weights stay zero.

    A system has several hundred transfers, and adding each into ``A`` in place costs two small
    strided updates of the whole batch: the builder of a cohort's systems spent most of its time
    there. Transfers are therefore only recorded, and summed into ``A`` when it is first read, by
    one ``np.add.at`` that adds the terms of every entry in the order they were recorded: the same
    additions in the same order as in place, so ``A`` is the same to the last bit.

    Parameters
    ----------
    batch_shape
        Leading batch dimensions, e.g. ``(patients,)`` or ``(patients, drugs)``.
    size
        Number of states.
    n_inputs
        Number of input columns (0 for the drug system).
    """

    def __init__(self, batch_shape: tuple[int, ...], size: int, n_inputs: int = 0) -> None:
        self._batch_shape = batch_shape
        self._size = size
        self._matrix: FloatArray = np.zeros((*batch_shape, size, size))
        # recorded transfers: flat (target, source) and (source, source) entries and the rate
        self._entries: list[tuple[int, int]] = []
        self._rates: list[FloatArray | float] = []
        self.B: FloatArray = np.zeros((*batch_shape, size, n_inputs))

    @property
    def A(self) -> FloatArray:  # noqa: N802 - the matrix's name in dx/dt = A x + B u
        """``A`` with every transfer recorded so far, shape ``(*batch, n, n)``."""
        if self._rates:
            self._add_recorded()
        return self._matrix

    def _add_recorded(self) -> None:
        """Add the recorded transfers into ``A``: ``+rate`` at (target, source) and ``-rate`` at
        (source, source), in recording order."""
        count = len(self._rates)
        batch = int(np.prod(self._batch_shape))
        terms = np.empty((count, 2, *self._batch_shape))
        for index, rate in enumerate(self._rates):
            terms[index, 0] = rate  # broadcast over the batch
        np.negative(terms[:, 0], out=terms[:, 1])
        entries = np.array(self._entries, dtype=np.intp).reshape(-1)
        # flat positions, batch member by batch member, each member's terms in recording order:
        # np.add.at adds repeated positions one by one in that order, as the in-place updates did
        area = self._size * self._size
        positions = (np.arange(batch, dtype=np.intp)[:, None] * area + entries).reshape(-1)
        np.add.at(self._matrix.reshape(-1), positions, terms.reshape(2 * count, batch).T.ravel())
        self._entries.clear()
        self._rates.clear()

    def per_patient(self, values: FloatArray) -> FloatArray:
        """Reshape a ``(patients,)`` array to broadcast over this builder's batch shape."""
        extra = len(self._batch_shape) - 1  # 0 for (patients,), 1 for (patients, drugs)
        return np.asarray(values).reshape(values.shape + (1,) * extra)

    def transfer(self, source: int, target: int, rate: FloatArray | float) -> None:
        """First-order transfer ``d x_target += rate * x_source`` (and the same out of source).

        ``rate`` [1/s] broadcasts over the batch; it is read when ``A`` is next read, so an array
        passed here must not be changed in place meanwhile.
        """
        size = self._size
        self._entries.append((target * size + source, source * size + source))
        self._rates.append(rate)

    def exchange(
        self,
        a: int,
        b: int,
        conductance: FloatArray | float,
        capacity_a: FloatArray | float,
        capacity_b: FloatArray | float,
    ) -> None:
        """Two-way exchange ``flux(a -> b) = G (x_a / C_a - x_b / C_b)``.

        Heat: ``G`` [W/K], capacities [J/K]. Drug: ``G`` [L/s], capacities are distribution
        volumes [L].
        """
        self.transfer(a, b, conductance / capacity_a)
        self.transfer(b, a, conductance / capacity_b)

    def loss_to_ambient(
        self,
        source: int,
        ledger: int,
        conductance: FloatArray | float,
        capacity: FloatArray | float,
        ambient_c: FloatArray | float,
    ) -> None:
        """Heat loss ``G (T - T_ambient)`` from ``source`` into the ``ledger`` accumulator.

        With ``x = C (T - 37)`` the loss is ``G x / C - G (T_ambient - 37)``: the constant part
        enters
        through the constant input column.
        """
        self.transfer(source, ledger, conductance / capacity)
        offset = conductance * (np.asarray(ambient_c) - REFERENCE_TEMPERATURE_C)
        self.B[..., source, INPUT_ONE] += offset
        self.B[..., ledger, INPUT_ONE] -= offset

    def source(self, target: int, column: int, gain: FloatArray | float) -> None:
        """Input ``d x_target += gain * u[column]``."""
        self.B[..., target, column] += gain
