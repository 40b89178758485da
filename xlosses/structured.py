r"""Sparsemax and Fenchel-Young losses.

Drop-in for ``optax.losses.sparsemax_loss``, ``multiclass_sparsemax_loss`` and
``make_fenchel_young_loss``.  The sparsemax projection is written once against
the standard (sort, cumulative sum, counting, ``take_along_axis``): no
data-dependent shape, so it runs under ``jax.jit`` and
``torch.compile(fullgraph=True)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ._checks import broadcast_shapes, check_integer, check_label_range
from ._checks import floating_input as _floating
from ._namespace import cast, namespace
from ._ops import clamp, map_rows, relu, sparsemax, take_labels

__all__ = ["make_fenchel_young_loss", "multiclass_sparsemax_loss", "sparsemax_loss"]

Array = Any


def sparsemax_loss(logits: Array, labels: Array) -> Array:
    r"""Binary sparsemax loss (the Fenchel-Young loss of the sparse sigmoid).

    .. math::
        \ell = \operatorname{sparse\_plus}(z),\quad z = \begin{cases} -x & y \ne 0 \\
        x & y = 0\end{cases},\qquad
        \operatorname{sparse\_plus}(z) = \begin{cases} 0 & z \le -1 \\
        \tfrac14 (z + 1)^2 & -1 < z < 1 \\ z & z \ge 1 \end{cases}

    Zero if and only if ``sparse_sigmoid(x) == y``.  Drop-in for
    ``optax.losses.sparsemax_loss`` (same branch boundaries, hence the same
    gradient at the kinks).

    Parameters
    ----------
    logits : array
        Scores (real floating).
    labels : array, broadcastable
        Binary labels; any non-zero value is the positive class.

    Returns
    -------
    array, the broadcast shape

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.sparsemax_loss(np.array([2.0, 0.0, -3.0]), np.array([1, 1, 1])), 4))
    [0.   0.25 3.  ]

    References
    ----------
    Blondel, Martins and Niculae, *Learning with Fenchel-Young Losses*, JMLR 21,
    2020, §4.4.
    """
    xp, logits, labels = namespace(logits=logits, labels=labels)
    x, dtype = _floating(xp, logits, "logits")
    broadcast_shapes(logits=logits.shape, labels=labels.shape)
    z = xp.where(labels != 0, -x, x)
    # branch-free sparse_plus: ¼·clamp(z + 1, 0, 2)² + relu(z - 1) is 0, ¼(z + 1)², z on the
    # three pieces, overflows nowhere, and its derivative at z = ±1 is optax's (0 at -1, 1 at 1)
    t = clamp(z + 1.0, lo=0.0, hi=2.0, xp=xp)
    loss = 0.25 * (t * t) + relu(z - 1.0, tie=0.0, xp=xp)
    return cast(loss, dtype, xp=xp)


def multiclass_sparsemax_loss(scores: Array, labels: Array) -> Array:
    r"""Multiclass sparsemax loss (Martins and Astudillo, 2016).

    .. math::
        \ell = \sum_j p_j (s_j - s_y) + \tfrac12\bigl(1 - \|p\|^2\bigr),
        \qquad p = \operatorname{sparsemax}(s)

    the Fenchel-Young loss of the Gini negentropy; its gradient is
    ``p - e_y``.  Drop-in for ``optax.losses.multiclass_sparsemax_loss``,
    and in addition accepts any number of leading batch axes (optax: exactly
    one) and a single example (``scores`` of shape ``(C,)``, a 0-D label).

    Parameters
    ----------
    scores : array, shape ``[..., C]``
    labels : integer array, shape ``scores.shape[:-1]``
        Out-of-range labels raise ``ValueError`` on eager CPU backends and give
        NaN rows elsewhere.

    Returns
    -------
    array, shape ``labels.shape``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> scores = np.array([[1.0, 0.5, -1.0], [0.0, 2.0, 0.0]])
    >>> print(np.round(xlosses.multiclass_sparsemax_loss(scores, np.array([0, 0])), 4))
    [0.0625 2.    ]

    References
    ----------
    Martins and Astudillo, *From Softmax to Sparsemax: A Sparse Model of
    Attention and Multi-Label Classification*, ICML 2016.
    """
    xp, scores, labels = namespace(scores=scores, labels=labels, indices=("labels",))
    x, dtype = _floating(xp, scores, "scores")
    check_integer(labels, "labels", xp=xp)
    if x.ndim == 0 or tuple(labels.shape) != tuple(x.shape[:-1]):
        raise ValueError(
            f"labels shape {tuple(labels.shape)} must equal scores shape "
            f"{tuple(scores.shape)} without its last (class) axis"
        )
    n = x.shape[-1]
    check_label_range(labels, n, xp=xp)
    valid = (labels >= 0) & (labels < n)
    y = xp.where(valid, labels, 0)
    p = sparsemax(x, axis=-1, xp=xp)
    on = p > 0
    diff = xp.where(on, x, 0.0) - xp.expand_dims(take_labels(x, y, axis=-1, xp=xp), axis=-1)
    loss = xp.sum(xp.where(on, p * diff, 0.0), axis=-1) + 0.5 * (1.0 - xp.sum(p * p, axis=-1))
    return cast(xp.where(valid, loss, xp.nan), dtype, xp=xp)


def make_fenchel_young_loss(
    max_fun: Callable[..., Any], *, batched: bool = False
) -> Callable[..., Any]:
    r"""Build a Fenchel-Young loss from a regularised max function.

    .. math::
        \ell(s, y) = \Omega^*(s) - \langle y, s \rangle

    where ``max_fun`` computes :math:`\Omega^*` (``logsumexp`` gives the
    softmax cross-entropy up to the targets' entropy).  Drop-in for
    ``optax.losses.make_fenchel_young_loss``: the returned
    ``loss(scores, targets, *args, **kwargs)`` works over the last axis with
    any number of leading axes.

    Protocol of ``max_fun``
        ``max_fun(scores, *args, **kwargs)`` returns the max value; it is
        written for the library of the scores it receives (e.g. with
        ``array_api_compat.array_namespace(scores)``, or with ``jax.numpy``
        for JAX-only use).  Its gradient, and so the loss's, is whatever the
        backend's automatic differentiation gives for it (``jax.grad``,
        torch autograd), exactly as optax differentiates through it; xlosses
        adds no custom gradient.

        * ``batched=False`` (default, optax's protocol): ``max_fun`` takes one
          1-D vector of scores and returns a 0-D array.  It is mapped over the
          rows with ``jnp.vectorize`` on JAX (as optax), ``torch.func.vmap`` on
          torch, one task per chunk of rows on Dask (``max_fun`` then gets the
          rows of a chunk as vectors of the chunk's library, NumPy usually;
          the loss stays lazy and chunked like the batch), and a loop over the
          rows elsewhere.  ``*args``/``**kwargs`` are passed unchanged to every
          call (optax's ``jnp.vectorize`` accepts keyword arguments only).
        * ``batched=True``: ``max_fun`` takes the whole ``[..., n]`` array and
          reduces its last axis, returning shape ``[...]``: one call, no
          mapping, the fast form on every backend.

        The result's shape is checked: a ``max_fun`` that reduces every axis
        while ``batched=True`` raises ``ValueError`` instead of broadcasting a
        wrong total.

    Parameters
    ----------
    max_fun : callable
        The regularised max :math:`\Omega^*`, as described above.
    batched : bool, default False
        Whether ``max_fun`` handles a batch of rows itself.

    Returns
    -------
    callable ``loss(scores, targets, *args, **kwargs)``
        ``scores`` of shape ``[..., n]`` (real floating), ``targets``
        broadcastable to it; returns shape ``[...]`` in ``scores``' dtype.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> def logsumexp(s):
    ...     m = np.max(s, axis=-1)
    ...     return m + np.log(np.sum(np.exp(s - m[..., None]), axis=-1))
    >>> fy = xlosses.make_fenchel_young_loss(logsumexp, batched=True)
    >>> scores = np.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
    >>> print(np.round(fy(scores, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])), 4))
    [0.2761 2.9518]

    References
    ----------
    Blondel, Martins and Niculae, *Learning with Fenchel-Young Losses*, JMLR 21, 2020.
    """
    if not callable(max_fun):
        raise TypeError(f"max_fun must be callable, got {type(max_fun).__name__}")

    def fenchel_young_loss(scores: Array, targets: Array, *args: Any, **kwargs: Any) -> Array:
        xp, scores, targets = namespace(scores=scores, targets=targets)
        s, dtype = _floating(xp, scores, "scores")
        if s.ndim == 0:
            raise ValueError("scores must have at least one dimension (the last is reduced)")
        broadcast_shapes(scores=scores.shape, targets=targets.shape)
        fn = functools.partial(_with_args, max_fun, args, kwargs)
        value = fn(s) if batched else map_rows(fn, s, xp=xp)
        want = tuple(s.shape[:-1])
        if tuple(getattr(value, "shape", ())) != want:
            raise ValueError(
                f"max_fun returned shape {tuple(getattr(value, 'shape', ()))} for scores "
                f"shape {tuple(scores.shape)}; with batched={batched} it must return "
                f"{want} (reduce the last axis only)"
            )
        value = cast(value, s.dtype, xp=xp)
        dot = xp.sum(cast(targets, s.dtype, xp=xp) * s, axis=-1)
        return cast(value - dot, dtype, xp=xp)

    fenchel_young_loss.__doc__ = (
        f"Fenchel-Young loss of ``{getattr(max_fun, '__name__', 'max_fun')}``: "
        "``max_fun(scores) - <targets, scores>`` over the last axis."
    )
    return fenchel_young_loss


def _with_args(max_fun: Callable[..., Any], args: tuple, kwargs: dict, s: Array) -> Any:
    return max_fun(s, *args, **kwargs)
