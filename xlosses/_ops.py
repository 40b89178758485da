"""Numerical primitives, written once against the array API standard.

Each primitive has one generic body that uses only the standard namespace
``xp`` it is given.  A few also have a *fast path*: a backend's own fused kernel
(``torch.logsumexp``, ``jax.nn.log_softmax``, ...) used when it is at least as
accurate.  Fast paths live here and nowhere else, and can be switched off

* for a whole process with the environment variable ``XLOSSES_GENERIC=1``, or
* for a block of code with ``with xlosses.generic_only(): ...``,

so that the conformance suite can compare every fast path with the generic
body on every backend (DESIGN.md §3).

Conventions: ``xp`` is always passed as a keyword; ``axis`` is an ``int`` or a
tuple of ints; masks (``where``) are boolean arrays broadcastable to ``x``.
Every primitive keeps values *and gradients* finite wherever the mathematical
function is finite, using the "double where" (replace masked-out inputs by a
safe value before a function, select after).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
from collections.abc import Iterator
from typing import Any

from ._namespace import torch_values_readable

__all__ = [
    "abs_value",
    "clamp",
    "exp_minus_product",
    "exp_times_difference",
    "fast_paths_enabled",
    "gather",
    "generic_only",
    "guarded",
    "huber",
    "inverse_sqrt",
    "label_cross_entropy",
    "log1mexp",
    "log_cosh",
    "log_sigmoid",
    "log_sigmoid_pair",
    "log_softmax",
    "logsumexp",
    "map_rows",
    "masked_terms_sum",
    "one_minus_exp",
    "relu",
    "safe_log",
    "safe_log1m",
    "safe_logaddexp",
    "safe_pow",
    "scaled_dot",
    "scan",
    "self_checked_label_cross_entropy",
    "sigmoid",
    "sigmoid_cross_entropy",
    "sigmoid_focal_parts",
    "sigmoid_focal_powers",
    "soft_label_cross_entropy",
    "softmax",
    "softplus",
    "sparsemax",
    "squared_difference",
    "stop_gradient",
    "straight_through_clamp",
    "take_labels",
    "take_labels_by_comparison",
    "torch_class_index_loss",
    "torch_ctc_lengths",
    "torch_ctc_logits",
    "torch_fused",
    "torch_margin_loss",
    "value_range",
    "vector_norm",
    "where_rare",
    "xlog_ratio",
    "xlogy",
    "zero_unread_rows",
]

Axis = int | tuple[int, ...]

_ENV_GENERIC = os.environ.get("XLOSSES_GENERIC", "").strip().lower() not in ("", "0", "false", "no")
# A plain module global (not a ContextVar: torch.compile cannot trace ContextVar.get).
# It applies process-wide while a ``generic_only()`` block is open.
_generic_depth = 0


@contextlib.contextmanager
def generic_only() -> Iterator[None]:
    """Run the enclosed code with every fast path switched off.

    Inside the block each primitive uses its generic, standard-only body.
    Under ``jax.jit`` the switch is read while tracing, so wrap the *first*
    call (the trace), not later calls of the compiled function; torch.compile
    guards on it and recompiles.  The switch is process-wide (not per thread).
    """
    global _generic_depth
    _generic_depth += 1
    try:
        yield
    finally:
        _generic_depth -= 1


def fast_paths_enabled() -> bool:
    """False under :func:`generic_only` or with ``XLOSSES_GENERIC=1``."""
    return not (_ENV_GENERIC or _generic_depth)


# Namespace module name -> library with fast paths.  Comparing ``xp.__name__``
# is cheap and traceable by torch.compile (unlike array_api_compat's cached
# ``is_*_namespace`` helpers).
_NATIVE = {
    "array_api_compat.torch": "torch",
    "jax.numpy": "jax",
    "array_api_compat.numpy": "numpy",
    "array_api_compat.cupy": "cupy",
    "array_api_compat.dask.array": "dask",
}
# NumPy-like libraries: their fast paths call the library's own ufuncs with
# ``out=`` on temporaries the primitive allocated itself (never on an input),
# which saves passes over memory and keeps peak memory low.
_NUMPY_LIKE = ("numpy", "cupy")


def _library(xp: Any) -> str | None:
    """'torch', 'jax', 'numpy' or 'cupy' for those namespaces, else None (fast paths on or off)."""
    return _NATIVE.get(xp.__name__)


def _native(xp: Any) -> str | None:
    """The library name when a fast path may be used for ``xp``, else None."""
    return _library(xp) if fast_paths_enabled() else None


def _torch() -> Any:
    return sys.modules["torch"]


def _torch_eager(xp: Any) -> bool:
    """A torch fast path that calls a fused ``torch.nn.functional`` kernel may run: torch,
    fast paths on, not inside ``torch.compile`` (inductor fuses the generic body)."""
    return _native(xp) == "torch" and not _torch().compiler.is_compiling()


def _np_like(native: str | None, *arrays: Any) -> Any:
    """The raw NumPy/CuPy module for a fast path on ``arrays``, else None.

    0-d arrays stay on the generic path (NumPy ufuncs turn them into scalars).
    """
    if native in _NUMPY_LIKE and all(a.ndim for a in arrays):
        return sys.modules[native]
    return None


def _errstate(np_: Any) -> Any:
    """NumPy's ``errstate`` silencing divide and invalid warnings (CuPy warns of nothing)."""
    es = getattr(np_, "errstate", None)
    return es(divide="ignore", invalid="ignore") if es is not None else contextlib.nullcontext()


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


def _jax_nn() -> Any:
    return sys.modules["jax"].nn


def _safe_max(x: Any, axis: Axis, *, xp: Any) -> Any:
    """Row maximum with keepdims, replaced by 0 where it is not finite.

    Shifting by a non-finite maximum would turn a row of ``-inf`` (or one
    ``+inf``) into NaN; shifting by 0 there leaves the result exact.
    """
    m = xp.max(x, axis=axis, keepdims=True)
    return xp.where(xp.isfinite(m), m, 0.0)


def logsumexp(
    x: Any, *, axis: Axis = -1, keepdims: bool = False, where: Any = None, xp: Any
) -> Any:
    """``log(sum(exp(x), axis))`` with the maximum shifted out.

    Entries where ``where`` is False are left out; a row with no entry gives
    ``-inf`` (the log of an empty sum).
    """
    native = _native(xp)
    if native == "torch" and where is None:
        return _torch().logsumexp(x, dim=axis, keepdim=keepdims)
    if native == "jax":
        return _jax_nn().logsumexp(x, axis=axis, keepdims=keepdims, where=where)
    np_ = _np_like(native, x)
    if np_ is not None and where is None:
        return _np_logsumexp(np_, x, axis, keepdims)
    if where is not None:
        x = xp.where(where, x, -xp.inf)
    m = _safe_max(x, axis, xp=xp)
    s = xp.sum(xp.exp(x - m), axis=axis, keepdims=True)
    # with a mask a row may be empty (s == 0): log 0 = -inf without a warning
    out = (xp.log(s) if where is None else safe_log(s, xp=xp)) + m
    return out if keepdims else xp.squeeze(out, axis=axis)


def _np_shift(np_: Any, x: Any, axis: Axis) -> Any:
    """``x - max(x, axis)`` (the max replaced by 0 where not finite), a new array."""
    m = np_.max(x, axis=axis, keepdims=True)
    return np_.subtract(x, np_.where(np_.isfinite(m), m, 0), dtype=x.dtype)


def _np_logsumexp(np_: Any, x: Any, axis: Axis, keepdims: bool) -> Any:
    """NumPy/CuPy logsumexp with one temporary of ``x``'s size (peak memory 1× ``x``)."""
    m = np_.max(x, axis=axis, keepdims=True)
    m = np_.where(np_.isfinite(m), m, 0).astype(x.dtype, copy=False)
    t = np_.subtract(x, m)
    np_.exp(t, out=t)
    s = np_.sum(t, axis=axis, keepdims=True)
    del t
    with _errstate(np_):
        np_.log(s, out=s)
    s += m
    return s if keepdims else np_.squeeze(s, axis=axis)


def log_softmax(x: Any, *, axis: Axis = -1, where: Any = None, xp: Any) -> Any:
    """``x - logsumexp(x, axis)``; masked-out entries are ``-inf``."""
    native = _native(xp)
    if native == "torch" and where is None and isinstance(axis, int):
        return _torch().log_softmax(x, dim=axis)
    if native == "jax":
        return _jax_nn().log_softmax(x, axis=axis, where=where)
    np_ = _np_like(native, x)
    if np_ is not None and where is None:
        t = _np_shift(np_, x, axis)
        s = np_.sum(np_.exp(t), axis=axis, keepdims=True)
        with _errstate(np_):
            np_.log(s, out=s)
        t -= s
        return t
    if where is not None:
        x = xp.where(where, x, -xp.inf)
    shifted = x - _safe_max(x, axis, xp=xp)
    s = xp.sum(xp.exp(shifted), axis=axis, keepdims=True)
    if where is None:
        return shifted - xp.log(s)
    # an empty row (s == 0) is all masked: log 1 keeps it free of NaN and warnings
    return xp.where(where, shifted - xp.log(xp.where(s > 0, s, 1.0)), -xp.inf)


def softmax(x: Any, *, axis: Axis = -1, where: Any = None, xp: Any) -> Any:
    """``exp(x) / sum(exp(x), axis)``; masked-out entries (and empty rows) are 0."""
    native = _native(xp)
    if native == "torch" and where is None and isinstance(axis, int):
        return _torch().softmax(x, dim=axis)
    if native == "jax" and where is None:
        return _jax_nn().softmax(x, axis=axis)
    np_ = _np_like(native, x)
    if np_ is not None and where is None:
        e = _np_shift(np_, x, axis)
        np_.exp(e, out=e)
        s = np_.sum(e, axis=axis, keepdims=True)
        e /= np_.where(s > 0, s, 1)  # an all -inf row is 0, as in the generic body
        return e
    if where is not None:
        x = xp.where(where, x, -xp.inf)
    e = xp.exp(x - _safe_max(x, axis, xp=xp))
    s = xp.sum(e, axis=axis, keepdims=True)
    out = e / xp.where(s > 0, s, 1.0)
    return out if where is None else xp.where(where, out, 0.0)


def _softplus_parts(x: Any, *, xp: Any) -> tuple[Any, Any]:
    """``(x >= 0, log1p(exp(-|x|)))`` with |x| taken through one ``where``.

    Taking ``|x|`` and ``max(x, 0)`` from the same branch mask keeps the
    derivative at exactly 0 right on every backend (``abs`` and ``maximum``
    have backend-specific subgradients there).
    """
    pos = x >= 0
    return pos, xp.log1p(xp.exp(-xp.where(pos, x, -x)))


# torch's softplus returns x itself above its threshold: log1p(exp(-40)) = 4e-18 is below
# half an ulp of 40 in float64 (and exp(40) does not overflow float32)
_SOFTPLUS_LINEAR = 40.0


def softplus(x: Any, *, xp: Any) -> Any:
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``.

    Fast paths: JAX's ``softplus``, the same formula in place on NumPy/CuPy, torch's fused
    ``softplus`` in eager mode with its linear threshold at 40 (its default,
    20, leaves a relative error of 1e-10 in float64); derivative ``sigmoid(x)``.
    """
    native = _native(xp)
    if native == "jax":
        return _jax_nn().softplus(x)
    if x.ndim and _torch_eager(xp):
        return _torch().nn.functional.softplus(x, threshold=_SOFTPLUS_LINEAR)
    np_ = _np_like(native, x)
    if np_ is not None:  # in place: NumPy's float32 logaddexp is ~10x slower than this
        t = np_.abs(x)
        np_.negative(t, out=t)
        np_.exp(t, out=t)
        np_.log1p(t, out=t)
        t += np_.maximum(x, 0.0)
        return t
    pos, t = _softplus_parts(x, xp=xp)
    return xp.where(pos, x, 0.0) + t


def log_sigmoid_pair(x: Any, *, xp: Any) -> tuple[Any, Any]:
    """``(log σ(x), log σ(-x))`` sharing one ``exp`` and one ``log1p``."""
    native = _native(xp)
    if native == "torch":
        logsigmoid = _torch().nn.functional.logsigmoid
        return logsigmoid(x), logsigmoid(-x)
    pos, t = _softplus_parts(x, xp=xp)
    return xp.where(pos, 0.0, x) - t, xp.where(pos, -x, 0.0) - t


def safe_log(x: Any, *, xp: Any) -> Any:
    """``log(x)`` for ``x >= 0`` that is ``-inf`` at 0 without a warning or a NaN gradient."""
    np_ = _np_like(_native(xp), x)
    if np_ is not None:  # no gradients to protect: only the warning
        with _errstate(np_):
            return np_.log(x)
    pos = x > 0
    return xp.where(pos, xp.log(xp.where(pos, x, 1.0)), -xp.inf)


def safe_log1m(x: Any, *, xp: Any) -> Any:
    """``log(1 - x)`` for ``x <= 1`` (``log1p(-x)``), ``-inf`` at 1 without a NaN gradient."""
    np_ = _np_like(_native(xp), x)
    if np_ is not None:
        t = np_.negative(x)
        with _errstate(np_):
            np_.log1p(t, out=t)
        return t
    below = x < 1
    return xp.where(below, xp.log1p(-xp.where(below, x, 0.0)), -xp.inf)


def log_sigmoid(x: Any, *, xp: Any) -> Any:
    """``log(sigmoid(x)) = -softplus(-x)``, exact for large ``|x|``."""
    native = _native(xp)
    if native == "torch":
        return _torch().nn.functional.logsigmoid(x)
    if native == "jax":
        return _jax_nn().log_sigmoid(x)
    pos, t = _softplus_parts(x, xp=xp)
    return xp.where(pos, 0.0, x) - t


def sigmoid(x: Any, *, xp: Any) -> Any:
    """``1 / (1 + exp(-x))`` without overflow for either sign of ``x``."""
    native = _native(xp)
    if native == "torch":
        return _torch().sigmoid(x)
    if native == "jax":
        return _jax_nn().sigmoid(x)
    if native == "numpy" and x.ndim and _special():
        return _special().expit(x)
    pos = x >= 0
    e = xp.exp(-xp.where(pos, x, -x))
    return xp.where(pos, 1.0, e) / (1.0 + e)


def sigmoid_cross_entropy(x: Any, y: Any, *, xp: Any) -> Any:
    """``-y·log σ(x) - (1 - y)·log σ(-x) = y·softplus(-x) + (1 - y)·softplus(x)``.

    Computed as ``[x ≥ 0 ? (1 - y)·x : -y·x] + log1p(exp(-|x|))``: one ``exp``
    and one ``log1p`` per element, exact for hard labels at any logit (no
    cancellation of ``x`` against ``softplus(x)``) and smooth in ``y`` for soft
    labels.

    Fast paths: torch's fused ``binary_cross_entropy_with_logits`` (same
    formula, gradients in ``x`` and ``y``) when the shapes and dtypes agree;
    on NumPy/CuPy ``max(x, 0) - x·y + log1p(exp(-|x|))`` with in-place
    temporaries (``x - x·y`` is ``(1 - y)·x`` up to rounding, exact for hard
    labels).
    """
    native = _native(xp)
    if native == "torch" and x.shape == y.shape and x.dtype == y.dtype:
        return _torch().nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    np_ = _np_like(native, x, y)
    if np_ is not None:
        t = np_.abs(x)
        np_.negative(t, out=t)
        np_.exp(t, out=t)
        np_.log1p(t, out=t)
        out = np_.multiply(x, y)  # the broadcast shape
        np_.subtract(np_.maximum(x, 0), out, out=out)
        out += t
        return out
    pos, t = _softplus_parts(x, xp=xp)
    return xp.where(pos, (1.0 - y) * x, -y * x) + t


def sigmoid_focal_parts(x: Any, y: Any, *, xp: Any) -> tuple[Any, Any]:
    r"""``(BCE(x, y), log(1 - p_t))`` of the sigmoid focal losses, sharing one ``exp``.

    With ``u = exp(-|x|)`` and ``a = 1 - y`` for ``x ≥ 0`` (``y`` otherwise),

    .. math::
        1 - p_t = (1 - y)\,\sigma(x) + y\,\sigma(-x) = \frac{a (1 - u) + u}{1 + u}

    so ``log(1 - p_t) = log(a(1 - u) + u) - log1p(u)``: one ``exp``, one
    ``log1p`` (shared with the BCE) and one ``log``.  Exact for soft labels
    (the numerator is a sum of non-negative terms); where it underflows to 0
    (``a = 0`` and ``|x| > ~87`` in float32) its log is exactly ``-|x|``, taken
    through a double ``where`` so that gradients stay finite.  Standard-only
    (no fast path): :func:`sigmoid_focal_powers` is what the losses call.
    """
    pos = x >= 0
    ax = xp.where(pos, x, -x)
    u = xp.exp(-ax)
    lg = xp.log1p(u)
    bce = xp.where(pos, (1.0 - y) * x, -y * x) + lg
    v = xp.where(pos, 1.0 - y, y) * (1.0 - u) + u
    ok = v > 0
    log_v = xp.where(ok, xp.log(xp.where(ok, v, 1.0)), -ax)
    return bce, log_v - lg


def _static_power(g: Any) -> bool:
    """A Python exponent for which ``q**g`` has a finite derivative at ``q = 0``."""
    return isinstance(g, (int, float)) and (g == 0 or g >= 1)


def sigmoid_focal_powers(
    x: Any, y: Any, gammas: tuple[Any, ...], *, xp: Any
) -> tuple[Any, tuple[Any, ...]]:
    r"""``(BCE(x, y), ((1 - p_t)**g for g in gammas))`` of the sigmoid focal losses.

    Generic body: the powers are ``exp(g·log(1 - p_t))`` with ``log(1 - p_t)``
    from :func:`sigmoid_focal_parts`, so values and gradients are finite for
    every ``g ≥ 0`` (``g`` may be an array) and every finite logit, and soft
    labels are exact.

    Fast paths compute ``q = 1 - p_t`` in linear space, as a sum of
    non-negative terms (relative accuracy: no cancellation), and ``q**g``
    directly, which saves a ``log`` and an ``exp`` per element and per power:

    * NumPy/CuPy (values only): ``q = (a(1 - u) + u) / (1 + u)`` with the
      ``u = exp(-|x|)`` of the BCE;
    * torch eager, when every ``g`` is a Python number that is 0 or ≥ 1 (then
      ``q**g`` has a finite derivative at ``q = 0``, where ``q`` underflows):
      the fused BCE kernel and ``q = σ(x)(1 - y) + σ(-x) y``.  Other
      exponents, and ``torch.compile`` (which fuses the generic body), use the
      generic body.
    """
    native = _native(xp)
    np_ = _np_like(native, x, y)
    if np_ is not None:
        bce, q = _np_focal_q(np_, x, y)
        return bce, tuple(_np_power(np_, q, g) for g in gammas)
    if (
        native == "torch"
        and x.shape == y.shape
        and x.dtype == y.dtype
        and all(_static_power(g) for g in gammas)
        and not _torch().compiler.is_compiling()
    ):
        torch = _torch()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
        q = torch.sigmoid(x) * (1.0 - y) + torch.sigmoid(-x) * y
        return bce, tuple(_torch_power(torch, q, g) for g in gammas)
    bce, log_q = sigmoid_focal_parts(x, y, xp=xp)
    return bce, tuple(xp.exp(g * log_q) for g in gammas)


def _torch_power(torch: Any, q: Any, g: float) -> Any:
    if g == 0:
        return torch.ones_like(q)
    if g == 1:
        return q
    return torch.square(q) if g == 2 else torch.pow(q, g)


def _np_power(np_: Any, q: Any, g: Any) -> Any:
    if isinstance(g, (int, float)) and g == 2:
        return np_.square(q)
    return np_.power(q, g, dtype=q.dtype) if isinstance(g, (int, float)) else q**g


def _np_focal_q(np_: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """NumPy/CuPy ``(BCE(x, y), 1 - p_t)`` with in-place temporaries (values only)."""
    pos = x >= 0
    u = np_.abs(x)
    np_.negative(u, out=u)
    np_.exp(u, out=u)  # u = exp(-|x|)
    bce = np_.multiply(x, y)
    np_.subtract(np_.maximum(x, 0), bce, out=bce)
    bce += np_.log1p(u)
    q = np_.where(pos, 1 - y, y).astype(x.dtype, copy=False)  # a
    q *= np_.subtract(1, u, dtype=x.dtype)
    q += u
    u += 1
    q /= u  # (a(1 - u) + u) / (1 + u)
    return bce, q


def one_minus_exp(x: Any, *, xp: Any) -> Any:
    """``1 - exp(x)`` (``-expm1(x)``), accurate near ``x = 0``.

    NumPy fast path: NumPy's ``expm1`` is several times slower than its
    vectorised ``exp``, and ``1 - exp(x)`` is as accurate wherever
    ``exp(x) <= 1/2``; so ``1 - exp(x)`` is computed everywhere and ``expm1``
    only for the entries above ``-log 2`` (at most one per row of a
    log-softmax).
    """
    native = _native(xp)
    if native == "numpy" and x.ndim:
        np_ = sys.modules["numpy"]
        out = np_.exp(x)
        np_.subtract(1, out, out=out)
        near = x > -0.6931471805599453
        out[near] = -np_.expm1(x[near])
        return out
    return -xp.expm1(x)


def poly1_sum(logp: Any, y: Any, epsilon: float, *, axis: Axis, xp: Any) -> Any:
    """``sum(y·(ε·(1 - exp(logp)) - logp), axis)``: the soft-label Poly-1 cross-entropy.

    Generic body with :func:`one_minus_exp` (``1 - p`` to full relative
    precision as ``p -> 1``).  Fast paths, the same expression in fewer
    passes: eager torch forms ``logp + ε·expm1(logp)`` in one fused
    ``add(alpha=)`` (in place on the ``expm1`` result, and the product with
    ``y`` too, when no gradient is needed) and negates the row sums; NumPy
    works in place on the temporary of :func:`one_minus_exp`.
    """
    native = _native(xp)
    same = logp.ndim and logp.shape == y.shape
    if logp.ndim and _torch_eager(xp):
        torch = _torch()
        t = torch.expm1(logp)
        if same and _no_gradients(native, (logp, y)):
            t.mul_(epsilon).add_(logp).mul_(y)
        else:
            t = y * torch.add(logp, t, alpha=epsilon)
        return -torch.sum(t, dim=axis)
    if same and native == "numpy":
        t = one_minus_exp(logp, xp=xp)
        t *= epsilon
        t -= logp
        t *= y
        return xp.sum(t, axis=axis)
    return xp.sum(y * (epsilon * one_minus_exp(logp, xp=xp) - logp), axis=axis)


def log1mexp(x: Any, *, xp: Any) -> Any:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate on both sides of ``-log 2``."""
    near = x > -0.6931471805599453
    x_near = xp.where(near, x, -1.0)
    x_far = xp.where(near, -1.0, x)
    return xp.where(near, xp.log(-xp.expm1(x_near)), xp.log1p(-xp.exp(x_far)))


def zero_unread_rows(x: Any, rows: Any, *, xp: Any) -> Any:
    """``where(rows[..., None], 0, x)``: zeros in the rows of ``x`` that the caller never reads.

    Such rows (padded frames) change no value the caller returns; the zeros
    keep a NaN or ``inf`` there out of the gradients and out of the
    arithmetic before it is discarded (where NumPy would warn).  Fast path,
    NumPy only (no gradients): ``x`` itself when the sum of those rows is
    finite, so every entry in them is; the test copies only the unread rows,
    while the ``where`` is a full pass over ``x`` (2.9 ms of optax-layout CTC's
    30 ms at 256×16×1000 float32).  CuPy keeps the ``where``: the test would
    synchronise the device.
    """
    if _native(xp) == "numpy" and x.ndim and rows.shape == x.shape[:-1]:
        with sys.modules["numpy"].errstate(over="ignore", invalid="ignore"):
            if math.isfinite(x[rows].sum()):
                return x
    return xp.where(rows[..., None], 0.0, x)


def where_rare(mask: Any, value: float, x: Any, *, xp: Any) -> Any:
    """``xp.where(mask, value, x)`` for a ``mask`` that is rarely true (invalid entries).

    Fast path on NumPy and on torch's CPU tensors outside ``torch.compile``:
    ``x`` itself when no entry of ``mask`` is true (one pass over the
    booleans; NumPy's ``where`` costs several arithmetic passes even on an
    all-false mask), for arrays of at least ``_LARGE`` entries.  There the
    test of values costs no device synchronisation and no trace, and
    returning ``x`` is the ``where`` in value and gradient; everywhere else
    (GPUs: the test would synchronise; traced programs) the ``where`` runs.
    """
    if _eager_cpu(xp, x) and _large(x) and mask.shape == x.shape and not mask.any():
        return x
    return xp.where(mask, value, x)


def _eager_cpu(xp: Any, x: Any) -> bool:
    """NumPy, or torch on the CPU outside ``torch.compile``, fast paths on: a test of values
    is free there (``value_checks_possible``, restricted to the libraries with fast paths;
    written out here, as it runs several times in every eager call)."""
    native = _native(xp)
    if native == "numpy":
        return True
    return native == "torch" and torch_values_readable(x)


def _no_gradients(native: str | None, arrays: tuple[Any, ...]) -> bool:
    """No automatic differentiation will pass through ``arrays`` (NumPy; torch without
    ``requires_grad`` or with gradients disabled)."""
    if native == "numpy":
        return True
    if native != "torch":
        return False
    torch = _torch()
    return not torch.is_grad_enabled() or not any(
        getattr(a, "requires_grad", False) for a in arrays
    )


# NumPy fast paths that trade a ``where`` for a test of values pay off above this size
# (``ndarray.any`` and ``errstate`` cost microseconds; a small ``where`` costs less).
_LARGE = 1 << 14


# torch's ``multi_margin_loss`` CPU kernel is a per-example loop: faster than a dozen small
# kernels up to about this many scores, twice as slow as the generic body at 4096x1000.
_SMALL = 1 << 16


def _large(x: Any) -> bool:
    return x.ndim > 0 and math.prod(x.shape) >= _LARGE


def guarded(
    fn: Any,
    mask: Any,
    args: tuple[Any, ...],
    fills: tuple[Any, ...],
    *,
    value: float = 0.0,
    xp: Any,
) -> Any:
    """``where(mask, value, fn(*args))`` with values *and gradients* finite at masked entries.

    The double where: each argument ``args[i]`` whose ``fills[i]`` is not
    None is replaced by that fill at masked entries before ``fn`` (so ``fn``
    never sees a ``log 0`` or a ``0·inf`` there, whose NaN would reach the
    gradient), and ``value`` is selected after.  NumPy fast path (no
    gradients; also torch on the CPU when no argument requires a gradient):
    ``fn`` of the arguments as they are, warnings silenced, and only the
    outer select, through :func:`where_rare`: the same values.
    """
    native = _native(xp)
    if _eager_cpu(xp, mask) and _large(mask) and _no_gradients(native, args):
        with _errstate(sys.modules["numpy"]) if native == "numpy" else contextlib.nullcontext():
            out = fn(*args)
        return where_rare(mask, value, out, xp=xp)
    safe = [a if f is None else xp.where(mask, f, a) for a, f in zip(args, fills, strict=True)]
    return xp.where(mask, value, fn(*safe))


def _holds_nan(native: str, out: Any) -> bool:
    """Some entry of ``out`` may be NaN: one NaN-propagating reduction and a host read, for
    eager CPU arrays only (torch: ``sum``, which may also report ``inf - inf``; NumPy:
    ``min``, three times faster than its pairwise ``sum``)."""
    if native == "torch":  # (math.isnan of the sum: one kernel fewer than torch.isnan)
        return math.isnan(out.detach().sum().item())
    return bool(sys.modules[native].isnan(out.min()))


def _unguarded_unless_nan(
    xp: Any,
    arrays: tuple[Any, ...],
    torch_form: Any,
    numpy_form: Any,
    generic: Any,
    reduce: Any = None,
) -> Any:
    """An unguarded form of a guarded expression, kept when it holds no NaN; else ``generic()``.

    For expressions whose unguarded value is NaN at *every* entry the guard
    would change (``0·inf``, ``0·log 0``): a NaN-free result then means no
    entry is guarded, and the guard's ``where`` s are identities in value and
    gradient, so the unguarded form *is* the generic body there.  Eager CPU
    only (NumPy; torch outside ``torch.compile``), where the NaN test is a
    cheap reduction and no trace or device sync is at stake; ``torch_form(torch)``
    (differentiable, out of place) or ``numpy_form(np)`` (warnings silenced, may
    work in place on its own temporaries) compute the unguarded value of
    ``arrays``, which share a dtype.  Inputs holding a NaN pay both forms.

    ``reduce`` (optional) maps the terms to the result the caller wants, with a
    NaN in its output wherever a term is NaN (an unmasked sum, terms added
    first): the result is returned, and the NaN test reads it instead of every
    term, one pass over the terms fewer.
    """
    native = _native(xp)
    if all(a.ndim for a in arrays) and _eager_cpu(xp, arrays[0]):
        out = None
        if native == "torch":
            out = torch_form(_torch())
        elif (np_ := _np_like(native, *arrays)) is not None:
            with _errstate(np_):
                out = numpy_form(np_)
        if out is not None:
            if reduce is not None:
                out = reduce(out)
            if not _holds_nan(native, out):
                return out
    out = generic()
    return out if reduce is None else reduce(out)


def _np_exp_minus_product(np_: Any, x: Any, y: Any) -> Any:
    out = np_.multiply(y, x)
    return np_.subtract(np_.exp(x), out, out=out)


def exp_minus_product(x: Any, y: Any, *, xp: Any) -> Any:
    """``exp(x) - y·x`` with ``0·(±inf) = 0``: the Poisson NLL of log-rates ``x``, counts ``y``.

    Generic body: ``y·x`` through :func:`guarded` (values and gradients
    finite at ``y = 0``, ``x = ±inf``; the derivative in ``y`` stays ``-x``).
    Fast paths (:func:`_unguarded_unless_nan`): torch's ``addcmul(exp(x), y,
    x, value=-1)``, one kernel fewer than torch's own ``poisson_nll_loss``;
    NumPy in place.
    """
    return _unguarded_unless_nan(
        xp,
        (x, y),
        lambda torch: torch.addcmul(torch.exp(x), y, x, value=-1.0),
        lambda np_: _np_exp_minus_product(np_, x, y),
        lambda: (
            xp.exp(x)
            - guarded(lambda y, x: y * x, (y == 0) & xp.isinf(x), (y, x), (None, 0.0), xp=xp)
        ),
    )


def _np_exp_times_difference(np_: Any, a: Any, b: Any) -> Any:
    out = np_.subtract(a, b)
    out *= np_.exp(a)
    return out


def exp_times_difference(a: Any, b: Any, *, xp: Any, reduce: Any = None) -> Any:
    """``exp(a)·(a - b)``, 0 where ``a = -inf``: the terms of a KL divergence with log targets.

    Generic body: :func:`guarded` (values and gradients finite at ``a = -inf``,
    whatever ``b``); only ``a`` is replaced there: ``b``'s derivative is
    ``-exp(a) = -1`` at the fill, finite even where ``b`` is infinite, and
    the selects' gradients drop the rest (one select fewer under ``jax.jit``:
    3.14 → 3.04 ms at 4096×1000, optax's unguarded form 2.72).  Fast paths
    (:func:`_unguarded_unless_nan`; NaN at ``a = -inf``: ``0·(-inf - b)``):
    torch's ``kl_div(b, a, log_target=True)`` for ``b`` of ``a``'s shape,
    NumPy in place.  ``reduce``: see :func:`_unguarded_unless_nan` (returns
    ``reduce(terms)``).
    """
    return _unguarded_unless_nan(
        xp,
        (a, b),
        lambda torch: (
            torch.nn.functional.kl_div(b, a, reduction="none", log_target=True)
            if a.shape == b.shape
            else None
        ),
        lambda np_: _np_exp_times_difference(np_, a, b),
        lambda: guarded(lambda a, b: xp.exp(a) * (a - b), a == -xp.inf, (a, b), (0.0, None), xp=xp),
        reduce,
    )


def _np_xlog_ratio(np_: Any, t: Any, lp: Any) -> Any:
    out = np_.log(t)
    if out.shape == np_.broadcast_shapes(out.shape, lp.shape):
        out -= lp
    else:  # lp broadcasts t: a new array of the larger shape
        out = out - lp
    out *= t
    return out


def xlog_ratio(t: Any, lp: Any, *, xp: Any, reduce: Any = None) -> Any:
    """``t·(log t - lp)``, 0 where ``t = 0`` (values and gradients): the terms of a KL divergence.

    Generic body: :func:`guarded`.  Fast paths (:func:`_unguarded_unless_nan`;
    NaN at ``t = 0``: ``0·(-inf - lp)``): torch out of place, NumPy in place.
    (torch's ``kl_div`` takes ``xlogy``, finite at ``t = 0``, with a gradient
    there that is not the guard's: not a candidate.)  ``reduce``: see
    :func:`_unguarded_unless_nan` (returns ``reduce(terms)``).
    """
    return _unguarded_unless_nan(
        xp,
        (t, lp),
        lambda torch: t * (torch.log(t) - lp),
        lambda np_: _np_xlog_ratio(np_, t, lp),
        lambda: guarded(lambda t, lp: t * (xp.log(t) - lp), t == 0, (t, lp), (1.0, 0.0), xp=xp),
        reduce,
    )


def _np_masked_terms_sum(np_: Any, a: Any, keep_a: Any, b: Any, keep_b: Any) -> Any:
    p = np_.multiply(a, keep_a)
    q = np_.multiply(b, keep_b)
    if p.shape == np_.broadcast_shapes(p.shape, q.shape):
        return np_.add(p, q, out=p)
    return p + q


def masked_terms_sum(a: Any, keep_a: Any, b: Any, keep_b: Any, *, xp: Any) -> Any:
    """``where(keep_a, a, 0) + where(keep_b, b, 0)`` (boolean ``keep_*``), values and gradients.

    Fast paths (:func:`_unguarded_unless_nan`): ``a·keep_a + b·keep_b``, which
    differs from the ``where`` s only where a dropped term is infinite or NaN,
    and is NaN there (``0·inf``); torch out of place, NumPy on its own
    temporaries (a ``where`` there costs several multiplications).
    """
    return _unguarded_unless_nan(
        xp,
        (a, b),
        lambda torch: a * keep_a + b * keep_b,
        lambda np_: _np_masked_terms_sum(np_, a, keep_a, b, keep_b),
        lambda: xp.where(keep_a, a, 0.0) + xp.where(keep_b, b, 0.0),
    )


def straight_through_clamp(x: Any, lo: float, *, xp: Any) -> Any:
    """``max(x, lo)`` in value, ``x`` in gradient (torch's ``gaussian_nll_loss`` variance).

    Generic body ``x + stop_gradient(clamp(x, lo) - x)``; fast path where no
    gradient will pass (NumPy; torch without ``requires_grad``): the clamp alone.
    """
    if x.ndim and _no_gradients(_native(xp), (x,)):
        return clamp(x, lo=lo, xp=xp)
    return x + stop_gradient(clamp(x, lo=lo, xp=xp) - x, xp=xp)


def xlogy(x: Any, y: Any, *, xp: Any) -> Any:
    """``x·log(y)``, defined as 0 where ``x == 0`` (values and gradients)."""
    return guarded(lambda x, y: x * xp.log(y), x == 0, (x, y), (None, 1.0), xp=xp)


def label_cross_entropy(x: Any, labels: Any, *, axis: int, xp: Any) -> Any:
    """``logsumexp(x, axis) - x[label]`` = ``-log softmax(x)[label]`` along ``axis``.

    ``labels`` has the shape of ``x`` without ``axis`` and holds valid class
    indices (callers replace invalid ones first).  No one-hot is built.  Fast
    path: torch's fused ``cross_entropy`` (log-softmax and gather in native
    kernels) in eager mode; the generic body elsewhere (it is what
    ``torch.compile`` and XLA fuse best, and on NumPy its ``logsumexp`` keeps
    one temporary of ``x``'s size).
    """
    if _native(xp) == "torch" and x.ndim and not _torch().compiler.is_compiling():
        torch = _torch()
        if labels.dtype != torch.int64:
            labels = labels.to(torch.int64)
        logits = x if x.ndim == 1 or axis % x.ndim == 1 else torch.movedim(x, axis, 1)
        return torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    return logsumexp(x, axis=axis, xp=xp) - take_labels(x, labels, axis=axis, xp=xp)


# torch's cross_entropy ignores the targets equal to ``ignore_index`` (default -100);
# the most negative int64 is the one value no class index or plausible label takes.
_NO_IGNORE = -(2**63)


def self_checked_label_cross_entropy(x: Any, labels: Any, *, axis: int, xp: Any) -> Any:
    """:func:`label_cross_entropy` where the backend's kernel validates the labels itself.

    torch's fused ``cross_entropy`` on the CPU raises for a target outside
    ``[0, C)``, so on eager CPU torch the separate range check (a reduction
    and two host reads, ~2 µs, more than the loss itself on small batches) is
    left to it.  Returns the loss, or ``None`` where there is no such kernel
    (other backends, GPUs, ``torch.compile``, fast paths off) or it rejected
    a label: the caller then checks the labels itself and raises its own
    ``ValueError``.  No target is ignored (torch's ``ignore_index`` is set to
    the most negative int64, which the caller's check would report).
    """
    if not _eager_cpu(xp, x) or _native(xp) != "torch" or not x.ndim:
        return None
    torch = _torch()
    if labels.dtype != torch.int64:
        labels = labels.to(torch.int64)
    logits = x if x.ndim == 1 or axis % x.ndim == 1 else torch.movedim(x, axis, 1)
    return torch_fused(
        xp, "cross_entropy", logits, labels, reduction="none", ignore_index=_NO_IGNORE
    )


def torch_fused(xp: Any, name: str, x: Any, *args: Any, **kwargs: Any) -> Any:
    """``torch.nn.functional.<name>(x, *args, **kwargs)`` on eager CPU torch, else ``None``.

    For losses whose per-example core *is* one of torch's fused kernels (the
    torch-style cores of ``xlosses.functional`` and ``margins``): the kernel
    checks the targets, shapes and weights itself, which saves a separate range
    check (a reduction and host reads) and a dozen small kernels, the per-call
    cost of a small batch.  ``None`` on other backends, GPUs, inside
    ``torch.compile`` (inductor fuses the generic body), with fast paths off,
    and when the kernel refuses its arguments: the caller then runs its own
    generic body, whose checks raise xlosses' own ``ValueError`` or ``TypeError``.
    Callers pass arrays in the compute dtype and integer targets as int64.
    """
    if not _eager_cpu(xp, x) or _native(xp) != "torch" or not x.ndim:
        return None
    try:
        return getattr(_torch().nn.functional, name)(x, *args, **kwargs)
    except (IndexError, RuntimeError, ValueError):  # refused: the caller reports it
        return None


def _torch_index_target(target: Any) -> Any:
    """``target`` as int64, or ``None`` unless it is a torch integer (not bool) tensor."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(target, torch.Tensor):
        return None
    dt = target.dtype
    if dt == torch.bool or dt.is_floating_point or dt.is_complex:
        return None
    return target if dt == torch.int64 else target.to(torch.int64)


def _torch_fixed_weight(weight: Any, work: Any) -> tuple[bool, Any]:
    """``(usable, weight in work)``: a floating weight that needs no gradient (torch's
    fused kernels give none to a weight)."""
    if weight is None:
        return True, None
    if not weight.dtype.is_floating_point or (weight.requires_grad and _torch().is_grad_enabled()):
        return False, None  # the generic body reports a non-floating weight
    return True, weight if weight.dtype == work else weight.to(work)


def torch_class_index_loss(
    kind: str,
    input: Any,
    target: Any,
    weight: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    work: Any,
    *,
    xp: Any,
) -> Any:
    """:func:`torch_fused` for ``functional.cross_entropy`` / ``nll_loss`` with class indices
    (``None`` for floating targets: probabilities take the generic body)."""
    if _native(xp) != "torch":
        return None
    t = _torch_index_target(target)
    ok, w = _torch_fixed_weight(weight, work)
    if t is None or not ok:
        return None
    x = input if input.dtype == work else input.to(work)
    kw = {"weight": w, "ignore_index": ignore_index, "reduction": reduction}
    if kind == "cross_entropy":
        kw["label_smoothing"] = label_smoothing
    return torch_fused(xp, kind, x, t, **kw)


def torch_small_binary_cross_entropy(
    p: Any, y: Any, weight: Any, reduction: str, *, xp: Any
) -> Any:
    """torch's fused ``binary_cross_entropy`` for ``functional.binary_cross_entropy`` (compute
    dtype, same shapes), or ``None``: the generic body then runs.

    The kernel's values are the generic body's (the logarithms clamped at
    -100), and it refuses probabilities outside ``[0, 1]`` itself, which
    saves the range check's two reductions and host reads; its derivative
    divides by ``max(p(1 - p), 1e-12)`` where the generic body's is exact, so
    it runs only where no gradient will pass.  Below ``_LARGE`` entries only:
    one call against a dozen small kernels, while on large batches torch's
    serial CPU kernel is slower than the generic body (100 ms against 59 ms at
    4096x1000 on one thread).
    """
    if _native(xp) != "torch" or _large(p) or not _no_gradients("torch", (p, y)):
        return None
    ok, w = _torch_fixed_weight(weight, p.dtype)
    if not ok:
        return None
    return torch_fused(xp, "binary_cross_entropy", p, y, weight=w, reduction=reduction)


def torch_margin_loss(kind: str, x: Any, target: Any, *, xp: Any, **kwargs: Any) -> Any:
    """:func:`torch_fused` for the per-example cores of torch's ``multi_margin_loss`` and
    ``multilabel_margin_loss`` (``x`` of shape ``[C]`` or ``[N, C]``, compute dtype).

    Scores holding a NaN take the generic body, which keeps the NaN in its row;
    so do ``multi_margin_loss`` batches of more than ``_SMALL`` scores.
    """
    if not _eager_cpu(xp, x) or _native(xp) != "torch" or x.ndim > 2:
        return None
    if kind == "multi_margin_loss" and math.prod(x.shape) > _SMALL:
        return None  # torch's CPU kernel loops per example: the generic body wins (0.5x)
    # torch's kernels skip a NaN margin (z > 0 is False); xlosses keeps it.  (A NaN sum: a
    # NaN, or +inf and -inf, which the generic body also handles; cheaper than isnan.any.)
    if math.isnan(x.detach().sum().item()):
        return None
    t = _torch_index_target(target)
    ok, w = _torch_fixed_weight(kwargs.pop("weight", None), x.dtype)
    if t is None or not ok:
        return None
    if w is not None:
        kwargs["weight"] = w
    return torch_fused(xp, kind, x, t, reduction="none", **kwargs)


def soft_label_cross_entropy(x: Any, y: Any, *, axis: int, xp: Any) -> Any:
    """``-sum(y · log_softmax(x), axis)`` for probability labels ``y`` of ``x``'s shape.

    Fast path: torch's fused ``cross_entropy`` with probability targets (the
    same formula) in eager mode.
    """
    if (
        _native(xp) == "torch"
        and x.ndim
        and x.shape == y.shape
        and x.dtype == y.dtype
        and not _torch().compiler.is_compiling()
    ):
        torch = _torch()
        if x.ndim > 1 and axis % x.ndim != 1:
            x, y = torch.movedim(x, axis, 1), torch.movedim(y, axis, 1)
        return torch.nn.functional.cross_entropy(x, y, reduction="none")
    return -xp.sum(y * log_softmax(x, axis=axis, xp=xp), axis=axis)


def value_range(x: Any, *, xp: Any) -> tuple[Any, Any]:
    """``(min(x), max(x))`` as Python numbers, for eager value checks (never traced).

    Fast paths: ``torch.aminmax`` (one kernel) and the NumPy methods, which
    skip array_api_compat's wrappers; this check runs on every eager CPU call.
    """
    native = _native(xp)
    if native == "torch":
        lo, hi = _torch().aminmax(x)
        return lo.item(), hi.item()
    if native == "numpy":
        return x.min().item(), x.max().item()
    return xp.min(x).__index__(), xp.max(x).__index__()


def take_labels(x: Any, labels: Any, *, axis: int, xp: Any) -> Any:
    """``x[..., labels, ...]`` along ``axis``: the entry each label points at.

    ``labels`` has the shape of ``x`` without ``axis``; it must hold valid
    indices in ``[0, n)`` (callers check or replace invalid ones first).  No
    one-hot is built (for namespaces without ``take_along_axis``,
    :func:`gather` compares and sums).

    Fast path (NumPy/CuPy, C-contiguous ``x``, last axis): one flat take at
    ``row · n + label``.  NumPy's ``take_along_axis`` builds broadcast index
    grids and indexes in two dimensions: 40 µs against 17 µs for 4096 rows of
    1000, 5.4 µs against 2 µs for 8 rows.
    """
    m = _np_like(_native(xp), x, labels)
    if (
        m is not None
        and axis % x.ndim == x.ndim - 1
        and x.shape[-1]
        and labels.shape == x.shape[:-1]
        and x.flags.c_contiguous
    ):
        offsets = m.arange(0, x.size, x.shape[-1], dtype=m.intp)
        flat = m.add(labels.reshape(-1), offsets, dtype=m.intp)
        return x.reshape(-1)[flat].reshape(labels.shape)
    idx = xp.expand_dims(labels, axis=axis)
    return xp.squeeze(gather(x, idx, axis=axis, xp=xp), axis=axis)


def stop_gradient(x: Any, *, xp: Any) -> Any:
    """``x`` as a constant for automatic differentiation (value unchanged).

    ``Tensor.detach`` on torch, ``jax.lax.stop_gradient`` on JAX; the identity
    on libraries without automatic differentiation.  This is semantics, not a
    fast path: :func:`generic_only` does not switch it off.
    """
    lib = _library(xp)
    if lib == "torch":
        return x.detach()
    if lib == "jax":
        return sys.modules["jax"].lax.stop_gradient(x)
    return x


def map_rows(fn: Any, x: Any, *, xp: Any) -> Any:
    """``fn`` applied to every 1-D slice ``x[..., :]``; an array of shape ``x.shape[:-1]``.

    ``fn`` maps a vector to a 0-D array.  JAX uses ``jnp.vectorize`` (as optax
    does), torch ``torch.func.vmap``, Dask one task per chunk of rows
    (:func:`_dask_map_rows`, lazy, chunked like the leading axes of ``x``,
    in ``x``'s dtype); the generic body loops over the rows (eager, or
    unrolled while tracing) and stacks the results.
    """
    native = _native(xp)
    if native == "jax":
        return sys.modules["jax"].numpy.vectorize(fn, signature="(n)->()")(x)
    if native == "dask":
        return _dask_map_rows(fn, x)
    batch = tuple(x.shape[:-1])
    flat = xp.reshape(x, (-1, x.shape[-1]))
    if native == "torch":
        out = _torch().func.vmap(fn)(flat)
    else:
        out = _loop_rows(fn, flat, xp=xp)
    return xp.reshape(out, batch)


def _loop_rows(fn: Any, flat: Any, *, xp: Any) -> Any:
    """``fn`` of each row of the 2-D array ``flat``, stacked: shape ``[rows]``."""
    if flat.shape[0] == 0:
        return xp.zeros((0,), dtype=flat.dtype, device=_device(flat))
    return xp.stack([fn(flat[i, ...]) for i in range(flat.shape[0])])


def _dask_map_rows(fn: Any, x: Any) -> Any:
    """:func:`map_rows` on a Dask array: ``fn`` on the rows of each chunk, in one task per chunk.

    The last axis is rechunked to one chunk (a row is needed whole); each
    task loops over the rows of its chunk, a NumPy (or CuPy) array, so ``fn``
    sees the chunk's library, and the result is chunked like the leading axes
    of ``x``.  The output dtype must be known before anything is computed:
    it is ``x``'s (each chunk's result is cast to it).  Lazy: the graph is
    built from ``x``'s metadata, without calling ``fn``.
    """
    import array_api_compat

    da = sys.modules["dask.array"]
    last = x.ndim - 1
    x = x.rechunk({last: -1})

    def rows(block: Any) -> Any:
        bxp = array_api_compat.array_namespace(block)
        out = _loop_rows(fn, bxp.reshape(block, (-1, block.shape[-1])), xp=bxp)
        return bxp.reshape(bxp.astype(out, block.dtype), tuple(block.shape[:-1]))

    meta = da.utils.meta_from_array(x, ndim=last)
    return da.map_blocks(rows, x, drop_axis=last, dtype=x.dtype, meta=meta, token="map_rows")


def _device(x: Any) -> Any:
    import array_api_compat

    return array_api_compat.device(x)


def sparsemax(x: Any, *, axis: int = -1, xp: Any) -> Any:
    r"""Euclidean projection of ``x`` onto the probability simplex along ``axis``.

    ``p = max(x - τ, 0)`` with ``τ`` chosen so that ``Σ p = 1`` (Martins and
    Astudillo, 2016).  Sorted once (``xp.sort``), cumulative sums
    (``xp.cumulative_sum``) give the support size ``k`` by counting; ``τ`` is
    then the mean of the support in the original order minus ``1/k``, so its
    gradient needs no sort backward and equals the projection's Jacobian
    (``p`` is 0 off the support; on it, ``dp = dx - mean(dx over support)``).
    No data-dependent shape: every array has the shape of ``x``.  Fast path
    for NumPy and eager CPU torch without gradients: ``τ`` from the sorted
    cumulative sum at ``k`` (three passes fewer) where no row total is NaN.
    """
    n = x.shape[axis]
    z = x - _safe_max(x, axis, xp=xp)  # exact differences near the top
    # values only: a stable sort (the standard's default) is several times slower for floats
    u = xp.sort(z, axis=axis, descending=True, stable=False)
    shape = [1] * x.ndim
    shape[axis] = n
    k = xp.reshape(xp.arange(1, n + 1, dtype=x.dtype, device=_device(x)), tuple(shape))
    cs = xp.cumulative_sum(u, axis=axis)
    cond = 1.0 + k * u > cs
    # at least 1 (a NaN row counts 0 and would index out of range)
    # counts by sums of explicit dtypes (count_nonzero gives the default integer dtype,
    # 64-bit where that exists even for int32 indices)
    size = xp.sum(xp.astype(cond, xp.int32), axis=axis, keepdims=True, dtype=xp.int32)
    size = xp.where(size > 0, size, 1)
    native = _native(xp)
    if (
        native in ("numpy", "torch")
        and _eager_cpu(xp, x)
        and _no_gradients(native, (x,))
        and not _holds_nan(native, xp.take(cs, xp.asarray([n - 1], device=_device(x)), axis=axis))
    ):
        # no gradient to keep off the sort: tau from the sorted cumulative sum at the support
        # size (three passes fewer; the same sum of the same values, in sorted order).  A row
        # holding a NaN (a NaN total) takes the generic body, which keeps it in the loss.
        top = xp.squeeze(size - 1, axis=axis)
        total = xp.expand_dims(take_labels(cs, top, axis=axis, xp=xp), axis=axis)
        tau = (total - 1.0) / xp.astype(size, x.dtype)
        return xp.where(z > tau, z - tau, 0.0)
    # through take_labels: Dask's namespace has no take_along_axis
    kth = xp.expand_dims(
        take_labels(u, xp.squeeze(size - 1, axis=axis), axis=axis, xp=xp), axis=axis
    )
    # the support in the original order; ties with the k-th value are inside it
    supp = z >= kth
    count = xp.sum(xp.astype(supp, x.dtype), axis=axis, keepdims=True)
    tau = (xp.sum(xp.where(supp, z, 0.0), axis=axis, keepdims=True) - 1.0) / count
    return xp.where(z > tau, z - tau, 0.0)


def safe_pow(x: Any, p: float, *, xp: Any) -> Any:
    """``x**p`` for ``x >= 0`` that is 0 at ``x == 0`` with a gradient of 0 there.

    For ``p < 1`` the derivative ``p·x**(p-1)`` is infinite at 0; the double
    where keeps it out of the gradient.  NaN stays NaN.
    """
    nz = x != 0
    return xp.where(nz, xp.where(nz, x, 1.0) ** p, 0.0)


def inverse_sqrt(n2: Any, floor: Any, *, xp: Any) -> Any:
    """``1 / sqrt(max(n2, floor))`` for squared norms ``n2 ≥ 0`` (optax's ``epsilon``), and
    0, with a zero gradient, where that maximum is 0 (a zero vector with ``floor <= 0``)
    instead of ``1/0``; NaN stays NaN.

    Generic body: ``where`` clips and guards (a ``minimum`` with a scalar is
    Python-level in array_api_compat's torch and breaks ``torch.compile``).
    Fast path for JAX: ``1/sqrt(maximum(n2, floor))``, and for ``floor <= 0``
    ``sign(n2)/sqrt(maximum(n2, tiny))`` (``sign`` is 0 exactly at 0, and its
    derivative 0): XLA's CPU backend keeps these in the fusion of the
    reductions around them, which a ``select`` splits into three passes
    (cosine similarity 1.1-1.3x optax).  XLA flushes subnormal ``n2`` to 0
    (and the generic body with it), so the floor ``tiny`` changes no value there.
    Eager torch (a number ``floor``): the generic steps in torch's own
    operations (``clamp_min``, ``rsqrt``), without the scalar tensors of
    array_api_compat's ``where``.
    """
    positive = isinstance(floor, (int, float)) and floor > 0  # else a number <= 0 or an array
    if _native(xp) == "jax":
        jnp = sys.modules["jax.numpy"]
        m = jnp.maximum(n2, floor)
        if positive:
            return 1.0 / jnp.sqrt(m)
        return jnp.sign(m) / jnp.sqrt(jnp.maximum(m, float(jnp.finfo(m.dtype).tiny)))
    if _torch_eager(xp) and n2.ndim and isinstance(floor, (int, float)):
        # the same steps in torch's own operations: clamp_min (derivative 1 at the floor, as
        # the where), rsqrt (1/sqrt on the CPU; an approximation on CUDA: 1/sqrt there), and
        # no scalar tensors: 4 kernels instead of 7 for a small batch
        torch = _torch()
        m = torch.clamp_min(n2, floor)
        inv = torch.rsqrt if m.is_cpu else (lambda v: torch.reciprocal(torch.sqrt(v)))
        if positive:
            return inv(m)
        nz = m != 0
        return torch.where(nz, inv(torch.where(nz, m, 1.0)), 0.0)
    n2 = xp.where(n2 < floor, floor, n2)
    if positive:
        return 1.0 / xp.sqrt(n2)
    nz = n2 != 0  # NaN stays NaN
    return xp.where(nz, 1.0 / xp.sqrt(xp.where(nz, n2, 1.0)), 0.0)


def scaled_dot(a: Any, b: Any, sa: Any, sb: Any, *, axis: Axis, where: Any = None, xp: Any) -> Any:
    """``sum(a·b, axis) · sa · sb`` with ``sa``, ``sb`` of the sum's shape (keepdims): the dot
    product of ``a`` and ``b`` rescaled (a cosine from inverse norms); entries where
    ``where`` is False are left out.

    Generic body: one product ``a·b``, reduced, then scaled (no full-size
    temporaries beyond it on eager libraries).  Fast path for JAX:
    ``sum((a·sa)·(b·sb))``, the same value up to rounding, which XLA's CPU
    backend runs about 5 % faster within one fusion with the norms.
    """
    if _native(xp) == "jax":
        jnp = sys.modules["jax.numpy"]
        prod = (a * sa) * (b * sb)
        if where is not None:
            prod = jnp.where(where, prod, 0.0)
        return jnp.sum(prod, axis=axis, keepdims=True)
    prod = a * b
    if where is not None:
        prod = xp.where(where, prod, 0.0)
    return xp.sum(prod, axis=axis, keepdims=True) * (sa * sb)


def vector_norm(x: Any, p: float, *, axis: Axis = -1, keepdims: bool = False, xp: Any) -> Any:
    """The ``p``-norm ``(sum |x|**p)**(1/p)`` along ``axis``, without overflow or underflow.

    ``p`` is a Python number: ``inf`` gives ``max |x|``, ``0`` the number of
    non-zero entries.  For finite ``p > 0`` the largest ``|x|`` is factored
    out (``m · (sum (|x|/m)**p)**(1/p)``), so large or tiny entries neither
    overflow nor vanish.  A zero vector has norm 0 and gradient 0 (the
    subgradient torch uses), for every ``p``.  Fast path for ``p = 2`` on
    NumPy and eager torch CPU: :func:`_eager_norm2`.
    """
    native = _native(xp)
    if p == 2 and _eager_cpu(xp, x) and x.ndim:
        return _eager_norm2(native, x, axis, keepdims, xp)
    return _scaled_norm(x, p, axis, keepdims, xp)


def _eager_norm2(native: str | None, x: Any, axis: Axis, keepdims: bool, xp: Any) -> Any:
    """NumPy / eager torch CPU fast path of :func:`vector_norm` for ``p = 2``.

    The library's own unscaled norm (one pass), kept wherever it can be trusted:
    finite, and at least ``sqrt(tiny)/eps``, so that squares that underflowed
    change it by less than a rounding error.  Rows outside that range (zero
    vectors, tiny or huge entries, NaN) take the scaled generic body; eager
    CPU arrays make the test of values free (:func:`_eager_cpu`).
    """
    if native == "numpy":
        np_ = sys.modules["numpy"]
        norm = getattr(np_.linalg, "vector_norm", None)  # NumPy >= 2.0
        with np_.errstate(over="ignore", under="ignore", invalid="ignore"):
            plain = (
                norm(x, axis=axis, keepdims=True)
                if norm is not None
                else np_.sqrt(np_.sum(x * x, axis=axis, keepdims=True))
            )
    else:
        plain = _torch().linalg.vector_norm(x, 2, dim=axis, keepdim=True)
    fi = xp.finfo(x.dtype)
    floor = math.sqrt(float(fi.smallest_normal)) / float(fi.eps)
    # the range of the norms (one kernel on torch) decides for the usual all-trusted case;
    # a NaN makes both ends NaN, and the comparisons False
    lo, hi = value_range(plain, xp=xp) if math.prod(plain.shape) else (floor, 0.0)
    if not (lo >= floor and hi < math.inf):
        ok = (plain >= floor) & (plain < math.inf)
        plain = xp.where(ok, plain, _scaled_norm(x, 2, axis, True, xp))
    return plain if keepdims else xp.squeeze(plain, axis=axis)


def _scaled_norm(x: Any, p: float, axis: Axis, keepdims: bool, xp: Any) -> Any:
    """The generic body of :func:`vector_norm`: the largest ``|x|`` factored out."""
    a = xp.abs(x)
    if p == 0:
        return xp.sum(xp.astype(a != 0, x.dtype), axis=axis, keepdims=keepdims)
    m = xp.max(a, axis=axis, keepdims=True)
    if p == float("inf"):
        return m if keepdims else xp.squeeze(m, axis=axis)
    nz = m != 0  # NaN rows stay NaN
    # The norm is homogeneous: its derivative in the factor m is exactly 0.  Holding m
    # constant for autodiff gives d/da_i = r_i^(p-1)·s^(1/p-1) directly, where a derivative
    # through a / m would form a / m², which overflows or underflows for the very rows the
    # scaling is for (entries near 1e30 or 1e-30 in float32: wrong or NaN gradients).
    m_c = stop_gradient(xp.where(nz, m, 1.0), xp=xp)
    r = a / m_c
    s = xp.sum(r * r if p == 2 else safe_pow(r, p, xp=xp), axis=axis, keepdims=True)
    # s >= 1 where m > 0 (the largest entry contributes 1); s == 0 on a zero vector
    s = xp.where(nz, s, 1.0)
    root = xp.sqrt(s) if p == 2 else s ** (1.0 / p)
    out = xp.where(nz, m_c * root, 0.0)  # a zero vector: norm 0, gradient 0
    return out if keepdims else xp.squeeze(out, axis=axis)


def relu(x: Any, *, tie: float = 1.0, owned: bool = False, xp: Any) -> Any:
    """``max(x, 0)`` whose derivative at ``x == 0`` is ``tie``; NaN stays NaN.

    ``tie=1.0``: torch's ``clamp_min(x, 0)`` (the embedding and ranking losses);
    ``tie=0.5``: JAX's ``maximum(x, 0)`` (optax's hinge and perceptron losses);
    ``tie=0.0``: ``relu`` (torch's margin losses).  Fast paths, each with the
    same derivative at 0: NumPy/CuPy ``maximum(x, 0)`` (no gradients there;
    ``where`` costs several times an arithmetic pass in NumPy; with ``owned``,
    which says that ``x`` is a temporary the caller made and drops, in place
    on it: one allocation fewer), torch ``clamp_min`` / ``relu`` /
    ``maximum``, JAX ``maximum`` / ``jax.nn.relu``.
    """
    native = _native(xp)
    if native is not None and x.ndim:
        if native in _NUMPY_LIKE:
            m = sys.modules[native]
            return m.maximum(x, 0, out=x) if owned else m.maximum(x, 0)
        if native == "torch":
            torch = _torch()
            if tie == 1.0:
                return torch.clamp_min(x, 0)
            if tie == 0.0:
                return torch.relu(x)
            if tie == 0.5:
                return torch.maximum(x, x.new_zeros(()))
        if native == "jax":
            if tie == 0.5:
                return sys.modules["jax"].numpy.maximum(x, 0)
            if tie == 0.0:
                return _jax_nn().relu(x)
    if tie == 1.0:
        return xp.where(x < 0, 0.0, x)
    if tie == 0.0:
        return xp.where(x <= 0, 0.0, x)
    if tie == 0.5:
        return xp.where(x < 0, 0.0, xp.where(x > 0, x, 0.5 * x))
    raise ValueError(f"tie must be 0.0, 0.5 or 1.0, got {tie!r}")


def clamp(x: Any, *, lo: float | None = None, hi: float | None = None, xp: Any) -> Any:
    """``x`` clipped to ``[lo, hi]`` (Python-number bounds) as torch's ``clamp``.

    The derivative is 1 inside and *at* the bounds, 0 outside; NaN stays NaN.
    Generic body: one ``where`` per bound (array_api_compat's ``clip`` and
    scalar ``minimum`` are Python-level on torch and break ``torch.compile``).
    Fast paths with the same derivative: NumPy/CuPy ``minimum``/``maximum``
    (no gradients; NumPy's ``where`` on an unpredictable mask costs several
    arithmetic passes), torch ``clamp``.
    """
    native = _native(xp)
    if native is not None and x.ndim:
        if native in _NUMPY_LIKE:
            np_ = sys.modules[native]
            if lo is not None:
                x = np_.maximum(x, lo)
            return x if hi is None else np_.minimum(x, hi)
        if native == "torch":
            return _torch().clamp(x, lo, hi)
    if lo is not None:
        x = xp.where(x < lo, lo, x)
    return x if hi is None else xp.where(x > hi, hi, x)


def squared_difference(x: Any, t: Any, *, xp: Any) -> Any:
    """``(x - t)²`` (``x²`` when ``t`` is None).  Fast path: torch's fused
    ``mse_loss(reduction='none')`` in eager mode for ``t`` of ``x``'s shape (one kernel,
    not two; inductor fuses the generic body itself)."""
    if _torch_eager(xp) and t is not None and x.ndim and x.shape == t.shape:
        return _torch().nn.functional.mse_loss(x, t, reduction="none")
    e = x if t is None else x - t
    return e * e


def huber(x: Any, t: Any, delta: Any, *, xp: Any) -> Any:
    """Huber loss of ``e = x - t`` (of ``x`` when ``t`` is None), ``δ`` a number or an array.

    ``½q² + δ(|e| - q)`` with ``q = min(|e|, δ)``: branch-free, the square only
    ever of at most ``δ`` (no overflow into the gradient); derivative ``e``
    clipped to ``[-δ, δ]``, 0 at ``e = 0``.  Fast path: torch's fused
    ``huber_loss`` (the same derivatives) in eager mode, for a positive
    number ``δ`` and ``t`` of ``x``'s shape.
    """
    if (
        _torch_eager(xp)
        and t is not None
        and isinstance(delta, (int, float))
        and delta > 0
        and x.ndim
        and x.shape == t.shape
    ):
        return _torch().nn.functional.huber_loss(x, t, reduction="none", delta=float(delta))
    e = x if t is None else x - t
    a = abs_value(e, xp=xp)
    q = clamp(a, hi=delta, xp=xp) if isinstance(delta, (int, float)) else xp.minimum(a, delta)
    return 0.5 * (q * q) + delta * (a - q)


def abs_value(x: Any, *, xp: Any) -> Any:
    """``|x|`` whose derivative at ``x == 0`` is 0 on every backend (torch's); NaN stays NaN.

    Generic body ``x·sign(x)`` (JAX's ``abs`` has derivative 1 at 0); fast
    paths NumPy/CuPy ``abs`` (no gradients) and torch ``abs`` (derivative 0 at 0).
    """
    native = _native(xp)
    if native is not None and x.ndim and (native in _NUMPY_LIKE or native == "torch"):
        return xp.abs(x)
    return x * xp.sign(x)


# log cosh a = log cosh(min(a, c)) + max(a - c, 0) to rounding once e^{-2c} is below
# float64's epsilon (c = 20: e^{-40} = 4e-18); sinh(c/2)^2 = 1.2e8 stays far from overflow
_LOG_COSH_LINEAR = 20.0
_LOG2 = math.log(2.0)
# below this |e| the generic body sums the Taylor series of log cosh (the far form's
# cancellation there costs up to 0.7·eps/(e²/2), about 6 eps at 0.5)
_LOG_COSH_SERIES = 0.5


@functools.cache
def _log_cosh_series(eps: float) -> tuple[float, ...]:
    """Taylor coefficients ``c_k`` of ``log cosh e = Σ c_k e^{2k}`` (``k ≥ 1``), as many as
    ``|e| ≤ 0.5`` needs for a truncation error below ``eps/8`` of the value.

    ``c_k = 2^{2k}(2^{2k} - 1) B_{2k} / (2k (2k)!)`` from the Bernoulli numbers, in exact
    rational arithmetic (7 terms for float32, 16 for float64)."""
    from fractions import Fraction

    bern = [Fraction(1)]
    coeffs: list[float] = []
    z = _LOG_COSH_SERIES**2
    for m in range(1, 80):
        bern.append(-sum(math.comb(m + 1, k) * bern[k] for k in range(m)) / (m + 1))
        if m % 2:
            continue
        c = Fraction(2**m * (2**m - 1)) * bern[m] / (m * math.factorial(m))
        if abs(float(c)) * z ** (m // 2) < eps * z / 16:  # this term is below the budget
            break
        coeffs.append(float(c))
    return tuple(coeffs)


def log_cosh(e: Any, *, xp: Any) -> Any:
    """``log(cosh(e))`` to full relative precision for every finite ``e``; derivative ``tanh e``.

    Generic body (what XLA and inductor fuse best): ``|e| - log 2 +
    log1p(exp(-2|e|))`` (one ``exp``, one ``log1p``, as optax's form; it never
    overflows) for ``|e| ≥ 0.5``, where its cancellation costs at most a few
    ulp, and below that the Taylor series in ``e²`` by Horner (7 terms for
    float32, 16 for float64: a few fused multiply-adds, cheaper than the
    ``expm1`` and division of an exact closed form), joined by one ``where``;
    the series sees ``min(|e|, 0.5)``, so neither branch overflows in value or
    gradient.  Fast paths (NumPy/CuPy, eager torch: each ``where`` there
    costs several arithmetic passes) use the branch-free ``log1p(2 sinh²(c/2))
    + max(|e| - 20, 0)``, ``c = min(|e|, 20)``: the same function, as
    accurate, in place on its own temporaries when no gradient is needed.
    """
    native = _native(xp)
    if e.ndim and (native in _NUMPY_LIKE or _torch_eager(xp)):
        m = _torch() if native == "torch" else sys.modules[native]
        if _no_gradients(native, (e,)):
            return _log_cosh_in_place(m, e)
        a = m.abs(e)  # torch with gradients: the same form, out of place
        s = m.sinh(0.5 * m.clamp(a, max=_LOG_COSH_LINEAR))
        return m.log1p(2.0 * (s * s)) + m.relu(a - _LOG_COSH_LINEAR)
    a = xp.abs(e)
    coeffs = _log_cosh_series(float(xp.finfo(a.dtype).eps))
    s = xp.minimum(a, xp.asarray(_LOG_COSH_SERIES, dtype=a.dtype, device=_device(a)))
    z = s * s
    series = coeffs[-1] * z
    for c in coeffs[-2::-1]:
        series = (series + c) * z
    far = (a - _LOG2) + xp.log1p(xp.exp(-2.0 * a))
    return xp.where(a < _LOG_COSH_SERIES, series, far)


def _log_cosh_in_place(m: Any, e: Any) -> Any:
    """The fast paths' form of :func:`log_cosh` for NumPy, CuPy or torch ``m`` without
    gradients: four temporaries fewer, every operation in place on the two it allocates."""
    a = m.abs(e)
    s = (
        m.minimum(a, _LOG_COSH_LINEAR)
        if m.__name__ != "torch"
        else m.clamp(a, max=_LOG_COSH_LINEAR)
    )
    s *= 0.5
    m.sinh(s, out=s)
    s *= s
    s *= 2.0
    m.log1p(s, out=s)
    a -= _LOG_COSH_LINEAR
    m.maximum(a, 0.0, out=a) if m.__name__ != "torch" else a.clamp_min_(0.0)
    s += a
    return s


def safe_logaddexp(a: Any, b: Any, *, xp: Any) -> Any:
    """``log(exp(a) + exp(b))`` whose value *and gradient* are exact when both are ``-inf``.

    ``max(a, b) + log1p(exp(min - max))`` with the difference replaced by
    ``-inf`` (through a ``where``) when the smaller argument is ``-inf``: the
    result is then the larger argument and the gradient into the smaller one
    is 0.  ``xp.logaddexp`` of NumPy, torch and JAX is NaN in gradient at
    ``(-inf, -inf)``, which log-space recursions over unreachable states hit
    constantly (CTC with an exact ``log 0``); hence no fast path where
    gradients exist.  NumPy and CuPy have none: their ``logaddexp`` (the same
    formula, ``-inf`` at ``(-inf, -inf)``) is one call where the generic body
    is eight, the per-frame cost of the CTC recursion (its warning for a NaN
    argument silenced: the generic body gives the NaN without one).
    """
    m = _np_like(_native(xp), a, b)
    if m is not None:
        with _errstate(m):
            return m.logaddexp(a, b)
    hi = xp.maximum(a, b)
    lo = xp.minimum(a, b)
    # both finite: the difference is safe; else the sum is the larger argument
    # (-inf, +inf, or NaN); the inner wheres keep inf - inf (and its warning) out
    finite = (lo > -xp.inf) & (hi < xp.inf)
    d = xp.where(finite, xp.where(finite, lo, 0.0) - xp.where(finite, hi, 0.0), -xp.inf)
    return hi + xp.log1p(xp.exp(d))


def gather(x: Any, indices: Any, *, axis: int, xp: Any) -> Any:
    """``take_along_axis(x, indices, axis)`` with ``indices`` broadcast to ``x``'s shape.

    ``indices`` has ``x``'s number of dimensions; its size-1 axes (other than
    ``axis``) are broadcast explicitly (the standard does not promise
    broadcasting in ``take_along_axis``).  torch gathers with int64 only.
    Fast path: torch's ``Tensor.gather`` (array_api_compat's ``take_along_axis``
    wraps ``take_along_dim``, which broadcasts and checks again: 3x the time).
    """
    axis = axis % x.ndim
    shape = list(x.shape)
    shape[axis] = indices.shape[axis]
    indices = xp.broadcast_to(indices, tuple(shape))
    if not hasattr(xp, "take_along_axis"):  # before the 2024.12 standard (Dask)
        return gather_by_comparison(x, indices, axis=axis, xp=xp)
    if _library(xp) == "torch" and indices.dtype != xp.int64:
        indices = xp.astype(indices, xp.int64)
    if _native(xp) == "torch":  # Tensor.gather: 18 µs where take_along_axis takes 55 (4096 rows)
        return x.gather(axis, indices)
    return xp.take_along_axis(x, indices, axis=axis)


def gather_by_comparison(x: Any, indices: Any, *, axis: int, xp: Any) -> Any:
    """:func:`gather` for namespaces without ``take_along_axis`` (Dask).

    ``indices`` has ``x``'s shape except along ``axis`` (``k`` entries against
    ``x``'s ``n``).  Each output entry is the sum over ``n`` of ``x`` where the
    index equals the position: a ``k × n`` comparison per slice, computed
    blockwise.  Entries not picked are replaced by 0 before the sum, so a NaN
    or ``inf`` elsewhere in ``x`` does not leak into the picked value.
    """
    axis = axis % x.ndim
    n = x.shape[axis]
    shape = [1] * (x.ndim + 1)
    shape[axis + 1] = n
    positions = xp.reshape(xp.arange(n, dtype=indices.dtype, device=_device(x)), tuple(shape))
    hit = xp.expand_dims(indices, axis=axis + 1) == positions  # [..., k, n, ...]
    picked = xp.where(hit, xp.expand_dims(x, axis=axis), 0.0)
    return xp.sum(picked, axis=axis + 1)


# Paths through optax's ``log_epsilon`` stand-in weigh at most ``exp(log_epsilon)`` each; once
# their sum is below ``exp(-_CTC_NEGLIGIBLE)`` of the likelihood it changes no bit of a float64
# loss (2**-52 ~ exp(-36)), and the exact recursion (torch's kernel) gives the same numbers.
_CTC_NEGLIGIBLE = 50.0


def _torch_ctc_kernel(logp: Any, targets: Any, il: Any, tl: Any, blank: int) -> Any:
    """torch's fused ``ctc_loss`` per example, or ``None`` where it refuses its arguments
    (lengths out of range, too few concatenated targets) or a loss is not finite (an
    impossible alignment, a NaN): the generic body then reports or computes those."""
    torch = _torch()
    try:
        loss = torch.nn.functional.ctc_loss(logp, targets, il, tl, blank=blank, reduction="none")
    except (IndexError, RuntimeError, ValueError):
        return None
    # finite sum: every loss finite (torch.isfinite costs 3x a sum on small batches)
    if loss.numel() and not math.isfinite(loss.detach().sum().item()):
        return None
    return loss


def _torch_ctc_ok(xp: Any, logp: Any) -> bool:
    return _native(xp) == "torch" and logp.ndim == 3 and _eager_cpu(xp, logp)


def torch_ctc_lengths(
    log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, *, blank: int, xp: Any
) -> Any:
    """The CTC loss ``[B]`` of ``ctc_loss_from_lengths`` by torch's fused kernel, or ``None``.

    ``log_probs`` ``[T, B, C]`` in a floating compute dtype, ``targets``
    ``[B, S]`` or concatenated ``[sum(target_lengths)]``, integer lengths
    ``[B]``.  Eager CPU torch only (the kernel is one C++ loop where the
    generic body runs a dozen small kernels per frame; on GPUs and under
    ``torch.compile`` the checks below would synchronise or branch on data).
    It is the generic body's exact recursion; ``None`` (the generic body runs,
    and reports bad input with its own errors) where the kernel refuses the
    lengths, where a target that the kernel would read lies outside
    ``[0, C)`` (the kernel does not check them), and where a loss is not
    finite (an impossible alignment, where the kernel's gradient is NaN; a NaN
    input).

    Gradients: the kernel returns ``exp(log_probs) - posterior``, the
    derivative with respect to the logits of a ``log_softmax``; the exact
    derivative with respect to ``log_probs`` is ``-posterior``.  When a
    gradient will pass, the extra term is taken off by adding ``s.detach() - s``
    (0 in value) with ``s`` the sum of ``exp(log_probs)`` over the frames used.
    """
    if not _torch_ctc_ok(xp, log_probs):
        return None
    torch = _torch()
    lo, hi = torch.aminmax(targets) if targets.numel() else (0, 0)
    if not (0 <= lo and hi < log_probs.shape[2]):
        if targets.ndim != 2 or target_lengths.ndim != 1:
            return None
        # padded entries may hold anything: the kernel reads the first target_lengths
        width = torch.arange(targets.shape[1], device=targets.device)
        targets = torch.where(width < target_lengths[:, None], targets, blank)
        lo, hi = torch.aminmax(targets)
        if not (0 <= lo and hi < log_probs.shape[2]):
            return None
    loss = _torch_ctc_kernel(log_probs, targets, input_lengths, target_lengths, blank)
    if loss is not None and not _no_gradients("torch", (log_probs,)):
        steps = torch.arange(log_probs.shape[0], device=log_probs.device)
        used = (steps[:, None] < input_lengths[None, :])[..., None]
        s = torch.sum(torch.where(used, torch.exp(log_probs), 0.0), dim=(0, 2))
        loss = loss + (s.detach() - s)
    return loss


def torch_ctc_logits(
    x: Any,
    frame_pad: Any,
    labels: Any,
    label_pad: Any,
    *,
    blank: int,
    log_epsilon: float | None,
    xp: Any,
) -> Any:
    """optax's CTC loss ``[B]`` (``log_softmax`` of the logits, then the recursion with
    ``log_epsilon`` for ``log 0``) by torch's fused kernel, or ``None``.

    ``x`` ``[B, T, K]`` logits in a floating compute dtype, boolean paddings
    ``frame_pad [B, T]`` and ``label_pad [B, N]``, ``labels [B, N]`` whose
    unpadded entries the caller has checked to lie in ``[0, K)``;
    ``log_epsilon`` a Python float (``None`` for an array: no fast path).
    Eager CPU torch only.  The kernel is the exact recursion over lengths, so
    it stands in for the generic body only where that gives the same numbers,
    which is checked (else ``None``):

    * finite logits where a gradient will pass (one sum: NaN or infinity
      anywhere, padded frames included, takes the generic body, which never
      reads padded frames; finite padded frames are not read by the kernel
      and get a zero gradient, as in the generic body); without gradients a
      NaN or ``+inf`` in a used frame makes its loss NaN (next point) and
      padded frames are not read;
    * paddings of the form ``0…0 1…1`` per row (optax's may lie anywhere);
    * a finite loss in every row (an impossible alignment is ``inf`` for
      the kernel, about ``-log_epsilon`` for optax);
    * ``log_epsilon`` negligible: ``loss + log_epsilon + log(2N + 1) + T·log 3``
      below ``-_CTC_NEGLIGIBLE`` in every row (``(2N + 1)·3**T`` bounds the
      number of paths through a ``log_epsilon`` state, each weighing at most
      ``exp(log_epsilon)`` since log-probabilities are at most 0).

    The kernel's gradient with respect to its log-probabilities,
    ``exp(logp) - posterior``, is exact with respect to the logits after the
    ``log_softmax``'s backward pass.
    """
    if log_epsilon is None or not _torch_ctc_ok(xp, x) or not x.shape[1]:
        return None
    torch = _torch()
    # (a NaN or +inf in a used frame makes its loss NaN, caught below; in a padded frame,
    # which the kernel does not read, it would make log_softmax's gradient NaN there)
    if not _no_gradients("torch", (x,)) and not math.isfinite(x.detach().sum().item()):
        return None
    num_steps, n = x.shape[1], labels.shape[1]
    # rows of the form 0...0 1...1: their running maximum is themselves
    for pad in (label_pad, frame_pad):
        if pad.shape[1] > 1 and not torch.equal(torch.cummax(pad, 1).values, pad):
            return None
    il, tl = (~frame_pad).sum(1), (~label_pad).sum(1)  # (T - sum: torch.rsub costs 3x)
    logp = torch.log_softmax(x, dim=-1).transpose(0, 1)
    loss = _torch_ctc_kernel(logp, labels, il, tl, blank)
    if loss is None or not loss.numel():
        return loss
    paths = math.log(2 * n + 1) + num_steps * math.log(3.0)
    if loss.detach().max().item() + log_epsilon + paths > -_CTC_NEGLIGIBLE:
        return None
    return loss


def scan(step: Any, carry: Any, xs: tuple[Any, ...], *, xp: Any) -> tuple[Any, tuple[Any, ...]]:
    """``carry, y_t = step(carry, x_t)`` over the leading axis of the arrays ``xs``.

    Returns ``(carry, ys)``: the final carry and the tuple of per-step outputs
    stacked along a new leading axis (``step`` may return ``()`` for none), as
    ``jax.lax.scan``.  The generic body is a Python loop over the (static)
    leading size, which ``jax.jit`` and ``torch.compile`` unroll: the graph and
    its compile time grow linearly with the number of steps.  Fast path: JAX
    uses ``jax.lax.scan`` (one compiled loop body); under ``jax.shard_map`` the
    initial carry is first made varying over the mesh axes that the ``xs`` or
    the carry vary over (:func:`_jax_match_varying`), as ``lax.scan`` needs.
    ``xs`` must have at least one step.  Pass a module-level ``step`` and keep
    per-call constants in the carry (not in a closure): eager ``lax.scan`` then
    reuses its compiled body across calls instead of compiling a new one each
    time.
    """
    n = xs[0].shape[0]
    if n == 0:
        raise ValueError("scan needs at least one step (the leading axis of xs is empty)")
    if _native(xp) == "jax":
        return _jax_scan(step)(carry, xs)
    outs = []
    for t in range(n):
        carry, y = step(carry, tuple(x[t, ...] for x in xs))
        outs.append(y)
    ys = tuple(xp.stack([o[i] for o in outs], axis=0) for i in range(len(outs[0])))
    return carry, ys


_JAX_SCANS: dict[Any, Any] = {}


def _jax_scan(step: Any) -> Any:
    """``jax.jit(lambda carry, xs: lax.scan(step, carry, xs))``, one per ``step``.

    Eager calls (and eager ``jax.grad``) of a bare ``lax.scan`` compile the
    loop body anew each time; a jitted wrapper is compiled once per shape and
    is inlined when the caller is itself traced.
    """
    fn = _JAX_SCANS.get(step)
    if fn is None:
        jax = sys.modules["jax"]

        def run(carry: Any, xs: Any) -> Any:
            return jax.lax.scan(step, _jax_match_varying(carry, xs), xs)

        fn = _JAX_SCANS[step] = jax.jit(run)
    return fn


def _jax_match_varying(carry: Any, xs: Any) -> Any:
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
    jax = sys.modules["jax"]
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


def take_labels_by_comparison(x: Any, labels: Any, *, axis: int, xp: Any) -> Any:
    """:func:`take_labels` for namespaces without ``take_along_axis`` (Dask).

    Sums ``x`` where ``labels == arange(num_classes)`` along ``axis``: one
    element-wise comparison and a sum, so it stays blockwise on a chunked
    array (a chunk-sized boolean temporary, never a one-hot of the whole
    array).  Entries of other classes are replaced by 0 before the sum, so a
    NaN or ``inf`` elsewhere in the row does not leak into the picked value.
    """
    idx = xp.expand_dims(labels, axis=axis)
    return xp.squeeze(gather_by_comparison(x, idx, axis=axis, xp=xp), axis=axis)
