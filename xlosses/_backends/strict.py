"""array-api-strict: the standard and nothing else; eager, so value checks run."""

from __future__ import annotations

from typing import Any

from .._dispatch import BackendInfo, implements, register_backend
from .._ops import order

NAMESPACES = ("array_api_strict",)


def _read(v: Any) -> Any:
    kind = "bool" if v.dtype == v.__array_namespace__().bool else "number"
    if kind == "bool":
        return bool(v)
    try:
        return v.__index__()
    except TypeError:
        return float(v)


register_backend(BackendInfo("strict", values_readable=lambda x: True, read=_read), NAMESPACES)


@implements(order.descending_order, NAMESPACES)
def descending_order(x: Any, *, axis: int = -1, xp: Any) -> Any:
    """``argsort`` on a device without int64 (``no_x64``): array-api-strict 2.6.1's
    ``argsort`` makes int64 indices there and raises, so the order is found on the
    CPU device and brought back as the device's indexing dtype (int32)."""
    dev = x.device
    indexing = xp.__array_namespace_info__().default_dtypes(device=dev)["indexing"]
    if indexing == xp.int64:
        return NotImplemented  # the generic argsort
    cpu = xp.__array_namespace_info__().default_device()
    idx = xp.argsort(x.to_device(cpu), axis=axis, descending=True)
    return xp.astype(idx, indexing).to_device(dev)
