"""Abdominal cavity parameter set: the 13 PCI regions, their shares and neighbours, mixing,
technique.

Region numbering and names follow the Peritoneal Cancer Index (Jacquet & Sugarbaker 1996). The 3 x 3
grid of regions 1-8 around the central region 0 and the placement of the small-bowel regions 9-12
(jejunum left and central, ileum right and pelvic) give the neighbour graph. Volume and surface
shares
are hipec modelling assumptions (no published per-region figures were found): the small bowel
carries a
large serosal surface, the pelvis and central region hold more fluid.
"""

from __future__ import annotations

from hipec.clinical.pci import PCI_REGIONS
from hipec.model.parameters.base import ParameterSet, Sourced

_A = "hipec-assumption"

#: PCI region names by index (Jacquet & Sugarbaker 1996), as the clinical scores define them.
REGION_NAMES: tuple[str, ...] = tuple(region.name for region in PCI_REGIONS)

#: Undirected neighbour pairs (regions sharing a border or lying against each other).
REGION_NEIGHBOURS: tuple[tuple[int, int], ...] = (
    # ring of the 3 x 3 grid:  1 2 3 / 8 0 4 / 7 6 5
    (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 1),
    # central region to the edge midpoints
    (0, 2), (0, 4), (0, 6), (0, 8),
    # small bowel: jejunum left / central, ileum right / pelvic, in sequence
    (9, 10), (10, 11), (11, 12),
    (9, 0), (9, 3), (9, 4),
    (10, 0), (10, 4), (10, 5),
    (11, 0), (11, 8), (11, 7),
    (12, 7), (12, 6), (12, 0),
)  # fmt: skip

#: Share of the abdominal fluid volume held by each region [-] (sums to 1).
REGION_VOLUME_SHARE: tuple[float, ...] = (
    0.12, 0.08, 0.06, 0.07, 0.07, 0.08, 0.12, 0.08, 0.07, 0.0625, 0.0625, 0.0625, 0.0625,
)  # fmt: skip

#: Share of the wetted peritoneal surface in each region [-] (sums to 1).
REGION_SURFACE_SHARE: tuple[float, ...] = (
    0.08, 0.09, 0.06, 0.08, 0.06, 0.06, 0.08, 0.07, 0.06, 0.09, 0.09, 0.09, 0.09,
)  # fmt: skip

#: Share of the open-abdomen air interface over each region [-] (sums to 1): the anterior,
#: central cross of the Coliseum opening.
REGION_OPEN_SURFACE_SHARE: tuple[float, ...] = (
    0.3, 0.0, 0.15, 0.0, 0.1, 0.0, 0.1, 0.0, 0.1, 0.05, 0.05, 0.05, 0.1,
)  # fmt: skip

#: Default catheter placement: inflow under both hemidiaphragms, drains in the pelvis and lower
#: quadrants (a common closed-technique arrangement; the share of each catheter is equal).
DEFAULT_INFLOW_REGIONS: tuple[int, ...] = (1, 3)
DEFAULT_DRAIN_REGIONS: tuple[int, ...] = (5, 6, 7)


def get_parameter_values() -> ParameterSet:
    """Default cavity parameters."""
    return ParameterSet(
        "abdomen",
        {
            "Neighbour mixing flow at rest [L/min]": Sourced(
                0.02, _A, False, "exchange across each neighbour border without pumping"
            ),
            "Neighbour mixing per pump flow [-]": Sourced(
                0.06,
                _A,
                False,
                "exchange across each border per L/min of inflow (jets and turbulence); chosen so "
                "the region spread is a few kelvin at 1-2 L/min (Cooney CFD 0.9-3.6 K)",
            ),
            "Open technique mixing multiplier [-]": Sourced(
                2.0, _A, False, "manual stirring of the open (Coliseum) abdomen"
            ),
            "Open abdomen air interface area [m2]": Sourced(0.06, _A, False, "Coliseum opening"),
            "Open abdomen heat loss coefficient [W/(m2.K)]": Sourced(
                60.0,
                _A,
                False,
                "convection plus evaporation, linearised about 42 C perfusate and 20 C air",
            ),
            "Open abdomen water loss [L/(min.m2)]": Sourced(
                0.02, _A, False, "evaporation, about 1 mL/min for the default opening"
            ),
            "Closed abdomen wall heat loss conductance [W/K]": Sourced(
                3.0, _A, False, "through the closed skin and drapes to the room"
            ),
            "Abdominal volume at zero pressure [L]": Sourced(2.5, _A, False, ""),
            "Abdominal compliance [L/mmHg]": Sourced(
                0.15, _A, False, "gives 10-20 mmHg at 4-5 L (reported closed range 2-34 mmHg)"
            ),
            "Abdomen residual volume [L]": Sourced(
                0.1, _A, False, "film and pools left on the peritoneum when the abdomen is drained"
            ),
        },
    )
