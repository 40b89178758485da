"""Divergence terms and guarded products: ``t·log(t/p)``, ``exp(a)(a - b)``, ``exp(x) - y·x``,
``x·log y``, with ``0·inf = 0`` in values *and* gradients (the double where)."""

from __future__ import annotations

from typing import Any

from .._dispatch import accelerated

__all__ = [
    "exp_minus_product",
    "exp_times_difference",
    "guarded",
    "masked_terms_sum",
    "where_rare",
    "xlog_ratio",
    "xlogy",
    "zero_unread_rows",
]


@accelerated
def guarded(
    fn: Any,
    mask: Any,
    args: tuple[Any, ...],
    fills: tuple[Any, ...],
    *,
    value: float = 0.0,
    xp: Any,
) -> Any:
    """``where(mask, value, fn(*args))`` with values *and gradients* finite at masked entries.

    The double where: each argument ``args[i]`` whose ``fills[i]`` is not
    None is replaced by that fill at masked entries before ``fn`` (so ``fn``
    never sees a ``log 0`` or a ``0·inf`` there, whose NaN would reach the
    gradient), and ``value`` is selected after.
    """
    safe = [a if f is None else xp.where(mask, f, a) for a, f in zip(args, fills, strict=True)]
    return xp.where(mask, value, fn(*safe))


@accelerated
def where_rare(mask: Any, value: float, x: Any, *, xp: Any) -> Any:
    """``xp.where(mask, value, x)`` for a ``mask`` that is rarely true (invalid entries);
    eager backends may return ``x`` itself after finding no true entry."""
    return xp.where(mask, value, x)


@accelerated
def zero_unread_rows(x: Any, rows: Any, *, xp: Any) -> Any:
    """``where(rows[..., None], 0, x)``: zeros in the rows of ``x`` that the caller never reads.

    Such rows (padded frames) change no value the caller returns; the zeros
    keep a NaN or ``inf`` there out of the gradients and out of the
    arithmetic before it is discarded (where NumPy would warn).
    """
    return xp.where(rows[..., None], 0.0, x)


# The four terms below have an unguarded form that is NaN at *every* entry the guard
# changes (0·inf, 0·log 0): eager backends may compute it and keep it when it holds no
# NaN (then no entry is guarded and the guard's wheres are identities in value and
# gradient).  ``reduce`` (optional) maps the terms to the caller's result with a NaN
# wherever a term is NaN (an unmasked sum): such a backend then tests the result.


@accelerated
def exp_minus_product(x: Any, y: Any, *, xp: Any) -> Any:
    """``exp(x) - y·x`` with ``0·(±inf) = 0``: the Poisson NLL of log-rates ``x``, counts ``y``.

    ``y·x`` through :func:`guarded` (values and gradients finite at ``y = 0``,
    ``x = ±inf``; the derivative in ``y`` stays ``-x``).
    """
    return xp.exp(x) - guarded(
        lambda y, x: y * x, (y == 0) & xp.isinf(x), (y, x), (None, 0.0), xp=xp
    )


@accelerated
def exp_times_difference(a: Any, b: Any, *, xp: Any, reduce: Any = None) -> Any:
    """``exp(a)·(a - b)``, 0 where ``a = -inf``: the terms of a KL divergence with log targets.

    :func:`guarded` (values and gradients finite at ``a = -inf``, whatever
    ``b``); only ``a`` is replaced there: ``b``'s derivative is ``-exp(a) = -1``
    at the fill, finite even where ``b`` is infinite, and the selects'
    gradients drop the rest (one select fewer under ``jax.jit``).  Returns
    ``reduce(terms)`` when ``reduce`` is given.
    """
    out = guarded(lambda a, b: xp.exp(a) * (a - b), a == -xp.inf, (a, b), (0.0, None), xp=xp)
    return out if reduce is None else reduce(out)


@accelerated
def xlog_ratio(t: Any, lp: Any, *, xp: Any, reduce: Any = None) -> Any:
    """``t·(log t - lp)``, 0 where ``t = 0`` (values and gradients): the terms of a KL
    divergence.  Returns ``reduce(terms)`` when ``reduce`` is given."""
    out = guarded(lambda t, lp: t * (xp.log(t) - lp), t == 0, (t, lp), (1.0, 0.0), xp=xp)
    return out if reduce is None else reduce(out)


@accelerated
def masked_terms_sum(a: Any, keep_a: Any, b: Any, keep_b: Any, *, xp: Any) -> Any:
    """``where(keep_a, a, 0) + where(keep_b, b, 0)`` (boolean ``keep_*``), values and gradients.

    (``a·keep_a + b·keep_b`` differs only where a dropped term is infinite or
    NaN, and is NaN there: eager backends may use it.)
    """
    return xp.where(keep_a, a, 0.0) + xp.where(keep_b, b, 0.0)


def xlogy(x: Any, y: Any, *, xp: Any) -> Any:
    """``x·log(y)``, defined as 0 where ``x == 0`` (values and gradients)."""
    return guarded(lambda x, y: x * xp.log(y), x == 0, (x, y), (None, 1.0), xp=xp)
