r"""Keras 3 losses (``keras.losses.Loss`` subclasses) for the JAX and PyTorch backends.

This package imports ``keras``; ``import xlosses`` does not import it.  Keras
must run on its JAX or torch backend (``KERAS_BACKEND=jax`` or ``torch``),
whose tensors xlosses computes on directly; TensorFlow tensors are not array
API arrays.

The losses follow Keras' conventions: ``call(y_true, y_pred)`` (targets
first) returns one loss per sample, and ``reduction``
(``'sum_over_batch_size'`` by default, ``'sum'``, ``'mean'``,
``'mean_with_sample_weight'`` or ``None``) and ``sample_weight`` are applied
by ``keras.losses.Loss.__call__``.

Every class and function of ``keras.losses`` (Keras 3.15) is here under its name, with
Keras' arguments and defaults, computed by the xlosses core: ``from_logits=False`` (Keras'
default) takes probabilities, whose logs are exact where Keras clips them to
``[1e-7, 1 - 1e-7]`` (docs/decisions.md).  ``deserialize``/``get``/``serialize`` are Keras' own (the
classes serialize through ``get_config``).  :class:`Loss` makes any xlosses loss a Keras loss.
``Poly1CrossEntropy`` and ``Poly1Focal`` (which Keras lacks) take logits.

The package: ``_functions`` (``keras.losses``' functions), ``_classes`` (its classes and the
generic :class:`Loss`), ``_poly`` (the Poly-1 losses, which Keras lacks).
"""

from __future__ import annotations

_BACKENDS = ("jax", "torch")
_NEEDS = (
    "xlosses.keras needs Keras 3 on its JAX or PyTorch backend, whose tensors are array API "
    "arrays: set KERAS_BACKEND=jax or KERAS_BACKEND=torch before keras is first imported"
)
try:
    import keras
except ModuleNotFoundError as exc:  # Keras' default backend, TensorFlow, is not installed
    raise ImportError(f"{_NEEDS} (Keras tried its default backend: {exc})", name=exc.name) from exc
if keras.backend.backend() not in _BACKENDS:
    raise ImportError(
        f"{_NEEDS}; Keras runs on {keras.backend.backend()!r} in this process", name="keras"
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
    "Poly1CrossEntropy",
    "Poly1Focal",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "Tversky",
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

from ._classes import (  # noqa: E402
    CTC,
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    CategoricalHinge,
    Circle,
    CosineSimilarity,
    Dice,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    Loss,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
    Tversky,
)
from ._functions import (  # noqa: E402
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
from ._poly import Poly1CrossEntropy, Poly1Focal  # noqa: E402
