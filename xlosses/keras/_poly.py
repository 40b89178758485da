"""The Poly-1 losses as Keras losses (Keras has none)."""

from __future__ import annotations

from typing import Any

import array_api_extra as _xpx
import keras

from .._namespace import namespace
from ..classification import poly_loss_cross_entropy, poly_loss_sigmoid_focal

__all__ = ["Poly1CrossEntropy", "Poly1Focal"]


def _sparse_labels(y_true: Any, y_pred: Any, xp: Any) -> Any | None:
    """Class indices when ``y_true`` is sparse (``[...]`` or ``[..., 1]``), else None.

    ``keras.losses.Loss.__call__`` converts ``y_true`` to the loss' float
    dtype; sparse labels are cast back to integers here.
    """
    if y_true.ndim == y_pred.ndim - 1:
        labels = y_true
    elif y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1 and y_pred.shape[-1] != 1:
        labels = xp.squeeze(y_true, axis=-1)
    else:
        return None
    return labels if xp.isdtype(labels.dtype, "integral") else xp.astype(labels, xp.int32)


@keras.saving.register_keras_serializable(package="xlosses")
class Poly1CrossEntropy(keras.losses.Loss):
    r"""Poly-1 cross-entropy (Leng et al., 2022) as a Keras loss.

    .. math::
        \ell = -\sum_j y_j \log p_j + \epsilon \sum_j y_j (1 - p_j),
        \qquad p = \operatorname{softmax}(\text{y\_pred})

    which for one-hot or sparse labels is :math:`-\log p_t + \epsilon (1 -
    p_t)`.  ``y_true`` holds one-hot (or soft) labels of ``y_pred``'s shape
    (as ``CategoricalCrossentropy``) or class indices of shape
    ``y_pred.shape[:-1]`` or ``[..., 1]`` (as
    ``SparseCategoricalCrossentropy``; no one-hot is built).  Maps onto
    :func:`xlosses.poly_loss_cross_entropy`.

    Parameters
    ----------
    epsilon : float, default 1.0
        Coefficient of the first polynomial term.
    reduction : str or None, default 'sum_over_batch_size'
        Keras' reduction of the per-sample losses.
    name : str, optional
    dtype : optional
        Keras dtype (policy) of the computation.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import Poly1CrossEntropy  # doctest: +SKIP
    >>> loss = Poly1CrossEntropy(epsilon=1.0)  # doctest: +SKIP
    >>> print(np.round(float(loss(np.array([0]), np.zeros((1, 3)))), 4))  # log 3 + 2/3  # doctest: +SKIP
    1.7653

    References
    ----------
    Leng et al., *PolyLoss: A Polynomial Expansion Perspective of
    Classification Loss Functions*, ICLR 2022.
    """

    def __init__(
        self,
        epsilon: float = 1.0,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "poly1_cross_entropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.epsilon = epsilon

    def call(self, y_true: Any, y_pred: Any) -> Any:
        xp, y_true, y_pred = namespace(y_true=y_true, y_pred=y_pred)
        labels = _sparse_labels(y_true, y_pred, xp)
        return poly_loss_cross_entropy(
            y_pred, y_true if labels is None else labels, epsilon=self.epsilon
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="xlosses")
class Poly1Focal(keras.losses.Loss):
    r"""Poly-1 sigmoid focal loss (Leng et al., 2022) as a Keras loss.

    .. math::
        \ell = \frac{1}{C} \sum_c \Bigl[\alpha_t (1 - p_t)^\gamma
               \mathrm{BCE}(x_c, y_c) + \epsilon (1 - p_t)^{\gamma + 1}\Bigr]

    element-wise over the last axis (every logit an independent binary
    problem, as in the paper's reference code), averaged over that axis like
    Keras' ``BinaryFocalCrossentropy``.  ``y_true`` holds multi-hot (or soft)
    targets of ``y_pred``'s shape, or class indices of shape
    ``y_pred.shape[:-1]`` or ``[..., 1]``, turned into one-hot targets
    (inherent to an element-wise loss).  ``alpha`` weights the focal term
    only; ``None`` or a negative ``alpha`` disables it.  Maps onto
    :func:`xlosses.poly_loss_sigmoid_focal`.

    Parameters
    ----------
    gamma : float, default 2.0
    epsilon : float, default 1.0
    alpha : float or None, default 0.25
    reduction : str or None, default 'sum_over_batch_size'
    name : str, optional
    dtype : optional

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.keras import Poly1Focal  # doctest: +SKIP
    >>> loss = Poly1Focal(gamma=2.0, epsilon=1.0, alpha=None)  # doctest: +SKIP
    >>> print(np.round(float(loss(np.array([[1.0]]), np.zeros((1, 1)))), 4))  # 0.25·log 2 + 0.125  # doctest: +SKIP
    0.2983

    References
    ----------
    Leng et al., *PolyLoss*, ICLR 2022; Lin et al., *Focal Loss for Dense
    Object Detection*, ICCV 2017.
    """

    def __init__(
        self,
        gamma: float = 2.0,
        epsilon: float = 1.0,
        alpha: float | None = 0.25,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "poly1_focal",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.gamma = gamma
        self.epsilon = epsilon
        self.alpha = alpha

    def call(self, y_true: Any, y_pred: Any) -> Any:
        xp, y_true, y_pred = namespace(y_true=y_true, y_pred=y_pred)
        labels = _sparse_labels(y_true, y_pred, xp)
        if labels is not None:
            y_true = _xpx.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype, xp=xp)
        loss = poly_loss_sigmoid_focal(
            y_pred, y_true, epsilon=self.epsilon, alpha=self.alpha, gamma=self.gamma
        )
        return xp.mean(loss, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "gamma": self.gamma,
            "epsilon": self.epsilon,
            "alpha": self.alpha,
        }
