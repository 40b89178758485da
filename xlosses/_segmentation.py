"""The set-up the segmentation families share: targets, masks, probabilities, the soft intersection.

Standard-only, used by :mod:`xlosses.segmentation` and :mod:`xlosses.overlap`
(a family never imports another).  Class axis last (``[batch, ..., classes]``).
"""

from __future__ import annotations

from typing import Any

from ._checks import (
    broadcast_shapes,
    check_label_range,
    check_option,
    check_same_shape,
    floating_input,
    normalize_axes,
)
from ._namespace import cast
from ._ops import sigmoid, softmax
from ._ops._util import device

__all__ = [
    "ACTIVATIONS",
    "REDUCTIONS",
    "pixel_mask",
    "reduce_classes",
    "segmentation_inputs",
    "soft_intersection",
]

Array = Any
REDUCTIONS = ("mean", "sum", "none")
ACTIVATIONS = ("softmax", "sigmoid", None)


def pixel_mask(xp: Any, where: Array, shape: tuple[int, ...]) -> Array:
    """``where`` as a mask broadcastable to ``shape`` (``[batch, ..., classes]``).

    A mask of the pixel shape (``shape[:-1]``, one dimension fewer) gains the
    class axis; one with as many dimensions is used as it is.
    """
    if where.dtype != xp.bool:
        raise TypeError(f"where must be a boolean array, got dtype {where.dtype}")
    if where.ndim == len(shape) - 1:
        where = xp.expand_dims(where, axis=-1)
    elif where.ndim != len(shape):
        raise ValueError(
            f"where shape {tuple(where.shape)} must be the pixel shape {shape[:-1]} "
            f"or the predictions shape {shape}"
        )
    if broadcast_shapes(where=where.shape, predictions=shape) != tuple(shape):
        raise ValueError(
            f"where shape {tuple(where.shape)} does not broadcast to predictions shape {shape}"
        )
    return where


def _is_integer(xp: Any, a: Array) -> bool:
    return bool(xp.isdtype(a.dtype, "integral"))


def segmentation_inputs(
    xp: Any,
    predictions: Array,
    targets: Array,
    where: Array | None,
    *,
    activation: str | None,
    axis: Any,
) -> tuple[Array, Array, Array, Array | None, tuple[int, ...], Array | None, Any]:
    """The set-up shared by the overlap losses.

    Returns ``(x, p, t, labels, axes, mask, out_dtype)``: the logits in the
    compute dtype (``[batch, ..., C]``), the class probabilities and the
    targets with masked-out pixels replaced by 0, the integer class labels
    (``None`` unless ``targets`` held class indices), the summed axes and the
    mask (broadcastable to ``p``).  ``targets`` are one-hot or soft targets of
    ``predictions``' shape, or (for ``C > 1``) integer class indices without
    the class axis, or binary targets without the channel axis of one-channel
    predictions.  Out-of-range class indices raise on eager CPU backends;
    elsewhere their pixels get NaN targets (NaN in their own rows).
    """
    check_option("activation", activation, ACTIVATIONS)
    x, dtype = floating_input(xp, predictions, "predictions")
    labels = None
    if targets.ndim == x.ndim - 1:
        if x.ndim and x.shape[-1] > 1 and _is_integer(xp, targets):
            labels = targets
        else:
            targets = xp.expand_dims(targets, axis=-1)
    elif x.ndim == targets.ndim - 1:
        x = xp.expand_dims(x, axis=-1)
    if x.ndim < 2:
        raise ValueError(
            f"predictions must have a batch and a class axis ([batch, ..., classes]), "
            f"got shape {tuple(predictions.shape)}"
        )
    c = x.shape[-1]
    if labels is not None:
        check_same_shape(predictions=x.shape[:-1], targets=labels.shape)
        checked = check_label_range(labels, c, xp=xp, name="targets")
        classes = xp.arange(c, dtype=labels.dtype, device=device(x))
        t = xp.astype(xp.expand_dims(labels, axis=-1) == classes, x.dtype)
        if not checked:  # out-of-range indices: NaN targets in their own pixels
            bad = xp.expand_dims((labels < 0) | (labels >= c), axis=-1)
            t = xp.where(bad, xp.nan, t)
    else:
        check_same_shape(predictions=x.shape, targets=targets.shape)
        t = cast(targets, x.dtype, xp=xp)
    if activation is None:
        p = x
    elif activation == "sigmoid" or c == 1:
        p = sigmoid(x, xp=xp)
    else:
        p = softmax(x, axis=-1, xp=xp)
    if axis is None:
        axes: tuple[int, ...] = tuple(range(1, x.ndim - 1))
    else:
        axes = normalize_axes(tuple(axis) if isinstance(axis, list) else axis, x.ndim)
        if x.ndim - 1 in axes:
            raise ValueError(f"axis={axis!r} includes the class axis (the last)")
    mask = None
    if where is not None:
        mask = pixel_mask(xp, where, tuple(x.shape))
        p = xp.where(mask, p, 0.0)
        t = xp.where(mask, t, 0.0)
    return x, p, t, labels, axes, mask, dtype


def reduce_classes(loss: Array, reduction: str, *, xp: Any) -> Array:
    if reduction == "mean":
        return xp.mean(loss, axis=-1)
    if reduction == "sum":
        return xp.sum(loss, axis=-1)
    return loss


def soft_intersection(xp: Any, p: Array, t: Array, axes: tuple[int, ...]) -> Array:
    """MONAI's soft-label true positives ``(ΣP + ΣT - Σ|P - T|) / 2``, computed as ``Σ min(P, T)``.

    Equal term by term (``min(a, b) = (a + b - |a - b|)/2``), with no
    cancellation; the derivative at ``p = t`` is ½, as that of the norm form
    (``|x|`` has derivative 0 at 0 in torch).
    """
    return xp.sum(xp.minimum(p, t), axis=axes)
