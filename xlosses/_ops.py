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
import os
import sys
from collections.abc import Iterator
from typing import Any

__all__ = [
    "fast_paths_enabled",
    "generic_only",
    "label_cross_entropy",
    "log1mexp",
    "log_sigmoid",
    "log_sigmoid_pair",
    "log_softmax",
    "logsumexp",
    "one_minus_exp",
    "safe_log",
    "safe_log1m",
    "sigmoid",
    "sigmoid_cross_entropy",
    "sigmoid_focal_parts",
    "soft_label_cross_entropy",
    "softmax",
    "softplus",
    "take_labels",
    "value_range",
    "xlogy",
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


def softplus(x: Any, *, xp: Any) -> Any:
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    native = _native(xp)
    if native == "jax":
        return _jax_nn().softplus(x)
    np_ = _np_like(native, x)
    if np_ is not None:
        return np_.logaddexp(x, 0, dtype=x.dtype)
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
    through a double ``where`` so that gradients stay finite.

    torch eager fast path (fewer kernel launches): the fused BCE kernel and
    ``logaddexp(log σ(x) + log1p(-y), log σ(-x) + log y)``; it is used only when
    ``y`` needs no gradient (``log y`` has an infinite derivative at 0).
    """
    native = _native(xp)
    if (
        native == "torch"
        and x.shape == y.shape
        and x.dtype == y.dtype
        and not y.requires_grad
        and not _torch().compiler.is_compiling()
    ):
        torch = _torch()
        logsigmoid = torch.nn.functional.logsigmoid
        bce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
        log_1m_pt = torch.logaddexp(logsigmoid(x) + torch.log1p(-y), logsigmoid(-x) + torch.log(y))
        return bce, log_1m_pt
    np_ = _np_like(native, x, y)
    if np_ is not None:
        return _np_focal_parts(np_, x, y)
    pos = x >= 0
    ax = xp.where(pos, x, -x)
    u = xp.exp(-ax)
    lg = xp.log1p(u)
    bce = xp.where(pos, (1.0 - y) * x, -y * x) + lg
    v = xp.where(pos, 1.0 - y, y) * (1.0 - u) + u
    ok = v > 0
    log_v = xp.where(ok, xp.log(xp.where(ok, v, 1.0)), -ax)
    return bce, log_v - lg


def _np_focal_parts(np_: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """NumPy/CuPy :func:`sigmoid_focal_parts` with in-place temporaries (values only)."""
    pos = x >= 0
    nax = np_.abs(x)
    np_.negative(nax, out=nax)  # -|x|
    u = np_.exp(nax)
    lg = np_.log1p(u)
    bce = np_.multiply(x, y)
    np_.subtract(np_.maximum(x, 0), bce, out=bce)
    bce += lg
    a = np_.where(pos, 1 - y, y).astype(x.dtype, copy=False)
    v = np_.subtract(1, u, dtype=x.dtype)
    v *= a
    v += u
    with _errstate(np_):
        np_.log(v, out=v)
    np_.maximum(v, nax, out=v)  # log(a(1-u) + u) >= -|x|: exact where it underflowed
    v -= lg
    return bce, v


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


def log1mexp(x: Any, *, xp: Any) -> Any:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate on both sides of ``-log 2``."""
    near = x > -0.6931471805599453
    x_near = xp.where(near, x, -1.0)
    x_far = xp.where(near, -1.0, x)
    return xp.where(near, xp.log(-xp.expm1(x_near)), xp.log1p(-xp.exp(x_far)))


def xlogy(x: Any, y: Any, *, xp: Any) -> Any:
    """``x·log(y)``, defined as 0 where ``x == 0`` (values and gradients)."""
    zero = x == 0
    return xp.where(zero, 0.0, x * xp.log(xp.where(zero, 1.0, y)))


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
    indices (callers replace invalid ones first).  No one-hot is built.
    """
    if _library(xp) == "torch" and labels.dtype != xp.int64:
        labels = xp.astype(labels, xp.int64)  # torch gathers with int64 only
    idx = xp.expand_dims(labels, axis=axis)
    return xp.squeeze(xp.take_along_axis(x, idx, axis=axis), axis=axis)
