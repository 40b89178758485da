"""Lists of items: pair masks, exact and approximate ranks, and reductions within groups.

A list is the last axis of ``[..., list_size]`` arrays.  Items interact in
*groups*: the valid items of a list, or of one segment of it (rax's
``segments=``).  A group is given as a boolean ``[..., L, L]`` matrix
(``group[i, j]``: ``j`` is in ``i``'s group) or ``None`` for "every item of
the list", so that every function here has static shapes and costs
``O(L²)`` per list, as rax's segmented functions do.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat as _compat

from .._dispatch import per_backend
from ._util import device
from .logspace import logsumexp, sigmoid

__all__ = [
    "approx_ranks",
    "default_discount_fn",
    "default_gain_fn",
    "exact_ranks",
    "first_in_group",
    "group_logsumexp",
    "group_max",
    "group_sum",
    "pair_mask",
    "random_uniform",
]

_LN2 = math.log(2.0)


def pair_mask(valid: Any, segments: Any, *, xp: Any) -> Any:
    """``[..., L, L]``: both items valid and in the same segment (``None``: no condition)."""
    mask = None
    if valid is not None:
        mask = xp.expand_dims(valid, axis=-1) & xp.expand_dims(valid, axis=-2)
    if segments is not None:
        same = xp.expand_dims(segments, axis=-1) == xp.expand_dims(segments, axis=-2)
        mask = same if mask is None else mask & same
    return mask


def _positions(n: int, x: Any, xp: Any) -> tuple[Any, Any]:
    idx = xp.arange(n, device=device(x))
    return idx[:, None], idx[None, :]


def exact_ranks(x: Any, *, group: Any = None, xp: Any) -> Any:
    """1-based ranks of ``x`` along the last axis (largest first) within each group.

    ``rank_i = 1 + #{j in i's group: x_j > x_i, or x_j = x_i and j < i}``: ties
    keep the order of the items (rax's stable sort).  The ranks of items
    outside every group (invalid items) are not meaningful.  Floating, in
    ``x``'s dtype; no gradient flows (comparisons only).
    """
    i, j = _positions(x.shape[-1], x, xp)
    xi, xj = xp.expand_dims(x, axis=-1), xp.expand_dims(x, axis=-2)
    before = (xj > xi) | ((xj == xi) & (j < i))
    if group is not None:
        before = before & group
    return 1.0 + xp.sum(xp.astype(before, x.dtype), axis=-1)


def approx_ranks(x: Any, *, group: Any = None, temperature: float = 1.0, xp: Any) -> Any:
    """rax's ``approx_ranks``: ``1 + sum_{j ≠ i in i's group} sigmoid((x_j - x_i) / T)``."""
    i, j = _positions(x.shape[-1], x, xp)
    z = (xp.expand_dims(x, axis=-2) - xp.expand_dims(x, axis=-1)) / temperature
    mask = i != j if group is None else group & (i != j)
    return 1.0 + xp.sum(xp.where(mask, sigmoid(z, xp=xp), 0.0), axis=-1)


def group_sum(v: Any, group: Any, *, xp: Any) -> Any:
    """``sum_{j in i's group} v_j`` for each item ``i``: ``[..., L]``."""
    return xp.sum(xp.where(group, xp.expand_dims(v, axis=-2), 0.0), axis=-1)


def group_max(v: Any, group: Any, initial: float, *, xp: Any) -> Any:
    """``max(initial, max_{j in i's group} v_j)`` for each item ``i``: ``[..., L]``."""
    m = xp.max(xp.where(group, xp.expand_dims(v, axis=-2), initial), axis=-1)
    return xp.where(m < initial, initial, m)


def group_logsumexp(v: Any, group: Any, *, xp: Any) -> Any:
    """``log sum_{j in i's group} exp(v_j)`` for each item ``i`` (``-inf`` for an empty group)."""
    full = xp.broadcast_to(xp.expand_dims(v, axis=-2), tuple(group.shape))
    return logsumexp(full, axis=-1, where=group, xp=xp)


def first_in_group(group: Any, *, xp: Any) -> Any:
    """``[..., L]``: the first item of each group (a valid item with no earlier item in its
    group), where a per-group value is reported (rax's ``first_item_segment_mask``)."""
    i, j = _positions(group.shape[-1], group, xp)
    own = xp.any(group & (i == j), axis=-1)
    return own & ~xp.any(group & (j < i), axis=-1)


def default_gain_fn(labels: Any) -> Any:
    """rax's default gain ``2^y - 1`` (as ``expm1(y·log 2)``: exact near 0)."""
    xp = _compat.array_namespace(labels)
    return xp.expm1(labels * _LN2)


def default_discount_fn(ranks: Any) -> Any:
    """rax's default discount ``1 / log2(r + 1)`` of a 1-based rank."""
    xp = _compat.array_namespace(ranks)
    return _LN2 / xp.log1p(ranks)


@per_backend
def random_uniform(key: Any, shape: tuple[int, ...], *, xp: Any) -> Any:
    """Uniform ``[0, 1)`` samples of ``shape`` from a random ``key`` (rax's random tie-breaking).

    Only libraries with random keys (JAX's ``jax.random``) have a version;
    elsewhere ``key`` raises ``TypeError``.
    """
    raise TypeError(
        "key needs a library with random keys (a JAX PRNG key with JAX arrays); "
        f"got {type(key).__name__} for arrays of {xp.__name__}"
    )
