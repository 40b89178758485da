"""``torch.nn.functional``'s regression losses: L1, MSE, Huber, smooth L1, Poisson and
Gaussian NLL."""

from __future__ import annotations

from typing import Any

from .._checks import (
    check_floating,
    check_option,
)
from .._dispatch import accelerated, entry
from .._namespace import (
    cast,
    compute_dtype,
    namespace,
)
from .._reduce import REDUCTIONS
from ..regression import absolute_error, gaussian_nll, poisson_nll, squared_error
from ..regression import huber_loss as _huber
from ._common import Array, _finish, _regression_input

# -- regression ---------------------------------------------------------------------------


def _element_weight(weight: Array | None, input: Array, xp: Any) -> Array | None:
    """torch's per-element ``weight``, of ``input``'s shape, in the compute dtype."""
    if weight is None:
        return None
    check_floating(weight, "weight", xp=xp)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(
            f"weight must have input's shape {tuple(input.shape)}, got shape {tuple(weight.shape)}"
        )
    return cast(weight, compute_dtype(xp, input.dtype), xp=xp)


def _finish_weighted(
    loss: Array, weight: Array | None, reduction: str, dtype: Any, xp: Any, *, by_weight: bool
) -> Array:
    """``weight · loss`` reduced; with ``by_weight``, ``'mean'`` is ``sum(w·loss) / sum(w)``."""
    if weight is None:
        return _finish(loss, reduction, dtype, xp)
    normalizer = xp.sum(weight) if by_weight and reduction == "mean" else None
    return _finish(weight * loss, reduction, dtype, xp, normalizer=normalizer)


@entry
def l1_loss(
    input: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
) -> Array:
    r"""Mean absolute error, optionally weighted per element.

    .. math::
        \ell = w\, |x - y|, \qquad
        \text{'mean'}: \frac{\sum w\, |x - y|}{\sum w}

    (:math:`w = 1` without ``weight``, where ``'mean'`` is the plain mean).
    Drop-in for ``torch.nn.functional.l1_loss``; maps onto
    :func:`xlosses.absolute_error`, whose derivative at ``x = y`` is 0 as
    torch's.

    Parameters
    ----------
    input : array
        Predictions.
    target : array, broadcastable with ``input``
        Targets.  As in torch, shapes that differ but broadcast are accepted
        with a ``UserWarning`` (``[N, 1]`` against ``[N]`` gives ``[N, N]``).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    weight : array, ``input``'s shape, optional
        Weight of each element; ``'mean'`` then divides by the sum of the
        weights, as torch.

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the element-wise loss of the
        broadcast shape, in ``input``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x, y = np.array([1.0, 2.5, -1.0]), np.array([0.0, 3.0, 1.0])
    >>> print(np.round(F.l1_loss(x, y), 4))
    1.1667
    >>> print(np.round(F.l1_loss(x, y, weight=np.array([1.0, 2.0, 1.0])), 4))  # (1 + 2·0.5 + 2) / 4
    1.0

    References
    ----------
    PyTorch documentation, ``torch.nn.L1Loss``.
    """
    xp, input, target, weight = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, x = _regression_input(input, target, xp)
    w = _element_weight(weight, input, xp)
    return _finish_weighted(absolute_error(x, target), w, reduction, dtype, xp, by_weight=True)


@entry
def mse_loss(
    input: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
) -> Array:
    r"""Mean squared error, optionally weighted per element.

    .. math::
        \ell = w\, (x - y)^2, \qquad
        \text{'mean'}: \frac{\sum w\, (x - y)^2}{\sum w}

    (:math:`w = 1` without ``weight``).  The plain squared error, without the
    ½ of :func:`xlosses.l2_loss`: drop-in for
    ``torch.nn.functional.mse_loss``; maps onto :func:`xlosses.squared_error`.

    Parameters
    ----------
    input, target, reduction, weight
        As in :func:`l1_loss`.

    Returns
    -------
    array
        As in :func:`l1_loss`.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x, y = np.array([1.0, 2.5, -1.0]), np.array([0.0, 3.0, 1.0])
    >>> print(np.round(F.mse_loss(x, y, reduction="none"), 4))
    [1.   0.25 4.  ]
    >>> print(np.round(F.mse_loss(x, y), 4))
    1.75

    References
    ----------
    PyTorch documentation, ``torch.nn.MSELoss``.
    """
    xp, input, target, weight = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, x = _regression_input(input, target, xp)
    w = _element_weight(weight, input, xp)
    if tuple(target.shape) != tuple(input.shape):
        x, target = xp.broadcast_arrays(x, target)  # squared_error takes equal shapes (optax)
    return _finish_weighted(squared_error(x, target), w, reduction, dtype, xp, by_weight=True)


def _positive(name: str, value: float, *, zero: bool = False) -> None:
    """``ValueError`` unless ``value > 0`` (``>= 0`` with ``zero``)."""
    if not (value >= 0 if zero else value > 0):
        kind = "non-negative" if zero else "positive"
        raise ValueError(f"{name} must be {kind}, got {value!r}")


@entry
def huber_loss(
    input: Array,
    target: Array,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Array | None = None,
) -> Array:
    r"""Huber loss: quadratic for errors up to ``delta``, linear beyond.

    .. math::
        \ell = w \begin{cases} \tfrac12 e^2 & |e| \le \delta \\
                               \delta\,(|e| - \tfrac12\delta) & |e| > \delta \end{cases},
        \qquad e = x - y

    ``'mean'`` is the plain mean of :math:`\ell` *also with* ``weight`` (torch
    2.13's ``huber_loss`` does not divide by the sum of the weights, unlike
    its ``l1_loss`` and ``mse_loss``).  Drop-in for
    ``torch.nn.functional.huber_loss``; maps onto :func:`xlosses.huber_loss`.

    Parameters
    ----------
    input, target, reduction
        As in :func:`l1_loss`.
    delta : float, default 1.0
        Where the loss turns linear; positive (``ValueError`` otherwise, as
        torch).
    weight : array, ``input``'s shape, optional
        Weight of each element.

    Returns
    -------
    array
        As in :func:`l1_loss`.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x, y = np.array([0.5, 3.0]), np.array([0.0, 0.0])
    >>> print(np.round(F.huber_loss(x, y, reduction="none"), 4))
    [0.125 2.5  ]
    >>> print(np.round(F.huber_loss(x, y, delta=2.0, weight=np.array([2.0, 1.0])), 4))  # (0.25 + 4) / 2
    2.125

    References
    ----------
    PyTorch documentation, ``torch.nn.HuberLoss``.
    Huber, *Robust Estimation of a Location Parameter*, Ann. Math. Statist. 35(1), 1964.
    """
    xp, input, target, weight = namespace(input=input, target=target, weight=weight)
    check_option("reduction", reduction, REDUCTIONS)
    _positive("delta", delta)
    dtype, x = _regression_input(input, target, xp)
    w = _element_weight(weight, input, xp)
    loss = _huber(x, target, delta=delta)
    return _finish_weighted(loss, w, reduction, dtype, xp, by_weight=False)


@entry
def smooth_l1_loss(
    input: Array,
    target: Array,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Array:
    r"""Smooth L1 loss: the Huber loss scaled to slope 1, or L1 at ``beta = 0``.

    .. math::
        \ell = \begin{cases} \tfrac12 e^2 / \beta & |e| < \beta \\
                             |e| - \tfrac12\beta & |e| \ge \beta \end{cases}
             = \frac{\operatorname{huber}_\beta(e)}{\beta},
        \qquad e = x - y

    and :math:`\ell = |e|` for :math:`\beta = 0`.  Drop-in for
    ``torch.nn.functional.smooth_l1_loss``; maps onto
    :func:`xlosses.huber_loss` (``delta=beta``) and, for ``beta = 0``,
    :func:`xlosses.absolute_error`.

    Parameters
    ----------
    input, target, reduction
        As in :func:`l1_loss`.
    beta : float, default 1.0
        Where the loss turns linear; non-negative (``ValueError`` otherwise,
        as torch).

    Returns
    -------
    array
        As in :func:`l1_loss`.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> x, y = np.array([0.5, 3.0]), np.array([0.0, 0.0])
    >>> print(np.round(F.smooth_l1_loss(x, y, reduction="none", beta=2.0), 4))  # 0.25/4, 3 - 1
    [0.0625 2.    ]
    >>> print(np.round(F.smooth_l1_loss(x, y, reduction="none", beta=0.0), 4))
    [0.5 3. ]

    References
    ----------
    PyTorch documentation, ``torch.nn.SmoothL1Loss``.
    Girshick, *Fast R-CNN*, ICCV 2015.
    """
    xp, input, target = namespace(input=input, target=target)
    check_option("reduction", reduction, REDUCTIONS)
    _positive("beta", beta, zero=True)
    dtype, x = _regression_input(input, target, xp)
    return cast(smooth_l1_terms(x, target, beta, reduction, xp=xp), dtype, xp=xp)


@accelerated
def smooth_l1_terms(x: Array, target: Array, beta: float, reduction: str, *, xp: Any) -> Array:
    """:func:`smooth_l1_loss` of ``x`` in its compute dtype (options checked), reduced in it."""
    loss = absolute_error(x, target) if beta == 0 else _huber(x, target, delta=beta) / beta
    return _finish(loss, reduction, x.dtype, xp)


@entry
def poisson_nll_loss(
    input: Array,
    target: Array,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> Array:
    r"""Poisson negative log-likelihood of counts given a (log-)rate.

    .. math::
        \ell = \begin{cases} e^{x} - y\,x & \text{log\_input} \\
                             x - y \log(x + \varepsilon) & \text{otherwise} \end{cases}
        \; + \; [\text{full}]\,[y > 1]\,\bigl(y \log y - y + \tfrac12 \log(2\pi y)\bigr)

    The last term is Stirling's approximation of :math:`\log y!`, added only
    for :math:`y > 1` as in torch.  Drop-in for
    ``torch.nn.functional.poisson_nll_loss``; maps onto
    :func:`xlosses.poisson_nll` (finite where torch has NaN: see there).

    Parameters
    ----------
    input : array
        The log-rate (``log_input=True``) or the rate.
    target : array, broadcastable with ``input``
        Observed counts.
    log_input : bool, default True
    full : bool, default False
        Add the Stirling term.
    eps : float, default 1e-8
        Added to the rate inside the logarithm when ``log_input=False``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each count.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> log_rate, counts = np.array([0.0, 1.0]), np.array([1.0, 3.0])
    >>> print(np.round(F.poisson_nll_loss(log_rate, counts, reduction="none"), 4))  # e^x - y x
    [ 1.     -0.2817]
    >>> print(np.round(F.poisson_nll_loss(log_rate, counts, full=True, reduction="none"), 4))
    [1.     1.4824]

    References
    ----------
    PyTorch documentation, ``torch.nn.PoissonNLLLoss``.
    """
    xp, input, target = namespace(input=input, target=target)
    check_option("reduction", reduction, REDUCTIONS)
    dtype, x = _regression_input(input, target, xp, warn=False)
    loss = poisson_nll(x, target, log_input=log_input, full=full, eps=eps)
    return _finish(loss, reduction, dtype, xp)


def gaussian_nll_loss(
    input: Array,
    target: Array,
    var: Array | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Array:
    r"""Gaussian negative log-likelihood of targets given means and variances.

    .. math::
        \ell = \tfrac12\Bigl(\log v + \frac{(x - y)^2}{v}\Bigr)
               + [\text{full}]\,\tfrac12 \log 2\pi,
        \qquad v = \max(\sigma^2, \varepsilon)

    As in torch, the clamp at ``eps`` is invisible to automatic
    differentiation (the gradient in ``var`` is that of the formula at
    :math:`v`), and ``var`` may have ``input``'s shape (one variance per
    entry), that shape without its last dimension or with a last dimension
    of 1 (one per row), differ from it in one other dimension of size 1, or
    be a Python float (one for all).  Drop-in for
    ``torch.nn.functional.gaussian_nll_loss``; maps onto
    :func:`xlosses.gaussian_nll`.

    Parameters
    ----------
    input : array
        Means of the Gaussian.
    target : array, broadcastable with ``input``
        Samples.
    var : array or float
        Non-negative variances.  Negative entries raise ``ValueError`` on
        eager CPU backends (as torch) and give NaN in their own entries where
        no check can run (under ``jax.jit``, ``torch.compile``, on GPUs).
    full : bool, default False
        Add the constant :math:`\tfrac12 \log 2\pi`.
    eps : float, default 1e-6
        Lower clamp of the variance.
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    array
        A scalar, or with ``reduction='none'`` the loss of each sample.

    Examples
    --------
    >>> import numpy as np
    >>> import xlosses.functional as F
    >>> mean, y = np.array([[0.0, 1.0], [2.0, 2.0]]), np.array([[1.0, 1.0], [2.0, 0.0]])
    >>> print(np.round(F.gaussian_nll_loss(mean, y, np.array([1.0, 2.0]), reduction="none"), 4))
    [[0.5    0.    ]
     [0.3466 1.3466]]
    >>> print(np.round(F.gaussian_nll_loss(mean, y, 1.0, reduction="sum"), 4))  # ½ (1 + 0 + 0 + 4)
    2.5

    References
    ----------
    PyTorch documentation, ``torch.nn.GaussianNLLLoss``.
    Nix and Weigend, *Estimating the Mean and Variance of the Target Probability
    Distribution*, ICNN 1994.
    """
    xp, input, target, var = namespace(input=input, target=target, var=var, numbers=("var",))
    check_option("reduction", reduction, REDUCTIONS)
    dtype, x = _regression_input(input, target, xp, warn=False)
    return _finish(gaussian_nll(x, target, var, full=full, eps=eps), reduction, dtype, xp)
