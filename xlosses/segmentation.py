r"""Segmentation losses: soft Dice / Tversky, binary Dice and generalized Dice.

Drop-in for ``optax.losses.dice_loss``, ``binary_dice_loss`` and
``multiclass_generalized_dice_loss`` (optax 0.2.8 semantics: class axis last,
sums over the spatial axes, per-class reduction).
"""

from __future__ import annotations

from typing import Any

from ._checks import check_floating, check_option, check_same_shape, normalize_axes
from ._dispatch import read
from ._namespace import cast, compute_dtype, namespace, value_checks_possible
from ._ops import sigmoid, softmax

__all__ = ["binary_dice_loss", "dice_loss", "multiclass_generalized_dice_loss"]

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
    inter = xp.sum(p * t, axis=axes)
    pred_sum = xp.sum(p, axis=axes)
    target_sum = xp.sum(t, axis=axes)
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
    )
    return cast(loss, dtype, xp=xp)


def multiclass_generalized_dice_loss(
    predictions: Array,
    targets: Array,
    *,
    smooth: float = 1.0,
    apply_softmax: bool = True,
    ignore_background: bool = False,
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
    )
    return cast(xp.mean(loss), dtype, xp=xp)


def binary_dice_loss(
    predictions: Array,
    targets: Array,
    *,
    smooth: float = 1.0,
    apply_sigmoid: bool = True,
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
        xp, predictions, targets, smooth=smooth, apply_softmax=apply_sigmoid, reduction="mean"
    )
    return cast(loss, dtype, xp=xp)
