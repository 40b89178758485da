"""Conformance entries of the classification family."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, log_expit, log_softmax

import xlosses

from ..spec import Inputs, PeerUnavailable, Spec, optax_peer, register
from ._inputs import NUM_CLASSES, binary_targets, class_indices, logits, mask, probabilities
from ._peers import keras_peer

C = NUM_CLASSES


def _soft_ce_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, C), v)
    kw: dict[str, Any] = {}
    if v.get("where") == "rows":
        kw["where"] = mask(rng, batch, keep_first=False)
    elif v.get("where") == "entries":
        kw["where"] = mask(rng, (*batch, C))
    if "epsilon" in v:
        kw["epsilon"] = v["epsilon"]
    return Inputs([x, probabilities(rng, (*batch, C))], kw)


def _int_ce_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    if v.get("axis") == "tuple":
        x = logits(rng, (*batch, 3, 4), v)
        return Inputs([x, class_indices(rng, batch, 12)], {"axis": (-2, -1)})
    x = logits(rng, (*batch, C), v)
    kw: dict[str, Any] = {}
    if v.get("where") == "rows":
        kw["where"] = mask(rng, batch, keep_first=False)
    elif v.get("where") == "entries":
        kw["where"] = mask(rng, (*batch, C))
    if "epsilon" in v:
        kw["epsilon"] = v["epsilon"]
    return Inputs([x, class_indices(rng, batch, C)], kw)


def _binary_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, C), v)
    kw = {k: v[k] for k in ("alpha", "gamma", "epsilon") if k in v}
    return Inputs([x, binary_targets(rng, (*batch, C), soft=v.get("soft", False))], kw)


def _safe_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, C), v)
    y = probabilities(rng, (*batch, C))
    if v.get("neg_inf"):
        # one class impossible (-inf logit) with label 0 in every row
        x[..., 1] = -np.inf
        y[..., 1] = 0.0
        y[..., 0] += y.sum(-1) == 0  # a row that was one-hot on class 1 moves to class 0
        y = y / y.sum(-1, keepdims=True)
    return Inputs([x, y])


def _row_mask_peer(name: str):
    """optax oracle for losses whose optax version only takes masks of the logits' shape."""
    peer = optax_peer(name)

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        w = kwargs.get("where")
        if w is not None and w.ndim < args[0].ndim:
            kwargs = {**kwargs, "where": np.broadcast_to(w[..., None], args[0].shape)}
        return peer(args, kwargs)

    return oracle


def _one_hot_peer(name: str):
    """optax oracle for integer labels of a loss that optax only takes with one-hot labels."""
    peer = optax_peer(name)

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        x, labels = args
        return peer([x, np.eye(x.shape[-1])[labels]], kwargs)

    return oracle


def _poly_focal_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """The PolyLoss paper's reference formula, in float64 linear space."""
    x, y = args
    eps = kwargs.get("epsilon", 1.0)
    alpha = kwargs.get("alpha", 0.25)
    gamma = kwargs.get("gamma", 2.0)
    p = expit(x)
    bce = -(y * log_expit(x) + (1 - y) * log_expit(-x))
    pt = y * p + (1 - y) * (1 - p)
    fl = bce * (1 - pt) ** gamma
    if alpha is not None and alpha >= 0:
        fl = (alpha * y + (1 - alpha) * (1 - y)) * fl
    return fl + eps * (1 - pt) ** (gamma + 1)


register(
    Spec(
        "softmax_cross_entropy",
        xlosses.softmax_cross_entropy,
        _soft_ce_inputs,
        differentiable=(0, 1),
        variants=({}, {"where": "rows"}, {"where": "entries"}),
        oracle=optax_peer("softmax_cross_entropy"),
        oracle_name="optax",
    ),
    Spec(
        "softmax_cross_entropy_with_integer_labels",
        xlosses.softmax_cross_entropy_with_integer_labels,
        _int_ce_inputs,
        differentiable=(0,),
        variants=({}, {"where": "rows"}, {"where": "entries"}, {"axis": "tuple"}),
        oracle=optax_peer("softmax_cross_entropy_with_integer_labels"),
        oracle_name="optax",
    ),
    Spec(
        "safe_softmax_cross_entropy",
        xlosses.safe_softmax_cross_entropy,
        _safe_inputs,
        differentiable=(0,),
        variants=({}, {"neg_inf": True}),
        oracle=optax_peer("safe_softmax_cross_entropy"),
        oracle_name="optax",
    ),
    Spec(
        "sigmoid_binary_cross_entropy",
        xlosses.sigmoid_binary_cross_entropy,
        _binary_inputs,
        differentiable=(0, 1),
        variants=({}, {"soft": True}),
        oracle=optax_peer("sigmoid_binary_cross_entropy"),
        oracle_name="optax",
    ),
    Spec(
        "sigmoid_focal_loss",
        xlosses.sigmoid_focal_loss,
        _binary_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"soft": True},
            {"alpha": 0.25, "gamma": 2.0},
            {"gamma": 0.0},
            {"gamma": 0.5, "soft": True},
        ),
        oracle=optax_peer("sigmoid_focal_loss"),
        oracle_name="optax",
    ),
    Spec(
        "poly_loss_cross_entropy",
        xlosses.poly_loss_cross_entropy,
        _soft_ce_inputs,
        differentiable=(0,),
        variants=({}, {"epsilon": -1.0}, {"where": "rows"}, {"where": "entries"}),
        oracle=_row_mask_peer("poly_loss_cross_entropy"),
        oracle_name="optax (row masks broadcast to entries)",
    ),
    Spec(
        "poly_loss_cross_entropy[integer labels]",
        xlosses.poly_loss_cross_entropy,
        _int_ce_inputs,
        differentiable=(0,),
        variants=({}, {"epsilon": -1.0}),
        oracle=_one_hot_peer("poly_loss_cross_entropy"),
        oracle_name="optax (one-hot labels)",
    ),
    Spec(
        "poly_loss_sigmoid_focal",
        xlosses.poly_loss_sigmoid_focal,
        _binary_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"soft": True},
            {"alpha": None},
            {"alpha": -1.0, "gamma": 0.5, "epsilon": -1.0},
        ),
        oracle=_poly_focal_reference,
        oracle_name="float64 formula (PolyLoss reference code)",
    ),
)


# -- issue #22: softmax focal losses, generalized cross-entropy ------------------------------


def _focal_options(rng: np.random.Generator, v: dict[str, Any], kw: dict[str, Any]) -> None:
    """``alpha`` (a number, or "per-class": an array of C weights) and ``gamma`` of ``v``."""
    if v.get("alpha") == "per-class":
        kw["alpha"] = rng.uniform(0.2, 2.0, C)
    elif "alpha" in v:
        kw["alpha"] = v["alpha"]
    if "gamma" in v:
        kw["gamma"] = v["gamma"]


def _softmax_focal_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]):
    inputs = _soft_ce_inputs(rng, batch, v)
    _focal_options(rng, v, inputs.kwargs)
    return inputs


def _int_focal_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]):
    inputs = _int_ce_inputs(rng, batch, v)
    _focal_options(rng, v, inputs.kwargs)
    if "q" in v:
        inputs.kwargs["q"] = v["q"]
    return inputs


def _entry_mask(x: np.ndarray, where: Any) -> np.ndarray:
    """optax's ``where``: a mask of the batch shape applies to whole rows."""
    if where is None:
        return np.ones(x.shape, dtype=bool)
    return np.broadcast_to(where[..., None] if where.ndim < x.ndim else where, x.shape)


def _softmax_focal_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """Lin et al.'s -Σ α_j (1 - p_j)^γ y_j log p_j, float64 linear space, entries left out
    of the softmax where ``where`` is False."""
    x, y = args
    m = _entry_mask(x, kwargs.get("where"))
    with np.errstate(invalid="ignore"):  # an empty row: log_softmax of all -inf
        lp = np.where(m, log_softmax(np.where(m, x, -np.inf), axis=-1), 0.0)
    terms = -((1.0 - np.exp(lp)) ** kwargs.get("gamma", 2.0)) * y * lp
    alpha = kwargs.get("alpha")
    return np.where(m, terms if alpha is None else alpha * terms, 0.0).sum(-1)


def _kornia_focal(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """kornia.losses.focal_loss (class axis 1, reduction='none') summed over the classes:
    a per-class α is its ``weight``, a number multiplies the result (kornia's own scalar α
    means [1 - α, α, …]), rows left out by ``where`` are its ``ignore_index``."""
    try:
        import kornia
        import torch
    except ImportError as exc:
        raise PeerUnavailable("kornia") from exc
    x, labels = args
    if kwargs.get("axis") is not None:  # a tuple of class axes: flat C-order indices
        x = x.reshape(*labels.shape, -1)
    where = kwargs.get("where")
    if where is not None:
        labels = np.where(where, labels, -100)
    alpha = kwargs.get("alpha")
    weight = torch.from_numpy(alpha) if isinstance(alpha, np.ndarray) else None
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
    out = kornia.losses.focal_loss(
        xt,
        torch.from_numpy(labels),
        alpha=None,
        gamma=kwargs.get("gamma", 2.0),
        reduction="none",
        weight=weight,
    )
    out = out.sum(1).double().numpy()
    return out * alpha if isinstance(alpha, float) else out


def _keras_gce(K: Any, x: Any, labels: Any, q: float = 0.5, where: Any = None) -> Any:
    import jax
    import jax.numpy as jnp

    out = K.categorical_generalized_cross_entropy(labels, jax.nn.softmax(x, axis=-1), q)
    return out if where is None else jnp.where(where, out, 0.0)


def _gce_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """Σ_j y_j (1 - p_j^q)/q in float64, entries left out where ``where`` is False."""
    x, y = args
    m = _entry_mask(x, kwargs.get("where"))
    with np.errstate(invalid="ignore"):
        lp = np.where(m, log_softmax(np.where(m, x, -np.inf), axis=-1), 0.0)
    q = kwargs.get("q", 0.5)
    return np.where(m, y * (1.0 - np.exp(q * lp)) / q, 0.0).sum(-1)


register(
    Spec(
        "softmax_focal_loss",
        xlosses.softmax_focal_loss,
        _softmax_focal_inputs,
        differentiable=(0, 1),
        variants=(
            {},
            {"alpha": 0.25, "gamma": 0.5},
            {"alpha": "per-class", "gamma": 1.5},
            {"gamma": 0.0},
            {"where": "rows"},
            {"where": "entries", "gamma": 0.5},
        ),
        oracle=_softmax_focal_reference,
        oracle_name="float64 formula (Lin et al.; Keras, MONAI: tests/test_keras_peers.py, "
        "tests/test_classification.py)",
    ),
    Spec(
        "softmax_focal_loss_with_integer_labels",
        xlosses.softmax_focal_loss_with_integer_labels,
        _int_focal_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"alpha": 0.25, "gamma": 0.5},
            {"alpha": "per-class", "gamma": 1.5},
            {"gamma": 0.0},
            {"where": "rows"},
            {"axis": "tuple"},
        ),
        oracle=_kornia_focal,
        oracle_name="kornia.losses.focal_loss (class axis 1, summed over it)",
    ),
    Spec(
        "generalized_cross_entropy",
        xlosses.generalized_cross_entropy,
        _int_focal_inputs,
        differentiable=(0,),
        variants=({}, {"q": 0.7}, {"q": 1.0}, {"where": "rows"}),
        oracle=keras_peer(_keras_gce),
        oracle_name="keras.losses.categorical_generalized_cross_entropy of softmax(logits)",
    ),
    Spec(
        "generalized_cross_entropy[probability labels]",
        xlosses.generalized_cross_entropy,
        _soft_ce_inputs,
        differentiable=(0, 1),
        variants=({}, {"where": "entries"}, {"where": "rows"}),
        oracle=_gce_reference,
        oracle_name="float64 formula (Zhang and Sabuncu, expectation over the labels)",
    ),
)
