"""array-api-strict: the standard and nothing else; eager, so value checks run."""

from __future__ import annotations

from typing import Any

from .._dispatch import BackendInfo, register_backend

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
