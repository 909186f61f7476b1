"""Cavity submodel: the 13 PCI regions as well-mixed compartments joined by a flow network.

Each region ``i`` holds ``V_i = s_i V_abdomen`` of fluid (volume share ``s_i``; levels equalise, so
a
fill or a drain changes every region in proportion), exchanges heat and drug with its wall
(:mod:`hipec.model.tissue`) and with its neighbours.

Flow routing. The pumps deliver ``Q_in`` into the inflow regions (weights ``w_in``) and draw
``Q_out``
from the drained regions (weights ``w_d``). Between these sources and sinks the fluid moves along
the
neighbour graph as a potential flow: with unit conductance on every border, potentials ``phi`` solve
``L phi = q`` where ``L`` is the graph Laplacian and ``q_i = w_in_i Q_in - w_d_i Q_out - s_i (Q_in -
Q_out)`` (the last term fills or empties every region in proportion). The border flow is
``F_ij = phi_i - phi_j`` [L/s] and is carried upwind. Regions off the main path receive warm fluid
only by mixing, so they run cooler and see the drug later.

Mixing. Every border also exchanges ``M = (m_0 + m_1 Q_in) k_open`` both ways [L/s] (eddies and jets
grow with the pump flow; manual stirring of the open abdomen multiplies it by ``k_open``).

Technique. Open: a share of the air interface lies over each region; heat leaves at
``h_air A_air,i (T_i - T_room)`` (convection and evaporation, linearised) and water evaporates at a
fixed rate per m2 (the drug stays, so it concentrates). Closed: the wall loses a little heat to the
room; the abdomen holds pressure ``p = max(0, V - V_0) / compliance`` [mmHg].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from hipec.errors import InvalidInputError
from hipec.model._arrays import stack
from hipec.model.parameters.abdomen import (
    DEFAULT_DRAIN_REGIONS,
    DEFAULT_INFLOW_REGIONS,
    REGION_NAMES,
    REGION_NEIGHBOURS,
    REGION_OPEN_SURFACE_SHARE,
    REGION_VOLUME_SHARE,
)
from hipec.model.parameters.base import ParameterSet
from hipec.model.state import (
    N_REGIONS,
    CircuitSlots,
    FloatArray,
    LinearSystemBuilder,
    ThermalLayout,
)

Technique = Literal["open", "closed"]
TECHNIQUES: tuple[str, ...] = ("open", "closed")


@dataclass(frozen=True)
class CatheterPlacement:
    """Which regions receive the inflow and which are drained (equal share per catheter).

    Parameters
    ----------
    inflow_regions
        PCI region indices (0-12) holding an inflow catheter.
    drain_regions
        PCI region indices (0-12) holding an outflow drain.
    """

    inflow_regions: tuple[int, ...] = DEFAULT_INFLOW_REGIONS
    drain_regions: tuple[int, ...] = DEFAULT_DRAIN_REGIONS

    def __post_init__(self) -> None:
        for field, regions in (
            ("inflow_regions", self.inflow_regions),
            ("drain_regions", self.drain_regions),
        ):
            if not regions:
                raise InvalidInputError(field, "must name at least one PCI region 0-12, got none")
            for region in regions:
                if not isinstance(region, int) or not 0 <= region < N_REGIONS:
                    raise InvalidInputError(field, f"must hold PCI regions 0-12, got {region!r}")
            if len(set(regions)) != len(regions):
                raise InvalidInputError(field, f"must not repeat a region, got {list(regions)}")

    @property
    def inflow_weights(self) -> FloatArray:
        """Share of the inflow delivered to each region, shape ``(13,)``."""
        weights = np.zeros(N_REGIONS)
        weights[list(self.inflow_regions)] = 1.0 / len(self.inflow_regions)
        return weights

    @property
    def drain_weights(self) -> FloatArray:
        """Share of the outflow drawn from each region, shape ``(13,)``."""
        weights = np.zeros(N_REGIONS)
        weights[list(self.drain_regions)] = 1.0 / len(self.drain_regions)
        return weights


@dataclass(frozen=True)
class CavityCoefficients:
    """Per-patient cavity coefficients, arrays of shape ``(patients,)``."""

    mixing_at_rest_l_s: FloatArray
    mixing_per_flow: FloatArray
    open_mixing_multiplier: FloatArray
    open_area_m2: FloatArray
    open_heat_loss_w_per_m2_k: FloatArray
    open_water_loss_l_per_s_m2: FloatArray
    closed_wall_loss_w_per_k: FloatArray
    zero_pressure_volume_l: FloatArray
    compliance_l_per_mmhg: FloatArray
    residual_volume_l: FloatArray


def cavity_coefficients(sets: Sequence[ParameterSet]) -> CavityCoefficients:
    """Collect cavity coefficients (SI-ish: flows in L/s) for a batch of abdomen parameter sets."""
    return CavityCoefficients(
        mixing_at_rest_l_s=stack(sets, "Neighbour mixing flow at rest [L/min]") / 60.0,
        mixing_per_flow=stack(sets, "Neighbour mixing per pump flow [-]"),
        open_mixing_multiplier=stack(sets, "Open technique mixing multiplier [-]"),
        open_area_m2=stack(sets, "Open abdomen air interface area [m2]"),
        open_heat_loss_w_per_m2_k=stack(sets, "Open abdomen heat loss coefficient [W/(m2.K)]"),
        open_water_loss_l_per_s_m2=stack(sets, "Open abdomen water loss [L/(min.m2)]") / 60.0,
        closed_wall_loss_w_per_k=stack(sets, "Closed abdomen wall heat loss conductance [W/K]"),
        zero_pressure_volume_l=stack(sets, "Abdominal volume at zero pressure [L]"),
        compliance_l_per_mmhg=stack(sets, "Abdominal compliance [L/mmHg]"),
        residual_volume_l=stack(sets, "Abdomen residual volume [L]"),
    )


def region_index(name_or_index: int | str) -> int:
    """PCI region index from an index (0-12) or a region name (case-insensitive).

    Raises
    ------
    InvalidInputError
        For anything else.
    """
    if isinstance(name_or_index, int) and 0 <= name_or_index < N_REGIONS:
        return name_or_index
    if isinstance(name_or_index, str):
        lowered = name_or_index.strip().lower()
        for index, name in enumerate(REGION_NAMES):
            if name.lower() == lowered:
                return index
    raise InvalidInputError(
        "region",
        f"must be a PCI region 0-12 or one of {', '.join(REGION_NAMES)}, got {name_or_index!r}",
    )


def _laplacian() -> FloatArray:
    laplacian = np.zeros((N_REGIONS, N_REGIONS))
    for i, j in REGION_NEIGHBOURS:
        laplacian[i, i] += 1.0
        laplacian[j, j] += 1.0
        laplacian[i, j] -= 1.0
        laplacian[j, i] -= 1.0
    return laplacian


_EDGES = np.array(REGION_NEIGHBOURS, dtype=np.int64)
# Pseudo-inverse of the graph Laplacian (the graph is connected, so its null space is the
# constants).
_LAPLACIAN_PINV: FloatArray = np.asarray(np.linalg.pinv(_laplacian()), dtype=np.float64)
VOLUME_SHARE: FloatArray = np.array(REGION_VOLUME_SHARE)
OPEN_SURFACE_SHARE: FloatArray = np.array(REGION_OPEN_SURFACE_SHARE)


def border_flows(
    placement: CatheterPlacement, inflow_l_s: FloatArray, outflow_l_s: FloatArray
) -> FloatArray:
    """Signed flow across every neighbour border [L/s], shape ``(patients, n_borders)``.

    Positive values flow from the first to the second region of the border in
    :data:`~hipec.model.parameters.abdomen.REGION_NEIGHBOURS`.
    """
    q_in = np.asarray(inflow_l_s, dtype=np.float64)[:, None]
    q_out = np.asarray(outflow_l_s, dtype=np.float64)[:, None]
    sources = (
        q_in * placement.inflow_weights
        - q_out * placement.drain_weights
        - VOLUME_SHARE * (q_in - q_out)
    )
    potentials = sources @ _LAPLACIAN_PINV.T
    return np.asarray(potentials[:, _EDGES[:, 0]] - potentials[:, _EDGES[:, 1]])


def add_cavity_transport(
    builder: LinearSystemBuilder,
    slots: CircuitSlots,
    coefficients: CavityCoefficients,
    placement: CatheterPlacement,
    technique: Technique,
    region_volume_l: FloatArray,
    inflow_l_s: FloatArray,
    outflow_l_s: FloatArray,
) -> None:
    """Border flows (upwind) and neighbour mixing between regions (heat or drug alike)."""
    flows = border_flows(placement, inflow_l_s, outflow_l_s)
    multiplier = coefficients.open_mixing_multiplier if technique == "open" else 1.0
    mixing = (
        coefficients.mixing_at_rest_l_s + coefficients.mixing_per_flow * inflow_l_s
    ) * multiplier
    for border, (i, j) in enumerate(REGION_NEIGHBOURS):
        forward = np.maximum(flows[:, border], 0.0)
        backward = np.maximum(-flows[:, border], 0.0)
        volume_i = region_volume_l[:, i]
        volume_j = region_volume_l[:, j]
        a, b = slots.regions[i], slots.regions[j]
        builder.transfer(a, b, builder.per_patient((forward + mixing) / volume_i))
        builder.transfer(b, a, builder.per_patient((backward + mixing) / volume_j))


def add_cavity_heat_loss(
    builder: LinearSystemBuilder,
    layout: ThermalLayout,
    coefficients: CavityCoefficients,
    technique: Technique,
    region_heat_capacity_j_per_k: FloatArray,
    room_c: FloatArray,
) -> None:
    """Heat lost from the regions to the room: open air interface or closed abdominal wall."""
    if technique == "open":
        total = coefficients.open_heat_loss_w_per_m2_k * coefficients.open_area_m2
        shares = OPEN_SURFACE_SHARE
    else:
        total = coefficients.closed_wall_loss_w_per_k
        shares = OPEN_SURFACE_SHARE  # the same anterior regions lie under the closed wall
    for region in range(N_REGIONS):
        if shares[region] > 0.0:
            builder.loss_to_ambient(
                layout.regions[region],
                layout.cavity_loss,
                total * shares[region],
                region_heat_capacity_j_per_k[:, region],
                room_c,
            )


def water_loss_l_s(coefficients: CavityCoefficients, technique: Technique) -> FloatArray:
    """Evaporative water loss of the abdomen [L/s], shape ``(patients,)`` (zero when closed)."""
    if technique == "open":
        return coefficients.open_water_loss_l_per_s_m2 * coefficients.open_area_m2
    return np.zeros_like(coefficients.open_area_m2)


def abdominal_pressure_mmhg(
    coefficients: CavityCoefficients, technique: Technique, abdominal_volume_l: FloatArray
) -> FloatArray:
    """Intra-abdominal pressure [mmHg]: zero when open, ``max(0, V - V_0) / compliance`` closed."""
    if technique == "open":
        return np.zeros_like(abdominal_volume_l)
    excess = np.maximum(abdominal_volume_l - coefficients.zero_pressure_volume_l, 0.0)
    return np.asarray(excess / coefficients.compliance_l_per_mmhg)
