"""Validation of shapes, dtypes, options and (eager only) values.

Static checks read only shapes, dtypes and Python options: they always run and
cost nothing on the device.  Value checks (:func:`check_label_range`) run only
where :func:`xlosses._namespace.value_checks_possible` says they cost no device
synchronisation and no tracing problem; elsewhere the losses turn invalid
entries into NaN in their own output rows (DESIGN.md §6).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import array_api_compat as _compat

from ._dispatch import read
from ._namespace import cast, compiling, compute_dtype, value_checks_possible
from ._ops.labels import value_range

__all__ = [
    "broadcast_shapes",
    "check_floating",
    "check_integer",
    "check_label_range",
    "check_length_range",
    "check_list_arguments",
    "check_option",
    "check_same_shape",
    "check_topn",
    "floating_difference",
    "floating_input",
    "floating_operands",
    "normalize_axes",
    "ranking_inputs",
    "where_mask",
]

Shape = tuple[int | None, ...]
Array = Any


def _fmt(shape: Sequence[int | None]) -> str:
    return (
        "("
        + ", ".join("?" if d is None else str(d) for d in shape)
        + (",)" if len(shape) == 1 else ")")
    )


# (type(dtype), kind) -> {dtype: bool}: ``xp.isdtype`` costs microseconds on
# some wrappers; its answer for a dtype never changes.  One inner dict per
# dtype class, so that torch.compile never compares a torch dtype with a NumPy one.
_KIND: dict[str, dict[type, dict[Any, bool]]] = {"real floating": {}, "integral": {}}


def _is_kind(xp: Any, dtype: Any, kind: str) -> bool:
    by_class = _KIND[kind].get(type(dtype))
    ok = None if by_class is None else by_class.get(dtype)
    if ok is None:
        ok = bool(xp.isdtype(dtype, kind))
        if not compiling():  # filled outside torch.compile only (see _dispatch.compiling)
            _KIND[kind].setdefault(type(dtype), {})[dtype] = ok
    return ok


def check_floating(x: Any, name: str, *, xp: Any) -> None:
    """``TypeError`` unless ``x`` has a real floating dtype."""
    if not _is_kind(xp, x.dtype, "real floating"):
        raise TypeError(f"{name} must have a real floating dtype, got {x.dtype}")


# type(dtype) -> {floating dtype: its compute dtype}, filled by floating_input.
_COMPUTE: dict[type, dict[Any, Any]] = {}


def floating_input(xp: Any, x: Any, name: str = "logits") -> tuple[Any, Any]:
    """``(x in its compute dtype, x's dtype)``; ``TypeError`` unless ``x`` is real floating.

    16-bit inputs are cast to float32 (the dtype policy); others are returned
    as they are.  One dictionary lookup per call once a dtype has been seen:
    the check and the policy's answer for a dtype never change.
    """
    dtype = x.dtype
    by_class = _COMPUTE.get(type(dtype))
    cd = None if by_class is None else by_class.get(dtype)
    if cd is None:
        check_floating(x, name, xp=xp)
        cd = compute_dtype(xp, dtype)
        if not compiling():
            _COMPUTE.setdefault(type(dtype), {})[dtype] = cd
    return (x if cd == dtype else xp.astype(x, cd)), dtype


def check_integer(x: Any, name: str, *, xp: Any) -> None:
    """``TypeError`` unless ``x`` has an integer dtype."""
    if not _is_kind(xp, x.dtype, "integral"):
        raise TypeError(f"{name} must have an integer dtype (class indices), got {x.dtype}")


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """``ValueError`` unless ``value`` is one of ``allowed``, listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def broadcast_shapes(**shapes: Sequence[int | None]) -> Shape:
    """Broadcast named shapes; ``ValueError`` naming every shape when they clash.

    ``None`` (an unknown size, as in Dask) broadcasts with anything.
    """
    if len(shapes) == 2:  # the common case, two equal shapes: nothing to broadcast
        a, b = shapes.values()
        if tuple(a) == tuple(b) and None not in a:
            return tuple(a)
    items = list(shapes.items())
    first = tuple(items[0][1])
    if all(tuple(s) == first for _, s in items[1:]) and None not in first:
        return first
    ndim = max(len(s) for _, s in items)
    out: list[int | None] = []
    for i in range(-ndim, 0):
        size: int | None = 1
        for _, s in items:
            if -i > len(s):
                continue
            d = s[i]
            if d == 1:
                continue
            if d is None or size is None:
                size = None if size in (1, None) else size
                continue
            if size not in (1, d):
                desc = " and ".join(f"{n} shape {_fmt(s)}" for n, s in items)
                raise ValueError(f"{desc} do not broadcast together")
            size = d
        out.append(size)
    return tuple(out)


def check_same_shape(**shapes: Sequence[int | None]) -> None:
    """``ValueError`` naming every shape unless all are equal."""
    if len(shapes) == 2:
        a, b = shapes.values()
        if tuple(a) == tuple(b):
            return
    items = list(shapes.items())
    first = tuple(items[0][1])
    if any(tuple(s) != first for _, s in items[1:]):
        desc = ", ".join(f"{n} shape {_fmt(s)}" for n, s in items)
        raise ValueError(f"shapes must be equal: {desc}")


# Non-negative axes as Python constants: ``_AXES[a]`` is ``a``.  An axis passed as an argument
# of a function compiled with dynamic shapes is a symbolic integer there (``torch.compile(...,
# dynamic=True)`` makes integer arguments symbols); indexing a constant tuple with it
# specialises it (a guard on its value), so the axes a loss computes with are constants, which
# Python-level code (``sorted``, tuple building) can handle.
_AXES = tuple(range(64))


def normalize_axes(axis: Any, ndim: int, name: str = "axis") -> tuple[int, ...]:
    """An int or tuple of ints as a tuple of distinct non-negative axes (Python constants)."""
    if type(axis) is int and -ndim <= axis < ndim:  # the common case, one valid axis
        return (_AXES[axis % ndim],)
    axes = (axis,) if isinstance(axis, int) else axis
    if not isinstance(axes, tuple) or not all(isinstance(a, int) for a in axes):
        raise TypeError(f"{name} must be an int or a tuple of ints, got {axis!r}")
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}={axis!r} is out of range for an array of {ndim} dimensions")
        out.append(_AXES[a % ndim])
    if len(set(out)) != len(out):
        raise ValueError(f"{name}={axis!r} repeats an axis")
    return tuple(out)


def check_label_range(
    labels: Any,
    num_classes: int,
    *,
    xp: Any,
    name: str = "labels",
    ignore_index: int | None = None,
) -> bool:
    """``ValueError`` if an integer label lies outside ``[0, num_classes)``.

    Runs only on eager CPU backends (no device sync, no tracing); entries equal
    to ``ignore_index`` are allowed.  Returns True when the check ran and every
    label is a valid class index (callers may then skip their own masking of
    invalid labels), False when it could not run or ``ignore_index`` entries
    are present.
    """
    if not value_checks_possible(xp, labels):
        return False
    if _compat.size(labels) == 0:
        return True
    # the range alone (one or two reductions) is the cheapest test when all is well; it
    # is None when the computed extremes are traced values (a closed-over constant)
    bounds = value_range(labels, xp=xp)
    if bounds is None:
        return False
    lo, hi = bounds
    if lo >= 0 and hi < num_classes:
        return True
    bad = (labels < 0) | (labels >= num_classes)
    if ignore_index is not None:
        bad = bad & (labels != ignore_index)
    if read(xp, xp.any(bad)):
        extra = f" (or ignore_index={ignore_index})" if ignore_index is not None else ""
        raise ValueError(
            f"{name} must lie in [0, {num_classes}){extra} for {num_classes} classes; "
            f"found values in [{lo}, {hi}]"
        )
    return False


def check_length_range(lengths: Any, max_length: int, *, xp: Any, name: str, what: str) -> None:
    """``ValueError`` if a length lies outside ``[0, max_length]`` (eager CPU only).

    ``what`` says where the bound comes from, e.g. ``"the time axis of log_probs"``.
    """
    if not value_checks_possible(xp, lengths) or _compat.size(lengths) == 0:
        return
    bounds = value_range(lengths, xp=xp)
    if bounds is not None and not (bounds[0] >= 0 and bounds[1] <= max_length):
        raise ValueError(
            f"{name} must lie in [0, {max_length}] ({what} has size {max_length}); "
            f"found values in [{bounds[0]}, {bounds[1]}]"
        )


def where_mask(
    where: Any, shape: Sequence[int | None], axes: tuple[int, ...], *, xp: Any, of: str = "logits"
) -> Any:
    """optax's ``where``, checked and shaped for ``shape`` (the inputs' broadcast shape).

    A boolean mask of ``shape`` (entries), of the batch shape (``shape`` without
    the reduced ``axes``: whole rows; it gains a length-1 axis at each reduced
    axis) or 0-d; anything that would not broadcast to ``shape`` without
    enlarging it raises ``ValueError`` naming both shapes (``of`` names the
    input the mask belongs to).  ``None`` stays ``None``.
    """
    if where is None:
        return None
    if where.dtype != xp.bool:
        raise TypeError(f"where must be a boolean array, got dtype {where.dtype}")
    nd = len(shape)
    batch = tuple(d for i, d in enumerate(shape) if i not in axes)
    if where.ndim == nd - len(axes) and where.ndim < nd:
        mask = where
        for a in sorted(axes):
            mask = xp.expand_dims(mask, axis=a)
    elif where.ndim == nd:
        mask = where
    elif where.ndim == 0:  # one answer for every entry
        mask = xp.broadcast_to(xp.reshape(where, (1,) * nd), tuple(shape))
    else:
        mask = None
    if mask is not None:
        try:
            fits = broadcast_shapes(where=mask.shape, inputs=tuple(shape)) == tuple(shape)
        except ValueError:
            fits = False
        if fits:
            return mask
    raise ValueError(
        f"where shape {_fmt(tuple(where.shape))} fits neither {of} shape {_fmt(tuple(shape))} "
        f"nor its batch shape {_fmt(batch)} (a mask of entries or of whole rows)"
    )


def floating_operands(
    xp: Any, predictions: Array, targets: Array | None, *, same_shape: bool = False
) -> tuple[Array, Array | None, Any]:
    """``(predictions, targets or None)`` checked (floating ``predictions``; equal or broadcast
    shapes), in the compute dtype, and the out dtype."""
    x, dtype = floating_input(xp, predictions, "predictions")
    if targets is None:
        return x, None, dtype
    if same_shape:
        check_same_shape(predictions=predictions.shape, targets=targets.shape)
    else:
        broadcast_shapes(predictions=predictions.shape, targets=targets.shape)
    return x, cast(targets, x.dtype, xp=xp), dtype


def floating_difference(
    xp: Any, predictions: Array, targets: Array | None, *, same_shape: bool = False
) -> tuple[Array, Any]:
    """``predictions - targets`` (or ``predictions``) in the compute dtype, and the out dtype
    (the residuals of the regression losses)."""
    x, t, dtype = floating_operands(xp, predictions, targets, same_shape=same_shape)
    return (x if t is None else x - t), dtype


def check_list_arguments(
    xp: Any,
    name: str,
    scores: Any,
    labels: Any,
    where: Any = None,
    segments: Any = None,
    weights: Any = None,
) -> None:
    """``labels``, ``where`` (boolean), ``segments`` and ``weights`` (``None``: absent) must
    broadcast to the shape of ``scores``, the argument called ``name``."""
    shapes = {name: scores.shape, "labels": labels.shape}
    if where is not None:
        if where.dtype != xp.bool:
            raise TypeError(f"where must be a boolean array, got dtype {where.dtype}")
        shapes["where"] = where.shape
    for key, a in (("segments", segments), ("weights", weights)):
        if a is not None:
            shapes[key] = a.shape
    if broadcast_shapes(**shapes) != tuple(scores.shape):
        raise ValueError(
            f"{', '.join(k for k in shapes if k != name)} must broadcast to the shape of {name}: "
            + ", ".join(f"{k} shape {_fmt(v)}" for k, v in shapes.items())
        )


def check_topn(topn: Any) -> None:
    """``topn`` (a cut-off rank) is None or an int >= 0."""
    if topn is not None and (not isinstance(topn, int) or isinstance(topn, bool) or topn < 0):
        raise ValueError(f"topn must be None or an int >= 0, got {topn!r}")


def ranking_inputs(
    xp: Any,
    scores: Any,
    labels: Any,
    where: Any = None,
    segments: Any = None,
    weights: Any = None,
) -> tuple[Any, Any, Any, Any, Any, Any]:
    """The arguments of a ranking loss (rax's ``[..., list_size]`` convention), checked.

    Returns ``(scores, labels, where, segments, weights, dtype)``: ``scores`` in its
    compute dtype, ``labels`` and ``weights`` cast to it and broadcast to its shape,
    ``where`` broadcast (``None`` stays ``None``), ``segments`` broadcast, and the output
    dtype.  Masked items are *not* replaced here (see the losses).
    """
    x, dtype = floating_input(xp, scores, "scores")
    if x.ndim < 1:
        raise ValueError("scores must have shape [..., list_size], got a 0-d array")
    check_list_arguments(xp, "scores", x, labels, where, segments, weights)
    shape = tuple(x.shape)

    def full(a: Any) -> Any:
        return a if a is None or tuple(a.shape) == shape else xp.broadcast_to(a, shape)

    y = full(labels if labels.dtype == x.dtype else xp.astype(labels, x.dtype))
    wt = None
    if weights is not None:
        wt = full(weights if weights.dtype == x.dtype else xp.astype(weights, x.dtype))
    return x, y, full(where), full(segments), wt, dtype
