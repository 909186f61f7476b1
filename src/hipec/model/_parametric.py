"""Matrix exponentials of a batch whose matrices form a low-dimensional affine family.

A cohort of distinct patients usually differs in a few inputs only (body size: abdominal volume,
core heat capacity), so the per-patient system matrices ``M_g`` are an affine function of at most
a couple of parameters::

    M_g = M_0 + sum_i theta_gi V_i          (i < r, found by an SVD of the entries that vary)

``expm`` is an entire function of ``theta``, so it is interpolated to round-off by a tensor
Chebyshev-Lobatto grid in ``theta``: a few dozen exponentials replace one per patient. Every step is
checked, and any doubt returns ``None`` (the caller then takes the exponentials one by one):

- the affine fit must reproduce every matrix to :data:`FIT_TOLERANCE` of its largest entry;
- each grid axis is refined (5, 9, 17, 33 nested nodes) until the last two Chebyshev coefficients
  along it fall below :data:`TAIL_TOLERANCE` of the largest entry;
- the interpolant is compared with exact exponentials of two patients (the one farthest from any
  node and a middle one) and must agree to :data:`CHECK_TOLERANCE` of the largest entry.

A :class:`Family` built once from a whole cohort serves any sub-batch of it
(:meth:`Family.weights`): the sub-batch's matrices are checked to lie in the family (same fit
tolerance) and inside the grid's parameter box, so no check is weakened by sharing the grid.

The grid's exponentials are independent of each other, so the caller may compute them elsewhere
(``exponentials``: e.g. half of a stack in another process while this one takes the other half);
``scipy.linalg.expm`` treats every matrix of a stack on its own, so a split changes the grid by
round-off at most (BLAS results may depend on the operands' memory layout).

Weights of a combination of grid exponentials sum to one, so any row vector ``w`` with ``w M = 0``
(the conservation ledgers) keeps ``w expm(M) = w`` exactly, as for the exact exponentials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import NDArray
from scipy.interpolate import BarycentricInterpolator

from hipec.model.state import FloatArray

#: Rows of a batch: a slice or an index array.
Rows = slice | NDArray[np.int64]
#: Matrix exponentials of a stack ``(k, m, m) -> (k, m, m)``: ``scipy.linalg.expm`` or anything
#: that returns the same (e.g. a stack split over processes).
Exponentials = Callable[[FloatArray], FloatArray]

#: Fewest distinct matrices worth interpolating (below it the exponentials are cheap).
MIN_GROUPS = 64
#: Most parameters the family may depend on (the grid grows as nodes ** rank).
MAX_RANK = 2
#: The affine fit must reproduce every matrix entry to this, relative to the largest entry.
FIT_TOLERANCE = 1e-13
#: Refine an axis until its last Chebyshev coefficients are below this, relative to the largest
#: entry of the exponentials.
TAIL_TOLERANCE = 1e-9
#: Interpolated and exact exponentials of the check patients must agree to this, relative to the
#: largest entry.
CHECK_TOLERANCE = 1e-10
#: Nested Chebyshev-Lobatto node counts tried per axis, in order.
_LEVELS = (5, 9, 17, 33)
#: Matrices visited at a time when a family is fitted: bounds the memory touched (~20 MB of a
#: cohort's thermal matrices), while each visit's system build has a fixed cost of its own.
CHUNK = 128
#: Matrices checked at a time by :meth:`Family.weights` (a few hundred kB: stays in cache).
CHUNK_ROWS = 4
#: Rows of the batch whose SVD gives the family's directions.
_SVD_SAMPLE = 64
#: Node positions are indices on a grid of this many intervals that every level divides, so that
#: nodes shared between levels are computed once.
_FINEST = int(np.lcm.reduce([count - 1 for count in _LEVELS]))


@dataclass(frozen=True)
class Family:
    """Exponentials on a converged Chebyshev grid over an affine matrix family, reusable for any
    batch of matrices of the same family (e.g. a sub-batch of the cohort it was built from).

    Attributes
    ----------
    reference
        Flattened first matrix of the batch it was built from (the entries that do not vary).
    varying
        Flat indices of the entries that vary within the family.
    centre, directions
        The varying entries are ``centre + theta @ directions`` (``directions`` ``(r, k)``).
    low, high
        The box of ``theta`` the grid covers, ``(r,)``.
    nodes
        Chebyshev-Lobatto nodes per axis.
    exponentials
        Grid exponentials ``(p, keep_rows, m)`` in grid order.
    fit_tolerance
        Largest residual of the affine fit accepted [matrix units]
        (:data:`FIT_TOLERANCE` x the largest entry).
    """

    reference: FloatArray
    varying: NDArray[np.intp]
    centre: FloatArray
    directions: FloatArray
    low: FloatArray
    high: FloatArray
    nodes: list[FloatArray]
    exponentials: FloatArray
    fit_tolerance: float

    def weights(self, matrices: FloatArray, scale: float = 1.0) -> FloatArray | None:
        """Interpolation weights ``(g, p)`` of the matrices ``scale * matrices`` (``(g, n, n)``)
        on this grid, or ``None`` when one of them is not in the family (an entry that should
        not vary does, the affine fit misses it by more than :attr:`fit_tolerance`) or lies
        outside the grid's box (no extrapolation).

        The residuals are formed :data:`CHUNK_ROWS` matrices at a time in one reused buffer: a
        twin's check then touches no new memory the size of its batch (fresh pages cost more
        than the arithmetic); the checks are those of the whole batch at once."""
        flat = matrices.reshape(matrices.shape[0], -1)
        groups = flat.shape[0]
        if groups == 0 or flat.shape[1] != self.reference.size:
            return None
        theta = np.empty((groups, self.directions.shape[0]))
        buffer = np.empty((min(groups, CHUNK_ROWS), flat.shape[1]))
        for start in range(0, groups, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, groups)
            residual = buffer[: stop - start]
            np.multiply(flat[start:stop], scale, out=residual)
            centred = residual[:, self.varying] - self.centre
            theta[start:stop] = centred @ self.directions.T
            np.subtract(residual, self.reference, out=residual)
            residual[:, self.varying] = centred - theta[start:stop] @ self.directions
            # written so that a NaN fails
            if not (residual.max() <= self.fit_tolerance and -residual.min() <= self.fit_tolerance):
                return None
        # the box, widened by round-off only: theta of the build batch itself must pass
        slack = 1e-9 * (self.high - self.low) + self.fit_tolerance
        if np.any(theta < self.low - slack) or np.any(theta > self.high + slack):
            return None
        return _tensor_weights(self.nodes, np.clip(theta, self.low, self.high))


def family_expm(
    matrices: FloatArray,
    augment: Callable[[FloatArray], FloatArray],
    keep_rows: int,
    exponentials: Exponentials | None = None,
) -> tuple[FloatArray, FloatArray] | None:
    """Interpolation of ``expm(augment(M_g))[:keep_rows]`` over the affine family of the
    matrices ``M_g`` (shape ``(g, n, n)``), or ``None`` when that is not safe or not cheaper.

    Returns ``(weights, exponentials)``: the exponential of matrix ``g`` is ``weights[g] @
    exponentials`` (over the first axis; weights ``(g, p)``, grid exponentials ``(p, keep_rows,
    m)``), checked against exact exponentials of two of the matrices. ``augment`` turns a stack of
    family matrices into the stack to exponentiate (it must be affine, e.g. zero-order-hold input
    columns that are the same for every matrix). ``exponentials`` computes the grid's and the
    checks' exponentials (default ``scipy.linalg.expm``).
    """
    fitted = fit_family(matrices, augment, keep_rows, exponentials)
    if fitted is None:
        return None
    family, weights = fitted
    return weights, family.exponentials


def fit_family(
    matrices: FloatArray,
    augment: Callable[[FloatArray], FloatArray],
    keep_rows: int,
    exponentials: Exponentials | None = None,
) -> tuple[Family, FloatArray] | None:
    """The :class:`Family` of ``expm(augment(M_g))[:keep_rows]`` over the matrices ``M_g``
    (shape ``(g, n, n)``) with their weights ``(g, p)``, or ``None`` when that is not safe or not
    cheaper than ``g`` exponentials (see :func:`family_expm`)."""
    return fit_family_of(
        lambda rows: matrices[rows], matrices.shape[0], augment, keep_rows, exponentials
    )


def fit_family_of(
    matrices_of: Callable[[Rows], FloatArray],
    groups: int,
    augment: Callable[[FloatArray], FloatArray],
    keep_rows: int,
    exponentials: Exponentials | None = None,
) -> tuple[Family, FloatArray] | None:
    """:func:`fit_family` of ``groups`` matrices that ``matrices_of(rows)`` gives for a slice
    or an index array of rows: a large cohort is visited :data:`CHUNK` matrices at a time, so its
    matrices are never all held (new memory is slow to touch on a busy machine).

    The entries that vary and the family's directions come from a sample of
    :data:`_SVD_SAMPLE` matrices; every matrix is then checked against the affine fit (with the
    fewest directions that fit all of them), entries outside the sample's varying ones included.
    """
    if groups < MIN_GROUPS:
        return None
    expm: Exponentials = exponentials or scipy.linalg.expm
    sample_rows = np.unique(np.linspace(0, groups - 1, min(groups, _SVD_SAMPLE)).astype(np.int64))
    sample = matrices_of(sample_rows)
    shape = sample.shape[1:]
    flat_sample = sample.reshape(sample_rows.size, -1)
    reference = flat_sample[0].copy()  # row 0 of the batch
    varying = np.flatnonzero(np.ptp(flat_sample, axis=0) > 0.0)
    centre = flat_sample[:, varying].mean(axis=0)
    _, _, basis = np.linalg.svd(flat_sample[:, varying] - centre, full_matrices=False)
    basis = basis[:MAX_RANK]
    ranks = basis.shape[0] + 1
    coordinates = np.empty((groups, basis.shape[0]))
    # per chunk: largest entry, largest deviation of an entry outside the varying ones, largest
    # residual of the fit with 0 .. MAX_RANK directions (np.max keeps a NaN: it then fails)
    worst = np.zeros((-(-groups // CHUNK), 2 + ranks))
    for chunk, start in enumerate(range(0, groups, CHUNK)):
        rows = slice(start, min(start + CHUNK, groups))
        flat = matrices_of(rows).reshape(-1, reference.size)
        deviation = flat - reference
        deviation[:, varying] = 0.0
        centred = flat[:, varying] - centre
        coordinates[rows] = centred @ basis.T
        residuals = [centred - coordinates[rows, :rank] @ basis[:rank] for rank in range(ranks)]
        worst[chunk] = [
            np.max([flat.max(), -flat.min()]),
            np.max([deviation.max(), -deviation.min()]),
            *(np.abs(residual).max(initial=0.0) for residual in residuals),
        ]
    largest, worst_fixed, *worst_fit = worst.max(axis=0)
    tolerance = FIT_TOLERANCE * float(largest)
    fitting = np.flatnonzero(np.array(worst_fit) <= tolerance)
    if not worst_fixed <= tolerance or fitting.size == 0:
        return None
    rank = int(fitting[0])
    directions, theta = basis[:rank], coordinates[:, :rank]

    def at(points: FloatArray) -> FloatArray:
        """Family matrices at parameter points ``(p, rank)``."""
        stack = np.repeat(reference[None], points.shape[0], axis=0)
        stack[:, varying] = centre + points @ directions
        return augment(stack.reshape(-1, *shape))

    low, high = theta.min(axis=0), theta.max(axis=0)
    grid = _converged_grid(at, low, high, keep_rows, groups, expm)
    if grid is None:
        return None
    nodes, on_grid = grid
    weights = _tensor_weights(nodes, theta)
    grid_exponentials = on_grid.reshape(weights.shape[1], *on_grid.shape[len(nodes) :])
    # the patient farthest from any grid node (in grid units) and a middle one
    span = np.where(high > low, high - low, 1.0)
    distance = np.zeros(groups)
    if rank:
        distance[:] = np.inf
        for node in np.stack(np.meshgrid(*nodes, indexing="ij"), axis=-1).reshape(-1, rank):
            distance = np.minimum(distance, np.abs((theta - node) / span).max(axis=1))
    checks = np.unique([int(distance.argmax()), groups // 2]).astype(np.int64)
    exact = expm(augment(matrices_of(checks)))[:, :keep_rows]
    interpolated = np.tensordot(weights[checks], grid_exponentials, axes=1)
    if not np.abs(interpolated - exact).max() <= CHECK_TOLERANCE * float(np.abs(exact).max()):
        return None
    fitted = Family(
        reference=reference,
        varying=varying,
        centre=centre,
        directions=directions,
        low=low,
        high=high,
        nodes=nodes,
        exponentials=grid_exponentials,
        fit_tolerance=tolerance,
    )
    return fitted, weights


def _lobatto(low: float, high: float, count: int) -> tuple[FloatArray, list[int]]:
    """``count`` Chebyshev-Lobatto nodes on ``[low, high]`` and their index on the finest level
    (nested levels share node values exactly)."""
    finest = [j * _FINEST // (count - 1) for j in range(count)]
    x = np.cos(np.pi * np.array(finest) / _FINEST)
    return 0.5 * (low + high) + 0.5 * (high - low) * x, finest


def _converged_grid(
    at: Callable[[FloatArray], FloatArray],
    low: FloatArray,
    high: FloatArray,
    keep_rows: int,
    groups: int,
    expm: Exponentials,
) -> tuple[list[FloatArray], FloatArray] | None:
    """Grid nodes per axis and the exponentials on the tensor grid ``(*counts, keep_rows, n)``
    with every axis resolved to :data:`TAIL_TOLERANCE`, or ``None`` when the grid would cost half
    as many exponentials as there are patients.

    The node count of each axis is first found on a line through the grid centre (odd counts put a
    node there, so those exponentials belong to the grid); only then is the full grid computed, so
    a batch too varied to gain costs a few lines, not a grid."""
    rank = low.size
    known: dict[tuple[int, ...], FloatArray] = {}

    def exponentials(
        counts: list[int], line: int | None = None
    ) -> tuple[list[FloatArray], FloatArray]:
        """Nodes and exponentials of the grid with ``counts`` nodes per axis (only the line along
        axis ``line`` through the centre if given), computing the ones not known yet."""
        axes = [
            _lobatto(low[axis], high[axis], count) if count > 1 else (low[axis : axis + 1], [0])
            for axis, count in enumerate(counts)
        ]
        shape = [count if line in (None, axis) else 1 for axis, count in enumerate(counts)]
        keys = [
            tuple(k if line in (None, axis) else counts[axis] // 2 for axis, k in enumerate(key))
            for key in np.ndindex(*shape)
        ]
        finest = [tuple(axes[a][1][k[a]] for a in range(rank)) for k in keys]
        missing = [i for i, key in enumerate(finest) if key not in known]
        if missing:
            points = np.array([[axes[a][0][keys[i][a]] for a in range(rank)] for i in missing])
            computed = expm(at(points))[:, :keep_rows]
            for i, exponential in zip(missing, computed, strict=True):
                known[finest[i]] = exponential
        stack = np.stack([known[key] for key in finest])
        return [axis[0] for axis in axes], stack.reshape(*shape, *stack.shape[1:])

    def resolved(values: FloatArray, axis: int) -> bool:
        return _tail(values, axis) <= TAIL_TOLERANCE * float(np.abs(values).max())

    counts = [_LEVELS[0] if high[axis] > low[axis] else 1 for axis in range(rank)]
    for axis in range(rank):
        while counts[axis] > 1:
            if int(np.prod(counts)) >= groups // 2:  # the grid alone would not pay
                return None
            if resolved(exponentials(counts, axis)[1], axis):
                break
            level = _LEVELS.index(counts[axis]) + 1
            if level == len(_LEVELS):
                return None
            counts[axis] = _LEVELS[level]
    while True:  # the full grid; refined further only if an axis is not resolved off its line
        if int(np.prod(counts)) >= groups // 2:
            return None
        nodes, values = exponentials(counts)
        unresolved = [a for a in range(rank) if counts[a] > 1 and not resolved(values, a)]
        if not unresolved:
            return nodes, values
        for axis in unresolved:
            level = _LEVELS.index(counts[axis]) + 1
            if level == len(_LEVELS):
                return None
            counts[axis] = _LEVELS[level]


def _tail(values: FloatArray, axis: int) -> float:
    """Largest of the last two Chebyshev coefficients along ``axis`` of values sampled at
    Chebyshev-Lobatto nodes.

    Only those two rows of the DCT-I are needed, so they are taken as one product with the
    nodes' weights (a pass over the values, not a full transform along a non-contiguous axis;
    the same coefficients to round-off)."""
    count = values.shape[axis]
    nodes = np.arange(count)
    # DCT-I: c_k = (f_0 + (-1)^k f_last + 2 sum_inner f_j cos(pi k j / (count - 1))) / (count - 1)
    ends = np.where((nodes == 0) | (nodes == count - 1), 1.0, 2.0) / (count - 1)
    orders = np.array([count - 2, count - 1])
    rows = np.cos(np.pi * np.outer(orders, nodes) / (count - 1)) * ends
    last = np.tensordot(rows, values, axes=([1], [axis]))
    return float(np.abs(last).max())


def _tensor_weights(nodes: list[FloatArray], theta: FloatArray) -> FloatArray:
    """Interpolation weights ``(g, prod(counts))`` of the tensor grid at the points ``theta``
    (barycentric Lagrange basis per axis, multiplied out in grid order)."""
    weights = np.ones((theta.shape[0], 1))
    for axis, axis_nodes in enumerate(nodes):
        if axis_nodes.size == 1:
            basis = np.ones((theta.shape[0], 1))
        else:
            interpolator = BarycentricInterpolator(axis_nodes, np.eye(axis_nodes.size))
            basis = np.asarray(interpolator(theta[:, axis]))
        weights = (weights[:, :, None] * basis[:, None, :]).reshape(theta.shape[0], -1)
    return weights
