"""Piecewise functions with chosen derivatives at their kinks: relu, clamp, |x|, Huber,
log-cosh, squares and powers."""

from __future__ import annotations

import functools
import math
from typing import Any

from .._dispatch import accelerated
from ._util import device
from .control import stop_gradient

__all__ = [
    "LOG_COSH_LINEAR",
    "abs_value",
    "clamp",
    "huber",
    "log_cosh",
    "relu",
    "safe_pow",
    "squared_difference",
    "straight_through_clamp",
]


@accelerated
def relu(x: Any, *, tie: float = 1.0, owned: bool = False, xp: Any) -> Any:
    """``max(x, 0)`` whose derivative at ``x == 0`` is ``tie``; NaN stays NaN.

    ``tie=1.0``: torch's ``clamp_min(x, 0)`` (the embedding and ranking losses);
    ``tie=0.5``: JAX's ``maximum(x, 0)`` (optax's hinge and perceptron losses);
    ``tie=0.0``: ``relu`` (torch's margin losses).  ``owned`` says that ``x``
    is a temporary the caller made and drops (a backend without gradients may
    work in place on it).
    """
    if tie == 1.0:
        return xp.where(x < 0, 0.0, x)
    if tie == 0.0:
        return xp.where(x <= 0, 0.0, x)
    if tie == 0.5:
        return xp.where(x < 0, 0.0, xp.where(x > 0, x, 0.5 * x))
    raise ValueError(f"tie must be 0.0, 0.5 or 1.0, got {tie!r}")


@accelerated
def clamp(x: Any, *, lo: float | None = None, hi: float | None = None, xp: Any) -> Any:
    """``x`` clipped to ``[lo, hi]`` (Python-number bounds) as torch's ``clamp``.

    The derivative is 1 inside and *at* the bounds, 0 outside; NaN stays NaN.
    One ``where`` per bound (array_api_compat's ``clip`` and scalar
    ``minimum`` are Python-level on torch and break ``torch.compile``).
    """
    if lo is not None:
        x = xp.where(x < lo, lo, x)
    return x if hi is None else xp.where(x > hi, hi, x)


@accelerated
def straight_through_clamp(x: Any, lo: float, *, xp: Any) -> Any:
    """``max(x, lo)`` in value, ``x`` in gradient (torch's ``gaussian_nll_loss`` variance):
    ``x + stop_gradient(clamp(x, lo) - x)``."""
    return x + stop_gradient(clamp(x, lo=lo, xp=xp) - x, xp=xp)


@accelerated
def squared_difference(x: Any, t: Any, *, xp: Any) -> Any:
    """``(x - t)²`` (``x²`` when ``t`` is None)."""
    e = x if t is None else x - t
    return e * e


@accelerated
def huber(x: Any, t: Any, delta: Any, *, xp: Any) -> Any:
    """Huber loss of ``e = x - t`` (of ``x`` when ``t`` is None), ``δ`` a number or an array.

    ``½q² + δ(|e| - q)`` with ``q = min(|e|, δ)``: branch-free, the square only
    ever of at most ``δ`` (no overflow into the gradient); derivative ``e``
    clipped to ``[-δ, δ]``, 0 at ``e = 0``.
    """
    e = x if t is None else x - t
    a = abs_value(e, xp=xp)
    q = clamp(a, hi=delta, xp=xp) if isinstance(delta, (int, float)) else xp.minimum(a, delta)
    return 0.5 * (q * q) + delta * (a - q)


@accelerated
def abs_value(x: Any, *, xp: Any) -> Any:
    """``|x|`` whose derivative at ``x == 0`` is 0 on every backend (torch's); NaN stays NaN.

    ``x·sign(x)`` (JAX's ``abs`` has derivative 1 at 0).
    """
    return x * xp.sign(x)


def safe_pow(x: Any, p: float, *, xp: Any) -> Any:
    """``x**p`` for ``x >= 0`` that is 0 at ``x == 0`` with a gradient of 0 there.

    For ``p < 1`` the derivative ``p·x**(p-1)`` is infinite at 0; the double
    where keeps it out of the gradient.  NaN stays NaN.
    """
    nz = x != 0
    return xp.where(nz, xp.where(nz, x, 1.0) ** p, 0.0)


# log cosh a = log cosh(min(a, c)) + max(a - c, 0) to rounding once e^{-2c} is below
# float64's epsilon (c = 20: e^{-40} = 4e-18); sinh(c/2)^2 = 1.2e8 stays far from overflow
LOG_COSH_LINEAR = 20.0
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


# the series of every floating dtype's eps (float16, bfloat16, float32, float64), computed on
# import: a compiler tracing the loss (torch.compile's Dynamo traces through functools.cache)
# then reads a constant instead of the exact rational arithmetic (seconds of tracing)
_LOG_COSH_COEFFS = {eps: _log_cosh_series(eps) for eps in (2.0**-10, 2.0**-7, 2.0**-23, 2.0**-52)}


@accelerated
def log_cosh(e: Any, *, xp: Any) -> Any:
    """``log(cosh(e))`` to full relative precision for every finite ``e``; derivative ``tanh e``.

    ``|e| - log 2 + log1p(exp(-2|e|))`` (one ``exp``, one ``log1p``, as
    optax's form; it never overflows) for ``|e| ≥ 0.5``, where its
    cancellation costs at most a few ulp, and below that the Taylor series in
    ``e²`` by Horner (7 terms for float32, 16 for float64: a few fused
    multiply-adds, cheaper than the ``expm1`` and division of an exact closed
    form), joined by one ``where``; the series sees ``min(|e|, 0.5)``, so
    neither branch overflows in value or gradient.  (Backends where a
    ``where`` costs several arithmetic passes use the branch-free
    ``log1p(2 sinh²(c/2)) + max(|e| - 20, 0)``, ``c = min(|e|, 20)``: the same
    function, as accurate.)
    """
    a = xp.abs(e)
    eps = float(xp.finfo(a.dtype).eps)
    coeffs = _LOG_COSH_COEFFS[eps] if eps in _LOG_COSH_COEFFS else _log_cosh_series(eps)
    s = xp.minimum(a, xp.asarray(_LOG_COSH_SERIES, dtype=a.dtype, device=device(a)))
    z = s * s
    series = coeffs[-1] * z
    for c in coeffs[-2::-1]:
        series = (series + c) * z
    far = (a - _LOG2) + xp.log1p(xp.exp(-2.0 * a))
    return xp.where(a < _LOG_COSH_SERIES, series, far)
