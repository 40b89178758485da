"""Namespace, dtype and device helpers, and the dtype policy.

Every public loss calls :func:`namespace` once with its named array arguments
and passes the resulting ``xp`` down to helpers as a keyword.  Nothing here
imports or names a framework; what depends on the library (may a check read
values now, is a compiler tracing) is asked of the backend through
:mod:`xlosses._dispatch`.
"""

from __future__ import annotations

from typing import Any

import array_api_compat as _compat

from ._dispatch import compiling, is_lazy, values_readable

__all__ = [
    "cast",
    "compiling",
    "compute_dtype",
    "is_lazy",
    "is_low_precision",
    "namespace",
    "value_checks_possible",
]

value_checks_possible = values_readable

_SCALARS = (bool, int, float, complex)
# type(array) -> namespace.  array_api_compat decides the namespace from the
# array's type alone, so caching by type is exact and saves ~1 µs per call.
_NS_CACHE: dict[type, Any] = {}


def _library(x: Any) -> str:
    t = type(x)
    mod = t.__module__.split(".")[0]
    return f"{mod}.{t.__name__}"


def namespace(**arrays: Any) -> Any:
    """Return the array namespace shared by the named arguments.

    ``None`` and Python scalars are ignored.  Arrays of different libraries
    raise ``TypeError`` naming each argument and its library.
    """
    xp = None
    first = None
    for name, a in arrays.items():
        if a is None or isinstance(a, _SCALARS):
            continue
        t = type(a)
        ns = _NS_CACHE.get(t)
        if ns is None:
            try:
                ns = _compat.array_namespace(a)
            except TypeError as exc:
                raise TypeError(
                    f"{name} must be an array (NumPy, CuPy, JAX, PyTorch, Dask or any array "
                    f"API library), got {_library(a)}"
                ) from exc
            _NS_CACHE[t] = ns
        if xp is None:
            xp, first = ns, name
        elif ns is not xp:
            raise TypeError(
                f"{first} and {name} come from different array libraries "
                f"({_library(arrays[first])} and {_library(a)}); "
                "pass arrays of one library"
            )
    if xp is None:
        raise TypeError(f"at least one of {', '.join(arrays)} must be an array")
    return xp


# type(dtype) -> {dtype: is 16-bit}.  One inner dict per dtype class, so that
# torch.compile never compares a torch dtype with a NumPy one.
_LOW: dict[type, dict[Any, bool]] = {}


def is_low_precision(xp: Any, dtype: Any) -> bool:
    """True for float16 and bfloat16 (computed internally in float32)."""
    cache = _LOW.get(type(dtype))
    low = None if cache is None else cache.get(dtype)
    if low is None:
        low = xp.finfo(dtype).bits < 32
        if not compiling():
            _LOW.setdefault(type(dtype), {})[dtype] = low
    return low


def compute_dtype(xp: Any, dtype: Any) -> Any:
    """The dtype a loss computes in: float32 for 16-bit floats, else ``dtype``."""
    return xp.float32 if is_low_precision(xp, dtype) else dtype


def cast(x: Any, dtype: Any, *, xp: Any) -> Any:
    """``x`` in ``dtype``; no copy (and no new node in a traced graph) when it already is."""
    return x if x.dtype == dtype else xp.astype(x, dtype)
