"""Barron's robust loss and kornia's members on every backend: the paper's float64
formula (values, gradients in x, α and c), kornia as the peer (values and gradients),
extremes, 16-bit inputs and errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, raises_if_checked
from peer_cases import run_outputs

import xlosses
from conformance.entries.robust import barron_reference as ref_rho

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep


def ref_rho_dx(x, alpha, c):
    z = (x / c) ** 2
    b = np.abs(alpha - 2)
    with np.errstate(all="ignore"):
        f = (z / b + 1) ** (alpha / 2 - 1)
    f = np.where(alpha == 2, 1.0, f)
    f = np.where(alpha == 0, 1 / (z / 2 + 1), f)
    f = np.where(alpha == -np.inf, np.exp(-z / 2), f)
    f = np.where(alpha == np.inf, np.exp(z / 2), f)
    return x / c**2 * f


ALPHAS = np.array([-np.inf, -2.0, 0.0, 0.5, 1.0, 2.0, 3.5, np.inf])


def test_robust_loss_values_and_gradients(backend, rng):
    """ρ(x, α, c) against the paper's float64 formula for an α array holding every special
    value (each column one α), array scales; gradients in x (closed form), α (central
    differences) and c, finite at the special values; tiny residuals keep relative precision."""
    x = rng.normal(size=(3, ALPHAS.size)) * 2
    x[0, 0] = 0.0
    x[1] = 1e-4  # ρ ≈ (x/c)²/2: the power form would cancel
    c = rng.uniform(0.5, 2.0, size=(3, 1))
    xb, ab, cb = (backend.asarray(v, "float64") for v in (x, ALPHAS, c))

    def fn(x, a, c):
        return xlosses.robust_loss(x, a, c), xlosses.robust_loss(x, 1.0, 2.0)

    (rho, charb), grad = run_outputs(backend, fn, xb, ab, cb, grads=True)
    np.testing.assert_allclose(rho, ref_rho(x, ALPHAS, c), rtol=1e-12, atol=1e-300)
    u2 = (x / 2) ** 2  # sqrt(u² + 1) - 1 without cancellation
    np.testing.assert_allclose(charb, u2 / (np.sqrt(u2 + 1) + 1), rtol=1e-12, atol=1e-300)
    if grad is None:
        return
    np.testing.assert_allclose(
        grad, ref_rho_dx(x, ALPHAS, c) + x / 4 / np.sqrt((x / 2) ** 2 + 1), rtol=1e-10
    )
    gf = backend.grad_fn(lambda x, a, c: xlosses.robust_loss(x, a, c), (1, 2), jit=True)
    ga, gc = (backend.to_numpy(g) for g in gf(xb, ab, cb))
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gc))
    h = 1e-6
    fd = (ref_rho(x, ALPHAS + h, c) - ref_rho(x, ALPHAS - h, c)).sum(0) / (2 * h)
    general = np.isfinite(ALPHAS) & (ALPHAS != 0) & (ALPHAS != 2)
    np.testing.assert_allclose(ga[general], fd[general], rtol=1e-5, atol=1e-9)
    assert np.all(ga[~general] == 0)  # the limits do not depend on α
    fdc = (ref_rho(x, ALPHAS, c + h) - ref_rho(x, ALPHAS, c - h)).sum(1, keepdims=True) / (2 * h)
    np.testing.assert_allclose(gc, fdc, rtol=1e-5)


def test_robust_members_vs_kornia(rng):
    """kornia's charbonnier / cauchy / geman_mcclure / welsch losses (c = 1): values and
    gradients in both arguments, float64; ``scale`` is robust_loss's."""
    torch = pytest.importorskip("torch")
    kornia = pytest.importorskip("kornia")
    a = torch.from_numpy(rng.normal(size=(2, 3, 4)) * 3)
    b = torch.from_numpy(rng.normal(size=(2, 3, 4)))
    a[0, 0, 0] = b[0, 0, 0]  # a zero residual
    for name, alpha in (
        ("charbonnier_loss", 1.0),
        ("cauchy_loss", 0.0),
        ("geman_mcclure_loss", -2.0),
        ("welsch_loss", -np.inf),
    ):
        leaves = [a.clone().requires_grad_(True), b.clone().requires_grad_(True)]
        want = getattr(kornia.losses, name)(*leaves)
        gw = torch.autograd.grad(want.sum(), leaves)
        mine = [a.clone().requires_grad_(True), b.clone().requires_grad_(True)]
        got = getattr(xlosses, name)(*mine)
        gg = torch.autograd.grad(got.sum(), mine)
        assert_close(got.detach().numpy(), want.detach().numpy(), 1e-13, floor=0.0)
        for u, v in zip(gg, gw, strict=True):
            assert_close(u.numpy(), v.numpy(), 1e-12)
        scaled = getattr(xlosses, name)(a, b, scale=2.5)
        assert_close(scaled.numpy(), xlosses.robust_loss(a - b, alpha, 2.5).numpy(), 1e-15)


def test_robust_losses_extremes_low_precision_and_errors(backend):
    x = np.array([[-1e4, -30.0, 0.0, 1e-3, 30.0, 1e4]])
    xb = backend.asarray(x, "float32")
    alphas = backend.asarray(np.array([[-np.inf], [-2.0], [0.0], [1.0], [2.0], [4.0]]), "float32")

    def fn(x, a):
        return (xlosses.robust_loss(x, a, 1.0), xlosses.charbonnier_loss(x), xlosses.welsch_loss(x))

    out, grad = run_outputs(backend, fn, xb, alphas, grads=True)
    want = ref_rho(x, np.array([[-np.inf], [-2.0], [0.0], [1.0], [2.0], [4.0]]), 1.0)
    np.testing.assert_allclose(out[0], want, rtol=1e-5)
    assert all(np.all(np.isfinite(o)) for o in out)
    assert grad is None or np.all(np.isfinite(grad))
    low = "float16" if "float16" in backend.dtypes else "bfloat16"
    if low in backend.dtypes:
        big = backend.asarray(np.array([0.5, 3e4]), low)
        two = backend.asarray(np.array([1.0, 2.0]), low)
        for name, args in (
            ("cauchy_loss", [big]),
            ("geman_mcclure_loss", [big]),
            ("absolute_percentage_error", [two, big * 0.01]),
            ("squared_logarithmic_error", [big, two]),
        ):
            o = getattr(xlosses, name)(*args)
            assert backend.dtype_name(o) == low and np.all(np.isfinite(backend.to_numpy(o)))
    with pytest.raises(ValueError, match="scale must be positive"):
        xlosses.charbonnier_loss(xb, scale=0.0)
    with pytest.raises(ValueError, match="alpha"):
        xlosses.robust_loss(xb, float("nan"), 1.0)
    with pytest.raises(TypeError, match="x must have a real floating dtype"):
        xlosses.robust_loss(backend.asarray(np.array([1, 2])), 1.0, 1.0)
    with raises_if_checked(backend, ValueError, match="scale must be positive"):
        scale = backend.asarray(np.array([[1.0], [0.0]]), "float32")
        out = backend.to_numpy(xlosses.robust_loss(xb, 1.0, scale))
        assert np.all(np.isfinite(out[0])) and np.all(np.isnan(out[1]))
