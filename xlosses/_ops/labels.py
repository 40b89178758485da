"""Label gathers: the entry each integer label points at, without a one-hot; value ranges."""

from __future__ import annotations

from typing import Any

from .._dispatch import accelerated, read
from ._util import device, index_dtype

__all__ = [
    "gather",
    "gather_by_comparison",
    "take_labels",
    "take_labels_by_comparison",
    "value_range",
]


@accelerated
def value_range(x: Any, *, xp: Any) -> tuple[Any, Any] | None:
    """``(min(x), max(x))`` as Python numbers for an eager value check, or ``None``.

    ``None`` where the computed extremes cannot be read (inside a trace, also
    for a concrete array closed over by it: whether a check may run is decided
    from the value it computes, not from the input).  ``x`` is not empty.
    """
    lo = read(xp, xp.min(x))
    hi = None if lo is None else read(xp, xp.max(x))
    return None if hi is None else (lo, hi)


@accelerated
def take_labels(x: Any, labels: Any, *, axis: int, xp: Any) -> Any:
    """``x[..., labels, ...]`` along ``axis``: the entry each label points at.

    ``labels`` has the shape of ``x`` without ``axis``; it must hold valid
    indices in ``[0, n)`` (callers check or replace invalid ones first).  No
    one-hot is built (for namespaces without ``take_along_axis``,
    :func:`gather` compares and sums).
    """
    idx = xp.expand_dims(labels, axis=axis)
    return xp.squeeze(gather(x, idx, axis=axis, xp=xp), axis=axis)


@accelerated
def gather(x: Any, indices: Any, *, axis: int, xp: Any) -> Any:
    """``take_along_axis(x, indices, axis)`` with ``indices`` broadcast to ``x``'s shape.

    ``indices`` has ``x``'s number of dimensions; its size-1 axes (other than
    ``axis``) are broadcast explicitly (the standard does not promise
    broadcasting in ``take_along_axis``), and they are cast to the
    namespace's default indexing dtype (some wrappers accept no other).
    """
    axis = axis % x.ndim
    shape = list(x.shape)
    shape[axis] = indices.shape[axis]
    indices = xp.broadcast_to(indices, tuple(shape))
    if not hasattr(xp, "take_along_axis"):  # before the 2024.12 standard (Dask)
        return gather_by_comparison(x, indices, axis=axis, xp=xp)
    idt = index_dtype(xp, x)
    if indices.dtype != idt:
        indices = xp.astype(indices, idt)
    return xp.take_along_axis(x, indices, axis=axis)


def gather_by_comparison(x: Any, indices: Any, *, axis: int, xp: Any) -> Any:
    """:func:`gather` for namespaces without ``take_along_axis`` (Dask).

    ``indices`` has ``x``'s shape except along ``axis`` (``k`` entries against
    ``x``'s ``n``).  Each output entry is the sum over ``n`` of ``x`` where the
    index equals the position: a ``k × n`` comparison per slice, computed
    blockwise.  Entries not picked are replaced by 0 before the sum, so a NaN
    or ``inf`` elsewhere in ``x`` does not leak into the picked value.
    """
    axis = axis % x.ndim
    n = x.shape[axis]
    shape = [1] * (x.ndim + 1)
    shape[axis + 1] = n
    positions = xp.reshape(xp.arange(n, dtype=indices.dtype, device=device(x)), tuple(shape))
    hit = xp.expand_dims(indices, axis=axis + 1) == positions  # [..., k, n, ...]
    picked = xp.where(hit, xp.expand_dims(x, axis=axis), 0.0)
    return xp.sum(picked, axis=axis + 1)


def take_labels_by_comparison(x: Any, labels: Any, *, axis: int, xp: Any) -> Any:
    """:func:`take_labels` for namespaces without ``take_along_axis`` (Dask).

    Sums ``x`` where ``labels == arange(num_classes)`` along ``axis``: one
    element-wise comparison and a sum, so it stays blockwise on a chunked
    array (a chunk-sized boolean temporary, never a one-hot of the whole
    array).  Entries of other classes are replaced by 0 before the sum, so a
    NaN or ``inf`` elsewhere in the row does not leak into the picked value.
    """
    idx = xp.expand_dims(labels, axis=axis)
    return xp.squeeze(gather_by_comparison(x, idx, axis=axis, xp=xp), axis=axis)
