"""Control flow: loops over a leading axis (``scan``), row maps, and ``stop_gradient``."""

from __future__ import annotations

from typing import Any

from .._dispatch import accelerated, per_backend
from ._util import device

__all__ = ["loop_rows", "map_rows", "scan", "stop_gradient"]


@per_backend
def stop_gradient(x: Any, *, xp: Any) -> Any:
    """``x`` as a constant for automatic differentiation (value unchanged).

    The identity on libraries without automatic differentiation; backends
    with it (``Tensor.detach``, ``jax.lax.stop_gradient``) always use their own
    (this is semantics, not an acceleration: :func:`xlosses.generic_only` does
    not switch it off).
    """
    return x


@accelerated
def scan(step: Any, carry: Any, xs: tuple[Any, ...], *, xp: Any) -> tuple[Any, tuple[Any, ...]]:
    """``carry, y_t = step(carry, x_t)`` over the leading axis of the arrays ``xs``.

    Returns ``(carry, ys)``: the final carry and the tuple of per-step outputs
    stacked along a new leading axis (``step`` may return ``()`` for none), as
    ``jax.lax.scan``.  The generic body is a Python loop over the (static)
    leading size, which ``jax.jit`` and ``torch.compile`` unroll: the graph and
    its compile time grow linearly with the number of steps (JAX's backend
    runs ``lax.scan``: one compiled loop body).  ``xs`` must have at least one
    step.  Pass a module-level ``step`` and keep per-call constants in the
    carry (not in a closure), so that compiled loop bodies are reused across
    calls.
    """
    n = xs[0].shape[0]
    if n == 0:
        raise ValueError("scan needs at least one step (the leading axis of xs is empty)")
    outs = []
    for t in range(n):
        carry, y = step(carry, tuple(x[t, ...] for x in xs))
        outs.append(y)
    ys = tuple(xp.stack([o[i] for o in outs], axis=0) for i in range(len(outs[0])))
    return carry, ys


@accelerated
def map_rows(fn: Any, x: Any, *, xp: Any) -> Any:
    """``fn`` applied to every 1-D slice ``x[..., :]``; an array of shape ``x.shape[:-1]``.

    ``fn`` maps a vector to a 0-D array.  The generic body loops over the rows
    (eager, or unrolled while tracing) and stacks the results; backends map
    them with their own vectorising transform (``jnp.vectorize``,
    ``torch.func.vmap``) or one task per chunk of rows (Dask).
    """
    batch = tuple(x.shape[:-1])
    flat = xp.reshape(x, (-1, x.shape[-1]))
    return xp.reshape(loop_rows(fn, flat, xp=xp), batch)


def loop_rows(fn: Any, flat: Any, *, xp: Any) -> Any:
    """``fn`` of each row of the 2-D array ``flat``, stacked: shape ``[rows]``."""
    if flat.shape[0] == 0:
        return xp.zeros((0,), dtype=flat.dtype, device=device(flat))
    return xp.stack([fn(flat[i, ...]) for i in range(flat.shape[0])])
