"""Conformance entries of the framework adapters: ``xlosses.torch`` and ``xlosses.keras``.

``torch.<Class>`` specs call a fresh module on torch tensors (its forward,
reduction included) and compare with the PolyLoss paper's reference code
written in ``torch.nn.functional`` (float64).  ``keras.<Class>`` specs call
the loss' ``call(y_true, y_pred)`` (per-sample losses; Keras applies the
reduction) on every backend.  A spec is registered only where its framework
imports: torch for the modules, Keras on its JAX (default here) or torch
backend for the Keras losses.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, PeerUnavailable, Spec, optax_peer, register
from ._inputs import NUM_CLASSES, binary_targets, class_indices, logits, probabilities

C = NUM_CLASSES


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a test dependency
        raise PeerUnavailable("torch") from exc
    return torch


def _tensors(args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    torch = _torch()

    def conv(a: Any) -> Any:
        return torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a

    return [conv(a) for a in args], {k: conv(v) for k, v in kwargs.items()}


def _reduce_reference(loss: Any, reduction: str, normalizer: Any = None) -> np.ndarray:
    if reduction == "sum":
        loss = loss.sum()
    elif reduction == "mean":
        loss = loss.sum() / normalizer if normalizer is not None else loss.mean()
    return loss.detach().double().numpy()


# -- reference formulas (torch.nn.functional, float64) ---------------------------------------


def poly1_cross_entropy_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """The PolyLoss paper's reference code, the class weight carried by both terms."""
    (x, labels), kw = _tensors(args, kwargs)
    tf = _torch().nn.functional
    w = kw.get("weight")
    ce = tf.cross_entropy(x, labels, weight=w, reduction="none")
    pt = tf.softmax(x, dim=1).gather(1, labels.unsqueeze(1)).squeeze(1)
    wy = w[labels] if w is not None else None
    poly = ce + kw.get("epsilon", 1.0) * (1 - pt) * (1.0 if wy is None else wy)
    return _reduce_reference(
        poly, kw.get("reduction", "none"), wy.sum() if wy is not None else None
    )


def _poly_focal_terms(x: Any, y: Any, kw: dict[str, Any]) -> Any:
    """Element-wise Poly-1 focal loss of the reference code (``epsilon=0``: the focal loss)."""
    torch = _torch()
    alpha, gamma = kw.get("alpha", 0.25), kw.get("gamma", 2.0)
    p = torch.sigmoid(x)
    pt = y * p + (1 - y) * (1 - p)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    fl = bce * (1 - pt) ** gamma
    if alpha is not None and alpha >= 0:
        fl = (alpha * y + (1 - alpha) * (1 - y)) * fl
    return fl + kw.get("epsilon", 1.0) * (1 - pt) ** (gamma + 1)


def poly1_focal_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """The PolyLoss paper's reference code for the Poly-1 focal loss (one-hot on axis 1)."""
    (x, labels), kw = _tensors(args, kwargs)
    torch = _torch()
    y = torch.movedim(torch.nn.functional.one_hot(labels, x.shape[1]), -1, 1).to(x.dtype)
    return _reduce_reference(_poly_focal_terms(x, y, kw), kw.get("reduction", "none"))


def sigmoid_focal_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """torchvision's ``sigmoid_focal_loss``, written out."""
    (x, y), kw = _tensors(args, kwargs)
    loss = _poly_focal_terms(x, y, {**kw, "epsilon": 0.0})
    return _reduce_reference(loss, kw.get("reduction", "none"))


def keras_poly1_focal_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """The reference code on Keras' layout: classes last, averaged over them."""
    y_true, y_pred = args
    if y_true.ndim < y_pred.ndim:
        y_true = np.eye(y_pred.shape[-1])[y_true]
    (x, y), kw = _tensors([y_pred, y_true], kwargs)
    return _poly_focal_terms(x, y, kw).mean(-1).double().numpy()


def keras_poly1_cross_entropy_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """optax's ``poly_loss_cross_entropy`` with one-hot labels."""
    y_true, y_pred = args
    if y_true.ndim < y_pred.ndim:
        y_true = np.eye(y_pred.shape[-1])[y_true]
    # optax's default epsilon is 2.0, the Keras loss' (the reference code's) 1.0
    return optax_peer("poly_loss_cross_entropy")([y_pred, y_true], {"epsilon": 1.0, **kwargs})


def generic_loss_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """``Loss(xlosses.softmax_cross_entropy)`` is torch's cross-entropy with probabilities."""
    (x, y), kw = _tensors(args, kwargs)
    red = kw.get("reduction", "mean")
    return _torch().nn.functional.cross_entropy(x, y, reduction=red).double().numpy()


# -- inputs ---------------------------------------------------------------------------------


def _index_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Logits ``[N, C, d1, ...]`` and labels ``[N, d1, ...]`` (torch's layout)."""
    x = logits(rng, (batch[0], C, *batch[1:]), v)
    kw = {k: v[k] for k in ("epsilon", "alpha", "gamma", "reduction") if k in v}
    if v.get("weight"):
        kw["weight"] = rng.uniform(0.2, 3.0, C)
    return Inputs([x, class_indices(rng, batch, C)], kw)


def _binary_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, C), v)
    kw = {k: v[k] for k in ("alpha", "gamma", "reduction") if k in v}
    return Inputs([x, binary_targets(rng, (*batch, C), soft=v.get("soft", False))], kw)


def _soft_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    kw = {k: v[k] for k in ("reduction",) if k in v}
    return Inputs([logits(rng, (*batch, C), v), probabilities(rng, (*batch, C))], kw)


# -- torch modules --------------------------------------------------------------------------


def _torch_specs() -> list[Spec]:
    try:
        from xlosses import torch as xt
    except ImportError:
        return []

    def poly1_ce(x: Any, labels: Any, **kw: Any) -> Any:
        return xt.Poly1CrossEntropyLoss(C, **kw)(x, labels)  # the builders' class count

    def poly1_focal(x: Any, labels: Any, **kw: Any) -> Any:
        return xt.Poly1FocalLoss(C, **kw)(x, labels)

    def sigmoid_focal(x: Any, y: Any, **kw: Any) -> Any:
        return xt.SigmoidFocalLoss(**kw)(x, y)

    def generic(x: Any, y: Any, **kw: Any) -> Any:
        return xt.Loss(xlosses.softmax_cross_entropy, axis=-1, **kw)(x, y)

    common: dict[str, Any] = {"backends": ("torch", "torch_cuda"), "oracle_name": "torch reference"}
    return [
        Spec(
            "torch.Poly1CrossEntropyLoss",
            poly1_ce,
            _index_inputs,
            differentiable=(0,),
            variants=(
                {},
                {"epsilon": -1.0, "weight": True},
                {"epsilon": 2.0, "weight": True, "reduction": "mean"},
                {"reduction": "sum"},
            ),
            oracle=poly1_cross_entropy_reference,
            **common,
        ),
        Spec(
            "torch.Poly1FocalLoss",
            poly1_focal,
            _index_inputs,
            differentiable=(0,),
            variants=({}, {"alpha": -1.0, "gamma": 0.5, "epsilon": -1.0}, {"reduction": "mean"}),
            oracle=poly1_focal_reference,
            **common,
        ),
        Spec(
            "torch.SigmoidFocalLoss",
            sigmoid_focal,
            _binary_inputs,
            differentiable=(0,),
            variants=({}, {"soft": True, "gamma": 1.5, "reduction": "sum"}, {"alpha": -1.0}),
            oracle=sigmoid_focal_reference,
            **common,
        ),
        Spec(
            "torch.Loss",
            generic,
            _soft_inputs,
            differentiable=(0,),
            variants=({}, {"reduction": "none"}, {"reduction": "sum"}),
            batch_shapes=((6,),),
            oracle=generic_loss_reference,
            **common,
        ),
    ]


# -- Keras losses ---------------------------------------------------------------------------


def _keras_specs() -> list[Spec]:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        from xlosses import keras as xk
    except ImportError:
        return []

    built: dict[Any, Any] = {}  # built outside compiled code after the first (eager) call

    def keras_call(cls: type) -> Any:
        def fn(y_true: Any, y_pred: Any, **kw: Any) -> Any:
            # the builders give the options in one order; no sorting: under a dynamic-shape
            # compile the option values are symbols, which Python cannot sort
            key = (cls, *kw.items())
            if key not in built:
                built[key] = cls(**kw)
            return built[key].call(y_true, y_pred)

        return fn

    def swap(make: Any) -> Any:
        def swapped(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
            inputs = make(rng, batch, v)
            return Inputs(inputs.args[::-1], inputs.kwargs)

        return swapped

    def sparse_inputs(
        rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]
    ) -> Inputs:
        kw = {k: v[k] for k in ("epsilon", "alpha", "gamma") if k in v}
        return Inputs([class_indices(rng, batch, C), logits(rng, (*batch, C), v)], kw)

    return [
        Spec(
            "keras.Poly1CrossEntropy",
            keras_call(xk.Poly1CrossEntropy),
            sparse_inputs,
            differentiable=(1,),
            variants=({}, {"epsilon": -1.0}, {"epsilon": 2.0}),
            oracle=keras_poly1_cross_entropy_reference,
            oracle_name="optax (one-hot labels)",
        ),
        Spec(
            "keras.Poly1CrossEntropy[one-hot]",
            keras_call(xk.Poly1CrossEntropy),
            swap(_soft_inputs),
            differentiable=(1,),
            oracle=keras_poly1_cross_entropy_reference,
            oracle_name="optax",
        ),
        Spec(
            "keras.Poly1Focal",
            keras_call(xk.Poly1Focal),
            sparse_inputs,
            differentiable=(1,),
            variants=({}, {"alpha": -1.0, "gamma": 0.5, "epsilon": -1.0}),
            oracle=keras_poly1_focal_reference,
            oracle_name="torch reference (mean over classes)",
        ),
    ]


register(*_torch_specs(), *_keras_specs())
