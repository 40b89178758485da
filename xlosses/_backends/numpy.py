"""NumPy: in-place variants of the primitives, and eager tests of values.

NumPy has no automatic differentiation, so a version here only has to give
the generic body's *values*: it calls NumPy's own ufuncs with ``out=`` on
temporaries it allocated itself (never on an input), which saves passes over
memory and keeps peak memory low, and it may test values (a NaN, an empty
mask) to skip work the generic body does for every input.  Versions marked
NumPy-like below are shared with CuPy (:mod:`.cupy`), which has the same API
(tests of values are NumPy-only there: on a GPU they would synchronise).

0-d arrays stay on the generic bodies (NumPy ufuncs turn them into scalars).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from .._dispatch import BackendInfo, implements, register_backend
from .._ops import control, divergence, entropy, logspace, norms, piecewise, simplex
from .._ops import labels as label_ops
from .._ops._util import device

NAMESPACES = ("array_api_compat.numpy", "numpy")
# namespace name -> the raw module of a NumPy-like library (CuPy adds its own)
MODULES: dict[str, Any] = {"array_api_compat.numpy": np, "numpy": np}

# NumPy-like versions (here and in CuPy) and NumPy-only ones
NUMPY_LIKE: list[tuple[Any, Any]] = []


def numpy_like(generic: Any) -> Any:
    """Register the decorated version for NumPy, and list it for the NumPy-like backends."""

    def register(impl: Any) -> Any:
        NUMPY_LIKE.append((generic, impl))
        return implements(generic, NAMESPACES)(impl)

    return register


def numpy_only(generic: Any) -> Any:
    """Register the decorated version for NumPy alone."""
    return implements(generic, NAMESPACES)


def _m(xp: Any, *arrays: Any) -> Any:
    """The raw module for ``xp`` when every array has at least one dimension, else None."""
    for a in arrays:
        if not a.ndim:
            return None
    return MODULES[xp.__name__]


def _errstate(m: Any) -> Any:
    """NumPy's ``errstate`` silencing divide and invalid warnings (CuPy warns of nothing)."""
    es = getattr(m, "errstate", None)
    return es(divide="ignore", invalid="ignore") if es is not None else contextlib.nullcontext()


# NumPy versions that trade a ``where`` for a test of values pay off above this size
# (``ndarray.any`` and ``errstate`` cost microseconds; a small ``where`` costs less).
LARGE = 1 << 14


def large(x: Any) -> bool:
    return x.ndim > 0 and math.prod(x.shape) >= LARGE


# -- backend answers ---------------------------------------------------------------------


def _read(v: Any) -> Any:
    return v.item()


register_backend(BackendInfo("numpy", values_readable=lambda x: True, read=_read), NAMESPACES)


# -- log-space ---------------------------------------------------------------------------


def _shift(m: Any, x: Any, axis: Any) -> Any:
    """``x - max(x, axis)`` (the max replaced by 0 where not finite), a new array."""
    mx = m.max(x, axis=axis, keepdims=True)
    return m.subtract(x, m.where(m.isfinite(mx), mx, 0), dtype=x.dtype)


@numpy_like(logspace.logsumexp)
def logsumexp(x: Any, *, axis: Any = -1, keepdims: bool = False, where: Any = None, xp: Any):
    """One temporary of ``x``'s size (peak memory 1× ``x``)."""
    m = _m(xp, x)
    if m is None or where is not None:
        return NotImplemented
    mx = m.max(x, axis=axis, keepdims=True)
    mx = m.where(m.isfinite(mx), mx, 0).astype(x.dtype, copy=False)
    t = m.subtract(x, mx)
    m.exp(t, out=t)
    s = m.sum(t, axis=axis, keepdims=True)
    del t
    with _errstate(m):
        m.log(s, out=s)
    s += mx
    return s if keepdims else m.squeeze(s, axis=axis)


@numpy_like(logspace.log_softmax)
def log_softmax(x: Any, *, axis: Any = -1, where: Any = None, xp: Any) -> Any:
    m = _m(xp, x)
    if m is None or where is not None:
        return NotImplemented
    t = _shift(m, x, axis)
    s = m.sum(m.exp(t), axis=axis, keepdims=True)
    with _errstate(m):
        m.log(s, out=s)
    t -= s
    return t


@numpy_like(logspace.softmax)
def softmax(x: Any, *, axis: Any = -1, where: Any = None, xp: Any) -> Any:
    m = _m(xp, x)
    if m is None or where is not None:
        return NotImplemented
    e = _shift(m, x, axis)
    m.exp(e, out=e)
    s = m.sum(e, axis=axis, keepdims=True)
    e /= m.where(s > 0, s, 1)  # an all -inf row is 0, as in the generic body
    return e


@numpy_like(logspace.softplus)
def softplus(x: Any, *, xp: Any) -> Any:
    """In place (NumPy's float32 ``logaddexp`` is ~10x slower than this)."""
    m = _m(xp, x)
    if m is None:
        return NotImplemented
    t = m.abs(x)
    m.negative(t, out=t)
    m.exp(t, out=t)
    m.log1p(t, out=t)
    t += m.maximum(x, 0.0)
    return t


@numpy_like(logspace.safe_log)
def safe_log(x: Any, *, xp: Any) -> Any:
    """No gradients to protect: only the warning at 0."""
    m = _m(xp, x)
    if m is None:
        return NotImplemented
    with _errstate(m):
        return m.log(x)


@numpy_like(logspace.safe_log1m)
def safe_log1m(x: Any, *, xp: Any) -> Any:
    m = _m(xp, x)
    if m is None:
        return NotImplemented
    t = m.negative(x)
    with _errstate(m):
        m.log1p(t, out=t)
    return t


_scipy_special: Any = None


def _special() -> Any:
    """``scipy.special`` when installed (imported on first use), else False."""
    global _scipy_special
    if _scipy_special is None:
        try:
            import scipy.special as special
        except ImportError:  # pragma: no cover - scipy is optional
            special = False
        _scipy_special = special
    return _scipy_special


@numpy_only(logspace.sigmoid)
def sigmoid(x: Any, *, xp: Any) -> Any:
    """SciPy's ``expit`` (one pass), where SciPy is installed."""
    if not x.ndim or not _special():
        return NotImplemented
    return _special().expit(x)


@numpy_only(logspace.one_minus_exp)
def one_minus_exp(x: Any, *, xp: Any) -> Any:
    """NumPy's ``expm1`` is several times slower than its vectorised ``exp``, and
    ``1 - exp(x)`` is as accurate wherever ``exp(x) <= 1/2``; so ``1 - exp(x)`` is
    computed everywhere and ``expm1`` only for the entries above ``-log 2`` (at most
    one per row of a log-softmax)."""
    if not x.ndim:
        return NotImplemented
    out = np.exp(x)
    np.subtract(1, out, out=out)
    near = x > logspace.LOG_HALF
    out[near] = -np.expm1(x[near])
    return out


@numpy_like(logspace.safe_logaddexp)
def safe_logaddexp(a: Any, b: Any, *, xp: Any) -> Any:
    """The library's ``logaddexp`` (the same formula, ``-inf`` at ``(-inf, -inf)``): one call
    where the generic body is eight, the per-frame cost of the CTC recursion; no
    gradients here, so its NaN gradient at ``(-inf, -inf)`` does not matter (its warning
    for a NaN argument silenced: the generic body gives the NaN without one)."""
    m = _m(xp, a, b)
    if m is None:
        return NotImplemented
    with _errstate(m):
        return m.logaddexp(a, b)


# -- cross-entropy terms -----------------------------------------------------------------


@numpy_like(entropy.sigmoid_cross_entropy)
def sigmoid_cross_entropy(x: Any, y: Any, *, xp: Any) -> Any:
    """``max(x, 0) - x·y + log1p(exp(-|x|))`` with in-place temporaries (``x - x·y`` is
    ``(1 - y)·x`` up to rounding, exact for hard labels)."""
    m = _m(xp, x, y)
    if m is None:
        return NotImplemented
    t = m.abs(x)
    m.negative(t, out=t)
    m.exp(t, out=t)
    m.log1p(t, out=t)
    out = m.multiply(x, y)  # the broadcast shape
    m.subtract(m.maximum(x, 0), out, out=out)
    out += t
    return out


def _power(m: Any, q: Any, g: Any) -> Any:
    if isinstance(g, (int, float)) and g == 2:
        return m.square(q)
    return m.power(q, g, dtype=q.dtype) if isinstance(g, (int, float)) else q**g


def _focal_q(m: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """``(BCE(x, y), 1 - p_t)`` with in-place temporaries (values only)."""
    pos = x >= 0
    u = m.abs(x)
    m.negative(u, out=u)
    m.exp(u, out=u)  # u = exp(-|x|)
    bce = m.multiply(x, y)
    m.subtract(m.maximum(x, 0), bce, out=bce)
    bce += m.log1p(u)
    q = m.where(pos, 1 - y, y).astype(x.dtype, copy=False)  # a
    q *= m.subtract(1, u, dtype=x.dtype)
    q += u
    u += 1
    q /= u  # (a(1 - u) + u) / (1 + u)
    return bce, q


@numpy_like(entropy.sigmoid_focal_powers)
def sigmoid_focal_powers(x: Any, y: Any, gammas: tuple[Any, ...], *, xp: Any) -> Any:
    """``q = 1 - p_t = (a(1 - u) + u) / (1 + u)`` in linear space, with the ``u = exp(-|x|)``
    of the BCE (a sum of non-negative terms: no cancellation), and ``q**g`` directly: a
    ``log`` and an ``exp`` fewer per element and per power."""
    m = _m(xp, x, y)
    if m is None:
        return NotImplemented
    bce, q = _focal_q(m, x, y)
    return bce, tuple(_power(m, q, g) for g in gammas)


@numpy_only(entropy.poly1_sum)
def poly1_sum(logp: Any, y: Any, epsilon: float, *, axis: Any, xp: Any) -> Any:
    """In place on the temporary of :func:`one_minus_exp`."""
    if not logp.ndim or logp.shape != y.shape:
        return NotImplemented
    t = logspace.one_minus_exp(logp, xp=xp)
    t *= epsilon
    t -= logp
    t *= y
    return np.sum(t, axis=axis)


# -- labels ------------------------------------------------------------------------------


@numpy_only(label_ops.value_range)
def value_range(x: Any, *, xp: Any) -> Any:
    """The NumPy methods, which skip array_api_compat's wrappers (this check runs on every
    eager call)."""
    return x.min().item(), x.max().item()


@numpy_like(label_ops.take_labels)
def take_labels(x: Any, labels: Any, *, axis: int, xp: Any) -> Any:
    """One flat take at ``row · n + label`` (C-contiguous ``x``, last axis).  NumPy's
    ``take_along_axis`` builds broadcast index grids and indexes in two dimensions: 40 µs
    against 17 µs for 4096 rows of 1000, 5.4 µs against 2 µs for 8 rows."""
    m = _m(xp, x, labels)
    if (
        m is None
        or axis % x.ndim != x.ndim - 1
        or not x.shape[-1]
        or labels.shape != x.shape[:-1]
        or not x.flags.c_contiguous
    ):
        return NotImplemented
    offsets = m.arange(0, x.size, x.shape[-1], dtype=m.intp)
    flat = m.add(labels.reshape(-1), offsets, dtype=m.intp)
    return x.reshape(-1)[flat].reshape(labels.shape)


# -- piecewise ---------------------------------------------------------------------------


@numpy_like(piecewise.relu)
def relu(x: Any, *, tie: float = 1.0, owned: bool = False, xp: Any) -> Any:
    """``maximum(x, 0)`` (no gradients: every tie is the same function; ``where`` costs
    several times an arithmetic pass); with ``owned``, in place on the caller's
    temporary: one allocation fewer."""
    m = _m(xp, x)
    if m is None:
        return NotImplemented
    return m.maximum(x, 0, out=x) if owned else m.maximum(x, 0)


@numpy_like(piecewise.clamp)
def clamp(x: Any, *, lo: float | None = None, hi: float | None = None, xp: Any) -> Any:
    """``maximum``/``minimum`` (NumPy's ``where`` on an unpredictable mask costs several
    arithmetic passes)."""
    m = _m(xp, x)
    if m is None:
        return NotImplemented
    if lo is not None:
        x = m.maximum(x, lo)
    return x if hi is None else m.minimum(x, hi)


@numpy_only(piecewise.straight_through_clamp)
def straight_through_clamp(x: Any, lo: float, *, xp: Any) -> Any:
    """No gradients: the clamp alone."""
    if not x.ndim:
        return NotImplemented
    return piecewise.clamp(x, lo=lo, xp=xp)


@numpy_like(piecewise.abs_value)
def abs_value(x: Any, *, xp: Any) -> Any:
    m = _m(xp, x)
    return NotImplemented if m is None else m.abs(x)


def log_cosh_in_place(m: Any, e: Any) -> Any:
    """The branch-free ``log1p(2 sinh²(c/2)) + max(|e| - 20, 0)``, ``c = min(|e|, 20)``, for
    NumPy, CuPy or torch ``m`` without gradients: every operation in place on the two
    temporaries it allocates (each ``where`` of the generic body costs several passes)."""
    lin = piecewise.LOG_COSH_LINEAR
    a = m.abs(e)
    s = m.minimum(a, lin) if m.__name__ != "torch" else m.clamp(a, max=lin)
    s *= 0.5
    m.sinh(s, out=s)
    s *= s
    s *= 2.0
    m.log1p(s, out=s)
    a -= lin
    m.maximum(a, 0.0, out=a) if m.__name__ != "torch" else a.clamp_min_(0.0)
    s += a
    return s


@numpy_like(piecewise.log_cosh)
def log_cosh(e: Any, *, xp: Any) -> Any:
    m = _m(xp, e)
    return NotImplemented if m is None else log_cosh_in_place(m, e)


# -- divergence terms --------------------------------------------------------------------


@numpy_only(divergence.where_rare)
def where_rare(mask: Any, value: float, x: Any, *, xp: Any) -> Any:
    """``x`` itself when no entry of ``mask`` is true (one pass over the booleans; NumPy's
    ``where`` costs several arithmetic passes even on an all-false mask)."""
    if not large(x) or mask.shape != x.shape or mask.any():
        return NotImplemented
    return x


@numpy_only(divergence.guarded)
def guarded(fn: Any, mask: Any, args: Any, fills: Any, *, value: float = 0.0, xp: Any) -> Any:
    """No gradients: ``fn`` of the arguments as they are, warnings silenced, and only the
    outer select, through :func:`where_rare`: the same values."""
    if not large(mask):
        return NotImplemented
    with _errstate(np):
        out = fn(*args)
    return divergence.where_rare(mask, value, out, xp=xp)


@numpy_only(divergence.zero_unread_rows)
def zero_unread_rows(x: Any, rows: Any, *, xp: Any) -> Any:
    """``x`` itself when the sum of the unread rows is finite, so every entry in them is:
    the test copies only those rows, while the ``where`` is a full pass over ``x`` (2.9 ms
    of optax-layout CTC's 30 ms at 256×16×1000 float32)."""
    if not x.ndim or rows.shape != x.shape[:-1]:
        return NotImplemented
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(x[rows].sum()):
            return x
    return NotImplemented


def holds_nan(v: Any) -> bool:
    """Some entry of ``v`` is NaN (``min``: a third of a pairwise ``sum``)."""
    return bool(v.size) and bool(np.isnan(v.min()))


def _unguarded(value: Any, reduce: Any = None) -> Any:
    """``value`` (or ``reduce(value)``) when it holds no NaN, else ``NotImplemented``: the
    unguarded form of a guarded term is NaN at every entry the guard changes, so a
    NaN-free result *is* the generic body's."""
    if reduce is not None:
        value = reduce(value)
    return NotImplemented if holds_nan(value) else value


@numpy_only(divergence.exp_minus_product)
def exp_minus_product(x: Any, y: Any, *, xp: Any) -> Any:
    if _m(xp, x, y) is None:
        return NotImplemented
    with _errstate(np):
        out = np.multiply(y, x)
        return _unguarded(np.subtract(np.exp(x), out, out=out))


@numpy_only(divergence.exp_times_difference)
def exp_times_difference(a: Any, b: Any, *, xp: Any, reduce: Any = None) -> Any:
    if _m(xp, a, b) is None:
        return NotImplemented
    with _errstate(np):
        out = np.subtract(a, b)
        out *= np.exp(a)
        return _unguarded(out, reduce)


@numpy_only(divergence.xlog_ratio)
def xlog_ratio(t: Any, lp: Any, *, xp: Any, reduce: Any = None) -> Any:
    if _m(xp, t, lp) is None:
        return NotImplemented
    with _errstate(np):
        out = np.log(t)
        if out.shape == np.broadcast_shapes(out.shape, lp.shape):
            out -= lp
        else:  # lp broadcasts t: a new array of the larger shape
            out = out - lp
        out *= t
        return _unguarded(out, reduce)


@numpy_only(divergence.masked_terms_sum)
def masked_terms_sum(a: Any, keep_a: Any, b: Any, keep_b: Any, *, xp: Any) -> Any:
    """``a·keep_a + b·keep_b`` on its own temporaries (a ``where`` costs several
    multiplications here)."""
    if _m(xp, a, b) is None:
        return NotImplemented
    with _errstate(np):
        p = np.multiply(a, keep_a)
        q = np.multiply(b, keep_b)
        if p.shape == np.broadcast_shapes(p.shape, q.shape):
            out = np.add(p, q, out=p)
        else:
            out = p + q
        return _unguarded(out)


# -- norms and sparsemax -----------------------------------------------------------------


def trusted_range(lo: Any, hi: Any, finfo: Any) -> bool:
    """Unscaled 2-norms between ``lo`` and ``hi`` are the scaled ones: finite, and at least
    ``sqrt(tiny)/eps`` (squares that underflowed change them by less than a rounding
    error); False for a NaN."""
    return lo >= _norm2_floor(finfo) and hi < math.inf


def _norm2_floor(finfo: Any) -> float:
    return math.sqrt(float(finfo.smallest_normal)) / float(finfo.eps)


def trusted_norm2(plain: Any, x: Any, axis: Any, keepdims: bool, xp: Any, lo: Any, hi: Any):
    """The library's own unscaled 2-norms ``plain`` (keepdims), kept wherever they can be
    trusted: finite, and at least ``sqrt(tiny)/eps``, so that squares that underflowed
    change them by less than a rounding error; other rows (zero vectors, tiny or huge
    entries, NaN) take the scaled generic body.  ``lo``, ``hi``: the range of ``plain``
    (NaN when it holds a NaN)."""
    fi = xp.finfo(x.dtype)
    if not trusted_range(lo, hi, fi):
        ok = (plain >= _norm2_floor(fi)) & (plain < math.inf)
        plain = xp.where(ok, plain, norms.scaled_norm(x, 2, axis, True, xp))
    return plain if keepdims else xp.squeeze(plain, axis=axis)


@numpy_only(norms.vector_norm)
def vector_norm(x: Any, p: float, *, axis: Any = -1, keepdims: bool = False, xp: Any) -> Any:
    """``p = 2``: NumPy's own norm (one pass) where it can be trusted (:func:`trusted_norm2`)."""
    if p != 2 or not x.ndim:
        return NotImplemented
    norm = getattr(np.linalg, "vector_norm", None)  # NumPy >= 2.0
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        plain = (
            norm(x, axis=axis, keepdims=True)
            if norm is not None
            else np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
        )
        lo, hi = (plain.min(), plain.max()) if plain.size else (math.inf, 0.0)
    return trusted_norm2(plain, x, axis, keepdims, xp, lo, hi)


@numpy_only(simplex.sparsemax)
def sparsemax_(x: Any, *, axis: int = -1, xp: Any) -> Any:
    """No gradient to keep off the sort: ``τ`` from the sorted cumulative sum at the support
    size (three passes fewer; the same sum of the same values, in sorted order).  A row
    holding a NaN (a NaN total) takes the generic body, which keeps it in the loss."""
    return sorted_tau_sparsemax(x, axis, xp, holds_nan)


def sorted_tau_sparsemax(x: Any, axis: int, xp: Any, holds_nan: Any) -> Any:
    """Sparsemax with ``τ = (cs[k - 1] - 1) / k`` (values only; shared with torch)."""
    n = x.shape[axis]
    z, (_, cs), size = simplex.sparsemax_sorted(x, axis, xp=xp)
    totals = xp.take(cs, xp.asarray([n - 1], device=device(x)), axis=axis)
    if holds_nan(totals):
        return NotImplemented
    top = xp.squeeze(size - 1, axis=axis)
    total = xp.expand_dims(label_ops.take_labels(cs, top, axis=axis, xp=xp), axis=axis)
    tau = (total - 1.0) / xp.astype(size, x.dtype)
    return xp.where(z > tau, z - tau, 0.0)


# -- control flow: the outputs of a scan written into arrays allocated once -------------------


def scan_into(step: Any, carry: Any, xs: tuple[Any, ...], alloc: Any, stack: Any) -> Any:
    """The generic loop of ``_ops.scan`` with each step's outputs written into arrays of
    ``[steps, ...]`` that ``alloc(steps, first outputs)`` allocated (the generic body keeps
    every output and stacks them at the end: twice their size then).  ``alloc`` returns
    ``None`` where outputs may not be written in place; they are then stacked (``stack``)."""
    n = xs[0].shape[0]
    bufs, outs = None, []
    for t in range(n):
        carry, y = step(carry, tuple(x[t, ...] for x in xs))
        if t == 0:
            bufs = alloc(n, y) if y else None
        if bufs is None:
            outs.append(y)
        else:
            for buf, v in zip(bufs, y, strict=True):
                buf[t, ...] = v
    if bufs is not None:
        return carry, bufs
    return carry, tuple(stack([o[i] for o in outs]) for i in range(len(outs[0])))


@numpy_only(control.scan)
def scan(step: Any, carry: Any, xs: tuple[Any, ...], *, xp: Any) -> Any:
    """Outputs written in place (:func:`scan_into`): the chunked cross-entropy's
    ``∂weight`` takes its own size, not twice."""
    if xs[0].shape[0] == 0:
        return NotImplemented  # the generic body raises its ValueError

    def alloc(n: int, y: tuple[Any, ...]) -> Any:
        return tuple(np.empty((n, *np.shape(v)), dtype=np.result_type(v)) for v in y)

    return scan_into(step, carry, xs, alloc, lambda vs: np.stack(vs, axis=0))
