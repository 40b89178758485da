r"""Segmentation losses: soft Dice / Tversky, binary and generalized Dice, Dice + cross-entropy.

Drop-in for ``optax.losses.dice_loss``, ``binary_dice_loss`` and
``multiclass_generalized_dice_loss`` (optax 0.2.8 semantics: class axis last,
sums over the spatial axes, per-class reduction), with MONAI's soft-label
intersection as an option, and MONAI's ``DiceCELoss`` and ``DiceFocalLoss`` per
example.  The
Jaccard, focal Tversky and MCC losses of segmentation_models_pytorch are in
:mod:`xlosses.overlap`, the Lovász losses in :mod:`xlosses.lovasz`.
"""

from __future__ import annotations

from typing import Any

from ._checks import check_floating, check_option, check_same_shape, normalize_axes
from ._dispatch import read
from ._namespace import cast, compute_dtype, namespace, value_checks_possible
from ._ops import (
    log_softmax,
    sigmoid,
    sigmoid_cross_entropy,
    sigmoid_focal_powers,
    softmax,
    softplus,
    take_labels,
)
from ._segmentation import segmentation_inputs, soft_intersection

__all__ = [
    "binary_dice_loss",
    "dice_cross_entropy_loss",
    "dice_focal_loss",
    "dice_loss",
    "multiclass_generalized_dice_loss",
]

Array = Any
_REDUCTIONS = ("mean", "sum", "none")


def _check_probability_rows(xp: Any, p: Array) -> None:
    """optax's check that ``apply_softmax=False`` predictions sum to 1 over the classes.

    Eager CPU backends only (DESIGN.md §6); single-channel (binary)
    predictions are probabilities of one class and are not checked.  The
    tolerance is 1e-2 (optax: 1e-5): it still catches logits passed by
    mistake, and accepts probabilities rounded to 16 bits.
    """
    if p.shape[-1] == 1 or not value_checks_possible(xp, p):
        return
    sums = xp.sum(p, axis=-1)
    if read(xp, xp.any(xp.abs(sums - 1.0) > 1e-2)):  # None (unreadable: a trace) passes
        raise ValueError(
            "with apply_softmax=False, predictions must be probabilities that sum to 1 "
            f"along the class axis; found sums in [{read(xp, xp.min(sums)):.6f}, "
            f"{read(xp, xp.max(sums)):.6f}]"
        )


def _dice(
    xp: Any,
    predictions: Array,
    targets: Array,
    *,
    smooth: Any,
    apply_softmax: bool,
    reduction: str,
    class_weights: Array | None = None,
    alpha: Any = 0.5,
    beta: Any = 0.5,
    ignore_background: bool = False,
    axis: Any = None,
    soft_label: bool = False,
) -> tuple[Array, Any]:
    """The Tversky / Dice loss per class, weighted, reduced; returns ``(loss, out_dtype)``."""
    check_floating(predictions, "predictions", xp=xp)
    check_option("reduction", reduction, _REDUCTIONS)
    if predictions.ndim == targets.ndim - 1:
        predictions = xp.expand_dims(predictions, axis=-1)
    if targets.ndim == predictions.ndim - 1:
        targets = xp.expand_dims(targets, axis=-1)
    check_same_shape(predictions=predictions.shape, targets=targets.shape)
    dtype = predictions.dtype
    x = cast(predictions, compute_dtype(xp, dtype), xp=xp)
    t = cast(targets, x.dtype, xp=xp)
    if not apply_softmax:
        _check_probability_rows(xp, x)
        p = x
    elif x.shape[-1] == 1:
        p = sigmoid(x, xp=xp)
    else:
        p = softmax(x, axis=-1, xp=xp)
    if axis is None:
        axes: tuple[int, ...] = tuple(range(1, p.ndim - 1))
    else:
        axes = normalize_axes(tuple(axis) if isinstance(axis, list) else axis, p.ndim)
    pred_sum = xp.sum(p, axis=axes)
    target_sum = xp.sum(t, axis=axes)
    if soft_label:
        inter = soft_intersection(xp, p, t, axes)
    else:
        inter = xp.sum(p * t, axis=axes)
    den = inter + alpha * (pred_sum - inter) + beta * (target_sum - inter) + smooth
    loss = 1.0 - (inter + smooth) / den
    if class_weights is not None:
        if class_weights.ndim != 1 or class_weights.shape[0] not in (1, p.shape[-1]):
            raise ValueError(
                f"class_weights must have shape [num_classes] = ({p.shape[-1]},), "
                f"got shape {tuple(class_weights.shape)}"
            )
        loss = loss * cast(class_weights, x.dtype, xp=xp)
    if ignore_background and p.shape[-1] > 1:
        loss = loss[..., 1:]
    if reduction == "mean":
        loss = xp.mean(loss, axis=-1)
    elif reduction == "sum":
        loss = xp.sum(loss, axis=-1)
    return loss, dtype


def dice_loss(
    predictions: Array,
    targets: Array,
    *,
    class_weights: Array | None = None,
    smooth: float = 1.0,
    alpha: float = 0.5,
    beta: float = 0.5,
    apply_softmax: bool = True,
    reduction: str = "mean",
    ignore_background: bool = False,
    axis: int | tuple[int, ...] | None = None,
    soft_label: bool = False,
) -> Array:
    r"""Soft Dice loss, generalised to the Tversky index (Milletari et al., 2016).

    For each class ``c``, with probabilities ``p`` and targets ``t`` summed
    over the spatial axes:

    .. math::
        I_c = \sum_i p_{ic} t_{ic},\quad P_c = \sum_i p_{ic},\quad T_c = \sum_i t_{ic},\qquad
        \ell_c = 1 - \frac{I_c + s}{I_c + \alpha (P_c - I_c) + \beta (T_c - I_c) + s}

    then weighted by ``class_weights`` and reduced over the classes.
    ``α = β = 1/2`` is the Dice loss; other values give the Tversky loss.
    Drop-in for ``optax.losses.dice_loss``.

    Parameters
    ----------
    predictions : array, shape ``[batch, ..., num_classes]`` (or ``[batch, ...]`` binary)
        Logits; with one channel the sigmoid is applied, otherwise the
        softmax over the last axis.
    targets : array
        One-hot targets of the same shape (a missing channel axis of either
        input is added).  Integer or boolean one-hot targets are cast.
    class_weights : array, shape ``[num_classes]``, optional
    smooth : float, default 1.0
        Added to numerator and denominator.
    alpha, beta : float, default 0.5
        Weights of the false positives and false negatives.
    apply_softmax : bool, default True
        False when ``predictions`` are probabilities already.  Multi-class
        probabilities must then sum to 1 over the classes: checked (a
        ``ValueError``) on eager CPU backends, as optax does.  optax also
        applies that check to single-channel probabilities, so that
        ``binary_dice_loss(..., apply_sigmoid=False)`` always raises there;
        xlosses does not check them.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        Reduction over the classes.
    ignore_background : bool, default False
        Leave class 0 out (when there is more than one class).
    axis : int or tuple of ints, optional
        Axes to sum over; default: all but the first and the last.
    soft_label : bool, default False
        MONAI's soft-label form of the intersection,
        :math:`I_c = \tfrac12 (P_c + T_c - \sum_i |p_{ic} - t_{ic}|)`: equal
        to :math:`\sum_i p_{ic} t_{ic}` for hard (0/1) targets, and for
        fractional targets the loss is smallest (0 with ``smooth=0``) at
        ``p = t``, where the product form is not.  Keyword-only, new in
        xlosses (optax has no such option).

    Returns
    -------
    array
        The batch shape (``'mean'``/``'sum'``), or with the class axis (``'none'``).

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.array([[[2.0, -1.0], [0.0, 1.0], [1.0, 1.0]]])  # batch 1, 3 pixels, 2 classes
    >>> targets = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
    >>> print(np.round(xlosses.dice_loss(logits, targets), 4))
    [0.1667]

    References
    ----------
    Milletari, Navab and Ahmadi, *V-Net: Fully Convolutional Neural Networks
    for Volumetric Medical Image Segmentation*, 3DV 2016.  Salehi, Erdogmus
    and Gholipour, *Tversky loss function for image segmentation using 3D
    fully convolutional deep networks*, MLMI 2017.
    """
    xp, predictions, targets, class_weights = namespace(
        predictions=predictions, targets=targets, class_weights=class_weights
    )
    loss, dtype = _dice(
        xp,
        predictions,
        targets,
        class_weights=class_weights,
        smooth=smooth,
        alpha=alpha,
        beta=beta,
        apply_softmax=apply_softmax,
        reduction=reduction,
        ignore_background=ignore_background,
        axis=axis,
        soft_label=soft_label,
    )
    return cast(loss, dtype, xp=xp)


def multiclass_generalized_dice_loss(
    predictions: Array,
    targets: Array,
    *,
    smooth: float = 1.0,
    apply_softmax: bool = True,
    ignore_background: bool = False,
    soft_label: bool = False,
) -> Array:
    r"""Generalized Dice loss with inverse squared class frequencies as weights (Sudre et al., 2017).

    .. math::
        f_c = \sum_{b, i} t_{bic},\qquad
        w_c = C\,\frac{1/(f_c^2 + 10^{-7})}{\sum_k 1/(f_k^2 + 10^{-7})},\qquad
        \ell = \operatorname{mean}_{b, c}\; w_c\,\ell^{\text{Dice}}_{bc}

    with :math:`\ell^{\text{Dice}}_{bc}` the per-class Dice loss of
    :func:`dice_loss`.  Drop-in for
    ``optax.losses.multiclass_generalized_dice_loss`` (the weights come from
    the whole batch; with ``ignore_background`` class 0 is dropped after the
    weights are normalised).

    Parameters
    ----------
    predictions : array, shape ``[batch, ..., num_classes]``
        Logits (or probabilities with ``apply_softmax=False``).
    targets : array, same shape
        One-hot targets.
    smooth : float, default 1.0
    apply_softmax : bool, default True
    ignore_background : bool, default False
    soft_label : bool, default False
        MONAI's soft-label intersection (see :func:`dice_loss`).

    Returns
    -------
    array, shape ``()``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.array([[[2.0, -1.0], [0.0, 1.0], [1.0, 1.0]]])
    >>> targets = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
    >>> print(np.round(xlosses.multiclass_generalized_dice_loss(logits, targets), 4))
    0.1812

    References
    ----------
    Sudre, Li, Vercauteren, Ourselin and Cardoso, *Generalised Dice overlap as
    a deep learning loss function for highly unbalanced segmentations*, DLMIA 2017.
    """
    xp, predictions, targets = namespace(predictions=predictions, targets=targets)
    check_same_shape(predictions=predictions.shape, targets=targets.shape)
    check_floating(predictions, "predictions", xp=xp)
    t = cast(targets, compute_dtype(xp, predictions.dtype), xp=xp)
    freq = xp.sum(t, axis=tuple(range(t.ndim - 1)))
    w = 1.0 / (freq * freq + 1e-7)
    w = w / xp.sum(w) * w.shape[0]
    loss, dtype = _dice(
        xp,
        predictions,
        t,
        smooth=smooth,
        apply_softmax=apply_softmax,
        reduction="none",
        class_weights=w,
        ignore_background=ignore_background,
        soft_label=soft_label,
    )
    return cast(xp.mean(loss), dtype, xp=xp)


def binary_dice_loss(
    predictions: Array,
    targets: Array,
    *,
    smooth: float = 1.0,
    apply_sigmoid: bool = True,
    soft_label: bool = False,
) -> Array:
    r"""Binary Dice loss: :func:`dice_loss` with one (sigmoid) channel.

    .. math::
        \ell = 1 - \frac{2\sum_i p_i t_i + 2s}{\sum_i p_i + \sum_i t_i + 2s},
        \qquad p = \sigma(x)

    (the Dice loss with ``α = β = 1/2``, written with the factor 2 cleared).
    Inputs of equal shape whose last axis is not 1 get a channel axis.
    Drop-in for ``optax.losses.binary_dice_loss``; ``apply_sigmoid=False``
    takes probabilities (optax 0.2.8 rejects them, see :func:`dice_loss`).

    Parameters
    ----------
    predictions : array, shape ``[batch, ...]`` or ``[batch, ..., 1]``
        Logits (or probabilities with ``apply_sigmoid=False``).
    targets : array, same shape
        Binary targets.
    smooth : float, default 1.0
    apply_sigmoid : bool, default True
    soft_label : bool, default False
        MONAI's soft-label intersection (see :func:`dice_loss`): the loss is
        smallest at ``p = t`` also for fractional targets.

    Returns
    -------
    array, shape ``[batch]``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.array([[3.0, -3.0, 0.0]])
    >>> print(np.round(xlosses.binary_dice_loss(logits, np.array([[1.0, 0.0, 1.0]])), 4))
    [0.1082]

    References
    ----------
    Milletari, Navab and Ahmadi, *V-Net*, 3DV 2016.
    """
    xp, predictions, targets = namespace(predictions=predictions, targets=targets)
    if predictions.ndim == targets.ndim and predictions.shape[-1] != 1:
        predictions = xp.expand_dims(predictions, axis=-1)
        targets = xp.expand_dims(targets, axis=-1)
    loss, dtype = _dice(
        xp,
        predictions,
        targets,
        smooth=smooth,
        apply_softmax=apply_sigmoid,
        reduction="mean",
        soft_label=soft_label,
    )
    return cast(loss, dtype, xp=xp)


def _class_weights(xp: Any, class_weights: Array | None, c: int, dtype: Any) -> Array | None:
    """MONAI's ``weight`` as an array of the compute dtype, checked: one per class."""
    if class_weights is None:
        return None
    if class_weights.ndim != 1 or class_weights.shape[0] != c:
        raise ValueError(
            f"class_weights must have shape ({c},) (one weight per class), "
            f"got {tuple(class_weights.shape)}"
        )
    return cast(class_weights, dtype, xp=xp)


def _monai_dice(
    xp: Any,
    p: Array,
    t: Array,
    axes: tuple[int, ...],
    w: Array | None,
    *,
    include_background: bool,
    jaccard: bool,
    soft_label: bool,
    smooth_nr: float,
    smooth_dr: float,
) -> Array:
    """MONAI's ``DiceLoss`` (tp, fp, fn; fp and fn halved for Dice), mean over the classes."""
    c = p.shape[-1]
    pd, td = (p, t) if include_background or c == 1 else (p[..., 1:], t[..., 1:])
    pred_sum = xp.sum(pd, axis=axes)
    target_sum = xp.sum(td, axis=axes)
    tp = soft_intersection(xp, pd, td, axes) if soft_label else xp.sum(pd * td, axis=axes)
    if jaccard:
        den = 2.0 * (pred_sum + target_sum - tp) + smooth_dr
    else:
        den = pred_sum + target_sum + smooth_dr
    dice = 1.0 - (2.0 * tp + smooth_nr) / den
    if w is not None and c > 1:
        dice = dice * (w if include_background else w[1:])
    return xp.mean(dice, axis=-1)


def _with_dice(
    xp: Any,
    logits: Array,
    targets: Array,
    where: Array | None,
    axis: Any,
    class_weights: Array | None,
    include_background: bool,
    jaccard: bool,
    soft_label: bool,
    smooth_nr: float,
    smooth_dr: float,
) -> tuple[Any, ...]:
    """The inputs of MONAI's Dice combinators and their Dice term (softmax over the classes):
    ``(logits, targets, labels, axes, mask, dtype, class weights, dice)``."""
    x, p, t, labels, axes, mask, dtype = segmentation_inputs(
        xp, logits, targets, where, activation="softmax", axis=axis
    )
    w = _class_weights(xp, class_weights, x.shape[-1], x.dtype)
    dice = _monai_dice(
        xp,
        p,
        t,
        axes,
        w,
        include_background=include_background,
        jaccard=jaccard,
        soft_label=soft_label,
        smooth_nr=smooth_nr,
        smooth_dr=smooth_dr,
    )
    return x, t, labels, axes, mask, dtype, w, dice


def dice_cross_entropy_loss(
    logits: Array,
    targets: Array,
    *,
    lambda_dice: float = 1.0,
    lambda_ce: float = 1.0,
    smooth_nr: float = 1e-5,
    smooth_dr: float = 1e-5,
    include_background: bool = True,
    jaccard: bool = False,
    soft_label: bool = False,
    class_weights: Array | None = None,
    label_smoothing: float = 0.0,
    axis: int | tuple[int, ...] | None = None,
    where: Array | None = None,
) -> Array:
    r"""Dice plus cross-entropy, MONAI's ``DiceCELoss`` per example.

    .. math::
        \ell = \lambda_{\text{dice}}\,\operatorname{mean}_c\Big(1 -
        \frac{2 I_c + s_{nr}}{P_c + T_c + s_{dr}}\Big)
        + \lambda_{\text{ce}}\,\operatorname{mean}_i \mathrm{CE}_i

    with :math:`I_c = \sum_i p_{ic} t_{ic}` (the soft-label intersection of
    :func:`dice_loss` with ``soft_label``), :math:`P_c`, :math:`T_c` the sums
    of probabilities and targets over ``axis``, and :math:`\mathrm{CE}_i` the
    softmax cross-entropy of pixel ``i`` (the sigmoid binary cross-entropy for
    one channel), as ``torch.nn.CrossEntropyLoss``/``BCEWithLogitsLoss``
    compute it.  ``jaccard`` uses :math:`2(P_c + T_c - I_c) + s_{dr}` as the
    denominator.  Empty ground truth: the smoothing terms decide (MONAI's
    policy): nothing predicted on an absent class gives a Dice term of 0,
    anything predicted there a term near 1.

    The Dice term is computed on the softmax of ``logits`` (the sigmoid for
    one channel): MONAI's ``DiceCELoss(softmax=True)`` (its default,
    ``softmax=False``, takes the Dice of the raw inputs).  Per example: the
    mean of the result over the batch is MONAI's ``reduction='mean'``.

    Parameters
    ----------
    logits : array, shape ``[batch, ..., num_classes]``
    targets : array
        One-hot or soft targets of ``logits``' shape (cross-entropy with
        probability targets), or integer class indices of shape
        ``[batch, ...]`` (MONAI's ``to_onehot_y=True``; cross-entropy with
        class indices).  One channel: binary targets, with or without the
        channel axis.
    lambda_dice, lambda_ce : float, default 1.0
        Weights of the two terms (non-negative).
    smooth_nr, smooth_dr : float, default 1e-5
        Added to the Dice numerator and denominator.
    include_background : bool, default True
        False leaves class 0 out of the Dice term (not of the cross-entropy).
    jaccard : bool, default False
        The soft Jaccard loss instead of Dice.
    soft_label : bool, default False
        MONAI's soft-label intersection (see :func:`dice_loss`).
    class_weights : array, shape ``[num_classes]``, optional
        MONAI's ``weight``: multiplies each class's Dice term (not with one
        channel; without class 0 when ``include_background=False``) and is
        the cross-entropy's class ``weight`` (``pos_weight`` for one channel),
        with torch's weighted mean over the pixels for class indices.
    label_smoothing : float, default 0.0
        The cross-entropy's label smoothing (torch's; not for one channel,
        as MONAI's binary cross-entropy has none).
    axis : int or tuple of ints, optional
        The axes of each Dice sum and cross-entropy mean; default: all but
        the first and the last.  Include 0 for MONAI's ``batch=True``.
    where : array of bool, optional
        Pixels to use (the pixel shape or the full shape): the others are
        left out of both terms.

    Returns
    -------
    array
        The shape of ``logits`` without ``axis`` and the class axis:
        ``[batch]`` by default.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.zeros((1, 2, 2))  # one image, two pixels, two classes: p = 1/2
    >>> labels = np.array([[0, 1]])
    >>> # Dice: 1 - (2·0.5 + s)/(1 + 1 + s) per class, CE: log 2
    >>> print(np.round(xlosses.dice_cross_entropy_loss(logits, labels), 4))
    [1.1931]

    References
    ----------
    Isensee et al., *nnU-Net: a self-configuring method for deep
    learning-based biomedical image segmentation*, Nature Methods 2021 (Dice
    plus cross-entropy); MONAI, ``monai.losses.DiceCELoss``.
    """
    xp, logits, targets, class_weights, where = namespace(
        logits=logits, targets=targets, class_weights=class_weights, where=where
    )
    if lambda_dice < 0 or lambda_ce < 0:
        raise ValueError(
            f"lambda_dice and lambda_ce must be non-negative, got {lambda_dice} and {lambda_ce}"
        )
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing}")
    x, t, labels, axes, mask, dtype, w, dice = _with_dice(
        xp,
        logits,
        targets,
        where,
        axis,
        class_weights,
        include_background,
        jaccard,
        soft_label,
        smooth_nr,
        smooth_dr,
    )
    c = x.shape[-1]
    # -- cross-entropy, as torch's CrossEntropyLoss / BCEWithLogitsLoss with 'mean' --
    count = None  # the weights of torch's weighted mean (class indices with weights)
    if c == 1:
        x1, t1 = x[..., 0], t[..., 0]
        if w is None:
            ce = sigmoid_cross_entropy(x1, t1, xp=xp)
        else:
            ce = (1.0 - t1) * softplus(x1, xp=xp) + w[0] * t1 * softplus(-x1, xp=xp)
    else:
        logp = log_softmax(x, axis=-1, xp=xp)
        if labels is not None:
            valid = (labels >= 0) & (labels < c)
            safe = xp.where(valid, labels, 0)
            ce = -take_labels(logp, safe, axis=-1, xp=xp)
            if w is not None:
                count = xp.reshape(xp.take(w, xp.reshape(safe, (-1,)), axis=0), safe.shape)
                ce = ce * count
            if label_smoothing:
                uniform = -xp.sum(logp if w is None else logp * w, axis=-1) / c
                ce = (1.0 - label_smoothing) * ce + label_smoothing * uniform
            ce = xp.where(valid, ce, xp.nan)  # an out-of-range label (unchecked): NaN
        else:
            y = t
            if label_smoothing:
                y = y * (1.0 - label_smoothing) + label_smoothing / c
            ce = -xp.sum(y * logp if w is None else y * logp * w, axis=-1)
    if mask is None and count is None:
        ce = xp.mean(ce, axis=axes)
    else:
        if count is None:
            count = xp.ones_like(ce)
        if mask is not None:
            pixels = xp.broadcast_to(mask[..., 0], ce.shape)
            ce = xp.where(pixels, ce, 0.0)
            count = xp.where(pixels, count, 0.0)
        ce = xp.sum(ce, axis=axes) / xp.sum(count, axis=axes)
    return cast(lambda_dice * dice + lambda_ce * ce, dtype, xp=xp)


def dice_focal_loss(
    logits: Array,
    targets: Array,
    *,
    lambda_dice: float = 1.0,
    lambda_focal: float = 1.0,
    gamma: float = 2.0,
    alpha: float | None = None,
    smooth_nr: float = 1e-5,
    smooth_dr: float = 1e-5,
    include_background: bool = True,
    jaccard: bool = False,
    soft_label: bool = False,
    class_weights: Array | None = None,
    axis: int | tuple[int, ...] | None = None,
    where: Array | None = None,
) -> Array:
    r"""Dice plus sigmoid focal loss, MONAI's ``DiceFocalLoss`` per example.

    .. math::
        \ell = \lambda_{\text{dice}}\,\operatorname{mean}_c\Big(1 -
        \frac{2 I_c + s_{nr}}{P_c + T_c + s_{dr}}\Big)
        + \lambda_{\text{focal}}\,\operatorname{mean}_{i, c}\;
        \alpha_t\,(1 - p_t)^\gamma\,\mathrm{BCE}(x_{ic}, t_{ic})

    The Dice term is that of :func:`dice_cross_entropy_loss` (on the
    softmax of ``logits``, the sigmoid for one channel: MONAI's
    ``DiceFocalLoss(softmax=True)``).  The focal term is MONAI's
    ``FocalLoss`` as ``DiceFocalLoss`` builds it: every class channel an
    independent binary problem (:func:`xlosses.sigmoid_focal_loss` per
    element, :math:`1 - p_t = (1 - t)\,\sigma(x) + t\,\sigma(-x)`,
    :math:`\alpha_t = \alpha t + (1 - \alpha)(1 - t)`), averaged over the
    pixels of ``axis`` and the classes.  The focal factor is
    :math:`\exp(\gamma \log(1 - p_t))` in log space: finite values and
    gradients for every :math:`\gamma \ge 0` and every finite logit.  For
    fractional targets xlosses' :math:`1 - p_t` is exact, where MONAI's
    :math:`\sigma(-x (2t - 1))` is not (equal for 0/1 targets).  Empty
    ground truth: MONAI's policy (see :func:`dice_cross_entropy_loss`).
    Per example: the mean of the result over the batch is MONAI's
    ``reduction='mean'``.

    Parameters
    ----------
    logits : array, shape ``[batch, ..., num_classes]``
    targets : array
        One-hot or soft targets of ``logits``' shape, or integer class
        indices of shape ``[batch, ...]`` (MONAI's ``to_onehot_y=True``).
        One channel: binary targets, with or without the channel axis.
    lambda_dice, lambda_focal : float, default 1.0
        Weights of the two terms (non-negative).
    gamma : float, default 2.0
        The focusing exponent (non-negative).
    alpha : float, optional
        The weight of the positive entries (MONAI's scalar ``alpha``); None
        weighs every entry 1.
    smooth_nr, smooth_dr : float, default 1e-5
        Added to the Dice numerator and denominator.
    include_background : bool, default True
        False leaves class 0 out of both terms (when there is more than one
        class).
    jaccard : bool, default False
        The soft Jaccard loss instead of Dice.
    soft_label : bool, default False
        MONAI's soft-label intersection in the Dice term (see :func:`dice_loss`).
    class_weights : array, shape ``[num_classes]``, optional
        MONAI's ``weight``: multiplies each class's Dice term (not with one
        channel) and each class's focal term (without class 0 when
        ``include_background=False``).
    axis : int or tuple of ints, optional
        The axes of each Dice sum and focal mean; default: all but the first
        and the last.  Include 0 for MONAI's ``batch=True`` Dice (MONAI's
        focal term is a mean over everything either way).
    where : array of bool, optional
        Pixels (or entries) to use: the others are left out of both terms.

    Returns
    -------
    array
        The shape of ``logits`` without ``axis`` and the class axis:
        ``[batch]`` by default.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.zeros((1, 2, 2))  # one image, two pixels, two classes: p = 1/2
    >>> labels = np.array([[0, 1]])
    >>> # Dice: 1 - (2·0.5 + s)/(1 + 1 + s) per class; focal: (1/2)² log 2 per entry
    >>> print(np.round(xlosses.dice_focal_loss(logits, labels), 4))
    [0.6733]

    References
    ----------
    Lin, Goyal, Girshick, He and Dollár, *Focal Loss for Dense Object
    Detection*, ICCV 2017; Zhu et al., *AnatomyNet*, Medical Physics 2019
    (Dice plus focal); MONAI, ``monai.losses.DiceFocalLoss``.
    """
    xp, logits, targets, class_weights, where = namespace(
        logits=logits, targets=targets, class_weights=class_weights, where=where
    )
    if lambda_dice < 0 or lambda_focal < 0:
        raise ValueError(
            "lambda_dice and lambda_focal must be non-negative, "
            f"got {lambda_dice} and {lambda_focal}"
        )
    if not isinstance(gamma, (int, float)) or gamma < 0:
        raise ValueError(f"gamma must be a non-negative number, got {gamma!r}")
    if alpha is not None and not isinstance(alpha, (int, float)):
        raise TypeError(f"alpha must be a number or None, got {type(alpha).__name__}")
    x, t, _, axes, mask, dtype, w, dice = _with_dice(
        xp,
        logits,
        targets,
        where,
        axis,
        class_weights,
        include_background,
        jaccard,
        soft_label,
        smooth_nr,
        smooth_dr,
    )
    c = x.shape[-1]
    # -- focal: every channel a binary problem (MONAI's FocalLoss(use_softmax=False)) --
    if mask is not None:
        x = xp.where(mask, x, 0.0)  # masked logits never reach the focal term (t is 0 there)
    if not include_background and c > 1:
        x, t = x[..., 1:], t[..., 1:]
        w = None if w is None else w[1:]
        mask = None if mask is None or mask.shape[-1] == 1 else mask[..., 1:]
    bce, (power,) = sigmoid_focal_powers(x, t, (gamma,), xp=xp)
    focal = power * bce
    if alpha is not None:
        focal = (alpha * t + (1.0 - alpha) * (1.0 - t)) * focal
    if w is not None:
        focal = focal * w
    everything = (*axes, x.ndim - 1)
    if mask is None:
        focal = xp.mean(focal, axis=everything)
    else:
        kept = xp.astype(xp.broadcast_to(mask, focal.shape), focal.dtype)
        focal = xp.sum(xp.where(kept > 0, focal, 0.0), axis=everything) / xp.sum(
            kept, axis=everything
        )
    return cast(lambda_dice * dice + lambda_focal * focal, dtype, xp=xp)
