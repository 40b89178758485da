r"""Classification losses: softmax and sigmoid cross-entropies, focal and Poly-1 losses,
generalized cross-entropy.

Every function returns the per-example loss (no reduction over the batch), in
the floating dtype of ``logits``, as an array of the input's library on the
input's device.  16-bit inputs are computed in float32 and cast back.
"""

from __future__ import annotations

from typing import Any

from ._checks import (
    broadcast_shapes,
    check_label_range,
    normalize_axes,
    where_mask,
)
from ._checks import floating_input as _floating
from ._classes import (
    check_gamma,
    class_axis,
    class_weights,
    integer_label_setup,
    namespace_with_weights,
    soft_label_setup,
    soft_log_probs,
    weights_along,
)
from ._dispatch import accelerated, entry
from ._namespace import cast, namespace
from ._ops import (
    focal_power,
    label_cross_entropy,
    label_log_softmax_pair,
    log_softmax,
    log_softmax_pair,
    logsumexp,
    poly1_cross_entropy,
    sigmoid_cross_entropy,
    sigmoid_focal_powers,
    soft_label_cross_entropy,
    take_labels,
)

__all__ = [
    "generalized_cross_entropy",
    "poly_loss_cross_entropy",
    "poly_loss_sigmoid_focal",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "softmax_focal_loss",
    "softmax_focal_loss_with_integer_labels",
]

Array = Any


@entry
def softmax_cross_entropy(
    logits: Array,
    labels: Array,
    axis: int | tuple[int, ...] | None = -1,
    where: Array | None = None,
) -> Array:
    r"""Softmax cross-entropy between logits and probability labels.

    .. math::
        \ell = -\sum_j y_j \log \operatorname{softmax}(x)_j
             = \operatorname{logsumexp}(x) \textstyle\sum_j y_j - \sum_j y_j x_j

    Drop-in for ``optax.losses.softmax_cross_entropy``.

    Parameters
    ----------
    logits : array, shape ``[..., num_classes]``
        Unnormalised log-probabilities (real floating dtype).
    labels : array, broadcastable to ``logits``
        Target probabilities (e.g. one-hot rows).
    axis : int or tuple of ints or None, default -1
        Class axis (or axes; ``None`` means all axes).
    where : bool array, optional
        Entries to include: of ``logits``' shape, or of the batch shape (then
        applied to whole rows).  A row with no entry has loss 0.

    Returns
    -------
    array, shape ``logits.shape`` without ``axis``
        Per-example cross-entropy, in ``logits``' dtype.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
    >>> labels = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> print(np.round(xlosses.softmax_cross_entropy(logits, labels), 4))
    [0.2761 2.9518]

    References
    ----------
    Goodfellow, Bengio and Courville, *Deep Learning*, §6.2.2.3, 2016.
    """
    xp, logits, labels, where = namespace(logits=logits, labels=labels, where=where)
    if where is None and isinstance(axis, int):
        x, dtype = _floating(xp, logits)
        broadcast_shapes(logits=logits.shape, labels=labels.shape)
        ax = normalize_axes(axis, x.ndim)[0]
        y = cast(labels, x.dtype, xp=xp)
        return cast(soft_label_cross_entropy(x, y, axis=ax, xp=xp), dtype, xp=xp)
    logp, y, ax, dtype, _ = soft_log_probs(logits, labels, axis, where, xp)
    return cast(-xp.sum(y * logp, axis=ax), dtype, xp=xp)


@accelerated
def integer_label_ce(x: Array, labels: Array, *, axis: int, mask: Array, xp: Any) -> Array:
    """``logsumexp(x) - x[label]`` per row along ``axis``; NaN in rows whose label is out of
    range (``ValueError`` where a value check runs).  (A backend whose fused kernel checks
    the labels itself may stand in for the range check and the masks.)"""
    num_classes = x.shape[axis]
    checked = check_label_range(labels, num_classes, xp=xp)
    if mask is None:
        if checked:  # every label is valid: no masking needed
            return label_cross_entropy(x, labels, axis=axis, xp=xp)
        valid = (labels >= 0) & (labels < num_classes)
        out = label_cross_entropy(x, xp.where(valid, labels, 0), axis=axis, xp=xp)
        return xp.where(valid, out, xp.nan)
    valid = (labels >= 0) & (labels < num_classes)
    picked = take_labels(x, xp.where(valid, labels, 0), axis=axis, xp=xp)
    out = xp.where(valid, logsumexp(x, axis=axis, where=mask, xp=xp) - picked, xp.nan)
    return xp.where(xp.any(mask, axis=axis), out, 0.0)


@entry
def softmax_cross_entropy_with_integer_labels(
    logits: Array, labels: Array, axis: int | tuple[int, ...] = -1, where: Array | None = None
) -> Array:
    r"""Softmax cross-entropy with integer class labels.

    .. math::
        \ell = \operatorname{logsumexp}(x) - x_{y}

    Drop-in for ``optax.losses.softmax_cross_entropy_with_integer_labels``.
    The label's logit is gathered (``take_along_axis``): no one-hot array of
    the logits' size is ever built.

    Parameters
    ----------
    logits : array, shape ``[..., num_classes]``
        Unnormalised log-probabilities.
    labels : integer array, shape ``logits.shape`` without ``axis``
        Class indices in ``[0, num_classes)``.
    axis : int or tuple of ints, default -1
        Class axis.  With a tuple, a label is a flat (C-order) index into the
        slice ``logits[axis]``.
    where : bool array, optional
        Entries to include, as in :func:`softmax_cross_entropy`.

    Returns
    -------
    array, shape ``labels.shape``
        Per-example cross-entropy in ``logits``' dtype.

    Notes
    -----
    Out-of-range labels raise ``ValueError`` on eager CPU backends (NumPy,
    array-api-strict, torch and JAX on CPU).  Where no check can run (under
    ``jax.jit``, ``torch.compile``, on GPUs, on Dask) their rows are NaN.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
    >>> print(np.round(xlosses.softmax_cross_entropy_with_integer_labels(logits, np.array([0, 1])), 4))
    [0.2761 2.9518]

    References
    ----------
    Goodfellow, Bengio and Courville, *Deep Learning*, §6.2.2.3, 2016.
    """
    xp, logits, labels, where = namespace(
        logits=logits, labels=labels, where=where, indices=("labels",)
    )
    x, mask, ax, dtype, labels = integer_label_setup(logits, labels, axis, where, xp)
    return cast(integer_label_ce(x, labels, axis=ax, mask=mask, xp=xp), dtype, xp=xp)


def safe_softmax_cross_entropy(logits: Array, labels: Array) -> Array:
    r"""Softmax cross-entropy with the convention ``0·log 0 = 0``.

    .. math::
        \ell = -\sum_{j:\,y_j \neq 0} y_j \log \operatorname{softmax}(x)_j

    Unlike :func:`softmax_cross_entropy`, a ``-inf`` logit whose label is 0
    contributes 0 (not NaN), in value and in gradient.  Drop-in for
    ``optax.losses.safe_softmax_cross_entropy``.

    Parameters
    ----------
    logits : array, shape ``[..., num_classes]``
        Unnormalised log-probabilities; may hold ``-inf``.
    labels : array, broadcastable to ``logits``
        Target probabilities.

    Returns
    -------
    array, shape ``logits.shape[:-1]``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.array([[0.0, -np.inf, 1.0]])
    >>> labels = np.array([[0.5, 0.0, 0.5]])
    >>> print(np.round(xlosses.safe_softmax_cross_entropy(logits, labels), 4))
    [0.8133]
    """
    xp, logits, labels = namespace(logits=logits, labels=labels)
    x, dtype = _floating(xp, logits)
    broadcast_shapes(logits=logits.shape, labels=labels.shape)
    y = cast(labels, x.dtype, xp=xp)
    logp = log_softmax(x, axis=-1, xp=xp)
    logp = xp.where(y != 0, logp, 0.0)
    return cast(-xp.sum(y * logp, axis=-1), dtype, xp=xp)


def sigmoid_binary_cross_entropy(logits: Array, labels: Array) -> Array:
    r"""Element-wise sigmoid (binary) cross-entropy.

    .. math::
        \ell = -y \log \sigma(x) - (1 - y) \log \sigma(-x)
             = y\,\operatorname{softplus}(-x) + (1 - y)\,\operatorname{softplus}(x)

    computed as ``[x ≥ 0 ? (1-y)x : -yx] + log1p(exp(-|x|))``, exact for hard
    labels at any logit and smooth for soft labels.  Drop-in for
    ``optax.losses.sigmoid_binary_cross_entropy``.

    Parameters
    ----------
    logits : array
        Logits of the positive class.
    labels : array, broadcastable to ``logits``
        Targets in ``[0, 1]`` (hard or soft; bool and integer labels are cast).

    Returns
    -------
    array, the broadcast shape of ``logits`` and ``labels``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.sigmoid_binary_cross_entropy(np.array([2.0, -1.0]), np.array([1.0, 1.0])), 4))
    [0.1269 1.3133]
    """
    xp, logits, labels = namespace(logits=logits, labels=labels)
    x, dtype = _floating(xp, logits)
    broadcast_shapes(logits=logits.shape, labels=labels.shape)
    y = cast(labels, x.dtype, xp=xp)
    return cast(sigmoid_cross_entropy(x, y, xp=xp), dtype, xp=xp)


def _focal_terms(
    logits: Array, labels: Array, gammas: tuple[Any, ...], xp: Any
) -> tuple[Array, tuple[Array, ...], Array, Any]:
    r"""``(bce, ((1 - p_t)**g for g in gammas), labels, out_dtype)`` of the focal losses.

    ``1 - p_t = (1-y)·σ(x) + y·σ(-x)``; its powers come from
    :func:`xlosses._ops.sigmoid_focal_powers` (log space in the generic code:
    exact for soft labels, finite with finite gradients for any finite logit).
    """
    x, dtype = _floating(xp, logits)
    broadcast_shapes(logits=logits.shape, labels=labels.shape)
    y = cast(labels, x.dtype, xp=xp)
    bce, powers = sigmoid_focal_powers(x, y, gammas, xp=xp)
    return bce, powers, y, dtype


def _alpha_t(alpha: Any, y: Array, xp: Any) -> Any:
    """``α·y + (1-α)·(1-y)``, or 1 when α is None or negative (weighting off)."""
    if alpha is None or (isinstance(alpha, (int, float)) and alpha < 0):
        return 1.0
    a_t = alpha * y + (1.0 - alpha) * (1.0 - y)
    return a_t if isinstance(alpha, (int, float)) else xp.where(alpha < 0, 1.0, a_t)


def sigmoid_focal_loss(
    logits: Array, labels: Array, *, alpha: float | None = None, gamma: float = 2.0
) -> Array:
    r"""Sigmoid focal loss (Lin et al., 2017), in log space.

    .. math::
        \ell = \alpha_t\,(1 - p_t)^\gamma\,\mathrm{BCE}(x, y),\qquad
        1 - p_t = (1 - y)\,\sigma(x) + y\,\sigma(-x),\qquad
        \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    The focal weight is ``exp(γ·log(1 - p_t))`` with ``log(1 - p_t)`` the
    ``logaddexp`` of two label-weighted log-sigmoids: values and gradients are
    finite for every ``γ ≥ 0`` and every finite logit, and soft labels in
    ``[0, 1]`` are exact.  (The NumPy and eager torch fast paths take
    ``(1 - p_t)**γ`` in linear space from a sum of non-negative terms, for
    ``γ = 0`` or ``γ ≥ 1`` on torch: the same accuracy, one ``log`` and one
    ``exp`` fewer.)  Drop-in for ``optax.losses.sigmoid_focal_loss``.

    Parameters
    ----------
    logits : array
        Logits of the positive class.
    labels : array, broadcastable to ``logits``
        Targets in ``[0, 1]``.
    alpha : float, optional
        Weight of the positive class; ``None`` (default) disables weighting.
    gamma : float, default 2.0
        Focusing exponent ``γ ≥ 0``; ``γ = 0`` gives the (α-weighted) BCE.

    Returns
    -------
    array, the broadcast shape of ``logits`` and ``labels``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> loss = xlosses.sigmoid_focal_loss(np.array([2.0, -1.0]), np.array([1.0, 1.0]), gamma=2.0)
    >>> print(np.round(loss, 4))
    [0.0018 0.7019]

    References
    ----------
    Lin, Goyal, Girshick, He and Dollár, *Focal Loss for Dense Object
    Detection*, ICCV 2017.
    """
    xp, logits, labels = namespace(logits=logits, labels=labels)
    bce, (weight,), y, dtype = _focal_terms(logits, labels, (gamma,), xp)
    loss = _alpha_t(alpha, y, xp) * weight * bce
    return cast(loss, dtype, xp=xp)


def poly_loss_sigmoid_focal(
    logits: Array,
    labels: Array,
    *,
    epsilon: float = 1.0,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
) -> Array:
    r"""Poly-1 focal loss (Leng et al., 2022), element-wise for sigmoid logits.

    .. math::
        \ell = \alpha_t\,(1 - p_t)^\gamma\,\mathrm{BCE}(x, y)
               + \epsilon\,(1 - p_t)^{\gamma + 1}

    as in the PolyLoss paper's reference code: ``α`` weights the focal term
    only; ``alpha=None`` or a negative ``α`` disables the weighting.  Both
    powers of ``1 - p_t`` are taken in log space (see
    :func:`sigmoid_focal_loss`).  optax has no such function.

    Parameters
    ----------
    logits, labels : arrays
        As in :func:`sigmoid_focal_loss`.
    epsilon : float, default 1.0
        Coefficient of the first polynomial term.
    alpha : float or None, default 0.25
    gamma : float, default 2.0

    Returns
    -------
    array, the broadcast shape of ``logits`` and ``labels``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> loss = xlosses.poly_loss_sigmoid_focal(np.array([0.0]), np.array([1.0]), epsilon=1.0, alpha=None, gamma=2.0)
    >>> print(np.round(loss, 4))  # 0.25·log 2 + 0.125
    [0.2983]

    References
    ----------
    Leng et al., *PolyLoss: A Polynomial Expansion Perspective of
    Classification Loss Functions*, ICLR 2022.
    """
    xp, logits, labels = namespace(logits=logits, labels=labels)
    bce, (weight, poly), y, dtype = _focal_terms(logits, labels, (gamma, gamma + 1.0), xp)
    focal = _alpha_t(alpha, y, xp) * weight * bce
    return cast(focal + epsilon * poly, dtype, xp=xp)


def poly_loss_cross_entropy(
    logits: Array,
    labels: Array,
    *,
    epsilon: float = 2.0,
    axis: int | tuple[int, ...] | None = -1,
    where: Array | None = None,
) -> Array:
    r"""Poly-1 cross-entropy (Leng et al., 2022).

    .. math::
        \ell = -\sum_j y_j \log p_j + \epsilon \sum_j y_j (1 - p_j),
        \qquad p = \operatorname{softmax}(x)

    which for one-hot labels is :math:`-\log p_t + \epsilon (1 - p_t)`.
    Drop-in for ``optax.losses.poly_loss_cross_entropy``; in addition,
    integer ``labels`` of the batch shape are accepted as class indices (no
    one-hot is built).

    Parameters
    ----------
    logits : array, shape ``[..., num_classes]``
    labels : array
        Probabilities broadcastable to ``logits``, or integer class indices
        of shape ``logits.shape`` without ``axis``.
    epsilon : float, default 2.0
        Coefficient of the first polynomial term (2.0 for ImageNet
        classification, -1.0 for detection in the paper).
    axis : int or tuple of ints or None, default -1
    where : bool array, optional
        As in :func:`softmax_cross_entropy`.

    Returns
    -------
    array, shape ``logits.shape`` without ``axis``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.array([[0.0, 0.0]])
    >>> print(np.round(xlosses.poly_loss_cross_entropy(logits, np.array([[1.0, 0.0]]), epsilon=2.0), 4))
    [1.6931]

    References
    ----------
    Leng et al., *PolyLoss: A Polynomial Expansion Perspective of
    Classification Loss Functions*, ICLR 2022.
    """
    xp, logits, labels, where = namespace(logits=logits, labels=labels, where=where)
    if xp.isdtype(labels.dtype, "integral") and labels.ndim < logits.ndim:
        x, mask, ax, dtype, labels = integer_label_setup(
            logits, labels, -1 if axis is None else axis, where, xp
        )
        ce = integer_label_ce(x, labels, axis=ax, mask=mask, xp=xp)  # = -log p_t (0 in empty rows)
        return cast(ce - epsilon * xp.expm1(-ce), dtype, xp=xp)
    x, y, ax, dtype, mask = soft_label_setup(logits, labels, axis, where, xp)
    # -Σ y·log p + ε·Σ y·(1 - p) in one reduction; masked-out log p are 0, so are their 1 - p
    return cast(poly1_cross_entropy(x, y, mask, epsilon, axis=ax, xp=xp), dtype, xp=xp)


# -- softmax focal losses, generalized cross-entropy, distillation ------------------------


def softmax_focal_loss(
    logits: Array,
    labels: Array,
    *,
    alpha: float | Array | None = None,
    gamma: float | Array = 2.0,
    axis: int = -1,
    where: Array | None = None,
) -> Array:
    r"""Softmax (categorical) focal loss with probability labels, in log space.

    .. math::
        \ell = -\sum_j \alpha_j\,(1 - p_j)^\gamma\,y_j \log p_j,
        \qquad p = \operatorname{softmax}(x)

    The focal factor is ``exp(γ·log(1 - p_j))`` with ``log p`` and ``log(1 - p)``
    both exact (:func:`xlosses._ops.log_softmax_pair`: the complement of a row's
    largest probability is the sum of the others, not ``1 - p``), so values and
    gradients are finite for every ``γ ≥ 0`` (``γ < 1`` included) and every
    finite logit, even where ``p`` rounds to 1.  With ``γ = 0`` and no ``α`` it
    is :func:`softmax_cross_entropy`.

    The peers differ from it and from each other:

    * Keras ``categorical_focal_crossentropy(from_logits=True)`` computes in
      probability space with ``p`` clipped to ``[1e-7, 1 - 1e-7]``: equal
      where no probability is clipped; its scalar ``alpha`` (default 0.25)
      multiplies every class, as a number does here (pass ``alpha=0.25`` for
      Keras' default).
    * MONAI ``FocalLoss(use_softmax=True)`` (class axis 1, one-hot labels) and
      kornia ``focal_loss`` read a scalar ``α`` as ``1 - α`` for class 0 and
      ``α`` for the others: pass ``alpha=[1 - a, a, ..., a]`` for theirs.  With
      a per-class array, or ``alpha=None``, they agree with this loss summed
      over their class axis (``axis=1``).

    Parameters
    ----------
    logits : array, shape ``[..., num_classes]``
        Unnormalised log-probabilities.
    labels : array, broadcastable to ``logits``
        Target probabilities (one-hot or soft rows).
    alpha : float, array or sequence, optional
        Class weights: one number for every class, or one per class (an array
        or a list of shape ``[num_classes]``).  ``None`` (default) weights
        every class by 1.
    gamma : float or array, default 2.0
        Focusing exponent ``γ ≥ 0``.
    axis : int, default -1
        Class axis.
    where : bool array, optional
        Entries to include, of ``logits``' shape or of the batch shape (whole
        rows): left out of the softmax and of the sum.  A row with no entry
        has loss 0.

    Returns
    -------
    array, shape ``logits.shape`` without ``axis``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.log(np.array([[0.5, 0.25, 0.25]]))
    >>> labels = np.array([[1.0, 0.0, 0.0]])
    >>> print(np.round(xlosses.softmax_focal_loss(logits, labels, gamma=2.0), 4))  # 0.25·log 2
    [0.1733]

    References
    ----------
    Lin, Goyal, Girshick, He and Dollár, *Focal Loss for Dense Object
    Detection*, ICCV 2017.
    """
    xp, alpha, (logits, labels, where) = namespace_with_weights(
        alpha, logits=logits, labels=labels, where=where
    )
    x, dtype = _floating(xp, logits)
    broadcast_shapes(logits=logits.shape, labels=labels.shape)
    check_gamma(gamma)
    ax = class_axis(axis, x.ndim)
    mask = where_mask(where, x.shape, (ax,), xp=xp)
    alpha = weights_along(xp, class_weights(xp, alpha, x, x.shape[ax]), x.ndim, ax)
    y = cast(labels, x.dtype, xp=xp)
    if not isinstance(gamma, (int, float)):
        gamma = cast(gamma, x.dtype, xp=xp)
    logp, log_q = log_softmax_pair(x, axis=ax, where=mask, xp=xp)
    if mask is not None:
        logp = xp.where(mask, logp, 0.0)  # left-out entries: 0·(-inf) would be NaN
    terms = focal_power(log_q, gamma, xp=xp) * (y * logp)
    if alpha is not None:
        terms = alpha * terms
    return cast(-xp.sum(terms, axis=ax), dtype, xp=xp)


def softmax_focal_loss_with_integer_labels(
    logits: Array,
    labels: Array,
    *,
    alpha: float | Array | None = None,
    gamma: float | Array = 2.0,
    axis: int | tuple[int, ...] = -1,
    where: Array | None = None,
) -> Array:
    r"""Softmax focal loss with integer class labels, in log space.

    .. math::
        \ell = -\alpha_y\,(1 - p_y)^\gamma \log p_y,
        \qquad p = \operatorname{softmax}(x)

    The label's entry is gathered: no one-hot array is built.  ``log p_y`` and
    ``log(1 - p_y)`` are exact (see :func:`softmax_focal_loss`): values and
    gradients are finite for every ``γ ≥ 0`` and every finite logit.  kornia's
    ``focal_loss(pred, target, alpha, gamma, reduction='none')`` summed over its
    class axis 1 is this loss with ``axis=1`` where ``alpha`` is ``None`` or a
    per-class array (kornia's scalar ``α`` is ``[1 - α, α, ..., α]`` here).

    Parameters
    ----------
    logits : array, shape ``[..., num_classes]``
        Unnormalised log-probabilities.
    labels : integer array, shape ``logits.shape`` without ``axis``
        Class indices in ``[0, num_classes)``.
    alpha : float, array or sequence, optional
        One weight for every class, or one per class (``[num_classes]``,
        gathered at the label).  ``None`` (default): no weighting.
    gamma : float or array, default 2.0
        Focusing exponent ``γ ≥ 0``.
    axis : int or tuple of ints, default -1
        Class axis (a tuple: a label is a flat C-order index into those axes).
    where : bool array, optional
        Entries to include, as in :func:`softmax_cross_entropy_with_integer_labels`;
        a label on a left-out entry has probability 0 (loss ``inf``), a row
        with no entry has loss 0.

    Returns
    -------
    array, shape ``labels.shape``

    Notes
    -----
    Out-of-range labels raise ``ValueError`` on eager CPU backends; where no
    check can run (``jax.jit``, ``torch.compile``, GPUs, Dask) their rows are NaN.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.log(np.array([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]]))
    >>> loss = xlosses.softmax_focal_loss_with_integer_labels(logits, np.array([0, 1]), alpha=[1.0, 2.0, 1.0])
    >>> print(np.round(loss, 4))  # 0.25·log 2 and 2·0.5625·log 4
    [0.1733 1.5596]

    References
    ----------
    Lin, Goyal, Girshick, He and Dollár, *Focal Loss for Dense Object
    Detection*, ICCV 2017.
    """
    xp, alpha, (logits, labels, where) = namespace_with_weights(
        alpha, logits=logits, labels=labels, where=where
    )
    check_gamma(gamma)
    x, mask, ax, dtype, labels = integer_label_setup(logits, labels, axis, where, xp)
    num_classes = x.shape[ax]
    alpha = class_weights(xp, alpha, x, num_classes)
    if not isinstance(gamma, (int, float)):
        gamma = cast(gamma, x.dtype, xp=xp)
    valid = None
    if not check_label_range(labels, num_classes, xp=xp):
        valid = (labels >= 0) & (labels < num_classes)
        labels = xp.where(valid, labels, 0)
    logp, log_q = label_log_softmax_pair(x, labels, axis=ax, where=mask, xp=xp)
    loss = -(focal_power(log_q, gamma, xp=xp) * logp)
    if alpha is not None:
        if not isinstance(alpha, (int, float)) and alpha.ndim == 1:
            alpha = xp.take(alpha, xp.reshape(labels, (-1,)), axis=0)
            alpha = xp.reshape(alpha, tuple(labels.shape))
        loss = alpha * loss
    if mask is not None:
        loss = xp.where(xp.any(mask, axis=ax), loss, 0.0)
    if valid is not None:
        loss = xp.where(valid, loss, xp.nan)
    return cast(loss, dtype, xp=xp)


def generalized_cross_entropy(
    logits: Array,
    labels: Array,
    q: float = 0.5,
    *,
    axis: int | tuple[int, ...] = -1,
    where: Array | None = None,
) -> Array:
    r"""Generalized cross-entropy (Zhang and Sabuncu, 2018), robust to noisy labels.

    .. math::
        \ell = \frac{1 - p_y^{\,q}}{q} = -\frac{\operatorname{expm1}(q \log p_y)}{q},
        \qquad p = \operatorname{softmax}(x)

    computed from ``log p_y`` (``log_softmax``), so it keeps full precision
    for ``p_y`` near 1 and never forms ``p_y**q`` of a probability that
    underflowed.  ``q → 0`` is the cross-entropy, ``q = 1`` the mean absolute
    error ``1 - p_y``.  Keras' ``categorical_generalized_cross_entropy(y_true,
    y_pred, q)`` takes integer labels and *probabilities*: it is this loss of
    ``log(y_pred)``.  Probability labels (of ``logits``' shape) give the
    expectation over the label distribution, ``Σ_j y_j (1 - p_j^q)/q``
    (for one-hot rows, the same number).

    Parameters
    ----------
    logits : array, shape ``[..., num_classes]``
        Unnormalised log-probabilities.
    labels : array
        Integer class indices of shape ``logits.shape`` without ``axis``, or
        probabilities broadcastable to ``logits``.
    q : float, default 0.5
        The exponent, ``q > 0`` (Keras' class default 0.5; the paper uses 0.7).
    axis : int or tuple of ints, default -1
        Class axis.
    where : bool array, optional
        Entries to include, as in :func:`softmax_cross_entropy`; a row with no
        entry has loss 0.

    Returns
    -------
    array, shape ``logits.shape`` without ``axis``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.log(np.array([[0.25, 0.75], [0.5, 0.5]]))
    >>> print(np.round(xlosses.generalized_cross_entropy(logits, np.array([0, 1]), q=0.5), 4))
    [1.     0.5858]

    References
    ----------
    Zhang and Sabuncu, *Generalized Cross Entropy Loss for Training Deep Neural
    Networks with Noisy Labels*, NeurIPS 2018.
    """
    if isinstance(q, bool) or not isinstance(q, (int, float)):
        raise TypeError(f"q must be a number, got {type(q).__name__}")
    if not q > 0:
        raise ValueError(f"q must be positive, got {q}")
    xp, logits, labels, where = namespace(
        logits=logits, labels=labels, where=where, indices=("labels",)
    )
    if xp.isdtype(labels.dtype, "integral") and labels.ndim < logits.ndim:
        x, mask, ax, dtype, labels = integer_label_setup(logits, labels, axis, where, xp)
        ce = integer_label_ce(x, labels, axis=ax, mask=mask, xp=xp)  # -log p_y; 0 in empty rows
        return cast(-xp.expm1(-q * ce) / q, dtype, xp=xp)
    logp, y, ax, dtype, _ = soft_log_probs(logits, labels, axis, where, xp)
    # left-out entries have log p = 0 here: expm1(0) = 0, they add nothing
    return cast(-xp.sum(y * xp.expm1(q * logp), axis=ax) / q, dtype, xp=xp)
