r"""Bounding-box regression losses: generalized, distance and complete IoU (torchvision's).

Boxes are ``[..., 4]`` arrays of ``(x1, y1, x2, y2)`` corners; the losses are
per box (torchvision's ``reduction='none'``: take the mean or sum of the
result for its other reductions).  Values *and gradients* stay finite for
degenerate boxes (zero width or height, a point), where torchvision's CIoU
divides ``0/0`` in its aspect-ratio term.
"""

from __future__ import annotations

import math
from typing import Any

from ._checks import broadcast_shapes, floating_input
from ._namespace import cast, namespace
from ._ops import relu, stop_gradient

__all__ = ["complete_box_iou_loss", "distance_box_iou_loss", "generalized_box_iou_loss"]

Array = Any


def _boxes(xp: Any, boxes1: Array, boxes2: Array) -> tuple[Array, Array, Any]:
    """``boxes1`` in its compute dtype, ``boxes2`` (integer boxes allowed) in the same one."""
    b1, dtype = floating_input(xp, boxes1, "boxes1")
    for name, b in (("boxes1", boxes1), ("boxes2", boxes2)):
        if b.ndim == 0 or b.shape[-1] != 4:
            raise ValueError(
                f"{name} must have a last axis of 4 coordinates (x1, y1, x2, y2), "
                f"got shape {tuple(b.shape)}"
            )
    broadcast_shapes(boxes1=boxes1.shape, boxes2=boxes2.shape)
    if xp.isdtype(boxes2.dtype, "bool"):
        raise TypeError(f"boxes2 must have a real floating or integer dtype, got {boxes2.dtype}")
    return b1, cast(boxes2, b1.dtype, xp=xp), dtype


def _overlap(xp: Any, b1: Array, b2: Array, eps: Any) -> tuple[Array, ...]:
    """``(iou, union, corners of the enclosing box)`` as torchvision computes them.

    The intersection is ``relu(dx)·relu(dy)`` (torchvision: the product where
    both overlaps are positive, else 0): the same values, and the same zero
    derivative where the boxes only touch.
    """
    x1, y1, x2, y2 = b1[..., 0], b1[..., 1], b1[..., 2], b1[..., 3]
    u1, v1, u2, v2 = b2[..., 0], b2[..., 1], b2[..., 2], b2[..., 3]
    dx = xp.minimum(x2, u2) - xp.maximum(x1, u1)
    dy = xp.minimum(y2, v2) - xp.maximum(y1, v1)
    inter = relu(dx, tie=0.0, xp=xp) * relu(dy, tie=0.0, xp=xp)
    union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
    iou = inter / (union + eps)
    enclosing = (xp.minimum(x1, u1), xp.minimum(y1, v1), xp.maximum(x2, u2), xp.maximum(y2, v2))
    return iou, union, enclosing


def _distance_terms(xp: Any, b1: Array, b2: Array, eps: Any) -> tuple[Array, Array]:
    """``(1 - IoU + ρ²/(c² + ε), IoU)``: torchvision's DIoU loss and the IoU."""
    iou, _, (cx1, cy1, cx2, cy2) = _overlap(xp, b1, b2, eps)
    diagonal = (cx2 - cx1) ** 2 + (cy2 - cy1) ** 2 + eps
    dx = (b1[..., 0] + b1[..., 2] - b2[..., 0] - b2[..., 2]) / 2.0
    dy = (b1[..., 1] + b1[..., 3] - b2[..., 1] - b2[..., 3]) / 2.0
    return 1.0 - iou + (dx * dx + dy * dy) / diagonal, iou


def _aspect_angle(xp: Any, w: Array, h: Array) -> Array:
    """``atan(w/h)`` without the division: ``atan2(s·w, s·h)`` with ``s = sign(h)`` (1 at 0).

    The value of ``atan(w/h)`` wherever it is defined (``±π/2`` for ``h = 0``),
    0 for a point (``w = h = 0``, where ``atan(0/0)`` is NaN), and finite
    derivatives everywhere but that point, where they are 0 (the double
    ``where``).  torchvision's ``atan(w/h)`` has a NaN derivative at ``h = 0``.
    """
    s = 1.0 - 2.0 * xp.astype(h < 0, h.dtype)
    a, b = s * w, s * h
    point = (a == 0) & (b == 0)
    return xp.where(point, 0.0, xp.atan2(a, xp.where(point, 1.0, b)))


_BOX_PARAMETERS = """
    boxes1 : array, shape ``[..., 4]``
        Predicted boxes ``(x1, y1, x2, y2)`` (``x1 <= x2``, ``y1 <= y2``).
    boxes2 : array, shape ``[..., 4]``
        Target boxes, broadcast against ``boxes1``; an integer dtype is cast
        to ``boxes1``'s (torchvision casts integer boxes to float32).
    eps : float, default 1e-7
        torchvision's: added to the union and to the enclosing area or
        diagonal."""


def generalized_box_iou_loss(boxes1: Array, boxes2: Array, *, eps: float = 1e-7) -> Array:
    r"""Generalized IoU loss per box pair, torchvision's ``generalized_box_iou_loss``.

    .. math::
        \ell = 1 - \frac{I}{U + \epsilon} + \frac{C - U}{C + \epsilon}

    with :math:`I` the intersection, :math:`U` the union and :math:`C` the area
    of the smallest box enclosing both.  In ``[0, 2)``; 1 for two point boxes.

    Parameters
    ----------{params}

    Returns
    -------
    array, the broadcast shape of the boxes without the last axis

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> a = np.array([0.0, 0.0, 2.0, 2.0])
    >>> b = np.array([1.0, 1.0, 3.0, 3.0])  # I = 1, U = 7, C = 9
    >>> print(np.round(xlosses.generalized_box_iou_loss(a, b), 4))  # 1 - 1/7 + 2/9
    1.0794

    References
    ----------
    Rezatofighi, Tsoi, Gwak, Sadeghian, Reid and Savarese, *Generalized
    Intersection over Union: A Metric and A Loss for Bounding Box
    Regression*, CVPR 2019.
    """
    xp, boxes1, boxes2 = namespace(boxes1=boxes1, boxes2=boxes2)
    b1, b2, dtype = _boxes(xp, boxes1, boxes2)
    iou, union, (cx1, cy1, cx2, cy2) = _overlap(xp, b1, b2, eps)
    area_c = (cx2 - cx1) * (cy2 - cy1)
    return cast(1.0 - iou + (area_c - union) / (area_c + eps), dtype, xp=xp)


def distance_box_iou_loss(boxes1: Array, boxes2: Array, *, eps: float = 1e-7) -> Array:
    r"""Distance IoU loss per box pair, torchvision's ``distance_box_iou_loss``.

    .. math::
        \ell = 1 - \frac{I}{U + \epsilon} + \frac{\rho^2}{c^2 + \epsilon}

    with :math:`\rho` the distance between the boxes' centres and :math:`c`
    the diagonal of the smallest box enclosing both.

    Parameters
    ----------{params}

    Returns
    -------
    array, the broadcast shape of the boxes without the last axis

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> a = np.array([0.0, 0.0, 2.0, 2.0])
    >>> b = np.array([1.0, 1.0, 3.0, 3.0])  # IoU 1/7, ρ² = 2, c² = 18
    >>> print(np.round(xlosses.distance_box_iou_loss(a, b), 4))  # 1 - 1/7 + 1/9
    0.9683

    References
    ----------
    Zheng, Wang, Liu, Li, Ye and Ren, *Distance-IoU Loss: Faster and Better
    Learning for Bounding Box Regression*, AAAI 2020.
    """
    xp, boxes1, boxes2 = namespace(boxes1=boxes1, boxes2=boxes2)
    b1, b2, dtype = _boxes(xp, boxes1, boxes2)
    loss, _ = _distance_terms(xp, b1, b2, eps)
    return cast(loss, dtype, xp=xp)


def complete_box_iou_loss(boxes1: Array, boxes2: Array, *, eps: float = 1e-7) -> Array:
    r"""Complete IoU loss per box pair, torchvision's ``complete_box_iou_loss``.

    .. math::
        \ell = \ell_{\text{DIoU}} + \alpha v,\qquad
        v = \frac{4}{\pi^2}\Big(\arctan\frac{w_2}{h_2} - \arctan\frac{w_1}{h_1}\Big)^2,\qquad
        \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}

    with :math:`\ell_{\text{DIoU}}` of :func:`distance_box_iou_loss` and the
    boxes' widths and heights :math:`w, h`.  :math:`\alpha` is held constant
    for the gradient (torchvision computes it under ``no_grad``).  The angle
    :math:`\arctan(w/h)` is taken as ``atan2`` (``π/2`` for a zero height,
    0 for a point box): finite values and gradients for degenerate boxes,
    where torchvision's ``atan(w/h)`` has a NaN gradient (zero height) or
    value (a point).  ``eps`` is used in every term (torchvision 0.28 passes
    it only to α, its DIoU part keeps 1e-7; the same numbers at the default).

    Parameters
    ----------{params}

    Returns
    -------
    array, the broadcast shape of the boxes without the last axis

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> a = np.array([0.0, 0.0, 2.0, 2.0])
    >>> b = np.array([1.0, 1.0, 3.0, 3.0])  # same aspect ratio: v = 0, the DIoU loss
    >>> print(np.round(xlosses.complete_box_iou_loss(a, b), 4))
    0.9683

    References
    ----------
    Zheng, Wang, Liu, Li, Ye and Ren, *Distance-IoU Loss: Faster and Better
    Learning for Bounding Box Regression*, AAAI 2020.
    """
    xp, boxes1, boxes2 = namespace(boxes1=boxes1, boxes2=boxes2)
    b1, b2, dtype = _boxes(xp, boxes1, boxes2)
    loss, iou = _distance_terms(xp, b1, b2, eps)
    angle1 = _aspect_angle(xp, b1[..., 2] - b1[..., 0], b1[..., 3] - b1[..., 1])
    angle2 = _aspect_angle(xp, b2[..., 2] - b2[..., 0], b2[..., 3] - b2[..., 1])
    d = angle2 - angle1
    v = (4.0 / math.pi**2) * (d * d)
    alpha = stop_gradient(v / (1.0 - iou + v + eps), xp=xp)
    return cast(loss + alpha * v, dtype, xp=xp)


for _f in (generalized_box_iou_loss, distance_box_iou_loss, complete_box_iou_loss):
    _f.__doc__ = _f.__doc__.replace("{params}", _BOX_PARAMETERS)
