"""Label gathers, masked reductions, piecewise functions, norms, sparsemax and the focal
power."""

from __future__ import annotations

import math
from typing import Any

from .. import _ops
from .._checks import broadcast_shapes, check_integer, floating_input
from .._dispatch import read, values_readable
from .._namespace import cast, namespace
from ._util import axes_of, mask_of, one_axis, unary

__all__ = [
    "focal_power",
    "huber",
    "log_cosh",
    "masked_mean",
    "masked_sum",
    "relu",
    "sparsemax",
    "take_labels",
    "vector_norm",
]


# -- labels and masks -----------------------------------------------------------------------


def take_labels(x: Any, labels: Any, /, *, axis: int = -1) -> Any:
    r"""The entry of ``x`` each integer label points at along ``axis``, without a one-hot.

    .. math::
        \operatorname{take\_labels}(x, y)_{b} = x_{b, y_b}

    ``labels`` has ``x``'s shape without ``axis``.  Labels outside
    ``[0, n)`` raise ``ValueError`` where values are readable at no cost
    (eager CPU arrays); elsewhere (under ``jax.jit``, ``torch.compile``, on
    GPUs, Dask) their entries are NaN.  Differentiable in ``x`` (the gradient
    is 1 at the picked entry, 0 elsewhere).

    Parameters
    ----------
    x : array, shape ``[..., n, ...]``
        Real floating values (logits, log-probabilities).
    labels : integer array, shape ``x.shape`` without ``axis``
        Indices in ``[0, n)``.
    axis : int, default -1
        The axis the labels index.

    Returns
    -------
    array
        ``labels``' shape, ``x``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.take_labels(np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]), np.array([1, 0])))
    [0.7 0.5]

    References
    ----------
    ``take_along_axis`` (array API standard 2024.12) with the label axis added and removed.
    """
    xp, x, labels = namespace(x=x, labels=labels, indices=("labels",))
    x, dtype = floating_input(xp, x, "x")
    check_integer(labels, "labels", xp=xp)
    a = one_axis(axis, x.ndim)
    want = tuple(d for i, d in enumerate(x.shape) if i != a)
    if tuple(labels.shape) != want:
        raise ValueError(
            f"labels shape {tuple(labels.shape)} must be x shape {tuple(x.shape)} "
            f"without axis {axis} ({want})"
        )
    n = x.shape[a]
    valid = (labels >= 0) & (labels < n)
    if values_readable(xp, labels) and math.prod(labels.shape) > 0:
        bad = read(xp, xp.any(~valid))
        if bad:
            raise ValueError(f"labels must lie in [0, {n}) for axis {axis} of size {n}")
        if bad is False:  # every label valid: no mask needed
            return cast(_ops.take_labels(x, labels, axis=a, xp=xp), dtype, xp=xp)
    picked = _ops.take_labels(x, xp.where(valid, labels, 0), axis=a, xp=xp)
    return cast(xp.where(valid, picked, xp.nan), dtype, xp=xp)


def masked_sum(
    x: Any,
    /,
    *,
    where: Any = None,
    axis: int | tuple[int, ...] | None = None,
    keepdims: bool = False,
) -> Any:
    r"""The sum of the entries where ``where`` is True; the others are *replaced* by 0.

    .. math::
        \operatorname{masked\_sum}(x) = \sum_{i : w_i} x_i

    Masked-out entries are replaced before the sum (not multiplied by 0), so a
    NaN or ``inf`` there reaches neither the value nor the gradient.

    Parameters
    ----------
    x : array
        Real floating input.
    where : bool array, optional
        Entries included (all when None); broadcasts to ``x``'s shape.
    axis : int or tuple of ints or None, default None
        Axes reduced (None: all).
    keepdims : bool, default False
        Keep the reduced axes with length 1.

    Returns
    -------
    array
        ``x``'s shape without ``axis``, ``x``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> x = np.array([[1.0, np.nan], [2.0, 3.0]])
    >>> print(ops.masked_sum(x, where=np.isfinite(x), axis=-1))
    [1. 5.]
    """
    xp, x, where = namespace(x=x, where=where)
    x, dtype = floating_input(xp, x, "x")
    where = mask_of(xp, where, x)
    axes = axes_of(axis, x.ndim)
    if where is not None:
        x = xp.where(where, x, 0.0)
    return cast(xp.sum(x, axis=axes, keepdims=keepdims), dtype, xp=xp)


def masked_mean(
    x: Any,
    /,
    *,
    where: Any = None,
    axis: int | tuple[int, ...] | None = None,
    keepdims: bool = False,
) -> Any:
    r"""The mean of the entries where ``where`` is True; NaN where no entry is included.

    .. math::
        \operatorname{masked\_mean}(x) = \frac{\sum_{i : w_i} x_i}{\#\{i : w_i\}}

    Masked-out entries are replaced before the sum, so a NaN or ``inf`` there
    reaches neither the value nor the gradient; a reduction over no entry is
    NaN (``0/0``, as ``numpy.mean(where=...)`` and ``jnp.mean(where=...)``)
    with a zero gradient.

    Parameters
    ----------
    x : array
        Real floating input.
    where : bool array, optional
        Entries included (all when None); broadcasts to ``x``'s shape.
    axis : int or tuple of ints or None, default None
        Axes reduced (None: all).
    keepdims : bool, default False
        Keep the reduced axes with length 1.

    Returns
    -------
    array
        ``x``'s shape without ``axis``, ``x``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> x = np.array([[1.0, 3.0], [2.0, np.nan]])
    >>> print(ops.masked_mean(x, where=np.array([[True, True], [False, False]]), axis=-1))
    [ 2. nan]
    """
    xp, x, where = namespace(x=x, where=where)
    x, dtype = floating_input(xp, x, "x")
    where = mask_of(xp, where, x)
    axes = axes_of(axis, x.ndim)
    if where is None:
        return cast(xp.mean(x, axis=axes, keepdims=keepdims), dtype, xp=xp)
    w = xp.broadcast_to(where, tuple(x.shape))
    s = xp.sum(xp.where(w, x, 0.0), axis=axes, keepdims=keepdims)
    n = xp.sum(xp.astype(w, x.dtype), axis=axes, keepdims=keepdims)
    some = n > 0
    return cast(xp.where(some, s / xp.where(some, n, 1.0), xp.nan), dtype, xp=xp)


# -- piecewise ------------------------------------------------------------------------------


def relu(x: Any, /, *, tie: float = 0.0) -> Any:
    r"""``max(x, 0)`` whose derivative at ``x == 0`` is ``tie``; NaN stays NaN.

    .. math::
        \operatorname{relu}(x) = \max(x, 0), \qquad
        \operatorname{relu}'(0) = \text{tie}

    ``tie=0.0`` (default) is ``torch.relu`` and ``jax.nn.relu``; ``0.5`` is
    ``jnp.maximum(x, 0)`` (optax's hinge losses); ``1.0`` is
    ``torch.clamp_min(x, 0)``.  The same on every backend, fast paths included.

    Parameters
    ----------
    x : array
        Real floating input.
    tie : {0.0, 0.5, 1.0}, default 0.0
        The derivative at ``x == 0``.

    Returns
    -------
    array
        ``x``'s shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.relu(np.array([-2.0, 0.0, 3.0])))
    [0. 0. 3.]
    """
    if tie not in (0.0, 0.5, 1.0):
        raise ValueError(f"tie must be 0.0, 0.5 or 1.0, got {tie!r}")
    xp, x = namespace(x=x)
    x, dtype = floating_input(xp, x, "x")
    return cast(_ops.relu(x, tie=float(tie), xp=xp), dtype, xp=xp)


def huber(x: Any, /, *, delta: Any = 1.0) -> Any:
    r"""The Huber function of a residual ``x``: quadratic within ``δ``, linear beyond.

    .. math::
        \operatorname{huber}_\delta(x) = \begin{cases}
            \tfrac12 x^2 & |x| \le \delta \\
            \delta (|x| - \tfrac12 \delta) & |x| > \delta \end{cases}

    Branch-free (``½q² + δ(|x| - q)``, ``q = min(|x|, δ)``): finite values and
    gradients for any finite ``x``; the derivative is ``x`` clipped to
    ``[-δ, δ]`` (0 at ``x = 0``, ``±δ`` at ``|x| = δ``).  As
    ``optax.losses.huber_loss(x, delta=delta)``.

    Parameters
    ----------
    x : array
        Real floating residuals (``predictions - targets``).
    delta : float or array, default 1.0
        The threshold ``δ > 0`` (an array broadcasts with ``x``).

    Returns
    -------
    array
        ``x``'s shape (broadcast with ``delta``) and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.huber(np.array([0.5, -3.0]), delta=1.0))
    [0.125 2.5  ]

    References
    ----------
    Huber, *Robust Estimation of a Location Parameter*, Ann. Math. Statist. 35(1), 1964.
    """
    xp, x, delta = namespace(x=x, delta=delta, numbers=("delta",))
    x, dtype = floating_input(xp, x, "x")
    if isinstance(delta, (int, float)):
        if not delta > 0:
            raise ValueError(f"delta must be positive, got {delta!r}")
        delta = float(delta)
    else:
        delta, _ = floating_input(xp, delta, "delta")
        broadcast_shapes(x=tuple(x.shape), delta=tuple(delta.shape))
    return cast(_ops.huber(x, None, delta, xp=xp), dtype, xp=xp)


def log_cosh(x: Any, /) -> Any:
    r"""``log(cosh(x))`` to full relative precision for every finite ``x``; derivative
    ``tanh x``.

    .. math::
        \log\cosh x = |x| - \log 2 + \log(1 + e^{-2|x|})

    for ``|x| ≥ 0.5`` and a Taylor series in ``x²`` below (no cancellation for
    small ``x``, where ``logaddexp(x, -x) - log 2`` returns 0).

    Parameters
    ----------
    x : array
        Real floating input.

    Returns
    -------
    array
        ``x``'s shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.log_cosh(np.array([1e-4, 1.0, 1e4])))
    [4.99999999e-09 4.33780830e-01 9.99930685e+03]
    """
    return unary(x, _ops.log_cosh)


# -- norms and projections ----------------------------------------------------------------


def vector_norm(
    x: Any,
    /,
    *,
    axis: int | tuple[int, ...] | None = None,
    keepdims: bool = False,
    ord: float = 2,
) -> Any:
    r"""The ``ord``-norm along ``axis``, without overflow or underflow; gradient 0 at 0.

    .. math::
        \|x\|_p = m \Big(\sum_i (|x_i| / m)^p\Big)^{1/p}, \qquad m = \max_i |x_i|

    The largest entry is factored out, so entries near ``1e30`` or ``1e-30``
    in float32 neither overflow nor vanish.  A zero vector has norm 0 and
    gradient 0 (the subgradient torch uses; a naive ``sqrt(sum(x²))`` has a
    NaN gradient there).  ``ord=inf`` is ``max |x|``, ``ord=0`` the number of
    non-zero entries.

    Parameters
    ----------
    x : array
        Real floating input.
    axis : int or tuple of ints or None, default None
        Axes reduced (None: all), as the standard's ``linalg.vector_norm``.
    keepdims : bool, default False
        Keep the reduced axes with length 1.
    ord : float, default 2
        ``p ≥ 0`` or ``inf``.

    Returns
    -------
    array
        ``x``'s shape without ``axis``, ``x``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.vector_norm(np.array([[3.0, 4.0], [0.0, 0.0]]), axis=-1))
    [5. 0.]
    >>> print(ops.vector_norm(np.array([3e30, 4e30], dtype=np.float32)))
    5e+30

    References
    ----------
    ``linalg.vector_norm`` of the array API standard.
    """
    if isinstance(ord, bool) or not isinstance(ord, (int, float)) or not ord >= 0:
        raise ValueError(f"ord must be a number >= 0 or inf, got {ord!r}")
    xp, x = namespace(x=x)
    x, dtype = floating_input(xp, x, "x")
    axes = axes_of(axis, x.ndim)
    if axes == ():
        return cast(_ops.vector_norm(x[..., None], float(ord), axis=-1, xp=xp), dtype, xp=xp)
    out = _ops.vector_norm(x, float(ord), axis=axes, keepdims=keepdims, xp=xp)
    return cast(out, dtype, xp=xp)


def sparsemax(x: Any, /, *, axis: int = -1) -> Any:
    r"""The Euclidean projection of ``x`` onto the probability simplex along ``axis``.

    .. math::
        \operatorname{sparsemax}(x) = \operatorname*{arg\,min}_{p \in \Delta} \|p - x\|^2
        = \max(x - \tau(x), 0)

    with ``τ`` chosen so that the entries sum to 1.  Sparse (exact zeros off
    the support); its Jacobian on the support is ``I - 11ᵀ/k`` (``k`` the
    support size), 0 elsewhere.  No data-dependent shapes: it runs under
    ``jax.jit`` and ``torch.compile``.  A row holding NaN is NaN.

    Parameters
    ----------
    x : array
        Real floating scores.
    axis : int, default -1
        The axis projected.

    Returns
    -------
    array
        ``x``'s shape and dtype; non-negative, sums to 1 along ``axis``.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.sparsemax(np.array([[0.5, 0.1, -1.0], [3.0, 0.0, 0.0]])))
    [[0.7 0.3 0. ]
     [1.  0.  0. ]]

    References
    ----------
    Martins and Astudillo, *From Softmax to Sparsemax*, ICML 2016.
    """
    xp, x = namespace(x=x)
    x, dtype = floating_input(xp, x, "x")
    a = one_axis(axis, x.ndim)
    out = _ops.sparsemax(x, axis=a, xp=xp)
    # a row holding NaN is NaN (the projection's support count is 0 there: inf otherwise)
    bad = xp.isnan(xp.sum(x, axis=a, keepdims=True))
    return cast(xp.where(bad, xp.nan, out), dtype, xp=xp)


# -- focal weights --------------------------------------------------------------------------


def focal_power(p: Any, /, *, gamma: Any = 2.0) -> Any:
    r"""The focal modulating factor ``(1 - p)^γ`` of a probability ``p``, in log space.

    .. math::
        (1 - p)^\gamma = \exp\big(\gamma \log(1 - p)\big) = \exp\big(\gamma\,\operatorname{log1p}(-p)\big)

    Values and gradients are finite for every ``γ ≥ 0`` (a Python number or an
    array) and every ``p`` in ``[0, 1]``: at ``p = 1`` the factor is 0 (1 for
    ``γ = 0``) and, where its derivative ``-γ(1 - p)^{γ-1}`` is infinite
    (``γ < 1``), the gradient is 0 instead of NaN.  For a Python ``γ ≥ 1``
    the derivative at ``p = 1`` is the exact one (``-1`` for ``γ = 1``, 0
    above).  With logits, ``exp(γ·log_sigmoid(-x))`` is the same factor of
    ``p = sigmoid(x)`` without rounding ``p`` first.

    Parameters
    ----------
    p : array
        Real floating probabilities (of the true class: ``p_t``), in ``[0, 1]``.
    gamma : float or array, default 2.0
        The focusing parameter ``γ ≥ 0`` (an array broadcasts with ``p``).

    Returns
    -------
    array
        ``p``'s shape (broadcast with ``gamma``) and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses import ops
    >>> print(ops.focal_power(np.array([0.0, 0.5, 0.9, 1.0]), gamma=2.0))
    [1.   0.25 0.01 0.  ]

    References
    ----------
    Lin et al., *Focal Loss for Dense Object Detection*, ICCV 2017.
    """
    xp, p, gamma = namespace(p=p, gamma=gamma, numbers=("gamma",))
    p, dtype = floating_input(xp, p, "p")
    if isinstance(gamma, (int, float)):
        if isinstance(gamma, bool) or not gamma >= 0:
            raise ValueError(f"gamma must be a number >= 0 or an array, got {gamma!r}")
        if gamma == 0:
            return cast(0.0 * p + 1.0, dtype, xp=xp)  # 1, with a (zero) gradient
        if gamma == 1:  # the exact derivative, -1, also at p = 1
            return cast(1.0 - p, dtype, xp=xp)
        gamma = float(gamma)
    else:
        gamma, _ = floating_input(xp, gamma, "gamma")
        broadcast_shapes(p=tuple(p.shape), gamma=tuple(gamma.shape))
    # the double where: log1p(-p) sees 0 at p >= 1, where log(1 - p) is -inf; the losses'
    # primitive then gives exp(γ·log q), 0 at q = 0 (1 where γ = 0: 0**0)
    below = p < 1.0
    log_q = xp.where(below, xp.log1p(-xp.where(below, p, 0.0)), -xp.inf)
    return cast(_ops.focal_power(log_q, gamma, xp=xp), dtype, xp=xp)
