"""Margin losses on every backend: optax / torch.nn.functional as peers (values and
gradients, at the kinks too), torch's multilabel target format, compilation and errors."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from conftest import backend_named, raises_if_checked
from peer_cases import check_case, compiled_matches_eager, run_outputs, xl_grad

import xlosses

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

pytest.importorskip("optax")

C = 5


def signs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


@pytest.mark.parametrize("name", ["hinge_loss", "perceptron_loss"])
def test_binary_vs_optax(backend, dtype, name, rng):
    x, t = rng.normal(size=(2, 3, C)) * 2, signs(rng, (2, 3, C))
    x[0, 0] = t[0, 0] if name == "hinge_loss" else 0.0  # exactly at the kink
    x[0, 1] *= 1e4
    check_case(backend, dtype, getattr(xlosses, name), f"optax:{name}", [x, t])
    if backend.differentiable:  # optax's (JAX's) convention: derivative ½ at the kink
        args = [backend.asarray(x, dtype), backend.asarray(t, dtype)]
        g = xl_grad(backend, getattr(xlosses, name), args, {}, (0,))[0]
        np.testing.assert_allclose(g[0, 0], -0.5 * t[0, 0], rtol=0)


@pytest.mark.sweep
@pytest.mark.parametrize("name", ["multiclass_hinge_loss", "multiclass_perceptron_loss"])
def test_multiclass_vs_optax(backend, dtype, name, rng):
    x = rng.normal(size=(2, 3, C)) * 2
    y = rng.integers(0, C, size=(2, 3))
    x[0, 0] = [1.0, 0.0, 0.0, -3.0, -2.0]  # hinge: a three-way tie of the maximum
    y[0, 0] = 0
    x[0, 1] = [2.0, 2.0, 0.0, 1.0, -1.0]  # perceptron: tied maxima
    y[0, 1] = 1
    x[1, 2] *= 1e4
    check_case(backend, dtype, getattr(xlosses, name), f"optax:{name}", [x, y])
    check_case(
        backend, dtype, getattr(xlosses, name), f"optax:{name}", [x[0, 0], np.asarray(y[0, 0])]
    )


def test_hand_values(backend):
    x = backend.asarray(np.array([[0.1, 0.2, 0.4, 0.8]]), "float64")
    # torch's documentation example: ((1-(0.1-0.2)) + (1-(0.1-0.4)) + (1-(0.8-0.2)) + (1-(0.8-0.4))) / 4
    y = backend.asarray(np.array([[3, 0, -1, 1]]))
    got = backend.to_numpy(xlosses.multilabel_margin_loss(x, y))
    np.testing.assert_allclose(got, [0.85], rtol=1e-12)
    got = backend.to_numpy(xlosses.multi_margin_loss(x, backend.asarray(np.array([3]))))
    np.testing.assert_allclose(got, [(0.3 + 0.4 + 0.6) / 4], rtol=1e-12)
    got = backend.to_numpy(xlosses.multi_margin_loss(x, backend.asarray(np.array([3])), p=2))
    np.testing.assert_allclose(got, [(0.09 + 0.16 + 0.36) / 4], rtol=1e-12)
    got = backend.to_numpy(xlosses.multiclass_hinge_loss(x, backend.asarray(np.array([1]))))
    np.testing.assert_allclose(got, [1.8 - 0.2], rtol=1e-12)


@pytest.mark.sweep
@pytest.mark.parametrize(
    "kw", [{}, {"p": 2}, {"margin": 0.5}, {"p": 2, "margin": 2.0, "weight": True}]
)
def test_multi_margin_vs_torch(backend, dtype, kw, rng):
    pytest.importorskip("torch")
    x, y = rng.normal(size=(6, C)) * 2, rng.integers(0, C, size=6)
    x[0] = [1.0, 0.0, 0.5, 3.0, -1.0]  # j = 1 at the kink for margin 1 (z = 0)
    y[0] = 0
    kw = dict(kw)
    if kw.pop("weight", False):
        kw["weight"] = rng.uniform(0.2, 2.0, C)
    fn = xlosses.multi_margin_loss
    check_case(backend, dtype, fn, "torch:multi_margin_loss", [x, y], kw)
    check_case(
        backend, dtype, fn, "torch:multi_margin_loss", [x[1], np.asarray(y[1])], kw, jit=False
    )


def multilabel_targets(rng: np.random.Generator, n: int) -> np.ndarray:
    """k distinct classes, -1, then junk in [-1, C) that the first -1 hides."""
    rows = []
    for k in [0, 1, 2, C - 1, C, *rng.integers(0, C + 1, n - 5)]:
        row = np.concatenate([rng.permutation(C)[:k], -np.ones(C - k, dtype=int)])
        row[k + 1 :] = rng.integers(-1, C, max(C - k - 1, 0))
        rows.append(row)
    return np.array(rows, dtype=np.int64)


def test_multilabel_margin_vs_torch(backend, dtype, rng):
    pytest.importorskip("torch")
    x, y = rng.normal(size=(8, C)) * 2, multilabel_targets(rng, 8)
    y[0] = [2, 2, -1, 0, 1]  # a repeated class counts twice, as in torch
    x[1] = [0.0, 1.0, 0.0, 0.0, 0.0]  # kinks: 1 - x_t + x_j = 0
    y[1] = [1, -1, -1, -1, -1]
    check_case(
        backend, dtype, xlosses.multilabel_margin_loss, "torch:multilabel_margin_loss", [x, y]
    )


def test_leading_axes_equal_flat_rows(backend, rng):
    x = rng.normal(size=(2, 3, C))
    y = rng.integers(0, C, size=(2, 3))
    ym = multilabel_targets(rng, 6).reshape(2, 3, C)
    xb, yb, ymb = backend.asarray(x, "float64"), backend.asarray(y), backend.asarray(ym)
    flat = (
        backend.asarray(x.reshape(6, C), "float64"),
        backend.asarray(y.reshape(6)),
        backend.asarray(ym.reshape(6, C)),
    )
    for fn, a, b in (
        (xlosses.multi_margin_loss, yb, flat[1]),
        (xlosses.multiclass_hinge_loss, yb, flat[1]),
        (xlosses.multilabel_margin_loss, ymb, flat[2]),
    ):
        got = backend.to_numpy(fn(xb, a))
        want = backend.to_numpy(fn(flat[0], b)).reshape(2, 3)
        np.testing.assert_allclose(got, want, rtol=1e-15)


def test_compiled(backend, rng):
    if not backend.differentiable:
        pytest.skip("no compiler")
    x = backend.asarray(rng.normal(size=(4, C)), "float32")
    y = backend.asarray(rng.integers(0, C, size=4))
    w = backend.asarray(rng.uniform(0.5, 2.0, C), "float32")
    ym = backend.asarray(multilabel_targets(rng, 5)[:4])
    compiled_matches_eager(backend, xlosses.multiclass_hinge_loss, x, y)
    compiled_matches_eager(
        backend, lambda a, b, c: xlosses.multi_margin_loss(a, b, p=2, weight=c), x, y, w
    )
    compiled_matches_eager(backend, xlosses.multilabel_margin_loss, x, ym)


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision(backend, low, rng):
    if low not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {low}")
    x = rng.normal(size=(4, C)) * 3
    y = backend.asarray(rng.integers(0, C, size=4))
    ym = backend.asarray(multilabel_targets(rng, 5)[:4])
    for fn, lab in (
        (xlosses.multiclass_hinge_loss, y),
        (xlosses.multi_margin_loss, y),
        (xlosses.multilabel_margin_loss, ym),
    ):
        out = fn(backend.asarray(x, low), lab)
        assert backend.dtype_name(out) == low
        want = backend.to_numpy(fn(backend.asarray(x, "float32"), lab))
        np.testing.assert_allclose(backend.to_numpy(out), want, rtol=3e-2, atol=3e-2)


def test_bad_labels(backend):
    x = backend.asarray(np.zeros((3, 4)), "float32")
    bad = backend.asarray(np.array([0, 4, -1]))
    for fn in (
        xlosses.multiclass_hinge_loss,
        xlosses.multiclass_perceptron_loss,
        xlosses.multi_margin_loss,
    ):
        with raises_if_checked(backend, ValueError, match=r"labels must lie in \[0, 4\)"):
            fn(x, bad)
    ym = backend.asarray(np.array([[0, -1, 9, 1], [1, 2, -1, -1], [-2, 0, 1, 2]]))
    with raises_if_checked(
        backend, ValueError, match=r"targets must lie in \[0, 4\) \(or ignore_index=-1\)"
    ):
        xlosses.multilabel_margin_loss(x, ym)
    if backend.differentiable:  # no check can run under compilation: NaN rows
        out = backend.to_numpy(backend.compile(xlosses.multiclass_hinge_loss)(x, bad))
        assert np.isfinite(out[0]) and np.all(np.isnan(out[1:]))
        out = backend.to_numpy(backend.compile(xlosses.multilabel_margin_loss)(x, ym))
        assert np.isnan(out[0]) and np.isfinite(out[1]) and np.isnan(out[2])


def test_errors(backend):
    x = backend.asarray(np.zeros((3, 4)), "float32")
    y = backend.asarray(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"labels shape \(2,\) must equal scores shape \(3, 4\)"):
        xlosses.multiclass_hinge_loss(x, backend.asarray(np.zeros(2, dtype=np.int64)))
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        xlosses.multiclass_perceptron_loss(x, backend.asarray(np.zeros(3), "float32"))
    with pytest.raises(ValueError, match="p must be one of 1, 2; got 3"):
        xlosses.multi_margin_loss(x, y, p=3)
    with pytest.raises(ValueError, match=r"weight shape \(3,\) must be \(4,\)"):
        xlosses.multi_margin_loss(x, y, weight=backend.asarray(np.ones(3), "float32"))
    with pytest.raises(
        ValueError, match=r"predictor_outputs shape \(3, 4\), targets shape \(3, 1\)"
    ):
        xlosses.perceptron_loss(x, backend.asarray(np.ones((3, 1)), "float32"))
    with pytest.raises(ValueError, match=r"scores shape \(3, 4\), targets shape \(3, 3\)"):
        xlosses.multilabel_margin_loss(x, backend.asarray(np.zeros((3, 3), dtype=np.int64)))
    with pytest.raises(TypeError, match="scores must have a real floating dtype"):
        xlosses.multi_margin_loss(backend.asarray(np.zeros((3, 4), dtype=np.int32)), y)


def test_nan_stays_in_its_row(backend):
    x = backend.asarray(np.array([[np.nan, 0.0, 1.0], [0.5, 0.0, 1.0]]), "float64")
    y = backend.asarray(np.array([1, 1]))
    ym = backend.asarray(np.array([[1, -1, -1], [1, 0, -1]]))
    for fn, lab in (
        (xlosses.multiclass_hinge_loss, y),
        (xlosses.multiclass_perceptron_loss, y),
        (xlosses.multi_margin_loss, y),
        (xlosses.multilabel_margin_loss, ym),
    ):
        out = backend.to_numpy(fn(x, lab))
        assert np.isnan(out[0]) and np.isfinite(out[1]), fn.__name__
    out = backend.to_numpy(xlosses.hinge_loss(x, backend.asarray(np.ones((2, 3)), "float64")))
    assert np.isnan(out[0, 0]) and np.all(np.isfinite(out[1]))


def test_jax_and_torch_gradients_agree(rng):
    jb, tb = backend_named("jax"), backend_named("torch")
    if jb is None or tb is None:
        pytest.skip("needs jax and torch")
    x = rng.normal(size=(4, C))
    x[0] = [1.0, 0.0, 0.0, -3.0, 0.5]  # kinks and ties
    y = rng.integers(0, C, size=4)
    y[0] = 0
    ym = multilabel_targets(rng, 5)[:4]
    for fn, lab in (
        (xlosses.multiclass_hinge_loss, y),
        (xlosses.multi_margin_loss, y),
        (xlosses.multilabel_margin_loss, ym),
        (xlosses.hinge_loss, np.sign(x) + (x == 0)),
    ):
        grads = [
            xl_grad(
                b,
                fn,
                [
                    b.asarray(x, "float64"),
                    b.asarray(lab, "float64" if lab.dtype.kind == "f" else None),
                ],
                {},
                (0,),
            )[0]
            for b in (jb, tb)
        ]
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", ["multi_margin_loss", "multilabel_margin_loss"])
def test_torch_fused_kernel_fast_path_equals_generic(kind):
    """Eager CPU torch hands 2-D margin losses to torch's own kernel (_ops.torch_margin_loss):
    the same values and score gradients as the generic body, kinks included; a label the
    kernel refuses still raises xlosses' ValueError."""
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(5)
    x0 = torch.randn(7, 5, generator=g, dtype=torch.float64)
    x0[0] = torch.tensor([1.0, 0.0, 0.5, 3.0, -1.0], dtype=torch.float64)  # z = 0 at j = 1
    if kind == "multi_margin_loss":
        t = torch.tensor([0, 1, 2, 3, 4, 0, 2], dtype=torch.int32)
        kwargs = {"p": 2, "margin": 0.7, "weight": torch.rand(5, generator=g, dtype=torch.float64)}
        bad = t + 5
    else:
        t = torch.tensor([[0, 3, -1, 1, 1]] * 7)
        kwargs, bad = {}, t + 6
    fn = getattr(xlosses, kind)
    results = []
    for generic in (False, True):
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            x = x0.clone().requires_grad_(True)
            out = fn(x, t, **kwargs)
            (gx,) = torch.autograd.grad(out.sum(), (x,))
            results.append((out.detach().numpy(), gx.numpy()))
            with pytest.raises(ValueError, match="must lie in"):
                fn(x0, bad, **kwargs)
            if "weight" in kwargs:  # an integer weight is refused on both paths
                with pytest.raises(TypeError, match="weight must have a real floating dtype"):
                    fn(x0, t, weight=torch.ones(5, dtype=torch.int64))
    (value, grad), (value_g, grad_g) = results
    np.testing.assert_allclose(value, value_g, rtol=1e-12)
    np.testing.assert_allclose(grad, grad_g, rtol=1e-12, atol=1e-15)
    # xlosses.functional's form hands its reduction to the kernel (multi_margin_reduced,
    # multilabel_margin_reduced): the generic body's per-example core and reduce
    import xlosses.functional as XF

    for reduction in ("mean", "sum", "none"):
        got = []
        for generic in (False, True):
            with xlosses.generic_only() if generic else contextlib.nullcontext():
                x = x0.clone().requires_grad_(True)
                out = getattr(XF, kind)(x, t, reduction=reduction, **kwargs)
                (gx,) = torch.autograd.grad(out.sum(), (x,))
                got.append((out.detach().numpy(), gx.numpy()))
        np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-12)
        np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-12, atol=1e-15)


# -- Keras' squared and categorical hinge (issue #22) ----------------------------------------


def test_keras_hinges_values_and_gradients(backend, rng):
    """Float64 formulas of keras.losses.squared_hinge / categorical_hinge (values and
    gradients); the {0, 1} → {-1, 1} mapping per row; NaN and 16-bit inputs."""
    s = rng.normal(size=(4, C)) * 2
    bits = (rng.random((4, C)) < 0.5).astype(float)
    t = np.where(bits > 0, 1.0, -1.0)
    mixed = np.where(np.arange(4)[:, None] < 2, bits, t)  # rows 0-1 in {0, 1}, rows 2-3 ±1
    onehot = np.eye(C)[rng.integers(0, C, 4)]
    s[3] = -np.abs(s[3]) - 0.1  # every score negative: Keras' max over (1 - y)·s is 0
    sb, mb, ob = (backend.asarray(v, "float64") for v in (s, mixed, onehot))

    def fn(s, m, o):
        return xlosses.squared_hinge_loss(s, m), xlosses.categorical_hinge_loss(s, o)

    (sq, cat), grad = run_outputs(backend, fn, sb, mb, ob, grads=True)
    h = np.maximum(1 - t * s, 0)  # mixed rows map to t
    z = np.max((1 - onehot) * s, -1) - (onehot * s).sum(-1) + 1
    np.testing.assert_allclose(sq, (h**2).mean(-1), rtol=1e-12)
    np.testing.assert_allclose(cat, np.maximum(z, 0), rtol=1e-12)
    if grad is not None:
        top = (1 - onehot) * s == np.max((1 - onehot) * s, -1, keepdims=True)
        dcat = (z > 0)[:, None] * (top * (1 - onehot) - onehot)
        np.testing.assert_allclose(grad, -2 * t * h / C + dcat, rtol=1e-12, atol=1e-15)
    x = backend.asarray(np.array([[np.nan, 0.0, 1.0], [0.5, 0.0, 1.0]]), "float64")
    y = backend.asarray(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), "float64")
    for out in run_outputs(backend, fn, x, y, y):
        assert np.isnan(out[0]) and np.isfinite(out[1])
    low = "float16" if "float16" in backend.dtypes else "float32"
    run = backend.compile(fn) if backend.module == "jax" else fn
    for out in run(*(backend.asarray(v, low) for v in (s, mixed, onehot))):
        assert backend.dtype_name(out) == low
    with pytest.raises(ValueError, match="at least one dimension"):
        xlosses.squared_hinge_loss(
            backend.asarray(np.float64(1.0)), backend.asarray(np.float64(1.0))
        )
    with pytest.raises(ValueError, match="broadcast"):
        xlosses.categorical_hinge_loss(sb, backend.asarray(np.eye(3), "float64"))
