"""Sparsemax: the Euclidean projection onto the probability simplex."""

from __future__ import annotations

from typing import Any

from .._dispatch import accelerated
from ._util import device, safe_max
from .labels import take_labels

__all__ = ["sparsemax", "sparsemax_sorted"]


def sparsemax_sorted(x: Any, axis: int, *, xp: Any) -> tuple[Any, Any, Any]:
    """``(z, (u, cs), size)``: ``x`` shifted by its row maximum, ``z`` sorted in descending
    order and its cumulative sums, and the support size ``k`` of each row (keepdims, ≥ 1)."""
    n = x.shape[axis]
    z = x - safe_max(x, axis, xp=xp)  # exact differences near the top
    # values only: a stable sort (the standard's default) is several times slower for floats
    u = xp.sort(z, axis=axis, descending=True, stable=False)
    shape = [1] * x.ndim
    shape[axis] = n
    k = xp.reshape(xp.arange(1, n + 1, dtype=x.dtype, device=device(x)), tuple(shape))
    cs = xp.cumulative_sum(u, axis=axis)
    cond = 1.0 + k * u > cs
    # at least 1 (a NaN row counts 0 and would index out of range); counts by sums of
    # explicit dtypes (count_nonzero gives the default integer dtype, 64-bit where that
    # exists even for int32 indices)
    size = xp.sum(xp.astype(cond, xp.int32), axis=axis, keepdims=True, dtype=xp.int32)
    return z, (u, cs), xp.where(size > 0, size, 1)


@accelerated
def sparsemax(x: Any, *, axis: int = -1, xp: Any) -> Any:
    r"""Euclidean projection of ``x`` onto the probability simplex along ``axis``.

    ``p = max(x - τ, 0)`` with ``τ`` chosen so that ``Σ p = 1`` (Martins and
    Astudillo, 2016).  Sorted once (``xp.sort``), cumulative sums
    (``xp.cumulative_sum``) give the support size ``k`` by counting; ``τ`` is
    then the mean of the support in the original order minus ``1/k``, so its
    gradient needs no sort backward and equals the projection's Jacobian
    (``p`` is 0 off the support; on it, ``dp = dx - mean(dx over support)``).
    No data-dependent shape: every array has the shape of ``x``.  (Backends
    without gradients may take ``τ`` from the sorted cumulative sum at ``k``.)
    """
    z, (u, _), size = sparsemax_sorted(x, axis, xp=xp)
    # through take_labels: Dask's namespace has no take_along_axis
    kth = xp.expand_dims(
        take_labels(u, xp.squeeze(size - 1, axis=axis), axis=axis, xp=xp), axis=axis
    )
    # the support in the original order; ties with the k-th value are inside it
    supp = z >= kth
    count = xp.sum(xp.astype(supp, x.dtype), axis=axis, keepdims=True)
    tau = (xp.sum(xp.where(supp, z, 0.0), axis=axis, keepdims=True) - 1.0) / count
    return xp.where(z > tau, z - tau, 0.0)
