"""The affine-family interpolation of matrix exponentials: its cheaper parts give the same
numbers as the plain computations they replace."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import scipy.linalg

from hipec.model import _parametric
from hipec.model.state import FloatArray


def _family(rank: int, groups: int = 200, size: int = 6) -> FloatArray:
    """Stable matrices ``M_0 + sum_i theta_i V_i`` with ``rank`` random parameters."""
    rng = np.random.default_rng(rank)
    base = -np.eye(size) * 2.0 + 0.3 * rng.standard_normal((size, size))
    directions = 0.05 * rng.standard_normal((rank, size, size))
    theta = rng.uniform(-1.0, 1.0, (groups, rank))
    return np.asarray(base + np.einsum("gr,rij->gij", theta, directions))


@pytest.mark.parametrize(("shape", "axis"), [((5, 3, 4), 0), ((9, 5, 7), 1), ((17, 1, 30), 0)])
def test_tail_is_the_last_two_chebyshev_coefficients(shape: tuple[int, ...], axis: int) -> None:
    """The tail taken as two rows of the DCT-I equals the full transform's last coefficients."""
    rng = np.random.default_rng(len(shape) + axis)
    nodes = np.cos(np.pi * np.arange(shape[axis]) / (shape[axis] - 1))
    smooth = np.exp(np.expand_dims(nodes, [a for a in range(len(shape)) if a != axis]))
    values = smooth + 1e-3 * rng.standard_normal(shape)
    count = shape[axis]
    coefficients = scipy.fft.dct(values, type=1, axis=axis) / (count - 1)
    expected = float(np.abs(np.take(coefficients, [count - 2, count - 1], axis=axis)).max())
    assert _parametric._tail(values, axis) == pytest.approx(expected, rel=1e-12)


def test_grid_exponentials_computed_elsewhere_give_the_same_family() -> None:
    """``exponentials=`` (here: every stack taken back to front, one matrix at a time) is used
    for the grid and the checks, and the family is the same (to round-off: BLAS results may
    depend on the memory layout of the operands)."""
    matrices = _family(2)
    calls: list[int] = []

    def one_by_one(stack: FloatArray) -> FloatArray:
        calls.append(stack.shape[0])
        pieces = [scipy.linalg.expm(stack[index]) for index in reversed(range(stack.shape[0]))]
        return np.stack(pieces[::-1])

    plain = _parametric.fit_family(matrices, lambda stack: stack, 6)
    shared = _parametric.fit_family(matrices, lambda stack: stack, 6, one_by_one)
    assert plain is not None and shared is not None
    assert sum(calls) == plain[0].exponentials.shape[0] + 2  # the grid and two checks
    np.testing.assert_allclose(shared[0].exponentials, plain[0].exponentials, rtol=0, atol=1e-14)
    np.testing.assert_allclose(shared[1], plain[1], rtol=0, atol=1e-14)


def test_weights_of_scaled_matrices_equal_those_of_the_scaled_copy() -> None:
    """``weights(m, scale)`` (checked a few matrices at a time) equals ``weights(scale * m)``;
    one entry off the family anywhere in the batch declines it."""
    step = 30.0
    matrices = _family(1) / step
    fitted = _parametric.fit_family(matrices * step, lambda stack: stack, 6)
    assert fitted is not None
    family, all_weights = fitted
    part = matrices[3:14]  # more than one chunk of rows
    assert part.shape[0] > _parametric.CHUNK_ROWS
    weights = family.weights(part, step)
    assert weights is not None
    np.testing.assert_allclose(weights, all_weights[3:14], rtol=0, atol=1e-13)
    copied = family.weights(part * step)
    assert copied is not None
    np.testing.assert_allclose(weights, copied, rtol=0, atol=1e-15)
    for value in (1e-3, np.nan):
        off = part.copy()
        off[-1, 0, 1] += value  # in the last chunk only
        assert family.weights(off, step) is None
