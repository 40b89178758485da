r"""Regression losses: squared, L2, absolute, Huber, log-cosh, Poisson and Gaussian NLL,
Keras' percentage and logarithmic errors.

Every function returns the element-wise loss (no reduction), in the floating
dtype of ``predictions`` (or ``mean``/``log_input_or_rate``), as an array of the
input's library on the input's device.  16-bit inputs are computed in float32
and cast back.  ``squared_error``, ``l2_loss``, ``huber_loss`` and ``log_cosh``
are drop-in for ``optax.losses``; ``absolute_error``, ``poisson_nll`` and
``gaussian_nll`` are the element-wise cores of ``torch.nn.functional``'s
``l1_loss``, ``poisson_nll_loss`` and ``gaussian_nll_loss``;
``absolute_percentage_error`` and ``squared_logarithmic_error`` the element-wise
terms of Keras' MAPE and MSLE.  Barron's robust losses are in :mod:`xlosses.robust`.
"""

from __future__ import annotations

import math
from typing import Any

from ._checks import broadcast_shapes, check_floating
from ._checks import floating_difference as _errors
from ._checks import floating_input as _floating
from ._checks import floating_operands as _operands
from ._dispatch import entry, read
from ._namespace import cast, namespace, value_checks_possible
from ._ops import (
    abs_value,
    clamp,
    exp_minus_product,
    huber,
    squared_difference,
    straight_through_clamp,
    where_rare,
)
from ._ops import log_cosh as ops_log_cosh

__all__ = [
    "absolute_error",
    "absolute_percentage_error",
    "gaussian_nll",
    "huber_loss",
    "l2_loss",
    "log_cosh",
    "poisson_nll",
    "squared_error",
    "squared_logarithmic_error",
]

Array = Any

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def squared_error(predictions: Array, targets: Array | None = None) -> Array:
    r"""Element-wise squared error.

    .. math::
        \ell = (\hat y - y)^2

    Drop-in for ``optax.losses.squared_error``; the mean squared error is
    ``squared_error(p, t).mean()``.

    Parameters
    ----------
    predictions : array
        Predictions, real floating dtype.
    targets : array, optional
        Targets of the same shape as ``predictions`` (as optax, shapes must be
        equal: no broadcasting); zeros when omitted.

    Returns
    -------
    array, shape of ``predictions``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.squared_error(np.array([1.0, 2.5]), np.array([0.0, 3.0])), 4))
    [1.   0.25]

    References
    ----------
    Bishop, *Pattern Recognition and Machine Learning*, §1.1, 2006.
    """
    xp, predictions, targets = namespace(predictions=predictions, targets=targets)
    x, t, dtype = _operands(xp, predictions, targets, same_shape=True)
    return cast(squared_difference(x, t, xp=xp), dtype, xp=xp)


def l2_loss(predictions: Array, targets: Array | None = None) -> Array:
    r"""Element-wise L2 loss, half the squared error.

    .. math::
        \ell = \tfrac12 (\hat y - y)^2

    Drop-in for ``optax.losses.l2_loss`` (the ½ as in Bishop).

    Parameters
    ----------
    predictions : array
        Predictions, real floating dtype.
    targets : array, optional
        Targets of the same shape as ``predictions``; zeros when omitted.

    Returns
    -------
    array, shape of ``predictions``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.l2_loss(np.array([1.0, 2.5]), np.array([0.0, 3.0])), 4))
    [0.5   0.125]

    References
    ----------
    Bishop, *Pattern Recognition and Machine Learning*, §1.1, 2006.
    """
    xp, predictions, targets = namespace(predictions=predictions, targets=targets)
    x, t, dtype = _operands(xp, predictions, targets, same_shape=True)
    return cast(0.5 * squared_difference(x, t, xp=xp), dtype, xp=xp)


def absolute_error(predictions: Array, targets: Array | None = None) -> Array:
    r"""Element-wise absolute error (the core of ``torch.nn.functional.l1_loss``).

    .. math::
        \ell = |\hat y - y|

    computed as ``e·sign(e)``: NaN stays NaN and the derivative at ``e = 0`` is
    0 on every backend (torch's convention for ``l1_loss``).

    Parameters
    ----------
    predictions : array
        Predictions, real floating dtype.
    targets : array, optional
        Targets broadcastable with ``predictions``; zeros when omitted.

    Returns
    -------
    array, the broadcast shape of ``predictions`` and ``targets``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.absolute_error(np.array([1.0, 2.5]), np.array([0.0, 3.0])), 4))
    [1.  0.5]
    """
    xp, predictions, targets = namespace(predictions=predictions, targets=targets)
    e, dtype = _errors(xp, predictions, targets)
    return cast(abs_value(e, xp=xp), dtype, xp=xp)


@entry
def huber_loss(
    predictions: Array, targets: Array | None = None, *, delta: float | Array = 1.0
) -> Array:
    r"""Element-wise Huber loss: quadratic near zero, linear away from it.

    .. math::
        \ell = \begin{cases} \tfrac12 e^2 & |e| \le \delta \\
                             \delta\,(|e| - \tfrac12\delta) & |e| > \delta \end{cases},
        \qquad e = \hat y - y

    Its gradient is ``e`` clipped to ``[-δ, δ]`` (0 at ``e = 0``).  Drop-in for
    ``optax.losses.huber_loss``.  Computed branch-free as ``½q² + δ(|e| - q)``
    with ``q = min(|e|, δ)``: the square is only ever taken of at most ``δ``,
    so a huge error cannot overflow it and poison the gradient.

    Parameters
    ----------
    predictions : array
        Predictions, real floating dtype.
    targets : array, optional
        Targets broadcastable with ``predictions``; zeros when omitted.
    delta : float or array, default 1.0
        Where the loss turns linear (positive).

    Returns
    -------
    array, the broadcast shape of ``predictions`` and ``targets``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.huber_loss(np.array([0.5, 3.0]), delta=1.0), 4))
    [0.125 2.5  ]

    References
    ----------
    Huber, *Robust Estimation of a Location Parameter*, Ann. Math. Statist. 35(1), 1964.
    """
    xp, predictions, targets, delta = namespace(
        predictions=predictions, targets=targets, delta=delta, numbers=("delta",)
    )
    x, t, dtype = _operands(xp, predictions, targets)
    if not isinstance(delta, (int, float)):
        delta = cast(delta, x.dtype, xp=xp)
    return cast(huber(x, t, delta, xp=xp), dtype, xp=xp)


def log_cosh(predictions: Array, targets: Array | None = None) -> Array:
    r"""Element-wise log-cosh loss, a twice-differentiable Huber.

    .. math::
        \ell = \log\cosh e = |e| + \log(1 + e^{-2|e|}) - \log 2

    The form above is used for ``|e| ≥ 0.5``: it never overflows, so values and
    gradients (``tanh e``) stay finite for any finite error.  Below 0.5 it
    would cancel, and the Taylor series ``e²/2 - e⁴/12 + e⁶/45 - …`` (7 terms
    in float32, 16 in float64) keeps full relative precision down to tiny
    errors: within about an ulp everywhere, where optax's
    ``logaddexp(e, -e) - log 2`` loses all relative precision as ``e → 0``.
    On NumPy, CuPy and eager torch the branch-free ``log1p(2 sinh²(c/2)) +
    max(|e| - 20, 0)``, ``c = min(|e|, 20)`` (the same function, as precise)
    replaces the ``where``, which costs several arithmetic passes there
    (``xlosses._ops.log_cosh``).  Drop-in for ``optax.losses.log_cosh``.

    Parameters
    ----------
    predictions : array
        Predictions, real floating dtype.
    targets : array, optional
        Targets broadcastable with ``predictions``; zeros when omitted.

    Returns
    -------
    array, the broadcast shape of ``predictions`` and ``targets``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.log_cosh(np.array([0.0, 1.0, 30.0])), 4))
    [ 0.      0.4338 29.3069]

    References
    ----------
    Chen, Tian, Xu and Lee, *Log Hyperbolic Cosine Loss Improves Variational
    Auto-Encoder*, 2019.
    """
    xp, predictions, targets = namespace(predictions=predictions, targets=targets)
    e, dtype = _errors(xp, predictions, targets)
    return cast(ops_log_cosh(e, xp=xp), dtype, xp=xp)


@entry
def poisson_nll(
    log_input_or_rate: Array,
    targets: Array,
    *,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
) -> Array:
    r"""Element-wise Poisson negative log-likelihood (``torch.nn.functional.poisson_nll_loss``).

    .. math::
        \ell = \begin{cases} e^{x} - y\,x & \text{log\_input} \\
                             x - y \log(x + \varepsilon) & \text{otherwise} \end{cases}
        \; + \; [\text{full}]\,[y > 1]\,\bigl(y \log y - y + \tfrac12 \log(2\pi y)\bigr)

    The last term is Stirling's approximation of ``log y!``, added (as torch
    does) only for ``y > 1``.  A zero target contributes ``0`` for the ``y·x``
    term even at ``x = -inf`` (torch: NaN), and the Stirling term's gradient
    is finite for every target (torch: NaN at ``y = 0``).  The derivative in a
    zero target is ``-x``, as torch's without ``full``.

    Parameters
    ----------
    log_input_or_rate : array
        The log-rate (``log_input=True``) or the rate of the Poisson distribution.
    targets : array, broadcastable
        Observed counts.
    log_input : bool, default True
    full : bool, default False
        Add the Stirling term.
    eps : float, default 1e-8
        Added to the rate inside the log when ``log_input=False``.

    Returns
    -------
    array, the broadcast shape of the inputs

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.poisson_nll(np.array([0.0, 1.0]), np.array([1.0, 3.0]), full=True), 4))
    [1.     1.4824]

    References
    ----------
    PyTorch documentation, ``torch.nn.PoissonNLLLoss``.
    """
    xp, log_input_or_rate, targets = namespace(log_input_or_rate=log_input_or_rate, targets=targets)
    x, dtype = _floating(xp, log_input_or_rate, "log_input_or_rate")
    broadcast_shapes(log_input_or_rate=x.shape, targets=targets.shape)
    y = cast(targets, x.dtype, xp=xp)
    if log_input:
        # 0·x = 0 also at x = ±inf; the derivative in y stays x (torch's) at y = 0
        loss = exp_minus_product(x, y, xp=xp)
    else:
        loss = x - y * xp.log(x + eps)
    if full:
        big = y > 1.0
        ys = xp.where(big, y, 2.0)
        stirling = ys * xp.log(ys) - ys + 0.5 * xp.log((2.0 * math.pi) * ys)
        loss = loss + xp.where(big, stirling, 0.0)
    return cast(loss, dtype, xp=xp)


def _gaussian_var(xp: Any, var: Array, mean: Array) -> Array:
    """``var`` shaped to broadcast with ``mean`` under torch's rules; ``ValueError`` if not."""
    vs, ms = tuple(var.shape), tuple(mean.shape)
    if vs == ms or not vs:
        return var  # one variance per entry, or a 0-D one for all
    if vs == ms[:-1]:
        return xp.expand_dims(var, axis=-1)  # one variance per row (homoscedastic)
    if len(vs) == len(ms) and sum(v for m, v in zip(ms, vs, strict=True) if m != v) == 1:
        return var  # exactly one mismatched dimension, of size 1
    raise ValueError(
        f"var shape {vs} is of incorrect size for mean shape {ms}: it must equal it, "
        "equal it without the last dimension, or differ from it in one dimension of size 1"
    )


def gaussian_nll(
    mean: Array, targets: Array, var: Array | float, *, full: bool = False, eps: float = 1e-6
) -> Array:
    r"""Element-wise Gaussian negative log-likelihood (``torch.nn.functional.gaussian_nll_loss``).

    .. math::
        \ell = \tfrac12\Bigl(\log v + \frac{(\mu - y)^2}{v}\Bigr)
               + [\text{full}]\,\tfrac12 \log 2\pi,
        \qquad v = \max(\sigma^2, \varepsilon)

    As in torch, the clamp of the variance at ``eps`` is invisible to
    automatic differentiation: the gradient with respect to ``var`` is that of
    the formula at ``v`` (straight-through), so a variance below ``eps`` still
    receives a gradient.  ``var`` may have the shape of ``mean``, that shape
    without its last dimension (one variance per row), or differ from it in
    one dimension of size 1; a Python float or a 0-D array is one variance
    for all.

    Parameters
    ----------
    mean : array
        Expectations of the Gaussian.
    targets : array, broadcastable with ``mean``
        Samples.
    var : array or float
        Non-negative variances.  Negative entries raise ``ValueError`` on
        eager CPU backends; where no check can run they give NaN.
    full : bool, default False
        Add the constant ``½ log 2π``.
    eps : float, default 1e-6
        Lower clamp of the variance.

    Returns
    -------
    array, the broadcast shape of ``mean``, ``targets`` and ``var``
        No reduction over any axis (torch's ``reduction`` is applied by
        ``xlosses.functional``).

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.gaussian_nll(np.array([0.0, 1.0]), np.array([1.0, 1.0]), np.array([1.0, 0.5])), 4))
    [ 0.5    -0.3466]

    References
    ----------
    Nix and Weigend, *Estimating the Mean and Variance of the Target Probability
    Distribution*, ICNN 1994.
    """
    xp, mean, targets, var = namespace(mean=mean, targets=targets, var=var, numbers=("var",))
    mu, dtype = _floating(xp, mean, "mean")
    broadcast_shapes(mean=mean.shape, targets=targets.shape)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError(f"var must be non-negative, got {var}")
        v: Any = max(float(var), eps)
        log_v: Any = math.log(v)
        bad = None
    else:
        check_floating(var, "var", xp=xp)
        var = cast(_gaussian_var(xp, var, mean), mu.dtype, xp=xp)
        negative = read(xp, xp.any(var < 0)) if value_checks_possible(xp, var) else None
        checked = negative is not None  # None: not readable (a trace, a GPU, Dask)
        if negative:
            raise ValueError("var must be non-negative; it has negative entries")
        bad = None if checked else var < 0  # NaN where no check could run
        v = straight_through_clamp(var, eps, xp=xp)
        log_v = xp.log(v)
    d = mu - cast(targets, mu.dtype, xp=xp)
    loss = 0.5 * (log_v + d * d / v)
    if full:
        loss = loss + _HALF_LOG_2PI
    if bad is not None:
        loss = where_rare(bad, xp.nan, loss, xp=xp)
    return cast(loss, dtype, xp=xp)


# -- Keras' percentage and logarithmic errors -------------------------------------------------


def absolute_percentage_error(
    predictions: Array, targets: Array, *, epsilon: float = 1e-7
) -> Array:
    r"""Element-wise absolute percentage error (the terms of Keras' MAPE).

    .. math::
        \ell = 100\,\frac{|y - \hat y|}{\max(|y|, \varepsilon)}

    Keras' ``mean_absolute_percentage_error`` is the mean of this over the
    last axis: ``absolute_percentage_error(p, t).mean(-1)``; xlosses returns
    the element-wise terms, as optax's regression losses do, so any reduction
    (and ``where``) stays the caller's.  The guard ``max(|y|, ε)`` is Keras'
    (``keras.backend.epsilon()`` = 1e-7).  Derivative 0 at ``ŷ = y``.

    Parameters
    ----------
    predictions : array
        Predictions, real floating dtype.
    targets : array, broadcastable with ``predictions``
        Targets (the denominators).
    epsilon : float, default 1e-7
        Lower bound of ``|y|`` in the denominator.

    Returns
    -------
    array, the broadcast shape

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.absolute_percentage_error(np.array([1.5, 1.0]), np.array([1.0, -4.0])), 4))
    [ 50. 125.]

    References
    ----------
    Keras documentation, ``keras.losses.mean_absolute_percentage_error``.
    """
    xp, predictions, targets = namespace(predictions=predictions, targets=targets)
    x, t, dtype = _operands(xp, predictions, targets)
    denominator = clamp(abs_value(t, xp=xp), lo=epsilon, xp=xp)
    return cast(100.0 * abs_value(t - x, xp=xp) / denominator, dtype, xp=xp)


def squared_logarithmic_error(
    predictions: Array, targets: Array, *, epsilon: float = 1e-7
) -> Array:
    r"""Element-wise squared logarithmic error (the terms of Keras' MSLE).

    .. math::
        \ell = \bigl(\log(1 + \max(\hat y, \varepsilon)) - \log(1 + \max(y, \varepsilon))\bigr)^2

    Keras' ``mean_squared_logarithmic_error`` is the mean of this over the
    last axis: ``squared_logarithmic_error(p, t).mean(-1)``.  Inputs below
    ``ε`` (zero and negative values) are replaced by ``ε`` as in Keras; the
    logarithms are taken with ``log1p`` (Keras: ``log(v + 1)``, the same to
    rounding).  The derivative is 0 below ``ε`` and 1 at exactly ``ε``
    (Keras' ``maximum``: ½ there).

    Parameters
    ----------
    predictions : array
        Predictions, real floating dtype.
    targets : array, broadcastable with ``predictions``
    epsilon : float, default 1e-7
        Lower bound of both arguments.

    Returns
    -------
    array, the broadcast shape

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> p, t = np.array([np.e - 1.0, -3.0]), np.array([0.0, np.e**2 - 1.0])
    >>> print(np.round(xlosses.squared_logarithmic_error(p, t), 4))
    [1. 4.]

    References
    ----------
    Keras documentation, ``keras.losses.mean_squared_logarithmic_error``.
    """
    xp, predictions, targets = namespace(predictions=predictions, targets=targets)
    x, t, dtype = _operands(xp, predictions, targets)
    d = xp.log1p(clamp(x, lo=epsilon, xp=xp)) - xp.log1p(clamp(t, lo=epsilon, xp=xp))
    return cast(d * d, dtype, xp=xp)
