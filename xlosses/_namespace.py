"""Namespace, dtype and device helpers, and the dtype policy.

Every public loss calls :func:`namespace` once with its named array arguments
and passes the resulting ``xp`` down to helpers as a keyword.  Nothing here
imports a framework: torch and jax are looked up in ``sys.modules`` only when an
array of theirs has already been seen.
"""

from __future__ import annotations

import sys
from typing import Any

import array_api_compat as _compat

__all__ = [
    "cast",
    "compute_dtype",
    "is_lazy",
    "is_low_precision",
    "is_torch_compiling",
    "namespace",
    "torch_tracing",
    "torch_values_readable",
    "value_checks_possible",
]

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


def torch_tracing() -> bool:
    """True while ``torch.compile`` traces (whatever the namespace).

    The module-level caches below are filled only outside tracing: dynamo
    replays a mutation of a global dict at the end of a graph by hashing its
    keys, and the keys here are classes (``type(dtype)``), which it cannot hash.
    """
    torch = sys.modules.get("torch")
    return torch is not None and torch.compiler.is_compiling()


# type(dtype) -> {dtype: is 16-bit}.  One inner dict per dtype class, so that
# torch.compile never compares a torch dtype with a NumPy one.
_LOW: dict[type, dict[Any, bool]] = {}


def is_low_precision(xp: Any, dtype: Any) -> bool:
    """True for float16 and bfloat16 (computed internally in float32)."""
    cache = _LOW.get(type(dtype))
    low = None if cache is None else cache.get(dtype)
    if low is None:
        low = xp.finfo(dtype).bits < 32
        if not torch_tracing():
            _LOW.setdefault(type(dtype), {})[dtype] = low
    return low


def compute_dtype(xp: Any, dtype: Any) -> Any:
    """The dtype a loss computes in: float32 for 16-bit floats, else ``dtype``."""
    return xp.float32 if is_low_precision(xp, dtype) else dtype


# Namespace module name -> library, for the checks below.  Comparing ``xp.__name__``
# costs a dict lookup and is traceable by torch.compile (array_api_compat's
# ``is_*_namespace`` helpers are lru_cached, which dynamo warns about and steps over).
_LIBRARY = {
    "array_api_compat.numpy": "numpy",
    "numpy": "numpy",
    "array_api_strict": "strict",
    "array_api_compat.torch": "torch",
    "jax.numpy": "jax",
    "array_api_compat.cupy": "cupy",
    "array_api_compat.dask.array": "dask",
}


def _lib(xp: Any) -> str | None:
    return _LIBRARY.get(getattr(xp, "__name__", ""))


def is_lazy(xp: Any) -> bool:
    """Namespaces whose arrays hold no values yet (Dask)."""
    return _lib(xp) == "dask"


def _is_jax_tracer(x: Any) -> bool:
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(x, jax.core.Tracer)


def is_torch_compiling(xp: Any) -> bool:
    """True while ``torch.compile`` traces a torch namespace's code.

    Python side effects such as ``warnings.warn`` break its ``fullgraph=True``
    graphs; callers skip them then (``jax.jit`` traces them once, harmlessly).
    """
    return _lib(xp) == "torch" and torch_tracing()


def _no_functorch(torch: Any) -> bool:
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return active is None or not active()


def torch_values_readable(x: Any) -> bool:
    """A torch tensor whose values a Python check may read now (``.item()``).

    On the CPU (not meta, not a GPU: no device synchronisation), outside
    ``torch.compile`` (a graph break) and outside ``torch.func`` transforms
    (``vmap``'s batched tensors refuse ``.item()``; xlosses' own
    :func:`xlosses._ops.map_rows` runs user functions under ``vmap``).
    """
    torch = sys.modules["torch"]
    return x.is_cpu and not torch.compiler.is_compiling() and _no_functorch(torch)


def value_checks_possible(xp: Any, x: Any) -> bool:
    """Whether data-dependent checks on ``x`` may run now.

    True on eager CPU backends (NumPy, array-api-strict, torch on CPU outside
    ``torch.compile``, concrete JAX arrays on CPU).  False while a program is
    traced or compiled, on GPUs (a check would force a device synchronisation)
    and for lazy arrays.
    """
    lib = _lib(xp)
    if lib == "numpy" or lib == "strict":
        return True
    if lib == "torch":
        return torch_values_readable(x)
    if lib == "jax":
        if _is_jax_tracer(x):
            return False
        try:
            return all(d.platform == "cpu" for d in x.devices())
        except Exception:  # pragma: no cover - exotic array types
            return False
    return False


def cast(x: Any, dtype: Any, *, xp: Any) -> Any:
    """``x`` in ``dtype``; no copy (and no new node in a traced graph) when it already is."""
    return x if x.dtype == dtype else xp.astype(x, dtype)
