"""``keras.losses``' regression and divergence functions, computed by the xlosses core."""

from __future__ import annotations

from typing import Any

import xlosses as _xl

from .._ops import safe_log
from ._common import _pair

__all__ = [
    "cosine_similarity",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
]


def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``mean_squared_error``: :math:`\operatorname{mean}_{-1}(\hat y - y)^2`.

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Targets (a trailing axis of size 1 is squeezed or added to match ``y_pred``, as
        Keras does; cast to ``y_pred``'s floating dtype).
    y_pred : array, shape ``[..., d]``
        Predictions, real floating dtype.

    Returns
    -------
    array, shape ``[...]``
        One loss per sample (``y_pred``'s shape without its last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import mean_squared_error
    >>> y_true = np.array([[1.0, 2.0], [4.0, 5.0]])
    >>> y_pred = np.array([[1.5, 2.0], [3.0, 6.0]])
    >>> print(np.round(mean_squared_error(y_true, y_pred), 4))
    [0.125 1.   ]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.squared_error(y_pred, y_true), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``mean_absolute_error``: :math:`\operatorname{mean}_{-1}|\hat y - y|`.

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Targets (a trailing axis of size 1 is squeezed or added to match ``y_pred``, as
        Keras does; cast to ``y_pred``'s floating dtype).
    y_pred : array, shape ``[..., d]``
        Predictions, real floating dtype.

    Returns
    -------
    array, shape ``[...]``
        One loss per sample (``y_pred``'s shape without its last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import mean_absolute_error
    >>> y_true = np.array([[1.0, 2.0], [4.0, 5.0]])
    >>> y_pred = np.array([[1.5, 2.0], [3.0, 6.0]])
    >>> print(np.round(mean_absolute_error(y_true, y_pred), 4))
    [0.25 1.  ]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.absolute_error(y_pred, y_true), axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' MAPE: :math:`100\,\operatorname{mean}_{-1}|y - \hat y| / \max(|y|, 10^{-7})`.

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Targets (a trailing axis of size 1 is squeezed or added to match ``y_pred``, as
        Keras does; cast to ``y_pred``'s floating dtype).
    y_pred : array, shape ``[..., d]``
        Predictions, real floating dtype.

    Returns
    -------
    array, shape ``[...]``
        One loss per sample, in percent (``y_pred``'s shape without its last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import mean_absolute_percentage_error
    >>> y_true = np.array([[1.0, 2.0], [4.0, 5.0]])
    >>> y_pred = np.array([[1.5, 2.0], [3.0, 6.0]])
    >>> print(np.round(mean_absolute_percentage_error(y_true, y_pred), 4))
    [25.  22.5]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.absolute_percentage_error(y_pred, y_true), axis=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' MSLE: :math:`\operatorname{mean}_{-1}(\log(1 + \hat y) - \log(1 + y))^2`
    (both at least 1e-7, as Keras).

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Targets (a trailing axis of size 1 is squeezed or added to match ``y_pred``, as
        Keras does; cast to ``y_pred``'s floating dtype).
    y_pred : array, shape ``[..., d]``
        Predictions, real floating dtype.

    Returns
    -------
    array, shape ``[...]``
        One loss per sample (``y_pred``'s shape without its last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import mean_squared_logarithmic_error
    >>> y_true = np.array([[1.0, 2.0], [4.0, 5.0]])
    >>> y_pred = np.array([[1.5, 2.0], [3.0, 6.0]])
    >>> print(np.round(mean_squared_logarithmic_error(y_true, y_pred), 4))
    [0.0249 0.0368]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.squared_logarithmic_error(y_pred, y_true), axis=-1)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    r"""Keras' ``cosine_similarity``: minus the cosine of ``y_true`` and ``y_pred`` along
    ``axis`` (0 for a zero vector; Keras' ``normalize`` divides by at least 1e-7).

    Parameters
    ----------
    y_true : array, of ``y_pred``'s shape
        Targets (a trailing axis of size 1 squeezed or added as Keras does).
    y_pred : array
        Predictions, real floating dtype.
    axis : int, default -1
        The axis of the vectors.

    Returns
    -------
    array, ``y_pred``'s shape without ``axis``
        One loss per sample, between -1 (same direction) and 1.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import cosine_similarity
    >>> y_true = np.array([[1.0, 2.0], [4.0, 5.0]])
    >>> y_pred = np.array([[1.5, 2.0], [3.0, 6.0]])
    >>> print(np.round(cosine_similarity(y_true, y_pred), 4))
    [-0.9839 -0.9778]
    """
    _, y_true, y_pred = _pair(y_true, y_pred)
    return -_xl.cosine_similarity(y_pred, y_true, axis=axis)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Any:
    """Keras' ``huber``: :func:`xlosses.huber_loss` averaged over the last axis.

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Targets (a trailing axis of size 1 is squeezed or added to match ``y_pred``, as
        Keras does; cast to ``y_pred``'s floating dtype).
    y_pred : array, shape ``[..., d]``
        Predictions, real floating dtype.
    delta : float, default 1.0
        Where the loss turns from quadratic to linear in the error.

    Returns
    -------
    array, shape ``[...]``
        One loss per sample (``y_pred``'s shape without its last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import huber
    >>> y_true = np.array([[1.0, 2.0], [4.0, 5.0]])
    >>> y_pred = np.array([[1.5, 2.0], [3.0, 6.0]])
    >>> print(np.round(huber(y_true, y_pred), 4))
    [0.0625 0.5   ]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.huber_loss(y_pred, y_true, delta=delta), axis=-1)


def log_cosh(y_true: Any, y_pred: Any) -> Any:
    """Keras' ``log_cosh``: :func:`xlosses.log_cosh` averaged over the last axis.

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Targets (a trailing axis of size 1 is squeezed or added to match ``y_pred``, as
        Keras does; cast to ``y_pred``'s floating dtype).
    y_pred : array, shape ``[..., d]``
        Predictions, real floating dtype.

    Returns
    -------
    array, shape ``[...]``
        One loss per sample (``y_pred``'s shape without its last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import log_cosh
    >>> y_true = np.array([[1.0, 2.0], [4.0, 5.0]])
    >>> y_pred = np.array([[1.5, 2.0], [3.0, 6.0]])
    >>> print(np.round(log_cosh(y_true, y_pred), 4))
    [0.0601 0.4338]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.log_cosh(y_pred, y_true), axis=-1)


def kl_divergence(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``kl_divergence``: :math:`\sum_{-1} y \log(y / \hat y)` for probabilities.

    Exact: zero targets contribute 0, a zero prediction under a positive target
    gives ``inf`` (Keras clips both to [1e-7, 1]).

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Target probabilities along the last axis (a trailing axis of size 1 squeezed or added
        as Keras does).
    y_pred : array, shape ``[..., d]``
        Predicted probabilities, real floating dtype.

    Returns
    -------
    array, shape ``[...]``
        One loss per sample (``y_pred``'s shape without its last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import kl_divergence
    >>> y_true = np.array([[0.5, 0.5], [0.9, 0.1]])
    >>> y_pred = np.array([[0.4, 0.6], [0.5, 0.5]])
    >>> print(np.round(kl_divergence(y_true, y_pred), 4))
    [0.0204 0.3681]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return _xl.kl_divergence(safe_log(y_pred, xp=xp), y_true)


def poisson(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``poisson``: :math:`\operatorname{mean}_{-1}(\hat y - y \log(\hat y + 10^{-7}))`.

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Observed counts (a trailing axis of size 1 squeezed or added as Keras does).
    y_pred : array, shape ``[..., d]``
        Predicted rates (non-negative), real floating dtype.

    Returns
    -------
    array, shape ``[...]``
        One loss per sample (``y_pred``'s shape without its last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import poisson
    >>> y_true = np.array([[1.0, 2.0], [4.0, 5.0]])
    >>> y_pred = np.array([[1.5, 2.0], [3.0, 6.0]])
    >>> print(np.round(poisson(y_true, y_pred), 4))
    [ 0.8541 -2.1766]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.poisson_nll(y_pred, y_true, log_input=False, eps=1e-7), axis=-1)
