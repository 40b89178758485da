"""``keras.losses``' functions, computed by the xlosses core."""

from __future__ import annotations

from typing import Any

import xlosses as _xl

from .._checks import normalize_axes
from .._namespace import namespace
from .._ops import focal_power, safe_log
from .._ops.divergence import xlogy
from ._common import _last, _pair
from ._regression import (
    cosine_similarity,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
)

__all__ = [
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "categorical_hinge",
    "circle",
    "cosine_similarity",
    "ctc",
    "dice",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "tversky",
]

# -- keras.losses' functions, computed by the xlosses core ----------------------------------
# Each takes ``(y_true, y_pred)`` as Keras does and returns Keras' per-sample loss.
# ``from_logits=False`` (Keras' default) means probabilities: their logs are taken exactly
# (``log 0 = -inf``) where Keras clips them to [1e-7, 1 - 1e-7] (docs/decisions.md).

_SUM = "sum_over_batch_size"


def _hinge_targets(xp: Any, y: Any) -> Any:
    """Keras' ``convert_binary_labels_to_hinge``: {0, 1} labels to ±1 (per row here)."""
    binary = xp.all((y == 0.0) | (y == 1.0), axis=-1, keepdims=True)
    return xp.where(binary, 2.0 * y - 1.0, y)


def hinge(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``hinge``: :math:`\operatorname{mean}_{-1}\max(0, 1 - y \hat y)`, {0, 1}
    labels taken as ±1.

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Labels in ``{-1, 1}``, or ``{0, 1}`` (mapped to ±1: per row here, for the whole
        array in Keras; the same for arrays whose rows all use one convention).
    y_pred : array, shape ``[..., d]``
        Scores, real floating dtype.

    Returns
    -------
    array, shape ``[...]``
        One loss per sample (``y_pred``'s shape without its last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import hinge
    >>> y_true = np.array([[-1.0, 1.0], [1.0, -1.0]])
    >>> y_pred = np.array([[0.5, 0.3], [2.0, -0.5]])
    >>> print(np.round(hinge(y_true, y_pred), 4))
    [1.1  0.25]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.hinge_loss(y_pred, _hinge_targets(xp, y_true)), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> Any:
    """Keras' ``squared_hinge``: :func:`xlosses.squared_hinge_loss`.

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Labels in ``{-1, 1}``, or ``{0, 1}`` (mapped to ±1: per row here, for the whole
        array in Keras; the same for arrays whose rows all use one convention).
    y_pred : array, shape ``[..., d]``
        Scores, real floating dtype.

    Returns
    -------
    array, shape ``[...]``
        One loss per sample (``y_pred``'s shape without its last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import squared_hinge
    >>> y_true = np.array([[-1.0, 1.0], [1.0, -1.0]])
    >>> y_pred = np.array([[0.5, 0.3], [2.0, -0.5]])
    >>> print(np.round(squared_hinge(y_true, y_pred), 4))
    [1.37  0.125]
    """
    _, y_true, y_pred = _pair(y_true, y_pred)
    return _xl.squared_hinge_loss(y_pred, y_true)


def categorical_hinge(y_true: Any, y_pred: Any) -> Any:
    """Keras' ``categorical_hinge``: :func:`xlosses.categorical_hinge_loss`.

    Parameters
    ----------
    y_true : array, shape ``[..., c]``
        One-hot targets along the last axis.
    y_pred : array, shape ``[..., c]``
        Scores, real floating dtype.

    Returns
    -------
    array, shape ``[...]``
        One loss per sample (``y_pred``'s shape without its last axis).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import categorical_hinge
    >>> y_true = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> y_pred = np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]])
    >>> print(np.round(categorical_hinge(y_true, y_pred), 4))
    [0.5 0.9]
    """
    _, y_true, y_pred = _pair(y_true, y_pred)
    return _xl.categorical_hinge_loss(y_pred, y_true)


def _smooth_binary(y: Any, label_smoothing: float) -> Any:
    return y * (1.0 - label_smoothing) + 0.5 * label_smoothing if label_smoothing else y


def _probability_bce(xp: Any, y: Any, p: Any) -> Any:
    """``-(y log p + (1 - y) log(1 - p))``, exact (0·log 0 = 0) for probabilities."""
    return -(xlogy(y, p, xp=xp) + xlogy(1.0 - y, 1.0 - p, xp=xp))


def binary_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    r"""Keras' ``binary_crossentropy``: the mean over ``axis`` of
    :math:`-(y \log p + (1 - y) \log(1 - p))`, labels smoothed towards 1/2.

    Logits: :func:`xlosses.sigmoid_binary_cross_entropy`.  Probabilities: exact
    logs (Keras clips ``p`` to [1e-7, 1 - 1e-7]: 16.118 at most per entry).

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Targets in [0, 1] (a trailing axis of size 1 squeezed or added as Keras does).
    y_pred : array, shape ``[..., d]``
        Probabilities (or logits with ``from_logits=True``), real floating dtype.
    from_logits : bool, default False
        ``y_pred`` holds logits; probabilities otherwise.
    label_smoothing : float, default 0.0
        Targets smoothed to ``y (1 - label_smoothing) + label_smoothing / 2``.
    axis : int, default -1
        The axis averaged over.

    Returns
    -------
    array, ``y_pred``'s shape without ``axis``
        One loss per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import binary_crossentropy
    >>> y_true = np.array([[0.0, 1.0], [1.0, 1.0]])
    >>> y_pred = np.array([[0.4, 0.6], [0.7, 0.2]])
    >>> print(np.round(binary_crossentropy(y_true, y_pred), 4))
    [0.5108 0.9831]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    y = _smooth_binary(y_true, label_smoothing)
    if from_logits:
        bce = _xl.sigmoid_binary_cross_entropy(y_pred, y)
    else:
        bce = _probability_bce(xp, y, y_pred)
    return xp.mean(bce, axis=axis)


def binary_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    r"""Keras' ``binary_focal_crossentropy``: the mean over ``axis`` of
    :math:`\alpha_t (1 - p_t)^\gamma\,\mathrm{BCE}`, :math:`\alpha_t = \alpha y + (1 -
    \alpha)(1 - y)` with ``apply_class_balancing``.

    Logits: :func:`xlosses.sigmoid_focal_loss` (log space).  Probabilities: exact logs,
    the focal factor ``exp(γ log(1 - p_t))`` (Keras clips inside its BCE).

    Parameters
    ----------
    y_true : array, shape ``[..., d]``
        Targets in [0, 1] (a trailing axis of size 1 squeezed or added as Keras does).
    y_pred : array, shape ``[..., d]``
        Probabilities (or logits with ``from_logits=True``), real floating dtype.
    apply_class_balancing : bool, default False
        Weigh the positives by ``alpha`` and the negatives by ``1 - alpha``.
    alpha : float, default 0.25
        The positives' weight with ``apply_class_balancing``.
    gamma : float, default 2.0
        The focusing exponent (0: the binary cross-entropy).
    from_logits : bool, default False
        ``y_pred`` holds logits; probabilities otherwise.
    label_smoothing : float, default 0.0
        Targets smoothed to ``y (1 - label_smoothing) + label_smoothing / 2``.
    axis : int, default -1
        The axis averaged over.

    Returns
    -------
    array, ``y_pred``'s shape without ``axis``
        One loss per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import binary_focal_crossentropy
    >>> y_true = np.array([[0.0, 1.0], [1.0, 1.0]])
    >>> y_pred = np.array([[0.4, 0.6], [0.7, 0.2]])
    >>> print(np.round(binary_focal_crossentropy(y_true, y_pred), 4))
    [0.0817 0.5311]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    y = _smooth_binary(y_true, label_smoothing)
    a = alpha if apply_class_balancing else None
    if from_logits:
        loss = _xl.sigmoid_focal_loss(y_pred, y, alpha=a, gamma=gamma)
    else:
        q = y * (1.0 - y_pred) + (1.0 - y) * y_pred
        loss = focal_power(safe_log(q, xp=xp), gamma, xp=xp) * _probability_bce(xp, y, y_pred)
        if a is not None:
            loss = (a * y + (1.0 - a) * (1.0 - y)) * loss
    return xp.mean(loss, axis=axis)


def _smooth_categorical(y: Any, label_smoothing: float) -> Any:
    return y * (1.0 - label_smoothing) + label_smoothing / y.shape[-1] if label_smoothing else y


def categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    r"""Keras' ``categorical_crossentropy``: :math:`-\sum_c y_c \log p_c` along ``axis``.

    Logits: :func:`xlosses.softmax_cross_entropy`.  Probabilities: rows divided by
    their sum (as Keras) in log space, :func:`xlosses.safe_softmax_cross_entropy` of
    their logs (exact; Keras clips to [1e-7, 1 - 1e-7]).

    Parameters
    ----------
    y_true : array, shape ``[..., c]``
        One-hot (or soft) targets along ``axis``.
    y_pred : array, shape ``[..., c]``
        Probabilities along ``axis``, divided by their sum as Keras does (or logits with
        ``from_logits=True``), real floating dtype.
    from_logits : bool, default False
        ``y_pred`` holds logits; probabilities otherwise.
    label_smoothing : float, default 0.0
        Targets smoothed to ``y (1 - label_smoothing) + label_smoothing / c``.
    axis : int, default -1
        The axis of the classes.

    Returns
    -------
    array, ``y_pred``'s shape without ``axis``
        One loss per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import categorical_crossentropy
    >>> y_true = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> y_pred = np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]])
    >>> print(np.round(categorical_crossentropy(y_true, y_pred), 4))
    [0.3567 0.9163]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    y, x = _last(xp, y_true, axis), _last(xp, y_pred, axis)
    y = _smooth_categorical(y, label_smoothing)
    if from_logits:
        return _xl.softmax_cross_entropy(x, y)
    return _xl.safe_softmax_cross_entropy(safe_log(x, xp=xp), y)


def _class_labels(xp: Any, y_true: Any, y_pred: Any, axis: int) -> Any:
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = xp.squeeze(y_true, axis=axis)
    if not xp.isdtype(y_true.dtype, "integral"):
        y_true = xp.astype(y_true, xp.int32)
    return y_true


def sparse_categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    ignore_class: int | None = None,
    axis: int = -1,
) -> Any:
    r"""Keras' ``sparse_categorical_crossentropy``: :math:`-\log p_y` for class indices.

    :func:`xlosses.softmax_cross_entropy_with_integer_labels` (of the logs of
    probabilities with ``from_logits=False``: exact, where Keras clips).
    ``ignore_class`` entries have loss 0 (the class ``SparseCategoricalCrossentropy``
    also leaves them out of its mean, as Keras).

    Parameters
    ----------
    y_true : array, ``y_pred``'s shape without ``axis`` (or with it of size 1)
        Class indices (floats are cast to int32).
    y_pred : array, shape ``[..., c]``
        Probabilities along ``axis`` (or logits with ``from_logits=True``), real floating
        dtype.
    from_logits : bool, default False
        ``y_pred`` holds logits; probabilities otherwise.
    ignore_class : int, optional
        A class index whose entries get loss 0; none when omitted.
    axis : int, default -1
        The axis of the classes.

    Returns
    -------
    array, ``y_pred``'s shape without ``axis``
        One loss per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import sparse_categorical_crossentropy
    >>> y_true = np.array([1, 2])
    >>> y_pred = np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]])
    >>> print(np.round(sparse_categorical_crossentropy(y_true, y_pred), 4))
    [0.3567 0.9163]
    """
    xp, y_true, y_pred = namespace(y_true=y_true, y_pred=y_pred)
    labels = _class_labels(xp, y_true, y_pred, axis)
    x = y_pred if from_logits else safe_log(y_pred, xp=xp)
    if ignore_class is None:
        return _xl.softmax_cross_entropy_with_integer_labels(x, labels, axis=axis)
    valid = labels != ignore_class
    safe = xp.where(valid, labels, 0)
    loss = _xl.softmax_cross_entropy_with_integer_labels(x, safe, axis=axis)
    return xp.where(valid, loss, 0.0)


def categorical_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    r"""Keras' ``categorical_focal_crossentropy``: :math:`-\alpha \sum_c y_c (1 -
    p_c)^\gamma \log p_c` along ``axis``: :func:`xlosses.softmax_focal_loss` (of the
    logs of probabilities, normalised as Keras, with ``from_logits=False``).

    Parameters
    ----------
    y_true : array, shape ``[..., c]``
        One-hot (or soft) targets along ``axis``.
    y_pred : array, shape ``[..., c]``
        Probabilities along ``axis``, divided by their sum as Keras does (or logits with
        ``from_logits=True``), real floating dtype.
    alpha : float, default 0.25
        The weight of every class.
    gamma : float, default 2.0
        The focusing exponent (0: ``alpha`` times the cross-entropy).
    from_logits : bool, default False
        ``y_pred`` holds logits; probabilities otherwise.
    label_smoothing : float, default 0.0
        Targets smoothed to ``y (1 - label_smoothing) + label_smoothing / c``.
    axis : int, default -1
        The axis of the classes.

    Returns
    -------
    array, ``y_pred``'s shape without ``axis``
        One loss per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import categorical_focal_crossentropy
    >>> y_true = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> y_pred = np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]])
    >>> print(np.round(categorical_focal_crossentropy(y_true, y_pred), 4))
    [0.008  0.0825]
    """
    xp, y_true, y_pred = _pair(y_true, y_pred)
    y = _smooth_categorical(y_true, label_smoothing) if label_smoothing else y_true
    x = y_pred if from_logits else safe_log(y_pred, xp=xp)
    return _xl.softmax_focal_loss(x, y, alpha=alpha, gamma=gamma, axis=axis)


def categorical_generalized_cross_entropy(y_true: Any, y_pred: Any, q: float = 0.5) -> Any:
    r"""Keras' ``categorical_generalized_cross_entropy``: :math:`(1 - p_y^q)/q` for class
    indices and probabilities :func:`xlosses.generalized_cross_entropy` of their logs
    (rows normalised to sum 1; Keras reads ``p_y`` as given).

    Parameters
    ----------
    y_true : array, shape ``[batch]`` or ``[batch, 1]``
        Class indices (floats are cast to int32).
    y_pred : array, shape ``[batch, c]``
        Probabilities along the last axis, real floating dtype.
    q : float, default 0.5
        In (0, 1): towards 0 the cross-entropy, towards 1 the mean absolute error (Keras
        has no default).

    Returns
    -------
    array, shape ``[batch]``
        One loss per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import categorical_generalized_cross_entropy
    >>> y_true = np.array([1, 2])
    >>> y_pred = np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]])
    >>> print(np.round(categorical_generalized_cross_entropy(y_true, y_pred, q=0.5), 4))
    [0.3267 0.7351]
    """
    xp, y_true, y_pred = namespace(y_true=y_true, y_pred=y_pred)
    labels = _class_labels(xp, y_true, y_pred, -1)
    return _xl.generalized_cross_entropy(safe_log(y_pred, xp=xp), labels, q)


def ctc(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``ctc``: CTC of logits ``[batch, time, classes]`` against labels
    ``[batch, length]`` padded with 0, the blank (:func:`xlosses.ctc_loss`).

    Parameters
    ----------
    y_true : array, shape ``[batch, max_length]``
        Label sequences, integer (or cast to int32), padded with 0: class 0 is the blank.
    y_pred : array, shape ``[batch, time, classes]``
        Logits (not normalised), real floating dtype; every frame is used.

    Returns
    -------
    array, shape ``[batch]``
        The negative log-likelihood of each sequence.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import ctc
    >>> y_true = np.array([[1, 2, 0]])  # the sequence (1, 2), padded
    >>> y_pred = np.zeros((1, 4, 3))  # uniform: 15 of the 81 paths give (1, 2)
    >>> print(np.round(ctc(y_true, y_pred), 4))
    [1.6864]
    """
    xp, y_true, y_pred = namespace(y_true=y_true, y_pred=y_pred)
    if y_true.ndim != 2 or y_pred.ndim != 3:
        raise ValueError(
            "ctc expects y_true of shape (batch_size, max_length) and y_pred of shape "
            f"(batch_size, max_length, num_classes), got {tuple(y_true.shape)} and "
            f"{tuple(y_pred.shape)}"
        )
    labels = y_true if xp.isdtype(y_true.dtype, "integral") else xp.astype(y_true, xp.int32)
    pad = xp.astype(labels == 0, y_pred.dtype)
    frames = xp.zeros(y_pred.shape[:2], dtype=y_pred.dtype)
    return _xl.ctc_loss(y_pred, frames, labels, pad, blank_id=0)


def _overlap(y_true: Any, y_pred: Any, axis: Any, alpha: float, beta: float) -> Any:
    """Keras' Dice / Tversky over ``axis`` (None: every axis) by :func:`xlosses.focal_tversky_loss`
    on probabilities (its ``alpha`` weighs false positives, Keras' ``beta`` does)."""
    xp, y_true, y_pred = namespace(y_true=y_true, y_pred=y_pred)
    y = xp.astype(y_true, y_pred.dtype) if y_true.dtype != y_pred.dtype else y_true
    nd = y_pred.ndim
    # constant axes, also for an axis that a dynamic-shape torch.compile made a symbol
    axes = (
        tuple(range(nd))
        if axis is None
        else normalize_axes(axis if isinstance(axis, int) else tuple(axis), nd)
    )
    kept = [a for a in range(nd) if a not in axes]
    shape = tuple(y_pred.shape[a] for a in kept)
    n = 1
    for a in axes:
        n *= y_pred.shape[a]

    def rows(a: Any) -> Any:
        return xp.reshape(xp.permute_dims(a, (*kept, *axes)), (*shape, n, 1))

    loss = _xl.focal_tversky_loss(
        rows(y_pred),
        rows(y),
        alpha=beta,
        beta=alpha,
        axis=len(shape),
        activation=None,
        empty="compute",
        eps=1e-7,
    )
    return xp.reshape(loss, shape)


def dice(y_true: Any, y_pred: Any, axis: Any = None) -> Any:
    r"""Keras' ``dice``: :math:`1 - 2\sum y\hat y / (\sum y + \sum \hat y)` over ``axis``
    (None: everything, one number for the batch).  Keras adds 1e-7 to the denominator,
    xlosses takes it at least 1e-7 (equal within 1e-7 relative once it exceeds 1).

    Parameters
    ----------
    y_true : array
        Targets in [0, 1], of ``y_pred``'s shape.
    y_pred : array
        Probabilities, real floating dtype.
    axis : int, tuple of int or None, default None
        The axes reduced over; None: all of them.

    Returns
    -------
    array, ``y_pred``'s shape without ``axis``
        The loss: 0-d (one number for the batch) with ``axis=None``.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import dice
    >>> y_true = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    >>> y_pred = np.array([[0.9, 0.2, 0.6], [0.1, 0.8, 0.5]])
    >>> print(np.round(dice(y_true, y_pred), 4))
    0.2113
    """
    return _overlap(y_true, y_pred, axis, 0.5, 0.5)


def tversky(
    y_true: Any, y_pred: Any, alpha: float = 0.5, beta: float = 0.5, axis: Any = None
) -> Any:
    r"""Keras' ``tversky``: :math:`1 - I/(I + \alpha \sum y(1 - \hat y) + \beta \sum (1 - y)\hat y)`
    over ``axis`` (Keras' ``alpha`` weighs the false negatives, its ``beta`` the false
    positives); the denominator as in :func:`dice`.

    Parameters
    ----------
    y_true : array
        Targets in [0, 1], of ``y_pred``'s shape.
    y_pred : array
        Probabilities, real floating dtype.
    alpha : float, default 0.5
        The weight of the false negatives.
    beta : float, default 0.5
        The weight of the false positives (both 0.5: :func:`dice`).
    axis : int, tuple of int or None, default None
        The axes reduced over; None: all of them.

    Returns
    -------
    array, ``y_pred``'s shape without ``axis``
        The loss: 0-d (one number for the batch) with ``axis=None``.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import tversky
    >>> y_true = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    >>> y_pred = np.array([[0.9, 0.2, 0.6], [0.1, 0.8, 0.5]])
    >>> print(np.round(tversky(y_true, y_pred, alpha=0.7, beta=0.3, axis=-1), 4))
    [0.2147 0.2857]
    """
    return _overlap(y_true, y_pred, axis, alpha, beta)


def circle(
    y_true: Any,
    y_pred: Any,
    ref_labels: Any = None,
    ref_embeddings: Any = None,
    remove_diagonal: bool = True,
    gamma: float = 80.0,
    margin: float = 0.4,
) -> Any:
    r"""Keras' ``circle``: the circle loss of each row of a batch of embeddings,
    :func:`xlosses.circle_loss` as Keras computes it.

    Keras takes the embeddings as they are (it expects L2-normalised ones),
    clips the cosine distance at 0 and differentiates through the self-paced
    weights: ``circle_loss(..., normalize=False, weight_gradient=True,
    reduction='none')``.  As Keras, the result carries a Keras mask of its
    non-zero rows, which :class:`Circle`'s reduction averages over.

    Parameters
    ----------
    y_true : integer array, shape ``[n]`` (or ``[n, 1]``)
        Labels (floats are cast to int32, as Keras does).
    y_pred : array, shape ``[n, dim]``
        Embeddings, real floating dtype.
    ref_labels : integer array, shape ``[m]``, optional
        The reference embeddings' labels; default ``y_true``.
    ref_embeddings : array, shape ``[m, dim]``, optional
        Embeddings the rows are compared with; default ``y_pred``.
    remove_diagonal : bool, default True
        Leave the pairs ``i = j`` out of the positives.
    gamma : float, default 80
    margin : float, default 0.4

    Returns
    -------
    array, shape ``[n]``
        One loss per row (0 for a row without a positive or a negative).

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import circle
    >>> e = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> print(np.round(circle(np.array([0, 0, 1]), e, gamma=1.0), 4))
    [1.3427 1.5568 0.    ]
    """
    xp, y_true, y_pred, ref_labels, ref_embeddings = namespace(
        y_true=y_true, y_pred=y_pred, ref_labels=ref_labels, ref_embeddings=ref_embeddings
    )
    labels = _class_labels(xp, y_true, y_pred, -1)
    if ref_labels is not None:
        ref = ref_embeddings if ref_embeddings is not None else y_pred
        ref_labels = _class_labels(xp, ref_labels, ref, -1)
    loss = _xl.circle_loss(
        y_pred,
        labels,
        gamma=gamma,
        margin=margin,
        weight_gradient=True,
        ref_embeddings=ref_embeddings,
        ref_labels=ref_labels,
        remove_diagonal=remove_diagonal,
        normalize=False,
        reduction="none",
    )
    _keras_mask(loss, loss > 0.0)
    return loss


def _keras_mask(loss: Any, mask: Any) -> None:
    """Attach Keras' mask to ``loss`` (Keras' losses do it through this private function:
    ``keras.losses.Loss.__call__`` reduces over the masked entries)."""
    from keras.src.backend import set_keras_mask

    set_keras_mask(loss, mask)
