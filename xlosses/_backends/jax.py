"""JAX: ``jax.nn``'s fused functions, XLA-friendly forms, and loop/vectorising glue.

Everything here traces under ``jax.jit``, ``grad``, ``vmap`` and ``shard_map``.
The generic bodies would too; the versions here are what XLA's CPU backend
fuses best (measured in ``benchmarks/``), or ``jax.lax.scan`` instead of an
unrolled Python loop.  jax is never imported here: the functions run only on
JAX arrays, so ``sys.modules`` holds it by then.

Values are readable only for concrete arrays on the CPU, and only when the
value a check computed is itself concrete: a concrete array closed over by
``jax.jit`` or ``lax.scan`` yields traced results (:func:`_read`).
"""

from __future__ import annotations

import sys
from typing import Any

from .._dispatch import BackendInfo, implements, register_backend
from .._ops import control, logspace, norms, piecewise, ranks

NAMESPACES = ("jax.numpy",)


def jax_version(generic: Any) -> Any:
    """Register the decorated function as ``generic``'s version for JAX."""
    return implements(generic, NAMESPACES)


def _jax() -> Any:
    return sys.modules["jax"]


def _jnp() -> Any:
    return sys.modules["jax.numpy"]


def _nn() -> Any:
    return sys.modules["jax"].nn


def _concrete_cpu(x: Any) -> bool:
    """A concrete (not traced) JAX array on CPU devices."""
    jax = _jax()
    if isinstance(x, jax.core.Tracer):
        return False
    try:
        return all(d.platform == "cpu" for d in x.devices())
    except Exception:  # pragma: no cover - exotic array types
        return False


def _read(v: Any) -> Any:
    return v.item() if _concrete_cpu(v) else None


def _adopt(x: Any) -> Any:
    """A NumPy array beside JAX arrays, as JAX itself takes it (``jnp.asarray``)."""
    return _jnp().asarray(x)


register_backend(
    BackendInfo("jax", values_readable=_concrete_cpu, read=_read, adopt=_adopt, adopts=("numpy",)),
    NAMESPACES,
)


# -- log-space ---------------------------------------------------------------------------


@jax_version(logspace.logsumexp)
def logsumexp(x: Any, *, axis: Any = -1, keepdims: bool = False, where: Any = None, xp: Any):
    return _nn().logsumexp(x, axis=axis, keepdims=keepdims, where=where)


@jax_version(logspace.log_softmax)
def log_softmax(x: Any, *, axis: Any = -1, where: Any = None, xp: Any) -> Any:
    return _nn().log_softmax(x, axis=axis, where=where)


@jax_version(logspace.softmax)
def softmax(x: Any, *, axis: Any = -1, where: Any = None, xp: Any) -> Any:
    return NotImplemented if where is not None else _nn().softmax(x, axis=axis)


@jax_version(logspace.softplus)
def softplus(x: Any, *, xp: Any) -> Any:
    return _nn().softplus(x)


@jax_version(logspace.log_sigmoid)
def log_sigmoid(x: Any, *, xp: Any) -> Any:
    return _nn().log_sigmoid(x)


@jax_version(logspace.sigmoid)
def sigmoid(x: Any, *, xp: Any) -> Any:
    return _nn().sigmoid(x)


# -- piecewise ---------------------------------------------------------------------------


@jax_version(piecewise.relu)
def relu(x: Any, *, tie: float = 1.0, owned: bool = False, xp: Any) -> Any:
    """``maximum(x, 0)`` (derivative ½ at 0) and ``jax.nn.relu`` (0)."""
    if not x.ndim:
        return NotImplemented
    if tie == 0.5:
        return _jnp().maximum(x, 0)
    if tie == 0.0:
        return _nn().relu(x)
    return NotImplemented


# -- norms -------------------------------------------------------------------------------


@jax_version(norms.inverse_sqrt)
def inverse_sqrt(n2: Any, floor: Any, *, xp: Any) -> Any:
    """``1/sqrt(maximum(n2, floor))``, and for ``floor <= 0``
    ``sign(n2)/sqrt(maximum(n2, tiny))`` (``sign`` is 0 exactly at 0, and its derivative
    0): XLA's CPU backend keeps these in the fusion of the reductions around them, which
    a ``select`` splits into three passes (cosine similarity 1.1-1.3x optax).  XLA
    flushes subnormal ``n2`` to 0 (and the generic body with it), so the floor ``tiny``
    changes no value there."""
    jnp = _jnp()
    m = jnp.maximum(n2, floor)
    if isinstance(floor, (int, float)) and floor > 0:
        return 1.0 / jnp.sqrt(m)
    return jnp.sign(m) / jnp.sqrt(jnp.maximum(m, float(jnp.finfo(m.dtype).tiny)))


@jax_version(norms.scaled_dot)
def scaled_dot(a: Any, b: Any, sa: Any, sb: Any, *, axis: Any, where: Any = None, xp: Any):
    """``sum((a·sa)·(b·sb))``, the same value up to rounding, which XLA's CPU backend runs
    about 5 % faster within one fusion with the norms."""
    jnp = _jnp()
    prod = (a * sa) * (b * sb)
    if where is not None:
        prod = jnp.where(where, prod, 0.0)
    return jnp.sum(prod, axis=axis, keepdims=True)


# -- control flow ------------------------------------------------------------------------


@jax_version(control.stop_gradient)
def stop_gradient(x: Any, *, xp: Any) -> Any:
    return _jax().lax.stop_gradient(x)


@jax_version(ranks.random_uniform)
def random_uniform(key: Any, shape: tuple[int, ...], *, xp: Any) -> Any:
    """``jax.random.uniform(key, shape)``: rax's tie-breaking draw (its default dtype)."""
    return _jax().random.uniform(key, shape)


@jax_version(control.map_rows)
def map_rows(fn: Any, x: Any, *, xp: Any) -> Any:
    """``jnp.vectorize`` over the rows (as optax)."""
    return _jnp().vectorize(fn, signature="(n)->()")(x)


@jax_version(control.scan)
def scan(step: Any, carry: Any, xs: tuple[Any, ...], *, xp: Any) -> Any:
    """``jax.lax.scan`` (one compiled loop body); under ``jax.shard_map`` the initial carry
    is first made varying over the mesh axes that the ``xs`` or the carry vary over
    (:func:`_match_varying`), as ``lax.scan`` needs."""
    if xs[0].shape[0] == 0:
        return NotImplemented  # the generic body raises its ValueError
    return _jax_scan(step)(carry, xs)


_JAX_SCANS: dict[Any, Any] = {}


def _jax_scan(step: Any) -> Any:
    """``jax.jit(lambda carry, xs: lax.scan(step, carry, xs))``, one per ``step``.

    Eager calls (and eager ``jax.grad``) of a bare ``lax.scan`` compile the
    loop body anew each time; a jitted wrapper is compiled once per shape and
    is inlined when the caller is itself traced.
    """
    fn = _JAX_SCANS.get(step)
    if fn is None:
        jax = _jax()

        def run(carry: Any, xs: Any) -> Any:
            return jax.lax.scan(step, _match_varying(carry, xs), xs)

        fn = _JAX_SCANS[step] = jax.jit(run)
    return fn


def _match_varying(carry: Any, xs: Any) -> Any:
    """``carry`` made varying over every mesh axis that a leaf of ``carry`` or ``xs`` varies over.

    Inside ``jax.shard_map`` a value built from constants (the initial state
    of the CTC recursion) is typed as equal on every device, while a loop step
    that reads per-device data returns a carry that varies over the mesh axis;
    ``lax.scan`` needs the step to keep the carry's type.  The step reads
    nothing but the carry and ``xs``, so its output carry varies over the
    union of their varying axes (``jax.typeof(leaf).manual_axis_type.varying``,
    ``.vma`` in earlier JAX), and ``jax.lax.pcast(leaf, axes, to='varying')``
    gives each initial leaf the axes it lacks.  Values do not change.  Where
    no leaf varies (eager, ``jax.jit``, ``jax.grad`` outside ``shard_map``) the
    carry is returned as it is, as on JAX versions without varying types.
    """
    jax = _jax()
    typeof, pcast = getattr(jax, "typeof", None), getattr(jax.lax, "pcast", None)
    if typeof is None or pcast is None:  # pragma: no cover - JAX without varying types
        return carry

    def vma(leaf: Any) -> frozenset:
        aval = typeof(leaf)
        mat = getattr(aval, "manual_axis_type", None)  # ``aval.vma`` in earlier JAX
        return mat.varying if mat is not None else getattr(aval, "vma", frozenset())

    axes: dict[Any, None] = {}  # first-seen order: deterministic programs
    for leaf in jax.tree.leaves((carry, xs)):
        axes.update(dict.fromkeys(vma(leaf)))
    if not axes:
        return carry

    def cast(leaf: Any) -> Any:
        missing = tuple(a for a in axes if a not in vma(leaf))
        return pcast(leaf, missing, to="varying") if missing else leaf

    return jax.tree.map(cast, carry)
