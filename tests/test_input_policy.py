"""The ways people call a loss: closed-over labels inside traces, NumPy labels beside JAX,
Python scalars, mixed floating dtypes, ``torch.autocast`` (the input policy of
docs/decisions.md, applied in ``_namespace.namespace`` for every loss).

Closed-over concrete arrays inside ``jax.jit``, a ``lax.scan`` body and ``jit(grad)`` are
staged: value checks step aside there (they read the value they compute, which is traced)
and give the same numbers as passing the arrays as arguments; out-of-range labels give NaN
in their own rows there, and ``ValueError`` eagerly.
"""

from __future__ import annotations

import numpy as np
import pytest

import xlosses
import xlosses.functional as F

jax = pytest.importorskip("jax")
jnp = jax.numpy

RNG = np.random.default_rng(7)
X = RNG.normal(size=(4, 5)) * 2
Y = np.array([0, 3, 1, 4])


def _ce_reference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Float64 cross-entropy with integer labels, written here (not the code under test)."""
    m = x.max(-1, keepdims=True)
    lse = np.log(np.exp(x - m).sum(-1)) + m[:, 0]
    return lse - x[np.arange(len(y)), y]


def _targets() -> np.ndarray:
    t = np.full((4, 5), -1)
    t[:, 0] = Y
    t[:, 1] = (Y + 2) % 5
    return t


# (name, fn(x, y), labels) for every loss that takes integer labels or targets
INTEGER_LABEL_LOSSES = [
    (
        "softmax_cross_entropy_with_integer_labels",
        xlosses.softmax_cross_entropy_with_integer_labels,
        Y,
    ),
    ("multiclass_hinge_loss", xlosses.multiclass_hinge_loss, Y),
    ("multiclass_perceptron_loss", xlosses.multiclass_perceptron_loss, Y),
    ("multiclass_sparsemax_loss", xlosses.multiclass_sparsemax_loss, Y),
    ("poly_loss_cross_entropy[integer]", xlosses.poly_loss_cross_entropy, Y),
    ("multi_margin_loss", xlosses.multi_margin_loss, Y),
    ("multilabel_margin_loss", xlosses.multilabel_margin_loss, _targets()),
    ("functional.cross_entropy", lambda x, y: F.cross_entropy(x, y, reduction="none"), Y),
    ("functional.nll_loss", lambda x, y: F.nll_loss(x, y, reduction="none"), Y),
    ("functional.multi_margin_loss", lambda x, y: F.multi_margin_loss(x, y, reduction="none"), Y),
    (
        "functional.multilabel_margin_loss",
        lambda x, y: F.multilabel_margin_loss(x, y, reduction="none"),
        _targets(),
    ),
]
IDS = [n for n, _, _ in INTEGER_LABEL_LOSSES]


@pytest.mark.parametrize("name,fn,y", INTEGER_LABEL_LOSSES, ids=IDS)
def test_labels_closed_over_in_jit_scan_and_grad(name, fn, y):
    """Labels captured by a closure (a global batch, a partial) are concrete arrays, but
    every operation on them inside the trace is staged: no TracerIntegerConversionError."""
    x, labels = jnp.asarray(X), jnp.asarray(y)
    want = np.asarray(fn(X, y))  # NumPy, eager (checked against the peers elsewhere)

    def body(carry, z):
        return carry + jnp.sum(fn(z, labels)), None

    def program(z):  # one XLA compilation: jit, a scan body and jit(grad), all closing over
        total, _ = jax.lax.scan(body, jnp.zeros(()), jnp.stack([z, z]))
        return fn(z, labels), total, jax.grad(lambda u: jnp.sum(fn(u, labels)))(z)

    got, total, g = jax.jit(program)(x)
    np.testing.assert_allclose(np.asarray(got), want, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(float(total), 2 * want.sum(), rtol=1e-5)
    assert np.all(np.isfinite(np.asarray(g)))


def test_closed_over_values_match_an_independent_reference():
    labels = jnp.asarray(Y)
    got = jax.jit(lambda z: xlosses.softmax_cross_entropy_with_integer_labels(z, labels))(
        jnp.asarray(X)
    )
    np.testing.assert_allclose(np.asarray(got), _ce_reference(X, Y), rtol=1e-5)


def test_out_of_range_labels_nan_under_trace_value_error_eagerly():
    bad = jnp.asarray([0, 7, 1, -2])
    x = jnp.asarray(X)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 5\)"):
        xlosses.softmax_cross_entropy_with_integer_labels(x, bad)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 5\)"):
        xlosses.softmax_cross_entropy_with_integer_labels(x, np.asarray(bad))  # NumPy beside JAX
    out = np.asarray(
        jax.jit(lambda z: xlosses.softmax_cross_entropy_with_integer_labels(z, bad))(x)
    )
    assert np.isnan(out[[1, 3]]).all() and np.isfinite(out[[0, 2]]).all()
    np.testing.assert_allclose(
        out[[0, 2]], _ce_reference(X, np.array([0, 0, 1, 0]))[[0, 2]], rtol=1e-5
    )


def test_other_value_checks_closed_over():
    """gaussian_nll's var, functional.ctc_loss's lengths, Dice's probabilities and
    binary_cross_entropy's range, closed over: they compute as when passed."""
    rng = np.random.default_rng(3)
    mu, t = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    var = rng.uniform(0.5, 2.0, size=(3, 2))
    lp = rng.normal(size=(6, 2, 4))
    log_probs = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    targets, il, tl = np.array([[1, 2], [3, 3]]), np.array([6, 5]), np.array([2, 2])
    e = np.exp(rng.normal(size=(2, 3, 4)))
    probs4 = e / e.sum(-1, keepdims=True)
    onehot = np.eye(4)[[[0, 1, 2], [3, 0, 1]]]
    probs, y = rng.uniform(size=(3, 2)), rng.uniform(size=(3, 2))
    cases = [  # (fn of the first argument, the constants it closes over, first argument)
        (lambda m, c: xlosses.gaussian_nll(m, c[0], c[1]), (t, var), mu),
        (lambda q, c: F.ctc_loss(q, *c), (targets, il, tl), log_probs),
        (lambda q, c: xlosses.dice_loss(q, c[0], apply_softmax=False), (onehot,), probs4),
        (lambda q, c: F.binary_cross_entropy(q, c[0]), (y,), probs),
    ]
    consts = [tuple(jnp.asarray(a) for a in c) for _, c, _ in cases]
    # one XLA program for the four (each closes over its JAX constants)
    got = jax.jit(lambda *z: [f(zi, c) for (f, _, _), zi, c in zip(cases, z, consts, strict=True)])(
        *[jnp.asarray(a) for _, _, a in cases]
    )
    for (f, c, a), g in zip(cases, got, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(f(a, c)), rtol=1e-5)


def test_numpy_labels_beside_jax_logits():
    """As optax: labels straight from a NumPy data loader, outside jit."""
    x = jnp.asarray(X)
    got = xlosses.softmax_cross_entropy_with_integer_labels(x, Y)
    assert isinstance(got, jax.Array)
    np.testing.assert_allclose(np.asarray(got), _ce_reference(X, Y), rtol=1e-5)
    onehot = np.eye(5)[Y]
    got = xlosses.softmax_cross_entropy(x, onehot.astype(np.float32))
    np.testing.assert_allclose(np.asarray(got), _ce_reference(X, Y), rtol=1e-5)
    mask = np.array([True, False, True, True])
    got = xlosses.softmax_cross_entropy(x, jnp.asarray(onehot, dtype=jnp.float32), where=mask)
    assert np.asarray(got)[1] == 0.0
    # NumPy logits beside JAX labels: JAX still leads
    assert isinstance(
        xlosses.softmax_cross_entropy_with_integer_labels(X, jnp.asarray(Y)), jax.Array
    )


def test_python_scalars_become_arrays_of_the_computation():
    x = jnp.asarray(X, dtype=jnp.float32)
    got = xlosses.sigmoid_binary_cross_entropy(x, 0.5)
    assert got.dtype == jnp.float32 and got.shape == x.shape
    # -0.5 log σ(x) - 0.5 log σ(-x), written here
    want = 0.5 * np.logaddexp(0, -X) + 0.5 * np.logaddexp(0, X)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(xlosses.hinge_loss(x, 1)), np.maximum(0.0, 1.0 - X), rtol=1e-6
    )


def test_numpy_beside_torch_is_a_type_error_naming_both():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"logits and labels come from different array libraries"):
        xlosses.softmax_cross_entropy_with_integer_labels(torch.tensor(X), Y)
    with pytest.raises(TypeError, match=r"logits and labels .*jax.* and .*torch"):
        xlosses.softmax_cross_entropy_with_integer_labels(jnp.asarray(X), torch.tensor(Y))
    with pytest.raises(TypeError, match=r"logits must be an array"):
        xlosses.softmax_cross_entropy_with_integer_labels([[1.0, 2.0]], Y[:1])


@pytest.mark.parametrize("lib", ["numpy", "torch", "jax"])
def test_result_dtype_is_the_promotion_of_the_floating_inputs(lib):
    """float16 logits with float32 labels give float32, as optax (JAX's promotion) does."""
    onehot = np.eye(5)[Y]
    if lib == "numpy":
        x, y = X.astype(np.float16), onehot.astype(np.float32)
    elif lib == "torch":
        torch = pytest.importorskip("torch")
        x, y = torch.tensor(X, dtype=torch.float16), torch.tensor(onehot, dtype=torch.float32)
    else:
        x, y = jnp.asarray(X, dtype=jnp.float16), jnp.asarray(onehot, dtype=jnp.float32)
    out = xlosses.softmax_cross_entropy(x, y)
    assert str(out.dtype).endswith("float32"), out.dtype
    x16 = np.asarray(X.astype(np.float16), dtype=np.float64)
    np.testing.assert_allclose(np.asarray(out, dtype=np.float64), _ce_reference(x16, Y), rtol=1e-5)
    same = xlosses.softmax_cross_entropy(x, y * 1 if lib != "torch" else y.half())
    assert str(same.dtype).endswith("float16") or lib != "torch"


@pytest.mark.parametrize("lib", ["numpy", "torch", "jax"])
def test_mixed_float_promotion_is_the_librarys_own(lib):
    """Every pair of the library's real floating dtypes (bfloat16 beside float16 included)
    promotes as the library's own ``result_type`` does (the loss computes the promotion in
    Python, which ``torch.compile`` can trace)."""
    if lib == "numpy":
        mod, names = np, ("float16", "float32", "float64")
    elif lib == "torch":
        mod, names = pytest.importorskip("torch"), ("float16", "bfloat16", "float32", "float64")
    else:
        mod, names = jnp, ("float16", "bfloat16", "float32")  # no float64 without x64
    for a in names:
        for b in names:
            x = mod.ones(3, dtype=getattr(mod, a))
            y = mod.zeros(3, dtype=getattr(mod, b))
            want = mod.result_type(x, y) if lib != "jax" else jnp.result_type(x.dtype, y.dtype)
            assert xlosses.squared_error(x, y).dtype == want, (a, b)


def test_torch_autocast_returns_float32_as_torch_does():
    """Under ``torch.autocast('cpu', dtype=torch.bfloat16)`` torch's losses run and return
    float32; so do xlosses' (they used to return bfloat16: 3.234375 against 3.238090)."""
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(256, 40, generator=g)
    target = torch.randint(0, 40, (256,), generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lb = torch.nn.functional.linear(logits, torch.eye(40))  # an autocast op: bfloat16
        assert lb.dtype == torch.bfloat16
        want = torch.nn.functional.cross_entropy(lb, target)
        got = F.cross_entropy(lb, target)
        got_sum = F.cross_entropy(lb, target, reduction="sum")
        want_sum = torch.nn.functional.cross_entropy(lb, target, reduction="sum")
        core = xlosses.softmax_cross_entropy_with_integer_labels(lb, target)
    assert want.dtype == got.dtype == core.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(got_sum, want_sum, rtol=1e-6, atol=1e-4)
    # outside autocast a bfloat16 input keeps its dtype
    assert F.cross_entropy(lb, target).dtype == torch.bfloat16


@pytest.mark.parametrize(
    "name",
    [
        "ctc_loss_from_lengths",
        "multi_margin_loss",
        "functional.ctc_loss",
        "functional.multi_margin_loss",
    ],
)
def test_second_derivatives_through_torch_kernels(name):
    """torch's ctc_loss and multi_margin_loss kernels have no second derivative: on eager CPU
    torch the fast path keeps the kernel's value and gradient, and a Hessian (create_graph)
    comes from the generic body, equal to the one under generic_only()."""
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(1)
    if "ctc" in name:
        x0 = torch.randn(6, 2, 4, generator=g, dtype=torch.float64).log_softmax(-1)
        t, il, tl = torch.tensor([[1, 2], [3, 3]]), torch.tensor([6, 5]), torch.tensor([2, 2])
        core = xlosses.ctc_loss_from_lengths if name.startswith("ctc") else F.ctc_loss

        def fn(z):
            return core(z, t, il, tl)
    else:
        x0 = torch.randn(4, 5, generator=g, dtype=torch.float64)
        y = torch.tensor([0, 3, 1, 4])

        core = xlosses.multi_margin_loss if name == "multi_margin_loss" else F.multi_margin_loss

        def fn(z):
            return core(z, y, p=2)

    def hessian_vector(generic: bool):
        import contextlib

        with xlosses.generic_only() if generic else contextlib.nullcontext():
            x = x0.clone().requires_grad_(True)
            (gx,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
            (hv,) = torch.autograd.grad((gx * torch.ones_like(gx)).sum(), x)
        return gx.detach(), hv

    (g_fast, h_fast), (g_gen, h_gen) = hessian_vector(False), hessian_vector(True)
    torch.testing.assert_close(g_fast, g_gen, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h_fast, h_gen, rtol=1e-10, atol=1e-12)


def test_torch_entries_leave_what_they_do_not_cover_to_the_generic_body():
    """The torch entries of ``xlosses.functional`` (whole calls handed to torch's kernels)
    take only the plain case; a mixed-dtype weight, another integer dtype, a weight that
    needs a gradient and a bad label go the generic way, which promotes, converts,
    differentiates and reports as it does under ``generic_only()``."""
    torch = pytest.importorskip("torch")
    x = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(Y)
    w64 = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=torch.float64)
    # float64 weight beside float32 input: the promotion, float64, as the generic body
    for fn in (F.cross_entropy, F.nll_loss):
        out = fn(x, y, weight=w64)
        with xlosses.generic_only():
            want = fn(x, y, weight=w64)
        assert out.dtype == want.dtype == torch.float64
        torch.testing.assert_close(out, want, rtol=1e-12, atol=0)
    # int32 targets: the same number as int64 ones
    torch.testing.assert_close(F.cross_entropy(x, y.int()), F.cross_entropy(x, y))
    # a weight that needs a gradient gets the generic body's (torch's kernels give none)
    w = torch.ones(5, requires_grad=True)
    F.cross_entropy(x, y, weight=w).backward()
    with xlosses.generic_only():
        w2 = torch.ones(5, requires_grad=True)
        F.cross_entropy(x, y, weight=w2).backward()
    assert w.grad is not None
    torch.testing.assert_close(w.grad, w2.grad)
    # bad input: xlosses' ValueError naming the argument, not torch's IndexError
    with pytest.raises(ValueError, match="target"):
        F.nll_loss(x, torch.tensor([0, 5, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="target"):
        F.multi_margin_loss(x, torch.tensor([0, 1]))


def test_torch_entries_hand_the_unusual_entries_to_the_generic_body():
    """Entries that call torch's kernel and check its result: a zero count at a log-rate of
    ``-inf`` (torch: ``0·inf``, NaN; xlosses: 0) and a NaN score (torch's margin kernels skip
    it; xlosses keeps it in its row) take the generic body; hinge targets of int64 and of
    other values than ±1, a ``pos_weight`` and a weight needing a gradient give the numbers
    of the formulas written here."""
    torch = pytest.importorskip("torch")
    f64 = torch.float64
    # Poisson, log-rates: exp(x) - y·x, 0 at (x, y) = (-inf, 0)
    x = torch.tensor([-np.inf, 0.5, 1.0], dtype=f64, requires_grad=True)
    y = torch.tensor([0.0, 0.0, 3.0], dtype=f64)
    for fn in (lambda a, b: F.poisson_nll_loss(a, b, reduction="none"), xlosses.poisson_nll):
        out = fn(x, y)
        want = torch.tensor([0.0, np.exp(0.5), np.e - 3.0], dtype=f64)
        torch.testing.assert_close(out.detach(), want, rtol=1e-14, atol=0)
        (gx,) = torch.autograd.grad(out.sum(), x)
        torch.testing.assert_close(gx, torch.tensor([0.0, np.exp(0.5), np.e - 3.0], dtype=f64))
    # hinge embedding: x for y = 1, max(0, m - x) for y = -1, both for other targets
    d = torch.tensor([0.25, 0.25, 2.0, np.inf], dtype=f64)
    t = torch.tensor([1, -1, 0, -1])
    want = torch.tensor([0.25, 0.75, 0.0 + 2.0, 0.0], dtype=f64)
    torch.testing.assert_close(F.hinge_embedding_loss(d, t, reduction="none"), want)
    torch.testing.assert_close(xlosses.hinge_embedding_loss(d, t.to(f64)), want)
    # BCE with logits: softplus(x) - y·x; pos_weight p: (1 - y)·x + (1 + (p - 1)·y)·softplus(-x)
    z = torch.tensor([[-3.0, 0.5], [2.0, 40.0]], dtype=f64)
    yz = torch.tensor([[0.0, 1.0], [0.25, 1.0]], dtype=f64)
    zn, yn = z.numpy(), yz.numpy()
    spm = np.log1p(np.exp(-np.abs(zn))) + np.maximum(-zn, 0)  # softplus(-x), no cancellation
    bce = (1 - yn) * zn + spm
    w = torch.tensor([[1.0, 2.0], [0.5, 3.0]], dtype=f64, requires_grad=True)
    F.binary_cross_entropy_with_logits(z, yz, weight=w).backward()
    np.testing.assert_allclose(w.grad.numpy(), bce / 4, rtol=1e-13)  # d mean(w·ℓ)/dw = ℓ/4
    pw = torch.tensor([3.0, 0.5], dtype=f64)
    got = F.binary_cross_entropy_with_logits(z, yz, pos_weight=pw, reduction="none")
    want = (1 - yn) * zn + (1 + (pw.numpy() - 1) * yn) * spm
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-13)
    # triplet distances whose squares overflow float32: the generic body's scaled norms
    # (d(a, p) = d(a, n) = 5e30: the loss is the margin; torch's own distances are inf)
    a, z, n = (torch.tensor([v]) for v in ([3e30, 4e30], [0.0, 0.0], [6e30, 8e30]))
    for swap in (False, True):
        torch.testing.assert_close(
            F.triplet_margin_loss(a, z, n, eps=0.0, swap=swap), torch.tensor(1.0)
        )
    # margin kernels without gradients: a NaN score stays in its row
    s = torch.tensor([[np.nan, 0.0, 1.0], [0.5, 0.0, 1.0]], dtype=f64)
    out = F.multi_margin_loss(s, torch.tensor([1, 1]), reduction="none")
    assert torch.isnan(out[0]) and torch.isfinite(out[1])
    out = F.multilabel_margin_loss(s, torch.tensor([[1, -1, 0], [1, 0, -1]]), reduction="none")
    assert torch.isnan(out[0]) and torch.isfinite(out[1])


def test_torch_entries_of_small_linear_cross_entropies():
    """The torch entries of the small linear cross-entropies (``F.linear``, then torch's
    cross-entropy kernel): values and gradients of ``logsumexp(z) - z[y]`` with
    ``z = x @ w.T + b`` written here in float64 (2-D and 3-D features), the functional
    options against ``torch.nn.functional.linear_cross_entropy``, and a label out of range
    xlosses' ValueError (the generic body's check, which the kernel's refusal hands on)."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    g = torch.Generator().manual_seed(7)
    f64 = torch.float64
    w = torch.randn(6, 4, generator=g, dtype=f64, requires_grad=True)
    b = torch.randn(6, generator=g, dtype=f64, requires_grad=True)
    for shape in ((5,), (2, 3)):
        x = torch.randn(*shape, 4, generator=g, dtype=f64, requires_grad=True)
        y = torch.randint(0, 6, shape, generator=g)
        got = xlosses.linear_softmax_cross_entropy_with_integer_labels(x, w, y, bias=b)
        z = x.detach().numpy() @ w.detach().numpy().T + b.detach().numpy()
        zmax = z.max(-1, keepdims=True)
        lse = np.log(np.exp(z - zmax).sum(-1)) + zmax[..., 0]
        want = lse - np.take_along_axis(z, y.numpy()[..., None], -1)[..., 0]
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-13)
        gx, gw, gb = torch.autograd.grad(got.sum(), (x, w, b))
        dz = np.exp(z - lse[..., None]) - np.eye(6)[y.numpy()]  # softmax - onehot
        np.testing.assert_allclose(gx.numpy(), dz @ w.detach().numpy(), rtol=1e-12)
        dz2, x2 = dz.reshape(-1, 6), x.detach().numpy().reshape(-1, 4)
        np.testing.assert_allclose(gw.numpy(), dz2.T @ x2, rtol=1e-12)
        np.testing.assert_allclose(gb.numpy(), dz2.sum(0), rtol=1e-12)
    x = torch.randn(5, 4, generator=g, dtype=f64)
    y = torch.tensor([0, 5, -100, 2, 3])
    cw = torch.rand(6, generator=g, dtype=f64) + 0.5
    for kw in (
        {},
        {"reduction": "none", "linear_bias": b.detach()},
        {"weight": cw, "reduction": "sum"},
        {"label_smoothing": 0.2, "weight": cw},
        {"ignore_index": 5},
    ):
        got = F.linear_cross_entropy(x, w.detach(), y.clamp(min=0), **kw)
        want = TF.linear_cross_entropy(x, w.detach(), y.clamp(min=0), **kw)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
        if "ignore_index" not in kw:  # -100: torch's default ignore_index
            got = F.linear_cross_entropy(x, w.detach(), y, **kw)
            torch.testing.assert_close(got, TF.linear_cross_entropy(x, w.detach(), y, **kw))
    bad = torch.tensor([0, 1, 2, 3, 6])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 6\)"):
        xlosses.linear_softmax_cross_entropy_with_integer_labels(x, w.detach(), bad)
    with pytest.raises(ValueError, match=r"target must lie in \[0, 6\)"):
        F.linear_cross_entropy(x, w.detach(), bad)


def test_large_torch_logits_in_row_blocks(monkeypatch):
    """Large logits (``torch_losses.BLOCKED`` entries, lowered here) take the rows in blocks:
    the values and gradients of the float64 formulas (``logsumexp(x) - x[y]``,
    ``softmax(x) - onehot(y)``) written here, 16-bit logits computed in float32 and
    returned in their dtype, ``ignore_index`` left out of the mean, second derivatives
    those of the generic body, and a bad label the generic body's ValueError."""
    torch = pytest.importorskip("torch")
    from xlosses._backends import torch_losses

    monkeypatch.setattr(torch_losses, "BLOCKED", 1 << 10)
    monkeypatch.setattr(torch_losses, "BLOCK_BYTES", 1 << 10)  # 4 rows of 64 float32
    rng = np.random.default_rng(3)
    xn = rng.normal(size=(42, 64)) * 3
    yn = rng.integers(0, 64, size=42)
    lse = np.log(np.exp(xn - xn.max(1, keepdims=True)).sum(1)) + xn.max(1)
    want = lse - xn[np.arange(42), yn]
    onehot = np.eye(64)[yn]
    dwant = np.exp(xn - lse[:, None]) - onehot
    y = torch.tensor(yn)
    for dtype, tol in ((torch.float64, 1e-13), (torch.float32, 2e-6)):
        x = torch.tensor(xn, dtype=dtype, requires_grad=True)
        out = xlosses.softmax_cross_entropy_with_integer_labels(x, y)
        assert type(out.grad_fn).__name__ == "RowBlockCrossEntropyBackward"
        np.testing.assert_allclose(out.detach().numpy(), want, rtol=tol)
        (g,) = torch.autograd.grad(out.sum(), x)
        np.testing.assert_allclose(g.numpy(), dwant, rtol=tol, atol=tol)
    # bfloat16: the float64 formula of the rounded logits, rounded once
    xb = torch.tensor(xn, dtype=torch.bfloat16)
    xr = xb.double().numpy()
    lr = np.log(np.exp(xr - xr.max(1, keepdims=True)).sum(1)) + xr.max(1)
    got = xlosses.softmax_cross_entropy_with_integer_labels(xb, y)
    assert got.dtype == torch.bfloat16
    np.testing.assert_allclose(got.double().numpy(), lr - xr[np.arange(42), yn], rtol=2**-8)
    # functional: ignored targets are 0 and left out of the mean
    t = y.clone()
    t[::5] = -100
    keep = t.numpy() != -100
    x = torch.tensor(xn, dtype=torch.float64)
    np.testing.assert_allclose(F.cross_entropy(x, t).item(), want[keep].mean(), rtol=1e-13)
    got = F.cross_entropy(x, t, reduction="none").numpy()
    np.testing.assert_allclose(got, np.where(keep, want, 0.0), rtol=1e-13)
    # second derivatives (create_graph=True): a Hessian-vector product, the generic body's
    v = torch.tensor(rng.normal(size=(42, 64)))

    def hvp(generic):
        import contextlib

        x = torch.tensor(xn, requires_grad=True)
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            (g,) = torch.autograd.grad(
                xlosses.softmax_cross_entropy_with_integer_labels(x, y).sum(), x, create_graph=True
            )
        return torch.autograd.grad((g * v).sum(), x)[0]

    torch.testing.assert_close(hvp(False), hvp(True), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="label"):
        xlosses.softmax_cross_entropy_with_integer_labels(x, torch.full((42,), 64))
