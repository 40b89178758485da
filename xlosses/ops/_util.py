"""Argument handling shared by the public primitives."""

from __future__ import annotations

from typing import Any

from .._checks import broadcast_shapes, floating_input, normalize_axes
from .._namespace import cast, namespace

__all__ = ["axes_of", "mask_of", "one_axis", "unary"]


def axes_of(axis: Any, ndim: int) -> Any:
    """``axis`` (None: every axis) as distinct non-negative axes: one ``int``, or a tuple
    of several (or none).  A single axis stays an ``int``: some wrappers sort a tuple of
    axes in Python, which ``torch.compile`` with dynamic shapes cannot trace."""
    axes = tuple(range(ndim)) if axis is None else normalize_axes(axis, ndim)
    return axes[0] if len(axes) == 1 else axes


def one_axis(axis: Any, ndim: int) -> int:
    """One axis (an ``int``), made non-negative; ``TypeError`` for anything else."""
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise TypeError(f"axis must be an int, got {axis!r}")
    return normalize_axes(axis, ndim)[0]


def mask_of(xp: Any, where: Any, x: Any) -> Any:
    """``where`` checked: a boolean array that broadcasts to ``x``'s shape (None stays)."""
    if where is None:
        return None
    if where.dtype != xp.bool:
        raise TypeError(f"where must be a boolean array, got dtype {where.dtype}")
    shape = tuple(x.shape)
    if broadcast_shapes(where=tuple(where.shape), x=shape) != shape:
        raise ValueError(
            f"where shape {tuple(where.shape)} does not broadcast to x shape {shape} "
            "without enlarging it"
        )
    return where


def unary(x: Any, fn: Any) -> Any:
    """``fn(x, xp=xp)`` with the input policy: ``x`` floating, 16-bit computed in float32."""
    xp, x = namespace(x=x)
    x, dtype = floating_input(xp, x, "x")
    return cast(fn(x, xp=xp), dtype, xp=xp)
