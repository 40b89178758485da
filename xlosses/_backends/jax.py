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
from .._ops import control, entropy, logspace, norms, piecewise, ranks

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
    # with a mask, jax.nn.logsumexp's forward-mode derivative of an empty row is NaN
    # (jax 0.10); the generic body's is 0, like its reverse mode
    if where is not None:
        return NotImplemented
    return _nn().logsumexp(x, axis=axis, keepdims=keepdims)


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


# -- large vocabularies: the chunked gradient as a custom VJP --------------------------------


@jax_version("xlosses.large_vocab:linear_cross_entropy_rows")
def linear_cross_entropy_rows(
    x: Any, w: Any, b: Any, labels: Any, keep: Any, rw: Any, cw: Any, *, plan: Any, xp: Any
) -> Any:
    """The chunked forward with :func:`xlosses.large_vocab.backward` as its ``jax.custom_vjp``
    (the logits recomputed chunk by chunk, not kept for every chunk); one per ``plan``."""
    return _linear_ce_vjp(plan, xp)(x, w, b, labels, keep, rw, cw)


_LINEAR_CE: dict[Any, Any] = {}


def _linear_ce_vjp(plan: Any, xp: Any) -> Any:
    fn = _LINEAR_CE.get(plan)
    if fn is not None:
        return fn
    jax = _jax()
    from .. import large_vocab as lv

    @jax.custom_vjp
    def fn(x: Any, w: Any, b: Any, labels: Any, keep: Any, rw: Any, cw: Any) -> Any:
        return lv.forward(x, w, b, labels, keep, rw, cw, plan=plan, xp=xp)[0]

    def fwd(x: Any, w: Any, b: Any, labels: Any, keep: Any, rw: Any, cw: Any) -> Any:
        loss, lse = lv.forward(x, w, b, labels, keep, rw, cw, plan=plan, xp=xp)
        return loss, (x, w, b, labels, keep, rw, cw, lse)

    def bwd(res: Any, g: Any) -> Any:
        x, w, b, labels, keep, rw, cw, lse = res
        dx, dw, db = lv.backward(x, w, b, labels, keep, rw, cw, lse, g, plan=plan, xp=xp)
        # labels, mask and weights are constants (integer and boolean inputs have no
        # cotangent; class weights are not differentiated, as torch's ``weight``)
        return dx, dw, db, None, None, None, None

    fn.defvjp(fwd, bwd)
    _LINEAR_CE[plan] = fn
    return fn


# -- Poly-1 cross-entropy: its closed-form derivative as a custom JVP ------------------------


@jax_version(entropy.poly1_cross_entropy)
def poly1_cross_entropy(x: Any, y: Any, mask: Any, epsilon: float, *, axis: Any, xp: Any) -> Any:
    """The generic body with :func:`xlosses._ops.entropy.poly1_cross_entropy_jvp` as its
    ``jax.custom_jvp`` (reverse mode transposes it; higher orders differentiate it): XLA's
    gradient of the generic body costs 2-4 times more at 4096 x 1000.  One per option set."""
    if not isinstance(epsilon, (int, float)):
        return NotImplemented
    return _poly1_jvp(float(epsilon), axis, xp)(x, y, mask)


_POLY1: dict[Any, Any] = {}


def _poly1_jvp(epsilon: float, axis: Any, xp: Any) -> Any:
    key = (epsilon, axis, xp)
    fn = _POLY1.get(key)
    if fn is not None:
        return fn
    jax = _jax()
    SymbolicZero = jax.custom_derivatives.SymbolicZero

    @jax.custom_jvp
    def fn(x: Any, y: Any, mask: Any) -> Any:
        return entropy.poly1_cross_entropy.generic(x, y, mask, epsilon, axis=axis, xp=xp)

    def jvp(primals: Any, tangents: Any) -> Any:
        x, y, mask = primals
        dx, dy, _ = (None if isinstance(t, SymbolicZero) else t for t in tangents)
        return entropy.poly1_cross_entropy_jvp(x, y, mask, dx, dy, epsilon, axis=axis, xp=xp)

    fn.defjvp(jvp, symbolic_zeros=True)
    _POLY1[key] = fn
    return fn


# -- log-sum-exp of two terms: its derivative as a custom JVP ---------------------------------


@jax_version(logspace.safe_logaddexp)
def safe_logaddexp(a: Any, b: Any, *, xp: Any) -> Any:
    """The generic body with :func:`xlosses._ops.logspace.safe_logaddexp_jvp` as its
    ``jax.custom_jvp``: reverse mode through the body's ``maximum``, ``minimum`` and
    ``where`` keeps their masks and intermediate values, the rule two weights (the CTC
    recursion's ``jit(value_and_grad)`` from 1.3-1.8 times optax's to about 1.0)."""
    if not (hasattr(a, "shape") and hasattr(b, "shape")):
        return NotImplemented  # a Python number: the generic body
    return _safe_logaddexp_jvp()(a, b)


_LOGADDEXP: list[Any] = []


def _safe_logaddexp_jvp() -> Any:
    if _LOGADDEXP:
        return _LOGADDEXP[0]
    jax = _jax()
    jnp = _jnp()
    SymbolicZero = jax.custom_derivatives.SymbolicZero

    @jax.custom_jvp
    def fn(a: Any, b: Any) -> Any:
        return logspace.safe_logaddexp.generic(a, b, xp=jnp)

    def jvp(primals: Any, tangents: Any) -> Any:
        ta, tb = (None if isinstance(t, SymbolicZero) else t for t in tangents)
        return logspace.safe_logaddexp_jvp(*primals, ta, tb, xp=jnp)

    fn.defjvp(jvp, symbolic_zeros=True)
    _LOGADDEXP.append(fn)
    return fn
