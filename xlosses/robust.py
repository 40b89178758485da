r"""Robust losses: Barron's general and adaptive robust loss and its named members.

``robust_loss(x, alpha, scale)`` is the loss of Barron (CVPR 2019), whose shape
parameter ``α`` spans the classical robust penalties; ``charbonnier_loss``
(α = 1), ``cauchy_loss`` (α = 0), ``geman_mcclure_loss`` (α = -2) and
``welsch_loss`` (α → -∞) are its members under kornia's names and conventions
(residual ``predictions - targets``, scale 1), with a keyword-only ``scale``.
Every function is element-wise and written once, through
:func:`xlosses._ops.robust_rho`.
"""

from __future__ import annotations

import math
from typing import Any

from ._checks import broadcast_shapes, check_floating
from ._checks import floating_difference as _errors
from ._checks import floating_input as _floating
from ._dispatch import read
from ._namespace import cast, namespace, value_checks_possible
from ._ops import robust_rho, where_rare

__all__ = [
    "cauchy_loss",
    "charbonnier_loss",
    "geman_mcclure_loss",
    "robust_loss",
    "welsch_loss",
]

Array = Any


def _positive_scale(xp: Any, scale: Any, x: Array) -> tuple[Any, Array | None]:
    """``scale`` checked (a positive number, or an array: ``ValueError`` for non-positive
    entries where values are readable) in ``x``'s compute dtype, and the mask of entries to
    turn NaN where no check could run (or None)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        check_floating(scale, "scale", xp=xp)
        scale = cast(scale, x.dtype, xp=xp)
        bad = read(xp, xp.any(~(scale > 0))) if value_checks_possible(xp, scale) else None
        if bad:
            raise ValueError("scale must be positive; it has entries <= 0 (or NaN)")
        return scale, (None if bad is not None else ~(scale > 0))
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return float(scale), None


def _robust(xp: Any, e: Array, alpha: Any, scale: Any, dtype: Any) -> Array:
    scale, bad = _positive_scale(xp, scale, e)
    loss = robust_rho(e, alpha, scale, xp=xp)
    if bad is not None:
        loss = where_rare(bad, xp.nan, loss, xp=xp)
    return cast(loss, dtype, xp=xp)


def robust_loss(x: Array, alpha: float | Array, scale: float | Array) -> Array:
    r"""Barron's general and adaptive robust loss, element-wise.

    .. math::
        \rho(x, \alpha, c) = \frac{|\alpha - 2|}{\alpha}
            \left[\left(\frac{(x/c)^2}{|\alpha - 2|} + 1\right)^{\alpha/2} - 1\right]

    with its limits at the special shapes: ``½(x/c)²`` (α = 2, L2),
    ``log(½(x/c)² + 1)`` (α = 0, Cauchy), ``1 - exp(-½(x/c)²)`` (α → -∞,
    Welsch) and ``exp(½(x/c)²) - 1`` (α → +∞).  α = 1 is Charbonnier
    (pseudo-Huber), α = -2 Geman-McClure; the members of the family have
    their own functions (:func:`charbonnier_loss`, :func:`cauchy_loss`,
    :func:`geman_mcclure_loss`, :func:`welsch_loss`).

    Computed as ``(b/a)·expm1((a/2)·log1p((x/c)²/b))`` with ``a = α``,
    ``b = |α - 2|`` (full relative precision for small residuals, where the
    power form cancels), the special cases with ``log1p``/``expm1``, and, as in
    the paper's reference code, ``|α|`` and ``|α - 2|`` clamped at the machine
    epsilon inside the general formula (no division by a vanishing ``α - 2``).
    ``alpha`` and ``scale`` may be arrays (broadcast with ``x``), optimised
    together with the model ("adaptive"): gradients with respect to ``x``,
    ``alpha`` and ``scale`` are exact and finite, and NaN-free at the special
    values of an ``alpha`` array.  This is the loss ``ρ`` itself: the
    negative log-likelihood of the paper's adaptive form adds
    ``log c + log Z(α)``, whose partition function ``Z`` is not included.

    Parameters
    ----------
    x : array
        Residuals, real floating dtype.
    alpha : float or array
        Shape parameter, any real number or ``±inf``.
    scale : float or array
        Scale ``c > 0``.  Non-positive entries of an array raise
        ``ValueError`` on eager CPU backends and give NaN elsewhere.

    Returns
    -------
    array, the broadcast shape of ``x``, ``alpha`` and ``scale``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> x = np.array([0.0, 1.0, 2.0])
    >>> print(np.round(xlosses.robust_loss(x, 2.0, 1.0), 4))
    [0.  0.5 2. ]
    >>> print(np.round(xlosses.robust_loss(x, 1.0, 1.0), 4))  # sqrt(x² + 1) - 1
    [0.     0.4142 1.2361]

    References
    ----------
    Barron, *A General and Adaptive Robust Loss Function*, CVPR 2019.
    """
    # NaN is the number unequal to itself (not math.isnan: torch.compile(dynamic=True)
    # passes a symbolic float)
    if isinstance(alpha, float) and alpha != alpha:
        raise ValueError("alpha must be a real number or ±inf, got nan")
    xp, x, alpha, scale = namespace(x=x, alpha=alpha, scale=scale, numbers=("alpha", "scale"))
    e, dtype = _floating(xp, x, "x")
    shapes = {"x": x.shape}
    if not isinstance(alpha, (int, float)):
        check_floating(alpha, "alpha", xp=xp)
        shapes["alpha"] = alpha.shape
        alpha = cast(alpha, e.dtype, xp=xp)
    if not isinstance(scale, (int, float)):
        shapes["scale"] = scale.shape
    broadcast_shapes(**shapes)
    return _robust(xp, e, alpha, scale, dtype)


def _member(alpha: float, predictions: Array, targets: Array | None, scale: Any) -> Array:
    """``robust_loss(predictions - targets, alpha, scale)`` with kornia's argument names."""
    xp, predictions, targets, scale = namespace(
        predictions=predictions, targets=targets, scale=scale, numbers=("scale",)
    )
    e, dtype = _errors(xp, predictions, targets)
    return _robust(xp, e, alpha, scale, dtype)


def charbonnier_loss(
    predictions: Array, targets: Array | None = None, *, scale: float | Array = 1.0
) -> Array:
    r"""Element-wise Charbonnier (pseudo-Huber, L1-L2) loss: Barron's loss at α = 1.

    .. math::
        \ell = \sqrt{(e/c)^2 + 1} - 1, \qquad e = \hat y - y

    computed as ``expm1(½·log1p((e/c)²))``, to full relative precision for
    small and large errors.  kornia's ``charbonnier_loss(img1, img2)`` (``c = 1``,
    ``reduction='none'``).

    Parameters
    ----------
    predictions : array
    targets : array, optional
        Broadcastable with ``predictions``; zeros when omitted.
    scale : float or array, default 1.0
        The scale ``c > 0`` (kornia has none: ``c = 1``).

    Returns
    -------
    array, the broadcast shape

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.charbonnier_loss(np.array([0.0, 3.0]), np.array([0.0, -1.0])), 4))
    [0.     3.1231]

    References
    ----------
    Charbonnier, Blanc-Féraud, Aubert and Barlaud, *Two Deterministic
    Half-Quadratic Regularization Algorithms for Computed Imaging*, ICIP 1994;
    Barron, *A General and Adaptive Robust Loss Function*, CVPR 2019.
    """
    return _member(1.0, predictions, targets, scale)


def cauchy_loss(
    predictions: Array, targets: Array | None = None, *, scale: float | Array = 1.0
) -> Array:
    r"""Element-wise Cauchy (Lorentzian) loss: Barron's loss at α = 0.

    .. math::
        \ell = \log\bigl(\tfrac12 (e/c)^2 + 1\bigr), \qquad e = \hat y - y

    kornia's ``cauchy_loss(img1, img2)`` (``c = 1``, ``reduction='none'``).

    Parameters
    ----------
    predictions : array
    targets : array, optional
        Broadcastable with ``predictions``; zeros when omitted.
    scale : float or array, default 1.0
        The scale ``c > 0``.

    Returns
    -------
    array, the broadcast shape

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.cauchy_loss(np.array([0.0, 2.0])), 4))  # log 3
    [0.     1.0986]

    References
    ----------
    Black and Anandan, *The Robust Estimation of Multiple Motions*, CVIU 63(1), 1996;
    Barron, *A General and Adaptive Robust Loss Function*, CVPR 2019.
    """
    return _member(0.0, predictions, targets, scale)


def geman_mcclure_loss(
    predictions: Array, targets: Array | None = None, *, scale: float | Array = 1.0
) -> Array:
    r"""Element-wise Geman-McClure loss: Barron's loss at α = -2.

    .. math::
        \ell = \frac{2 (e/c)^2}{(e/c)^2 + 4}, \qquad e = \hat y - y

    kornia's ``geman_mcclure_loss(img1, img2)`` (``c = 1``, ``reduction='none'``).

    Parameters
    ----------
    predictions : array
    targets : array, optional
        Broadcastable with ``predictions``; zeros when omitted.
    scale : float or array, default 1.0
        The scale ``c > 0``.

    Returns
    -------
    array, the broadcast shape

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.geman_mcclure_loss(np.array([0.0, 2.0])), 4))
    [0. 1.]

    References
    ----------
    Geman and McClure, *Bayesian Image Analysis: An Application to Single
    Photon Emission Tomography*, 1985; Barron, *A General and Adaptive Robust
    Loss Function*, CVPR 2019.
    """
    return _member(-2.0, predictions, targets, scale)


def welsch_loss(
    predictions: Array, targets: Array | None = None, *, scale: float | Array = 1.0
) -> Array:
    r"""Element-wise Welsch (Leclerc) loss: Barron's loss as α → -∞.

    .. math::
        \ell = 1 - \exp\bigl(-\tfrac12 (e/c)^2\bigr), \qquad e = \hat y - y

    computed as ``-expm1(-½(e/c)²)`` (no cancellation for small errors).
    kornia's ``welsch_loss(img1, img2)`` (``c = 1``, ``reduction='none'``).

    Parameters
    ----------
    predictions : array
    targets : array, optional
        Broadcastable with ``predictions``; zeros when omitted.
    scale : float or array, default 1.0
        The scale ``c > 0``.

    Returns
    -------
    array, the broadcast shape

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> print(np.round(xlosses.welsch_loss(np.array([0.0, 2.0])), 4))  # 1 - e^-2
    [0.     0.8647]

    References
    ----------
    Dennis and Welsch, *Techniques for Nonlinear Least Squares and Robust
    Regression*, 1978; Barron, *A General and Adaptive Robust Loss Function*,
    CVPR 2019.
    """
    return _member(-math.inf, predictions, targets, scale)
