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
    "log1mexp",
    "log_sigmoid",
    "log_sigmoid_pair",
    "log_softmax",
    "logsumexp",
    "safe_log",
    "safe_log1m",
    "sigmoid",
    "sigmoid_cross_entropy",
    "softmax",
    "softplus",
    "take_labels",
    "take_labels_by_comparison",
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
_NATIVE = {"array_api_compat.torch": "torch", "jax.numpy": "jax"}


def _library(xp: Any) -> str | None:
    """'torch' or 'jax' for those namespaces, else None (fast paths on or off)."""
    return _NATIVE.get(xp.__name__)


def _native(xp: Any) -> str | None:
    """'torch' or 'jax' when a fast path may be used for ``xp``, else None."""
    return _library(xp) if fast_paths_enabled() else None


def _torch() -> Any:
    return sys.modules["torch"]


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
    if where is not None:
        x = xp.where(where, x, -xp.inf)
    m = _safe_max(x, axis, xp=xp)
    s = xp.sum(xp.exp(x - m), axis=axis, keepdims=True)
    # with a mask a row may be empty (s == 0): log 0 = -inf without a warning
    out = (xp.log(s) if where is None else safe_log(s, xp=xp)) + m
    return out if keepdims else xp.squeeze(out, axis=axis)


def log_softmax(x: Any, *, axis: Axis = -1, where: Any = None, xp: Any) -> Any:
    """``x - logsumexp(x, axis)``; masked-out entries are ``-inf``."""
    native = _native(xp)
    if native == "torch" and where is None and isinstance(axis, int):
        return _torch().log_softmax(x, dim=axis)
    if native == "jax":
        return _jax_nn().log_softmax(x, axis=axis, where=where)
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
    pos, t = _softplus_parts(x, xp=xp)
    return xp.where(pos, x, 0.0) + t


def log_sigmoid_pair(x: Any, *, xp: Any) -> tuple[Any, Any]:
    """``(log σ(x), log σ(-x))`` sharing one ``exp`` and one ``log1p``."""
    pos, t = _softplus_parts(x, xp=xp)
    return xp.where(pos, 0.0, x) - t, xp.where(pos, -x, 0.0) - t


def safe_log(x: Any, *, xp: Any) -> Any:
    """``log(x)`` for ``x >= 0`` that is ``-inf`` at 0 without a warning or a NaN gradient."""
    pos = x > 0
    return xp.where(pos, xp.log(xp.where(pos, x, 1.0)), -xp.inf)


def safe_log1m(x: Any, *, xp: Any) -> Any:
    """``log(1 - x)`` for ``x <= 1`` (``log1p(-x)``), ``-inf`` at 1 without a NaN gradient."""
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
    pos = x >= 0
    e = xp.exp(-xp.where(pos, x, -x))
    return xp.where(pos, 1.0, e) / (1.0 + e)


def sigmoid_cross_entropy(x: Any, y: Any, *, xp: Any) -> Any:
    """``-y·log σ(x) - (1 - y)·log σ(-x) = y·softplus(-x) + (1 - y)·softplus(x)``.

    Computed as ``[x ≥ 0 ? (1 - y)·x : -y·x] + log1p(exp(-|x|))``: one ``exp``
    and one ``log1p`` per element, exact for hard labels at any logit (no
    cancellation of ``x`` against ``softplus(x)``) and smooth in ``y`` for soft
    labels.
    """
    pos, t = _softplus_parts(x, xp=xp)
    return xp.where(pos, (1.0 - y) * x, -y * x) + t


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


def take_labels(x: Any, labels: Any, *, axis: int, xp: Any) -> Any:
    """``x[..., labels, ...]`` along ``axis``: the entry each label points at.

    ``labels`` has the shape of ``x`` without ``axis``; it must hold valid
    indices (callers replace invalid ones first).  No one-hot is built (for
    namespaces without ``take_along_axis``, see :func:`take_labels_by_comparison`).
    """
    if _library(xp) == "torch" and labels.dtype != xp.int64:
        labels = xp.astype(labels, xp.int64)  # torch gathers with int64 only
    if not hasattr(xp, "take_along_axis"):  # before the 2024.12 standard (Dask)
        return take_labels_by_comparison(x, labels, axis=axis, xp=xp)
    idx = xp.expand_dims(labels, axis=axis)
    return xp.squeeze(xp.take_along_axis(x, idx, axis=axis), axis=axis)


def take_labels_by_comparison(x: Any, labels: Any, *, axis: int, xp: Any) -> Any:
    """:func:`take_labels` for namespaces without ``take_along_axis`` (Dask).

    Sums ``x`` where ``labels == arange(num_classes)`` along ``axis``: one
    element-wise comparison and a sum, so it stays blockwise on a chunked
    array (a chunk-sized boolean temporary, never a one-hot of the whole
    array).  Entries of other classes are replaced by 0 before the sum, so a
    NaN or ``inf`` elsewhere in the row does not leak into the picked value.
    """
    axis = axis % x.ndim
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    classes = xp.reshape(xp.arange(x.shape[axis], dtype=labels.dtype), tuple(shape))
    hit = xp.expand_dims(labels, axis=axis) == classes
    return xp.sum(xp.where(hit, x, 0.0), axis=axis)
