"""Cross-entropy terms: sigmoid (binary) and focal terms, Poly-1, softmax with labels."""

from __future__ import annotations

from typing import Any

from .._dispatch import accelerated
from ._util import Axis
from .labels import take_labels
from .logspace import (
    complement_of_log_probs,
    log_softmax,
    logsumexp,
    one_minus_exp,
    softmax_parts,
    softplus_parts,
)

__all__ = [
    "focal_power",
    "label_cross_entropy",
    "label_log_softmax_pair",
    "poly1_cross_entropy",
    "poly1_cross_entropy_jvp",
    "poly1_cross_entropy_vjp",
    "poly1_sum",
    "sigmoid_cross_entropy",
    "sigmoid_focal_parts",
    "sigmoid_focal_powers",
    "soft_label_cross_entropy",
    "static_power",
]


@accelerated
def sigmoid_cross_entropy(x: Any, y: Any, *, xp: Any) -> Any:
    """``-y·log σ(x) - (1 - y)·log σ(-x) = y·softplus(-x) + (1 - y)·softplus(x)``.

    Computed as ``[x ≥ 0 ? (1 - y)·x : -y·x] + log1p(exp(-|x|))``: one ``exp``
    and one ``log1p`` per element, exact for hard labels at any logit (no
    cancellation of ``x`` against ``softplus(x)``) and smooth in ``y`` for soft
    labels.
    """
    pos, t = softplus_parts(x, xp=xp)
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


def static_power(g: Any) -> bool:
    """A Python exponent for which ``q**g`` has a finite derivative at ``q = 0``."""
    return isinstance(g, (int, float)) and (g == 0 or g >= 1)


@accelerated
def sigmoid_focal_powers(
    x: Any, y: Any, gammas: tuple[Any, ...], *, xp: Any
) -> tuple[Any, tuple[Any, ...]]:
    r"""``(BCE(x, y), ((1 - p_t)**g for g in gammas))`` of the sigmoid focal losses.

    The powers are ``exp(g·log(1 - p_t))`` with ``log(1 - p_t)`` from
    :func:`sigmoid_focal_parts`, so values and gradients are finite for every
    ``g ≥ 0`` (``g`` may be an array) and every finite logit, and soft labels
    are exact.  (Backends may compute ``q = 1 - p_t`` in linear space, as a
    sum of non-negative terms, and ``q**g`` directly where that keeps the
    derivative finite.)
    """
    bce, log_q = sigmoid_focal_parts(x, y, xp=xp)
    return bce, tuple(xp.exp(g * log_q) for g in gammas)


@accelerated
def poly1_sum(logp: Any, y: Any, epsilon: float, *, axis: Axis, xp: Any) -> Any:
    """``sum(y·(ε·(1 - exp(logp)) - logp), axis)``: the soft-label Poly-1 cross-entropy.

    :func:`one_minus_exp` gives ``1 - p`` to full relative precision as ``p -> 1``.
    """
    return xp.sum(y * (epsilon * one_minus_exp(logp, xp=xp) - logp), axis=axis)


def _masked_log_softmax(x: Any, mask: Any, *, axis: Axis, xp: Any) -> Any:
    logp = log_softmax(x, axis=axis, where=mask, xp=xp)
    return logp if mask is None else xp.where(mask, logp, 0.0)


@accelerated
def poly1_cross_entropy(x: Any, y: Any, mask: Any, epsilon: float, *, axis: Axis, xp: Any) -> Any:
    r"""The soft-label Poly-1 cross-entropy of logits ``x``: :func:`poly1_sum` of
    ``log_softmax(x)`` over the entries ``mask`` keeps (all where ``mask`` is None).

    Its derivative is :func:`poly1_cross_entropy_jvp`, which a backend may attach
    as the function's own (JAX: ``jax.custom_jvp``): automatic differentiation of
    this body goes through ``expm1`` and ``log_softmax`` and costs XLA:CPU 2-4
    times the forward pass more than the closed form.
    """
    return poly1_sum(_masked_log_softmax(x, mask, axis=axis, xp=xp), y, epsilon, axis=axis, xp=xp)


def _poly1_dy(logp: Any, epsilon: float, xp: Any) -> Any:
    """``∂ℓ/∂y = ε(1 - p) - log p`` (``1 - p`` exact as ``p -> 1``; 0 where masked out)."""
    return epsilon * one_minus_exp(logp, xp=xp) - logp


def _poly1_dx(logp: Any, y: Any, mask: Any, epsilon: float, axis: Axis, xp: Any) -> Any:
    """``∂ℓ/∂x = p(S_y + ε S_yp) - y(1 + εp)`` (0 where masked out)."""
    p = xp.exp(logp)
    yk = y if mask is None else xp.where(mask, y, 0.0)
    if mask is not None:
        p = xp.where(mask, p, 0.0)
    s_y = xp.sum(yk, axis=axis, keepdims=True)
    s_yp = xp.sum(yk * p, axis=axis, keepdims=True)
    return p * (s_y + epsilon * s_yp) - yk * (1.0 + epsilon * p)


def poly1_cross_entropy_vjp(
    x: Any,
    y: Any,
    mask: Any,
    g: Any,
    epsilon: float,
    *,
    axis: Axis,
    wrt_y: bool,
    xp: Any,
) -> tuple[Any, Any]:
    r"""Cotangents ``(g·∂ℓ/∂x, g·∂ℓ/∂y)`` of :func:`poly1_cross_entropy` for the cotangent
    ``g`` of its value (the shape of ``x`` without ``axis``); the second is None unless
    ``wrt_y``.  The transpose of :func:`poly1_cross_entropy_jvp` (the same two partial
    derivatives), for backends whose custom gradients are reverse-mode rules (torch).
    Written with the standard's functions: differentiating it again gives the second
    derivatives.
    """
    nd = x.ndim
    axes = (axis,) if isinstance(axis, int) else axis
    axes = tuple(a % nd for a in axes)
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    gk = xp.reshape(g, shape)
    logp = _masked_log_softmax(x, mask, axis=axis, xp=xp)
    gx = _poly1_dx(logp, y, mask, epsilon, axis, xp) * gk
    return gx, (_poly1_dy(logp, epsilon, xp) * gk if wrt_y else None)


def poly1_cross_entropy_jvp(
    x: Any,
    y: Any,
    mask: Any,
    dx: Any,
    dy: Any,
    epsilon: float,
    *,
    axis: Axis,
    xp: Any,
) -> tuple[Any, Any]:
    r"""Value and directional derivative of :func:`poly1_cross_entropy`.

    With ``p = softmax(x)`` over the kept entries (``p = 0``, ``y`` taken as 0
    elsewhere), ``S_y = Σ y`` and ``S_yp = Σ y·p``,

    .. math::
        \frac{\partial \ell}{\partial x} = p\,(S_y + \epsilon S_{yp}) - y\,(1 + \epsilon p),
        \qquad
        \frac{\partial \ell}{\partial y} = \epsilon (1 - p) - \log p

    (0 at masked-out entries).  ``dx`` or ``dy`` may be None (a tangent known to
    be zero).  The tangent is linear in ``(dx, dy)`` and written with the
    standard's functions, so that reverse mode (its transpose) and derivatives
    of any order follow.
    """
    logp = _masked_log_softmax(x, mask, axis=axis, xp=xp)
    dual = _poly1_dy(logp, epsilon, xp)
    value = xp.sum(y * dual, axis=axis)
    tangent = None
    if dx is not None:
        tangent = xp.sum(_poly1_dx(logp, y, mask, epsilon, axis, xp) * dx, axis=axis)
    if dy is not None:
        t_y = xp.sum(dual * dy, axis=axis)
        tangent = t_y if tangent is None else tangent + t_y
    if tangent is None:
        tangent = xp.zeros_like(value)
    return value, tangent


@accelerated
def label_cross_entropy(x: Any, labels: Any, *, axis: int, xp: Any) -> Any:
    """``logsumexp(x, axis) - x[label]`` = ``-log softmax(x)[label]`` along ``axis``.

    ``labels`` has the shape of ``x`` without ``axis`` and holds valid class
    indices (callers replace invalid ones first).  No one-hot is built.  The
    generic body is what ``torch.compile`` and XLA fuse best, and on NumPy its
    ``logsumexp`` keeps one temporary of ``x``'s size.
    """
    return logsumexp(x, axis=axis, xp=xp) - take_labels(x, labels, axis=axis, xp=xp)


@accelerated
def soft_label_cross_entropy(x: Any, y: Any, *, axis: int, xp: Any) -> Any:
    """``-sum(y · log_softmax(x), axis)`` for probability labels ``y`` of ``x``'s shape."""
    return -xp.sum(y * log_softmax(x, axis=axis, xp=xp), axis=axis)


@accelerated
def label_log_softmax_pair(
    x: Any, labels: Any, *, axis: int, where: Any = None, xp: Any
) -> tuple[Any, Any]:
    """``(log p_y, log(1 - p_y))`` at each row's label, ``p = softmax(x, axis)``.

    The label's entry is gathered (no one-hot); ``log(1 - p_y)`` is exact as
    ``p_y -> 1`` (:func:`xlosses._ops.logspace.softmax_parts`).  ``labels`` has the
    shape of ``x`` without ``axis`` and holds valid indices.  A label on a
    masked-out entry (``where`` False) has probability 0: ``log p_y = -inf``.
    """
    shifted, log_s, log_rest = softmax_parts(x, axis=axis, where=where, xp=xp)
    logp = take_labels(shifted, labels, axis=axis, xp=xp) - xp.squeeze(log_s, axis=axis)
    return logp, complement_of_log_probs(logp, xp.squeeze(log_rest, axis=axis), xp=xp)


def focal_power(log_q: Any, gamma: Any, *, xp: Any) -> Any:
    """``q**γ = exp(γ·log q)`` from ``log q`` (``γ ≥ 0``): the focal factor ``(1 - p)**γ``.

    ``1`` for ``γ = 0`` (also at ``q = 0``), ``0`` at ``log q = -inf`` otherwise;
    finite values and gradients for every finite ``log q`` and every ``γ``,
    ``γ < 1`` included (the derivative of ``q**γ`` is infinite at ``q = 0``, that
    of ``exp(γ·log q)`` in ``log q`` is not).  ``γ`` may be a Python number (``γ = 0``
    costs nothing) or an array broadcastable with ``log q``.
    """
    if isinstance(gamma, (int, float)):
        return 1.0 if gamma == 0 else xp.exp(gamma * log_q)
    ok = log_q > -xp.inf
    at_zero = xp.astype(gamma == 0, log_q.dtype)  # q**γ at q = 0: 1 for γ = 0, else 0
    return xp.where(ok, xp.exp(gamma * xp.where(ok, log_q, 0.0)), at_zero)
