"""``keras.losses``' functions, computed by the xlosses core."""

from __future__ import annotations

from typing import Any

import xlosses as _xl

from .._namespace import namespace
from .._ops import focal_power, safe_log
from .._ops.divergence import xlogy

__all__ = [
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "categorical_hinge",
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


def _pair(y_true: Any, y_pred: Any) -> tuple[Any, Any, Any]:
    """``(xp, y_true, y_pred)`` with ``y_true`` squeezed or expanded to ``y_pred``'s rank
    (Keras' ``squeeze_or_expand_to_same_rank``) and cast to its dtype if floating."""
    xp, y_true, y_pred = namespace(y_true=y_true, y_pred=y_pred)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = xp.squeeze(y_true, axis=-1)
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_true = xp.expand_dims(y_true, axis=-1)
    if xp.isdtype(y_pred.dtype, "real floating") and y_true.dtype != y_pred.dtype:
        y_true = xp.astype(y_true, y_pred.dtype)
    return xp, y_true, y_pred


def _last(xp: Any, a: Any, axis: int) -> Any:
    return a if axis in (-1, a.ndim - 1) else xp.moveaxis(a, axis, -1)


def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``mean_squared_error``: :math:`\operatorname{mean}_{-1}(\hat y - y)^2`."""
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.squared_error(y_pred, y_true), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``mean_absolute_error``: :math:`\operatorname{mean}_{-1}|\hat y - y|`."""
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.absolute_error(y_pred, y_true), axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' MAPE: :math:`100\,\operatorname{mean}_{-1}|y - \hat y| / \max(|y|, 10^{-7})`."""
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.absolute_percentage_error(y_pred, y_true), axis=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' MSLE: :math:`\operatorname{mean}_{-1}(\log(1 + \hat y) - \log(1 + y))^2`
    (both at least 1e-7, as Keras)."""
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.squared_logarithmic_error(y_pred, y_true), axis=-1)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    r"""Keras' ``cosine_similarity``: minus the cosine of ``y_true`` and ``y_pred`` along
    ``axis`` (0 for a zero vector; Keras' ``normalize`` divides by at least 1e-7)."""
    _, y_true, y_pred = _pair(y_true, y_pred)
    return -_xl.cosine_similarity(y_pred, y_true, axis=axis)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Any:
    """Keras' ``huber``: :func:`xlosses.huber_loss` averaged over the last axis."""
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.huber_loss(y_pred, y_true, delta=delta), axis=-1)


def log_cosh(y_true: Any, y_pred: Any) -> Any:
    """Keras' ``log_cosh``: :func:`xlosses.log_cosh` averaged over the last axis."""
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.log_cosh(y_pred, y_true), axis=-1)


def kl_divergence(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``kl_divergence``: :math:`\sum_{-1} y \log(y / \hat y)` for probabilities.

    Exact: zero targets contribute 0, a zero prediction under a positive target
    gives ``inf`` (Keras clips both to [1e-7, 1])."""
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return _xl.kl_divergence(safe_log(y_pred, xp=xp), y_true)


def poisson(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``poisson``: :math:`\operatorname{mean}_{-1}(\hat y - y \log(\hat y + 10^{-7}))`."""
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.poisson_nll(y_pred, y_true, log_input=False, eps=1e-7), axis=-1)


def _hinge_targets(xp: Any, y: Any) -> Any:
    """Keras' ``convert_binary_labels_to_hinge``: {0, 1} labels to ±1 (per row here)."""
    binary = xp.all((y == 0.0) | (y == 1.0), axis=-1, keepdims=True)
    return xp.where(binary, 2.0 * y - 1.0, y)


def hinge(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``hinge``: :math:`\operatorname{mean}_{-1}\max(0, 1 - y \hat y)`, {0, 1}
    labels taken as ±1."""
    xp, y_true, y_pred = _pair(y_true, y_pred)
    return xp.mean(_xl.hinge_loss(y_pred, _hinge_targets(xp, y_true)), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> Any:
    """Keras' ``squared_hinge``: :func:`xlosses.squared_hinge_loss`."""
    _, y_true, y_pred = _pair(y_true, y_pred)
    return _xl.squared_hinge_loss(y_pred, y_true)


def categorical_hinge(y_true: Any, y_pred: Any) -> Any:
    """Keras' ``categorical_hinge``: :func:`xlosses.categorical_hinge_loss`."""
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
    logs (Keras clips ``p`` to [1e-7, 1 - 1e-7]: 16.118 at most per entry)."""
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
    the focal factor ``exp(γ log(1 - p_t))`` (Keras clips inside its BCE)."""
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
    their logs (exact; Keras clips to [1e-7, 1 - 1e-7])."""
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
    also leaves them out of its mean, as Keras)."""
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
    logs of probabilities, normalised as Keras, with ``from_logits=False``)."""
    xp, y_true, y_pred = _pair(y_true, y_pred)
    y = _smooth_categorical(y_true, label_smoothing) if label_smoothing else y_true
    x = y_pred if from_logits else safe_log(y_pred, xp=xp)
    return _xl.softmax_focal_loss(x, y, alpha=alpha, gamma=gamma, axis=axis)


def categorical_generalized_cross_entropy(y_true: Any, y_pred: Any, q: float = 0.5) -> Any:
    r"""Keras' ``categorical_generalized_cross_entropy``: :math:`(1 - p_y^q)/q` for class
    indices and probabilities :func:`xlosses.generalized_cross_entropy` of their logs
    (rows normalised to sum 1; Keras reads ``p_y`` as given)."""
    xp, y_true, y_pred = namespace(y_true=y_true, y_pred=y_pred)
    labels = _class_labels(xp, y_true, y_pred, -1)
    return _xl.generalized_cross_entropy(safe_log(y_pred, xp=xp), labels, q)


def ctc(y_true: Any, y_pred: Any) -> Any:
    r"""Keras' ``ctc``: CTC of logits ``[batch, time, classes]`` against labels
    ``[batch, length]`` padded with 0, the blank (:func:`xlosses.ctc_loss`)."""
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
    axes = tuple(range(nd)) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    axes = tuple(a % nd for a in axes)
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
    xlosses takes it at least 1e-7 (equal within 1e-7 relative once it exceeds 1)."""
    return _overlap(y_true, y_pred, axis, 0.5, 0.5)


def tversky(
    y_true: Any, y_pred: Any, alpha: float = 0.5, beta: float = 0.5, axis: Any = None
) -> Any:
    r"""Keras' ``tversky``: :math:`1 - I/(I + \alpha \sum y(1 - \hat y) + \beta \sum (1 - y)\hat y)`
    over ``axis`` (Keras' ``alpha`` weighs the false negatives, its ``beta`` the false
    positives); the denominator as in :func:`dice`."""
    return _overlap(y_true, y_pred, axis, alpha, beta)
