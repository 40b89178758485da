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

from ._dispatch import backend_info, compiling, is_lazy, values_readable

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


def _array_namespace(name: str, a: Any) -> Any:
    ns = _NS_CACHE.get(type(a))
    if ns is None:
        try:
            ns = _compat.array_namespace(a)
        except TypeError as exc:
            raise TypeError(
                f"{name} must be an array (NumPy, CuPy, JAX, PyTorch, Dask or any array "
                f"API library), got {_library(a)}"
            ) from exc
        _NS_CACHE[type(a)] = ns
    return ns


def namespace(
    *, numbers: tuple[str, ...] = (), indices: tuple[str, ...] = (), **arrays: Any
) -> tuple[Any, ...]:
    """The namespace of the named arguments and the arguments as the loss computes with them.

    Returns ``(xp, *arrays)``, in the order given.  The input policy
    (docs/decisions.md), applied here for every loss:

    * The namespace is that of the arrays' *leading* library: the one that is
      not NumPy, when NumPy arrays sit beside another library's.  NumPy arrays
      beside arrays of a library that accepts them (JAX) are converted as that
      library does (``jnp.asarray``); mixes the leading library refuses (NumPy
      beside torch or CuPy, torch beside JAX) raise ``TypeError`` naming both
      arguments.
    * Floating arrays of different dtypes are cast to their promoted dtype (the
      array API's rules, ``xp.result_type``), so the result has the promotion
      of the floating inputs; under ``torch.autocast`` 16-bit floating inputs
      are computed, and returned, in float32, as torch's own losses are.
    * Python scalars (``bool``, ``int``, ``float``) become 0-d arrays on the
      arrays' device: of the floating dtype of the computation, of the default
      indexing dtype for the names in ``indices`` (class labels), booleans
      of ``bool``.  Names in ``numbers`` keep Python numbers (options that take
      a number or an array, and decide things by which it is).
    * ``None`` stays ``None``.
    """
    fast = _uniform(arrays)
    if fast is not None:
        return fast
    xp = None
    first = None
    mixed = scalars = False
    for name, a in arrays.items():
        if a is None:
            continue
        if isinstance(a, _SCALARS):
            scalars = scalars or name not in numbers
            continue
        ns = _array_namespace(name, a)
        if xp is None:
            xp, first = ns, name
        elif ns is not xp:
            mixed = True
    if xp is None:
        raise TypeError(f"at least one of {', '.join(arrays)} must be an array")
    if mixed:
        xp, first = _leading(arrays)
    info = backend_info(xp)
    values = list(arrays.values())
    # floating dtypes: one per call in the common case, then nothing to do
    floating = None
    mixed_float = False
    for i, a in enumerate(arrays.values()):
        if a is None or isinstance(a, _SCALARS):
            continue
        if mixed and info.adopt is not None and _root(a) in info.adopts:
            a = values[i] = info.adopt(a)
        dt = a.dtype
        if _is_floating(xp, dt):
            if floating is None:
                floating = dt
            elif dt != floating:
                mixed_float = True
    if floating is not None:
        target = floating
        if mixed_float:
            target = _promoted(
                xp,
                [
                    v.dtype
                    for v in values
                    if v is not None and not isinstance(v, _SCALARS) and _is_floating(xp, v.dtype)
                ],
            )
        widened = info.autocast(values[list(arrays).index(first)], target)
        if widened is not None:
            target, mixed_float = widened, True
        if mixed_float:
            for i, v in enumerate(values):
                if v is not None and not isinstance(v, _SCALARS) and _is_floating(xp, v.dtype):
                    values[i] = v if v.dtype == target else xp.astype(v, target)
        floating = target
    if scalars:
        ref = values[list(arrays).index(first)]
        dev = _compat.device(ref)
        for i, (name, v) in enumerate(arrays.items()):
            if isinstance(v, _SCALARS) and name not in numbers:
                values[i] = _scalar_array(xp, name, v, floating, dev, name in indices, ref)
    return (xp, *values)


def _uniform(arrays: dict[str, Any]) -> tuple[Any, ...] | None:
    """:func:`namespace`'s result in the common case, or ``None`` for the general path.

    The common case: every argument is ``None`` or an array of one type already met (its
    namespace cached), and the floating ones share one dtype of 32 bits or more (no
    promotion, no scalar to convert, nothing ``torch.autocast`` changes).  A few
    dictionary lookups per argument, about a quarter of the general path's cost (the
    per-call overhead of a loss on a small batch)."""
    kind = xp = floats = None
    for a in arrays.values():
        if a is None:
            continue
        t = type(a)
        if t is not kind:
            if kind is not None:
                return None
            xp = _NS_CACHE.get(t)
            if xp is None:
                return None
            kind = t
        d = a.dtype
        flags = _FLOATING.get(type(d))
        f = None if flags is None else flags.get(d)
        if f is None:
            return None
        if f:
            if floats is None:
                low = _LOW.get(type(d))
                if low is None or low.get(d) is not False:
                    return None
                floats = d
            elif d != floats:
                return None
    if xp is None:
        return None
    return (xp, *arrays.values())


def _promoted(xp: Any, dtypes: list[Any]) -> Any:
    """The promotion of real floating dtypes: the widest (``finfo(...).bits``); two different
    ones of one width (float16 and bfloat16) give float32, as torch and JAX promote them.

    The array API's ``result_type`` on real floating dtypes, in Python on ``finfo``:
    ``torch.compile`` cannot trace ``torch.result_type`` of dtypes (a float16 input beside
    the float32 a loss computes in broke full-graph compiles).
    """
    best, bits, tie = dtypes[0], xp.finfo(dtypes[0]).bits, False
    for d in dtypes[1:]:
        b = xp.finfo(d).bits
        if b > bits:
            best, bits, tie = d, b, False
        elif b == bits and d != best:
            tie = True
    return xp.float32 if tie else best


def _scalar_array(
    xp: Any, name: str, v: Any, floating: Any, dev: Any, index: bool, ref: Any
) -> Any:
    """A Python scalar as a 0-d array of the computation (see :func:`namespace`)."""
    if isinstance(v, bool):
        return xp.asarray(v, dtype=xp.bool, device=dev)
    if index and isinstance(v, int):
        from ._ops._util import index_dtype

        return xp.asarray(v, dtype=index_dtype(xp, ref), device=dev)
    if isinstance(v, complex):
        return xp.asarray(v, device=dev)  # the loss's own check reports the dtype
    return (
        xp.asarray(v, dtype=floating, device=dev)
        if floating is not None
        else xp.asarray(float(v), device=dev)
    )


def _root(a: Any) -> str:
    return type(a).__module__.split(".")[0]


def _leading(arrays: dict[str, Any]) -> tuple[Any, str]:
    """The namespace of the library that leads a mix (the one whose backend adopts the
    others' arrays: JAX takes NumPy arrays) and its first argument's name; or
    ``TypeError`` naming two arguments of libraries that do not mix."""
    libs: dict[Any, str] = {}  # namespace -> its first argument
    for name, a in arrays.items():
        if a is not None and not isinstance(a, _SCALARS):
            libs.setdefault(_array_namespace(name, a), name)
    for lead, lead_name in libs.items():
        adopts = backend_info(lead).adopts
        if all(ns is lead or _root(arrays[name]) in adopts for ns, name in libs.items()):
            return lead, lead_name
    first, name = list(libs.values())[:2]
    raise TypeError(
        f"{first} and {name} come from different array libraries "
        f"({_library(arrays[first])} and {_library(arrays[name])}); "
        "pass arrays of one library"
    )


# type(dtype) -> {dtype: real floating}
_FLOATING: dict[type, dict[Any, bool]] = {}


def _is_floating(xp: Any, dtype: Any) -> bool:
    by_class = _FLOATING.get(type(dtype))
    ok = None if by_class is None else by_class.get(dtype)
    if ok is None:
        ok = bool(xp.isdtype(dtype, "real floating"))
        if not compiling():
            _FLOATING.setdefault(type(dtype), {})[dtype] = ok
    return ok


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
