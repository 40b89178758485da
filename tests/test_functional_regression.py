"""xlosses.functional's regression losses and kl_div: hand values, errors, compilation, gradients.

The generic checks (values against torch.nn.functional on every backend,
input gradients against torch autograd, signatures) run in
``tests/test_functional.py`` over the conformance entries
(``conformance/entries/functional_regression.py``).  Here: numbers derived by
hand from torch's documented rules, the errors, one compiled call per loss,
16-bit inputs, and the gradients in ``target`` and ``var`` against torch
autograd in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_close, backend_named, raises_if_checked
from test_functional import compiled_matches_torch

import xlosses.functional as F

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

torch = pytest.importorskip("torch")
TF = torch.nn.functional

NAMES = (
    "l1_loss",
    "mse_loss",
    "huber_loss",
    "smooth_l1_loss",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "kl_div",
)


def _arrays(backend, dtype="float64"):
    """``a(values)``: a floating array of ``backend``; ``v(out)``: back to NumPy."""
    return (lambda x: backend.asarray(np.asarray(x, dtype=float), dtype)), backend.to_numpy


def _call(name, x, y, **kw):
    """``name`` on ``(x, y)``, with a variance of ones for ``gaussian_nll_loss``."""
    if name == "gaussian_nll_loss":
        return F.gaussian_nll_loss(x, y, 1.0, **kw)
    return getattr(F, name)(x, y, **kw)


# -- hand-derived values --------------------------------------------------------------------


def test_elementwise_hand_values(backend):
    a, v = _arrays(backend)
    x, y = a([0.5, 3.0, -1.0]), a([0.0, 0.0, 1.0])  # errors 0.5, 3, -2
    w = a([1.0, 2.0, 4.0])
    np.testing.assert_allclose(v(F.l1_loss(x, y)), 5.5 / 3, rtol=1e-12)
    # l1 and mse divide the weighted sum by the sum of the weights ...
    np.testing.assert_allclose(v(F.l1_loss(x, y, weight=w)), (0.5 + 6 + 8) / 7, rtol=1e-12)
    np.testing.assert_allclose(v(F.mse_loss(x, y, weight=w)), (0.25 + 18 + 16) / 7, rtol=1e-12)
    np.testing.assert_allclose(v(F.mse_loss(x, y, reduction="sum")), 13.25, rtol=1e-12)
    # ... huber by the number of elements (torch 2.13)
    huber = [0.125, 2.5, 1.5]  # ½e² for |e| <= 1, |e| - ½ beyond
    np.testing.assert_allclose(v(F.huber_loss(x, y, reduction="none")), huber, rtol=1e-12)
    got = v(F.huber_loss(x, y, weight=w))
    np.testing.assert_allclose(got, (0.125 + 5 + 6) / 3, rtol=1e-12)
    np.testing.assert_allclose(v(F.huber_loss(x, y, delta=4.0, reduction="sum")), 6.625)
    # smooth L1 at |e| < beta (½e²/beta) and |e| >= beta (|e| - beta/2); beta = 0 is L1
    got = v(F.smooth_l1_loss(x, y, beta=2.0, reduction="none"))
    np.testing.assert_allclose(got, [0.0625, 2.0, 1.0], rtol=1e-12)
    got = v(F.smooth_l1_loss(x, y, beta=0.0, reduction="none"))
    np.testing.assert_allclose(got, [0.5, 3.0, 2.0], rtol=1e-12)


def test_kl_div_hand_values(backend):
    a, v = _arrays(backend)
    logp = a(np.log([[0.5, 0.5], [0.25, 0.75]]))
    y = a([[0.25, 0.75], [0.25, 0.75]])
    kl = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)  # first row; the second is 0
    np.testing.assert_allclose(v(F.kl_div(logp, y, reduction="sum")), kl, rtol=1e-12)
    np.testing.assert_allclose(v(F.kl_div(logp, y, reduction="batchmean")), kl / 2, rtol=1e-12)
    np.testing.assert_allclose(v(F.kl_div(logp, y)), kl / 4, rtol=1e-12)  # 'mean': 4 elements
    got = v(F.kl_div(logp, a(np.log([[0.25, 0.75], [0.25, 0.75]])), log_target=True))
    np.testing.assert_allclose(got, kl / 4, rtol=1e-12)
    # a zero target contributes 0, also on a zero prediction (torch: NaN)
    got = v(F.kl_div(a([-np.inf, math.log(0.5)]), a([0.0, 1.0]), reduction="none"))
    np.testing.assert_allclose(got, [0.0, math.log(2.0)], rtol=1e-12)
    # 'batchmean' divides by input's first dimension, also where target broadcasts it
    got = v(F.kl_div(logp[0, :], y, reduction="batchmean"))
    np.testing.assert_allclose(got, 2 * kl / 2, rtol=1e-12)
    assert v(F.kl_div(a(-1.0), a(0.5), reduction="batchmean")).shape == ()


def test_poisson_hand_values(backend):
    a, v = _arrays(backend)
    x, y = a([0.0, 0.0, 0.0, 1.0]), a([0.0, 1.0, 3.0, 3.0])  # e^x - y x
    plain = [1.0, 1.0, 1.0, math.e - 3.0]
    np.testing.assert_allclose(v(F.poisson_nll_loss(x, y, reduction="none")), plain, rtol=1e-12)
    stirling = 3 * math.log(3) - 3 + 0.5 * math.log(2 * math.pi * 3)  # y > 1 only
    want = [1.0, 1.0, 1.0 + stirling, math.e - 3.0 + stirling]
    got = v(F.poisson_nll_loss(x, y, full=True, reduction="none"))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    got = v(F.poisson_nll_loss(a([2.0]), a([3.0]), log_input=False, eps=0.5))
    np.testing.assert_allclose(got, 2.0 - 3.0 * math.log(2.5), rtol=1e-12)


@pytest.mark.parametrize("var_shape", [(2, 3), (2,), (2, 1), (1, 3), ()])
def test_gaussian_var_broadcasting(backend, var_shape):
    a, v = _arrays(backend)
    mean = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, -1.0]])
    y = np.array([[1.0, 1.0, 0.0], [0.0, 3.0, 1.0]])
    var = 0.5 + np.arange(math.prod(var_shape)).reshape(var_shape)
    # torch's layout: a var without mean's last dimension is one variance per row
    full_var = np.broadcast_to(var[:, None] if var_shape == (2,) else var, mean.shape)
    want = 0.5 * (np.log(full_var) + (mean - y) ** 2 / full_var)
    got = F.gaussian_nll_loss(a(mean), a(y), a(var) if var_shape else 0.5, reduction="none")
    np.testing.assert_allclose(v(got), want, rtol=1e-12)
    got = v(F.gaussian_nll_loss(a(mean), a(y), a(var) if var_shape else 0.5, full=True))
    np.testing.assert_allclose(got, want.mean() + 0.5 * math.log(2 * math.pi), rtol=1e-12)
    # the variance is clamped at eps
    got = F.gaussian_nll_loss(a(mean), a(y), 0.01, eps=0.5, reduction="none")
    np.testing.assert_allclose(v(got), 0.5 * (np.log(0.5) + (mean - y) ** 2 / 0.5), rtol=1e-12)


def test_broadcast_targets_warn_like_torch(backend):
    a, v = _arrays(backend)
    x, y = np.arange(6.0).reshape(3, 2), np.array([1.0, -1.0])
    for name in ("l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss"):
        with pytest.warns(UserWarning, match=r"target shape \(2,\) differs from input shape"):
            got = getattr(F, name)(a(x), a(y), reduction="none")
        y_full = torch.from_numpy(np.broadcast_to(y, x.shape).copy())
        want = getattr(TF, name)(torch.from_numpy(x), y_full, reduction="none")
        np.testing.assert_allclose(v(got), want.numpy(), rtol=1e-12)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_unknown_reduction_lists_the_valid_ones(backend, name):
    a, _ = _arrays(backend, "float32")
    x = a(np.full((2, 3), -1.0))
    if name == "kl_div":
        valid, bad = "'none', 'batchmean', 'sum', 'mean'", "avg"
    else:
        valid, bad = "'none', 'mean', 'sum'", "batchmean"
    with pytest.raises(ValueError, match=f"reduction must be one of {valid}; got '{bad}'"):
        _call(name, x, x, reduction=bad)


@pytest.mark.parametrize("name", NAMES)
def test_bad_shapes_and_dtypes(backend, name):
    a, _ = _arrays(backend, "float32")
    x = a(np.zeros((2, 3)))
    with pytest.raises(
        ValueError, match=r"input shape \(2, 3\) and target shape \(4,\) do not broadcast"
    ):
        _call(name, x, a(np.zeros(4)))
    with pytest.raises(TypeError, match="input must have a real floating dtype"):
        _call(name, backend.asarray(np.zeros((2, 3), dtype=np.int64)), x)


def test_bad_options_and_values(backend):
    a, _ = _arrays(backend, "float32")
    x = a(np.zeros((2, 3)))
    for name in ("l1_loss", "mse_loss", "huber_loss"):
        with pytest.raises(ValueError, match=r"weight must have input's shape \(2, 3\), got"):
            getattr(F, name)(x, x, weight=a(np.ones(3)))
    with pytest.raises(TypeError, match="weight must have a real floating dtype"):
        F.l1_loss(x, x, weight=backend.asarray(np.ones((2, 3), dtype=np.int64)))
    with pytest.raises(TypeError, match="target must have a real floating dtype"):
        F.kl_div(x, backend.asarray(np.ones((2, 3), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"delta must be positive, got 0\.0"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match=r"beta must be non-negative, got -1\.0"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match=r"var shape \(3, 1\) is of incorrect size"):
        F.gaussian_nll_loss(x, x, a(np.ones((3, 1))))
    with pytest.raises(ValueError, match="var must be non-negative"):
        F.gaussian_nll_loss(x, x, -1.0)
    with raises_if_checked(backend, ValueError, match="var must be non-negative"):
        F.gaussian_nll_loss(x, x, a([[1.0, -1.0, 1.0], [1.0, 1.0, 1.0]]))


def test_negative_var_is_nan_when_compiled(backend):
    if not backend.differentiable:
        pytest.skip("no compiler")
    a, v = _arrays(backend, "float32")
    x, var = a(np.zeros((2, 2))), a([[1.0, -1.0], [1.0, 1.0]])
    out = v(backend.compile(lambda m, s: F.gaussian_nll_loss(m, m, s, reduction="none"))(x, var))
    assert np.isnan(out[0, 1]) and np.all(np.isfinite(out.flat[[0, 2, 3]]))


def test_inputs_not_mutated_requires_grad_kept():
    x = torch.randn(4, 3, requires_grad=True)
    y, var = torch.randn(4, 3), torch.full((4,), 1e-8)
    x0, y0, var0 = x.detach().clone(), y.clone(), var.clone()
    F.gaussian_nll_loss(x, y, var).backward()
    assert x.grad is not None and x.requires_grad
    assert torch.equal(x.detach(), x0) and torch.equal(y, y0) and torch.equal(var, var0)


# -- compilation and 16-bit inputs ----------------------------------------------------------

COMPILED = [
    ("l1_loss", {"weight": True}),
    ("mse_loss", {"weight": True, "reduction": "none"}),
    ("huber_loss", {"delta": 0.5, "weight": True}),
    ("smooth_l1_loss", {"beta": 0.0}),
    ("poisson_nll_loss", {"log_input": False, "full": True}),
    ("gaussian_nll_loss", {"var": "row", "full": True}),
    ("kl_div", {"log_target": True, "reduction": "batchmean"}),
]


@pytest.mark.parametrize("name,variant", COMPILED, ids=[n for n, _ in COMPILED])
def test_compiled_equals_torch(backend, name, variant):
    """``jax.jit`` / ``torch.compile(fullgraph=True)`` of a representative call of each loss."""
    compiled_matches_torch(backend, name, variant)


def test_float16_computed_in_float32(backend):
    if "float16" not in backend.dtypes:
        pytest.skip("no float16")
    cases = [
        # squares of 300 overflow float16; their mean does not
        ("mse_loss", [[300.0, 1.0]], [[0.0, 0.0]], {}),
        # ½e²/beta with e² = 2.5e-7 below float16's normal range
        ("smooth_l1_loss", [[5e-4, 2.0]], [[0.0, 0.0]], {"beta": 1e-3, "reduction": "none"}),
        ("kl_div", np.log([[0.2, 0.8]]), [[0.5, 0.5]], {"reduction": "batchmean"}),
    ]
    for name, x, y, kw in cases:
        xr = np.asarray(x, dtype=np.float16).astype(np.float64)
        yr = np.asarray(y, dtype=np.float16).astype(np.float64)
        out = getattr(F, name)(backend.asarray(xr, "float16"), backend.asarray(yr, "float16"), **kw)
        assert backend.dtype_name(out) == "float16"
        want = getattr(TF, name)(torch.from_numpy(xr), torch.from_numpy(yr), **kw).numpy()
        np.testing.assert_allclose(backend.to_numpy(out).astype(np.float64), want, rtol=2e-3)


# -- gradients in target and var against torch autograd -------------------------------------

GRADS = [
    ("l1_loss", {"weight": True}),
    ("mse_loss", {"weight": True, "reduction": "sum"}),
    ("huber_loss", {"delta": 0.5, "weight": True}),
    ("smooth_l1_loss", {"beta": 0.5}),
    ("smooth_l1_loss", {"beta": 0.0}),
    ("poisson_nll_loss", {}),  # with zero counts: torch's derivative -x there
    ("poisson_nll_loss", {"log_input": False, "full": True, "positive": True}),
    ("gaussian_nll_loss", {"var": "row"}),
    ("gaussian_nll_loss", {"eps": 0.5}),  # clamped variances: straight-through
    ("kl_div", {"positive": True, "reduction": "batchmean"}),
    ("kl_div", {"log_target": True}),
]


def _grad_inputs(name, v, rng):
    """float64 NumPy ``(args, kwargs)`` of one call; every argument but input is differentiated."""
    shape = (4, 3)
    x, y = 2.0 * rng.standard_normal(shape), 2.0 * rng.standard_normal(shape)
    kw = {k: v[k] for k in ("reduction", "delta", "beta", "eps", "log_input", "full") if k in v}
    if v.get("weight"):
        kw["weight"] = rng.uniform(0.2, 2.0, shape)
    if name == "poisson_nll_loss":
        y = rng.poisson(2.0, shape).astype(float)
        y.flat[:2] = 0.0
        if v.get("positive"):  # torch's derivative with full=True is NaN at y = 0
            x, y = np.exp(x), y + rng.uniform(0.1, 0.9, shape)
    elif name == "kl_div":
        x = x - np.log(np.exp(x).sum(-1, keepdims=True))
        y = rng.dirichlet(np.ones(shape[-1]), shape[0])  # no zeros: torch's derivative is NaN
        if v.get("log_target"):
            y = np.log(y)
        kw["log_target"] = v.get("log_target", False)
    elif name == "gaussian_nll_loss":
        return [x, y, rng.uniform(0.2, 1.5, shape[:1] if v.get("var") == "row" else shape)], kw
    return [x, y], kw


@pytest.mark.parametrize("name,variant", GRADS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(GRADS)])
def test_target_and_var_gradients_match_torch_autograd(name, variant):
    rng = np.random.default_rng(11)
    raw, kw = _grad_inputs(name, variant, rng)
    tkw = {k: torch.from_numpy(w) if isinstance(w, np.ndarray) else w for k, w in kw.items()}
    argnums = tuple(range(1, len(raw)))
    leaves = [torch.from_numpy(r.copy()).requires_grad_(True) for r in raw]
    want = torch.autograd.grad(getattr(TF, name)(*leaves, **tkw).sum(), leaves[1:])
    tb, jb = backend_named("torch"), backend_named("jax")
    for b in (tb, jb):
        if b is None:
            continue
        bkw = {
            k: b.asarray(w, "float64") if isinstance(w, np.ndarray) else w for k, w in kw.items()
        }
        args = [b.asarray(r, "float64") for r in raw]
        got = b.grad(lambda *a, bkw=bkw: getattr(F, name)(*a, **bkw), args, argnums)
        for g, w in zip(got, want, strict=True):
            assert_close(b.to_numpy(g), w.numpy(), 1e-10)
