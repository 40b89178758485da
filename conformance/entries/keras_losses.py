"""Conformance entries of the Keras drop-ins: every class and function of ``keras.losses``
that ``xlosses.keras`` provides, against Keras itself (``keras_peer``: Keras 3 on JAX, float64).

``keras.<function>`` specs call the function, ``keras.<Class>`` specs the loss' ``call``
(per-sample losses; Keras applies the reduction).  The Keras drop-ins are compositions of
core losses, each of which has its own entry on every backend; these entries check the
composition (Keras' arguments, options and per-sample values) and are run on NumPy, JAX and
torch (Keras' own backends and the reference): array-api-strict and Dask add nothing the
core entries do not check.  Probability inputs (``from_logits=False``) have no extremes
check: Keras clips them to [1e-7, 1 - 1e-7] where xlosses' logs are exact
(docs/decisions.md).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from scipy.special import expit, softmax

import xlosses

from ..spec import Inputs, Spec, register
from ._inputs import NUM_CLASSES, class_indices, logits
from ._peers import keras_peer

C = NUM_CLASSES
BACKENDS = ("numpy", "jax", "torch")


def _regression(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Positive targets and predictions (MAPE, MSLE and Poisson need them)."""
    t = rng.random((*batch, C)) + 0.2
    p = (rng.random((*batch, C)) + 0.2) * v.get("scale", 1.0)
    return Inputs([t, p], _options(v))


def _real(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    return Inputs([rng.normal(size=(*batch, C)), logits(rng, (*batch, C), v)], _options(v))


def _predictions(rng: np.random.Generator, shape: tuple[int, ...], v: dict[str, Any], to_prob):
    """Logits (scaled by the extremes check), or probabilities in [0.01, 0.99] (rows of
    softmax mixed with 10 % of the uniform): Keras' clip to [1e-7, 1 - 1e-7] is inactive
    there, and finite differences of ``log p`` stay finite.  Probabilities are not scaled:
    they have no extremes (docs/decisions.md: exact logs where Keras clips)."""
    if v.get("from_logits") or v.get("scores"):
        return logits(rng, shape, v)
    p = to_prob(logits(rng, shape, {}))
    return 0.98 * p + 0.01 if to_prob is expit else 0.9 * p + 0.1 / shape[-1]


def _binary(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = _predictions(rng, (*batch, C), v, expit)
    t = (rng.random(x.shape) < 0.5).astype(np.float64)
    kw = _options(v)
    if v.get("logits_only"):  # the option is the builder's, not the loss'
        kw.pop("from_logits")
    return Inputs([t, x], kw)


def _softmax(x: np.ndarray) -> np.ndarray:
    return softmax(x, -1)


def _onehot(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = _predictions(rng, (*batch, C), v, _softmax)
    t = np.eye(C)[class_indices(rng, batch, C)]
    return Inputs([t, x], _options(v))


def _sparse(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = _predictions(rng, (*batch, C), v, _softmax)
    return Inputs([class_indices(rng, batch, C), x], _options(v))


def _distributions(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    t = rng.dirichlet(np.ones(C), size=batch)
    return Inputs([t, _predictions(rng, (*batch, C), v, _softmax)], _options(v))


def _sequences(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Labels ``[batch, 3]`` in 1..C-1 padded with 0 (the blank) at the end, logits ``[batch, 6, C]``."""
    n = int(np.prod(batch))
    lengths = rng.integers(1, 4, n)
    labels = rng.integers(1, C, (n, 3)) * (np.arange(3) < lengths[:, None])
    return Inputs([labels, logits(rng, (n, 6, C), v)], _options(v))


def _embeddings(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Labels ``[n]`` (classes of about two members) and embeddings ``[n, 4]`` of norm
    ``v["norm"]`` (Keras' circle expects L2-normalised embeddings and one batch).  Self-pairs
    (``remove_diagonal=False``) of unit vectors sit on the kink of Keras' clip of the cosine
    distance at 0, where finite differences do not give a derivative: norm 0.95 there."""
    n = int(np.prod(batch))
    e = rng.standard_normal((n, 4))
    e = e * (v.get("norm", 1.0) / np.linalg.norm(e, axis=-1, keepdims=True))
    return Inputs([rng.integers(0, max(2, n // 2), n), e], _options(v))


def _options(v: dict[str, Any]) -> dict[str, Any]:
    return {k: w for k, w in v.items() if k not in ("scale", "scores", "logits_only", "norm")}


# (function, class, inputs, variants (the first is the quick run's), extremes)
TABLE: list[tuple[str, str, Any, tuple[dict[str, Any], ...], bool]] = [
    ("mean_squared_error", "MeanSquaredError", _regression, ({},), True),
    ("mean_absolute_error", "MeanAbsoluteError", _regression, ({},), True),
    ("mean_absolute_percentage_error", "MeanAbsolutePercentageError", _regression, ({},), True),
    ("mean_squared_logarithmic_error", "MeanSquaredLogarithmicError", _regression, ({},), True),
    ("poisson", "Poisson", _regression, ({},), True),
    ("cosine_similarity", "CosineSimilarity", _real, ({}, {"axis": 0}), True),
    ("huber", "Huber", _real, ({}, {"delta": 0.3}), True),
    ("log_cosh", "LogCosh", _real, ({},), True),
    ("hinge", "Hinge", _binary, ({"from_logits": True, "logits_only": True},), True),
    ("squared_hinge", "SquaredHinge", _binary, ({"from_logits": True, "logits_only": True},), True),
    ("categorical_hinge", "CategoricalHinge", _onehot, ({"scores": True},), True),
    ("kl_divergence", "KLDivergence", _distributions, ({},), False),
    (
        "binary_crossentropy",
        "BinaryCrossentropy",
        _binary,
        ({"from_logits": True}, {"label_smoothing": 0.2}, {"from_logits": True, "axis": 0}),
        True,
    ),
    (
        "binary_focal_crossentropy",
        "BinaryFocalCrossentropy",
        _binary,
        (
            {"from_logits": True, "apply_class_balancing": True},
            {"gamma": 0.5, "label_smoothing": 0.1},
            {"from_logits": True, "alpha": 0.6, "gamma": 0.0},
        ),
        True,
    ),
    (
        "categorical_crossentropy",
        "CategoricalCrossentropy",
        _onehot,
        ({"from_logits": True}, {"label_smoothing": 0.2}, {"from_logits": True, "axis": 0}),
        True,
    ),
    (
        "sparse_categorical_crossentropy",
        "SparseCategoricalCrossentropy",
        _sparse,
        ({"from_logits": True}, {}, {"from_logits": True, "ignore_class": 1}),
        True,
    ),
    (
        "categorical_focal_crossentropy",
        "CategoricalFocalCrossentropy",
        _onehot,
        ({"from_logits": True}, {"alpha": 1.0, "gamma": 0.5, "label_smoothing": 0.1}),
        True,
    ),
    (
        "categorical_generalized_cross_entropy",
        "CategoricalGeneralizedCrossEntropy",
        _sparse,
        ({"q": 0.5}, {"q": 0.8}),
        False,
    ),
    ("ctc", "CTC", _sequences, ({},), True),
    (
        "circle",
        "Circle",
        _embeddings,
        ({}, {"gamma": 16.0, "margin": 0.3}, {"remove_diagonal": False, "norm": 0.95}),
        False,
    ),
    ("dice", "Dice", _binary, ({"axis": -1}, {}), False),
    ("tversky", "Tversky", _binary, ({"axis": -1}, {"alpha": 0.3, "beta": 0.7, "axis": -1}), False),
]


def _keras_specs() -> list[Spec]:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        from xlosses import keras as xk
    except ImportError:
        return []

    built: dict[Any, Any] = {}  # built outside compiled code after the first (eager) call

    def class_call(cls: type) -> Any:
        def fn(y_true: Any, y_pred: Any, **kw: Any) -> Any:
            key = (cls, *kw.items())  # the builders give the options in one order
            if key not in built:
                built[key] = cls(**kw)
            return built[key].call(y_true, y_pred)

        fn.__name__ = cls.__name__
        return fn

    def peer_function(name: str) -> Any:
        def call(losses: Any, *args: Any, **kw: Any) -> Any:
            return getattr(losses, name)(*args, **kw)

        call.__name__ = name
        return keras_peer(call)

    def peer_class(name: str) -> Any:
        def call(losses: Any, *args: Any, **kw: Any) -> Any:
            return getattr(losses, name)(**kw).call(*args)

        call.__name__ = name
        return keras_peer(call)

    specs = []
    for fname, cname, make, variants, extremes in TABLE:
        common = {
            "make": make,
            "differentiable": (1,),
            "variants": variants,
            "backends": BACKENDS,
            "extreme_scales": (1e4,) if extremes and variants[0].get("from_logits", True) else (),
            "oracle_name": "keras.losses (JAX, float64)",
        }
        specs.append(
            Spec(
                f"keras.{fname}",
                getattr(xk, fname),
                oracle=peer_function(fname),
                **common,
            )
        )
        specs.append(
            Spec(
                f"keras.{cname}",
                class_call(getattr(xk, cname)),
                oracle=peer_class(cname),
                **common,
            )
        )

    def generic(y_true: Any, y_pred: Any) -> Any:
        if "Loss" not in built:
            built["Loss"] = xk.Loss(xlosses.sigmoid_binary_cross_entropy)
        return built["Loss"].call(y_true, y_pred)

    def per_entry_bce(losses: Any, t: Any, x: Any) -> Any:  # Keras' mean over a size-1 axis
        return losses.binary_crossentropy(t[..., None], x[..., None], from_logits=True)

    specs.append(
        Spec(
            "keras.Loss",
            generic,
            _binary,
            differentiable=(1,),
            variants=({"from_logits": True, "logits_only": True},),
            backends=BACKENDS,
            oracle=keras_peer(per_entry_bce),
            oracle_name="keras.losses.binary_crossentropy(from_logits=True) per entry",
        )
    )
    return specs


SPECS = _keras_specs()
register(*SPECS)
# the drop-ins' spec names: the test suite runs them in its sweep session (tests/test_conformance.py)
NAMES = frozenset(s.name for s in SPECS)
