"""Small helpers shared by the submodels (not public)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hipec.model.parameters.base import ParameterSet
from hipec.model.state import FloatArray


def stack(sets: Sequence[ParameterSet], key: str) -> FloatArray:
    """Values of ``key`` across a batch of parameter sets, shape ``(len(sets),)``."""
    return np.array([parameter_set.value(key) for parameter_set in sets], dtype=np.float64)
