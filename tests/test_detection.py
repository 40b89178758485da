"""GIoU, DIoU and CIoU box losses: values on every backend against float64 NumPy transcriptions
of torchvision 0.28's formulas (torchvision does not import against this CPU build of torch),
gradients against torch autograd of the same formulas (CIoU's α under ``no_grad``), degenerate
boxes, integer target boxes and errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import backend_named
from peer_cases import run_all, xl_grad

import xlosses
from conformance.entries.detection import torchvision_box_loss

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

LOSSES = {
    "g": xlosses.generalized_box_iou_loss,
    "d": xlosses.distance_box_iou_loss,
    "c": xlosses.complete_box_iou_loss,
}


def _boxes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    corner = rng.random((n, 2)) * 4
    b1 = np.concatenate([corner, corner + rng.random((n, 2)) * 3 + 0.2], axis=-1)
    b2 = b1 + rng.normal(size=(n, 4))
    b2[:, 2:] = np.maximum(b2[:, 2:], b2[:, :2] + 0.1)
    return b1, b2


B1, B2 = _boxes(12, 0)
B2[:2] = B2[:2] + 20.0  # two pairs far apart: no overlap


def test_values_against_torchvision_formulas(backend):
    cases = [(fn, (B1, B2), {}) for fn in LOSSES.values()]
    cases.append((xlosses.generalized_box_iou_loss, (B1.reshape(3, 4, 4), B2[:4]), {"eps": 1e-3}))
    if backend.module == "dask.array":  # graph cost: the broadcast case and CIoU
        cases = [cases[2], cases[3]]
        got = run_all(backend, "float64", cases)
        np.testing.assert_allclose(got[0], torchvision_box_loss(B1, B2, "c"), rtol=1e-12)
        want = torchvision_box_loss(B1.reshape(3, 4, 4), B2[:4], "g", 1e-3)
        np.testing.assert_allclose(got[1], want, rtol=1e-12, atol=1e-14)
        return
    got = run_all(backend, "float64", cases)
    for (kind, _), g in zip(LOSSES.items(), got, strict=False):
        np.testing.assert_allclose(g, torchvision_box_loss(B1, B2, kind), rtol=1e-12, atol=1e-14)
    want = torchvision_box_loss(B1.reshape(3, 4, 4), B2[:4], "g", 1e-3)  # broadcast
    np.testing.assert_allclose(got[-1], want, rtol=1e-12, atol=1e-14)


def _torch_reference(kind: str):
    """torchvision's formulas written with torch operators: autograd gives its gradients."""
    import torch

    def loss(b1, b2, eps=1e-7):
        x1, y1, x2, y2 = b1.unbind(-1)
        u1, v1, u2, v2 = b2.unbind(-1)
        xk1, yk1 = torch.max(x1, u1), torch.max(y1, v1)
        xk2, yk2 = torch.min(x2, u2), torch.min(y2, v2)
        overlap = (yk2 > yk1) & (xk2 > xk1)
        inter = torch.where(overlap, (xk2 - xk1) * (yk2 - yk1), torch.zeros_like(x1))
        union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
        iou = inter / (union + eps)
        xc1, yc1, xc2, yc2 = (
            torch.min(x1, u1),
            torch.min(y1, v1),
            torch.max(x2, u2),
            torch.max(y2, v2),
        )
        if kind == "g":
            area = (xc2 - xc1) * (yc2 - yc1)
            return 1 - (iou - (area - union) / (area + eps))
        diag = (xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + eps
        cent = ((x1 + x2) / 2 - (u1 + u2) / 2) ** 2 + ((y1 + y2) / 2 - (v1 + v2) / 2) ** 2
        diou = 1 - iou + cent / diag
        if kind == "d":
            return diou
        v = (4 / torch.pi**2) * (
            torch.atan((u2 - u1) / (v2 - v1)) - torch.atan((x2 - x1) / (y2 - y1))
        ) ** 2
        with torch.no_grad():
            alpha = v / (1 - iou + v + eps)
        return diou + alpha * v

    return loss


def test_gradients_against_torchvision_autograd():
    torch_b = backend_named("torch")
    if torch_b is None:
        pytest.skip("torch not installed")
    import torch

    for kind, fn in LOSSES.items():
        t1 = torch.from_numpy(B1).requires_grad_(True)
        t2 = torch.from_numpy(B2).requires_grad_(True)
        want = torch.autograd.grad(_torch_reference(kind)(t1, t2).sum(), [t1, t2])
        for b in (torch_b, backend_named("jax")):
            if b is None or (b.module == "jax" and kind != "c"):
                continue  # JAX: the constant-α case (the conformance suite has the others)
            args = [b.asarray(B1, "float64"), b.asarray(B2, "float64")]
            for g, w in zip(xl_grad(b, fn, args, {}, (0, 1)), want, strict=True):
                np.testing.assert_allclose(g, w.numpy(), rtol=1e-10, atol=1e-13, err_msg=kind)


def test_degenerate_boxes_are_finite():
    torch_b = backend_named("torch")
    b1 = np.array([[0, 0, 0, 0.0], [0, 0, 2, 0], [1, 1, 1, 3], [0, 0, 1, 1], [2, 2, 2, 2]])
    b2 = np.array([[0, 0, 0, 0.0], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]])
    for kind, fn in LOSSES.items():
        out = fn(b1, b2)
        assert np.all(np.isfinite(out)), kind
        ok = np.all((b1[:, 2:] > b1[:, :2]), axis=-1)  # torchvision is defined where w, h > 0
        np.testing.assert_allclose(out[ok], torchvision_box_loss(b1, b2, kind)[ok], rtol=1e-12)
        np.testing.assert_allclose(out[0], 1.0)  # two point boxes: IoU 0, no penalty
        if torch_b is not None:
            for g in torch_b.grad(fn, [torch_b.asarray(b1), torch_b.asarray(b2)], [0, 1]):
                assert np.all(np.isfinite(g.numpy())), kind
    # zero height: atan(w/0) = π/2, as torchvision's value
    flat = np.array([[0.0, 0.0, 2.0, 0.0]])
    square = np.array([[0.0, 0.0, 1.0, 1.0]])
    v = 4 / np.pi**2 * (np.pi / 4 - np.pi / 2) ** 2
    diou = xlosses.distance_box_iou_loss(flat, square)
    iou = 0.0
    np.testing.assert_allclose(
        xlosses.complete_box_iou_loss(flat, square), diou + v / (1 - iou + v + 1e-7) * v
    )


def test_dtypes_and_integer_targets():
    ints = np.round(B2).astype(np.int64)
    np.testing.assert_allclose(
        xlosses.generalized_box_iou_loss(B1, ints), torchvision_box_loss(B1, ints, "g")
    )
    out = xlosses.complete_box_iou_loss(B1.astype(np.float16), B2.astype(np.float16))
    assert out.dtype == np.float16
    want = torchvision_box_loss(B1.astype(np.float16), B2.astype(np.float16), "c")
    np.testing.assert_allclose(out, want, rtol=2e-3, atol=2e-3)


def test_errors():
    with pytest.raises(ValueError, match=r"boxes1 must have a last axis of 4 coordinates"):
        xlosses.generalized_box_iou_loss(B1[:, :3], B2)
    with pytest.raises(ValueError, match=r"boxes2 must have a last axis of 4"):
        xlosses.distance_box_iou_loss(B1, B2[:, :2])
    with pytest.raises(ValueError, match="do not broadcast"):
        xlosses.complete_box_iou_loss(B1, B2[:5])
    with pytest.raises(TypeError, match="boxes1 must have a real floating dtype"):
        xlosses.complete_box_iou_loss(np.round(B1).astype(np.int64), B2)
    with pytest.raises(TypeError, match="boxes2 must have a real floating or integer dtype"):
        xlosses.complete_box_iou_loss(B1, B2 > 1)
