"""Norms and dot products: ``p``-norms without overflow, inverse square roots with a zero
guard, rescaled dot products (cosines)."""

from __future__ import annotations

from typing import Any

from .._dispatch import accelerated
from ._util import Axis
from .control import stop_gradient
from .piecewise import safe_pow

__all__ = ["inverse_sqrt", "scaled_dot", "scaled_norm", "vector_norm"]


@accelerated
def inverse_sqrt(n2: Any, floor: Any, *, xp: Any) -> Any:
    """``1 / sqrt(max(n2, floor))`` for squared norms ``n2 ≥ 0`` (optax's ``epsilon``), and
    0, with a zero gradient, where that maximum is 0 (a zero vector with ``floor <= 0``)
    instead of ``1/0``; NaN stays NaN.

    ``where`` clips and guards (a ``minimum`` with a scalar is Python-level in
    array_api_compat's torch and breaks ``torch.compile``).
    """
    positive = isinstance(floor, (int, float)) and floor > 0  # else a number <= 0 or an array
    n2 = xp.where(n2 < floor, floor, n2)
    if positive:
        return 1.0 / xp.sqrt(n2)
    nz = n2 != 0  # NaN stays NaN
    return xp.where(nz, 1.0 / xp.sqrt(xp.where(nz, n2, 1.0)), 0.0)


@accelerated
def scaled_dot(a: Any, b: Any, sa: Any, sb: Any, *, axis: Axis, where: Any = None, xp: Any) -> Any:
    """``sum(a·b, axis) · sa · sb`` with ``sa``, ``sb`` of the sum's shape (keepdims): the dot
    product of ``a`` and ``b`` rescaled (a cosine from inverse norms); entries where
    ``where`` is False are left out.

    One product ``a·b``, reduced, then scaled (no full-size temporaries beyond
    it on eager libraries).
    """
    prod = a * b
    if where is not None:
        prod = xp.where(where, prod, 0.0)
    return xp.sum(prod, axis=axis, keepdims=True) * (sa * sb)


@accelerated
def vector_norm(x: Any, p: float, *, axis: Axis = -1, keepdims: bool = False, xp: Any) -> Any:
    """The ``p``-norm ``(sum |x|**p)**(1/p)`` along ``axis``, without overflow or underflow.

    ``p`` is a Python number: ``inf`` gives ``max |x|``, ``0`` the number of
    non-zero entries.  For finite ``p > 0`` the largest ``|x|`` is factored
    out (``m · (sum (|x|/m)**p)**(1/p)``), so large or tiny entries neither
    overflow nor vanish.  A zero vector has norm 0 and gradient 0 (the
    subgradient torch uses), for every ``p``.
    """
    return scaled_norm(x, p, axis, keepdims, xp)


def scaled_norm(x: Any, p: float, axis: Axis, keepdims: bool, xp: Any) -> Any:
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
