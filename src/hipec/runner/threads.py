"""Keep the linear algebra of the twin on one thread.

The twin's matrices are small (about 135 x 135). OpenBLAS spreads even these over every core; on a
loaded 2-core machine the threads then wait for each other and one matrix exponential takes ~100 ms
instead of ~3 ms (measured here). A run, or a cohort worker, is faster on one BLAS thread; the
parallelism of a cohort belongs to its processes.

:func:`limit_blas_threads` calls the ``set_num_threads`` entry of the OpenBLAS builds that numpy and
scipy bundle (``threadpoolctl`` is not a dependency). It changes process-wide state, so only the
edges (the CLI commands that run the twin, benchmark and cohort scripts) call it.
"""

from __future__ import annotations

import ctypes
import glob
import os
from pathlib import Path

#: ``set_num_threads`` symbols of the OpenBLAS builds numpy and scipy ship.
_SYMBOLS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


def limit_blas_threads(threads: int = 1) -> int:
    """Set every bundled OpenBLAS to ``threads`` threads; returns how many libraries were set
    (0 if none was found: nothing happens)."""
    import numpy
    import scipy

    found = 0
    for package in (numpy, scipy):
        root = Path(package.__file__ or "").parent
        libs = glob.glob(os.path.join(root.parent, f"{root.name}.libs", "*openblas*"))
        for path in libs:
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            for symbol in _SYMBOLS:
                setter = getattr(library, symbol, None)
                if setter is not None:
                    setter(ctypes.c_int(threads))
                    found += 1
                    break
    return found
