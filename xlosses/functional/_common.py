"""Shared set-up of the ``torch.nn.functional`` adapters: dtypes, class axes, class
weights, ``ignore_index`` and the reductions."""

from __future__ import annotations

import math
import warnings
from typing import Any

from .._checks import broadcast_shapes, check_floating, check_integer, check_label_range
from .._namespace import cast, compiling, compute_dtype
from .._reduce import REDUCTIONS, reduce

Array = Any


# -- shared set-up ------------------------------------------------------------------------


def _finish(
    loss: Array,
    reduction: str,
    dtype: Any,
    xp: Any,
    *,
    normalizer: Array | int | None = None,
    allowed: tuple[str, ...] = REDUCTIONS,
) -> Array:
    """Reduce ``loss`` in the compute dtype of ``dtype`` and return it in ``dtype``."""
    work = compute_dtype(xp, dtype)
    loss = cast(loss, work, xp=xp)
    if normalizer is not None and not isinstance(normalizer, int):
        normalizer = cast(normalizer, work, xp=xp)
    return cast(
        reduce(loss, reduction, xp=xp, allowed=allowed, normalizer=normalizer), dtype, xp=xp
    )


def _input(input: Array, xp: Any, name: str = "input") -> tuple[Any, Any]:
    """Check that ``input`` is floating; return ``(its dtype, the compute dtype)``."""
    check_floating(input, name, xp=xp)
    return input.dtype, compute_dtype(xp, input.dtype)


def _class_axis(input: Array) -> int:
    """torch's class axis: 1 for inputs ``[N, C, d1, ...]``, 0 for a single example ``[C]``."""
    if input.ndim == 0:
        raise ValueError(
            "input must have a class axis (shape [C], [N, C] or [N, C, d1, ...]), got a 0-d array"
        )
    return 1 if input.ndim >= 2 else 0


def _per_class(vec: Array, ndim: int, axis: int, xp: Any) -> Array:
    """A per-class vector ``[C]`` shaped to broadcast along ``axis`` of an ``ndim``-d array."""
    return xp.reshape(vec, (vec.shape[0],) + (1,) * (ndim - axis - 1))


def _class_weight(weight: Array | None, num_classes: int, work: Any, xp: Any) -> Array | None:
    """``weight`` checked to be a floating ``[C]`` vector, in the compute dtype."""
    if weight is None:
        return None
    check_floating(weight, "weight", xp=xp)
    if tuple(weight.shape) != (num_classes,):
        raise ValueError(
            f"weight must have shape ({num_classes},), one entry per class, "
            f"got shape {tuple(weight.shape)}"
        )
    return cast(weight, work, xp=xp)


class _ClassIndices:
    """Integer targets of a class-index loss: ignored entries, safe indices, class weights."""

    def __init__(
        self,
        input: Array,
        target: Array,
        weight: Array | None,
        ignore_index: int,
        work: Any,
        xp: Any,
    ) -> None:
        axis = _class_axis(input)
        num_classes = input.shape[axis]
        check_integer(target, "target", xp=xp)
        batch = tuple(d for i, d in enumerate(input.shape) if i != axis)
        if tuple(target.shape) != batch:
            raise ValueError(
                f"target shape {tuple(target.shape)} must equal input shape "
                f"{tuple(input.shape)} without the class axis {axis}, i.e. {batch}"
            )
        all_valid = check_label_range(
            target, num_classes, xp=xp, name="target", ignore_index=ignore_index
        )
        self.axis, self.num_classes = axis, num_classes
        self.size = math.prod(target.shape)
        # Where the eager check found every target a class index, no entry is invalid and,
        # for an ignore_index outside [0, C) (torch's -100), none is ignored: the masks
        # below (None) and their selects are skipped, a few small passes per call.
        if all_valid:
            self.valid, self.index = None, target
        else:  # out-of-range targets (possible only where no value check runs) give NaN rows
            self.valid = (target >= 0) & (target < num_classes)
            self.index = xp.where(self.valid, target, 0)
        none_ignored = all_valid and not 0 <= ignore_index < num_classes
        self.keep = None if none_ignored else target != ignore_index
        self.weight = _class_weight(weight, num_classes, work, xp)
        if self.weight is None:
            self.target_weight = None
        else:
            flat = xp.take(self.weight, xp.reshape(self.index, (-1,)), axis=0)
            self.target_weight = xp.reshape(flat, tuple(target.shape))

    def finish(self, loss: Array, reduction: str, dtype: Any, xp: Any) -> Array:
        """Zero the ignored entries, NaN the invalid ones, reduce with torch's weighted mean."""
        work = compute_dtype(xp, dtype)
        loss = cast(loss, work, xp=xp)
        if self.keep is None:  # every target valid and counted
            counted = self.size if self.target_weight is None else xp.sum(self.target_weight)
            return _finish(loss, reduction, dtype, xp, normalizer=counted)
        if self.valid is not None:
            loss = xp.where(self.valid | ~self.keep, loss, xp.nan)
        loss = xp.where(self.keep, loss, 0.0)
        counted = (
            cast(self.keep, work, xp=xp)
            if self.target_weight is None
            else xp.where(self.keep, self.target_weight, 0.0)
        )
        return _finish(loss, reduction, dtype, xp, normalizer=xp.sum(counted))

    def weigh(self, loss: Array) -> Array:
        """``weight[target] · loss`` (``loss`` unchanged without class weights)."""
        return loss if self.target_weight is None else self.target_weight * loss


def _regression_input(
    input: Array, target: Array, xp: Any, *, warn: bool = True
) -> tuple[Any, Array]:
    """Check ``input`` and ``target``; return ``(input's dtype, input in the compute dtype)``.

    Their shapes must broadcast together (``ValueError`` naming both).  Where
    they differ, ``warn`` gives a ``UserWarning`` as torch does for its
    element-wise losses (``[N, 1]`` against ``[N]`` silently becomes
    ``[N, N]``), except while ``torch.compile`` traces (a graph break).
    """
    dtype, work = _input(input, xp)
    broadcast_shapes(input=input.shape, target=target.shape)
    if warn and tuple(target.shape) != tuple(input.shape) and not compiling():
        warnings.warn(
            f"target shape {tuple(target.shape)} differs from input shape "
            f"{tuple(input.shape)}: they are broadcast together (as PyTorch does), which is "
            "rarely what is meant; pass arrays of the same shape",
            UserWarning,
            stacklevel=3,
        )
    return dtype, cast(input, work, xp=xp)


def _rescaling(
    weight: Array | None, name: str, shape: tuple[int, ...], work: Any, xp: Any
) -> Array | None:
    """torch's rescaling ``weight`` / ``pos_weight``: floating, broadcastable to the loss's
    ``shape`` without enlarging it (``ValueError`` naming both shapes), in ``work``."""
    if weight is None:
        return None
    check_floating(weight, name, xp=xp)
    try:
        ok = broadcast_shapes(**{name: weight.shape, "input": shape}) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name} shape {tuple(weight.shape)} must broadcast to input shape {tuple(shape)}"
        )
    return cast(weight, work, xp=xp)
