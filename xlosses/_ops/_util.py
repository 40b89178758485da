"""Helpers shared by the primitives: axis types, devices, the safe row maximum."""

from __future__ import annotations

from typing import Any

import array_api_compat as _compat

from .._dispatch import compiling

__all__ = ["Axis", "device", "index_dtype", "safe_max"]

Axis = int | tuple[int, ...]


def device(x: Any) -> Any:
    """The device of ``x`` (``None`` inside ``jax.jit``)."""
    return _compat.device(x)


# (namespace name, device) -> the namespace's default indexing dtype there
_INDEX: dict[tuple[str, str], Any] = {}


def index_dtype(xp: Any, x: Any) -> Any:
    """The default indexing dtype of ``xp`` on ``x``'s device (the standard's
    ``__array_namespace_info__().default_dtypes()['indexing']``): int64 where the
    device has it, int32 on devices without 64-bit types."""
    dev = device(x)
    key = (xp.__name__, repr(dev))
    dt = _INDEX.get(key)
    if dt is None:
        dt = xp.__array_namespace_info__().default_dtypes(device=dev)["indexing"]
        if not compiling():
            _INDEX[key] = dt
    return dt


def safe_max(x: Any, axis: Axis, *, xp: Any) -> Any:
    """Row maximum with keepdims, replaced by 0 where it is not finite.

    Shifting by a non-finite maximum would turn a row of ``-inf`` (or one
    ``+inf``) into NaN; shifting by 0 there leaves the result exact.
    """
    nd = x.ndim
    axes = tuple(range(nd)) if axis is None else (axis,) if isinstance(axis, int) else axis
    axes = tuple(a % nd for a in axes) if nd else ()
    if any(x.shape[a] == 0 for a in axes):  # an empty reduction (a static shape): no maximum
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        return xp.zeros(shape, dtype=x.dtype, device=device(x))
    m = xp.max(x, axis=axis, keepdims=True)
    return xp.where(xp.isfinite(m), m, 0.0)
