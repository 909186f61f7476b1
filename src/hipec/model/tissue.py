"""Tissue submodel: under each region a 1-D wall (0-10 mm) for heat and drug.

Grid: ``n`` cells whose thickness grows geometrically from ``dx_0`` at the peritoneal surface to the
wall depth ``L`` (fine where the drug gradient is steep), cell centres ``z_k``.

Heat (Pennes 1948): ``rho c dT/dt = k d2T/dz2 + w rho_b c_b (T_core - T)`` with

- surface: ``q = (T_region - T_0) / (1/h + dx_0 / (2k))`` per m2 (fluid film in series with half a
  cell);
- depth ``L``: the wall joins the body core (``T = T_core`` beyond ``L``);
- blood perfusion ``w`` [1/s] brings arterial blood at core temperature and returns it at tissue
  temperature, so the heat it carries lands in the core compartment (energy is conserved).

Drug: total amount per cell ``M_k``, free concentration ``c_k = M_k / (R V_k)`` (linear binding,
``R = 1 + bound/free``):

- diffusion of free drug, ``D`` [m2/s], between cells and from the perfusate of the region
  (concentration ``C_region``) into the first cell;
- capillary exchange with plasma: ``k_cap V_k (c_k - C_plasma)`` [mg/s] -- the drug that crossed the
  peritoneum reaches the blood here;
- irreversible elimination ``k_el M_k`` into the tissue-elimination ledger;
- no flux at depth ``L``.

The Dedrick membrane route (:mod:`hipec.model.pharmacokinetics`) runs in parallel; its PA is
calibrated
with the wall in place, so the two together reproduce the published absorption.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hipec.errors import InvalidInputError
from hipec.model._arrays import stack
from hipec.model.parameters.abdomen import REGION_SURFACE_SHARE
from hipec.model.parameters.base import ParameterSet
from hipec.model.state import (
    N_REGIONS,
    DrugLayout,
    FloatArray,
    LinearSystemBuilder,
    ThermalLayout,
)

SURFACE_SHARE: FloatArray = np.array(REGION_SURFACE_SHARE)


@dataclass(frozen=True)
class WallGrid:
    """Cell thicknesses and centre depths of the wall grid [m], shape ``(n,)`` each."""

    thickness_m: FloatArray
    centre_m: FloatArray

    @property
    def n(self) -> int:
        return int(self.thickness_m.size)

    @property
    def depth_m(self) -> float:
        return float(self.thickness_m.sum())


def wall_grid(depth_m: float, first_cell_m: float, n_cells: int) -> WallGrid:
    """Geometric grid of ``n_cells`` cells over ``depth_m``, the first ``first_cell_m`` thick.

    Raises
    ------
    InvalidInputError
        If the numbers cannot make such a grid.
    """
    if n_cells < 2 or not 0.0 < first_cell_m * n_cells <= depth_m:
        raise InvalidInputError(
            "Wall cells [-]",
            f"need at least 2 cells and first cell x cells <= depth, got {n_cells} cells of "
            f"first {first_cell_m:g} m over {depth_m:g} m",
        )
    low, high = 1.0, 10.0
    for _ in range(200):  # bisection on the growth ratio: sum of the geometric series = depth
        ratio = 0.5 * (low + high)
        total = first_cell_m * (ratio**n_cells - 1.0) / (ratio - 1.0) if ratio > 1.0 else 0.0
        if total > depth_m:
            high = ratio
        else:
            low = ratio
    thickness: FloatArray = first_cell_m * ratio ** np.arange(n_cells, dtype=np.float64)
    thickness = thickness * (depth_m / thickness.sum())
    centre: FloatArray = np.cumsum(thickness) - 0.5 * thickness
    return WallGrid(thickness, centre)


@dataclass(frozen=True)
class WallThermalCoefficients:
    """Per-patient wall heat coefficients, arrays of shape ``(patients,)``."""

    volumetric_heat_capacity_j_per_m3_k: FloatArray
    conductivity_w_per_m_k: FloatArray
    perfusion_heat_w_per_m3_k: FloatArray
    surface_transfer_w_per_m2_k: FloatArray


def wall_thermal_coefficients(sets: Sequence[ParameterSet]) -> WallThermalCoefficients:
    """Collect wall heat coefficients for a batch of patient parameter sets."""
    return WallThermalCoefficients(
        volumetric_heat_capacity_j_per_m3_k=stack(sets, "Tissue density [kg/m3]")
        * stack(sets, "Tissue specific heat capacity [J/(kg.K)]"),
        conductivity_w_per_m_k=stack(sets, "Tissue thermal conductivity [W/(m.K)]"),
        perfusion_heat_w_per_m3_k=stack(sets, "Tissue blood perfusion rate [1/s]")
        * stack(sets, "Blood volumetric heat capacity [J/(m3.K)]"),
        surface_transfer_w_per_m2_k=stack(
            sets, "Fluid-to-wall heat transfer coefficient [W/(m2.K)]"
        ),
    )


def wall_heat_capacity_j_per_k(
    grid: WallGrid, coefficients: WallThermalCoefficients, contact_area_m2: FloatArray
) -> FloatArray:
    """Heat capacity of every wall cell [J/K], shape ``(patients, 13, n)``."""
    area = contact_area_m2[:, None] * SURFACE_SHARE[None, :]
    return np.asarray(
        coefficients.volumetric_heat_capacity_j_per_m3_k[:, None, None]
        * area[:, :, None]
        * grid.thickness_m[None, None, :]
    )


def add_wall_heat(
    builder: LinearSystemBuilder,
    layout: ThermalLayout,
    grid: WallGrid,
    coefficients: WallThermalCoefficients,
    contact_area_m2: FloatArray,
    region_heat_capacity_j_per_k: FloatArray,
    core_heat_capacity_j_per_k: FloatArray,
) -> None:
    """Pennes heat transfer in every wall, coupled to its region's fluid and to the body core."""
    capacity = wall_heat_capacity_j_per_k(grid, coefficients, contact_area_m2)
    k = coefficients.conductivity_w_per_m_k
    dx = grid.thickness_m
    for region in range(N_REGIONS):
        area = contact_area_m2 * SURFACE_SHARE[region]
        surface = area / (1.0 / coefficients.surface_transfer_w_per_m2_k + 0.5 * dx[0] / k)
        builder.exchange(
            layout.regions[region],
            layout.wall(region, 0),
            surface,
            region_heat_capacity_j_per_k[:, region],
            capacity[:, region, 0],
        )
        for cell in range(grid.n):
            index = layout.wall(region, cell)
            if cell + 1 < grid.n:
                conductance = k * area / (0.5 * (dx[cell] + dx[cell + 1]))
                builder.exchange(
                    index,
                    layout.wall(region, cell + 1),
                    conductance,
                    capacity[:, region, cell],
                    capacity[:, region, cell + 1],
                )
            perfusion = coefficients.perfusion_heat_w_per_m3_k * area * dx[cell]
            if cell + 1 == grid.n:
                perfusion = perfusion + k * area / (0.5 * dx[cell])  # conduction into the core
            builder.exchange(
                index, layout.core, perfusion, capacity[:, region, cell], core_heat_capacity_j_per_k
            )


@dataclass(frozen=True)
class WallDrugCoefficients:
    """Per-patient, per-drug wall transport coefficients, arrays of shape ``(patients, drugs)``."""

    diffusivity_m2_s: FloatArray
    retardation: FloatArray
    capillary_clearance_1_s: FloatArray
    elimination_1_s: FloatArray


def wall_drug_coefficients(sets: Sequence[Sequence[ParameterSet]]) -> WallDrugCoefficients:
    """Collect wall drug coefficients; ``sets[patient][drug]``."""

    def table(key: str) -> FloatArray:
        return np.array([[s.value(key) for s in row] for row in sets], dtype=np.float64)

    return WallDrugCoefficients(
        diffusivity_m2_s=table("Tissue diffusivity [m2/s]"),
        retardation=1.0 + table("Tissue binding ratio [-]"),
        capillary_clearance_1_s=table("Tissue capillary clearance [1/min]") / 60.0,
        elimination_1_s=table("Tissue elimination rate [1/min]") / 60.0,
    )


def wall_volume_l(grid: WallGrid, contact_area_m2: FloatArray) -> FloatArray:
    """Tissue volume of every wall cell [L], shape ``(patients, 13, n)``."""
    area = contact_area_m2[:, None] * SURFACE_SHARE[None, :]
    return np.asarray(area[:, :, None] * grid.thickness_m[None, None, :] * 1000.0)


def add_wall_drug(
    builder: LinearSystemBuilder,
    layout: DrugLayout,
    grid: WallGrid,
    coefficients: WallDrugCoefficients,
    contact_area_m2: FloatArray,
    region_volume_l: FloatArray,
    plasma_central_volume_l: FloatArray,
) -> None:
    """Diffusion, binding, capillary exchange and elimination of drug in every wall."""
    volume = wall_volume_l(grid, contact_area_m2)  # (patients, 13, n)
    retardation = coefficients.retardation
    dx = grid.thickness_m
    for region in range(N_REGIONS):
        area = builder.per_patient(contact_area_m2 * SURFACE_SHARE[region])
        # diffusive conductance [L/s] = D [m2/s] x area [m2] / distance [m] x 1000 L/m3
        surface = coefficients.diffusivity_m2_s * area / (0.5 * dx[0]) * 1000.0
        cell_volume = [builder.per_patient(volume[:, region, cell]) for cell in range(grid.n)]
        builder.exchange(
            layout.regions[region],
            layout.wall(region, 0),
            surface,
            builder.per_patient(region_volume_l[:, region]),
            retardation * cell_volume[0],
        )
        for cell in range(grid.n):
            index = layout.wall(region, cell)
            if cell + 1 < grid.n:
                conductance = (
                    coefficients.diffusivity_m2_s
                    * area
                    / (0.5 * (dx[cell] + dx[cell + 1]))
                    * 1000.0
                )
                builder.exchange(
                    index,
                    layout.wall(region, cell + 1),
                    conductance,
                    retardation * cell_volume[cell],
                    retardation * cell_volume[cell + 1],
                )
            builder.exchange(
                index,
                layout.plasma_central,
                coefficients.capillary_clearance_1_s * cell_volume[cell],
                retardation * cell_volume[cell],
                plasma_central_volume_l,
            )
            builder.transfer(index, layout.tissue_elimination, coefficients.elimination_1_s)
