r"""Overlap losses of segmentation_models_pytorch: Jaccard, focal Tversky, Matthews correlation.

Per-example forms of ``segmentation_models_pytorch.losses.JaccardLoss``,
``TverskyLoss`` (with its γ) and ``MCCLoss`` (class axis last; one score per
example and class, where the peer sums over the batch as well: include the
batch axis in ``axis`` for its numbers), with ``where`` masks and an explicit
empty-ground-truth policy.
"""

from __future__ import annotations

import numbers
from typing import Any

from ._checks import (
    broadcast_shapes,
    check_option,
    check_same_shape,
    floating_input,
    normalize_axes,
)
from ._namespace import cast, namespace
from ._ops import clamp, relu, safe_log, safe_pow, sigmoid
from ._segmentation import REDUCTIONS, reduce_classes, segmentation_inputs, soft_intersection

__all__ = ["focal_tversky_loss", "jaccard_loss", "mcc_loss"]

Array = Any
_EMPTY = ("zero", "compute")


def _tversky_family(
    xp: Any,
    predictions: Array,
    targets: Array,
    where: Array | None,
    *,
    alpha: Any,
    beta: Any,
    gamma: Any,
    axis: Any,
    smooth: Any,
    eps: Any,
    log_loss: bool,
    activation: str | None,
    empty: str,
    reduction: str,
) -> Array:
    """segmentation_models_pytorch's Tversky score per class, its empty-class rule, γ after the reduction."""
    check_option("empty", empty, _EMPTY)
    check_option("reduction", reduction, REDUCTIONS)
    _, p, t, _, axes, _, dtype = segmentation_inputs(
        xp, predictions, targets, where, activation=activation, axis=axis
    )
    pred_sum = xp.sum(p, axis=axes)
    target_sum = xp.sum(t, axis=axes)
    tp = soft_intersection(xp, p, t, axes)
    den = tp + alpha * (pred_sum - tp) + beta * (target_sum - tp) + smooth
    score = (tp + smooth) / clamp(den, lo=eps, xp=xp)
    loss = -safe_log(clamp(score, lo=eps, xp=xp), xp=xp) if log_loss else 1.0 - score
    if empty == "zero":
        loss = xp.where(target_sum == 0, 0.0, loss)  # NaN sums keep their NaN
    loss = reduce_classes(loss, reduction, xp=xp)
    if not (isinstance(gamma, numbers.Real) and gamma == 1.0):
        loss = safe_pow(relu(loss, xp=xp), gamma, xp=xp)
    return cast(loss, dtype, xp=xp)


_OVERLAP_PARAMETERS = r"""
    predictions : array, shape ``[batch, ..., num_classes]``
        Logits (see ``activation``).  One channel is a binary problem.
    targets : array
        One-hot or soft targets of the same shape; or integer class indices
        of shape ``[batch, ...]`` (more than one class); or binary targets
        without the channel axis of one-channel predictions.
    axis : int or tuple of ints, optional
        The axes summed into each score; default: all but the first and the
        last (one score per example and class).  Include the batch axis 0
        for segmentation_models_pytorch's scores over the whole batch."""

_OVERLAP_OPTIONS = r"""
    activation : {'softmax', 'sigmoid', None}, default 'softmax'
        ``'softmax'`` over the class axis (the sigmoid for one channel:
        segmentation_models_pytorch's binary and multiclass modes);
        ``'sigmoid'`` per channel (its multilabel mode); ``None`` when
        ``predictions`` are probabilities already (``from_logits=False``).
    empty : {'zero', 'compute'}, default 'zero'
        The empty ground truth policy.  ``'zero'`` (segmentation_models_pytorch):
        a class whose targets sum to 0 over ``axis`` (after the mask) has loss
        0, whatever is predicted there: false positives on an absent class
        are not penalised (its class still counts in the mean).  ``'compute'``:
        the formula as it stands, with ``smooth``: an absent class scores 0
        (loss 1) unless ``smooth > 0`` and nothing is predicted.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        Reduction over the classes.
    where : array of bool, optional
        Pixels to use: the pixel shape ``[batch, ...]`` or the full shape.
        Masked-out pixels are left out of every sum (their values, NaN
        included, are never read): segmentation_models_pytorch's
        ``ignore_index`` is ``where=labels != ignore_index``."""


def jaccard_loss(
    predictions: Array,
    targets: Array,
    *,
    axis: int | tuple[int, ...] | None = None,
    smooth: float = 0.0,
    eps: float = 1e-7,
    log_loss: bool = False,
    activation: str | None = "softmax",
    empty: str = "zero",
    reduction: str = "mean",
    where: Array | None = None,
) -> Array:
    r"""Soft Jaccard (intersection over union) loss, as segmentation_models_pytorch's ``JaccardLoss``.

    For each class ``c``, with probabilities ``p`` and targets ``t`` summed
    over ``axis``:

    .. math::
        I_c = \tfrac12\Big(\sum_i p_{ic} + \sum_i t_{ic} - \sum_i |p_{ic} - t_{ic}|\Big),\qquad
        J_c = \frac{I_c + s}{\max\big(\sum_i p_{ic} + \sum_i t_{ic} - I_c + s,\ \epsilon\big)},
        \qquad \ell_c = 1 - J_c

    (:math:`-\log \max(J_c, \epsilon)` with ``log_loss``), 0 for a class with
    no target pixels (``empty='zero'``), then reduced over the classes.
    :math:`I_c` is the soft-label intersection that segmentation_models_pytorch
    0.6 and MONAI use: :math:`\sum_i p_{ic} t_{ic}` for hard targets, and the
    loss is smallest at ``p = t`` for soft ones.

    One score per example and class (segmentation_models_pytorch sums over
    the batch too: ``axis`` with 0 gives its number; its ``mean`` over the
    classes is ``reduction='mean'``).

    Parameters
    ----------{params}
    smooth : float, default 0.0
        Added to numerator and denominator.
    eps : float, default 1e-7
        Lower bound of the denominator (and of ``J`` with ``log_loss``).
    log_loss : bool, default False
        ``-log J`` instead of ``1 - J``.{options}

    Returns
    -------
    array
        The shape of ``predictions`` without ``axis`` and (``'mean'``/``'sum'``)
        the class axis.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> p = np.array([[[0.9], [0.6], [0.2]]])  # one image of three pixels, one channel
    >>> t = np.array([[[1.0], [1.0], [0.0]]])
    >>> # I = 0.9 + 0.6, union = 1.7 + 2 - 1.5
    >>> print(np.round(xlosses.jaccard_loss(p, t, activation=None), 4))  # 1 - 1.5/2.2
    [0.3182]

    References
    ----------
    Rahman and Wang, *Optimizing Intersection-Over-Union in Deep Neural
    Networks for Image Segmentation*, ISVC 2016.  Wang, Blaschko et al.,
    *Jaccard Metric Losses: Optimizing the Jaccard Index with Soft Labels*,
    NeurIPS 2023 (the soft-label intersection).
    """
    xp, predictions, targets, where = namespace(
        predictions=predictions, targets=targets, where=where
    )
    return _tversky_family(
        xp,
        predictions,
        targets,
        where,
        alpha=1.0,
        beta=1.0,
        gamma=1.0,
        axis=axis,
        smooth=smooth,
        eps=eps,
        log_loss=log_loss,
        activation=activation,
        empty=empty,
        reduction=reduction,
    )


def focal_tversky_loss(
    predictions: Array,
    targets: Array,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    gamma: float = 1.0,
    axis: int | tuple[int, ...] | None = None,
    smooth: float = 0.0,
    eps: float = 1e-7,
    log_loss: bool = False,
    activation: str | None = "softmax",
    empty: str = "zero",
    reduction: str = "mean",
    where: Array | None = None,
) -> Array:
    r"""Focal Tversky loss, as segmentation_models_pytorch's ``TverskyLoss`` (with its γ).

    For each class ``c``, with the soft-label intersection :math:`I_c` of
    :func:`jaccard_loss` and :math:`P_c = \sum_i p_{ic}`, :math:`T_c = \sum_i t_{ic}`:

    .. math::
        \mathrm{TI}_c = \frac{I_c + s}{\max\big(I_c + \alpha (P_c - I_c) + \beta (T_c - I_c) + s,\ \epsilon\big)},
        \qquad \ell = \Big(\operatorname{reduce}_c\, (1 - \mathrm{TI}_c)\Big)^{\gamma}

    with 0 for a class without target pixels (``empty='zero'``).  As in
    segmentation_models_pytorch, γ applies *after* the reduction over the
    classes (Abraham and Khan raise each class's term); with
    ``reduction='none'`` each class's term is raised.  ``α = β = ½`` is the
    Dice loss, ``α = β = 1`` the Jaccard loss.  The power has a zero
    gradient where its base is 0 (a perfect prediction), also for ``γ < 1``.

    Parameters
    ----------{params}
    alpha, beta : float, default 0.5
        Weights of the false positives and the false negatives.
    gamma : float, default 1.0
        The focal exponent (applied after the reduction over the classes).
    smooth : float, default 0.0
    eps : float, default 1e-7
    log_loss : bool, default False
        ``-log TI`` instead of ``1 - TI`` (before γ).{options}

    Returns
    -------
    array
        The shape of ``predictions`` without ``axis`` and (``'mean'``/``'sum'``)
        the class axis.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> p = np.array([[[0.9], [0.6], [0.2]]])
    >>> t = np.array([[[1.0], [1.0], [0.0]]])
    >>> # I = 1.5, FP = 0.2, FN = 0.5: (1 - 1.5/(1.5 + 0.3·0.2 + 0.7·0.5))²
    >>> out = xlosses.focal_tversky_loss(p, t, alpha=0.3, beta=0.7, gamma=2.0, activation=None)
    >>> print(np.round(out, 5))
    [0.04608]

    References
    ----------
    Salehi, Erdogmus and Gholipour, *Tversky loss function for image
    segmentation using 3D fully convolutional deep networks*, MLMI 2017.
    Abraham and Khan, *A Novel Focal Tversky Loss Function with Improved
    Attention U-Net for Lesion Segmentation*, ISBI 2019.
    """
    xp, predictions, targets, where = namespace(
        predictions=predictions, targets=targets, where=where
    )
    return _tversky_family(
        xp,
        predictions,
        targets,
        where,
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        axis=axis,
        smooth=smooth,
        eps=eps,
        log_loss=log_loss,
        activation=activation,
        empty=empty,
        reduction=reduction,
    )


for _f in (jaccard_loss, focal_tversky_loss):
    _f.__doc__ = _f.__doc__.replace("{params}", _OVERLAP_PARAMETERS).replace(
        "{options}", _OVERLAP_OPTIONS
    )


def mcc_loss(
    predictions: Array,
    targets: Array,
    *,
    eps: float = 1e-5,
    apply_sigmoid: bool = True,
    axis: int | tuple[int, ...] | None = None,
    where: Array | None = None,
) -> Array:
    r"""Matthews correlation coefficient loss, as segmentation_models_pytorch's ``MCCLoss``.

    With probabilities ``p`` and binary targets ``t`` summed over ``axis``
    (soft counts), each count plus ``ε``:

    .. math::
        TP = \sum p t + \epsilon,\ TN = \sum (1-p)(1-t) + \epsilon,\
        FP = \sum p (1-t) + \epsilon,\ FN = \sum (1-p) t + \epsilon,

        \ell = 1 - \frac{TP \cdot TN - FP \cdot FN}
        {\sqrt{(TP+FP)(TP+FN)(TN+FP)(TN+FN)}}

    The square root is taken of each factor (the product of four counts
    overflows float32 for volumes of about ``10^{10}`` voxels).  One loss per
    example (segmentation_models_pytorch's is over the whole batch: pass
    ``axis`` with 0).  Binary: every axis in ``axis`` is a pixel axis; pass
    ``axis`` without the channel axis for one score per channel.

    Parameters
    ----------
    predictions : array, shape ``[batch, ...]``
        Logits (probabilities with ``apply_sigmoid=False``).
    targets : array, same shape
        Binary (or soft) targets.
    eps : float, default 1e-5
        Added to each count.
    apply_sigmoid : bool, default True
        segmentation_models_pytorch's ``MCCLoss`` takes probabilities: pass
        ``apply_sigmoid=False`` for its numbers from the same inputs.
    axis : int or tuple of ints, optional
        The summed axes; default: all but the first.
    where : array of bool, optional
        Pixels to use (broadcastable to ``predictions``); the others are left
        out of every count.

    Returns
    -------
    array
        The shape of ``predictions`` without ``axis``: ``[batch]`` by default.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> p = np.array([[1.0, 1.0, 0.0, 0.0]])
    >>> print(np.round(xlosses.mcc_loss(p, p, eps=0.0, apply_sigmoid=False), 4))  # perfect
    [0.]
    >>> print(np.round(xlosses.mcc_loss(1.0 - p, p, eps=0.0, apply_sigmoid=False), 4))  # inverted
    [2.]

    References
    ----------
    Abhishek and Hamarneh, *Matthews Correlation Coefficient Loss for Deep
    Convolutional Networks: Application to Skin Lesion Segmentation*, ISBI 2021.
    """
    xp, predictions, targets, where = namespace(
        predictions=predictions, targets=targets, where=where
    )
    x, dtype = floating_input(xp, predictions, "predictions")
    check_same_shape(predictions=x.shape, targets=targets.shape)
    t = cast(targets, x.dtype, xp=xp)
    p = sigmoid(x, xp=xp) if apply_sigmoid else x
    if axis is None:
        axes: tuple[int, ...] = tuple(range(1, x.ndim))
    else:
        axes = normalize_axes(tuple(axis) if isinstance(axis, list) else axis, x.ndim)
    if where is None:
        n: Any = 1.0
        for a in axes:
            n = n * x.shape[a]
    else:
        if where.dtype != xp.bool:
            raise TypeError(f"where must be a boolean array, got dtype {where.dtype}")
        if broadcast_shapes(where=where.shape, predictions=x.shape) != tuple(x.shape):
            raise ValueError(
                f"where shape {tuple(where.shape)} does not broadcast to "
                f"predictions shape {tuple(x.shape)}"
            )
        p = xp.where(where, p, 0.0)
        t = xp.where(where, t, 0.0)
        n = xp.sum(xp.astype(xp.broadcast_to(where, x.shape), x.dtype), axis=axes)
    inter = xp.sum(p * t, axis=axes)
    pred_sum = xp.sum(p, axis=axes)
    target_sum = xp.sum(t, axis=axes)
    tp = inter + eps
    fp = pred_sum - inter + eps
    fn = target_sum - inter + eps
    tn = (n - pred_sum - target_sum + inter) + eps
    num = tp * tn - fp * fn
    den = xp.sqrt(tp + fp) * xp.sqrt(tp + fn) * xp.sqrt(tn + fp) * xp.sqrt(tn + fn)
    return cast(1.0 - num / den, dtype, xp=xp)
