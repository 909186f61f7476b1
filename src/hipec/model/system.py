"""Assembly of the twin's linear systems from its submodels.

:class:`TwinModel` holds the structure (layouts, grid, catheter placement, technique) and every
per-patient coefficient, and writes ``dx/dt = A x + B u`` for given volumes and pump flows:

- :meth:`TwinModel.thermal_system` -- circuit, cavity, wall and body heat (state [J]);
- :meth:`TwinModel.drug_system` -- the same fluid path plus wall transport and pharmacokinetics,
  one system per drug (state [mg]).

The coefficients depend on the volumes and flows only, so for piecewise-constant commands the
systems are linear time-invariant between changes (what :mod:`hipec.model.solver` exploits).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from hipec.errors import InvalidInputError
from hipec.model.cavity import (
    VOLUME_SHARE,
    CatheterPlacement,
    CavityCoefficients,
    Technique,
    add_cavity_heat_loss,
    add_cavity_transport,
    cavity_coefficients,
)
from hipec.model.circuit import (
    CircuitCoefficients,
    add_circuit_advection,
    add_circuit_heat,
    circuit_coefficients,
)
from hipec.model.parameters import abdomen as abdomen_parameters
from hipec.model.parameters import circuit as circuit_parameters
from hipec.model.parameters import patient as patient_parameters
from hipec.model.parameters.base import ParameterSet
from hipec.model.parameters.drugs import CALIBRATION_TARGETS, drug_parameters
from hipec.model.patient import (
    BodyCoefficients,
    Patient,
    add_body_heat,
    body_coefficients,
    core_heat_capacity_j_per_k,
)
from hipec.model.pharmacokinetics import (
    DrugCoefficients,
    add_pharmacokinetics,
    drug_coefficients,
)
from hipec.model.state import (
    N_THERMAL_INPUTS,
    DrugLayout,
    FloatArray,
    LinearSystemBuilder,
    ThermalLayout,
)
from hipec.model.tissue import (
    WallDrugCoefficients,
    WallGrid,
    WallThermalCoefficients,
    add_wall_drug,
    add_wall_heat,
    wall_drug_coefficients,
    wall_grid,
    wall_heat_capacity_j_per_k,
    wall_thermal_coefficients,
)

ParameterInput = ParameterSet | Sequence[ParameterSet] | None
_Coefficients = TypeVar("_Coefficients")


def _take_rows(coefficients: _Coefficients, rows: NDArray[np.int64], n: int) -> _Coefficients:
    """A copy of a coefficient dataclass keeping only the patients ``rows`` (arrays whose first
    axis is the patient axis of length ``n``)."""
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(coefficients):  # type: ignore[arg-type]
        value = getattr(coefficients, field.name)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == n:
            changes[field.name] = value[rows]
    return dataclasses.replace(coefficients, **changes)  # type: ignore[type-var]


def _parameter_key(parameter_set: ParameterSet) -> tuple[object, ...]:
    return (parameter_set.name, *sorted((k, v.value) for k, v in parameter_set.values.items()))


def _per_patient(
    value: ParameterInput, default: ParameterSet, n: int, name: str
) -> list[ParameterSet]:
    if value is None:
        return [default] * n
    if isinstance(value, ParameterSet):
        return [value] * n
    sets = list(value)
    if len(sets) != n:
        raise InvalidInputError(
            name, f"must give one parameter set or one per patient ({n}), got {len(sets)}"
        )
    return sets


@dataclass(frozen=True)
class TwinModel:
    """Structure and coefficients of a batch of twins (one per patient)."""

    patients: tuple[Patient, ...]
    drugs: tuple[str, ...]
    technique: Technique
    placement: CatheterPlacement
    grid: WallGrid
    thermal_layout: ThermalLayout
    drug_layout: DrugLayout
    circuit: CircuitCoefficients
    cavity: CavityCoefficients
    body: BodyCoefficients
    wall_heat: WallThermalCoefficients
    wall_drug: WallDrugCoefficients
    pk: DrugCoefficients
    parameter_sets: tuple[ParameterSet, ...]
    #: For every patient the index of the first patient with identical inputs (body, starting
    #: temperature and every parameter value), shape ``(patients,)``: such patients share their
    #: propagators.
    patient_class: NDArray[np.int64] = dataclasses.field(
        default_factory=lambda: np.zeros(0, dtype=np.int64)
    )
    #: For every patient what their systems are built from, as a hashable value (the patient and
    #: every parameter value; empty when unknown): at equal volumes and pump flows, patients with
    #: equal signatures in models of the same technique, placement and drugs have the same
    #: systems, in any twin (what :attr:`patient_class` relies on within one twin).
    input_signatures: tuple[tuple[object, ...], ...] = ()

    @property
    def n_patients(self) -> int:
        return len(self.patients)

    @property
    def structure_signature(self) -> tuple[object, ...]:
        """What the systems depend on besides :attr:`input_signatures`, volumes and flows."""
        return (self.technique, self.placement, self.drugs)

    def subset(self, rows: Sequence[int] | NDArray[np.int64]) -> TwinModel:
        """The same structure restricted to the patients ``rows`` (in that order)."""
        index = np.asarray(rows, dtype=np.int64)
        n = self.n_patients
        return dataclasses.replace(
            self,
            patients=tuple(self.patients[i] for i in index),
            circuit=_take_rows(self.circuit, index, n),
            cavity=_take_rows(self.cavity, index, n),
            body=_take_rows(self.body, index, n),
            wall_heat=_take_rows(self.wall_heat, index, n),
            wall_drug=_take_rows(self.wall_drug, index, n),
            pk=_take_rows(self.pk, index, n),
            patient_class=np.arange(index.size, dtype=np.int64),
            input_signatures=(
                tuple(self.input_signatures[i] for i in index) if self.input_signatures else ()
            ),
        )

    @property
    def fluid_heat_capacity(self) -> FloatArray:
        """Perfusate volumetric heat capacity [J/(L.K)], shape ``(patients,)``."""
        return self.circuit.fluid_heat_capacity_j_per_l_k

    @property
    def wall_capacity_j_per_k(self) -> FloatArray:
        """Wall-cell heat capacities [J/K], shape ``(patients, 13, n)``."""
        return wall_heat_capacity_j_per_k(self.grid, self.wall_heat, self.body.contact_area_m2)

    @property
    def core_capacity_j_per_k(self) -> FloatArray:
        """Core heat capacity [J/K], shape ``(patients,)``."""
        return core_heat_capacity_j_per_k(self.body, self.wall_capacity_j_per_k)

    def citations(self) -> list[str]:
        """Citation keys of every parameter set the twin was built from (first-use order)."""
        keys = ["Pennes1948", "Dedrick1978", "Jacquet1996", "Mosteller1987"]
        for parameter_set in self.parameter_sets:
            keys.extend(parameter_set.citations())
        # calibrated values rely on the studies they were fitted to
        keys.extend(target.source for target in CALIBRATION_TARGETS if target.drug in self.drugs)
        return list(dict.fromkeys(keys))

    def thermal_system(
        self,
        reservoir_volume_l: FloatArray,
        abdominal_volume_l: FloatArray,
        inflow_l_s: FloatArray,
        outflow_l_s: FloatArray,
    ) -> tuple[FloatArray, FloatArray]:
        """``(A, B)`` of the thermal system, shapes ``(patients, n, n)`` and ``(patients, n,
        3)``."""
        layout = self.thermal_layout
        builder = LinearSystemBuilder((self.n_patients,), layout.size, N_THERMAL_INPUTS)
        region_volume = abdominal_volume_l[:, None] * VOLUME_SHARE[None, :]
        region_capacity = self.fluid_heat_capacity[:, None] * region_volume
        self._add_transport(
            builder, layout, reservoir_volume_l, region_volume, inflow_l_s, outflow_l_s
        )
        add_circuit_heat(builder, layout, self.circuit, reservoir_volume_l, self.body.room_c)
        add_cavity_heat_loss(
            builder, layout, self.cavity, self.technique, region_capacity, self.body.room_c
        )
        add_wall_heat(
            builder,
            layout,
            self.grid,
            self.wall_heat,
            self.body.contact_area_m2,
            region_capacity,
            self.core_capacity_j_per_k,
        )
        add_body_heat(builder, layout, self.body, self.core_capacity_j_per_k)
        return builder.A, builder.B

    def drug_system(
        self,
        reservoir_volume_l: FloatArray,
        abdominal_volume_l: FloatArray,
        inflow_l_s: FloatArray,
        outflow_l_s: FloatArray,
    ) -> FloatArray:
        """``A`` of the drug systems, shape ``(patients, drugs, n, n)`` (no continuous inputs)."""
        layout = self.drug_layout
        builder = LinearSystemBuilder((self.n_patients, len(self.drugs)), layout.size)
        region_volume = abdominal_volume_l[:, None] * VOLUME_SHARE[None, :]
        self._add_transport(
            builder, layout, reservoir_volume_l, region_volume, inflow_l_s, outflow_l_s
        )
        add_pharmacokinetics(builder, layout, self.pk, region_volume)
        add_wall_drug(
            builder,
            layout,
            self.grid,
            self.wall_drug,
            self.body.contact_area_m2,
            region_volume,
            self.pk.central_volume_l,
        )
        return builder.A

    def _add_transport(
        self,
        builder: LinearSystemBuilder,
        layout: ThermalLayout | DrugLayout,
        reservoir_volume_l: FloatArray,
        region_volume_l: FloatArray,
        inflow_l_s: FloatArray,
        outflow_l_s: FloatArray,
    ) -> None:
        add_circuit_advection(
            builder,
            layout,
            self.circuit,
            reservoir_volume_l,
            region_volume_l,
            inflow_l_s,
            outflow_l_s,
            self.placement.inflow_weights,
            self.placement.drain_weights,
        )
        add_cavity_transport(
            builder,
            layout,
            self.cavity,
            self.placement,
            self.technique,
            region_volume_l,
            inflow_l_s,
            outflow_l_s,
        )


def build_model(
    patients: Sequence[Patient],
    drugs: Sequence[str] = ("oxaliplatin",),
    technique: Technique = "closed",
    placement: CatheterPlacement | None = None,
    patient_parameters_: ParameterInput = None,
    circuit_parameters_: ParameterInput = None,
    abdomen_parameters_: ParameterInput = None,
    drug_parameters_: dict[str, ParameterInput] | None = None,
) -> TwinModel:
    """Assemble a :class:`TwinModel` for a batch of patients.

    Parameters
    ----------
    patients
        One :class:`~hipec.model.patient.Patient` per twin (at least one).
    drugs
        Drug names (see :data:`hipec.model.parameters.drugs.DRUGS`); at least one.
    technique
        ``"open"`` or ``"closed"``.
    placement
        Catheter placement; default inflow regions 1 and 3, drains 5, 6, 7.
    patient_parameters_, circuit_parameters_, abdomen_parameters_
        One parameter set for all patients, one per patient, or ``None`` for the defaults.
    drug_parameters_
        Optional per-drug override: drug name -> parameter set(s).

    Raises
    ------
    InvalidInputError
        For an empty batch, unknown technique or drug, or mismatched per-patient lists.
    """
    patients = tuple(patients)
    n = len(patients)
    if n == 0:
        raise InvalidInputError("patients", "must hold at least one patient, got none")
    if technique not in ("open", "closed"):
        raise InvalidInputError("technique", f"must be open or closed, got {technique!r}")
    if not drugs:
        raise InvalidInputError("drugs", "must name at least one drug, got none")
    drug_sets = {name: drug_parameters(name) for name in drugs}
    canonical = tuple(parameter_set.name for parameter_set in drug_sets.values())
    if len(set(canonical)) != len(canonical):
        raise InvalidInputError("drugs", f"must not repeat a drug, got {list(drugs)}")
    overrides = drug_parameters_ or {}
    per_drug: list[list[ParameterSet]] = []
    for name, default in zip(drugs, drug_sets.values(), strict=True):
        per_drug.append(_per_patient(overrides.get(name), default, n, f"drug_parameters.{name}"))
    rows = [[per_drug[d][p] for d in range(len(drugs))] for p in range(n)]
    patient_sets = _per_patient(
        patient_parameters_, patient_parameters.get_parameter_values(), n, "patient_parameters"
    )
    circuit_sets = _per_patient(
        circuit_parameters_, circuit_parameters.get_parameter_values(), n, "circuit_parameters"
    )
    abdomen_sets = _per_patient(
        abdomen_parameters_, abdomen_parameters.get_parameter_values(), n, "abdomen_parameters"
    )
    grids = {
        (
            s.value("Wall thickness [m]"),
            s.value("Wall first cell thickness [m]"),
            round(s.value("Wall cells [-]")),
        )
        for s in patient_sets
    }
    if len(grids) != 1:
        raise InvalidInputError(
            "patient_parameters", "wall grid values must be the same for every patient"
        )
    depth, first, cells = grids.pop()
    grid = wall_grid(depth, first, cells)
    circuit = circuit_coefficients(circuit_sets)
    body = body_coefficients(patients, patient_sets)
    signatures: dict[tuple[object, ...], int] = {}
    patient_class = np.empty(n, dtype=np.int64)
    # a cohort usually shares a few parameter-set objects: each one's key is computed once
    # (keyed by identity; every set stays referenced by the lists above meanwhile)
    keys: dict[int, tuple[object, ...]] = {}

    def key(parameter_set: ParameterSet) -> tuple[object, ...]:
        found = keys.get(id(parameter_set))
        if found is None:
            found = keys[id(parameter_set)] = _parameter_key(parameter_set)
        return found

    input_signatures = []
    for index, patient in enumerate(patients):
        signature = (
            patient,
            key(patient_sets[index]),
            key(circuit_sets[index]),
            key(abdomen_sets[index]),
            *(key(s) for s in rows[index]),
        )
        patient_class[index] = signatures.setdefault(signature, index)
        input_signatures.append(signature)
    used: list[ParameterSet] = []
    for parameter_set in [
        *patient_sets,
        *circuit_sets,
        *abdomen_sets,
        *(s for r in rows for s in r),
    ]:
        if not any(parameter_set is seen for seen in used):
            used.append(parameter_set)
    return TwinModel(
        patients=patients,
        drugs=canonical,
        technique=technique,
        placement=placement or CatheterPlacement(),
        grid=grid,
        thermal_layout=ThermalLayout(circuit.n_tube_cells, grid.n),
        drug_layout=DrugLayout(circuit.n_tube_cells, grid.n),
        circuit=circuit,
        cavity=cavity_coefficients(abdomen_sets),
        body=body,
        wall_heat=wall_thermal_coefficients(patient_sets),
        wall_drug=wall_drug_coefficients(rows),
        pk=drug_coefficients(rows, body.body_surface_area_m2),
        parameter_sets=tuple(used),
        patient_class=patient_class,
        input_signatures=tuple(input_signatures),
    )
