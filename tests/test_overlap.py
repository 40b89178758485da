"""Jaccard, focal Tversky and MCC losses (segmentation_models_pytorch), Dice + cross-entropy and
the soft-label Dice (MONAI): values on every backend and gradients against the peers, the empty
ground truth policy, masks, NaN rows, 16-bit inputs and errors.

The peers' numbers come from the conformance oracles (``conformance/entries``), which call
segmentation_models_pytorch 0.6 and MONAI 1.6 per example in float64."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import backend_named
from peer_cases import run_all, xl_grad

import xlosses
from conformance.entries import overlap as ov
from conformance.entries import segmentation as seg
from conformance.entries._peers import monai_losses, smp_losses, t64
from conformance.spec import PeerUnavailable

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

B, H, W, C = 2, 3, 4, 3


def _data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(B, H, W, C)) * 2
    lab = rng.integers(0, C, (B, H, W))
    lab[0][lab[0] == 2] = 0  # class 2 absent from image 0
    onehot = np.eye(C)[lab]
    soft = rng.dirichlet(np.ones(C), size=(B, H, W))
    xb = rng.normal(size=(B, H, W, 1)) * 2
    tb = (rng.random((B, H, W)) < 0.4).astype(float)
    m = rng.random((B, H, W)) < 0.8
    w = np.array([0.5, 1.0, 2.0])
    return x, lab, onehot, soft, xb, tb, m, w


X, LAB, ONEHOT, SOFT, XB, TB, MASK, CW = _data()

# (function, positional arguments, keywords, peer oracle)
CASES = [
    (xlosses.jaccard_loss, (X, LAB), {}, ov._smp_tversky),
    (xlosses.jaccard_loss, (X, ONEHOT), {"log_loss": True, "smooth": 0.5, "where": MASK}, None),
    (xlosses.jaccard_loss, (X, ONEHOT), {"axis": (0, 1, 2), "activation": "sigmoid"}, None),
    (xlosses.focal_tversky_loss, (X, SOFT), {"alpha": 0.3, "beta": 0.7, "gamma": 0.75}, None),
    (
        xlosses.focal_tversky_loss,
        (XB, TB),
        {"gamma": 2.0, "empty": "compute", "smooth": 1.0, "reduction": "none"},
        None,
    ),
    (xlosses.mcc_loss, (XB[..., 0], TB), {"where": MASK}, ov._smp_mcc),
    (
        xlosses.dice_cross_entropy_loss,
        (X, LAB),
        {"class_weights": CW, "label_smoothing": 0.1, "where": MASK},
        seg._monai_dice_ce,
    ),
    (
        xlosses.dice_cross_entropy_loss,
        (X, ONEHOT),
        {"jaccard": True, "include_background": False, "lambda_dice": 0.3},
        seg._monai_dice_ce,
    ),
    (xlosses.dice_cross_entropy_loss, (XB, TB), {"class_weights": CW[:1]}, seg._monai_dice_ce),
    (xlosses.dice_loss, (X, SOFT), {"soft_label": True, "reduction": "none"}, seg._dice_peer),
    (xlosses.binary_dice_loss, (XB[..., 0], TB), {"soft_label": True}, seg._binary_peer),
]
PEERS = {
    xlosses.jaccard_loss: lambda a, k: ov._smp_tversky(a, k, jaccard=True),
    xlosses.focal_tversky_loss: lambda a, k: ov._smp_tversky(a, k, jaccard=False),
}


@functools.cache
def _want() -> list[np.ndarray]:
    try:
        return [(PEERS.get(fn) or peer)(list(a), dict(k)) for fn, a, k, peer in CASES]
    except PeerUnavailable as exc:
        pytest.skip(f"peer {exc} not installed")


def test_values_against_peers(backend):
    want, cases = _want(), CASES
    if backend.module in ("jax", "dask.array"):  # compile / graph cost: one case per loss
        keep = [1, 3, 5, 6, 9]
        want, cases = [want[i] for i in keep], [cases[i] for i in keep]
    got = run_all(backend, "float64", [(fn, a, k) for fn, a, k, _ in cases])
    for (fn, _, k, _), g, w in zip(cases, got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, err_msg=f"{fn.__name__} {k}")


def _formulas() -> list[np.ndarray]:
    """Jaccard, focal Tversky and MCC in float64, written here from the papers' formulas with
    segmentation_models_pytorch's conventions (per example and class, ``eps`` floors, 0 for a
    class without target pixels): the check that runs where that package is not installed."""
    p = np.exp(X - X.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    inter, psum, tsum = (np.sum(a, axis=(1, 2)) for a in (p * ONEHOT, p, ONEHOT))
    jac = 1.0 - inter / np.maximum(psum + tsum - inter, 1e-7)
    jaccard = np.where(tsum > 0, jac, 0.0).mean(-1)
    i_s = 0.5 * (psum + SOFT.sum(axis=(1, 2)) - np.abs(p - SOFT).sum(axis=(1, 2)))
    ts = SOFT.sum(axis=(1, 2))
    ti = i_s / np.maximum(i_s + 0.3 * (psum - i_s) + 0.7 * (ts - i_s), 1e-7)
    tversky = (1.0 - ti).mean(-1) ** 0.75
    q, m = 1.0 / (1.0 + np.exp(-XB[..., 0])), MASK.astype(float)
    tp, tn, fp, fn = (
        np.sum(m * a, axis=(1, 2)) + 1e-5
        for a in (q * TB, (1 - q) * (1 - TB), q * (1 - TB), (1 - q) * TB)
    )
    mcc = 1.0 - (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return [jaccard, tversky, mcc]


def test_values_against_float64_formulas(backend):
    cases = [CASES[0], CASES[3], CASES[5]]  # jaccard, focal Tversky, MCC
    got = run_all(backend, "float64", [(fn, a, k) for fn, a, k, _ in cases])
    for (fn, _, k, _), g, w in zip(cases, got, _formulas(), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14, err_msg=f"{fn.__name__} {k}")


def _peer_grads() -> dict[str, np.ndarray]:
    """d(sum of per-example losses)/d(logits) by the peers' autograd, channels last."""
    try:
        L, M = smp_losses(), monai_losses()
    except PeerUnavailable as exc:
        pytest.skip(f"peer {exc} not installed")
    import torch

    def grad(make):
        xs = t64(X, channels_first=True, grad=True)
        total = sum(make(xs[b : b + 1], b) for b in range(B))
        (g,) = torch.autograd.grad(total, [xs])
        return np.moveaxis(g.numpy(), 1, -1)

    labels = torch.from_numpy(LAB)
    tversky = L.TverskyLoss("multiclass", alpha=0.3, beta=0.7, gamma=2.0)
    dice_ce = M.DiceCELoss(softmax=True, to_onehot_y=True, weight=torch.tensor(CW))
    return {
        "jaccard": grad(lambda x, b: L.JaccardLoss("multiclass")(x, labels[b : b + 1])),
        "tversky": grad(lambda x, b: tversky(x, labels[b : b + 1])),
        "dice_ce": grad(lambda x, b: dice_ce(x, labels[b : b + 1, None])),
    }


def test_gradients_against_peers():
    want = _peer_grads()
    fns = {
        "jaccard": lambda x, t: xlosses.jaccard_loss(x, t),
        "tversky": lambda x, t: xlosses.focal_tversky_loss(x, t, alpha=0.3, beta=0.7, gamma=2.0),
        "dice_ce": lambda x, t, w=CW: xlosses.dice_cross_entropy_loss(x, t, class_weights=w),
    }
    for b in (backend_named("torch"), backend_named("jax")):
        if b is None:
            continue
        args = [b.asarray(X, "float64"), b.asarray(LAB)]
        for name, fn in fns.items():
            if b.module == "jax" and name != "tversky":
                continue  # one compilation (the conformance suite compares jax.grad with torch's)
            if name == "dice_ce":
                fn = functools.partial(fn, w=b.asarray(CW, "float64"))
            (g,) = xl_grad(b, fn, args, {}, (0,))
            np.testing.assert_allclose(g, want[name], rtol=1e-8, atol=1e-12, err_msg=name)


def test_empty_ground_truth_masks_and_nan_rows():
    x, lab = X.copy(), LAB.copy()
    # class 2 is absent from image 0: 'zero' gives it loss 0 whatever is predicted there
    per_class = xlosses.jaccard_loss(x, lab, reduction="none")
    assert per_class[0, 2] == 0.0 and per_class[1, 2] > 0
    computed = xlosses.jaccard_loss(x, lab, reduction="none", empty="compute")
    p2 = np.exp(x[0, ..., 2]) / np.exp(x[0]).sum(-1)
    np.testing.assert_allclose(computed[0, 2], 1.0 - 0.0 / p2.sum(), rtol=1e-12)  # J = 0
    np.testing.assert_allclose(computed[:, :2], per_class[:, :2])
    # a smoothed empty class with nothing predicted scores 1 (loss 0)
    p = np.zeros((1, 4, 1))
    got = xlosses.focal_tversky_loss(p, p, activation=None, smooth=1.0, empty="compute")
    np.testing.assert_allclose(got, [0.0], atol=1e-15)
    # masked-out pixels are never read: NaN logits there change nothing
    x_nan = np.where(MASK[..., None], x, np.nan)
    for fn in (
        xlosses.jaccard_loss,
        xlosses.focal_tversky_loss,
        xlosses.dice_cross_entropy_loss,
        xlosses.dice_focal_loss,
    ):
        np.testing.assert_allclose(fn(x_nan, lab, where=MASK), fn(x, lab, where=MASK))
    np.testing.assert_allclose(
        xlosses.mcc_loss(np.where(MASK, XB[..., 0], np.nan), TB, where=MASK),
        xlosses.mcc_loss(XB[..., 0], TB, where=MASK),
    )
    # NaN in one example stays in its row
    x_nan = x.copy()
    x_nan[1, 0, 0, 0] = np.nan
    for fn in (xlosses.jaccard_loss, xlosses.dice_cross_entropy_loss, xlosses.dice_focal_loss):
        out = fn(x_nan, lab)
        assert np.isfinite(out[0]) and np.isnan(out[1])
    # the soft-label Dice is 0 at P = G for fractional G (the product form is not)
    logits = np.log(SOFT)
    zero = xlosses.dice_loss(logits, SOFT, smooth=0.0, soft_label=True)
    np.testing.assert_allclose(zero, 0.0, atol=1e-12)
    assert np.all(xlosses.dice_loss(logits, SOFT, smooth=0.0) > 0.1)
    # integer class indices are one-hot targets
    np.testing.assert_allclose(xlosses.jaccard_loss(x, lab), xlosses.jaccard_loss(x, ONEHOT))


def test_out_of_range_labels():
    bad = LAB.copy()
    bad[1, 0, 0] = C
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\)"):
        xlosses.jaccard_loss(X, bad)
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\)"):
        xlosses.dice_cross_entropy_loss(X, bad)
    jb = backend_named("jax")
    if jb is not None:  # unchecked under jax.jit: NaN in the bad example's row only
        import jax

        f = jax.jit(
            lambda x, t: (xlosses.jaccard_loss(x, t), xlosses.dice_cross_entropy_loss(x, t))
        )
        for out in f(jb.asarray(X, "float32"), jb.asarray(bad)):
            out = np.asarray(out)
            assert np.isfinite(out[0]) and np.isnan(out[1])


def test_low_precision_and_extremes():
    scale = 1e4
    for b, low in ((backend_named("numpy"), "float16"), (backend_named("torch"), "bfloat16")):
        if b is None:
            continue
        x = b.asarray(np.clip(X * scale, -6e4, 6e4), low)
        cases = [
            (xlosses.jaccard_loss, (x, b.asarray(LAB))),
            (xlosses.focal_tversky_loss, (x, b.asarray(ONEHOT, low))),
            (xlosses.mcc_loss, (x[..., 0], b.asarray(TB, low))),
            (xlosses.dice_cross_entropy_loss, (x, b.asarray(LAB))),
            (xlosses.dice_focal_loss, (x, b.asarray(LAB))),
        ]
        for fn, args in cases:
            out = fn(*args)
            assert b.dtype_name(out) == low, fn.__name__
            assert np.all(np.isfinite(b.to_numpy(out))), fn.__name__
            if b.differentiable:
                g = b.grad(fn, list(args), [0])[0]
                assert np.all(np.isfinite(b.to_numpy(g))), fn.__name__


def test_errors():
    x = np.zeros((2, 4, 3))
    with pytest.raises(ValueError, match="activation must be one of"):
        xlosses.jaccard_loss(x, x, activation="relu")
    with pytest.raises(ValueError, match="empty must be one of"):
        xlosses.focal_tversky_loss(x, x, empty="skip")
    with pytest.raises(ValueError, match="reduction must be one of"):
        xlosses.jaccard_loss(x, x, reduction="max")
    with pytest.raises(ValueError, match=r"predictions shape \(2, 4, 3\), targets shape"):
        xlosses.jaccard_loss(x, np.zeros((2, 4, 2)))
    with pytest.raises(TypeError, match="predictions must have a real floating dtype"):
        xlosses.jaccard_loss(x.astype(np.int32), x)
    with pytest.raises(TypeError, match="where must be a boolean array"):
        xlosses.jaccard_loss(x, x, where=np.ones((2, 4)))
    with pytest.raises(ValueError, match="where shape"):
        xlosses.dice_cross_entropy_loss(x, x, where=np.ones((3,), bool))
    with pytest.raises(ValueError, match="includes the class axis"):
        xlosses.jaccard_loss(x, x, axis=-1)
    with pytest.raises(ValueError, match=r"class_weights must have shape \(3,\)"):
        xlosses.dice_cross_entropy_loss(x, x, class_weights=np.ones(2))
    with pytest.raises(ValueError, match="lambda_dice and lambda_ce must be non-negative"):
        xlosses.dice_cross_entropy_loss(x, x, lambda_ce=-1.0)
    with pytest.raises(ValueError, match="lambda_dice and lambda_focal must be non-negative"):
        xlosses.dice_focal_loss(x, x, lambda_focal=-1.0)
    with pytest.raises(ValueError, match="gamma must be a non-negative number"):
        xlosses.dice_focal_loss(x, x, gamma=-0.5)
    with pytest.raises(ValueError, match=r"class_weights must have shape \(3,\)"):
        xlosses.dice_focal_loss(x, x, class_weights=np.ones(2))
    with pytest.raises(ValueError, match=r"predictions shape \(2, 4\), targets shape \(2, 3\)"):
        xlosses.mcc_loss(x[..., 0], x[..., 0, :])


def test_dice_focal_against_monai():
    """dice_focal_loss against MONAI's DiceFocalLoss: values (the conformance oracle, per
    example) and gradients (MONAI's autograd).  MONAI's FocalLoss computes in float32."""
    try:
        M = monai_losses()
    except PeerUnavailable as exc:
        pytest.skip(f"peer {exc} not installed")
    import torch

    cases = [
        ((X, LAB), {"class_weights": CW, "alpha": 0.25, "where": MASK, "gamma": 0.5}),
        ((X, ONEHOT), {"include_background": False, "jaccard": True, "lambda_dice": 0.3}),
        ((XB, TB), {"alpha": 0.75, "lambda_focal": 2.0}),
    ]
    for b in (backend_named("numpy"), backend_named("torch")):
        if b is None:
            continue
        for args, kw in cases:
            got = run_all(b, "float64", [(xlosses.dice_focal_loss, args, kw)])[0]
            want = seg._monai_dice_focal(list(args), dict(kw))
            np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7, err_msg=str(kw))
    tb = backend_named("torch")
    if tb is None:
        return
    xs = t64(X, channels_first=True, grad=True)
    fn = M.DiceFocalLoss(softmax=True, to_onehot_y=True, weight=torch.tensor(CW), gamma=0.5)
    labels = torch.from_numpy(LAB)
    total = sum(fn(xs[i : i + 1], labels[i : i + 1, None]) for i in range(B))
    (want,) = torch.autograd.grad(total, [xs])
    args = [tb.asarray(X, "float64"), tb.asarray(LAB)]
    w = tb.asarray(CW, "float64")
    (g,) = xl_grad(
        tb, lambda x, t: xlosses.dice_focal_loss(x, t, class_weights=w, gamma=0.5), args, {}, (0,)
    )
    np.testing.assert_allclose(g, np.moveaxis(want.numpy(), 1, -1), rtol=1e-5, atol=1e-7)
