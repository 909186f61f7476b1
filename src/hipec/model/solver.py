"""Time integration of the twin: the step API, exact propagators and the solve_ivp reference.

Numerics. Between events, with the pump flows and volumes of a step held, the twin is linear and
time-invariant: ``dx/dt = A x + B u`` with ``u`` (heater power, cooling power, 1) constant over the
step. :class:`Twin` integrates it *exactly* (zero-order-hold discretisation)::

    expm([[A, B], [0, 0]] dt) = [[Phi, Gamma], [0, I]],   x(t + dt) = Phi x(t) + Gamma u

so a 1 s step is as stable as the physics, whatever the stiffness of the wall grid or the tubing
cells. Propagators are cached per (volumes, flows, dt): in the steady perfusion phase a step is two
matrix-vector products. The held inputs are appended to the thermal state, so ``[Phi | Gamma]``
acts on it in one product, and two state buffers are swapped so that no step allocates. Commands
are checked once per change (pump flows) or with one pass (heater power).

Cohorts. Patients with identical inputs (body, starting temperature, every parameter value:
``TwinModel.patient_class``) at identical volumes and flows share one propagator, computed once
(``scipy.linalg.expm`` on stacked arrays) and applied to all of them by one matrix-matrix product;
distinct patients get their own, stepped by a stacked product. The result is the same to round-off
as stepping each patient alone (tested). A large batch of *distinct* patients whose systems depend
on at most two parameters (body size: abdominal volume, core capacity) interpolates its
propagators over that family to round-off instead (:mod:`hipec.model._parametric`: ~100
exponentials instead of one per patient, checked against exact ones, falling back to them on any
doubt; ``interpolate_propagators=False`` turns it off). A cohort stepped as cache-sized twins
shares one :class:`PropagatorFamily` built from all its patients: every twin interpolates from
the cohort's grids, however few patients it holds (patients whose systems the family visited
with the same inputs, volumes and flows take the weights found then: no system is built again).
Volumes follow the pump balance step by step (the coefficients use the volumes at the end of the
step); a step with unequal pump flows therefore rebuilds the propagators.

The reference path (``integrator="reference"``) integrates the *same* ``A, B, u`` over every step
with ``scipy.integrate.solve_ivp`` (BDF, tight tolerances); it exists to prove the fast path.

Conservation. Every sink and source is a ledger state (:mod:`hipec.model.state`) or an event ledger
here, so :meth:`Twin.energy_ledger` and :meth:`Twin.drug_ledger` close to round-off.

Water lost by evaporation (open technique) is removed in lumps of :data:`EVAPORATION_LUMP_L` at the
regions' own temperature and with the drug left behind, so that the volumes -- and the cached
propagators -- change only every few minutes; the lump is checked only when it can be due.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

from hipec.errors import InvalidInputError
from hipec.model import _parametric
from hipec.model.cavity import (
    VOLUME_SHARE,
    CatheterPlacement,
    Technique,
    abdominal_pressure_mmhg,
    region_index,
    water_loss_l_s,
)
from hipec.model.citations import format_citations
from hipec.model.events import Event
from hipec.model.parameters.drugs import drug_parameters
from hipec.model.patient import Patient
from hipec.model.state import (
    INPUT_COOLING,
    INPUT_HEATER,
    INPUT_ONE,
    N_REGIONS,
    N_THERMAL_INPUTS,
    REFERENCE_TEMPERATURE_C,
    FloatArray,
)
from hipec.model.system import ParameterInput, TwinModel, build_model
from hipec.model.tissue import wall_volume_l

Integrator = Literal["exact", "reference"]
#: Water evaporated from the open abdomen is removed once this much has accumulated [L].
EVAPORATION_LUMP_L = 0.01
_CACHE_SIZE = 8


@dataclass(frozen=True)
class Commands:
    """Actuator commands held over one step; scalars apply to every patient.

    Parameters
    ----------
    heater_power_w
        Heater power [W]; clipped to 0 .. the heater's maximum.
    inflow_l_min
        Inflow pump flow [L/min], >= 0.
    outflow_l_min
        Outflow pump flow [L/min], >= 0; ``None`` means equal to the inflow.
    cooling_w
        Patient cooling power [W], >= 0.
    """

    heater_power_w: float | FloatArray = 0.0
    inflow_l_min: float | FloatArray = 0.0
    outflow_l_min: float | FloatArray | None = None
    cooling_w: float | FloatArray = 0.0


class Twin:
    """A batch of perfusion digital twins advanced by :meth:`step`.

    Build one with :meth:`create`. All outputs have the patient axis first.

    Parameters
    ----------
    model
        Structure and coefficients (:func:`hipec.model.system.build_model`).
    integrator
        ``"exact"`` (propagators, default) or ``"reference"`` (solve_ivp BDF).
    interpolate_propagators
        Let a large batch of distinct patients whose systems depend on at most two parameters
        (e.g. body size only) interpolate its propagators to round-off over that family instead
        of taking one matrix exponential per patient (checked against exact exponentials, with a
        fallback; see :mod:`hipec.model._parametric`). ``False`` takes every one exactly.
    propagators
        A :class:`PropagatorFamily` built once for a whole cohort that this twin is a part of:
        its propagators are then interpolated from the cohort's grids (checked to cover them, or
        with the weights of the very systems the family visited), however few patients it holds;
        configurations the family does not cover fall back as above. Ignored when
        ``interpolate_propagators`` is ``False``.
    """

    def __init__(
        self,
        model: TwinModel,
        integrator: Integrator = "exact",
        *,
        interpolate_propagators: bool = True,
        propagators: PropagatorFamily | None = None,
    ) -> None:
        if integrator not in ("exact", "reference"):
            raise InvalidInputError("integrator", f"must be exact or reference, got {integrator!r}")
        self.model = model
        self.integrator: Integrator = integrator
        self.interpolate_propagators = interpolate_propagators
        self.propagator_family = propagators
        n = model.n_patients
        d = len(model.drugs)
        circuit = model.circuit
        self.time_s = 0.0
        self._reservoir_volume_l: FloatArray = circuit.reservoir_priming_volume_l.copy()
        self._abdominal_volume_l: FloatArray = model.cavity.residual_volume_l.copy()
        self._refresh_volumes()
        size = model.thermal_layout.size
        self._thermal_size = size  # read every step: the layout computes it through properties
        # thermal state with the held inputs appended (heater, cooling, 1): one product per step
        # gives ``Phi x + Gamma u``; two buffers are swapped so that no step allocates
        self._thermal_buffers = [np.zeros((n, size + N_THERMAL_INPUTS)) for _ in range(2)]
        for buffer in self._thermal_buffers:
            buffer[:, size + INPUT_ONE] = 1.0
        self._drug_buffers = [np.zeros((n, d, model.drug_layout.size)) for _ in range(2)]
        self._input_columns = (size + INPUT_HEATER, size + INPUT_COOLING)
        # one patient, one drug: the 1-D views a step uses, per buffer (swapped with the buffers)
        self._single_rows = self._buffer_views()
        self._single = n == 1
        self._exact = integrator == "exact"
        self._open = model.technique == "open"
        #: bumped by every event (dose, fill, drain, rinse): recorders copy the dosed amounts then
        self.event_count = 0
        self._single_drug = d == 1
        self.last_commands = _ResolvedCommands.zeros(n)
        self._resolver = _CommandResolver(model)
        classes = model.patient_class
        self._patient_class: FloatArray = (
            classes.astype(np.float64) if classes.size == n else np.arange(n, dtype=np.float64)
        )
        # event ledgers
        self.energy_added_j: FloatArray = np.zeros(n)
        self.energy_removed_j: FloatArray = np.zeros(n)
        self.dosed_mg: FloatArray = np.zeros((n, d))
        self.drained_mg: FloatArray = np.zeros((n, d))
        self.evaporated_l: FloatArray = np.zeros(n)
        self._pending_evaporation_l: FloatArray = np.zeros(n)
        self._evaporation_elapsed_s = 0.0
        self._evaporation_check_s = 0.0
        self._cache: dict[bytes, _Propagators] = {}
        self._last_propagators: tuple[int, bytes, float, _Propagators] | None = None
        self._set_initial_temperatures()
        self._initial_ledger = self._thermal_invariant()

    def _buffer_views(self) -> list[tuple[FloatArray, FloatArray, FloatArray]]:
        size = self._thermal_size
        return [
            (thermal[0], thermal[0, :size], drug[0, 0])
            for thermal, drug in zip(self._thermal_buffers, self._drug_buffers, strict=True)
        ]

    def __getstate__(self) -> dict[str, object]:
        # a copy or a pickle turns views into separate arrays: rebuild them from the buffers
        state = self.__dict__.copy()
        del state["_single_rows"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._single_rows = self._buffer_views()

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        patients: Patient | Sequence[Patient],
        drugs: Sequence[str] = ("oxaliplatin",),
        technique: Technique = "closed",
        placement: CatheterPlacement | None = None,
        *,
        patient_parameters: ParameterInput = None,
        circuit_parameters: ParameterInput = None,
        abdomen_parameters: ParameterInput = None,
        drug_parameters: dict[str, ParameterInput] | None = None,
        integrator: Integrator = "exact",
        interpolate_propagators: bool = True,
        propagators: PropagatorFamily | None = None,
    ) -> Twin:
        """A twin for one patient or a batch (see :func:`hipec.model.system.build_model`)."""
        batch = [patients] if isinstance(patients, Patient) else list(patients)
        model = build_model(
            batch,
            drugs,
            technique,
            placement,
            patient_parameters,
            circuit_parameters,
            abdomen_parameters,
            drug_parameters,
        )
        return cls(
            model,
            integrator,
            interpolate_propagators=interpolate_propagators,
            propagators=propagators,
        )

    def _set_initial_temperatures(self) -> None:
        model, layout = self.model, self.model.thermal_layout
        priming = model.circuit.priming_temperature_c - REFERENCE_TEMPERATURE_C
        core = model.body.initial_core_c - REFERENCE_TEMPERATURE_C
        capacities = self.fluid_heat_capacities()
        for index in layout.fluid[: layout.regions.start]:
            self.thermal[:, index] = capacities[:, index] * priming
        region_capacity = capacities[:, layout.regions.start : layout.regions.stop]
        self.thermal[:, layout.regions.start : layout.regions.stop] = (
            region_capacity * core[:, None]
        )
        self.thermal[:, layout.heater] = model.circuit.heater_capacity_j_per_k * priming
        wall = model.wall_capacity_j_per_k.reshape(model.n_patients, -1)
        self.thermal[:, layout.wall_slice] = wall * core[:, None]
        self.thermal[:, layout.core] = model.core_capacity_j_per_k * core

    # ------------------------------------------------------------------ state
    @property
    def thermal(self) -> FloatArray:
        """Thermal state [J relative to 37 C], shape ``(patients, n_thermal)`` (a view)."""
        return self._thermal_buffers[0][:, : self._thermal_size]

    @thermal.setter
    def thermal(self, value: FloatArray) -> None:
        self._thermal_buffers[0][:, : self._thermal_size] = value

    @property
    def drug(self) -> FloatArray:
        """Drug state [mg], shape ``(patients, drugs, n_drug)``."""
        return self._drug_buffers[0]

    @drug.setter
    def drug(self, value: FloatArray) -> None:
        self._drug_buffers[0][...] = value

    # ------------------------------------------------------------------ volumes and capacities
    @property
    def reservoir_volume_l(self) -> FloatArray:
        """Fluid in the reservoir [L], shape ``(patients,)``."""
        return self._reservoir_volume_l

    @reservoir_volume_l.setter
    def reservoir_volume_l(self, value: FloatArray) -> None:
        self._reservoir_volume_l = np.asarray(value, dtype=np.float64)
        self._refresh_volumes()

    @property
    def abdominal_volume_l(self) -> FloatArray:
        """Fluid in the abdomen [L], shape ``(patients,)``."""
        return self._abdominal_volume_l

    @abdominal_volume_l.setter
    def abdominal_volume_l(self, value: FloatArray) -> None:
        if self.model.technique == "open" and hasattr(self, "_evaporation_elapsed_s"):
            self._accrue_evaporation()  # the time so far evaporated at the old wetness
        self._abdominal_volume_l = np.asarray(value, dtype=np.float64)
        self._refresh_volumes()
        self._evaporation_check_s = 0.0  # wetness may have changed: check at the next step

    def _refresh_volumes(self) -> None:
        self._volume_version = getattr(self, "_volume_version", 0) + 1
        self._fluid_volume = fluid_volumes_l(
            self.model, self._reservoir_volume_l, self._abdominal_volume_l
        )
        self._fluid_capacity = self._fluid_volume * self.model.fluid_heat_capacity[:, None]
        self._inflow_index = self.model.thermal_layout.inflow_tube[-1]
        self._inflow_capacity = self._fluid_capacity[:, self._inflow_index]

    def fluid_volumes_l(self) -> FloatArray:
        """Volume of every fluid state [L], shape ``(patients, n_fluid)`` in layout order."""
        return self._fluid_volume

    def fluid_heat_capacities(self) -> FloatArray:
        """Heat capacity [J/K] of the fluid states, shape ``(patients, n_fluid)``."""
        return self._fluid_capacity

    # ------------------------------------------------------------------ outputs
    def _fluid_temperature(self, index: int) -> FloatArray:
        capacity = self.fluid_heat_capacities()[:, index]
        return np.asarray(self.thermal[:, index] / capacity + REFERENCE_TEMPERATURE_C)

    @property
    def region_temperature_c(self) -> FloatArray:
        """Fluid temperature of every PCI region [degC], shape ``(patients, 13)``."""
        layout = self.model.thermal_layout
        capacity = self.fluid_heat_capacities()[:, layout.regions.start :]
        energy = self.thermal[:, layout.regions.start : layout.regions.stop]
        return np.asarray(energy / capacity + REFERENCE_TEMPERATURE_C)

    @property
    def volume_version(self) -> int:
        """A counter bumped whenever a reservoir or abdominal volume changes."""
        return self._volume_version

    def inflow_temperature_of(self, patient: int = 0) -> float:
        """Inflow temperature of one patient as a plain number [degC] (a cheap read for a
        controller stepping a single twin)."""
        energy = float(self._thermal_buffers[0][patient, self._inflow_index])
        return energy / float(self._inflow_capacity[patient]) + REFERENCE_TEMPERATURE_C

    @property
    def inflow_temperature_c(self) -> FloatArray:
        """Perfusate temperature at the inflow catheters [degC] (last inflow tube cell)."""
        # read every step by controllers: kept to two array operations
        energy = self._thermal_buffers[0][:, self._inflow_index]
        return np.asarray(energy / self._inflow_capacity + REFERENCE_TEMPERATURE_C)

    @property
    def outflow_temperature_c(self) -> FloatArray:
        """Perfusate temperature leaving the abdomen [degC] (first outflow tube cell)."""
        return self._fluid_temperature(self.model.thermal_layout.outflow_tube[0])

    @property
    def reservoir_temperature_c(self) -> FloatArray:
        """Reservoir temperature [degC]."""
        return self._fluid_temperature(self.model.thermal_layout.reservoir)

    @property
    def heater_temperature_c(self) -> FloatArray:
        """Heater element temperature [degC]."""
        layout = self.model.thermal_layout
        capacity = self.model.circuit.heater_capacity_j_per_k
        return np.asarray(self.thermal[:, layout.heater] / capacity + REFERENCE_TEMPERATURE_C)

    @property
    def core_temperature_c(self) -> FloatArray:
        """Body core temperature [degC]."""
        core = self.thermal[:, self.model.thermal_layout.core]
        return np.asarray(core / self.model.core_capacity_j_per_k + REFERENCE_TEMPERATURE_C)

    @property
    def wall_temperature_c(self) -> FloatArray:
        """Temperature of every wall cell [degC], shape ``(patients, 13, n_cells)``."""
        layout = self.model.thermal_layout
        energy = self.thermal[:, layout.wall_slice].reshape(self.model.n_patients, N_REGIONS, -1)
        return np.asarray(energy / self.model.wall_capacity_j_per_k + REFERENCE_TEMPERATURE_C)

    @property
    def wall_surface_temperature_c(self) -> FloatArray:
        """Temperature at the peritoneal surface [degC], shape ``(patients, 13)``: the value that
        matches the heat flux through the fluid film and through half of the first cell."""
        heat = self.model.wall_heat
        film = heat.surface_transfer_w_per_m2_k[:, None]
        half_cell = (2.0 * heat.conductivity_w_per_m_k / self.model.grid.thickness_m[0])[:, None]
        wall = self.wall_temperature_c[:, :, 0]
        return np.asarray(
            (film * self.region_temperature_c + half_cell * wall) / (film + half_cell)
        )

    @property
    def wall_depth_m(self) -> FloatArray:
        """Depth of the wall-cell centres below the surface [m], shape ``(n_cells,)``."""
        return self.model.grid.centre_m

    @property
    def perfusate_volume_l(self) -> FloatArray:
        """Perfusate in circuit and abdomen [L]."""
        return np.asarray(self.fluid_volumes_l().sum(axis=1))

    @property
    def region_concentration_mg_l(self) -> FloatArray:
        """Drug concentration in every region [mg/L], shape ``(patients, drugs, 13)``."""
        layout = self.model.drug_layout
        volume = self.abdominal_volume_l[:, None] * VOLUME_SHARE[None, :]
        return np.asarray(
            self.drug[:, :, layout.regions.start : layout.regions.stop] / volume[:, None, :]
        )

    @property
    def perfusate_amount_mg(self) -> FloatArray:
        """Drug in the perfusate (circuit and abdomen) [mg], shape ``(patients, drugs)``."""
        return np.asarray(self.drug[:, :, self.model.drug_layout.fluid].sum(axis=2))

    @property
    def perfusate_concentration_mg_l(self) -> FloatArray:
        """Mean drug concentration of all perfusate [mg/L], shape ``(patients, drugs)``."""
        return np.asarray(self.perfusate_amount_mg / self.perfusate_volume_l[:, None])

    @property
    def plasma_concentration_mg_l(self) -> FloatArray:
        """Plasma (free) concentration [mg/L], shape ``(patients, drugs)``."""
        central = self.drug[:, :, self.model.drug_layout.plasma_central]
        return np.asarray(central / self.model.pk.central_volume_l)

    @property
    def wall_concentration_mg_l(self) -> FloatArray:
        """Total (free + bound) drug per tissue volume [mg/L], shape ``(patients, drugs, 13,
        n)``."""
        layout = self.model.drug_layout
        n, d = self.model.n_patients, len(self.model.drugs)
        amount = self.drug[:, :, layout.wall_slice].reshape(n, d, N_REGIONS, -1)
        volume = wall_volume_l(self.model.grid, self.model.body.contact_area_m2)
        return np.asarray(amount / volume[:, None, :, :])

    @property
    def abdominal_pressure_mmhg(self) -> FloatArray:
        """Intra-abdominal pressure [mmHg] (zero for the open technique)."""
        return abdominal_pressure_mmhg(
            self.model.cavity, self.model.technique, self.abdominal_volume_l
        )

    # ------------------------------------------------------------------ ledgers
    def _thermal_invariant(self) -> FloatArray:
        weights = self.model.thermal_layout.ledger_weights()
        return np.asarray(self.thermal @ weights - self.energy_added_j + self.energy_removed_j)

    def energy_ledger(self) -> dict[str, FloatArray]:
        """Energy balance since the start [J], per patient.

        ``"imbalance [J]"`` is what the other terms fail to explain (zero up to round-off);
        ``"throughput [J]"`` is the scale to judge it by (all energy that entered or left).
        """
        layout = self.model.thermal_layout
        x = self.thermal
        ledger = {
            "heater input [J]": x[:, layout.heater_energy],
            "metabolic heat [J]": x[:, layout.metabolic_energy],
            "fill enthalpy added [J]": self.energy_added_j,
            "cavity loss to room [J]": x[:, layout.cavity_loss],
            "circuit loss to room [J]": x[:, layout.circuit_loss],
            "body loss to room [J]": x[:, layout.body_loss],
            "cooling [J]": x[:, layout.cooling_energy],
            "drained and evaporated enthalpy [J]": self.energy_removed_j,
            "stored relative to 37 C [J]": x[:, layout.content].sum(axis=1),
        }
        ledger["imbalance [J]"] = self._thermal_invariant() - self._initial_ledger
        ledger["throughput [J]"] = sum(
            np.abs(ledger[key])
            for key in ledger
            if key not in ("stored relative to 37 C [J]", "imbalance [J]")
        ) + np.abs(self.thermal[:, layout.content]).sum(axis=1)
        return {key: np.asarray(value, dtype=np.float64) for key, value in ledger.items()}

    def drug_ledger(self) -> dict[str, FloatArray]:
        """Where every dosed mg is [mg], shape ``(patients, drugs)`` per entry.

        ``"imbalance [mg]"`` = dosed - (everything else); zero up to round-off.
        """
        layout = self.model.drug_layout
        x = self.drug
        ledger = {
            "dosed [mg]": self.dosed_mg,
            "perfusate [mg]": self.perfusate_amount_mg,
            "circuit [mg]": x[:, :, layout.fluid[: layout.regions.start]].sum(axis=2),
            "tissue [mg]": x[:, :, layout.wall_slice].sum(axis=2),
            "plasma [mg]": x[:, :, layout.plasma_central] + x[:, :, layout.plasma_peripheral],
            "urine [mg]": x[:, :, layout.urine],
            "systemic elimination [mg]": x[:, :, layout.systemic_elimination],
            "perfusate degradation [mg]": x[:, :, layout.perfusate_degradation],
            "tissue elimination [mg]": x[:, :, layout.tissue_elimination],
            "drained [mg]": self.drained_mg,
        }
        accounted = sum(ledger[key] for key in ledger if key not in ("dosed [mg]", "circuit [mg]"))
        ledger["imbalance [mg]"] = self.dosed_mg - accounted
        return {key: np.asarray(value, dtype=np.float64) for key, value in ledger.items()}

    def fractions(self) -> dict[str, FloatArray]:
        """Fractions of the dose [-], shape ``(patients, drugs)``: remaining in perfusate (circuit
        included), absorbed (crossed into tissue and body), in urine, drained, degraded."""
        ledger = self.drug_ledger()
        dose = np.where(self.dosed_mg > 0.0, self.dosed_mg, np.nan)
        absorbed = (
            ledger["tissue [mg]"]
            + ledger["plasma [mg]"]
            + ledger["urine [mg]"]
            + ledger["systemic elimination [mg]"]
            + ledger["tissue elimination [mg]"]
        )
        return {
            "remaining in perfusate [-]": ledger["perfusate [mg]"] / dose,
            "absorbed [-]": absorbed / dose,
            "urine [-]": ledger["urine [mg]"] / dose,
            "drained [-]": ledger["drained [mg]"] / dose,
            "degraded [-]": ledger["perfusate degradation [mg]"] / dose,
        }

    def citations(self) -> str:
        """Full references of everything this twin's parameters rely on."""
        return format_citations(self.model.citations())

    # ------------------------------------------------------------------ events
    def apply_event(self, event: Event) -> None:
        """Apply one event now (its ``time_s`` is the caller's business)."""
        n = self.model.n_patients
        if np.size(event.amount) not in (1, n):
            raise InvalidInputError(
                "amount", f"must be one value or {n} values, got {np.size(event.amount)}"
            )
        amount = np.broadcast_to(np.asarray(event.amount, dtype=np.float64), (n,)).copy()
        self.event_count += 1
        if event.kind == "dose":
            self._dose(event, amount)
        elif event.kind == "fill":
            self._fill(event.target, amount, event.temperature_c)
        elif event.kind == "drain":
            self._drain(str(event.target), amount)
        else:  # rinse: fill, mix instantly, drain the same volume
            before = self.abdominal_volume_l.copy()
            self._fill("abdomen", amount, event.temperature_c)
            self._drain("abdomen", self.abdominal_volume_l - before)

    def _drug_index(self, name: str | None) -> int:
        canonical = drug_parameters(name or "").name
        if canonical not in self.model.drugs:
            raise InvalidInputError(
                "drug", f"must be one of this twin's drugs {list(self.model.drugs)}, got {name!r}"
            )
        return self.model.drugs.index(canonical)

    def _dose(self, event: Event, amount: FloatArray) -> None:
        layout = self.model.drug_layout
        drug = self._drug_index(event.drug)
        if event.target == "reservoir":
            self.drug[:, drug, layout.reservoir] += amount
        elif event.target == "abdomen":
            regions = slice(layout.regions.start, layout.regions.stop)
            self.drug[:, drug, regions] += amount[:, None] * VOLUME_SHARE[None, :]
        else:
            self.drug[:, drug, layout.regions[region_index(event.target)]] += amount
        self.dosed_mg[:, drug] += amount

    def _fill(self, target: str | int, volume_l: FloatArray, temperature_c: float | None) -> None:
        layout = self.model.thermal_layout
        temperature = (
            self.model.circuit.priming_temperature_c
            if temperature_c is None
            else np.full(self.model.n_patients, temperature_c)
        )
        energy = self.model.fluid_heat_capacity * volume_l * (temperature - REFERENCE_TEMPERATURE_C)
        if target == "reservoir":
            self.reservoir_volume_l = self.reservoir_volume_l + volume_l
            self.thermal[:, layout.reservoir] += energy
        else:
            self.abdominal_volume_l = self.abdominal_volume_l + volume_l
            regions = slice(layout.regions.start, layout.regions.stop)
            self.thermal[:, regions] += energy[:, None] * VOLUME_SHARE[None, :]
        self.energy_added_j += energy

    def _drain(self, target: str, volume_l: FloatArray) -> None:
        if target == "reservoir":
            available = self.reservoir_volume_l - self.model.circuit.reservoir_min_volume_l
            current = self.reservoir_volume_l
        else:
            available = self.abdominal_volume_l - self.model.cavity.residual_volume_l
            current = self.abdominal_volume_l
        removed = np.clip(np.minimum(volume_l, available), 0.0, None)
        self._remove_fluid(target, removed / current, drug_leaves=True)
        if target == "reservoir":
            self.reservoir_volume_l = current - removed
        else:
            self.abdominal_volume_l = current - removed

    def _remove_fluid(self, target: str, fraction: FloatArray, *, drug_leaves: bool) -> None:
        """Take ``fraction`` of the fluid of ``target`` with its heat (and its drug if it
        leaves)."""
        thermal_layout, drug_layout = self.model.thermal_layout, self.model.drug_layout
        if target == "reservoir":
            thermal_index: int | slice = thermal_layout.reservoir
            drug_index: int | slice = drug_layout.reservoir
            share = fraction
        else:
            thermal_index = slice(thermal_layout.regions.start, thermal_layout.regions.stop)
            drug_index = slice(drug_layout.regions.start, drug_layout.regions.stop)
            share = fraction[:, None]
        removed_energy = self.thermal[:, thermal_index] * share
        self.thermal[:, thermal_index] -= removed_energy
        self.energy_removed_j += removed_energy.reshape(self.model.n_patients, -1).sum(axis=1)
        if drug_leaves:
            drug_share = share[:, None] if target == "reservoir" else share[:, None, :]
            removed_drug = self.drug[:, :, drug_index] * drug_share
            self.drug[:, :, drug_index] -= removed_drug
            n, d = self.model.n_patients, len(self.model.drugs)
            self.drained_mg += removed_drug.reshape(n, d, -1).sum(axis=2)

    # ------------------------------------------------------------------ stepping
    def step(self, commands: Commands, dt_s: float) -> None:
        """Advance every twin by ``dt_s`` [s] holding ``commands``.

        Raises
        ------
        InvalidInputError
            For a non-positive step or negative / non-finite commands.
        """
        if not dt_s > 0.0 or dt_s == math.inf:
            raise InvalidInputError("dt_s", f"must be a step > 0 s, got {dt_s!r}")
        resolved = self._resolver.resolve(commands, dt_s, self)
        self.last_commands = resolved
        if resolved.unbalanced:  # volumes move only when the pumps are unbalanced
            net_inflow = resolved.inflow_l_s - resolved.outflow_l_s
            self.reservoir_volume_l = self._reservoir_volume_l - dt_s * net_inflow
            self.abdominal_volume_l = self._abdominal_volume_l + dt_s * net_inflow
        if self._exact:
            self._exact_step(resolved, dt_s)
        else:
            self._reference_step(resolved, resolved.inputs(), dt_s)
        self.time_s += dt_s
        if self._open:
            self._evaporation_elapsed_s += dt_s
            if self._evaporation_elapsed_s >= self._evaporation_check_s:
                self._evaporate()

    def _exact_step(self, resolved: _ResolvedCommands, dt_s: float) -> None:
        """``x <- Phi x + Gamma u`` (thermal) and ``m <- Phi_drug m`` with cached propagators."""
        propagators = self._propagators(resolved, dt_s)
        now, after = self._thermal_buffers
        drug_now, drug_after = self._drug_buffers
        heater_column, cooling_column = self._input_columns
        if self._single and self._single_drug:  # the controller's seat: fewest numpy calls
            now_row, _, drug_now_row = self._single_rows[0]
            _, after_head, drug_after_row = self._single_rows[1]
            now_row[heater_column] = resolved.heater_power_w[0]
            now_row[cooling_column] = resolved.cooling_w[0]
            np.dot(propagators.thermal[0], now_row, out=after_head)
            np.dot(propagators.drug[0, 0], drug_now_row, out=drug_after_row)
            self._thermal_buffers = [after, now]
            self._drug_buffers = [drug_after, drug_now]
            self._single_rows.reverse()
            return
        if self._single:
            now[0, heater_column] = resolved.heater_power_w[0]
            now[0, cooling_column] = resolved.cooling_w[0]
        else:
            now[:, heater_column] = resolved.heater_power_w
            now[:, cooling_column] = resolved.cooling_w
        members = propagators.members
        if self._single:
            np.dot(propagators.thermal[0], now[0], out=after[0, :heater_column])
            for drug in range(drug_now.shape[1]):
                np.dot(propagators.drug[0, drug], drug_now[0, drug], out=drug_after[0, drug])
        elif members is None:  # one propagator per patient, in patient order
            # written straight into the other buffer: no temporary the size of the batch
            np.matmul(propagators.thermal, now[:, :, None], out=after[:, :heater_column, None])
            np.matmul(propagators.drug, drug_now[..., None], out=drug_after[..., None])
        else:  # patients sharing a propagator: one matrix-matrix product per group
            for group, rows in enumerate(members):
                thermal, drug_maps = propagators.thermal[group], propagators.drug[group]
                if isinstance(rows, slice):  # contiguous rows: written in place
                    np.matmul(now[rows], thermal.T, out=after[rows, :heater_column])
                    for drug in range(drug_now.shape[1]):
                        np.matmul(
                            drug_now[rows, drug], drug_maps[drug].T, out=drug_after[rows, drug]
                        )
                else:
                    after[rows, :heater_column] = now[rows] @ thermal.T
                    for drug in range(drug_now.shape[1]):
                        drug_after[rows, drug] = drug_now[rows, drug] @ drug_maps[drug].T
        self._thermal_buffers = [after, now]
        self._drug_buffers = [drug_after, drug_now]

    def _system(self, resolved: _ResolvedCommands) -> tuple[FloatArray, FloatArray, FloatArray]:
        args = (
            self.reservoir_volume_l,
            self.abdominal_volume_l,
            resolved.inflow_l_s,
            resolved.outflow_l_s,
        )
        a_thermal, b_thermal = self.model.thermal_system(*args)
        return a_thermal, b_thermal, self.model.drug_system(*args)

    def _propagators(self, resolved: _ResolvedCommands, dt_s: float) -> _Propagators:
        """Propagators for the current volumes and flows, computed once per distinct (patient
        class, volumes, flows, step) and cached."""
        last = self._last_propagators
        if (
            last is not None
            and last[0] == self._volume_version
            and last[1] is resolved.flow_key
            and last[2] == dt_s
        ):
            return last[3]  # nothing changed since the previous step
        key = resolved.cache_key(dt_s, self._reservoir_volume_l, self._abdominal_volume_l)
        cached = self._cache.get(key)
        if cached is not None:
            self._last_propagators = (self._volume_version, resolved.flow_key, dt_s, cached)
            return cached
        n = self.model.n_patients
        columns = (
            self._patient_class,
            self._reservoir_volume_l,
            self._abdominal_volume_l,
            resolved.inflow_l_s,
            resolved.outflow_l_s,
        )
        representatives: NDArray[np.int64] = np.zeros(1, dtype=np.int64)
        inverse: NDArray[np.int64] = np.zeros(1, dtype=np.int64)
        if n > 1:
            table = np.stack(columns, axis=1)
            _, first, where = np.unique(table, axis=0, return_index=True, return_inverse=True)
            representatives = first.astype(np.int64)
            inverse = where.reshape(-1).astype(np.int64)
        groups = representatives.size
        if groups == n:  # nothing shared: the whole batch in patient order
            model = self.model
            picked = [np.asarray(column) for column in columns[1:]]
        else:
            model = self.model.subset(representatives)
            picked = [np.asarray(column)[representatives] for column in columns[1:]]
        family = self.propagator_family if self.interpolate_propagators else None
        # systems the cohort's family visited and checked need not be built again
        visited = None if family is None else family.visited(model, picked, dt_s)
        if visited is not None:
            thermal, drug = visited
        else:
            a_thermal, b_thermal = model.thermal_system(*picked)
            a_drug = model.drug_system(*picked)
            thermal, drug = _exponentials(
                a_thermal, b_thermal, a_drug, dt_s, self.interpolate_propagators, family
            )
        members: list[NDArray[np.int64] | slice] | None = None
        if n > 1 and groups <= n // 2:
            members = []
            for group in range(groups):
                rows = np.flatnonzero(inverse == group)
                contiguous = rows[-1] - rows[0] + 1 == rows.size
                # a slice reads and writes in place; an index array copies
                members.append(slice(int(rows[0]), int(rows[-1]) + 1) if contiguous else rows)
        elif 1 < groups < n:  # many groups: give every patient its own copy
            thermal, drug = thermal[inverse], drug[inverse]
        propagators = _Propagators(thermal, drug, members)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = propagators
        self._last_propagators = (self._volume_version, resolved.flow_key, dt_s, propagators)
        return propagators

    def _reference_step(self, resolved: _ResolvedCommands, inputs: FloatArray, dt_s: float) -> None:
        a_thermal, b_thermal, a_drug = self._system(resolved)
        n, d = self.model.n_patients, len(self.model.drugs)
        size_t, size_d = a_thermal.shape[1], a_drug.shape[2]
        for patient in range(n):
            blocks = [a_thermal[patient], *(a_drug[patient, drug] for drug in range(d))]
            matrix = scipy.linalg.block_diag(*blocks)
            forcing = np.concatenate([b_thermal[patient] @ inputs[patient], np.zeros(d * size_d)])
            start = np.concatenate([self.thermal[patient], self.drug[patient].ravel()])
            scale = np.concatenate([np.full(size_t, 1e-4), np.full(d * size_d, 1e-10)])
            solution = solve_ivp(
                lambda _t, x, m=matrix, f=forcing: m @ x + f,
                (0.0, dt_s),
                start,
                method="BDF",
                jac=matrix,
                rtol=1e-10,
                atol=scale,
            )
            if not solution.success:  # pragma: no cover - BDF on a stable linear system
                raise RuntimeError(f"reference integration failed: {solution.message}")
            end = solution.y[:, -1]
            self.thermal[patient] = end[:size_t]
            self.drug[patient] = end[size_t:].reshape(d, size_d)

    def _accrue_evaporation(self) -> None:
        """Turn the time since the last accrual into pending evaporated water at the current
        wetness (the abdomen loses water only while it holds more than its residual film)."""
        elapsed, self._evaporation_elapsed_s = self._evaporation_elapsed_s, 0.0
        if elapsed > 0.0:
            rate = water_loss_l_s(self.model.cavity, self.model.technique)
            wet = (
                self._abdominal_volume_l > self.model.cavity.residual_volume_l + EVAPORATION_LUMP_L
            )
            self._pending_evaporation_l += np.where(wet, rate * elapsed, 0.0)

    def _evaporate(self) -> None:
        """Remove the evaporated water in lumps of at least :data:`EVAPORATION_LUMP_L`; the next
        check is scheduled for when the first patient's pending water reaches a lump (volume
        changes bring it forward)."""
        self._accrue_evaporation()
        lump = np.where(
            self._pending_evaporation_l >= EVAPORATION_LUMP_L, self._pending_evaporation_l, 0.0
        )
        if np.any(lump > 0.0):
            self._remove_fluid("abdomen", lump / self.abdominal_volume_l, drug_leaves=False)
            self.abdominal_volume_l = self.abdominal_volume_l - lump
            self.evaporated_l += lump
            self._pending_evaporation_l -= lump
        rate = water_loss_l_s(self.model.cavity, self.model.technique)
        wet = self._abdominal_volume_l > self.model.cavity.residual_volume_l + EVAPORATION_LUMP_L
        with np.errstate(divide="ignore"):
            wait = np.where(
                wet & (rate > 0.0),
                (EVAPORATION_LUMP_L - self._pending_evaporation_l) / rate,
                math.inf,
            )
        # a little early rather than late: the check is repeated until the lump is due
        self._evaporation_check_s = max(float(wait.min()) * (1.0 - 1e-9), 0.0)


@dataclass(frozen=True)
class _Propagators:
    """Exact one-step maps for held commands.

    ``thermal`` is ``[Phi | Gamma]`` (shape ``(groups, n, n + 3)``), ``drug`` is ``Phi_drug``
    (``(groups, drugs, m, m)``); ``members`` lists the patients of each group, or is ``None`` when
    the arrays follow the patient order (one group per patient, or a single patient).
    """

    thermal: FloatArray
    drug: FloatArray
    members: list[NDArray[np.int64] | slice] | None


#: Patients per call of the matrix exponential (bounds the temporary memory of a large cohort).
_EXPM_CHUNK = 64
#: Patients of a cohort whose thermal inputs ``B`` show which input rows vary (a twin checks the
#: rest: :meth:`_ThermalFamily.apply`; :meth:`PropagatorFamily.for_twin` every visited one).
_INPUT_SAMPLE = 64
#: Scale of the input columns in the augmented matrices: the matrix norm then reflects the
#: dynamics, not the size of the constant terms (fewer squarings in expm).
_INPUT_SCALE = 1e-3


def _exponentials(
    a_thermal: FloatArray,
    b_thermal: FloatArray,
    a_drug: FloatArray,
    dt_s: float,
    interpolate: bool = True,
    family: PropagatorFamily | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Zero-order-hold discretisation ``expm([[A, B], [0, 0]] dt) = [[Phi, Gamma], [0, I]]`` of
    the thermal systems and ``expm(A dt)`` of the drug systems, batched over the leading axes.

    A shared cohort ``family`` serves every part whose matrices it covers (checked); otherwise,
    with ``interpolate``, a large batch whose matrices form a family of at most two parameters
    (distinct body sizes) is interpolated to round-off over that family
    (:mod:`hipec.model._parametric`, checked against exact exponentials); otherwise, and whenever
    a check fails, every exponential is taken exactly."""
    n, size = a_thermal.shape[0], a_thermal.shape[1]
    scale = _INPUT_SCALE
    thermal = None if family is None else family.thermal(a_thermal, b_thermal, dt_s)
    if thermal is None and interpolate and n >= _parametric.MIN_GROUPS:
        fitted = _ThermalFamily.fit(a_thermal, b_thermal, dt_s)
        if fitted is not None:
            thermal = fitted[0].combine(fitted[1], b_thermal[:, fitted[0].varying_rows])
    drug = np.empty(a_drug.shape)
    exact_drugs = []
    for index in range(a_drug.shape[1]):
        maps = None if family is None else family.drug(index, a_drug[:, index], dt_s)
        if maps is None and interpolate:
            fitted_drug = _parametric.family_expm(
                a_drug[:, index] * dt_s, lambda stack: stack, a_drug.shape[2]
            )
            if fitted_drug is not None:
                maps = _combine(*fitted_drug)
        if maps is None:
            exact_drugs.append(index)
        else:
            drug[:, index] = maps
    chunk_size = min(n, _EXPM_CHUNK)
    # one augmented buffer reused chunk by chunk (its last rows stay zero): no batch-sized
    # temporaries
    augmented = np.zeros((chunk_size, size + N_THERMAL_INPUTS, size + N_THERMAL_INPUTS))
    exact_thermal = thermal is None
    if thermal is None:
        thermal = np.empty((n, size, size + N_THERMAL_INPUTS))
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        if exact_thermal:
            work = augmented[: stop - start]
            np.multiply(a_thermal[start:stop], dt_s, out=work[:, :size, :size])
            np.multiply(b_thermal[start:stop], dt_s * scale, out=work[:, :size, size:])
            exponential = scipy.linalg.expm(work)
            thermal[start:stop, :, :size] = exponential[:, :size, :size]
            np.divide(exponential[:, :size, size:], scale, out=thermal[start:stop, :, size:])
        if exact_drugs:
            drug[start:stop, exact_drugs] = scipy.linalg.expm(
                a_drug[start:stop, exact_drugs] * dt_s
            )
    return thermal, drug


def _combine(weights: FloatArray, grid: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """``weights @ grid`` over the grid axis: ``(g, p) x (p, ...) -> (g, ...)``, written into
    ``out`` when given (straight into it when it is contiguous: no batch-sized temporary)."""
    flat_grid = grid.reshape(grid.shape[0], -1)
    if out is None:
        return (weights @ flat_grid).reshape(weights.shape[0], *grid.shape[1:])
    if out.flags.c_contiguous:
        np.matmul(weights, flat_grid, out=out.reshape(weights.shape[0], -1))
    else:
        out[...] = (weights @ flat_grid).reshape(out.shape)
    return out


@dataclass(frozen=True)
class _ThermalFamily:
    """``[Phi | Gamma]`` of thermal systems interpolated over their affine family.

    Input rows that differ between patients (metabolic heat, body losses) get a unit input column
    each, so that the exponentiated matrices differ in ``A`` only; since ``Gamma = Psi B`` with
    ``Psi = int_0^dt expm(A s) ds``, ``Gamma = Psi B_shared + (Psi e_r) B[r]`` is exact.

    ``maps`` are the grid propagators in the final layout ``[Phi | Gamma_shared]`` ``(p, n, n +
    3)``, ``unit_maps`` the grid's ``Psi e_r`` ``(p, n, rows)`` for the ``varying_rows`` of ``B``.
    """

    dt_s: float
    shared_input: FloatArray
    varying_rows: NDArray[np.intp]
    family: _parametric.Family
    maps: FloatArray
    unit_maps: FloatArray

    @classmethod
    def fit(
        cls, a_thermal: FloatArray, b_thermal: FloatArray, dt_s: float
    ) -> tuple[_ThermalFamily, FloatArray] | None:
        """The family of these systems and their grid weights ``(g, p)`` (:meth:`combine` gives
        their propagators), or ``None`` (see :func:`hipec.model._parametric.fit_family`)."""
        return cls.fit_of(lambda rows: a_thermal[rows], a_thermal.shape[0], b_thermal, dt_s)

    @classmethod
    def fit_of(
        cls,
        a_thermal_of: Callable[[_parametric.Rows], FloatArray],
        groups: int,
        b_thermal: FloatArray,
        dt_s: float,
        exponentials: _parametric.Exponentials | None = None,
    ) -> tuple[_ThermalFamily, FloatArray] | None:
        """:meth:`fit` of ``groups`` systems whose ``A`` for any rows comes from ``a_thermal_of``
        (visited in chunks: see :func:`hipec.model._parametric.fit_family_of`). The input rows
        that vary are those varying in ``b_thermal`` (every system, or a sample when only the
        family is wanted: :meth:`apply` checks the others of every batch it serves); the
        weights may be combined only with the ``b_thermal`` of every system. ``exponentials``
        computes the grid's exponentials (default ``scipy.linalg.expm``)."""
        size = b_thermal.shape[1]
        scale = _INPUT_SCALE
        varying_rows = cls.varying_input_rows(b_thermal)
        shared = b_thermal[0].copy()
        shared[varying_rows] = 0.0
        width = size + N_THERMAL_INPUTS + varying_rows.size
        unit_columns = size + N_THERMAL_INPUTS + np.arange(varying_rows.size)

        def augment(stack: FloatArray) -> FloatArray:
            matrices = np.zeros((stack.shape[0], width, width))
            matrices[:, :size, :size] = stack
            matrices[:, :size, size : size + N_THERMAL_INPUTS] = shared * (dt_s * scale)
            matrices[:, varying_rows, unit_columns] = dt_s * scale
            return matrices

        fitted = _parametric.fit_family_of(
            lambda rows: a_thermal_of(rows) * dt_s, groups, augment, size, exponentials
        )
        if fitted is None:
            return None
        family, weights = fitted
        grid = family.exponentials
        maps = np.empty((grid.shape[0], size, size + N_THERMAL_INPUTS))
        maps[:, :, :size] = grid[:, :, :size]
        np.divide(grid[:, :, size : size + N_THERMAL_INPUTS], scale, out=maps[:, :, size:])
        unit_maps = grid[:, :, size + N_THERMAL_INPUTS :] / scale
        # the grid is kept in the final layout only (maps, unit maps): half the memory
        family = dataclasses.replace(family, exponentials=np.empty((grid.shape[0], 0, 0)))
        return cls(dt_s, shared, varying_rows, family, maps, unit_maps), weights

    def apply(self, a_thermal: FloatArray, b_thermal: FloatArray, dt_s: float) -> FloatArray | None:
        """``[Phi | Gamma]`` of systems in this family (same step, same shared input rows, ``A``
        in the family and inside its grid's box), else ``None``."""
        if dt_s != self.dt_s or b_thermal.shape[1:] != self.shared_input.shape:
            return None
        fixed = np.ones(b_thermal.shape[1], dtype=bool)
        fixed[self.varying_rows] = False
        difference = np.abs(b_thermal[:, fixed] - self.shared_input[fixed]).max(initial=0.0)
        if not difference <= _parametric.FIT_TOLERANCE * np.abs(self.shared_input).max():
            return None
        weights = self.family.weights(a_thermal, dt_s)
        if weights is None:
            return None
        return self.combine(weights, b_thermal[:, self.varying_rows])

    @staticmethod
    def varying_input_rows(b_thermal: FloatArray) -> NDArray[np.intp]:
        """Rows of ``B`` ``(g, n, 3)`` that differ between the systems (none of no systems)."""
        if b_thermal.shape[0] == 0:
            return np.zeros(0, dtype=np.intp)
        return np.flatnonzero(np.ptp(b_thermal, axis=0).any(axis=1))

    def combine(self, weights: FloatArray, varying_inputs: FloatArray) -> FloatArray:
        """``[Phi | Gamma]`` ``(g, n, n + 3)`` from grid weights ``(g, p)`` and the systems'
        :attr:`varying_rows` of ``B`` ``(g, rows, 3)``."""
        n = weights.shape[0]
        thermal = np.empty((n, *self.maps.shape[1:]))
        np.matmul(weights, self.maps.reshape(self.maps.shape[0], -1), out=thermal.reshape(n, -1))
        size = self.maps.shape[1]
        thermal[:, :, size:] += _combine(weights, self.unit_maps) @ varying_inputs
        return thermal


#: A patient's systems in a configuration: signatures of the model's structure and of the
#: patient's inputs (:attr:`TwinModel.input_signatures`), reservoir and abdominal volume [L],
#: inflow and outflow [L/s].
_SystemKey = tuple[object, ...]


@dataclass(frozen=True)
class _Visited:
    """Interpolation weights of the systems a family was built from, by :data:`_SystemKey`.

    ``part`` is ``-1`` for the thermal grid (``thermal``, with ``inputs``: the ``B`` rows that
    vary, ``(g, rows, 3)``), else the drug index (``drug``); ``weights`` ``(g, p)`` on that grid.
    ``rows`` maps a key to its row; only systems whose every entry was checked against the family
    are in it."""

    part: int
    dt_s: float
    rows: dict[_SystemKey, int]
    weights: FloatArray
    thermal: _ThermalFamily | None = None
    inputs: FloatArray | None = None
    drug: _parametric.Family | None = None

    def rows_of(self, keys: list[_SystemKey], dt_s: float) -> NDArray[np.intp] | None:
        """The rows of these systems, or ``None`` when one of them was not visited."""
        if dt_s != self.dt_s:
            return None
        found = [self.rows.get(key) for key in keys]
        if any(row is None for row in found):
            return None
        return np.array(found, dtype=np.intp)


class PropagatorFamily:
    """Propagators of a whole cohort's affine parameter family, shared by twins of parts of it.

    A cohort of distinct body sizes is best stepped as cache-sized twins (a few dozen patients:
    their propagators stay in cache between steps), but each such twin is too small to pay for
    interpolating its own propagators. Built once from all patients' systems (:meth:`add`,
    :meth:`for_twin`), this object holds the interpolation grids of the whole cohort (one per
    configuration: step, flows and volumes); a twin created with ``propagators=`` this object
    interpolates its propagators from them, with no exponential per patient.

    Every check of :mod:`hipec.model._parametric` still applies: a grid is built only when the
    cohort's affine fit, the grid's convergence and the comparison with exact exponentials pass,
    and a twin uses it only if its own matrices fit the same family to the same tolerance and lie
    inside the grid's parameter box. Anything else (other flows, volumes or drugs) takes exact
    exponentials as before. :attr:`served` and :attr:`declined` count the parts (thermal, each
    drug) handed out from a grid and refused.

    :meth:`for_twin` visits every patient's systems and checks each against the fitted family
    anyway, so it keeps their grid weights (:meth:`visited`): a twin of some of those patients
    (same inputs, structure, volumes, flows and step: the same systems, as for patients sharing
    a :attr:`TwinModel.patient_class` within one twin) then takes its propagators from them
    without building its systems or checking them again -- the same weights to round-off, at a
    fraction of the cost. A twin with anything else takes the checked path above.

    Building the grids is serial work before any twin can step, so it can be shared out: the
    thermal and the drug grids can be built apart (``thermal=`` / ``drugs=`` of :meth:`for_twin`,
    e.g. in two processes, then joined with :meth:`extend`), and the grid exponentials can be
    computed by the caller (``exponentials=``, e.g. a stack split over processes). Either gives
    the same grids as one serial build (to round-off at most).
    """

    def __init__(self) -> None:
        self._thermal: list[_ThermalFamily] = []
        self._drug: list[tuple[int, float, _parametric.Family]] = []
        self._visited: list[tuple[tuple[object, ...], _Visited]] = []
        self.served = 0
        self.declined = 0

    def add(
        self, a_thermal: FloatArray, b_thermal: FloatArray, a_drug: FloatArray, dt_s: float
    ) -> bool:
        """Build the grids of one configuration from every patient's systems (``a_thermal``
        ``(g, n, n)``, ``b_thermal`` ``(g, n, 3)``, ``a_drug`` ``(g, drugs, m, m)``) for steps of
        ``dt_s`` [s]; ``True`` when every part (thermal, each drug) got one."""
        fitted = self._add(
            lambda rows: a_thermal[rows],
            b_thermal,
            lambda rows: a_drug[rows],
            (a_thermal.shape[0], *a_drug.shape[1:3]),
            dt_s,
        )
        return all(part is not None for part in fitted)

    def _add(
        self,
        a_thermal_of: Callable[[_parametric.Rows], FloatArray],
        b_thermal: FloatArray,
        a_drug_of: Callable[[_parametric.Rows], FloatArray],
        shape: tuple[int, ...],
        dt_s: float,
        exponentials: _parametric.Exponentials | None = None,
        *,
        thermal: bool = True,
        drugs: bool = True,
    ) -> list[_Visited | None]:
        """:meth:`add` with the ``A`` matrices of any rows from ``a_thermal_of`` and
        ``a_drug_of`` (visited in chunks) and the thermal ``B`` of a sample of the rows;
        ``shape`` is ``(patients, drugs, m)``; only the parts asked for (``thermal``,
        ``drugs``). Returns every part asked for with its grid and the weights of all rows
        (``rows`` left empty), or ``None`` when it got no grid."""
        built: list[_Visited | None] = []
        groups, drug_count, size = shape
        if thermal:
            fitted = _ThermalFamily.fit_of(a_thermal_of, groups, b_thermal, dt_s, exponentials)
            if fitted is not None:
                self._thermal.append(fitted[0])
                built.append(_Visited(-1, dt_s, {}, fitted[1], thermal=fitted[0]))
            else:
                built.append(None)
        for index in range(drug_count if drugs else 0):

            def drug_matrices(rows: _parametric.Rows, index: int = index) -> FloatArray:
                return a_drug_of(rows)[:, index] * dt_s

            drug = _parametric.fit_family_of(
                drug_matrices,
                groups,
                lambda stack: stack,
                size,
                exponentials,
            )
            if drug is not None:
                self._drug.append((index, dt_s, drug[0]))
                built.append(_Visited(index, dt_s, {}, drug[1], drug=drug[0]))
            else:
                built.append(None)
        return built

    @classmethod
    def for_twin(
        cls,
        twin: Twin,
        commands: Commands,
        dt_s: float,
        *,
        thermal: bool = True,
        drugs: bool = True,
        exponentials: _parametric.Exponentials | None = None,
    ) -> PropagatorFamily:
        """The family of ``twin``'s patients (typically a whole cohort, never stepped) at their
        current volumes under ``commands`` held for steps of ``dt_s`` [s]: the configuration
        twins of parts of that cohort meet after the same events and commands.

        Patients with identical inputs at identical volumes count once (a cohort of a few dozen
        distinct body sizes is cheaper exactly, and gets no grid); the systems are built a chunk
        of patients at a time (a cohort's matrices are never all held). ``thermal`` and
        ``drugs`` choose the parts built (a part left out is declined until :meth:`extend` adds
        it); ``exponentials`` computes the grid exponentials (default ``scipy.linalg.expm``: see
        :data:`hipec.model._parametric.Exponentials`)."""
        model = twin.model
        resolved = _CommandResolver(model).resolve(commands, dt_s, twin)
        net_inflow = resolved.inflow_l_s - resolved.outflow_l_s
        system = (
            twin.reservoir_volume_l - dt_s * net_inflow,
            twin.abdominal_volume_l + dt_s * net_inflow,
            resolved.inflow_l_s,
            resolved.outflow_l_s,
        )
        classes = model.patient_class
        if classes.size != model.n_patients:
            classes = np.arange(model.n_patients)
        table = np.stack([classes.astype(np.float64), *system], axis=1)
        patients = np.unique(table, axis=0, return_index=True)[1].astype(np.int64)
        patients.sort()

        def part(rows: _parametric.Rows) -> tuple[TwinModel, list[FloatArray]]:
            index = patients[rows]
            return model.subset(index), [np.asarray(column)[index] for column in system]

        size = model.thermal_layout.size
        inputs = np.zeros((0, size, N_THERMAL_INPUTS))
        if thermal:
            # the input rows that vary, from a sample spread over the cohort (twins check the
            # rest)
            sample = np.linspace(0, patients.size - 1, _INPUT_SAMPLE).astype(np.int64)
            sub, arguments = part(np.unique(sample))
            inputs = sub.thermal_system(*arguments)[1]
        varying_rows = _ThermalFamily.varying_input_rows(inputs)
        fixed_rows = np.setdiff1d(np.arange(size), varying_rows)
        shared_inputs = inputs[:1, fixed_rows]
        # every patient's varying input rows, and whether its other rows are the shared ones to
        # the tolerance :meth:`_ThermalFamily.apply` checks a twin's to: seen while the family
        # is fitted
        patient_inputs = np.zeros((patients.size, varying_rows.size, N_THERMAL_INPUTS))
        inputs_checked = np.zeros(patients.size, dtype=bool)
        tolerance = _parametric.FIT_TOLERANCE * np.abs(shared_inputs).max(initial=0.0)

        def a_thermal_of(rows: _parametric.Rows) -> FloatArray:
            sub, arguments = part(rows)
            a_thermal, b_thermal = sub.thermal_system(*arguments)
            patient_inputs[rows] = b_thermal[:, varying_rows]
            difference = np.abs(b_thermal[:, fixed_rows] - shared_inputs)
            inputs_checked[rows] = (
                difference.reshape(difference.shape[0], -1).max(axis=1, initial=0.0) <= tolerance
            )
            return a_thermal

        def a_drug_of(rows: _parametric.Rows) -> FloatArray:
            sub, arguments = part(rows)
            return sub.drug_system(*arguments)

        family = cls()
        shape = (patients.size, len(model.drugs), model.drug_layout.size)
        built = family._add(
            a_thermal_of,
            inputs,
            a_drug_of,
            shape,
            dt_s,
            exponentials,
            thermal=thermal,
            drugs=drugs,
        )
        if model.input_signatures:
            columns = [np.asarray(column)[patients].tolist() for column in system]
            keys = [
                (model.input_signatures[patient], *values)
                for patient, *values in zip(patients.tolist(), *columns, strict=True)
            ]
            for fitted in built:
                if fitted is None:
                    continue
                thermal_part = fitted.part < 0
                checked = inputs_checked if thermal_part else np.ones(patients.size, dtype=bool)
                rows = {key: row for row, key in enumerate(keys) if checked[row]}
                visited = dataclasses.replace(
                    fitted, rows=rows, inputs=patient_inputs if thermal_part else None
                )
                family._visited.append((model.structure_signature, visited))
        return family

    def extend(self, other: PropagatorFamily) -> None:
        """Take over the grids of ``other`` (e.g. the drug grids of the same cohort built in
        another process): twins served by this family then find them too."""
        self._thermal.extend(other._thermal)
        self._drug.extend(other._drug)
        self._visited.extend(other._visited)

    @property
    def grids(self) -> int:
        """Interpolation grids held (thermal and drug)."""
        return len(self._thermal) + len(self._drug)

    def visited(
        self, model: TwinModel, columns: Sequence[FloatArray], dt_s: float
    ) -> tuple[FloatArray, FloatArray] | None:
        """``[Phi | Gamma]`` and ``Phi_drug`` of ``model``'s patients at the volumes and flows
        ``columns`` (reservoir, abdomen [L], inflow, outflow [L/s]) for steps of ``dt_s`` [s]
        when :meth:`for_twin` visited every one of those systems for every part (see the class
        docstring), else ``None`` (nothing counted: the caller takes the checked path)."""
        if not self._visited or len(model.input_signatures) != model.n_patients:
            return None
        structure = model.structure_signature
        values = [np.asarray(column).tolist() for column in columns]
        keys: list[_SystemKey] = [
            (signature, *config)
            for signature, *config in zip(model.input_signatures, *values, strict=True)
        ]
        parts = {-1, *range(len(model.drugs))}
        found: dict[int, tuple[_Visited, NDArray[np.intp]]] = {}
        for known_structure, record in self._visited:
            if record.part not in parts or record.part in found or known_structure != structure:
                continue
            rows = record.rows_of(keys, dt_s)
            if rows is not None:
                found[record.part] = (record, rows)
        if len(found) != len(parts):
            return None
        visit, rows = found[-1]
        if visit.thermal is None or visit.inputs is None:
            return None
        size = model.drug_layout.size
        drug = np.empty((rows.size, len(model.drugs), size, size))
        for index in range(len(model.drugs)):
            drug_visit, drug_rows = found[index]
            if drug_visit.drug is None:
                return None
            _combine(drug_visit.weights[drug_rows], drug_visit.drug.exponentials, drug[:, index])
        thermal = visit.thermal.combine(visit.weights[rows], visit.inputs[rows])
        self.served += len(parts)
        return thermal, drug

    def thermal(
        self, a_thermal: FloatArray, b_thermal: FloatArray, dt_s: float
    ) -> FloatArray | None:
        """``[Phi | Gamma]`` of these thermal systems from a grid that covers them, or ``None``."""
        for family in self._thermal:
            maps = family.apply(a_thermal, b_thermal, dt_s)
            if maps is not None:
                self.served += 1
                return maps
        self.declined += 1
        return None

    def drug(self, index: int, a_drug: FloatArray, dt_s: float) -> FloatArray | None:
        """``Phi_drug`` of drug ``index``'s systems ``(g, m, m)`` from a grid that covers them,
        or ``None``."""
        for drug_index, step_s, family in self._drug:
            if drug_index != index or step_s != dt_s:
                continue
            weights = family.weights(a_drug, dt_s)
            if weights is not None:
                self.served += 1
                return _combine(weights, family.exponentials)
        self.declined += 1
        return None


def fluid_volumes_l(
    model: TwinModel, reservoir_volume_l: FloatArray, abdominal_volume_l: FloatArray
) -> FloatArray:
    """Volume of every fluid state [L] in layout order, shape ``(..., patients, n_fluid)``.

    ``reservoir_volume_l`` and ``abdominal_volume_l`` have shape ``(..., patients)`` (a leading time
    axis is allowed).
    """
    circuit = model.circuit
    cells = circuit.n_tube_cells
    shape = np.broadcast_shapes(reservoir_volume_l.shape, abdominal_volume_l.shape)
    fixed = np.concatenate(
        [
            circuit.exchanger_volume_l[:, None],
            np.repeat((circuit.inflow_tube_volume_l / cells)[:, None], cells, axis=1),
            np.repeat((circuit.outflow_tube_volume_l / cells)[:, None], cells, axis=1),
        ],
        axis=1,
    )
    return np.concatenate(
        [
            np.broadcast_to(reservoir_volume_l, shape)[..., None],
            np.broadcast_to(fixed, (*shape, fixed.shape[-1])),
            np.broadcast_to(abdominal_volume_l, shape)[..., None] * VOLUME_SHARE,
        ],
        axis=-1,
    )


@dataclass(slots=True)
class _ResolvedCommands:
    """Commands as per-patient arrays in internal units, limited to what the plant can do.

    ``unbalanced`` is ``True`` when any patient's inflow and outflow differ (volumes move).
    Treat as read-only.
    """

    heater_power_w: FloatArray
    cooling_w: FloatArray
    inflow_l_s: FloatArray
    outflow_l_s: FloatArray
    unbalanced: bool = False
    flow_key: bytes = b""

    @staticmethod
    def zeros(n: int) -> _ResolvedCommands:
        zero = np.zeros(n)
        return _ResolvedCommands(zero, zero, zero, zero, False, _flow_key(zero, zero))

    @staticmethod
    def resolve(commands: Commands, model: TwinModel, dt_s: float, twin: Twin) -> _ResolvedCommands:
        """Resolve without caching (kept for callers of the earlier API)."""
        return _CommandResolver(model).resolve(commands, dt_s, twin)

    def inputs(self) -> FloatArray:
        """Thermal input vector per patient, shape ``(patients, 3)``."""
        columns = np.zeros((self.heater_power_w.size, N_THERMAL_INPUTS))
        columns[:, INPUT_HEATER] = self.heater_power_w
        columns[:, INPUT_COOLING] = self.cooling_w
        columns[:, INPUT_ONE] = 1.0
        return columns

    def cache_key(self, dt_s: float, reservoir_l: FloatArray, abdomen_l: FloatArray) -> bytes:
        """Bytes identifying the propagators these flows need at these volumes and step."""
        return b"".join((struct.pack("d", dt_s), reservoir_l.tobytes(), abdomen_l.tobytes(),
                         self.flow_key))  # fmt: skip


#: Reductions without the ``ndarray.min`` / ``max`` wrappers (run every step).
_min_of = np.minimum.reduce
_max_of = np.maximum.reduce


def _flow_key(inflow_l_s: FloatArray, outflow_l_s: FloatArray) -> bytes:
    return inflow_l_s.tobytes() + outflow_l_s.tobytes()


class _CommandResolver:
    """Checks and broadcasts commands, reusing the previous result for values that did not
    change (controllers send new heater powers every step, pump flows rarely)."""

    def __init__(self, model: TwinModel) -> None:
        self.model = model
        self.n = model.n_patients
        self._shape = (self.n,)
        self._heater_max = model.circuit.heater_max_power_w
        self._heater_max_scalar = float(self._heater_max.min())
        self._uniform_heater_max = bool(np.all(self._heater_max == self._heater_max_scalar))
        self._flows: tuple[object, object, object] | None = None
        self._cooling: tuple[object, FloatArray] | None = None
        self._inflow = np.zeros(self.n)
        self._outflow = np.zeros(self.n)
        self._flow_key = b""

    def _array(self, name: str, value: float | FloatArray) -> FloatArray:
        if isinstance(value, float | int) and not isinstance(value, bool):
            if 0.0 <= value < math.inf:
                return np.full(self.n, float(value))
        else:
            values = np.asarray(value, dtype=np.float64)
            if values.shape != (self.n,):
                if values.size not in (1, self.n):
                    raise InvalidInputError(
                        name, f"must be one value or {self.n} values, got {values.size}"
                    )
                values = np.broadcast_to(values.reshape(-1), (self.n,))
            # one pass each; NaN fails the first comparison
            if values.min() >= 0.0 and values.max() < math.inf:
                return values
        raise InvalidInputError(name, f"must be finite and >= 0, got {value!r}")

    def resolve(self, commands: Commands, dt_s: float, twin: Twin) -> _ResolvedCommands:
        power = commands.heater_power_w
        if isinstance(power, float | int) and 0.0 <= power < math.inf:
            limited = min(float(power), self._heater_max_scalar)
            # a fresh array every step (callers may keep last_commands); one value is cheapest
            # built from a tuple
            heater = np.array((limited,)) if self.n == 1 else np.full(self.n, limited)
            if not self._uniform_heater_max:
                heater = np.minimum(np.full(self.n, float(power)), self._heater_max)
        elif type(power) is np.ndarray and power.shape == self._shape and power.dtype == np.float64:
            # a controller's per-patient powers, every step: the checks of :meth:`_array` as two
            # bare reductions (NaN fails the first comparison)
            if not (_min_of(power) >= 0.0 and _max_of(power) < math.inf):
                raise InvalidInputError("heater_power_w", f"must be finite and >= 0, got {power!r}")
            heater = np.minimum(power, self._heater_max)
        else:
            heater = np.minimum(self._array("heater_power_w", power), self._heater_max)
        cooling_value = commands.cooling_w
        cached_cooling = self._cooling
        if cached_cooling is not None and cached_cooling[0] is cooling_value:
            cooling = cached_cooling[1]  # the same number as before (arrays are never reused)
        else:
            cooling = self._array("cooling_w", cooling_value)
            if isinstance(cooling_value, float | int):
                self._cooling = (cooling_value, cooling)
        raw = (commands.inflow_l_min, commands.outflow_l_min, dt_s)
        cached = self._flows
        if (
            cached is None
            or cached[0] is not raw[0]
            or cached[1] is not raw[1]
            or cached[2] != dt_s
            or not (isinstance(raw[0], float | int) and raw[1] is None)
        ):
            self._set_flows(commands, dt_s, twin)
            self._flows = raw
        inflow, outflow = self._inflow, self._outflow
        return _ResolvedCommands(heater, cooling, inflow, outflow, self._unbalanced, self._flow_key)

    def _set_flows(self, commands: Commands, dt_s: float, twin: Twin) -> None:
        model = self.model
        inflow = self._array("inflow_l_min", commands.inflow_l_min) / 60.0
        if commands.outflow_l_min is None:
            outflow = inflow  # balanced pumps move no volume, so no limit applies
        else:
            outflow = self._array("outflow_l_min", commands.outflow_l_min) / 60.0
            # pumps cannot draw fluid that is not there: keep the reservoir and abdomen above
            # their minimum
            reservoir_spare = np.maximum(
                twin.reservoir_volume_l - model.circuit.reservoir_min_volume_l, 0.0
            )
            abdomen_spare = np.maximum(
                twin.abdominal_volume_l - model.cavity.residual_volume_l, 0.0
            )
            inflow = np.minimum(inflow, outflow + reservoir_spare / dt_s)
            outflow = np.minimum(outflow, inflow + abdomen_spare / dt_s)
        self._inflow, self._outflow = inflow, outflow
        self._unbalanced = bool(np.any(inflow != outflow))
        self._flow_key = _flow_key(inflow, outflow)
