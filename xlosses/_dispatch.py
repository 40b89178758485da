"""The one dispatch point between the generic code and the backends.

Generic code (``xlosses/_ops/``, the family modules, ``xlosses/functional/``)
is written against the array API standard only.  Where a library has
something better (a fused kernel, an in-place variant, its own loop
primitive), the generic function is declared :func:`accelerated`, and the
library's module in ``xlosses/_backends/`` registers its version with
:func:`implements`.  At each call the dispatcher looks up the version for the
namespace ``xp`` (one dictionary lookup keyed by ``xp.__name__``) and runs it;
a version returns ``NotImplemented`` whenever it cannot give everything the
generic body gives (values, gradients of every order, behaviour under traces
and transforms), and the generic body runs instead.  So the generic body is
always the fallback and the reference.

Accelerations are switched off

* for a whole process with the environment variable ``XLOSSES_GENERIC=1``, or
* for a block of code with ``with xlosses.generic_only(): ...``,

so that the conformance suite compares every acceleration with the generic
body on every backend.  :func:`per_backend` functions are not accelerations
but semantics (``stop_gradient``): their backend versions run always.

Backends also answer a few questions that generic code asks without naming a
library (:class:`BackendInfo`): whether a check may read an array's values now
(:func:`values_readable`, :func:`read`), whether a Python-level compiler is
tracing (:func:`compiling`), and whether arrays are lazy (:func:`is_lazy`).

Nothing here imports or names a framework.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import array_api_compat as _compat

__all__ = [
    "BackendInfo",
    "accelerated",
    "backend_info",
    "compiling",
    "entry",
    "fast_paths_enabled",
    "generic_only",
    "implements",
    "is_lazy",
    "per_backend",
    "read",
    "register_backend",
    "values_readable",
]

_ENV_GENERIC = os.environ.get("XLOSSES_GENERIC", "").strip().lower() not in ("", "0", "false", "no")
# Plain module globals (not a ContextVar: torch.compile cannot trace ContextVar.get; a
# module global is guarded by its compiler, which recompiles when it changes).
_generic_depth = 0
_fast = not _ENV_GENERIC


@contextlib.contextmanager
def generic_only() -> Iterator[None]:
    """Run the enclosed code with every backend acceleration switched off.

    Inside the block each primitive and loss runs its generic, standard-only
    body.  Under ``jax.jit`` the switch is read while tracing, so wrap the
    *first* call (the trace), not later calls of the compiled function;
    ``torch.compile`` guards on it and recompiles.  The switch is
    process-wide (not per thread).
    """
    global _generic_depth, _fast
    _generic_depth += 1
    _fast = False
    try:
        yield
    finally:
        _generic_depth -= 1
        _fast = not (_ENV_GENERIC or _generic_depth)


def fast_paths_enabled() -> bool:
    """False under :func:`generic_only` or with ``XLOSSES_GENERIC=1``."""
    return _fast


# -- per-function dispatch ---------------------------------------------------------------


def accelerated(body: Callable[..., Any]) -> Callable[..., Any]:
    """Declare that backends may replace ``body`` (called with an ``xp=`` keyword).

    The returned function runs the version a backend registered for ``xp``
    with :func:`implements` while accelerations are on, and ``body`` when
    there is none, when it returns ``NotImplemented``, or under
    :func:`generic_only`.  ``.generic`` is ``body`` itself, ``.impls`` the
    registered versions by namespace name.
    """
    return _dispatcher(body, always=False)


def per_backend(body: Callable[..., Any]) -> Callable[..., Any]:
    """Like :func:`accelerated`, for semantics rather than speed: the backend's version
    runs whatever :func:`generic_only` says (``stop_gradient`` is the identity only on
    libraries without automatic differentiation)."""
    return _dispatcher(body, always=True)


def _dispatcher(body: Callable[..., Any], *, always: bool) -> Callable[..., Any]:
    impls = _pending_for(body)

    @functools.wraps(body)
    def dispatch(*args: Any, xp: Any, **kwargs: Any) -> Any:
        if always or _fast:
            impl = impls.get(xp.__name__)
            if impl is not None:
                out = impl(*args, xp=xp, **kwargs)
                if out is not NotImplemented:
                    return out
        return body(*args, xp=xp, **kwargs)

    dispatch.generic = body  # type: ignore[attr-defined]
    dispatch.impls = impls  # type: ignore[attr-defined]
    return dispatch


def entry(body: Callable[..., Any]) -> Callable[..., Any]:
    """Declare a public loss whose whole call a backend may take over, before the namespace
    lookup and the checks (the per-call cost of a small batch).

    Backends register versions with :func:`implements`, as for :func:`accelerated`; they
    are called with the loss's own arguments, keyed by the namespace of the first array
    argument (the first positional one, else the first keyword one), and return
    ``NotImplemented`` for anything but the plain case they were written for (the checks
    of the generic body then run and report bad input).  Under :func:`generic_only` the
    public function's own body runs.
    """
    impls = _pending_for(body)

    @functools.wraps(body)
    def call(*args: Any, **kwargs: Any) -> Any:
        if _fast:
            lead = args[0] if args else next(iter(kwargs.values()), None)
            ns = _TYPE_NAMESPACE.get(type(lead))
            if ns is None:
                ns = _namespace_name(lead)
            impl = impls.get(ns)
            if impl is not None:
                out = impl(*args, **kwargs)
                if out is not NotImplemented:
                    return out
        return body(*args, **kwargs)

    call.generic = body  # type: ignore[attr-defined]
    call.impls = impls  # type: ignore[attr-defined]
    return call


# type(array) -> its namespace's name ("" for what is no array): the namespace depends on
# the type alone
_TYPE_NAMESPACE: dict[type, str] = {}


def _namespace_name(lead: Any) -> str:
    """The name of ``lead``'s namespace, remembered by type; ``""`` while a compiler traces
    (entries take eager calls only, and a trace must not write the cache)."""
    if compiling():
        return ""
    try:
        ns = _compat.array_namespace(lead).__name__
    except TypeError:
        ns = ""
    _TYPE_NAMESPACE[type(lead)] = ns
    return ns


# versions registered by name for generic functions not defined yet (their module is
# imported later, or never): "module:qualname" -> {namespace: version}
_PENDING: dict[str, dict[str, Callable[..., Any]]] = {}


def _pending_for(body: Callable[..., Any]) -> dict[str, Callable[..., Any]]:
    return _PENDING.pop(f"{body.__module__}:{body.__qualname__}", {})


def implements(
    generic: Callable[..., Any] | str, namespaces: tuple[str, ...]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as ``generic``'s version for ``namespaces``.

    ``namespaces`` are ``xp.__name__`` values.  ``generic`` is the
    ``@accelerated`` function itself, or its name ``"module:qualname"`` (for a
    loss module the backend does not import: its versions are attached when
    the module defines the function; ``import xlosses`` imports the backends
    before any loss module).
    """
    if isinstance(generic, str):  # attached when the module defines it (imported later:
        impls = _PENDING.setdefault(generic, {})  # xlosses imports its backends first)
        label = generic
    else:
        impls = getattr(generic, "impls", None)
        if impls is None:
            raise TypeError(
                f"{generic.__qualname__} is not declared @accelerated, @entry or @per_backend"
            )
        label = generic.__qualname__

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        for ns in namespaces:
            if ns in impls:
                raise ValueError(f"{label} has a version for {ns} already")
            impls[ns] = impl
        return impl

    return register


# -- what generic code asks of a backend -------------------------------------------------


def _never() -> bool:
    return False


def _nothing(x: Any) -> bool:
    return False


def _no_read(v: Any) -> Any:
    return None


def _no_autocast(x: Any, dtype: Any) -> Any:
    return None


@dataclass(frozen=True)
class BackendInfo:
    """What a backend tells the generic code (defaults: a library xlosses knows nothing of).

    ``values_readable(x)``: a check may read ``x``'s values now at no cost
    (eager, on the CPU, not inside a trace or a transform).
    ``read(v)``: the Python number held by the 0-d array ``v`` that a check
    computed, or ``None`` when it cannot be read (a traced value: a concrete
    array closed over in a trace yields traced results, so this is decided
    from the computed value, never from the input).
    ``compiling()``: a Python-level compiler traces now (side effects such as
    warnings or cache writes would break its graph).
    ``lazy``: arrays hold no values yet (a check would compute them).
    ``adopt(x)``: an array of another library that this one accepts beside
    its own (``None``: none), converted as the library itself does; ``adopts``
    the ``type(x).__module__`` roots of those arrays.
    ``autocast(x, dtype)``: the floating dtype a loss on ``x`` computes and
    returns in when the library's automatic mixed precision is active
    (``torch.autocast``: float32 for 16-bit inputs), else ``None``.
    """

    name: str
    values_readable: Callable[[Any], bool] = _nothing
    read: Callable[[Any], Any] = _no_read
    compiling: Callable[[], bool] = _never
    lazy: bool = False
    adopt: Callable[[Any], Any] | None = None
    adopts: tuple[str, ...] = ()
    autocast: Callable[[Any, Any], Any] = _no_autocast


_UNKNOWN = BackendInfo("unknown")
_INFO: dict[str, BackendInfo] = {}
_COMPILING: list[Callable[[], bool]] = []


def register_backend(info: BackendInfo, namespaces: tuple[str, ...]) -> None:
    """Make ``info`` the answers for the namespaces named (``xp.__name__`` values)."""
    for ns in namespaces:
        _INFO[ns] = info
    if info.compiling is not _never and info.compiling not in _COMPILING:
        _COMPILING.append(info.compiling)


def backend_info(xp: Any) -> BackendInfo:
    """The :class:`BackendInfo` of namespace ``xp``."""
    return _INFO.get(xp.__name__, _UNKNOWN)


def values_readable(xp: Any, x: Any) -> bool:
    """Whether data-dependent checks on ``x`` may run now (see :class:`BackendInfo`).

    True on eager CPU backends (NumPy, array-api-strict, torch on the CPU outside
    ``torch.compile`` and ``torch.func`` transforms, concrete JAX arrays on the
    CPU).  False while a program is traced or compiled, on GPUs (a check would
    force a device synchronisation) and for lazy arrays.  A check that passes
    this test still reads its *computed* value through :func:`read`, which
    refuses traced values.
    """
    return _INFO.get(xp.__name__, _UNKNOWN).values_readable(x)


def read(xp: Any, v: Any) -> Any:
    """The Python number in the 0-d array ``v`` a check computed, or ``None`` if unreadable."""
    return _INFO.get(xp.__name__, _UNKNOWN).read(v)


def compiling() -> bool:
    """True while a Python-level compiler traces (``torch.compile``), whatever the namespace.

    Module-level caches are filled only outside it (a compiler replays
    mutations of global dicts and may not hash their keys), and Python side
    effects such as ``warnings.warn`` are skipped (they break full graphs).
    """
    for c in _COMPILING:
        if c():
            return True
    return False


def is_lazy(xp: Any) -> bool:
    """Namespaces whose arrays hold no values yet (Dask)."""
    return _INFO.get(xp.__name__, _UNKNOWN).lazy
