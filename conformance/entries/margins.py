"""Conformance entries of the margins family."""

from __future__ import annotations

from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, Spec, optax_peer, optax_peer_grad, register, torch_peer, torch_peer_grad
from ._inputs import NUM_CLASSES, class_indices, logits, probabilities
from ._peers import keras_peer

C = NUM_CLASSES


def _binary(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, C), v)
    return Inputs([x, np.where(rng.random((*batch, C)) < 0.5, -1.0, 1.0)])


def _multiclass(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    kw = {k: v[k] for k in ("p", "margin") if k in v}
    if v.get("weight"):
        kw["weight"] = rng.uniform(0.2, 2.0, C)
    return Inputs([logits(rng, (*batch, C), v), class_indices(rng, batch, C)], kw)


def multilabel_targets(rng: np.random.Generator, batch: tuple[int, ...]) -> np.ndarray:
    """torch's format: k distinct classes, then -1, then junk in [-1, C) (ignored)."""
    rows = []
    for _ in range(int(np.prod(batch))):
        k = int(rng.integers(0, C + 1))
        row = np.concatenate([rng.permutation(C)[:k], [-1] * (C - k)])
        if k < C - 1:
            row[k + 1 :] = rng.integers(-1, C, C - k - 1)
        rows.append(row)
    return np.array(rows, dtype=np.int64).reshape(*batch, C)


def _multilabel(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    return Inputs([logits(rng, (*batch, C), v), multilabel_targets(rng, batch)])


# -- inputs exactly at the kinks and ties (the derivative convention vs the peer's) -----------


def _binary_kinks(offset: float):
    """``1 - s·t = 0`` (hinge, ``offset`` 1) or ``-s·t = 0`` (perceptron, ``offset`` 0)."""

    def make(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
        t = np.where(rng.random((*batch, C)) < 0.5, -1.0, 1.0)
        return Inputs([offset * t, t])

    return make


def _tied_scores(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Every score equal (ties of the maximum), or the label's one higher by the margin 1
    (``s_j + 1 - [j = y]`` tied across all classes)."""
    y = class_indices(rng, batch, C)
    x = np.zeros((*batch, C))
    if v.get("label_ahead"):
        np.put_along_axis(x, y[..., None], 1.0, axis=-1)
    return Inputs([x, y])


def _margin_kinks(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """``margin - s_y + s_j = 0`` for every other class: ``s_y = margin``, the rest 0
    (rows ``[N, C]``: torch's layout)."""
    margin = v.get("margin", 1.0)
    y = class_indices(rng, batch, C)
    x = np.zeros((*batch, C))
    np.put_along_axis(x, y[..., None], margin, axis=-1)
    kw = {k: v[k] for k in ("p", "margin") if k in v}
    return Inputs([x, y], kw)


def _multilabel_kinks(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]):
    """``1 - s_t + s_j = 0``: the listed classes score 1, the others 0."""
    t = multilabel_targets(rng, batch)
    x = np.zeros((*batch, C))
    listed = np.cumsum(t < 0, axis=-1) == 0
    for idx in np.ndindex(*batch):
        x[idx][t[idx][listed[idx]]] = 1.0
    return Inputs([x, t])


def _rows_of_torch(name: str):
    """torch oracle for per-example losses that torch takes only as (N, C) batches."""
    peer = torch_peer(name, reduction="none")

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        x, y = args
        batch = x.shape[:-1]
        flat_y = y.reshape(-1, C) if y.ndim == x.ndim else y.reshape(-1)
        return peer([x.reshape(-1, C), flat_y], kwargs).reshape(batch)

    return oracle


register(
    Spec(
        "hinge_loss",
        xlosses.hinge_loss,
        _binary,
        differentiable=(0,),
        oracle=optax_peer("hinge_loss"),
        oracle_name="optax",
        kinks=_binary_kinks(1.0),
        kink_peer=optax_peer_grad("hinge_loss"),
    ),
    Spec(
        "perceptron_loss",
        xlosses.perceptron_loss,
        _binary,
        differentiable=(0,),
        oracle=optax_peer("perceptron_loss"),
        oracle_name="optax",
        kinks=_binary_kinks(0.0),
        kink_peer=optax_peer_grad("perceptron_loss"),
    ),
    Spec(
        "multiclass_hinge_loss",
        xlosses.multiclass_hinge_loss,
        _multiclass,
        differentiable=(0,),
        oracle=optax_peer("multiclass_hinge_loss"),
        oracle_name="optax",
        kinks=_tied_scores,
        kink_variants=({}, {"label_ahead": True}),
        kink_peer=optax_peer_grad("multiclass_hinge_loss"),
    ),
    Spec(
        "multiclass_perceptron_loss",
        xlosses.multiclass_perceptron_loss,
        _multiclass,
        differentiable=(0,),
        oracle=optax_peer("multiclass_perceptron_loss"),
        oracle_name="optax",
        kinks=_tied_scores,
        kink_peer=optax_peer_grad("multiclass_perceptron_loss"),
    ),
    Spec(
        "multi_margin_loss",
        xlosses.multi_margin_loss,
        _multiclass,
        differentiable=(0,),
        variants=({}, {"p": 2}, {"margin": 0.5}, {"weight": True, "p": 2, "margin": 2.0}),
        oracle=_rows_of_torch("multi_margin_loss"),
        oracle_name="torch.nn.functional.multi_margin_loss (reduction='none')",
        extreme_scales=(1e3,),  # with p=2 the gradient overflows float16 beyond
        kinks=_margin_kinks,
        kink_variants=({}, {"p": 2}, {"margin": 0.5}),
        kink_peer=torch_peer_grad("multi_margin_loss", reduction="none"),
    ),
    Spec(
        "multilabel_margin_loss",
        xlosses.multilabel_margin_loss,
        _multilabel,
        differentiable=(0,),
        oracle=_rows_of_torch("multilabel_margin_loss"),
        oracle_name="torch.nn.functional.multilabel_margin_loss (reduction='none')",
        kinks=_multilabel_kinks,
        kink_peer=torch_peer_grad("multilabel_margin_loss", reduction="none"),
    ),
)


# -- issue #22: Keras' squared and categorical hinge ----------------------------------------


def _keras_binary(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    bits = (rng.random((*batch, C)) < 0.5).astype(np.float64)
    return Inputs([logits(rng, (*batch, C), v), bits if v.get("labels") == "01" else 2 * bits - 1])


def _keras_onehot(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    y = (
        probabilities(rng, (*batch, C))
        if v.get("soft")
        else np.eye(C)[class_indices(rng, batch, C)]
    )
    return Inputs([logits(rng, (*batch, C), v), y])


def _keras_squared_hinge(K: Any, scores: Any, labels: Any) -> Any:
    return K.squared_hinge(labels, scores)


def _keras_categorical_hinge(K: Any, scores: Any, labels: Any) -> Any:
    return K.categorical_hinge(labels, scores)


register(
    Spec(
        "squared_hinge_loss",
        xlosses.squared_hinge_loss,
        _keras_binary,
        differentiable=(0,),
        variants=({}, {"labels": "01"}),
        oracle=keras_peer(_keras_squared_hinge),
        oracle_name="keras.losses.squared_hinge",
    ),
    Spec(
        "categorical_hinge_loss",
        xlosses.categorical_hinge_loss,
        _keras_onehot,
        differentiable=(0, 1),
        variants=({}, {"soft": True}),
        oracle=keras_peer(_keras_categorical_hinge),
        oracle_name="keras.losses.categorical_hinge",
    ),
)
