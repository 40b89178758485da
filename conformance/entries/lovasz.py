"""Conformance entries of the Lovász hinge and Lovász-softmax losses.

The oracle is a float64 NumPy transcription of Berman et al.'s reference
algorithm (a loop over images and classes, ignored pixels removed by boolean
selection, ``argsort`` of the errors, the Jaccard gradient of the sorted
ground truth): segmentation_models_pytorch's ``LovaszLoss`` computes its
Jaccard gradient in float32 and raises for float64 inputs (``torch.dot`` of a
double and a float), so it is compared in float32 in ``tests/test_lovasz.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import softmax

import xlosses

from ..spec import Inputs, Spec, register
from ._inputs import logits, mask

PIXELS = 5
CLASSES = 4


def _jaccard_gradient(gt: np.ndarray) -> np.ndarray:
    """Berman's Algorithm 1: differences of the Jaccard loss of the sorted prefixes."""
    g = gt.sum()
    inter = g - np.cumsum(gt)
    union = g + np.cumsum(1.0 - gt)
    jac = 1.0 - inter / union
    jac[1:] = jac[1:] - jac[:-1]
    return jac


def _hinge_flat(x: np.ndarray, y: np.ndarray) -> float:
    if x.size == 0:
        return 0.0
    e = 1.0 - x * (2.0 * y - 1.0)
    order = np.argsort(-e, kind="stable")
    return float(np.dot(np.maximum(e[order], 0.0), _jaccard_gradient(y[order])))


def _softmax_flat(p: np.ndarray, y: np.ndarray, classes: Any) -> float:
    """``p`` [n, C], ``y`` [n]: the mean over the chosen classes."""
    if y.size == 0:
        return 0.0
    ids = range(p.shape[1]) if isinstance(classes, str) else classes
    losses = []
    for c in ids:
        fg = (y == c).astype(np.float64)
        if classes == "present" and fg.sum() == 0:
            continue
        e = np.abs(fg - p[:, c])
        order = np.argsort(-e, kind="stable")
        losses.append(float(np.dot(e[order], _jaccard_gradient(fg[order]))))
    return float(np.mean(losses)) if losses else 0.0


def _hinge_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    x, y = args
    where = kwargs.get("where")
    m = np.ones(x.shape, bool) if where is None else np.broadcast_to(where, x.shape)
    if not kwargs.get("per_image", True):
        return np.asarray(_hinge_flat(x[m], y[m].astype(np.float64)))
    return np.asarray(
        [_hinge_flat(x[b][m[b]], y[b][m[b]].astype(np.float64)) for b in range(x.shape[0])]
    )


def _softmax_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    x, y = args
    p = softmax(x, axis=-1) if kwargs.get("apply_softmax", True) else x
    classes = kwargs.get("classes", "present")
    where = kwargs.get("where")
    m = np.ones(y.shape, bool) if where is None else np.broadcast_to(where, y.shape)
    if not kwargs.get("per_image", False):
        return np.asarray(_softmax_flat(p[m], y[m], classes))
    return np.asarray([_softmax_flat(p[b][m[b]], y[b][m[b]], classes) for b in range(x.shape[0])])


def _hinge_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, PIXELS), v) / 3.0
    y = (rng.random(x.shape) < 0.4).astype(np.float64)
    kw = {k: v[k] for k in ("per_image",) if k in v}
    if v.get("where"):
        m = mask(rng, x.shape)
        m.reshape(-1, PIXELS)[-1] = False  # one image with no pixel left
        kw["where"] = m
    if v.get("int_labels"):
        y = y.astype(np.int64)
    return Inputs([x, y], kw)


def _softmax_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, PIXELS, CLASSES), v)
    y = rng.integers(0, CLASSES, (*batch, PIXELS)).astype(np.int64)
    y.reshape(-1, PIXELS)[0] = 0  # the first image holds one class only
    kw = {k: v[k] for k in ("per_image", "classes") if k in v}
    if v.get("where"):
        kw["where"] = mask(rng, y.shape)
    if v.get("probs"):
        x = softmax(x, axis=-1)
        kw["apply_softmax"] = False
    return Inputs([x, y], kw)


_ORACLE = "float64 transcription of Berman et al.'s per-image loop"

register(
    Spec(
        "lovasz_hinge_loss",
        xlosses.lovasz_hinge_loss,
        _hinge_inputs,
        differentiable=(0,),
        variants=({}, {"per_image": False, "int_labels": True}, {"where": True}),
        oracle=_hinge_reference,
        oracle_name=_ORACLE,
    ),
    Spec(
        "lovasz_softmax_loss",
        xlosses.lovasz_softmax_loss,
        _softmax_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"per_image": True, "classes": "all"},
            {"per_image": True, "where": True},
            {"classes": (1, 3), "probs": True},
        ),
        oracle=_softmax_reference,
        oracle_name=_ORACLE,
    ),
)
