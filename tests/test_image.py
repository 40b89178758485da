"""Total variation, PSNR and SSIM: values on every backend and gradients against kornia (float64),
the channels-last layout, the torch convolution path against the generic window matrix, identical
images and errors."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import backend_named
from peer_cases import run_all, xl_grad

import xlosses
from conformance.entries._peers import kornia_losses, t64, to_numpy
from conformance.spec import PeerUnavailable

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep


def _images():
    rng = np.random.default_rng(5)
    a = rng.random((2, 3, 7, 9))
    b = np.clip(a + 0.15 * rng.standard_normal(a.shape), 0, 1)
    return a, b


A, B = _images()


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small convolutions (kornia's, and xlosses' torch path) on one thread: with several
    threads on a busy machine each call spins for ~0.1 s in OpenMP (0.2 ms on one)."""
    torch = backend_named("torch") and __import__("torch")
    if not torch:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


NHWC = (np.moveaxis(A, 1, -1), np.moveaxis(B, 1, -1))


def _kornia():
    try:
        return kornia_losses()
    except PeerUnavailable as exc:
        pytest.skip(f"peer {exc} not installed")


@functools.cache
def _want():
    K = _kornia()
    tv = to_numpy(K.total_variation(t64(A)))
    tv_mean = to_numpy(K.total_variation(t64(A), reduction="mean"))
    psnr = np.array([float(K.psnr_loss(t64(A[i]), t64(B[i]), 1.0)) for i in range(2)])
    ssim = np.array([float(K.ssim_loss(t64(A[i : i + 1]), t64(B[i : i + 1]), 5)) for i in range(2)])
    ssim_valid = np.array(
        [
            float(K.ssim_loss(t64(A[i : i + 1]), t64(B[i : i + 1]), 3, 2.0, padding="valid"))
            for i in range(2)
        ]
    )
    return [tv, tv_mean, tv, psnr, ssim, ssim_valid, ssim]


def test_values_against_kornia(backend):
    want = _want()
    cases = [
        (xlosses.total_variation_loss, (A,), {}),
        (xlosses.total_variation_loss, (A, "mean"), {}),
        (xlosses.total_variation_loss, (NHWC[0],), {"spatial_axes": (-3, -2)}),
        (xlosses.psnr_loss, (A, B, 1.0), {}),
        (xlosses.ssim_loss, (A, B, 5), {}),
        (xlosses.ssim_loss, (A, B, 3, 2.0), {"padding": "valid"}),
        (xlosses.ssim_loss, (*NHWC, 5), {"spatial_axes": (1, 2)}),
    ]
    if backend.module in ("jax", "dask.array"):  # compile / graph cost: one case per loss
        keep = [1, 3, 6]
        cases, want = [cases[i] for i in keep], [want[i] for i in keep]
    got = run_all(backend, "float64", cases)
    for (fn, _, kw), g, w in zip(cases, got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-13, err_msg=f"{fn.__name__} {kw}")
    # kornia's PSNR pools the whole batch: axis=all
    K = _kornia()
    pooled = xlosses.psnr_loss(A, B, 2.0, axis=(0, 1, 2, 3))
    np.testing.assert_allclose(pooled, to_numpy(K.psnr_loss(t64(A), t64(B), 2.0)), rtol=1e-12)


def test_gradients_against_kornia():
    K = _kornia()
    import torch

    def want(fn):
        a, b = t64(A, grad=True), t64(B, grad=True)
        return [g.numpy() for g in torch.autograd.grad(fn(a, b), [a, b])]

    cases = {
        "ssim": (
            lambda a, b: xlosses.ssim_loss(a, b, 5),
            want(lambda a, b: 2 * K.ssim_loss(a, b, 5)),
        ),
        "psnr": (
            lambda a, b: xlosses.psnr_loss(a, b, 1.0),
            want(lambda a, b: sum(K.psnr_loss(a[i], b[i], 1.0) for i in range(2))),
        ),
        "tv": (
            lambda a, b: xlosses.total_variation_loss(a) * b[0, 0, 0, 0],
            want(lambda a, b: K.total_variation(a).sum() * b[0, 0, 0, 0]),
        ),
    }
    be = backend_named("torch")  # JAX: the conformance suite's jax.grad against torch's
    if be is not None:
        args = [be.asarray(A, "float64"), be.asarray(B, "float64")]
        for name, (fn, w) in cases.items():
            for g, ww in zip(xl_grad(be, fn, args, {}, (0, 1)), w, strict=True):
                np.testing.assert_allclose(g, ww, rtol=1e-9, atol=1e-13, err_msg=name)
            if name == "ssim":  # the convolution path vs the window matrix
                with xlosses.generic_only():
                    gen = xl_grad(be, fn, args, {}, (0, 1))
                for g, ww in zip(gen, w, strict=True):
                    np.testing.assert_allclose(g, ww, rtol=1e-9, atol=1e-13)


def test_identical_images_and_low_precision():
    torch_b = backend_named("torch")
    out = xlosses.psnr_loss(A, A, 1.0)
    assert np.all(out == -np.inf)
    assert np.all(xlosses.ssim_loss(A, A, 5) < 1e-6)
    if torch_b is not None:
        for fn in (
            lambda a, b: xlosses.psnr_loss(a, b, 1.0),
            lambda a, b: xlosses.ssim_loss(a, b, 5),
        ):
            (g,) = torch_b.grad(fn, [torch_b.asarray(A), torch_b.asarray(A)], [0])
            assert np.all(np.isfinite(g.numpy()))  # PSNR: a zero gradient where it is -inf
        x = torch_b.asarray(A, "bfloat16")
        for out in (
            xlosses.ssim_loss(x, torch_b.asarray(B, "bfloat16"), 5),
            xlosses.total_variation_loss(x),
            xlosses.psnr_loss(x, torch_b.asarray(B, "bfloat16"), 1.0),
        ):
            assert torch_b.dtype_name(out) == "bfloat16"
    out = xlosses.ssim_loss(A.astype(np.float16), B.astype(np.float16), 5)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out, xlosses.ssim_loss(A, B, 5), atol=2e-3)


def test_errors():
    with pytest.raises(ValueError, match="window_size must be an odd positive integer"):
        xlosses.ssim_loss(A, B, 4)
    with pytest.raises(ValueError, match="too small for window_size=15"):
        xlosses.ssim_loss(A, B, 15)
    with pytest.raises(ValueError, match="padding must be one of"):
        xlosses.ssim_loss(A, B, 3, padding="reflect")
    with pytest.raises(ValueError, match="spatial_axes must name two axes"):
        xlosses.total_variation_loss(A, spatial_axes=(-1,))
    with pytest.raises(ValueError, match="reduction must be one of"):
        xlosses.total_variation_loss(A, "none")
    with pytest.raises(ValueError, match=r"image shape \(2, 3, 7, 9\), target shape"):
        xlosses.psnr_loss(A, B[0], 1.0)
    with pytest.raises(TypeError, match="img must have a real floating dtype"):
        xlosses.total_variation_loss((A * 255).astype(np.uint8))
