"""Dice losses on every backend: optax as the peer, hand-derived numbers, the
probability check, extremes, gradients, compilation and errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import assert_close, backend_named

import xlosses

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

HAS_OPTAX = importlib.util.find_spec("optax") is not None
TOL = {"float32": 2e-4, "float64": 1e-6}
needs_optax = pytest.mark.skipif(not HAS_OPTAX, reason="optax not installed")


def _optax():
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    return optax.losses, jnp.asarray


def _ref_dice(p, t, axes, smooth=1.0, alpha=0.5, beta=0.5):
    """Per-class Tversky loss from the definition, float64."""
    inter = (p * t).sum(axes)
    fp = (p * (1 - t)).sum(axes)
    fn = ((1 - p) * t).sum(axes)
    return 1 - (inter + smooth) / (inter + alpha * fp + beta * fn + smooth)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _inputs(rng, shape, classes):
    x = rng.normal(size=(*shape, classes)) * 2
    t = np.eye(classes)[rng.integers(0, classes, shape)]
    return x, t


@needs_optax
@pytest.mark.sweep
@pytest.mark.parametrize("shape", [(2, 5), (2, 3, 4)])
def test_dice_agrees_with_optax(backend, dtype, shape, rng):
    ox, J = _optax()
    x, t = _inputs(rng, shape, 3)
    xb, tb = backend.asarray(x, dtype), backend.asarray(t, dtype)
    x = backend.to_numpy(xb)
    cw = np.array([0.5, 1.0, 2.0])
    cases = [
        {},
        {"alpha": 0.3, "beta": 0.7, "smooth": 0.0},
        {"class_weights": cw, "reduction": "sum"},
        {"ignore_background": True, "reduction": "none"},
        {"axis": -2},
        {"axis": tuple(range(len(shape))), "reduction": "none"},
    ]
    for kw in cases:
        kb = {k: backend.asarray(v, dtype) if k == "class_weights" else v for k, v in kw.items()}
        ko = {k: J(v) if k == "class_weights" else v for k, v in kw.items()}
        want = np.asarray(ox.dice_loss(J(x), J(t), **ko))
        if backend.module == "jax":
            import jax

            arrays = {k: v for k, v in kb.items() if hasattr(v, "shape")}
            static = {k: v for k, v in kb.items() if k not in arrays}
            got = jax.jit(lambda a, b, k, s=static: xlosses.dice_loss(a, b, **k, **s))
            got = got(xb, tb, arrays)
        else:
            got = xlosses.dice_loss(xb, tb, **kb)
        assert_close(backend.to_numpy(got), want, TOL[dtype]), kw
    # probabilities, one-hot targets of an integer dtype
    p = _softmax(x)
    pb = backend.asarray(p, dtype)
    ti = backend.asarray(t.astype(np.int64))
    want = np.asarray(ox.dice_loss(J(backend.to_numpy(pb)), J(t), apply_softmax=False))
    got = xlosses.dice_loss(pb, ti, apply_softmax=False)
    assert_close(backend.to_numpy(got), want, TOL[dtype])
    # generalized Dice
    for kw in ({}, {"ignore_background": True, "smooth": 0.5}):
        want = np.asarray(ox.multiclass_generalized_dice_loss(J(x), J(t), **kw))
        got = xlosses.multiclass_generalized_dice_loss(xb, tb, **kw)
        assert backend.to_numpy(got).shape == ()
        assert_close(backend.to_numpy(got), want, TOL[dtype])


@needs_optax
def test_binary_dice_agrees_with_optax(backend, dtype, rng):
    ox, J = _optax()
    x = rng.normal(size=(3, 4, 5)) * 3
    t = (rng.random((3, 4, 5)) < 0.4).astype(float)
    xb, tb = backend.asarray(x, dtype), backend.asarray(t, dtype)
    x = backend.to_numpy(xb)
    for args, oargs in (((xb, tb), (x, t)), ((xb[..., None], tb[..., None]), (x[..., None], t))):
        for kw in ({}, {"smooth": 0.1}):
            want = np.asarray(ox.binary_dice_loss(*[J(a) for a in oargs], **kw))
            got = xlosses.binary_dice_loss(*args, **kw)
            assert_close(backend.to_numpy(got), want, TOL[dtype])
    # the binary case of dice_loss: one channel, sigmoid
    want = np.asarray(ox.dice_loss(J(x[..., None]), J(t[..., None]), alpha=0.2, beta=0.8))
    got = xlosses.dice_loss(xb[..., None], tb[..., None], alpha=0.2, beta=0.8)
    assert_close(backend.to_numpy(got), want, TOL[dtype])


def test_dice_definition(backend, dtype, rng):
    x, t = _inputs(rng, (2, 3, 4), 3)
    xb, tb = backend.asarray(x, dtype), backend.asarray(t, dtype)
    p = _softmax(backend.to_numpy(xb))
    per_class = _ref_dice(p, t, (1, 2), smooth=0.5, alpha=0.2, beta=0.8)
    got = xlosses.dice_loss(xb, tb, smooth=0.5, alpha=0.2, beta=0.8, reduction="none")
    assert_close(backend.to_numpy(got), per_class, TOL[dtype])
    # generalized: weights 1/(f² + 1e-7), normalised to sum to C, mean over batch and classes
    f = t.sum((0, 1, 2))
    w = 1 / (f**2 + 1e-7)
    w = w / w.sum() * 3
    want = (_ref_dice(p, t, (1, 2)) * w).mean()
    got = xlosses.multiclass_generalized_dice_loss(xb, tb)
    assert_close(backend.to_numpy(got), want, TOL[dtype])
    # binary with probabilities (optax 0.2.8 raises here): the Dice formula
    q = 1 / (1 + np.exp(-x[..., 0]))
    qb = backend.asarray(q, dtype)
    got = xlosses.binary_dice_loss(qb, tb[..., 0], apply_sigmoid=False)
    want = _ref_dice(backend.to_numpy(qb), t[..., 0], (1, 2))
    assert_close(backend.to_numpy(got), want, TOL[dtype])


def test_hand_values(backend):
    """The docstring example, derived by hand: Dice of two classes over three pixels."""
    x = backend.asarray(np.array([[[2.0, -1.0], [0.0, 1.0], [1.0, 1.0]]]), "float64")
    t = backend.asarray(np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]]), "float64")
    s3, s1 = 1 / (1 + np.exp(-3.0)), 1 / (1 + np.exp(-1.0))
    # class 0: p = (σ(3), σ(-1), 1/2), t = (1, 0, 1); class 1: p = (σ(-3), σ(1), 1/2), t = (0, 1, 0)
    i0, p0, i1, p1 = s3 + 0.5, s3 + (1 - s1) + 0.5, s1, (1 - s3) + s1 + 0.5
    d0 = 1 - (i0 + 1) / (0.5 * p0 + 0.5 * 2 + 1)
    d1 = 1 - (i1 + 1) / (0.5 * p1 + 0.5 * 1 + 1)
    got = backend.to_numpy(xlosses.dice_loss(x, t, reduction="none"))
    np.testing.assert_allclose(got, [[d0, d1]], rtol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(xlosses.dice_loss(x, t)), [(d0 + d1) / 2])
    # perfect prediction with smooth = 0: loss 0; empty everything with smooth = 1: loss 0
    p = backend.asarray(np.array([[1.0, 0.0, 1.0]]), "float64")
    got = xlosses.binary_dice_loss(p, p, smooth=0.0, apply_sigmoid=False)
    np.testing.assert_allclose(backend.to_numpy(got), [0.0], atol=1e-15)
    z = backend.asarray(np.zeros((1, 3)), "float64")
    got = xlosses.binary_dice_loss(z, z, apply_sigmoid=False)
    np.testing.assert_allclose(backend.to_numpy(got), [0.0], atol=1e-15)


def test_probability_check(backend):
    x = backend.asarray(np.array([[[2.0, -1.5], [0.0, 0.5]]]), "float32")  # sums 0.5
    t = backend.asarray(np.array([[[1.0, 0.0], [0.0, 1.0]]]), "float32")
    if backend.name in ("numpy", "array_api_strict", "torch", "jax"):  # eager CPU: checked
        with pytest.raises(ValueError, match="sum to 1 along the class axis"):
            xlosses.dice_loss(x, t, apply_softmax=False)
    if backend.module == "jax":  # under jit no check runs (optax raises a tracer error)
        import jax

        out = jax.jit(lambda a, b: xlosses.dice_loss(a, b, apply_softmax=False))(x, t)
        assert np.all(np.isfinite(backend.to_numpy(out)))


@pytest.mark.sweep  # extremes on every backend: the quick conformance's extremes check
def test_extremes_and_low_precision(backend, rng):
    x, t = _inputs(rng, (2, 4), 3)
    for low, scale in (("float32", 1e4), ("float16", 6e4 / 3), ("bfloat16", 1e30)):
        if low not in backend.dtypes:
            continue
        xb = backend.asarray(x / np.abs(x).max() * scale, low)
        tb = backend.asarray(t, low)
        xs = backend.asarray(x[..., 0] / np.abs(x).max() * scale, low)
        for fn, args in (
            (xlosses.dice_loss, (xb, tb)),
            (xlosses.multiclass_generalized_dice_loss, (xb, tb)),
            (xlosses.binary_dice_loss, (xs, tb[..., 0])),
        ):
            out = fn(*args)
            assert backend.dtype_name(out) == low, fn.__name__
            assert np.all(np.isfinite(backend.to_numpy(out))), fn.__name__
            if backend.differentiable:
                g = backend.to_numpy(backend.grad(fn, list(args), [0])[0])
                assert np.all(np.isfinite(g)), fn.__name__


@needs_optax
@pytest.mark.parametrize("name", ["dice_loss", "multiclass_generalized_dice_loss"])
def test_gradients_match_optax_and_torch(name, rng):
    import jax

    ox, J = _optax()
    x, t = _inputs(rng, (2, 3, 4), 3)
    want = jax.grad(lambda a: getattr(ox, name)(a, J(t)).sum())(J(x))
    for b in (backend_named("jax"), backend_named("torch")):
        if b is None:
            continue
        tb = b.asarray(t, "float64")
        g = b.grad(lambda a, tb=tb: getattr(xlosses, name)(a, tb), [b.asarray(x, "float64")], [0])
        np.testing.assert_allclose(b.to_numpy(g[0]), np.asarray(want), rtol=1e-9, atol=1e-12)


def test_compiled_equals_eager(backend, rng):
    if not backend.differentiable:
        pytest.skip("no compiler")
    x, t = _inputs(rng, (2, 3, 4), 3)
    xb, tb = backend.asarray(x, "float32"), backend.asarray(t, "float32")
    w = backend.asarray(np.array([1.0, 2.0, 0.5]), "float32")

    def f(x, t, w):
        return (
            xlosses.dice_loss(x, t, class_weights=w, ignore_background=True),
            xlosses.multiclass_generalized_dice_loss(x, t),
            xlosses.binary_dice_loss(x[..., 0], t[..., 0]),
        )

    for e, c in zip(f(xb, tb, w), backend.compile(f)(xb, tb, w), strict=True):
        np.testing.assert_allclose(backend.to_numpy(c), backend.to_numpy(e), rtol=1e-5, atol=1e-6)


def test_errors(backend):
    x = backend.asarray(np.zeros((2, 4, 3)), "float32")
    with pytest.raises(
        ValueError, match=r"predictions shape \(2, 4, 3\), targets shape \(2, 4, 2\)"
    ):
        xlosses.dice_loss(x, backend.asarray(np.zeros((2, 4, 2)), "float32"))
    with pytest.raises(TypeError, match="predictions must have a real floating dtype"):
        xlosses.dice_loss(backend.asarray(np.zeros((2, 4, 3), dtype=np.int32)), x)
    with pytest.raises(ValueError, match="reduction must be one of"):
        xlosses.dice_loss(x, x, reduction="max")
    with pytest.raises(
        ValueError,
        match=r"class_weights must have shape \[num_classes\] = \(3,\), got shape \(1, 3\)",
    ):
        xlosses.dice_loss(x, x, class_weights=backend.asarray(np.ones((1, 3)), "float32"))
    with pytest.raises(ValueError, match="shapes must be equal"):
        xlosses.multiclass_generalized_dice_loss(x, x[..., 0])
