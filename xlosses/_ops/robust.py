r"""Barron's general robust loss :math:`\rho(x, \alpha, c)` and its special cases.

.. math::
    \rho = \frac{|\alpha - 2|}{\alpha}\Bigl[\Bigl(\frac{(x/c)^2}{|\alpha - 2|} + 1\Bigr)^{\alpha/2} - 1\Bigr]

with its limits ``½(x/c)²`` (α = 2), ``log1p(½(x/c)²)`` (α = 0),
``1 - exp(-½(x/c)²)`` (α → -∞) and ``exp(½(x/c)²) - 1`` (α → +∞).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["ROBUST_SPECIAL", "robust_rho"]

ROBUST_SPECIAL = (2.0, 0.0, -math.inf, math.inf)  # the values of α with their own formula


def _general(h: Any, a: Any, b: Any, *, xp: Any) -> Any:
    """``(b/a)·expm1((a/2)·log1p(2h/b))``: ρ for ``a = α`` away from 0 and ``b = |α - 2|``
    away from 0, ``h = ½(x/c)²``.  ``expm1``/``log1p`` keep full relative precision for
    small residuals, where ``(1 + 2h/b)**(a/2) - 1`` would cancel."""
    return (b / a) * xp.expm1((0.5 * a) * xp.log1p(h * (2.0 / b)))


def _static(h: Any, alpha: float, *, xp: Any) -> Any:
    """ρ of ``h = ½(x/c)²`` for a Python ``alpha``: only its own formula is computed."""
    if alpha == 2.0:
        return h
    if alpha == 0.0:
        return xp.log1p(h)
    if alpha == -math.inf:
        return -xp.expm1(-h)
    if alpha == math.inf:
        return xp.expm1(h)
    return _general(h, float(alpha), abs(alpha - 2.0), xp=xp)


def robust_rho(x: Any, alpha: Any, scale: Any, *, xp: Any) -> Any:
    r"""Barron's :math:`\rho(x, \alpha, c)`, element-wise; ``alpha`` and ``scale`` Python
    numbers or arrays broadcastable with ``x``.

    For a Python ``alpha`` only its case's formula is computed.  For an array,
    every case is computed and one selected per entry, the general formula at
    safe values where a special case applies (the double ``where``: no NaN
    reaches the gradients); as in the paper's reference code, ``|α|`` and
    ``|α - 2|`` are clamped below at the dtype's machine epsilon in the general
    formula, so nothing is divided by a vanishing ``α`` or ``α - 2`` (the
    clamp changes no value: ``|α - 2|`` cannot be smaller and non-zero, and
    ``|α| < eps`` changes ρ by a relative ``O(eps)``).  The ``α = +∞`` case is
    evaluated at ``h = 0`` elsewhere, so its overflow for large residuals never
    reaches the gradient of another case.  The derivative in ``alpha`` is exact
    in the general formula and 0 at the special values (where ρ is a limit).
    """
    u = x if isinstance(scale, (int, float)) and scale == 1 else x / scale
    h = 0.5 * (u * u)
    if isinstance(alpha, (int, float)):
        return _static(h, alpha, xp=xp)
    eps = float(xp.finfo(h.dtype).eps)
    special = (alpha == 0.0) | (alpha == 2.0) | xp.isinf(alpha)
    a = xp.where(special, 1.0, alpha)
    a = xp.where(a >= 0.0, xp.where(a < eps, eps, a), xp.where(a > -eps, -eps, a))
    d = a - 2.0
    b = xp.where(d >= 0.0, xp.where(d < eps, eps, d), xp.where(d > -eps, eps, -d))
    out = _general(h, a, b, xp=xp)
    posinf = alpha == math.inf
    out = xp.where(posinf, xp.expm1(xp.where(posinf, h, 0.0)), out)
    out = xp.where(alpha == 2.0, h, out)
    out = xp.where(alpha == 0.0, xp.log1p(h), out)
    return xp.where(alpha == -math.inf, -xp.expm1(-h), out)
