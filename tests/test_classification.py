"""The seed classification losses on every backend: hand-derived values, peers,
extremes, gradients, compilation and errors.

Expected values come from float64 formulas written out here (independent of
xlosses' primitives) and from optax / torch.nn.functional where installed.
"""

from __future__ import annotations

import contextlib
import importlib.util

import numpy as np
import pytest
from conftest import assert_close, backend_named, raises_if_checked
from peer_cases import run_outputs

import xlosses

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

HAS_OPTAX = importlib.util.find_spec("optax") is not None
TOL = {"float32": 2e-4, "float64": 1e-6}


# -- independent float64 references -----------------------------------------------------


def ref_log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def ref_log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def ref_bce(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -(y * ref_log_sigmoid(x) + (1 - y) * ref_log_sigmoid(-x))


def ref_focal(x, y, alpha, gamma):
    p = 1 / (1 + np.exp(-x))
    pt = y * p + (1 - y) * (1 - p)
    loss = (1 - pt) ** gamma * ref_bce(x, y)
    if alpha is not None:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


# -- values -----------------------------------------------------------------------------


def test_hand_values_softmax(backend, dtype, rng):
    x = rng.normal(size=(2, 3, 5)) * 3
    y = rng.dirichlet(np.ones(5), size=(2, 3))
    labels = rng.integers(0, 5, size=(2, 3))
    xb, yb, lb = backend.asarray(x, dtype), backend.asarray(y, dtype), backend.asarray(labels)
    x = backend.to_numpy(xb)  # the values actually used in this dtype
    y = backend.to_numpy(yb)
    lsm = ref_log_softmax(x)
    tol = TOL[dtype]
    assert_close(backend.to_numpy(xlosses.softmax_cross_entropy(xb, yb)), -(y * lsm).sum(-1), tol)
    picked = np.take_along_axis(lsm, labels[..., None], -1)[..., 0]
    assert_close(
        backend.to_numpy(xlosses.softmax_cross_entropy_with_integer_labels(xb, lb)), -picked, tol
    )
    p = np.exp(lsm)
    assert_close(
        backend.to_numpy(xlosses.poly_loss_cross_entropy(xb, yb, epsilon=1.5)),
        -(y * lsm).sum(-1) + 1.5 * (y * (1 - p)).sum(-1),
        tol,
    )
    pt = np.take_along_axis(p, labels[..., None], -1)[..., 0]
    assert_close(
        backend.to_numpy(xlosses.poly_loss_cross_entropy(xb, lb, epsilon=-1.0)),
        -picked - (1 - pt),
        tol,
    )


def test_hand_values_sigmoid(backend, dtype, rng):
    x = rng.normal(size=(4, 3)) * 4
    y_hard = (rng.random((4, 3)) < 0.5).astype(float)
    y_soft = rng.random((4, 3))
    xb = backend.asarray(x, dtype)
    x = backend.to_numpy(xb)
    tol = TOL[dtype]
    for y in (y_hard, y_soft):
        yb = backend.asarray(y, dtype)
        y = backend.to_numpy(yb)
        assert_close(
            backend.to_numpy(xlosses.sigmoid_binary_cross_entropy(xb, yb)), ref_bce(x, y), tol
        )
        for alpha, gamma in ((None, 2.0), (0.25, 2.0), (0.6, 0.5), (None, 0.0)):
            got = xlosses.sigmoid_focal_loss(xb, yb, alpha=alpha, gamma=gamma)
            assert_close(backend.to_numpy(got), ref_focal(x, y, alpha, gamma), tol)
        p = 1 / (1 + np.exp(-x))
        pt = y * p + (1 - y) * (1 - p)
        want = ref_focal(x, y, 0.25, 2.0) + 1.0 * (1 - pt) ** 3
        assert_close(backend.to_numpy(xlosses.poly_loss_sigmoid_focal(xb, yb)), want, tol)
        want = ref_focal(x, y, None, 1.0) + 2.0 * (1 - pt) ** 2
        got = xlosses.poly_loss_sigmoid_focal(xb, yb, alpha=-1.0, gamma=1.0, epsilon=2.0)
        assert_close(backend.to_numpy(got), want, tol)


def test_hand_values_known_numbers(backend):
    """Numbers derived by hand: log 2, log(1+e), and the focal weight of p = 1/2."""
    x = backend.asarray(np.array([[0.0, 0.0], [1.0, 0.0]]), "float64")
    y = backend.asarray(np.array([[1.0, 0.0], [0.0, 1.0]]), "float64")
    got = backend.to_numpy(xlosses.softmax_cross_entropy(x, y))
    np.testing.assert_allclose(got, [np.log(2), np.log1p(np.e)], rtol=1e-12)
    z = backend.asarray(np.array([0.0]), "float64")
    one = backend.asarray(np.array([1.0]), "float64")
    got = backend.to_numpy(xlosses.sigmoid_focal_loss(z, one, gamma=2.0))
    np.testing.assert_allclose(got, [0.25 * np.log(2)], rtol=1e-12)
    got = backend.to_numpy(xlosses.smooth_labels(y, 0.5))
    np.testing.assert_allclose(got, [[0.75, 0.25], [0.25, 0.75]], rtol=1e-12)


@pytest.mark.sweep
@pytest.mark.skipif(not HAS_OPTAX, reason="optax not installed")
@pytest.mark.parametrize("batch", [(4,), (2, 3, 2)])
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_agrees_with_optax(backend, dtype, batch, scale, rng):
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    C = 6
    x = np.clip(rng.normal(size=(*batch, C)), -1, 1) * scale
    x = backend.to_numpy(backend.asarray(x, dtype))
    y = rng.dirichlet(np.ones(C), size=batch)
    y = backend.to_numpy(backend.asarray(y, dtype))
    labels = rng.integers(0, C, size=batch)
    yb = (rng.random((*batch, C)) < 0.3).astype(float)
    J = jnp.asarray
    cases = [
        ("softmax_cross_entropy", (x, y), {}),
        ("softmax_cross_entropy_with_integer_labels", (x, labels), {}),
        ("safe_softmax_cross_entropy", (x, y), {}),
        ("sigmoid_binary_cross_entropy", (x, yb), {}),
        ("sigmoid_binary_cross_entropy", (x, y), {}),
        ("sigmoid_focal_loss", (x, yb), {"alpha": 0.25, "gamma": 2.0}),
        ("sigmoid_focal_loss", (x, y), {"gamma": 1.5}),
        ("poly_loss_cross_entropy", (x, y), {"epsilon": 2.0}),
        ("smooth_labels", (y, 0.1), {}),
    ]
    tol = TOL[dtype]
    for name, args, kw in cases:
        want = np.asarray(
            getattr(optax.losses, name)(
                *[J(a) if isinstance(a, np.ndarray) else a for a in args], **kw
            )
        )
        bargs = [backend.asarray(a, dtype) if isinstance(a, np.ndarray) else a for a in args]
        got = getattr(xlosses, name)(*bargs, **kw)
        if backend.module == "jax":
            got = jax.jit(lambda *a, name=name, kw=kw: getattr(xlosses, name)(*a, **kw))(*bargs)
        # absolute floor scales with the logits: rounding of x in float32 moves the loss by ~eps·|x|
        assert_close(backend.to_numpy(got), want, tol, floor=max(1.0, scale * 1e-3)), name


# -- extremes -------------------------------------------------------------------------


def _grad_logits(backend, fn, x, *rest):
    return backend.to_numpy(backend.grad(lambda a, *r: fn(a, *r), [x, *rest], [0])[0])


@pytest.mark.sweep  # extremes on every backend: the quick conformance's extremes check
def test_extreme_logits_float32(backend):
    """Logits of ±1e4 in float32: exact values (derived by hand) and finite gradients."""
    x = backend.asarray(np.array([[1e4, -1e4], [-1e4, 1e4]]), "float32")
    y = backend.asarray(np.array([[1.0, 0.0], [1.0, 0.0]]), "float32")
    labels = backend.asarray(np.array([0, 0]))
    for got in (
        xlosses.softmax_cross_entropy(x, y),
        xlosses.softmax_cross_entropy_with_integer_labels(x, labels),
    ):
        np.testing.assert_allclose(backend.to_numpy(got), [0.0, 2e4], rtol=1e-6)
    got = backend.to_numpy(xlosses.sigmoid_binary_cross_entropy(x, y))
    np.testing.assert_allclose(got, [[0.0, 0.0], [1e4, 1e4]], rtol=1e-6)
    got = backend.to_numpy(xlosses.sigmoid_focal_loss(x, y, gamma=0.5))
    np.testing.assert_allclose(got, [[0.0, 0.0], [1e4, 1e4]], rtol=1e-6)
    got = backend.to_numpy(xlosses.poly_loss_sigmoid_focal(x, y, epsilon=1.0, alpha=None))
    np.testing.assert_allclose(got, [[0.0, 0.0], [1e4 + 1, 1e4 + 1]], rtol=1e-6)
    if backend.differentiable:
        for fn, lab in (
            (xlosses.softmax_cross_entropy, y),
            (xlosses.softmax_cross_entropy_with_integer_labels, labels),
            (xlosses.poly_loss_cross_entropy, y),
            (xlosses.sigmoid_binary_cross_entropy, y),
            (xlosses.sigmoid_focal_loss, y),
            (xlosses.poly_loss_sigmoid_focal, y),
        ):
            g = _grad_logits(backend, fn, x, lab)
            assert np.all(np.isfinite(g)), fn.__name__
        # the derivative of the sigmoid BCE is sigmoid(x) - y: ±1 or 0 here
        g = _grad_logits(backend, xlosses.sigmoid_binary_cross_entropy, x, y)
        np.testing.assert_allclose(g, [[0.0, 0.0], [-1.0, 1.0]], atol=1e-6)


@pytest.mark.parametrize("gamma", [0.0, 0.25, 1.0, 2.0, 5.0])
def test_focal_gradient_finite_any_gamma(backend, gamma):
    if not backend.differentiable:
        pytest.skip("no autodiff")
    x = backend.asarray(np.array([-1e4, -30.0, -1.0, 0.0, 1.0, 30.0, 1e4]), "float32")
    for yv in (0.0, 1.0, 0.3):
        y = backend.asarray(np.full(7, yv), "float32")
        g = _grad_logits(backend, lambda a, b: xlosses.sigmoid_focal_loss(a, b, gamma=gamma), x, y)
        assert np.all(np.isfinite(g)), (gamma, yv, g)


@pytest.mark.sweep  # extremes on every backend: the quick conformance's extremes check
@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision_keeps_dtype_and_is_finite(backend, low):
    if low not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {low}")
    big = 6e4 if low == "float16" else 1e30
    x = backend.asarray(np.array([[big, -big, 0.0], [1.0, 2.0, 3.0]]), low)
    y = backend.asarray(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), low)
    labels = backend.asarray(np.array([0, 2]))
    for fn, lab in (
        (xlosses.softmax_cross_entropy, y),
        (xlosses.softmax_cross_entropy_with_integer_labels, labels),
        (xlosses.safe_softmax_cross_entropy, y),
        (xlosses.sigmoid_binary_cross_entropy, y),
        (xlosses.sigmoid_focal_loss, y),
        (xlosses.poly_loss_cross_entropy, y),
        (xlosses.poly_loss_sigmoid_focal, y),
    ):
        out = fn(x, lab)
        assert backend.dtype_name(out) == low, fn.__name__
        v = backend.to_numpy(out)
        assert np.all(np.isfinite(v)), (fn.__name__, v)
        if backend.differentiable:
            assert np.all(np.isfinite(_grad_logits(backend, fn, x, lab))), fn.__name__
    # the second row of the integer-label CE: log(e^1 + e^2 + e^3) - 3 in float32, rounded
    want = np.log(np.exp(1) + np.exp(2) + np.exp(3)) - 3
    got = backend.to_numpy(xlosses.softmax_cross_entropy_with_integer_labels(x, labels))[1]
    np.testing.assert_allclose(got, want, rtol=1e-2 if low == "float16" else 2e-2)


def test_safe_softmax_neg_inf(backend):
    x = backend.asarray(np.array([[0.0, -np.inf, 1.0]]), "float64")
    y = backend.asarray(np.array([[0.5, 0.0, 0.5]]), "float64")
    want = -(0.5 * np.log(1 / (1 + np.e)) + 0.5 * np.log(np.e / (1 + np.e)))
    np.testing.assert_allclose(
        backend.to_numpy(xlosses.safe_softmax_cross_entropy(x, y)), [want], rtol=1e-12
    )
    assert np.isnan(backend.to_numpy(xlosses.softmax_cross_entropy(x, y))[0])
    if backend.differentiable:
        g = _grad_logits(backend, xlosses.safe_softmax_cross_entropy, x, y)
        p = np.array([1.0, 0.0, np.e]) / (1 + np.e)
        np.testing.assert_allclose(g, [p - [0.5, 0.0, 0.5]], atol=1e-12)


def test_where_masks(backend):
    x = np.array([[1.0, 2.0, 3.0], [0.5, -0.5, 9.0]])
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    w = np.array([[True, True, False], [False, False, False]])
    xb, yb, wb = backend.asarray(x, "float64"), backend.asarray(y, "float64"), backend.asarray(w)
    got = backend.to_numpy(xlosses.softmax_cross_entropy(xb, yb, where=wb))
    np.testing.assert_allclose(got, [np.log1p(np.exp(-1.0)), 0.0], rtol=1e-12)
    lb = backend.asarray(np.array([1, 0]))
    got = backend.to_numpy(xlosses.softmax_cross_entropy_with_integer_labels(xb, lb, where=wb))
    np.testing.assert_allclose(got, [np.log1p(np.exp(-1.0)), 0.0], rtol=1e-12)
    rows = backend.asarray(np.array([False, True]))
    got = backend.to_numpy(xlosses.softmax_cross_entropy_with_integer_labels(xb, lb, where=rows))
    np.testing.assert_allclose(got, [0.0, -ref_log_softmax(x)[1, 0]], rtol=1e-12)
    if backend.differentiable:
        g = _grad_logits(
            backend, lambda a, b: xlosses.softmax_cross_entropy(a, b, where=wb), xb, yb
        )
        assert np.all(np.isfinite(g)) and np.all(g[1] == 0) and g[0, 2] == 0


# -- gradients: jax and torch against each other and against float64 math -----------------


@pytest.mark.parametrize(
    "name",
    [
        "softmax_cross_entropy",
        "softmax_cross_entropy_with_integer_labels",
        "sigmoid_binary_cross_entropy",
        "sigmoid_focal_loss",
        "poly_loss_cross_entropy",
        "poly_loss_sigmoid_focal",
        "safe_softmax_cross_entropy",
    ],
)
def test_gradients_jax_vs_torch_vs_analytic(name, rng):
    jb, tb = backend_named("jax"), backend_named("torch")
    if jb is None or tb is None:
        pytest.skip("needs both jax and torch")
    x = rng.normal(size=(3, 4)) * 3
    x[0, 0] = 0.0  # a logit of exactly 0 (the kink of |x| in the stable forms)
    if "integer" in name:
        y = rng.integers(0, 4, size=3)
    elif "sigmoid" in name:
        y = (rng.random((3, 4)) < 0.5).astype(float)
    else:
        y = rng.dirichlet(np.ones(4), size=3)
    fn = getattr(xlosses, name)
    gj = _grad_logits(
        jb, fn, jb.asarray(x, "float64"), jb.asarray(y, None if "integer" in name else "float64")
    )
    gt = _grad_logits(
        tb, fn, tb.asarray(x, "float64"), tb.asarray(y, None if "integer" in name else "float64")
    )
    np.testing.assert_allclose(gj, gt, rtol=1e-10, atol=1e-12)
    if name == "sigmoid_binary_cross_entropy":
        np.testing.assert_allclose(gj, 1 / (1 + np.exp(-x)) - y, rtol=1e-12)
    if name == "softmax_cross_entropy":
        p = np.exp(ref_log_softmax(x))
        np.testing.assert_allclose(gj, p * y.sum(-1, keepdims=True) - y, rtol=1e-10, atol=1e-14)


# -- compilation --------------------------------------------------------------------------


def test_compiled_equals_eager(backend, rng):
    if not backend.differentiable:
        pytest.skip("no compiler")
    x = backend.asarray(rng.normal(size=(3, 5)) * 3, "float32")
    y = backend.asarray(rng.dirichlet(np.ones(5), size=3), "float32")
    labels = backend.asarray(rng.integers(0, 5, size=3))
    for fn, lab in (
        (xlosses.softmax_cross_entropy, y),
        (xlosses.softmax_cross_entropy_with_integer_labels, labels),
        (xlosses.sigmoid_focal_loss, y),
        (xlosses.poly_loss_sigmoid_focal, y),
    ):
        eager = backend.to_numpy(fn(x, lab))
        comp = backend.to_numpy(backend.compile(lambda a, b, fn=fn: fn(a, b))(x, lab))
        # eager torch may take a fused fast path, compiled code the generic body: float32 rounding
        np.testing.assert_allclose(comp, eager, rtol=1e-5, atol=1e-8)


def test_no_one_hot_in_integer_label_ce():
    """The jaxpr of the integer-label CE holds no integer/bool array of the logits' shape
    and only the two float temporaries of logsumexp (shifted logits and their exp)."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    B, C = 7, 11
    jaxpr = jax.make_jaxpr(xlosses.softmax_cross_entropy_with_integer_labels)(
        jnp.zeros((B, C), jnp.float32), jnp.zeros((B,), jnp.int32)
    )

    def outs(jp):
        for eqn in jp.eqns:
            yield from eqn.outvars
            for p in eqn.params.values():
                inner = getattr(p, "jaxpr", None)
                if inner is not None:
                    yield from outs(getattr(inner, "jaxpr", inner))

    full = [v.aval for v in outs(jaxpr.jaxpr) if getattr(v.aval, "shape", None) == (B, C)]
    assert all(jnp.issubdtype(a.dtype, jnp.floating) for a in full), full
    assert len(full) <= 2, full


def test_poly1_custom_jvp_matches_generic_body():
    """JAX's closed-form derivative of the soft-label Poly-1 cross-entropy (a custom JVP)
    against automatic differentiation of the generic body: values, gradients in logits
    and labels, a mask, a jvp and a second derivative, under one ``jax.jit``."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # as the other float64 JAX tests
    rng = np.random.default_rng(3)
    x = jnp.asarray(3.0 * rng.standard_normal((3, 5)))
    y = jnp.asarray(rng.dirichlet(np.ones(5), 3))
    mask = jnp.asarray(rng.random((3, 5)) < 0.8).at[:, 0].set(True)

    def parts(x, y):
        def loss(x, y):
            return xlosses.poly_loss_cross_entropy(x, y, epsilon=1.5, where=mask)

        total = lambda x, y: jnp.sum(loss(x, y) ** 2)  # noqa: E731
        hess = jax.hessian(lambda x: jnp.sum(loss(x, y)))(x)
        tangent = jax.jvp(lambda x: loss(x, y), (x,), (y,))[1]
        return loss(x, y), jax.grad(total, argnums=(0, 1))(x, y), hess, tangent

    fast = jax.jit(parts)(x, y)
    with xlosses.generic_only():
        slow = jax.jit(parts)(x, y)
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(slow), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rule", ["small", "closed_form"])
def test_poly1_torch_gradients_match_the_formula(rule, monkeypatch):
    """torch's gradients of the soft-label Poly-1 cross-entropy against autograd of the
    formula written here in float64 torch ops: gradients in logits and labels for a
    weighted sum, a Hessian-vector product (``create_graph``), and gradcheck/gradgradcheck;
    ``closed_form``: with the threshold of torch's backward rule lowered, so these small
    inputs take ``torch_autograd.Poly1CrossEntropy``, whose first-order pass (logits only,
    no graph) is checked on its own along both class axes and for a mask, and
    ``torch.func.grad``, ``vmap``, ``jvp`` and forward-mode AD (which take the generic
    body) give the formula's derivatives too."""
    torch = pytest.importorskip("torch")
    if rule == "closed_form":
        from xlosses._backends import torch as torch_backend

        monkeypatch.setattr(torch_backend, "POLY1_RULE", 0)
    g = torch.Generator().manual_seed(5)
    x0 = 3.0 * torch.randn(6, 5, generator=g, dtype=torch.float64)
    y0 = torch.softmax(torch.randn(6, 5, generator=g, dtype=torch.float64), -1)
    w = torch.rand(6, generator=g, dtype=torch.float64)
    eps = 1.5

    def formula(x, y):  # -Σ y log p + ε Σ y (1 - p)
        logp = torch.log_softmax(x, -1)
        return (-(y * logp) + eps * y * (1 - logp.exp())).sum(-1)

    def grads(fn):
        x, y = x0.clone().requires_grad_(True), y0.clone().requires_grad_(True)
        gx, gy = torch.autograd.grad((w * fn(x, y)).sum(), (x, y), create_graph=True)
        (hv,) = torch.autograd.grad((gx * x0).sum(), x)
        return gx.detach(), gy.detach(), hv

    got = grads(lambda x, y: xlosses.poly_loss_cross_entropy(x, y, epsilon=eps))
    want = grads(formula)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    x, y = x0.clone().requires_grad_(True), y0.clone().requires_grad_(True)
    fn = lambda x, y: xlosses.poly_loss_cross_entropy(x, y, epsilon=eps)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, y))
    assert torch.autograd.gradgradcheck(fn, (x, y))
    mask = torch.rand(6, 5, generator=g) < 0.7
    mask[:, 0] = True

    def masked(x, y, axis):  # the formula over the kept entries along ``axis``
        logp = torch.log_softmax(x.masked_fill(~mask, -torch.inf), axis).masked_fill(~mask, 0.0)
        return (-(y * logp) + eps * y * (1 - logp.exp()) * mask).sum(axis)

    for axis, where in ((-1, None), (0, None), (-1, mask)):
        x = x0.clone().requires_grad_(True)
        loss = xlosses.poly_loss_cross_entropy(x, y0, epsilon=eps, axis=axis, where=where)
        (gx,) = torch.autograd.grad((w[: loss.shape[0]] * loss).sum(), x)
        x = x0.clone().requires_grad_(True)
        ref = formula(x, y0) if where is None else masked(x, y0, axis)
        ref = formula(x.T, y0.T) if axis == 0 else ref
        (want,) = torch.autograd.grad((w[: ref.shape[0]] * ref).sum(), x)
        torch.testing.assert_close(gx, want, rtol=1e-10, atol=1e-12)
        if rule == "closed_form":
            assert "Poly1CrossEntropy" in type(loss.grad_fn).__name__
    # torch.func's transforms and forward-mode AD (the generic body: the rule is reverse
    # mode only) give the formula's derivatives too
    x = x0.clone().requires_grad_(True)
    (want,) = torch.autograd.grad((w * formula(x, y0)).sum(), x)
    total = lambda x: (w * xlosses.poly_loss_cross_entropy(x, y0, epsilon=eps)).sum()  # noqa: E731
    torch.testing.assert_close(torch.func.grad(total)(x0), want, rtol=1e-10, atol=1e-12)
    stacked = torch.func.vmap(torch.func.grad(total))(torch.stack([x0, x0]))
    torch.testing.assert_close(stacked, torch.stack([want, want]), rtol=1e-10, atol=1e-12)
    v = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    (_, tangent) = torch.func.jvp(total, (x0,), (v,))
    torch.testing.assert_close(tangent, (want * v).sum(), rtol=1e-10, atol=1e-12)
    import torch.autograd.forward_ad as fwad

    with fwad.dual_level():
        tangent = fwad.unpack_dual(total(fwad.make_dual(x0, v))).tangent
    torch.testing.assert_close(tangent, (want * v).sum(), rtol=1e-10, atol=1e-12)


# -- errors ---------------------------------------------------------------------------------


def test_shape_mismatch_names_both_shapes(backend):
    x = backend.asarray(np.zeros((4, 3)), "float32")
    with pytest.raises(ValueError, match=r"logits shape \(4, 3\).*labels shape \(4, 2\)"):
        xlosses.softmax_cross_entropy(x, backend.asarray(np.zeros((4, 2)), "float32"))
    with pytest.raises(ValueError, match=r"labels shape \(5,\).*\(4,\)"):
        xlosses.softmax_cross_entropy_with_integer_labels(
            x, backend.asarray(np.zeros(5, dtype=np.int64))
        )
    with pytest.raises(ValueError, match=r"logits shape \(4, 3\).*labels shape \(2,\)"):
        xlosses.sigmoid_focal_loss(x, backend.asarray(np.zeros(2), "float32"))


def test_integer_logits_type_error(backend):
    xi = backend.asarray(np.zeros((2, 3), dtype=np.int32))
    y = backend.asarray(np.zeros((2, 3)), "float32")
    for fn in (
        xlosses.softmax_cross_entropy,
        xlosses.sigmoid_binary_cross_entropy,
        xlosses.sigmoid_focal_loss,
    ):
        with pytest.raises(TypeError, match="logits must have a real floating dtype"):
            fn(xi, y)
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        xlosses.softmax_cross_entropy_with_integer_labels(y, y[:, 0])


def test_mixed_libraries_type_error(backend):
    """Libraries that do not mix raise TypeError naming both arguments (JAX takes NumPy
    arrays, as JAX itself does: it is mixed with torch here; see test_input_policy.py)."""
    if backend.name == "numpy":
        other = backend_named("array_api_strict") or backend_named("torch")
    elif backend.name == "jax":
        other = backend_named("torch")
    else:
        other = backend_named("numpy")
    if other is None:
        pytest.skip("needs a second library")
    x = backend.asarray(np.zeros((2, 3)), "float32")
    y = other.asarray(np.zeros((2, 3)), "float32")
    with pytest.raises(TypeError, match="logits and labels come from different array libraries"):
        xlosses.softmax_cross_entropy(x, y)


def test_bad_axis_and_mask(backend):
    x = backend.asarray(np.zeros((2, 3)), "float32")
    y = backend.asarray(np.zeros((2, 3)), "float32")
    with pytest.raises(ValueError, match="axis=5 is out of range"):
        xlosses.softmax_cross_entropy(x, y, axis=5)
    with pytest.raises(TypeError, match="where must be a boolean array"):
        xlosses.softmax_cross_entropy(x, y, where=y)


def test_out_of_range_labels(backend):
    x = backend.asarray(np.zeros((3, 4)), "float32")
    bad = backend.asarray(np.array([0, 4, -1]))
    if backend.gpu or backend.name == "dask":
        # no value check on a GPU (it would synchronise) nor on a lazy Dask array (it
        # would compute): the bad rows are NaN instead
        out = backend.to_numpy(xlosses.softmax_cross_entropy_with_integer_labels(x, bad))
        assert np.isfinite(out[0]) and np.isnan(out[1]) and np.isnan(out[2])
    else:
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\).*\[-1, 4\]"):
            xlosses.softmax_cross_entropy_with_integer_labels(x, bad)
    if backend.differentiable:
        # under jit / torch.compile no check can run: the bad rows are NaN, the good one is not
        out = backend.to_numpy(
            backend.compile(xlosses.softmax_cross_entropy_with_integer_labels)(x, bad)
        )
        assert np.isfinite(out[0]) and np.isnan(out[1]) and np.isnan(out[2])


@pytest.mark.parametrize("bad", [-100, -1, 4, 2**31 - 1])
@pytest.mark.parametrize("label_dtype", ["int64", "int32"])
def test_each_out_of_range_label_is_reported(backend, bad, label_dtype):
    """Every invalid value raises where checks run, -100 too (torch's own kernel, used for
    the check on eager CPU torch, would ignore its default ``ignore_index``)."""
    if backend.gpu or backend.name == "dask":
        pytest.skip("no value check on GPUs and lazy arrays (covered above)")
    x = backend.asarray(np.zeros((3, 4)), "float32")
    labels = backend.asarray(np.array([0, bad, 3]).astype(label_dtype))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        xlosses.softmax_cross_entropy_with_integer_labels(x, labels)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        xlosses.poly_loss_cross_entropy(x, labels)


@pytest.mark.parametrize("gamma", [1.0, 2.0, 3.5])
def test_focal_fast_path_gradients_in_both_arguments(gamma, rng):
    """torch's eager fast path (linear-space weight) against the generic log-space body,
    in value and in the gradients of logits and soft labels."""
    torch = pytest.importorskip("torch")
    x0 = torch.from_numpy(np.concatenate([3 * rng.standard_normal(20), [-90.0, 90.0, 0.0]]))
    y0 = torch.from_numpy(np.concatenate([rng.random(20), [1.0, 1.0, 0.5]]))
    results = []
    for generic in (False, True):
        x, y = x0.clone().requires_grad_(True), y0.clone().requires_grad_(True)
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            out = xlosses.poly_loss_sigmoid_focal(x, y, gamma=gamma, alpha=0.25)
        gx, gy = torch.autograd.grad(out.sum(), (x, y))
        results.append([out.detach().numpy(), gx.numpy(), gy.numpy()])
    for fast, generic in zip(*results, strict=True):
        assert np.all(np.isfinite(fast))
        np.testing.assert_allclose(fast, generic, rtol=1e-10, atol=1e-12)


def test_nan_stays_in_its_row(backend):
    x = np.array([[np.nan, 1.0, 2.0], [0.0, 1.0, 2.0]])
    xb = backend.asarray(x, "float64")
    out = backend.to_numpy(
        xlosses.softmax_cross_entropy_with_integer_labels(xb, backend.asarray(np.array([1, 2])))
    )
    assert np.isnan(out[0]) and np.isfinite(out[1])
    out = backend.to_numpy(
        xlosses.sigmoid_focal_loss(xb, backend.asarray(np.ones((2, 3)), "float64"))
    )
    assert np.isnan(out[0, 0]) and np.all(np.isfinite(out[1]))


def test_inputs_not_mutated_and_requires_grad_kept():
    torch = pytest.importorskip("torch")
    x = torch.randn(4, 5, requires_grad=True)
    y = torch.softmax(torch.randn(4, 5), -1)
    x0 = x.detach().clone()
    xlosses.softmax_cross_entropy(x, y).sum().backward()
    assert x.requires_grad and torch.equal(x.detach(), x0) and x.grad is not None


def test_import_loads_no_framework():
    import subprocess
    import sys

    code = "import sys, xlosses; print(sorted(m for m in ('torch','jax','cupy','dask') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_generic_only_switch(backend, rng):
    x = backend.asarray(rng.normal(size=(3, 5)), "float64")
    labels = backend.asarray(rng.integers(0, 5, size=3))
    from xlosses._ops import fast_paths_enabled

    assert fast_paths_enabled()
    with xlosses.generic_only():
        assert not fast_paths_enabled()
        generic = backend.to_numpy(xlosses.softmax_cross_entropy_with_integer_labels(x, labels))
    assert fast_paths_enabled()
    fast = backend.to_numpy(xlosses.softmax_cross_entropy_with_integer_labels(x, labels))
    np.testing.assert_allclose(fast, generic, rtol=1e-12)


# -- softmax focal losses, generalized cross-entropy, distillation (issue #22) -----------


def ref_softmax_focal(x, y, alpha=None, gamma=2.0, axis=-1):
    """Lin et al.'s formula, -Σ α_j (1 - p_j)^γ y_j log p_j, in float64 linear space."""
    x, y = np.moveaxis(x, axis, -1), np.moveaxis(np.broadcast_to(y, x.shape), axis, -1)
    lp = ref_log_softmax(x)
    terms = -((1 - np.exp(lp)) ** gamma) * y * lp
    return (terms if alpha is None else np.asarray(alpha) * terms).sum(-1)


def test_softmax_focal_gce_distillation_values(backend, rng):
    x = rng.normal(size=(4, 5)) * 3
    t = rng.normal(size=(4, 5)) * 2
    y = rng.dirichlet(np.ones(5), size=4)
    y[0] = np.eye(5)[2]
    labels = rng.integers(0, 5, size=4)
    alpha = rng.uniform(0.2, 2.0, size=5)
    entries = rng.random((4, 5)) < 0.7
    entries[:, 0] = True
    entries[np.arange(4), labels] = True
    rows = np.array([True, False, True, True])
    xb, tb, yb, ab = (backend.asarray(v, "float64") for v in (x, t, y, alpha))
    lb, eb, rb = backend.asarray(labels), backend.asarray(entries), backend.asarray(rows)

    def fn(x, t, y, labels, alpha, entries, rows):
        return (
            xlosses.softmax_focal_loss(x, y),
            xlosses.softmax_focal_loss(x, y, alpha=0.25, gamma=0.5),
            xlosses.softmax_focal_loss(x, y, alpha=alpha, gamma=0.0),
            xlosses.softmax_focal_loss(x.T, y.T, alpha=alpha, gamma=1.5, axis=0),
            xlosses.softmax_focal_loss(x, y, gamma=2.0, where=entries),
            xlosses.softmax_focal_loss_with_integer_labels(x, labels, alpha=alpha, gamma=1.5),
            xlosses.softmax_focal_loss_with_integer_labels(x, labels, alpha=0.5, where=rows),
            xlosses.generalized_cross_entropy(x, labels, q=0.7),
            xlosses.generalized_cross_entropy(x, y, 0.5, where=entries),
            xlosses.distillation_loss(x, t),
            xlosses.distillation_loss(x, t, 2.5),
        )

    got = run_outputs(backend, fn, xb, tb, yb, lb, ab, eb, rb)
    onehot = np.eye(5)[labels]
    lp = ref_log_softmax(x)
    lpe = ref_log_softmax(np.where(entries, x, -np.inf))
    lpe = np.where(entries, lpe, 0.0)
    p_y = np.exp(lp[np.arange(4), labels])
    lt, ls = ref_log_softmax(t / 2.5), ref_log_softmax(x / 2.5)
    want = [
        ref_softmax_focal(x, y),
        0.25 * ref_softmax_focal(x, y, gamma=0.5),
        ref_softmax_focal(x, y, alpha, gamma=0.0),
        ref_softmax_focal(x, y, alpha, gamma=1.5),
        np.where(entries, -((1 - np.exp(lpe)) ** 2) * y * lpe, 0.0).sum(-1),
        ref_softmax_focal(x, onehot, alpha, gamma=1.5),
        np.where(rows, 0.5 * ref_softmax_focal(x, onehot), 0.0),
        (1 - p_y**0.7) / 0.7,
        np.where(entries, y * (1 - np.exp(0.5 * lpe)) / 0.5, 0.0).sum(-1),
        (np.exp(ref_log_softmax(t)) * (ref_log_softmax(t) - lp)).sum(-1),
        6.25 * (np.exp(lt) * (lt - ls)).sum(-1),
    ]
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert_close(g, w, 1e-10), i


def test_focal_extremes_exact_and_finite_gradients(backend):
    """p → 1 (and p = 1 in float32) rows: exact values, finite gradients for γ < 1 and γ ≥ 1."""
    x = np.array([[1e4, -1e4, 0.0], [0.0, 40.0, -3.0], [20.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    labels = np.array([0, 1, 1, 2])
    xb, lb = backend.asarray(x, "float32"), backend.asarray(labels)
    yb = backend.asarray(np.eye(3)[labels], "float32")
    tb = backend.asarray(np.array([[0.0, -np.inf, 1.0]] * 4), "float32")
    # by hand, r = Σ_{k≠y} e^{x_k - x_y}: -log p_y = log1p(r), 1 - p_y = r / (1 + r)
    r = np.array([0.0, np.exp(-40.0) + np.exp(-43.0), np.exp(20.0) + 1.0, 2.0])
    nll, q = np.log1p(r), r / (1 + r)

    def fn(x, y, labels, t):
        return (
            xlosses.softmax_focal_loss(x, y, gamma=0.25),
            xlosses.softmax_focal_loss_with_integer_labels(x, labels, gamma=0.25),
            xlosses.softmax_focal_loss(x, y, gamma=2.0),
            xlosses.softmax_focal_loss_with_integer_labels(x, labels, gamma=2.0),
            xlosses.generalized_cross_entropy(x, labels, q=0.5),
            xlosses.distillation_loss(x, t, 2.0),  # an impossible teacher class (-inf)
        )

    got, grads = run_outputs(backend, fn, xb, yb, lb, tb, grads=True)
    want = [q**0.25 * nll] * 2 + [q**2 * nll] * 2
    for g, w in zip(got, want, strict=False):  # full relative precision (8.9e-53 underflows)
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-37)
    # the generalized CE takes -log p_y from the cross-entropy: exact to rounding of 1
    np.testing.assert_allclose(got[4], -np.expm1(-0.5 * nll) / 0.5, rtol=1e-6, atol=1e-7)
    assert np.all(np.isfinite(got[5]))
    assert grads is None or np.all(np.isfinite(grads)), grads


def test_focal_vs_kornia_and_monai(rng):
    """kornia's focal_loss (integer labels, class axis 1; per-class α through its ``weight``,
    its scalar α as [1-α, α, …]) and MONAI's FocalLoss(use_softmax=True) (one-hot labels),
    summed over the class axis: values and gradients in float64 (MONAI: float32)."""
    torch = pytest.importorskip("torch")
    kornia = pytest.importorskip("kornia")
    x = rng.normal(size=(2, 4, 3)) * 3  # (N, C, pixels)
    labels = rng.integers(0, 4, size=(2, 3))
    w = rng.uniform(0.2, 2.0, 4)
    lt = torch.from_numpy(labels)
    cases = [
        ({"alpha": None}, {}),
        ({"alpha": 0.3}, {"alpha": [0.7, 0.3, 0.3, 0.3]}),
        ({"alpha": None, "weight": torch.from_numpy(w)}, {"alpha": list(w)}),
    ]
    for gamma in (0.5, 2.0):
        for kkw, xkw in cases:
            xt = torch.from_numpy(x).requires_grad_(True)
            want = kornia.losses.focal_loss(xt, lt, gamma=gamma, reduction="none", **kkw).sum(1)
            (gw,) = torch.autograd.grad(want.sum(), xt)
            got = xlosses.softmax_focal_loss_with_integer_labels(xt, lt, gamma=gamma, axis=1, **xkw)
            (gg,) = torch.autograd.grad(got.sum(), xt)
            assert_close(got.detach().numpy(), want.detach().numpy(), 1e-12)
            assert_close(gg.numpy(), gw.numpy(), 1e-12)
    monai_losses = pytest.importorskip("monai.losses")
    onehot = torch.from_numpy(np.moveaxis(np.eye(4)[labels], -1, 1))
    for alpha in (None, 0.3, list(w)):
        xt = torch.from_numpy(x).requires_grad_(True)
        fl = monai_losses.FocalLoss(use_softmax=True, gamma=2.0, alpha=alpha, reduction="none")
        want = fl(xt, onehot).sum(1)  # MONAI computes in float32
        (gw,) = torch.autograd.grad(want.sum(), xt)
        a = [0.7, 0.3, 0.3, 0.3] if alpha == 0.3 else alpha
        got = xlosses.softmax_focal_loss(xt, onehot, alpha=a, axis=1)
        (gg,) = torch.autograd.grad(got.sum(), xt)
        assert_close(got.detach().numpy(), want.detach().double().numpy(), 2e-6)
        assert_close(gg.numpy(), gw.double().numpy(), 2e-6)


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_new_classification_losses_low_precision(backend, low):
    """As test_low_precision_keeps_dtype_and_is_finite, under one jax.jit on JAX (eager JAX
    compiles every primitive: tens of seconds on the 2-core CI machine)."""
    if low not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {low}")
    big = 6e4 if low == "float16" else 1e30
    x = backend.asarray(np.array([[big, -big, 0.0], [1.0, 2.0, 3.0]]), low)
    y = backend.asarray(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), low)
    labels = backend.asarray(np.array([0, 2]))

    def fn(x, y, labels):
        return (
            xlosses.softmax_focal_loss(x, y, gamma=0.5),
            xlosses.softmax_focal_loss_with_integer_labels(x, labels),
            xlosses.generalized_cross_entropy(x, labels),
            xlosses.distillation_loss(x, y),
        )

    out = backend.compile(fn)(x, y, labels) if backend.module == "jax" else fn(x, y, labels)
    for o in out:
        assert backend.dtype_name(o) == low
        assert np.all(np.isfinite(backend.to_numpy(o)))


def test_new_classification_losses_errors_and_nan_rows(backend):
    x = backend.asarray(np.array([[np.nan, 1.0, 2.0], [0.0, 1.0, 2.0]]), "float64")
    y = backend.asarray(np.eye(3)[[1, 2]], "float64")
    labels = backend.asarray(np.array([1, 2]))
    with pytest.raises(ValueError, match="gamma"):
        xlosses.softmax_focal_loss(x, y, gamma=-1.0)
    with pytest.raises(ValueError, match=r"alpha .*\(3,\)"):
        xlosses.softmax_focal_loss_with_integer_labels(x, labels, alpha=[1.0, 2.0])
    with pytest.raises(TypeError, match="axis"):
        xlosses.softmax_focal_loss(x, y, axis=(0, 1))
    with pytest.raises(ValueError, match="q must be positive"):
        xlosses.generalized_cross_entropy(x, labels, q=0.0)
    with pytest.raises(ValueError, match="temperature"):
        xlosses.distillation_loss(x, y, 0.0)
    with pytest.raises(TypeError, match="logits"):
        xlosses.softmax_focal_loss_with_integer_labels(labels, labels)
    bad = backend.asarray(np.array([1, 3]))
    with raises_if_checked(backend, ValueError, match="labels must lie"):
        out = backend.to_numpy(xlosses.softmax_focal_loss_with_integer_labels(x, bad))
        assert np.isnan(out[1])

    def fn(x, y, labels):
        return (
            xlosses.softmax_focal_loss(x, y),
            xlosses.softmax_focal_loss_with_integer_labels(x, labels),
            xlosses.generalized_cross_entropy(x, labels),
            xlosses.distillation_loss(x, y),
        )

    for out in run_outputs(backend, fn, x, y, labels):  # a NaN logit: NaN in its own row only
        assert np.isnan(out[0]) and np.isfinite(out[1])
