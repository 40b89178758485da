"""Conformance entries of the overlap losses (segmentation_models_pytorch's Jaccard, Tversky, MCC).

Inputs are ``[*batch, PIXELS, C]`` logits (class axis last; the spatial axes
are ``batch[1:]`` and ``PIXELS``).  The oracle calls segmentation_models_pytorch
0.6 once per example (it sums over the batch too), on the example's pixels
that ``where`` keeps, in channels-first layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, softmax

import xlosses

from ..spec import Inputs, Spec, register
from ._inputs import logits, mask, segmentation_targets
from ._peers import kept_rows, smp_losses, t64, to_numpy

PIXELS = 6
CLASSES = 3


def overlap_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Logits and targets of the kind ``v['targets']`` (index, onehot, soft, binary)."""
    kind = v.get("targets", "index")
    c = 1 if kind == "binary" else CLASSES
    x = logits(rng, (*batch, PIXELS, c), v)
    # the last class absent from the first example (binary: an empty first example)
    t = segmentation_targets(rng, (*batch, PIXELS), c, kind, empty=True)
    kw = {k: v[k] for k in v if k not in ("targets", "scale", "where", "probs")}
    if v.get("where"):
        kw["where"] = mask(rng, (*batch, PIXELS))
    if v.get("probs"):
        x = softmax(x, axis=-1) if c > 1 else expit(x)
        kw["activation"] = None
    return Inputs([x, t], kw)


def _probabilities_and_targets(x: np.ndarray, t: np.ndarray, activation: Any):
    c = x.shape[-1]
    if t.ndim == x.ndim - 1:
        t = np.eye(c)[t] if np.issubdtype(t.dtype, np.integer) and c > 1 else t[..., None]
    if activation is None:
        p = x
    elif activation == "sigmoid" or c == 1:
        p = expit(x)
    else:
        p = softmax(x, axis=-1)
    return p, t.astype(np.float64)


def _rows(x: np.ndarray, t: np.ndarray, kwargs: dict[str, Any], activation: Any):
    """``(kept shape, [(p [1, C, n], t [1, C, n]) per kept row])`` on the pixels kept."""
    p, t = _probabilities_and_targets(x, t, activation)
    nd = p.ndim - 1
    axis = kwargs.get("axis")
    axes = tuple(range(1, nd)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    where = kwargs.get("where")
    m = np.ones(p.shape[:-1], bool) if where is None else np.broadcast_to(where, p.shape[:-1])
    kept, (pr, tr, mr) = kept_rows([p, t, m], axes, nd)
    rows = []
    for k in range(pr.shape[0]):
        keep = mr[k]
        rows.append((t64(pr[k][keep].T[None]), t64(tr[k][keep].T[None])))
    return kept, rows


def _smp_tversky(args: list[Any], kwargs: dict[str, Any], *, jaccard: bool) -> np.ndarray:
    L = smp_losses()
    x, t = args
    kept, rows = _rows(x, t, kwargs, kwargs.get("activation", "softmax"))
    a, b = (1.0, 1.0) if jaccard else (kwargs.get("alpha", 0.5), kwargs.get("beta", 0.5))
    gamma = 1.0 if jaccard else kwargs.get("gamma", 1.0)
    smooth, eps = kwargs.get("smooth", 0.0), kwargs.get("eps", 1e-7)
    log_loss, reduction = kwargs.get("log_loss", False), kwargs.get("reduction", "mean")
    out = []
    for p, y in rows:
        c = p.shape[1]
        if kwargs.get("empty", "zero") == "zero":  # the loss class: its empty rule, its γ

            def loss(classes: Any, g: float, p: Any = p, y: Any = y) -> float:
                fn = L.TverskyLoss(
                    "multilabel",
                    classes=classes,
                    from_logits=False,
                    smooth=smooth,
                    eps=eps,
                    log_loss=log_loss,
                    alpha=a,
                    beta=b,
                    gamma=g,
                )
                return float(fn(p, y))

            if reduction == "none":
                out.append([loss([k], gamma) for k in range(c)])
            elif reduction == "sum":
                out.append((c * loss(None, 1.0)) ** gamma)
            else:
                out.append(loss(None, gamma))
        else:  # empty='compute': the score function, without the class's zeroing
            score = to_numpy(L._functional.soft_tversky_score(p, y, a, b, smooth, eps, dims=(0, 2)))
            per = -np.log(np.maximum(score, eps)) if log_loss else 1.0 - score
            red = {"none": per, "sum": per.sum(), "mean": per.mean()}[reduction]
            out.append(red**gamma)
    res = np.asarray(out, dtype=np.float64)
    return res.reshape((*kept, *res.shape[1:]))


def _smp_mcc(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    L = smp_losses()
    x, t = args
    p = expit(x) if kwargs.get("apply_sigmoid", True) else x
    axis = kwargs.get("axis")
    axes = tuple(range(1, p.ndim)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    where = kwargs.get("where")
    m = np.ones(p.shape, bool) if where is None else np.broadcast_to(where, p.shape)
    kept, (pr, tr, mr) = kept_rows([p, t.astype(np.float64), m], axes, p.ndim)
    fn = L.MCCLoss(eps=kwargs.get("eps", 1e-5))
    out = [float(fn(t64(pr[k][mr[k]][None]), t64(tr[k][mr[k]][None]))) for k in range(pr.shape[0])]
    return np.asarray(out).reshape(kept)


def _mcc_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    x = logits(rng, (*batch, PIXELS), v)
    t = (rng.random(x.shape) < 0.4).astype(np.float64)
    kw = {k: v[k] for k in ("eps", "axis") if k in v}
    if v.get("where"):
        kw["where"] = mask(rng, x.shape)
    if v.get("probs"):
        x = expit(x)
        kw["apply_sigmoid"] = False
    return Inputs([x, t], kw)


_SMP = "segmentation_models_pytorch 0.6 (per example, on the kept pixels)"

register(
    Spec(
        "jaccard_loss",
        xlosses.jaccard_loss,
        overlap_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"targets": "onehot", "log_loss": True, "smooth": 0.5},
            {"targets": "soft", "reduction": "none", "where": True},
            {"targets": "binary", "empty": "compute", "smooth": 1.0},
            {"targets": "onehot", "activation": "sigmoid", "reduction": "sum"},
            {"probs": True, "axis": (0, 1), "eps": 1e-3},
        ),
        oracle=lambda a, k: _smp_tversky(a, k, jaccard=True),
        oracle_name=_SMP,
    ),
    Spec(
        "focal_tversky_loss",
        xlosses.focal_tversky_loss,
        overlap_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"alpha": 0.3, "beta": 0.7, "gamma": 2.0, "targets": "onehot"},
            {"gamma": 0.75, "reduction": "none", "where": True, "smooth": 0.1},
            {"gamma": 1.5, "log_loss": True, "targets": "soft", "reduction": "sum"},
            {"targets": "binary", "empty": "compute", "alpha": 0.7, "beta": 0.3, "smooth": 1.0},
        ),
        oracle=lambda a, k: _smp_tversky(a, k, jaccard=False),
        oracle_name=_SMP,
    ),
    Spec(
        "mcc_loss",
        xlosses.mcc_loss,
        _mcc_inputs,
        differentiable=(0,),
        variants=({}, {"where": True, "eps": 1e-3}, {"probs": True, "axis": (0, 1)}),
        oracle=_smp_mcc,
        oracle_name=_SMP,
    ),
)
