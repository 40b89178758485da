r"""Divergences between distributions: Kullback-Leibler and its generalised form, and the
tempered KL of knowledge distillation.

Drop-in for ``optax.losses``' divergences (same arguments, ``axis`` and
``where``).  Each returns the divergence reduced over ``axis`` (the class axis)
and nothing else, in the floating dtype of ``log_predictions``
(``distillation_loss``: of ``student_logits``, which it takes as logits).

Zero targets follow the convention ``0·log 0 = 0`` *and* ``0·(anything) = 0``:
a class the target gives no mass contributes 0 even where the prediction is 0
(``log_predictions = -inf``), in value and in gradient.  optax returns NaN
there (``0·inf``) although the divergence is finite (docs/decisions.md).
"""

from __future__ import annotations

from typing import Any

from ._checks import broadcast_shapes, check_floating, normalize_axes, where_mask
from ._checks import floating_input as _floating
from ._classes import class_axis
from ._dispatch import entry
from ._namespace import cast, compute_dtype, namespace
from ._ops import exp_times_difference, log_softmax, xlog_ratio
from ._reduce import masked_sum

__all__ = [
    "convex_kl_divergence",
    "distillation_loss",
    "generalized_kl_divergence",
    "kl_divergence",
    "kl_divergence_with_log_targets",
]

Array = Any
Axis = int | tuple[int, ...] | None


def _setup(
    xp: Any, log_predictions: Array, targets: Array, name: str, axis: Axis, where: Array
) -> tuple[Array, Array, Any, Any, Array]:
    """``(log_predictions, targets, axis, out_dtype, mask)`` in the compute dtype."""
    check_floating(log_predictions, "log_predictions", xp=xp)
    check_floating(targets, name, xp=xp)
    shape = broadcast_shapes(log_predictions=log_predictions.shape, **{name: targets.shape})
    dtype = log_predictions.dtype
    lp = cast(log_predictions, compute_dtype(xp, dtype), xp=xp)
    t = cast(targets, lp.dtype, xp=xp)
    ndim = len(shape)
    axes = normalize_axes(tuple(range(ndim)) if axis is None else axis, ndim)
    mask = where_mask(where, shape, axes, xp=xp, of="the inputs' broadcast")
    return lp, t, axes, dtype, mask


def _summed(terms: Any, a: Array, b: Array, axes: Any, mask: Array, xp: Any, extra: Any = None):
    """``masked_sum(terms(a, b) [+ extra()], axes, mask)`` for ``terms`` one of the guarded
    term primitives (:func:`xlog_ratio`, :func:`exp_times_difference`).

    Without a mask the primitive gets the sum as its ``reduce``: its eager fast path then
    tests the sums for NaN rather than every term (a NaN term, where the guard would
    have acted, makes its sum NaN; a mask could drop it and leave its NaN gradient).
    """

    def total(t: Array) -> Array:
        return masked_sum(t if extra is None else t + extra(), axis=axes, where=mask, xp=xp)

    if mask is None:
        return terms(a, b, xp=xp, reduce=total)
    return total(terms(a, b, xp=xp))


@entry
def kl_divergence(
    log_predictions: Array, targets: Array, axis: Axis = -1, where: Array | None = None
) -> Array:
    r"""Kullback-Leibler divergence of the predictions from the targets.

    .. math::
        \mathrm{KL}(y \,\|\, p) = \sum_j y_j\,(\log y_j - \log p_j)

    with ``0·(log 0 - log p) = 0`` for every ``p`` (also ``p = 0``).  Drop-in
    for ``optax.losses.kl_divergence``.  Where optax returns NaN (a zero target
    on a zero prediction) this returns the finite limit.  Gradients are finite
    at zero targets: 0 with respect to ``log_predictions`` (exact), and 0 with
    respect to the target itself, whose true derivative
    ``log y_j + 1 - log p_j`` tends to ``-inf`` (optax: NaN).

    Parameters
    ----------
    log_predictions : array, shape ``[..., dim]``
        Log-probabilities of the predicted distribution.
    targets : array, broadcastable to ``log_predictions``
        Probabilities of the target distribution (non-negative).
    axis : int or tuple of ints or None, default -1
        Axis (axes) summed over; ``None`` sums over all.
    where : bool array, optional
        Entries to include: of the inputs' shape, or of the batch shape (then
        applied to whole rows).

    Returns
    -------
    array, the broadcast shape without ``axis``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logp = np.array([[np.log(0.5), np.log(0.5), -np.inf]])
    >>> print(np.round(xlosses.kl_divergence(logp, np.array([[0.25, 0.75, 0.0]])), 4))
    [0.1308]

    References
    ----------
    Kullback and Leibler, *On Information and Sufficiency*, Ann. Math. Statist. 22(1), 1951.
    """
    xp, log_predictions, targets, where = namespace(
        log_predictions=log_predictions, targets=targets, where=where
    )
    lp, t, axes, dtype, mask = _setup(xp, log_predictions, targets, "targets", axis, where)
    # t·(log t - lp), 0 where t == 0 (double where: no 0·inf, no NaN gradient)
    return cast(_summed(xlog_ratio, t, lp, axes, mask, xp), dtype, xp=xp)


@entry
def kl_divergence_with_log_targets(
    log_predictions: Array, log_targets: Array, axis: Axis = -1, where: Array | None = None
) -> Array:
    r"""Kullback-Leibler divergence with targets given as log-probabilities.

    .. math::
        \mathrm{KL}(y \,\|\, p) = \sum_j e^{\log y_j}\,(\log y_j - \log p_j)

    A target of probability 0 (``log_targets = -inf``) contributes 0, in value
    and gradient, where optax returns NaN (``0·(-inf)``).  Drop-in for
    ``optax.losses.kl_divergence_with_log_targets``.

    Parameters
    ----------
    log_predictions : array, shape ``[..., dim]``
        Log-probabilities of the predicted distribution.
    log_targets : array, broadcastable to ``log_predictions``
        Log-probabilities of the target distribution.
    axis : int or tuple of ints or None, default -1
    where : bool array, optional
        As in :func:`kl_divergence`.

    Returns
    -------
    array, the broadcast shape without ``axis``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logp = np.array([[np.log(0.5), np.log(0.5), -np.inf]])
    >>> log_targets = np.array([[np.log(0.25), np.log(0.75), -np.inf]])
    >>> print(np.round(xlosses.kl_divergence_with_log_targets(logp, log_targets), 4))
    [0.1308]

    References
    ----------
    Kullback and Leibler, *On Information and Sufficiency*, Ann. Math. Statist. 22(1), 1951.
    """
    xp, log_predictions, log_targets, where = namespace(
        log_predictions=log_predictions, log_targets=log_targets, where=where
    )
    lp, lt, axes, dtype, mask = _setup(xp, log_predictions, log_targets, "log_targets", axis, where)
    return cast(_summed(exp_times_difference, lt, lp, axes, mask, xp), dtype, xp=xp)


def generalized_kl_divergence(
    log_predictions: Array, targets: Array, axis: Axis = -1, where: Array | None = None
) -> Array:
    r"""Generalised Kullback-Leibler divergence between unnormalised measures.

    .. math::
        D(y \,\|\, p) = \sum_j y_j\,(\log y_j - \log p_j) + p_j - y_j

    the Bregman divergence of ``f(x) = x log x - x``.  Zero targets follow
    :func:`kl_divergence`.  Drop-in for
    ``optax.losses.generalized_kl_divergence``.

    Parameters
    ----------
    log_predictions : array, shape ``[..., dim]``
        Logs of the predicted (unnormalised) measure.
    targets : array, broadcastable to ``log_predictions``
        Target (unnormalised) measure, non-negative.
    axis : int or tuple of ints or None, default -1
    where : bool array, optional
        As in :func:`kl_divergence`.

    Returns
    -------
    array, the broadcast shape without ``axis``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.generalized_kl_divergence(np.log(np.array([[1.0, 2.0]])), np.array([[2.0, 2.0]])), 4))
    [0.3863]

    References
    ----------
    Bregman, *The relaxation method of finding the common point of convex sets*,
    USSR Comput. Math. Math. Phys. 7(3), 1967.
    """
    xp, log_predictions, targets, where = namespace(
        log_predictions=log_predictions, targets=targets, where=where
    )
    lp, t, axes, dtype, mask = _setup(xp, log_predictions, targets, "targets", axis, where)
    out = _summed(xlog_ratio, t, lp, axes, mask, xp, extra=lambda: xp.exp(lp) - t)
    return cast(out, dtype, xp=xp)


def convex_kl_divergence(
    log_predictions: Array, targets: Array, axis: Axis = -1, where: Array | None = None
) -> Array:
    r"""Alias of :func:`generalized_kl_divergence` (optax's older name).

    .. math::
        D(y \,\|\, p) = \sum_j y_j\,(\log y_j - \log p_j) + p_j - y_j

    Drop-in for ``optax.losses.convex_kl_divergence``, which optax 0.2.8
    deprecates in favour of ``generalized_kl_divergence``; xlosses keeps the
    name without a warning.

    Parameters
    ----------
    log_predictions, targets, axis, where
        As in :func:`generalized_kl_divergence`.

    Returns
    -------
    array, the broadcast shape without ``axis``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.convex_kl_divergence(np.log(np.array([[1.0, 2.0]])), np.array([[2.0, 2.0]])), 4))
    [0.3863]
    """
    return generalized_kl_divergence(log_predictions, targets, axis=axis, where=where)


def distillation_loss(
    student_logits: Array,
    teacher_logits: Array,
    temperature: float | Array = 1.0,
    *,
    axis: int = -1,
) -> Array:
    r"""Knowledge-distillation loss (Hinton et al., 2015): the tempered KL divergence.

    .. math::
        \ell = T^2\,\mathrm{KL}\bigl(\operatorname{softmax}(t/T) \,\|\,
               \operatorname{softmax}(s/T)\bigr)
             = T^2 \sum_j e^{\tau_j}\,(\tau_j - \sigma_j),
        \quad \tau = \log\operatorname{softmax}(t/T),\;
              \sigma = \log\operatorname{softmax}(s/T)

    exact in log space: both log-probabilities come from ``log_softmax``, and
    a class the teacher gives probability 0 (a ``-inf`` teacher logit, or an
    underflow) contributes 0 in value and gradient.  ``T²`` keeps the
    gradients' scale independent of the temperature.  Keras'
    ``LogitsDistillation(temperature=3.0)`` returns the batch mean of this
    with ``temperature=3.0``, computed in probability space with both
    probabilities clipped at 1e-7 (equal where none is clipped).  The
    gradient also flows into ``teacher_logits``: stop it there (``detach``,
    ``jax.lax.stop_gradient``) for a frozen teacher.

    Parameters
    ----------
    student_logits : array, shape ``[..., num_classes]``
        The student's logits.
    teacher_logits : array, broadcastable to ``student_logits``
        The teacher's logits (``-inf`` for impossible classes is allowed).
    temperature : float or array, default 1.0
        The temperature ``T > 0``: a number, or an array (which may be traced)
        of shape ``()`` or of the logits' dimensions with size 1 along
        ``axis`` (one temperature per row).
    axis : int, default -1
        Class axis.

    Returns
    -------
    array, the broadcast shape without ``axis``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> s = np.array([[0.0, 0.0]])
    >>> t = np.log(np.array([[0.8, 0.2]]))
    >>> print(np.round(xlosses.distillation_loss(s, t), 4))  # 0.8 log 1.6 + 0.2 log 0.4
    [0.1927]

    References
    ----------
    Hinton, Vinyals and Dean, *Distilling the Knowledge in a Neural Network*,
    NIPS Deep Learning Workshop, 2015.
    """
    xp, student_logits, teacher_logits, temperature = namespace(
        student_logits=student_logits,
        teacher_logits=teacher_logits,
        temperature=temperature,
        numbers=("temperature",),
    )
    s, dtype = _floating(xp, student_logits, "student_logits")
    check_floating(teacher_logits, "teacher_logits", xp=xp)
    shape = broadcast_shapes(
        student_logits=student_logits.shape, teacher_logits=teacher_logits.shape
    )
    ax = class_axis(axis, len(shape))
    # each softmax runs along the broadcast class axis (not the axis of a smaller input)
    s = xp.broadcast_to(s, shape)
    t = xp.broadcast_to(cast(teacher_logits, s.dtype, xp=xp), shape)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        check_floating(temperature, "temperature", xp=xp)
        ts = tuple(temperature.shape)
        if ts and (len(ts) != len(shape) or ts[ax] != 1):
            raise ValueError(
                f"temperature shape {ts} must be () or have the logits' {len(shape)} "
                f"dimensions with size 1 along axis={axis} (one temperature per row)"
            )
        temperature = cast(temperature, s.dtype, xp=xp)
    elif not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    unit = isinstance(temperature, (int, float)) and temperature == 1
    if not unit:
        s, t = s / temperature, t / temperature
    ls = log_softmax(s, axis=ax, xp=xp)
    lt = log_softmax(t, axis=ax, xp=xp)
    kl = exp_times_difference(lt, ls, xp=xp, reduce=lambda v: xp.sum(v, axis=ax))
    if unit:
        return cast(kl, dtype, xp=xp)
    t2 = temperature * temperature
    if not isinstance(t2, (int, float)) and t2.ndim:
        t2 = xp.squeeze(t2, axis=ax)
    return cast(t2 * kl, dtype, xp=xp)
