"""Conformance entries of the box losses (GIoU, DIoU, CIoU).

torchvision 0.28 does not import against this CPU build of torch (its
``nms`` operator is missing), so the oracle is a float64 NumPy transcription
of torchvision's formulas (``torchvision/ops/{giou,diou,ciou}_loss.py``):
the intersection set where both overlaps are positive, ``eps`` on the union and
the enclosing area or diagonal, CIoU's ``atan(w/h)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, Spec, register


def torchvision_box_loss(
    b1: np.ndarray, b2: np.ndarray, kind: str, eps: float = 1e-7
) -> np.ndarray:
    """torchvision's generalized ('g'), distance ('d') or complete ('c') IoU loss in float64."""
    b1, b2 = np.broadcast_arrays(np.asarray(b1, np.float64), np.asarray(b2, np.float64))
    x1, y1, x2, y2 = np.moveaxis(b1, -1, 0)
    u1, v1, u2, v2 = np.moveaxis(b2, -1, 0)
    xk1, yk1 = np.maximum(x1, u1), np.maximum(y1, v1)
    xk2, yk2 = np.minimum(x2, u2), np.minimum(y2, v2)
    overlap = (yk2 > yk1) & (xk2 > xk1)
    inter = np.where(overlap, (xk2 - xk1) * (yk2 - yk1), 0.0)
    union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
    iou = inter / (union + eps)
    xc1, yc1 = np.minimum(x1, u1), np.minimum(y1, v1)
    xc2, yc2 = np.maximum(x2, u2), np.maximum(y2, v2)
    if kind == "g":
        area = (xc2 - xc1) * (yc2 - yc1)
        return 1.0 - (iou - (area - union) / (area + eps))
    diagonal = (xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + eps
    centres = ((x1 + x2) / 2 - (u1 + u2) / 2) ** 2 + ((y1 + y2) / 2 - (v1 + v2) / 2) ** 2
    diou = 1.0 - iou + centres / diagonal
    if kind == "d":
        return diou
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (
            4
            / np.pi**2
            * (np.arctan((u2 - u1) / (v2 - v1)) - np.arctan((x2 - x1) / (y2 - y1))) ** 2
        )
    return diou + v / (1.0 - iou + v + eps) * v


def _box_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    s = v.get("scale", 1.0)
    corner = rng.random((*batch, 2)) * 4.0
    size = rng.random((*batch, 2)) * 3.0 + 0.2
    b1 = np.concatenate([corner, corner + size], axis=-1) * s
    shift = rng.normal(size=(*batch, 4)) * 0.8
    b2 = b1 + shift * s
    b2[..., 2:] = np.maximum(b2[..., 2:], b2[..., :2] + 0.1 * s)
    kw = {"eps": v["eps"]} if "eps" in v else {}
    if v.get("broadcast"):
        b2 = b2[..., :1, :]
    return Inputs([b1, b2], kw)


def _spec(name: str, kind: str, variants: tuple[dict[str, Any], ...]) -> Spec:
    # CIoU holds its trade-off α constant for the gradient (torchvision's no_grad): its
    # gradient is not the derivative of its value, which the finite-difference check
    # measures; tests/test_detection.py compares it with autograd of torchvision's formula
    return Spec(
        name,
        getattr(xlosses, name),
        _box_inputs,
        differentiable=() if kind == "c" else (0, 1),
        variants=variants,
        oracle=lambda a, k: torchvision_box_loss(a[0], a[1], kind, k.get("eps", 1e-7)),
        oracle_name="torchvision 0.28's formulas in float64",
        notes="α held constant: gradients in tests/test_detection.py" if kind == "c" else "",
    )


register(
    _spec("generalized_box_iou_loss", "g", ({}, {"eps": 1e-3, "broadcast": True})),
    _spec("distance_box_iou_loss", "d", ({}, {"eps": 1e-3})),
    _spec("complete_box_iou_loss", "c", ({}, {"broadcast": True})),
)
