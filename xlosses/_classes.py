"""Class-axis set-up shared by the classification losses: masks, integer labels,
log-probabilities of probability labels, and class weights.

Standard-only, like the families that use it (it sits beside ``_checks`` and
``_reduce``: families import it, it imports no family).
"""

from __future__ import annotations

from typing import Any

from ._checks import broadcast_shapes, check_floating, check_integer, normalize_axes, where_mask
from ._checks import floating_input as _floating
from ._namespace import cast, namespace
from ._ops import log_softmax
from ._ops._util import device

__all__ = [
    "axis_arg",
    "check_gamma",
    "class_axis",
    "class_weights",
    "integer_label_setup",
    "namespace_with_weights",
    "soft_label_setup",
    "soft_log_probs",
    "weights_along",
]

Array = Any


def axis_arg(axes: tuple[int, ...]) -> int | tuple[int, ...]:
    return axes[0] if len(axes) == 1 else axes


def soft_label_setup(
    logits: Array, labels: Array, axis: Any, where: Array, xp: Any
) -> tuple[Array, Array, Any, Any, Array]:
    """Checks and casts of the probability-label softmax losses.

    Returns ``(logits, labels, axis, out_dtype, mask)``: the logits and labels in
    the compute dtype, the class axes as a reduction argument, the mask expanded.
    """
    x, dtype = _floating(xp, logits)
    broadcast_shapes(logits=logits.shape, labels=labels.shape)
    axes = normalize_axes(tuple(range(x.ndim)) if axis is None else axis, x.ndim)
    mask = where_mask(where, x.shape, axes, xp=xp)
    return x, cast(labels, x.dtype, xp=xp), axis_arg(axes), dtype, mask


def soft_log_probs(
    logits: Array, labels: Array, axis: Any, where: Array, xp: Any
) -> tuple[Array, Array, Any, Any, Array]:
    """Shared set-up of the probability-label softmax losses.

    Returns ``(log_probs, labels, axis, out_dtype, mask)`` where masked-out log
    probabilities are 0 (so that ``labels * log_probs`` is safe to sum).
    """
    x, y, ax, dtype, mask = soft_label_setup(logits, labels, axis, where, xp)
    logp = log_softmax(x, axis=ax, where=mask, xp=xp)
    if mask is not None:
        logp = xp.where(mask, logp, 0.0)
    return logp, y, ax, dtype, mask


def integer_label_setup(
    logits: Array, labels: Array, axis: Any, where: Array, xp: Any
) -> tuple[Array, Array, int, Any, Array]:
    """Move the class axes of ``logits`` (and ``where``) into one axis.

    Returns ``(x, mask, class_axis, out_dtype, labels)`` in the compute dtype.
    """
    x, dtype = _floating(xp, logits)
    check_integer(labels, "labels", xp=xp)
    axes = normalize_axes(axis, x.ndim)
    if where is None:  # the common case: no mask to check or expand
        mask = None
    else:
        mask = where_mask(where, x.shape, axes, xp=xp)
    if len(axes) == 1:
        ax = axes[0]
        shape = tuple(x.shape)
        batch_shape = shape[:ax] + shape[ax + 1 :]
    else:
        batch = tuple(i for i in range(x.ndim) if i not in axes)
        batch_shape = tuple(x.shape[i] for i in batch)
        x = xp.reshape(xp.permute_dims(x, batch + axes), (*batch_shape, -1))
        if mask is not None:
            mask = xp.broadcast_to(mask, logits.shape)
            mask = xp.reshape(xp.permute_dims(mask, batch + axes), (*batch_shape, -1))
        ax = len(batch)
    if tuple(labels.shape) != batch_shape:
        raise ValueError(
            f"labels shape {tuple(labels.shape)} must equal the batch shape {batch_shape} "
            f"of logits shape {tuple(logits.shape)} without axis={axis!r}"
        )
    return x, mask, ax, dtype, labels


def check_gamma(gamma: Any) -> None:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)):
        if not hasattr(gamma, "dtype"):
            raise TypeError(f"gamma must be a number or an array, got {type(gamma).__name__}")
        return
    if not gamma >= 0:  # also NaN
        raise ValueError(f"gamma must be non-negative, got {gamma}")


def namespace_with_weights(alpha: Any, **arrays: Any) -> tuple[Any, Any, tuple[Any, ...]]:
    """``namespace`` of ``arrays`` plus ``alpha``, which may also be a list or tuple of
    numbers (converted after the namespace is known).  Returns ``(xp, alpha, arrays)``."""
    seq = isinstance(alpha, (list, tuple))
    xp, *values, a = namespace(
        **arrays, alpha=None if seq else alpha, numbers=("alpha",), indices=("labels",)
    )
    return xp, (alpha if seq else a), tuple(values)


def class_weights(xp: Any, alpha: Any, x: Array, num_classes: int) -> Any:
    """``alpha`` as ``None``, a Python number, a 0-d array or a ``[num_classes]`` array in
    ``x``'s compute dtype; ``ValueError`` for another shape."""
    if alpha is None or isinstance(alpha, (int, float)):
        return alpha
    if isinstance(alpha, (list, tuple)):
        alpha = xp.asarray(alpha, dtype=x.dtype, device=device(x))
    else:
        check_floating(alpha, "alpha", xp=xp)
        alpha = cast(alpha, x.dtype, xp=xp)
    if alpha.ndim == 0 or tuple(alpha.shape) == (num_classes,):
        return alpha
    raise ValueError(
        f"alpha must be a number or a per-class array of shape ({num_classes},), "
        f"got shape {tuple(alpha.shape)}"
    )


def weights_along(xp: Any, alpha: Any, ndim: int, axis: int) -> Any:
    """A ``[C]`` weight array shaped to broadcast along ``axis`` of an ``ndim`` array."""
    if alpha is None or isinstance(alpha, (int, float)) or alpha.ndim == 0:
        return alpha
    return xp.reshape(alpha, (alpha.shape[0],) + (1,) * (ndim - 1 - axis))


def class_axis(axis: Any, ndim: int) -> int:
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise TypeError(f"axis must be an int (the class axis), got {axis!r}")
    return normalize_axes(axis, ndim)[0]
