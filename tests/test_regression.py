"""Regression losses on every backend: optax / torch.nn.functional as peers (values and
gradients), hand-derived numbers, extremes, compilation and errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, backend_named, raises_if_checked
from peer_cases import check_case, compiled_matches_eager, run_outputs, xl_grad

import xlosses

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

pytest.importorskip("optax")


@pytest.mark.sweep
@pytest.mark.parametrize("name", ["squared_error", "l2_loss", "huber_loss", "log_cosh"])
def test_optax_losses(backend, dtype, name, rng):
    batch = (2, 3, 4)
    p = rng.normal(size=batch) * 3
    p[0, 0] *= 1e4  # a row of extreme errors
    t = rng.normal(size=batch) * 2
    fn = getattr(xlosses, name)
    check_case(backend, dtype, fn, f"optax:{name}", [p, t], argnums=(0, 1))
    check_case(backend, dtype, fn, f"optax:{name}", [p[0]], jit=False)
    if name in ("huber_loss", "log_cosh"):  # broadcast targets (optax allows it here)
        row = rng.normal(size=(2, 3, 1))
        check_case(backend, dtype, fn, f"optax:{name}", [p, row], argnums=(0, 1), jit=False)
    if name == "huber_loss":
        check_case(backend, dtype, fn, f"optax:{name}", [p, t], {"delta": 0.5}, jit=False)


def test_hand_values(backend):
    e = np.array([-3.0, -1.0, -0.25, 0.0, 0.5, 2.0])
    eb = backend.asarray(e, "float64")
    np.testing.assert_allclose(backend.to_numpy(xlosses.squared_error(eb)), e**2, rtol=1e-15)
    np.testing.assert_allclose(backend.to_numpy(xlosses.l2_loss(eb)), e**2 / 2, rtol=1e-15)
    np.testing.assert_allclose(backend.to_numpy(xlosses.absolute_error(eb)), abs(e), rtol=1e-15)
    huber = [2.5, 0.5, 0.03125, 0.0, 0.125, 1.5]  # δ = 1: |e| - ½ outside, e²/2 inside
    np.testing.assert_allclose(backend.to_numpy(xlosses.huber_loss(eb)), huber, rtol=1e-15)
    np.testing.assert_allclose(
        backend.to_numpy(xlosses.log_cosh(eb)), np.log(np.cosh(e)), rtol=1e-14
    )


def test_log_cosh_small_errors_keep_relative_precision(backend, dtype):
    # log cosh e = e²/2 - e⁴/12 + … ; the |e| + softplus(-2|e|) - log 2 form cancels here
    e = np.array([1e-6, -3e-4, 1e-2, 0.3, 0.999, 1.0, 1.001])
    eb = backend.asarray(e, dtype)
    e = backend.to_numpy(eb)
    series = e**2 / 2 - e**4 / 12 + e**6 / 45 - 17 * e**8 / 2520
    want = np.where(abs(e) < 0.05, series, np.log(np.cosh(e)))
    np.testing.assert_allclose(
        backend.to_numpy(xlosses.log_cosh(eb)), want, rtol=1e-6 if dtype == "float32" else 1e-13
    )


def test_extremes_finite_values_and_gradients(backend):
    e = np.array([-1e30, -1e4, -50.0, 50.0, 1e4, 1e30])
    eb = backend.asarray(e, "float32")
    got = backend.to_numpy(xlosses.log_cosh(eb))
    np.testing.assert_allclose(got, np.abs(e) - np.log(2.0), rtol=1e-6)
    got = backend.to_numpy(xlosses.huber_loss(eb, delta=2.0))
    np.testing.assert_allclose(got, 2.0 * (np.abs(e) - 1.0), rtol=1e-6)
    if backend.differentiable:
        g = xl_grad(backend, xlosses.log_cosh, [eb], {}, (0,))[0]
        np.testing.assert_allclose(g, np.sign(e), rtol=1e-6)  # tanh(e)
        g = xl_grad(backend, lambda a: xlosses.huber_loss(a, delta=2.0), [eb], {}, (0,))[0]
        np.testing.assert_allclose(g, 2.0 * np.sign(e), rtol=1e-6)
        g = xl_grad(backend, xlosses.absolute_error, [eb], {}, (0,))[0]
        np.testing.assert_allclose(g, np.sign(e), rtol=0)


def test_gradients_at_zero_error(backend):
    """Derivative 0 at e = 0 (log-cosh, Huber: smooth; |e|: torch's l1_loss convention)."""
    if not backend.differentiable:
        pytest.skip("no autodiff")
    z = backend.asarray(np.zeros(3), "float64")
    for fn in (xlosses.log_cosh, xlosses.huber_loss, xlosses.absolute_error, xlosses.l2_loss):
        g = xl_grad(backend, fn, [z], {}, (0,))[0]
        np.testing.assert_array_equal(g, np.zeros(3))


# -- torch-only cores --------------------------------------------------------------------


def test_absolute_error_vs_torch(backend, dtype, rng):
    pytest.importorskip("torch")
    p, t = rng.normal(size=(2, 3, 4)) * 3, rng.normal(size=(2, 3, 4))
    p.flat[0] = t.flat[0]  # an exact zero error: both give derivative 0
    check_case(backend, dtype, xlosses.absolute_error, "torch:l1_loss", [p, t], argnums=(0, 1))


@pytest.mark.parametrize("log_input,full", [(True, False), (True, True), (False, True)])
def test_poisson_nll_vs_torch(backend, dtype, log_input, full, rng):
    pytest.importorskip("torch")
    x = rng.normal(size=(2, 3, 5)) * 2
    if not log_input:
        x = np.exp(x)
    counts = rng.poisson(2.0, size=(2, 3, 5)).astype(float)
    counts.flat[:3] = [0.0, 1.0, 7.0]  # the Stirling term's boundary (y > 1 only)
    kw = {"log_input": log_input, "full": full}
    if full:
        check_case(backend, dtype, xlosses.poisson_nll, "torch:poisson_nll_loss", [x, counts], kw)
    else:  # targets > 0: torch's target gradient is finite
        args = [x, counts + rng.random(counts.shape)]
        check_case(
            backend, dtype, xlosses.poisson_nll, "torch:poisson_nll_loss", args, kw, argnums=(0, 1)
        )


def test_poisson_nll_zero_targets_finite_gradients(backend):
    if not backend.differentiable:
        pytest.skip("no autodiff")
    x = backend.asarray(np.array([-np.inf, 0.5, 1.0]), "float64")
    y = backend.asarray(np.array([0.0, 0.0, 3.0]), "float64")
    out = backend.to_numpy(xlosses.poisson_nll(x, y, full=True))
    st = 3 * np.log(3) - 3 + 0.5 * np.log(2 * np.pi * 3)
    np.testing.assert_allclose(out, [0.0, np.exp(0.5), np.e - 3 + st], rtol=1e-14)
    gx, gy = xl_grad(backend, lambda a, b: xlosses.poisson_nll(a, b, full=True), [x, y], {}, (0, 1))
    assert np.all(np.isfinite(gy))  # torch: NaN at y = 0 with full=True
    np.testing.assert_allclose(gx[1:], [np.exp(0.5), np.e - 3], rtol=1e-14)


@pytest.mark.sweep
@pytest.mark.parametrize("var_shape", ["full", "row", "last1", "dim1", "float"])
def test_gaussian_nll_vs_torch(backend, dtype, var_shape, rng):
    pytest.importorskip("torch")
    shape = (2, 3, 4)
    mean, t = rng.normal(size=shape) * 3, rng.normal(size=shape)
    var = {
        "full": lambda: 0.1 + rng.random(shape),
        "row": lambda: 0.1 + rng.random(shape[:-1]),
        "last1": lambda: 0.1 + rng.random((2, 3, 1)),
        "dim1": lambda: 0.1 + rng.random((2, 1, 4)),
        "float": lambda: 0.7,
    }[var_shape]()
    check_case(
        backend,
        dtype,
        xlosses.gaussian_nll,
        "torch:gaussian_nll_loss",
        [mean, t, var],
        {"full": var_shape != "full"},
        argnums=(0, 1) if var_shape == "float" else (0, 1, 2),
        jit=var_shape == "row",
    )
    if var_shape == "full":
        # variances below eps: clamped in value, straight-through in gradient, as torch
        var = np.where(rng.random(shape) < 0.5, 1e-3 * rng.random(shape), var)
        check_case(
            backend,
            dtype,
            xlosses.gaussian_nll,
            "torch:gaussian_nll_loss",
            [mean, t, var],
            {"eps": 0.05},
            argnums=(0, 2),
            jit=False,
        )


def test_gaussian_nll_var_checks(backend):
    m = backend.asarray(np.zeros((4, 3)), "float32")
    with pytest.raises(ValueError, match=r"var shape \(4, 2\) is of incorrect size.*\(4, 3\)"):
        xlosses.gaussian_nll(m, m, backend.asarray(np.ones((4, 2)), "float32"))
    with pytest.raises(ValueError, match=r"var shape \(1, 1\)"):
        xlosses.gaussian_nll(m, m, backend.asarray(np.ones((1, 1)), "float32"))
    neg = backend.asarray(np.array([[1.0], [-1.0], [1.0], [1.0]]), "float32")
    with raises_if_checked(backend, ValueError, match="var must be non-negative"):
        xlosses.gaussian_nll(m, m, neg)
    with pytest.raises(ValueError, match="var must be non-negative"):  # a Python scalar: static
        xlosses.gaussian_nll(m, m, -1.0)
    if backend.differentiable:  # no check under compilation: the bad row is NaN
        out = backend.to_numpy(backend.compile(xlosses.gaussian_nll)(m, m, neg))
        assert np.all(np.isnan(out[1])) and np.all(np.isfinite(np.delete(out, 1, axis=0)))


# -- compilation, dtypes, errors -------------------------------------------------------------


def test_compiled(backend, rng):
    if not backend.differentiable:
        pytest.skip("no compiler")
    p = backend.asarray(rng.normal(size=(3, 4)) * 3, "float32")
    t = backend.asarray(rng.normal(size=(3, 4)), "float32")
    v = backend.asarray(0.1 + rng.random(3), "float32")
    compiled_matches_eager(backend, lambda a, b: xlosses.huber_loss(a, b, delta=0.5), p, t)
    compiled_matches_eager(backend, xlosses.log_cosh, p, t)
    compiled_matches_eager(backend, lambda a, b: xlosses.poisson_nll(a, b, full=True), p, t * t)
    compiled_matches_eager(backend, xlosses.gaussian_nll, p, t, v)


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision(backend, low):
    if low not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {low}")
    e = np.array([[-200.0, -1.5, 0.0], [0.25, 2.0, 200.0]])
    eb = backend.asarray(e, low)
    e = backend.to_numpy(eb)
    for name, want in (
        ("squared_error", e**2),
        ("absolute_error", abs(e)),
        ("huber_loss", np.where(abs(e) <= 1, e**2 / 2, abs(e) - 0.5)),
        ("log_cosh", np.log(np.cosh(np.clip(e, -50, 50))) + np.maximum(abs(e) - 50, 0)),
    ):
        out = getattr(xlosses, name)(eb)
        assert backend.dtype_name(out) == low, name
        np.testing.assert_allclose(backend.to_numpy(out), want, rtol=1e-2, atol=1e-3)


def test_errors(backend):
    p = backend.asarray(np.zeros((4, 3)), "float32")
    with pytest.raises(ValueError, match=r"predictions shape \(4, 3\), targets shape \(4, 1\)"):
        xlosses.squared_error(p, backend.asarray(np.zeros((4, 1)), "float32"))
    with pytest.raises(ValueError, match=r"predictions shape \(4, 3\) and targets shape \(2,\)"):
        xlosses.huber_loss(p, backend.asarray(np.zeros(2), "float32"))
    pi = backend.asarray(np.zeros((4, 3), dtype=np.int32))
    for fn in (xlosses.squared_error, xlosses.log_cosh, xlosses.absolute_error):
        with pytest.raises(TypeError, match="predictions must have a real floating dtype"):
            fn(pi)
    with pytest.raises(TypeError, match="log_input_or_rate must have a real floating dtype"):
        xlosses.poisson_nll(pi, p)
    # a library the backend's own does not mix with (JAX takes NumPy arrays: torch instead)
    other = backend_named("torch" if backend.name in ("numpy", "jax") else "numpy")
    if other is not None:
        with pytest.raises(TypeError, match="different array libraries"):
            xlosses.l2_loss(p, other.asarray(np.zeros((4, 3)), "float32"))


def test_nan_stays_in_its_entry(backend):
    e = backend.asarray(np.array([np.nan, 1.0, 3.0]), "float64")
    for name in ("squared_error", "absolute_error", "huber_loss", "log_cosh"):
        out = backend.to_numpy(getattr(xlosses, name)(e))
        assert np.isnan(out[0]) and np.all(np.isfinite(out[1:])), name


def test_jax_and_torch_gradients_agree(rng):
    jb, tb = backend_named("jax"), backend_named("torch")
    if jb is None or tb is None:
        pytest.skip("needs jax and torch")
    p, t = rng.normal(size=(3, 4)) * 3, rng.normal(size=(3, 4))
    v = 0.1 + rng.random((3, 4))
    for fn, args in (
        (xlosses.huber_loss, [p, t]),
        (xlosses.log_cosh, [p, t]),
        (lambda a, b: xlosses.poisson_nll(a, b, full=True), [p, t * t]),
        (xlosses.gaussian_nll, [p, t, v]),
    ):
        argnums = tuple(range(len(args)))
        gj = xl_grad(jb, fn, [jb.asarray(a, "float64") for a in args], {}, argnums)
        gt = xl_grad(tb, fn, [tb.asarray(a, "float64") for a in args], {}, argnums)
        for a, b in zip(gj, gt, strict=True):
            assert_close(a, b, 1e-12)


# -- Keras' MAPE / MSLE terms (issue #22) ----------------------------------------------------


def test_percentage_and_logarithmic_errors(backend, rng):
    """Float64 formulas of Keras' MAPE and MSLE terms (its guards: max(|y|, ε) and
    max(v, ε)), values and gradients; Keras' per-sample value is the mean over the last axis."""
    p = rng.normal(size=(3, 4)) * 2
    t = rng.normal(size=(3, 4)) * 2
    t[0, :2] = 0.0  # a zero target: the denominator is ε
    p[1, 0] = -3.0  # a negative prediction: log1p(ε), derivative 0
    pb, tb = backend.asarray(p, "float64"), backend.asarray(t, "float64")

    def fn(p, t):
        return xlosses.absolute_percentage_error(p, t), xlosses.squared_logarithmic_error(p, t)

    (ape, sle), grad = run_outputs(backend, fn, pb, tb, grads=True)
    den = np.maximum(np.abs(t), 1e-7)
    d = np.log1p(np.maximum(p, 1e-7)) - np.log1p(np.maximum(t, 1e-7))
    np.testing.assert_allclose(ape, 100 * np.abs(t - p) / den, rtol=1e-12)
    np.testing.assert_allclose(sle, d**2, rtol=1e-12, atol=1e-300)
    if grad is not None:
        want = 100 * np.sign(p - t) / den + 2 * d * (p > 1e-7) / (1 + p)
        np.testing.assert_allclose(grad, want, rtol=1e-12)
    nan = backend.asarray(np.array([np.nan, 1.0]), "float64")
    for out in run_outputs(backend, fn, nan, backend.asarray(np.array([2.0, 2.0]), "float64")):
        assert np.isnan(out[0]) and np.isfinite(out[1])
