"""Lovász hinge and Lovász-softmax: values on every backend against a float64 transcription of
Berman et al.'s per-image loop, values and gradients against segmentation_models_pytorch (which
only runs in float32) and kornia (float64), ignored pixels, NaN rows and errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import backend_named
from peer_cases import run_all

import xlosses
from conformance.entries import lovasz as ref
from conformance.entries._peers import kornia_losses, smp_losses, t64
from conformance.spec import PeerUnavailable

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

B, H, W, C = 3, 4, 5, 4


def _data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(B, H, W, C)) * 2
    lab = rng.integers(0, C, (B, H, W))
    lab[0][lab[0] == 2] = 1  # class 2 absent from image 0
    xb = rng.normal(size=(B, H, W)) * 2
    yb = (rng.random((B, H, W)) < 0.4).astype(float)
    m = rng.random((B, H, W)) < 0.8
    m[2] = False  # image 2 fully ignored
    return x, lab, xb, yb, m


X, LAB, XB, YB, MASK = _data()

HINGE = [{}, {"per_image": False}, {"where": MASK}]
SOFTMAX = [
    {},
    {"per_image": True, "classes": "all"},
    {"per_image": True, "where": MASK},
    {"classes": [1, 3], "where": MASK},
]


def test_values_against_reference(backend):
    cases = [(xlosses.lovasz_hinge_loss, (XB, YB), k) for k in HINGE]
    cases += [(xlosses.lovasz_softmax_loss, (X, LAB), k) for k in SOFTMAX]
    p = np.exp(X) / np.exp(X).sum(-1, keepdims=True)
    cases.append((xlosses.lovasz_softmax_loss, (p, LAB), {"apply_softmax": False}))
    if backend.module in ("jax", "dask.array"):  # compile / graph cost: the masked cases
        cases = [cases[2], cases[5]]
    got = run_all(backend, "float64", cases)
    for (fn, args, kw), g in zip(cases, got, strict=True):
        oracle = ref._hinge_reference if fn is xlosses.lovasz_hinge_loss else ref._softmax_reference
        want = oracle(list(args), dict(kw))
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12, err_msg=f"{fn.__name__} {kw}")


def test_against_segmentation_models_pytorch_and_kornia():
    try:
        L, K = smp_losses(), kornia_losses()
    except PeerUnavailable as exc:
        pytest.skip(f"peer {exc} not installed")
    import torch

    labels = torch.from_numpy(LAB)
    for per_image in (True, False):
        # segmentation_models_pytorch's Jaccard gradient is float32 (torch.dot refuses float64)
        xs = t64(X, channels_first=True).float().requires_grad_(True)
        xt = torch.from_numpy(X.astype(np.float32)).requires_grad_(True)
        # (segmentation_models_pytorch fails on an image with no pixel left: mean of an
        # empty [0, C] tensor; image 2 keeps its pixels here)
        keep = MASK.copy()
        keep[2] = True
        ignored = torch.from_numpy(np.where(keep, LAB, 255))
        want = L.LovaszLoss("multiclass", per_image=per_image, ignore_index=255)(xs, ignored)
        got = xlosses.lovasz_softmax_loss(
            xt, labels, per_image=per_image, where=torch.from_numpy(keep)
        ).mean()
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-5)
        (want * (B if per_image else 1)).backward()
        (got * (B if per_image else 1)).backward()
        np.testing.assert_allclose(
            xt.grad.numpy(), np.moveaxis(xs.grad.numpy(), 1, -1), rtol=1e-4, atol=1e-6
        )
        xs = t64(XB).float().requires_grad_(True)
        xt = torch.from_numpy(XB.astype(np.float32)).requires_grad_(True)
        want = L.LovaszLoss("binary", per_image=per_image)(xs, t64(YB).float())
        got = xlosses.lovasz_hinge_loss(xt, torch.from_numpy(YB), per_image=per_image).mean()
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-5)
        want.backward()
        got.backward()
        np.testing.assert_allclose(xt.grad.numpy(), xs.grad.numpy(), rtol=1e-4, atol=1e-6)
    # kornia: float64, per image and every class (its only mode), mean over images
    xk = t64(X, channels_first=True, grad=True)
    xt = torch.from_numpy(X).requires_grad_(True)
    want = K.lovasz_softmax_loss(xk, labels)
    got = xlosses.lovasz_softmax_loss(xt, labels, per_image=True, classes="all").mean()
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)
    want.backward()
    got.backward()
    np.testing.assert_allclose(xt.grad.numpy(), np.moveaxis(xk.grad.numpy(), 1, -1), rtol=1e-10)
    xk = t64(XB[:, None], grad=True)
    want = K.lovasz_hinge_loss(xk, torch.from_numpy(YB.astype(np.int64)))
    got = xlosses.lovasz_hinge_loss(t64(XB), t64(YB)).mean()
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)


def test_ignored_pixels_nan_rows_and_label_checks():
    torch_b = backend_named("torch")
    if torch_b is not None:  # an image with no pixel left: loss 0, gradient 0
        for fn, args in (
            (xlosses.lovasz_hinge_loss, (XB, YB)),
            (xlosses.lovasz_softmax_loss, (X, LAB)),
        ):
            a = [torch_b.asarray(v) for v in args]
            m = torch_b.asarray(MASK)
            out = fn(
                *a, where=m, **({"per_image": True} if fn is xlosses.lovasz_softmax_loss else {})
            )
            assert out[2].item() == 0.0
            (g,) = torch_b.grad(
                lambda x, *r, fn=fn, m=m: fn(x, *r, where=m, per_image=True), a, [0]
            )
            assert np.all(g[2].numpy() == 0) and np.all(np.isfinite(g.numpy()))
    # NaN in one image stays in its row
    x = XB.copy()
    x[1, 0, 0] = np.nan
    out = xlosses.lovasz_hinge_loss(x, YB)
    assert np.isnan(out[1]) and np.all(np.isfinite(out[[0, 2]]))
    # out-of-range labels: ValueError where values are readable, NaN rows where not (Dask)
    bad = LAB.copy()
    bad[1, 0, 0] = C
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        xlosses.lovasz_softmax_loss(X, bad)
    dask_b = backend_named("dask")
    if dask_b is not None:
        out = dask_b.to_numpy(
            xlosses.lovasz_softmax_loss(dask_b.asarray(X), dask_b.asarray(bad), per_image=True)
        )
        assert np.isnan(out[1]) and np.all(np.isfinite(out[[0, 2]]))


def test_errors():
    with pytest.raises(ValueError, match="classes must be 'present', 'all'"):
        xlosses.lovasz_softmax_loss(X, LAB, classes="some")
    with pytest.raises(ValueError, match=r"classes must be indices in \[0, 4\)"):
        xlosses.lovasz_softmax_loss(X, LAB, classes=[0, 4])
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        xlosses.lovasz_softmax_loss(X, LAB.astype(float))
    with pytest.raises(ValueError, match="without its class axis"):
        xlosses.lovasz_softmax_loss(X, LAB[:, :2])
    with pytest.raises(ValueError, match=r"logits shape \(3, 4, 5\), labels shape \(3, 4\)"):
        xlosses.lovasz_hinge_loss(XB, YB[..., 0])
    with pytest.raises(TypeError, match="where must be a boolean array"):
        xlosses.lovasz_hinge_loss(XB, YB, where=YB)
    with pytest.raises(TypeError, match="logits must have a real floating dtype"):
        xlosses.lovasz_hinge_loss(LAB, YB)
