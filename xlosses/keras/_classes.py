"""``keras.losses``' classes and the generic :class:`Loss`."""

from __future__ import annotations

from typing import Any

import keras

import xlosses as _xl

from .._namespace import namespace
from ._functions import (
    _SUM,
    _class_labels,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
    categorical_hinge,
    circle,
    cosine_similarity,
    ctc,
    dice,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
    tversky,
)

__all__ = [
    "CTC",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "CategoricalHinge",
    "Circle",
    "CosineSimilarity",
    "Dice",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "Tversky",
]

# -- keras.losses' classes -----------------------------------------------------------------


class _Wrapper(keras.losses.Loss):
    """A Keras loss calling one of the functions above with its options."""

    _fn: Any = None

    def __init__(self, reduction: Any, name: Any, dtype: Any, **options: Any) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._options = options

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return type(self)._fn(y_true, y_pred, **self._options)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._options}


@keras.saving.register_keras_serializable(package="xlosses")
class MeanSquaredError(_Wrapper):
    """Keras' ``MeanSquaredError``: :func:`mean_squared_error` per sample."""

    _fn = staticmethod(mean_squared_error)

    def __init__(self, reduction=_SUM, name="mean_squared_error", dtype=None) -> None:
        super().__init__(reduction, name, dtype)


@keras.saving.register_keras_serializable(package="xlosses")
class MeanAbsoluteError(_Wrapper):
    """Keras' ``MeanAbsoluteError``: :func:`mean_absolute_error` per sample."""

    _fn = staticmethod(mean_absolute_error)

    def __init__(self, reduction=_SUM, name="mean_absolute_error", dtype=None) -> None:
        super().__init__(reduction, name, dtype)


@keras.saving.register_keras_serializable(package="xlosses")
class MeanAbsolutePercentageError(_Wrapper):
    """Keras' ``MeanAbsolutePercentageError``: :func:`mean_absolute_percentage_error` per sample."""

    _fn = staticmethod(mean_absolute_percentage_error)

    def __init__(self, reduction=_SUM, name="mean_absolute_percentage_error", dtype=None) -> None:
        super().__init__(reduction, name, dtype)


@keras.saving.register_keras_serializable(package="xlosses")
class MeanSquaredLogarithmicError(_Wrapper):
    """Keras' ``MeanSquaredLogarithmicError``: :func:`mean_squared_logarithmic_error` per sample."""

    _fn = staticmethod(mean_squared_logarithmic_error)

    def __init__(self, reduction=_SUM, name="mean_squared_logarithmic_error", dtype=None) -> None:
        super().__init__(reduction, name, dtype)


@keras.saving.register_keras_serializable(package="xlosses")
class CosineSimilarity(_Wrapper):
    """Keras' ``CosineSimilarity``: :func:`cosine_similarity` per sample."""

    _fn = staticmethod(cosine_similarity)

    def __init__(self, axis=-1, reduction=_SUM, name="cosine_similarity", dtype=None) -> None:
        super().__init__(reduction, name, dtype, axis=axis)


@keras.saving.register_keras_serializable(package="xlosses")
class Huber(_Wrapper):
    """Keras' ``Huber``: :func:`huber` per sample."""

    _fn = staticmethod(huber)

    def __init__(self, delta=1.0, reduction=_SUM, name="huber_loss", dtype=None) -> None:
        super().__init__(reduction, name, dtype, delta=delta)


@keras.saving.register_keras_serializable(package="xlosses")
class LogCosh(_Wrapper):
    """Keras' ``LogCosh``: :func:`log_cosh` per sample."""

    _fn = staticmethod(log_cosh)

    def __init__(self, reduction=_SUM, name="log_cosh", dtype=None) -> None:
        super().__init__(reduction, name, dtype)


@keras.saving.register_keras_serializable(package="xlosses")
class KLDivergence(_Wrapper):
    """Keras' ``KLDivergence``: :func:`kl_divergence` per sample."""

    _fn = staticmethod(kl_divergence)

    def __init__(self, reduction=_SUM, name="kl_divergence", dtype=None) -> None:
        super().__init__(reduction, name, dtype)


@keras.saving.register_keras_serializable(package="xlosses")
class Poisson(_Wrapper):
    """Keras' ``Poisson``: :func:`poisson` per sample."""

    _fn = staticmethod(poisson)

    def __init__(self, reduction=_SUM, name="poisson", dtype=None) -> None:
        super().__init__(reduction, name, dtype)


@keras.saving.register_keras_serializable(package="xlosses")
class Hinge(_Wrapper):
    """Keras' ``Hinge``: :func:`hinge` per sample."""

    _fn = staticmethod(hinge)

    def __init__(self, reduction=_SUM, name="hinge", dtype=None) -> None:
        super().__init__(reduction, name, dtype)


@keras.saving.register_keras_serializable(package="xlosses")
class SquaredHinge(_Wrapper):
    """Keras' ``SquaredHinge``: :func:`squared_hinge` per sample."""

    _fn = staticmethod(squared_hinge)

    def __init__(self, reduction=_SUM, name="squared_hinge", dtype=None) -> None:
        super().__init__(reduction, name, dtype)


@keras.saving.register_keras_serializable(package="xlosses")
class CategoricalHinge(_Wrapper):
    """Keras' ``CategoricalHinge``: :func:`categorical_hinge` per sample."""

    _fn = staticmethod(categorical_hinge)

    def __init__(self, reduction=_SUM, name="categorical_hinge", dtype=None) -> None:
        super().__init__(reduction, name, dtype)


@keras.saving.register_keras_serializable(package="xlosses")
class BinaryCrossentropy(_Wrapper):
    """Keras' ``BinaryCrossentropy``: :func:`binary_crossentropy` per sample."""

    _fn = staticmethod(binary_crossentropy)

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SUM,
        name="binary_crossentropy",
        dtype=None,
    ) -> None:
        super().__init__(
            reduction,
            name,
            dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


@keras.saving.register_keras_serializable(package="xlosses")
class BinaryFocalCrossentropy(_Wrapper):
    """Keras' ``BinaryFocalCrossentropy``: :func:`binary_focal_crossentropy` per sample."""

    _fn = staticmethod(binary_focal_crossentropy)

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SUM,
        name="binary_focal_crossentropy",
        dtype=None,
    ) -> None:
        super().__init__(
            reduction,
            name,
            dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


@keras.saving.register_keras_serializable(package="xlosses")
class CategoricalCrossentropy(_Wrapper):
    """Keras' ``CategoricalCrossentropy``: :func:`categorical_crossentropy` per sample."""

    _fn = staticmethod(categorical_crossentropy)

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SUM,
        name="categorical_crossentropy",
        dtype=None,
    ) -> None:
        super().__init__(
            reduction,
            name,
            dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


@keras.saving.register_keras_serializable(package="xlosses")
class CategoricalFocalCrossentropy(_Wrapper):
    """Keras' ``CategoricalFocalCrossentropy``: :func:`categorical_focal_crossentropy` per sample."""

    _fn = staticmethod(categorical_focal_crossentropy)

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SUM,
        name="categorical_focal_crossentropy",
        dtype=None,
    ) -> None:
        super().__init__(
            reduction,
            name,
            dtype,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


@keras.saving.register_keras_serializable(package="xlosses")
class SparseCategoricalCrossentropy(_Wrapper):
    """Keras' ``SparseCategoricalCrossentropy``: :func:`sparse_categorical_crossentropy` per sample."""

    _fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction=_SUM,
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ) -> None:
        super().__init__(
            reduction, name, dtype, from_logits=from_logits, ignore_class=ignore_class, axis=axis
        )


@keras.saving.register_keras_serializable(package="xlosses")
class CategoricalGeneralizedCrossEntropy(_Wrapper):
    """Keras' ``CategoricalGeneralizedCrossEntropy``: :func:`categorical_generalized_cross_entropy` per sample."""

    _fn = staticmethod(categorical_generalized_cross_entropy)

    def __init__(
        self,
        q=0.5,
        reduction=_SUM,
        name="categorical_generalized_cross_entropy",
        dtype=None,
    ) -> None:
        super().__init__(reduction, name, dtype, q=q)


@keras.saving.register_keras_serializable(package="xlosses")
class CTC(_Wrapper):
    """Keras' ``CTC``: :func:`ctc` per sample."""

    _fn = staticmethod(ctc)

    def __init__(self, reduction=_SUM, name="ctc", dtype=None) -> None:
        super().__init__(reduction, name, dtype)


@keras.saving.register_keras_serializable(package="xlosses")
class Dice(_Wrapper):
    """Keras' ``Dice``: :func:`dice` per sample."""

    _fn = staticmethod(dice)

    def __init__(self, reduction=_SUM, name="dice", axis=None, dtype=None) -> None:
        super().__init__(reduction, name, dtype, axis=axis)


@keras.saving.register_keras_serializable(package="xlosses")
class Tversky(_Wrapper):
    """Keras' ``Tversky``: :func:`tversky` per sample."""

    _fn = staticmethod(tversky)

    def __init__(
        self,
        alpha=0.5,
        beta=0.5,
        reduction=_SUM,
        name="tversky",
        axis=None,
        dtype=None,
    ) -> None:
        super().__init__(reduction, name, dtype, alpha=alpha, beta=beta, axis=axis)


_set_mask = getattr(getattr(keras, "src", None), "backend", None)


def _mark_ignored(losses: Any, valid: Any) -> Any:
    """Keras' mask on the per-sample losses, so that its reduction leaves them out."""
    setter = getattr(_set_mask, "set_keras_mask", None)
    if setter is not None:
        setter(losses, valid)
    return losses


def _sparse_call(self: Any, y_true: Any, y_pred: Any) -> Any:
    losses = sparse_categorical_crossentropy(y_true, y_pred, **self._options)
    ignore = self._options["ignore_class"]
    if ignore is None:
        return losses
    xp, y_true, y_pred = namespace(y_true=y_true, y_pred=y_pred)
    labels = _class_labels(xp, y_true, y_pred, self._options["axis"])
    return _mark_ignored(losses, labels != ignore)


SparseCategoricalCrossentropy.call = _sparse_call  # type: ignore[method-assign]


@keras.saving.register_keras_serializable(package="xlosses")
class Loss(keras.losses.Loss):
    r"""Any xlosses loss as a Keras loss: ``Loss(xlosses.sigmoid_focal_loss, gamma=1.0)``.

    ``call(y_true, y_pred)`` returns ``fn(y_pred, y_true, **kwargs)`` (xlosses' order:
    predictions first), the per-example loss, which Keras reduces (``reduction``,
    ``sample_weight``).  ``fn`` is serialized by its name in ``xlosses`` (a public loss).

    Parameters
    ----------
    fn : callable
        An xlosses loss (or any function of ``(predictions, targets)``).
    reduction : str or None, default 'sum_over_batch_size'
    name : str, optional
        Default: ``fn``'s name.
    dtype : optional
    **kwargs
        Keyword arguments of ``fn``.

    Examples
    --------
    >>> import xlosses  # doctest: +SKIP
    >>> from xlosses.keras import Loss  # doctest: +SKIP
    >>> loss = Loss(xlosses.sigmoid_focal_loss, gamma=1.0)  # doctest: +SKIP
    """

    def __init__(
        self,
        fn: Any,
        reduction: str | None = _SUM,
        name: str | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(fn, str):
            fn = getattr(_xl, fn)
        super().__init__(name=name or fn.__name__, reduction=reduction, dtype=dtype)
        self.fn = fn
        self.kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return self.fn(y_pred, y_true, **self.kwargs)

    def get_config(self) -> dict[str, Any]:
        name = getattr(self.fn, "__name__", None)
        if getattr(_xl, str(name), None) is not self.fn:
            raise TypeError(f"Loss({self.fn!r}) is serializable only for a public xlosses loss")
        return {**super().get_config(), "fn": name, **self.kwargs}


@keras.saving.register_keras_serializable(package="xlosses")
class Circle(_Wrapper):
    """Keras' ``Circle``: :func:`circle` per row, averaged over the non-zero rows by
    ``'sum_over_batch_size'`` (Keras' mask)."""

    _fn = staticmethod(circle)

    def __init__(
        self,
        gamma=80.0,
        margin=0.4,
        remove_diagonal=True,
        reduction=_SUM,
        name="circle",
        dtype=None,
    ) -> None:
        super().__init__(
            reduction, name, dtype, gamma=gamma, margin=margin, remove_diagonal=remove_diagonal
        )
