"""Log-space functions: log-sum-exp, (log-)softmax, softplus, log-sigmoid and friends.

Each is written once against the array API standard and keeps values *and
gradients* finite wherever the mathematical function is finite (the "double
where": masked-out inputs are replaced by a safe value before a function,
the result selected after).  Backends may replace them with their own fused
kernels (``xlosses/_backends/``) where those are at least as accurate.
"""

from __future__ import annotations

import math
from typing import Any

from .._dispatch import accelerated
from ._util import Axis, safe_max

__all__ = [
    "LOG_HALF",
    "complement_of_log_probs",
    "log1mexp",
    "log_sigmoid",
    "log_sigmoid_pair",
    "log_softmax",
    "log_softmax_pair",
    "logsumexp",
    "one_minus_exp",
    "safe_log",
    "safe_log1m",
    "safe_logaddexp",
    "safe_logaddexp_jvp",
    "sigmoid",
    "softmax",
    "softmax_parts",
    "softplus",
    "softplus_parts",
]

LOG_HALF = -math.log(2.0)  # below it, 1 - exp(x) is as accurate as -expm1(x)


@accelerated
def logsumexp(
    x: Any, *, axis: Axis = -1, keepdims: bool = False, where: Any = None, xp: Any
) -> Any:
    """``log(sum(exp(x), axis))`` with the maximum shifted out.

    Entries where ``where`` is False are left out; a row with no entry gives
    ``-inf`` (the log of an empty sum).
    """
    if where is not None:
        x = xp.where(where, x, -xp.inf)
    m = safe_max(x, axis, xp=xp)
    s = xp.sum(xp.exp(x - m), axis=axis, keepdims=True)
    # with a mask a row may be empty (s == 0): log 0 = -inf without a warning
    out = (xp.log(s) if where is None else safe_log(s, xp=xp)) + m
    return out if keepdims else xp.squeeze(out, axis=axis)


@accelerated
def log_softmax(x: Any, *, axis: Axis = -1, where: Any = None, xp: Any) -> Any:
    """``x - logsumexp(x, axis)``; masked-out entries are ``-inf``."""
    if where is not None:
        x = xp.where(where, x, -xp.inf)
    shifted = x - safe_max(x, axis, xp=xp)
    s = xp.sum(xp.exp(shifted), axis=axis, keepdims=True)
    if where is None:
        return shifted - xp.log(s)
    # an empty row (s == 0) is all masked: log 1 keeps it free of NaN and warnings
    return xp.where(where, shifted - xp.log(xp.where(s > 0, s, 1.0)), -xp.inf)


def softmax_parts(x: Any, *, axis: int, where: Any = None, xp: Any) -> tuple[Any, Any, Any]:
    """``(x - max, log Σ exp(x - max), log(1 - p_top))`` along ``axis`` (the last two with
    ``keepdims``), the pieces of :func:`log_softmax_pair`.

    With ``r`` the sum of ``exp(x - max)`` over the entries below the maximum and
    ``k`` the number of entries at it, the normaliser is ``log1p(r + k - 1)`` and the
    largest entry's complement ``1 - p_top = r / (1 + r)`` for a unique maximum:
    both exact where ``log(Σ exp)`` and ``1 - exp(log p)`` round (``log p_top``
    rounds to 0 once ``1 - p_top`` is below half an ulp of 1).  (With tied maxima
    ``log(1 - p_top)`` is wrong, but a tied entry has ``p ≤ 1/2`` and callers take
    it only for ``p > 1/2``.)  Entries where ``where`` is False are left out
    (``-inf``); an empty row gives ``-inf`` log-probabilities and no NaN (logs of 0
    are taken safely, with zero gradients).
    """
    if where is not None:
        x = xp.where(where, x, -xp.inf)
    shifted = x - safe_max(x, axis, xp=xp)
    top = shifted == 0.0
    rest = xp.sum(xp.where(top, 0.0, xp.exp(shifted)), axis=axis, keepdims=True)
    ties = xp.sum(xp.astype(top, shifted.dtype), axis=axis, keepdims=True) - 1.0
    if where is not None:  # an empty row (no maximum: ties = -1) has log Σ = log 1
        ties = xp.where(ties < 0.0, 0.0, ties)
    log_s = xp.log1p(rest + ties)
    return shifted, log_s, safe_log(rest, xp=xp) - log_s


def complement_of_log_probs(logp: Any, log_rest: Any, *, xp: Any) -> Any:
    """``log(1 - exp(logp))`` of log-probabilities, ``log_rest`` (:func:`softmax_parts`)
    standing in for the largest entry of a row where ``p > 1/2``.

    Below ``p = 1/2`` it is ``log1p(-exp(logp))`` (no cancellation there); above
    it the entry is its row's unique maximum and ``log_rest`` is exact.  Values and
    gradients are finite for every finite ``logp``; ``log_rest = -inf`` (the other
    entries' probabilities underflow to 0) gives ``-inf`` with a zero gradient.
    """
    near = logp > LOG_HALF
    return xp.where(near, log_rest, xp.log1p(-xp.exp(xp.where(near, LOG_HALF, logp))))


@accelerated
def log_softmax_pair(x: Any, *, axis: int = -1, where: Any = None, xp: Any) -> tuple[Any, Any]:
    """``(log p, log(1 - p))`` of ``p = softmax(x, axis)``, both to full precision.

    ``log(1 - p)`` stays exact as ``p -> 1`` (where ``log1mexp(log p)`` would meet
    ``log p = 0`` and return ``-inf`` with a NaN gradient): the largest entry's
    complement is the sum of the others (:func:`softmax_parts`).  Masked-out
    entries (``where`` False) have ``log p = -inf`` and ``log(1 - p) = 0``.
    """
    shifted, log_s, log_rest = softmax_parts(x, axis=axis, where=where, xp=xp)
    logp = shifted - log_s
    return logp, complement_of_log_probs(logp, log_rest, xp=xp)


@accelerated
def softmax(x: Any, *, axis: Axis = -1, where: Any = None, xp: Any) -> Any:
    """``exp(x) / sum(exp(x), axis)``; masked-out entries (and empty rows) are 0."""
    if where is not None:
        x = xp.where(where, x, -xp.inf)
    e = xp.exp(x - safe_max(x, axis, xp=xp))
    s = xp.sum(e, axis=axis, keepdims=True)
    out = e / xp.where(s > 0, s, 1.0)
    return out if where is None else xp.where(where, out, 0.0)


def softplus_parts(x: Any, *, xp: Any) -> tuple[Any, Any]:
    """``(x >= 0, log1p(exp(-|x|)))`` with |x| taken through one ``where``.

    Taking ``|x|`` and ``max(x, 0)`` from the same branch mask keeps the
    derivative at exactly 0 right on every backend (``abs`` and ``maximum``
    have backend-specific subgradients there).
    """
    pos = x >= 0
    return pos, xp.log1p(xp.exp(-xp.where(pos, x, -x)))


@accelerated
def softplus(x: Any, *, xp: Any) -> Any:
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``; derivative
    ``sigmoid(x)``."""
    pos, t = softplus_parts(x, xp=xp)
    return xp.where(pos, x, 0.0) + t


@accelerated
def log_sigmoid_pair(x: Any, *, xp: Any) -> tuple[Any, Any]:
    """``(log σ(x), log σ(-x))`` sharing one ``exp`` and one ``log1p``."""
    pos, t = softplus_parts(x, xp=xp)
    return xp.where(pos, 0.0, x) - t, xp.where(pos, -x, 0.0) - t


@accelerated
def safe_log(x: Any, *, xp: Any) -> Any:
    """``log(x)`` for ``x >= 0`` that is ``-inf`` at 0 without a warning or a NaN gradient."""
    pos = x > 0
    return xp.where(pos, xp.log(xp.where(pos, x, 1.0)), -xp.inf)


@accelerated
def safe_log1m(x: Any, *, xp: Any) -> Any:
    """``log(1 - x)`` for ``x <= 1`` (``log1p(-x)``), ``-inf`` at 1 without a NaN gradient."""
    below = x < 1
    return xp.where(below, xp.log1p(-xp.where(below, x, 0.0)), -xp.inf)


@accelerated
def log_sigmoid(x: Any, *, xp: Any) -> Any:
    """``log(sigmoid(x)) = -softplus(-x)``, exact for large ``|x|``."""
    pos, t = softplus_parts(x, xp=xp)
    return xp.where(pos, 0.0, x) - t


@accelerated
def sigmoid(x: Any, *, xp: Any) -> Any:
    """``1 / (1 + exp(-x))`` without overflow for either sign of ``x``."""
    pos = x >= 0
    e = xp.exp(-xp.where(pos, x, -x))
    return xp.where(pos, 1.0, e) / (1.0 + e)


@accelerated
def one_minus_exp(x: Any, *, xp: Any) -> Any:
    """``1 - exp(x)`` (``-expm1(x)``), accurate near ``x = 0``."""
    return -xp.expm1(x)


def log1mexp(x: Any, *, xp: Any) -> Any:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate on both sides of ``-log 2``."""
    near = x > LOG_HALF
    x_near = xp.where(near, x, -1.0)
    x_far = xp.where(near, -1.0, x)
    return xp.where(near, xp.log(-xp.expm1(x_near)), xp.log1p(-xp.exp(x_far)))


@accelerated
def safe_logaddexp(a: Any, b: Any, *, xp: Any) -> Any:
    """``log(exp(a) + exp(b))`` whose value *and gradient* are exact when both are ``-inf``.

    ``max(a, b) + log1p(exp(min - max))`` with the difference replaced by
    ``-inf`` (through a ``where``) when the smaller argument is ``-inf``: the
    result is then the larger argument and the gradient into the smaller one
    is 0.  The native ``logaddexp`` of NumPy, torch and JAX is NaN in gradient
    at ``(-inf, -inf)``, which log-space recursions over unreachable states hit
    constantly (CTC with an exact ``log 0``): backends without automatic
    differentiation may use it, the others may not.
    """
    hi, e = _logaddexp_parts(a, b, xp=xp)
    return hi + xp.log1p(e)


def _logaddexp_parts(a: Any, b: Any, *, xp: Any) -> tuple[Any, Any]:
    """``(max(a, b), exp(min - max))`` of :func:`safe_logaddexp` (the exponential 0
    unless both are finite)."""
    hi = xp.maximum(a, b)
    lo = xp.minimum(a, b)
    # both finite: the difference is safe; else the sum is the larger argument
    # (-inf, +inf, or NaN); the inner wheres keep inf - inf (and its warning) out
    finite = (lo > -xp.inf) & (hi < xp.inf)
    d = xp.where(finite, xp.where(finite, lo, 0.0) - xp.where(finite, hi, 0.0), -xp.inf)
    return hi, xp.exp(d)


def safe_logaddexp_jvp(a: Any, b: Any, ta: Any, tb: Any, *, xp: Any) -> tuple[Any, Any]:
    r"""Value and directional derivative of :func:`safe_logaddexp` (its derivative
    written out, for backends that attach it: JAX's ``custom_jvp``).

    The smaller argument weighs ``s = u/(1 + u)`` with the generic body's own
    ``u = exp(min - max)``, the larger ``1 - s``, and each ``1/2`` at a tie
    (``-inf`` with ``-inf`` included): what differentiating the body's
    ``maximum``/``minimum`` gives, to the last bit.  The tangent is
    ``w_a·ta + w_b·tb``: reverse mode keeps the two weights of each call (the
    CTC recursion calls it three times a frame) instead of the body's masks and
    intermediate values.  ``ta`` or ``tb`` may be None (a tangent known to be zero).
    """
    hi, e = _logaddexp_parts(a, b, xp=xp)
    value = hi + xp.log1p(e)
    s = xp.where(a == b, 0.5, e / (1.0 + e))  # the weight of the smaller argument
    a_hi = a > b
    tangent = None
    if ta is not None:
        tangent = xp.where(a_hi, 1.0 - s, s) * ta
    if tb is not None:
        t_b = xp.where(a_hi, s, 1.0 - s) * tb
        tangent = t_b if tangent is None else tangent + t_b
    return value, xp.zeros_like(value) if tangent is None else tangent
