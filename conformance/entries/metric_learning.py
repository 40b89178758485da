"""Conformance entries of the metric-learning family: pytorch-metric-learning (and Keras) as peers.

The peer is the pytorch-metric-learning loss class itself, in float64 on the
CPU, with its default reducer for ``reduction='mean'`` and its
``DoNothingReducer`` (the per-pair or per-row losses it would average) for
``reduction='none'``; it takes one ``[n, dim]`` batch, so leading axes are
looped over.  The class-weight matrix and the proxies are copied into the
loss's parameters.  Label variants build the extremes of a batch: a single
class (no negative pair), classes of one member (no positive pair).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, PeerUnavailable, Spec, register

DIM = 4
NUM_CLASSES = 5


def _labels(rng: np.random.Generator, lead: tuple[int, ...], n: int, v: dict[str, Any]):
    kind = v.get("labels", "pairs")
    if kind == "single_class":
        out = np.zeros((*lead, n))
    elif kind == "singletons":
        out = np.broadcast_to(np.arange(n), (*lead, n))
    else:  # pairs of a class and singletons mixed: every row kind appears
        out = rng.integers(0, max(2, n // 2), (*lead, n))
    return np.array(out, dtype=np.int64)


def _pair_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    *lead, n = batch
    e = rng.standard_normal((*lead, n, DIM)) * v.get("scale", 1.0)
    kw = {k: v[k] for k in v if k not in ("labels", "scale")}
    return Inputs([e, _labels(rng, tuple(lead), n, v)], kw)


def _class_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Embeddings ``[*batch, dim]``, class indices, a weight matrix ``[C, dim]``.

    ``at_class``: each embedding is its class's weight row or its negative (cosines ±1).
    The loss's own ``scale`` option is the variant's ``"s"`` (``"scale"`` scales the inputs
    for the extremes check).
    """
    w = rng.standard_normal((NUM_CLASSES, DIM))
    labels = rng.integers(0, NUM_CLASSES, batch).astype(np.int64)
    if v.get("at_class"):
        sign = np.where(rng.random(batch) < 0.5, 1.0, -1.0)[..., None]
        e = sign * w[labels] * (1.0 + rng.random((*batch, 1)))
    else:
        e = rng.standard_normal((*batch, DIM))
    e = e * v.get("scale", 1.0)
    kw = {k: v[k] for k in v if k not in ("at_class", "scale", "labels", "s")}
    if "s" in v:
        kw["scale"] = v["s"]
    if v.get("labels") == "single_class":
        labels = np.zeros_like(labels)
    return Inputs([e, labels, w], kw)


# -- pytorch-metric-learning as the oracle ----------------------------------------------------


def _pml() -> Any:
    try:
        import torch
        from pytorch_metric_learning import distances, losses, reducers
    except ImportError as exc:
        raise PeerUnavailable("pytorch-metric-learning") from exc
    return torch, losses, distances, reducers


def _unreduced(out: Any, n: int, torch: Any) -> np.ndarray:
    """pytorch-metric-learning's loss dictionary as one ``[n]`` or ``[n, n]`` float64 array."""
    per_pair = np.zeros((n, n))
    per_row = None
    for info in out.values():
        losses, idx, kind = info["losses"], info["indices"], info["reduction_type"]
        if kind == "already_reduced":  # its "no pairs": zero losses
            continue
        values = losses.detach().double().numpy().reshape(-1) if torch.is_tensor(losses) else None
        if kind == "element":  # [n] or [n, 1]
            per_row = values
        elif values is not None and len(values):
            per_pair[idx[0].numpy(), idx[1].numpy()] += values
    if per_row is not None:
        return per_row
    return per_pair


def pml_peer(cls_name: str, *, rows: bool, **fixed: Any):
    """Oracle: ``pytorch_metric_learning.losses.<cls_name>`` over one batch at a time.

    ``rows``: with ``reduction='none'`` the loss has one value per row (else per pair).
    """

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        torch, losses, distances, reducers = _pml()
        e, labels, *rest = args
        kw = dict(kwargs)
        reduction = kw.pop("reduction", "mean")
        options = {**fixed}
        if "temperature" in kw or rest:
            options["temperature"] = kw.pop("temperature", rest[0] if rest else 0.1)
        if "margin" in kw and cls_name == "CircleLoss":
            options["m"] = kw.pop("margin")
        if kw.pop("distance", "euclidean") == "cosine":
            options["distance"] = distances.CosineSimilarity()
        kw.pop("weight_gradient", None)
        options.update(kw)
        if reduction == "none":
            options["reducer"] = reducers.DoNothingReducer()
        loss = getattr(losses, cls_name)(**options)
        lead = e.shape[:-2]
        n = e.shape[-2]
        out = []
        for i in np.ndindex(*lead):
            got = loss(torch.from_numpy(np.array(e[i])), torch.from_numpy(np.array(labels[i])))
            if reduction == "none":
                v = _unreduced(got, n, torch)
                if v.ndim == 1 and not rows:
                    v = np.zeros((n, n))
                if rows and v.ndim == 2:  # "no pairs": pytorch-metric-learning's zero loss
                    v = np.zeros(n)
                out.append(v)
            else:
                out.append(np.asarray(float(got)))
        return np.asarray(out, dtype=np.float64).reshape(
            (*lead, *(() if reduction != "none" else (n,) if rows else (n, n)))
        )

    oracle.__qualname__ = f"pytorch_metric_learning.losses.{cls_name}"
    return oracle


def _class_peer(cls_name: str):
    """ArcFace / CosFace per example (``DoNothingReducer``), proxy-anchor per batch."""

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        torch, losses, _, reducers = _pml()
        e, labels, w = args
        kw = dict(kwargs)
        if cls_name == "ArcFaceLoss" and "margin" in kw:
            kw["margin"] = math.degrees(kw["margin"])  # pytorch-metric-learning takes degrees
        elif cls_name == "ArcFaceLoss":
            kw["margin"] = math.degrees(0.5)
        if cls_name == "ProxyAnchorLoss":
            loss = losses.ProxyAnchorLoss(NUM_CLASSES, DIM, **kw).double()
            loss.proxies.data = torch.from_numpy(np.array(w))
            lead = e.shape[:-2]
            out = [
                float(loss(torch.from_numpy(np.array(e[i])), torch.from_numpy(np.array(labels[i]))))
                for i in np.ndindex(*lead)
            ]
            return np.asarray(out, dtype=np.float64).reshape(lead)
        loss = getattr(losses, cls_name)(
            NUM_CLASSES, DIM, reducer=reducers.DoNothingReducer(), **kw
        ).double()
        loss.W.data = torch.from_numpy(np.array(w.T))
        flat = torch.from_numpy(np.array(e.reshape(-1, DIM)))
        got = loss(flat, torch.from_numpy(np.array(labels.reshape(-1))))
        return got["loss"]["losses"].detach().double().numpy().reshape(labels.shape)

    oracle.__qualname__ = f"pytorch_metric_learning.losses.{cls_name}"
    return oracle


def keras_circle_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """``keras.losses.circle`` per row on the L2-normalised embeddings (Keras takes unit
    vectors as they are), averaged over the non-zero rows like ``keras.losses.Circle``."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError as exc:
        raise PeerUnavailable("keras") from exc
    if keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    e, labels = args
    u = e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-12)
    kw = {k: kwargs[k] for k in ("gamma", "margin") if k in kwargs}
    lead = e.shape[:-2]
    out = []
    for i in np.ndindex(*lead):
        rows = np.asarray(keras.losses.circle(labels[i], u[i], **kw), dtype=np.float64)
        if kwargs.get("reduction") == "none":
            out.append(rows)
        else:
            nz = rows > 0
            out.append(rows[nz].mean() if nz.any() else 0.0)
    return np.asarray(out, dtype=np.float64).reshape((*lead, *np.shape(out[0])))


EXTREMES = ({"labels": "single_class"}, {"labels": "singletons"})
SHAPES = ((8,), (2, 5))

register(
    Spec(
        "contrastive_loss",
        xlosses.contrastive_loss,
        _pair_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"reduction": "none"},
            {"distance": "cosine", "pos_margin": 0.8, "neg_margin": 0.3},
            {"distance": "cosine", "pos_margin": 0.9, "neg_margin": 0.1, "reduction": "none"},
            {"pos_margin": 0.3, "neg_margin": 1.6},
            *EXTREMES,
        ),
        oracle=pml_peer("ContrastiveLoss", rows=False),
        oracle_name="pytorch-metric-learning ContrastiveLoss",
        batch_shapes=SHAPES,
    ),
    Spec(
        "supervised_contrastive_loss",
        xlosses.supervised_contrastive_loss,
        _pair_inputs,
        differentiable=(0,),
        variants=({}, {"temperature": 0.5}, {"reduction": "none"}, *EXTREMES),
        oracle=pml_peer("SupConLoss", rows=True),
        oracle_name="pytorch-metric-learning SupConLoss",
        batch_shapes=SHAPES,
    ),
    # the self-paced weights are held constant for the gradient (pytorch-metric-learning):
    # not the derivative of the value, so no finite-difference check here (the unit tests
    # compare the gradients with pytorch-metric-learning's autograd)
    Spec(
        "circle_loss",
        xlosses.circle_loss,
        _pair_inputs,
        variants=({}, {"gamma": 32.0, "margin": 0.25}, {"reduction": "none"}, *EXTREMES),
        oracle=pml_peer("CircleLoss", rows=True),
        oracle_name="pytorch-metric-learning CircleLoss",
        batch_shapes=SHAPES,
    ),
    Spec(
        "circle_loss[weight_gradient]",
        xlosses.circle_loss,
        _pair_inputs,
        differentiable=(0,),
        variants=(
            {"weight_gradient": True},
            {"weight_gradient": True, "gamma": 16.0, "margin": 0.3, "reduction": "none"},
        ),
        oracle=keras_circle_peer,
        oracle_name="keras.losses.circle (on unit vectors)",
        batch_shapes=SHAPES,
    ),
    Spec(
        "multi_similarity_loss",
        xlosses.multi_similarity_loss,
        _pair_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"alpha": 4.0, "beta": 10.0, "base": 0.3},
            {"reduction": "none"},
            *EXTREMES,
        ),
        oracle=pml_peer("MultiSimilarityLoss", rows=True),
        oracle_name="pytorch-metric-learning MultiSimilarityLoss",
        batch_shapes=SHAPES,
    ),
    Spec(
        "lifted_structure_loss",
        xlosses.lifted_structure_loss,
        _pair_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"neg_margin": 1.5, "pos_margin": 0.2},
            {"reduction": "none"},
            *EXTREMES,
        ),
        oracle=pml_peer("LiftedStructureLoss", rows=False),
        oracle_name="pytorch-metric-learning LiftedStructureLoss",
        batch_shapes=SHAPES,
    ),
    Spec(
        "arcface_loss",
        xlosses.arcface_loss,
        _class_inputs,
        differentiable=(0, 2),
        variants=({}, {"margin": 0.3, "s": 30.0}),
        oracle=_class_peer("ArcFaceLoss"),
        oracle_name="pytorch-metric-learning ArcFaceLoss (margin in degrees there)",
    ),
    # Embeddings on their class's weight row: cos(θ + m) has a cusp at θ = 0 (no
    # derivative to check against finite differences; the unit tests check that the
    # gradient is finite), and a cosine rounded near 1 fixes θ only to sqrt(2·eps):
    # 3.5e-4 rad in float32, up to scale·3.5e-4·sin m ≈ 1e-2 in the loss; 2e-8 rad in
    # float64, about 1e-6 (two summation orders of the same cosine, e.g. Dask's chunks).
    Spec(
        "arcface_loss[cosines ±1]",
        xlosses.arcface_loss,
        _class_inputs,
        variants=({"at_class": True},),
        oracle=_class_peer("ArcFaceLoss"),
        oracle_name="pytorch-metric-learning ArcFaceLoss (margin in degrees there)",
        rtol={"float64": 1e-5, "float32": 3e-2, "float16": 5e-2},
    ),
    Spec(
        "cosface_loss",
        xlosses.cosface_loss,
        _class_inputs,
        differentiable=(0, 2),
        variants=({}, {"margin": 0.2, "s": 30.0}, {"at_class": True}),
        oracle=_class_peer("CosFaceLoss"),
        oracle_name="pytorch-metric-learning CosFaceLoss",
    ),
    Spec(
        "proxy_anchor_loss",
        xlosses.proxy_anchor_loss,
        _class_inputs,
        differentiable=(0, 2),
        variants=({}, {"margin": 0.2, "alpha": 16.0}, {"labels": "single_class"}),
        oracle=_class_peer("ProxyAnchorLoss"),
        oracle_name="pytorch-metric-learning ProxyAnchorLoss",
        batch_shapes=SHAPES,
    ),
)
