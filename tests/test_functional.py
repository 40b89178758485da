"""xlosses.functional against torch.nn.functional: values, input gradients, compilation, errors.

Inputs are the randomized ones of the conformance table
(``conformance/entries/functional.py``: class weights, ``ignore_index``,
label smoothing, ``pos_weight``, every reduction, spatial dimensions), so the
optional arguments are swept.  The reference is torch.nn.functional itself,
in float64 on the CPU, called on the very values each backend receives (the
inputs rounded to the dtype under test).  Hand-derived numbers check the
rules torch documents (weighted mean, the -100 clamp of the BCE logarithms,
label smoothing of uniform logits).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from conftest import assert_close, backend_named, raises_if_checked

import xlosses
import xlosses.functional as F
from conformance.checks import _round_to
from conformance.entries.functional_pairs import torch_kwargs
from conformance.spec import all_specs

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SPECS = {n: s for n, s in all_specs().items() if n.startswith("functional.")}
TOL = {"float32": 2e-4, "float64": 1e-6}


def _torch_ref(name, args, kwargs):
    def conv(a):
        return torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a

    kwargs = torch_kwargs(kwargs)  # array-API distance functions -> their torch counterparts
    # xlosses' own keyword-only extensions (EXTENSIONS) do not change the value torch computes
    kwargs = {k: v for k, v in kwargs.items() if k not in EXTENSIONS.get(name, ())}
    out = getattr(TF, name)(*[conv(a) for a in args], **{k: conv(v) for k, v in kwargs.items()})
    return out.double().numpy()


def _cases(spec, shapes=None):
    """``(variant, rng-built float64 inputs)`` for every variant and batch shape of ``spec``."""
    for vi, variant in enumerate(spec.variants):
        for si, batch in enumerate(shapes or spec.batch_shapes):
            rng = np.random.default_rng([7, vi, si])
            yield variant, spec.make(rng, batch, dict(variant))


def _on(backend, inputs, dtype):
    def conv(a):
        return backend.asarray(a, dtype) if isinstance(a, np.ndarray) else a

    return [conv(a) for a in inputs.args], {k: conv(v) for k, v in inputs.kwargs.items()}


def _jit(fn, kwargs):
    """``jax.jit`` of ``fn`` with array keyword arguments traced and the others static."""
    import jax

    arrays = {k: v for k, v in kwargs.items() if hasattr(v, "shape")}
    static = {k: v for k, v in kwargs.items() if k not in arrays}
    return lambda *args: jax.jit(lambda a, kw: fn(*a, **kw, **static))(args, arrays)


# -- drop-in signatures ---------------------------------------------------------------------


# keyword-only options xlosses adds after torch's parameters (documented in the docstring)
EXTENSIONS = {"linear_cross_entropy": ("z_loss", "logit_softcap", "chunk_size")}


@pytest.mark.parametrize("name", F.__all__)
def test_signature_is_torchs_without_deprecated_args(name):
    ours = list(inspect.signature(getattr(F, name)).parameters.values())
    theirs = inspect.signature(getattr(TF, name)).parameters
    want = [
        (p.name, p.default, p.kind)
        for p in theirs.values()
        if p.name not in ("size_average", "reduce")
    ]
    extra = ours[len(want) :]
    assert [(p.name, p.default, p.kind) for p in ours[: len(want)]] == want
    assert tuple(p.name for p in extra) == EXTENSIONS.get(name, ())
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extra)


def test_every_public_name_has_a_conformance_spec():
    assert sorted(f"functional.{n}" for n in F.__all__) == sorted(SPECS)


# -- values against torch.nn.functional on every backend -------------------------------------


@pytest.mark.sweep
@pytest.mark.parametrize("name", sorted(SPECS))
def test_values_match_torch(backend, dtype, name):
    """Every variant and shape; JAX runs under ``jax.jit``."""
    spec = SPECS[name]
    if spec.backends is not None and backend.name not in spec.backends:
        pytest.skip(f"{name} does not run on {backend.name} yet (a known gap)")
    torch_name = name.removeprefix("functional.")
    # JAX compiles every variant: one batch shape (the one with spatial dimensions) there
    shapes = spec.batch_shapes[-1:] if backend.module == "jax" else None
    for variant, raw in _cases(spec, shapes):
        inputs = _round_to(raw, dtype)
        want = _torch_ref(torch_name, inputs.args, inputs.kwargs)
        args, kwargs = _on(backend, inputs, dtype)
        if backend.module == "jax":
            got = _jit(spec.fn, kwargs)(*args)
        else:
            got = spec.fn(*args, **kwargs)
        assert backend.dtype_name(got) == dtype
        assert_close(backend.to_numpy(got), want, TOL[dtype]), variant


# -- input gradients: torch autograd (and jax.grad) against torch's own backward -------------


# torch's CTC kernel returns the gradient with respect to the logits of a log_softmax, not the
# derivative in log_probs as a leaf: both sides differentiate through a log_softmax of the
# (already normalised, hence unchanged) log-probabilities
THROUGH_LOG_SOFTMAX = {"functional.ctc_loss"}


def _through(name, args, log_softmax):
    """``args`` with the first one passed through ``log_softmax`` for the names above."""
    if name not in THROUGH_LOG_SOFTMAX:
        return list(args)
    return [log_softmax(args[0], -1), *args[1:]]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_input_gradients_match_torch_autograd(name):
    """Every differentiable argument, the last batch shape of every variant."""
    spec = SPECS[name]
    torch_name = name.removeprefix("functional.")
    tb, jb = backend_named("torch"), backend_named("jax")
    if tb is None:  # a session restricted by $XLOSSES_BACKENDS
        pytest.skip("the torch backend is not selected")
    diff = spec.differentiable
    for variant, raw in _cases(spec, shapes=spec.batch_shapes[-1:]):
        args = [torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for a in raw.args]
        leaves = [args[i].requires_grad_(True) for i in diff]
        kw = {
            k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
            for k, v in raw.kwargs.items()
        }
        ts = _through(name, args, torch.log_softmax)
        tkw = {k: v for k, v in torch_kwargs(kw).items() if k not in EXTENSIONS.get(torch_name, ())}
        want = torch.autograd.grad(getattr(TF, torch_name)(*ts, **tkw).sum(), leaves)
        got = torch.autograd.grad(
            spec.fn(*_through(name, args, torch.log_softmax), **kw).sum(), leaves
        )
        for i, g, w in zip(diff, got, want, strict=True):
            _assert_grad_close(g.numpy(), w.numpy(), f"arg {i} {variant}")
        if jb is not None:
            import jax

            jargs, jkw = _on(jb, raw, "float64")

            def loss(*a, jkw=jkw):
                return spec.fn(*_through(name, a, jax.nn.log_softmax), **jkw)

            # one jax.jit program per variant: eager JAX dispatches (and compiles) op by op
            for i, g, w in zip(diff, jb.grad_fn(loss, diff, jit=True)(*jargs), want, strict=True):
                _assert_grad_close(jb.to_numpy(g), w.numpy(), f"arg {i} {variant}")


def _assert_grad_close(got, want, msg):
    """Equal to torch's gradient where that is finite; finite where torch's is NaN (kl_div's
    target gradient at a zero target: torch differentiates log 0, xlosses gives the limit)."""
    assert np.all(np.isfinite(got)), msg
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9, atol=1e-12, err_msg=msg)


# -- hand-derived numbers -------------------------------------------------------------------


def test_hand_values(backend):
    """Numbers derived by hand from torch's documented rules."""

    def a(x, dtype="float64"):
        return backend.asarray(np.asarray(x), dtype if np.asarray(x).dtype.kind == "f" else None)

    def v(out):
        return backend.to_numpy(out)

    # uniform logits: -log p = log C for every class, with or without label smoothing
    x = a(np.zeros((2, 4)))
    y = a(np.array([1, 3]))
    np.testing.assert_allclose(v(F.cross_entropy(x, y, label_smoothing=0.3)), np.log(4), rtol=1e-12)
    # weighted mean: sum_n w_{y_n} l_n / sum_n w_{y_n}, ignored entries out of both sums
    x = a(np.array([[0.0, np.log(3.0)], [0.0, 0.0], [5.0, 1.0]]))
    y = a(np.array([1, 0, -100]))
    w = a(np.array([2.0, 1.0]))
    l0, l1 = np.log(4 / 3), np.log(2)  # -log(3/4), -log(1/2)
    np.testing.assert_allclose(v(F.cross_entropy(x, y, weight=w)), (l0 + 2 * l1) / 3, rtol=1e-12)
    np.testing.assert_allclose(v(F.cross_entropy(x, y, weight=w, reduction="sum")), l0 + 2 * l1)
    np.testing.assert_allclose(
        v(F.cross_entropy(x, y, weight=w, reduction="none")), [l0, 2 * l1, 0.0], rtol=1e-12
    )
    logp = a(np.log(np.array([[0.5, 0.5], [0.25, 0.75]])))
    np.testing.assert_allclose(
        v(F.nll_loss(logp, a(np.array([0, 1])))), (np.log(2) + np.log(4 / 3)) / 2, rtol=1e-12
    )
    # the BCE logarithms are clamped at -100: p = 0 with y = 1 costs exactly 100
    p = a(np.array([0.0, 1.0, 0.5]))
    t = a(np.array([1.0, 0.0, 1.0]))
    np.testing.assert_allclose(
        v(F.binary_cross_entropy(p, t, reduction="none")), [100.0, 100.0, np.log(2)], rtol=1e-12
    )
    # pos_weight multiplies the positive term only: 3·log 2 + log 2 at x = 0, y = [1, 0]
    x0 = a(np.zeros(2))
    got = F.binary_cross_entropy_with_logits(
        x0, a(np.array([1.0, 0.0])), pos_weight=a(np.array(3.0)), reduction="sum"
    )
    np.testing.assert_allclose(v(got), 4 * np.log(2), rtol=1e-12)
    # kl_div-free: soft margin log(1 + e^{-yx}) at y x = 2 and -2
    got = F.soft_margin_loss(a(np.array([2.0, 2.0])), a(np.array([1.0, -1.0])), reduction="none")
    np.testing.assert_allclose(v(got), [np.log1p(np.exp(-2)), np.log1p(np.exp(2))], rtol=1e-12)
    # any real target is torch's factor y (y = 0: log 2 whatever x), and y x = -100 costs 100
    # (log1p(exp(100)) = 100 + log1p(e^-100): exactly 100 in float64; torch's kernel: inf in float32)
    got = F.soft_margin_loss(
        a(np.array([2.0, -3.0, 1.0, -100.0])), a(np.array([0.0, 0.5, 2.0, 1.0])), reduction="none"
    )
    want = [np.log(2), np.log1p(np.exp(1.5)), np.log1p(np.exp(-2.0)), 100.0]
    np.testing.assert_allclose(v(got), want, rtol=1e-12)


def test_all_ignored_mean_is_nan_like_torch(backend):
    x = backend.asarray(np.zeros((3, 4)), "float64")
    y = backend.asarray(np.full(3, -100))
    assert np.isnan(backend.to_numpy(F.cross_entropy(x, y)))
    assert np.isnan(TF.cross_entropy(torch.zeros(3, 4), torch.full((3,), -100)).item())
    assert backend.to_numpy(F.cross_entropy(x, y, reduction="sum")) == 0.0


# -- compilation ----------------------------------------------------------------------------

COMPILED = [
    ("cross_entropy", {"weight": "class", "label_smoothing": 0.1, "ignore": True}),
    ("cross_entropy", {"probs": True, "weight": "class", "reduction": "none"}),
    ("nll_loss", {"log_probs": True, "weight": "class", "ignore": True}),
    ("binary_cross_entropy", {"weight": "element"}),
    ("binary_cross_entropy_with_logits", {"weight": "element", "pos_weight": True}),
    ("multilabel_soft_margin_loss", {"reduction": "none"}),
]


@pytest.mark.parametrize(
    "name,variant", COMPILED, ids=[f"{n}-{i}" for i, (n, _) in enumerate(COMPILED)]
)
def test_compiled_equals_torch(backend, name, variant):
    """``jax.jit`` / ``torch.compile(fullgraph=True)`` of a representative call of each loss."""
    compiled_matches_torch(backend, name, variant)


def compiled_matches_torch(backend, name, variant):
    """The compiled call of ``name`` on its spec's inputs for ``variant`` equals torch's."""
    if not backend.differentiable:
        pytest.skip("no compiler")
    spec = SPECS[f"functional.{name}"]
    raw = _round_to(spec.make(np.random.default_rng(3), (4, 3), dict(variant)), "float32")
    args, kwargs = _on(backend, raw, "float32")
    arrays = {k: v for k, v in kwargs.items() if hasattr(v, "shape")}
    static = {k: v for k, v in kwargs.items() if k not in arrays}
    n = len(args)
    got = backend.compile(
        lambda *a: spec.fn(*a[:n], **dict(zip(arrays, a[n:], strict=True)), **static)
    )(*args, *arrays.values())
    assert_close(backend.to_numpy(got), _torch_ref(name, raw.args, raw.kwargs), 2e-4)


def test_out_of_range_target_is_nan_when_compiled(backend):
    if not backend.differentiable:
        pytest.skip("no compiler")
    x = backend.asarray(np.zeros((3, 4)), "float32")
    y = backend.asarray(np.array([0, 4, -100]))
    out = backend.to_numpy(
        backend.compile(lambda a, b: F.cross_entropy(a, b, reduction="none"))(x, y)
    )
    assert np.isfinite(out[0]) and np.isnan(out[1]) and out[2] == 0.0


# -- numerics ------------------------------------------------------------------------------


@pytest.mark.sweep  # extremes on every backend: the quick conformance's extremes check
def test_extreme_logits_finite(backend):
    """Logits of ±1e4 in float32: exact values and finite input gradients."""
    x = backend.asarray(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]]), "float32")
    y = backend.asarray(np.array([0, 0]))
    w = backend.asarray(np.array([1.0, 2.0, 3.0]), "float32")
    got = backend.to_numpy(F.cross_entropy(x, y, reduction="none"))
    np.testing.assert_allclose(got, [0.0, 2e4], rtol=1e-6)
    yb = backend.asarray(np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]), "float32")
    got = backend.to_numpy(F.binary_cross_entropy_with_logits(x, yb, reduction="none"))
    np.testing.assert_allclose(got, [[0.0, 0.0, np.log(2)], [1e4, 0.0, np.log(2)]], rtol=1e-6)
    calls = [
        lambda a: F.cross_entropy(a, y, weight=w, label_smoothing=0.2),
        lambda a: F.binary_cross_entropy_with_logits(a, yb, pos_weight=w),
        lambda a: F.soft_margin_loss(a, 2.0 * yb - 1.0),
        lambda a: F.multilabel_soft_margin_loss(a, yb, weight=w),
    ]
    for call in calls:
        assert np.isfinite(backend.to_numpy(call(x)))
        if backend.differentiable:
            (g,) = backend.grad(call, [x], [0])
            assert np.all(np.isfinite(backend.to_numpy(g)))


def test_nan_stays_in_its_row(backend):
    x = backend.asarray(np.array([[np.nan, 1.0, 2.0], [0.0, 1.0, 2.0]]), "float64")
    out = backend.to_numpy(F.cross_entropy(x, backend.asarray(np.array([1, 2])), reduction="none"))
    assert np.isnan(out[0]) and np.isfinite(out[1])
    yb = backend.asarray(np.ones((2, 3)), "float64")
    out = backend.to_numpy(F.multilabel_soft_margin_loss(x, yb, reduction="none"))
    assert np.isnan(out[0]) and np.isfinite(out[1])


def test_float16_computed_in_float32(backend):
    if "float16" not in backend.dtypes:
        pytest.skip("no float16")
    x = np.array([[3e4, -3e4, 0.0], [1.0, 2.0, 3.0]])
    xb = backend.asarray(x, "float16")
    out = F.cross_entropy(
        xb, backend.asarray(np.array([1, 2])), reduction="none", label_smoothing=0.1
    )
    assert backend.dtype_name(out) == "float16"
    want = _torch_ref(
        "cross_entropy", [x, np.array([1, 2])], {"reduction": "none", "label_smoothing": 0.1}
    )
    np.testing.assert_allclose(backend.to_numpy(out), want, rtol=2e-3)


# -- errors ---------------------------------------------------------------------------------


def test_unknown_reduction_lists_the_valid_ones(backend):
    x = backend.asarray(np.zeros((2, 3)), "float32")
    y = backend.asarray(np.array([0, 1]))
    yb = backend.asarray(np.zeros((2, 3)), "float32")
    for call in (
        lambda r: F.cross_entropy(x, y, reduction=r),
        lambda r: F.nll_loss(x, y, reduction=r),
        lambda r: F.binary_cross_entropy_with_logits(x, yb, reduction=r),
        lambda r: F.binary_cross_entropy(yb, yb, reduction=r),
        lambda r: F.soft_margin_loss(x, yb, reduction=r),
        lambda r: F.multilabel_soft_margin_loss(x, yb, reduction=r),
    ):
        with pytest.raises(
            ValueError, match=r"reduction must be one of 'none', 'mean', 'sum'; got 'avg'"
        ):
            call("avg")


def test_bad_shapes_and_values(backend):
    x = backend.asarray(np.zeros((2, 3, 4)), "float32")
    with pytest.raises(
        ValueError, match=r"target shape \(2, 3\) must equal input shape \(2, 3, 4\).*\(2, 4\)"
    ):
        F.cross_entropy(x, backend.asarray(np.zeros((2, 3), dtype=np.int64)))
    y = backend.asarray(np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\).*got shape \(4,\)"):
        F.cross_entropy(x, y, weight=backend.asarray(np.ones(4), "float32"))
    with raises_if_checked(
        backend, ValueError, match=r"target must lie in \[0, 3\) \(or ignore_index=-100\)"
    ):
        F.nll_loss(x, backend.asarray(np.full((2, 4), 3)))
    with pytest.raises(ValueError, match=r"shapes must be equal: input shape .*target shape"):
        F.cross_entropy(x, backend.asarray(np.zeros((2, 3)), "float32"))
    with pytest.raises(ValueError, match="label_smoothing must lie in"):
        F.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(TypeError, match="input must have a real floating dtype"):
        F.cross_entropy(backend.asarray(np.zeros((2, 3), dtype=np.int64)), y[:, 0])
    p = backend.asarray(np.array([0.5, 1.5]), "float32")
    with raises_if_checked(backend, ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(p, backend.asarray(np.ones(2), "float32"))
    with pytest.raises(ValueError, match="shapes must be equal"):
        F.binary_cross_entropy_with_logits(p, backend.asarray(np.ones(3), "float32"))


def test_binary_cross_entropy_gradient_is_exact_where_torch_floors_it():
    # p(1 - p) < 1e-12: torch's kernel divides by 1e-12; xlosses' derivative is exact,
    # (p - y) / (p (1 - p)), also on eager CPU torch where no-gradient calls use the kernel
    p0 = np.array([1e-13, 0.25, 1e-13, 1e-15])
    y0 = np.array([0.5, 1.0, 0.0, 1.0])
    p = torch.tensor(p0, requires_grad=True)
    F.binary_cross_entropy(p, torch.tensor(y0), reduction="sum").backward()
    np.testing.assert_allclose(p.grad.numpy(), (p0 - y0) / (p0 * (1 - p0)), rtol=1e-12)
    with torch.no_grad():  # the kernel's values: the same clamped formula
        got = F.binary_cross_entropy(p, torch.tensor(y0), reduction="none").numpy()
    want = -(y0 * np.maximum(np.log(p0), -100) + (1 - y0) * np.maximum(np.log1p(-p0), -100))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_inputs_not_mutated_requires_grad_kept():
    x = torch.randn(4, 5, 3, requires_grad=True)
    y = torch.randint(0, 5, (4, 3))
    w = torch.rand(5)
    x0, y0, w0 = x.detach().clone(), y.clone(), w.clone()
    F.cross_entropy(x, y, weight=w, label_smoothing=0.1).backward()
    assert x.grad is not None and x.requires_grad
    assert torch.equal(x.detach(), x0) and torch.equal(y, y0) and torch.equal(w, w0)


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_torch_fused_kernel_fast_path_equals_generic(name, reduction):
    """Eager CPU torch hands class-index cross_entropy / nll_loss to torch's fused kernel
    (_ops.torch_class_index_loss): the same values and gradients as the generic body, with
    class weights, ignore_index, label smoothing, int32 targets and float16 inputs; targets
    the kernel refuses still raise xlosses' ValueError."""
    import contextlib

    torch = pytest.importorskip("torch")
    fn = getattr(F, name)
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(6, 5, 2, generator=g, dtype=torch.float64)
    t = torch.tensor([[0, 4], [1, -100], [2, 3], [4, 4], [3, 0], [-100, 1]], dtype=torch.int32)
    w = torch.rand(5, generator=g, dtype=torch.float64) + 0.5
    extra = {"label_smoothing": 0.1} if name == "cross_entropy" else {}
    results = []
    for generic in (False, True):
        with xlosses.generic_only() if generic else contextlib.nullcontext():
            x = x0.clone().requires_grad_(True)
            out = fn(x, t, weight=w, reduction=reduction, **extra)
            (gx,) = torch.autograd.grad(out.sum(), (x,))
            half = fn(x0.half(), t, weight=w.half(), reduction=reduction, **extra)
            assert half.dtype == torch.float16
            # the result dtype is the promotion of the floating inputs (a float64 weight)
            assert fn(x0.half(), t, weight=w, reduction=reduction, **extra).dtype == w.dtype
            results.append((out.detach().numpy(), gx.numpy(), half.float().numpy()))
            with pytest.raises(ValueError, match=r"target must lie in \[0, 5\)"):
                fn(x0, t + 3, reduction=reduction)
            with pytest.raises(TypeError, match="weight must have a real floating dtype"):
                fn(x0, t, weight=torch.ones(5, dtype=torch.int64), reduction=reduction)
    (value, grad, half), (value_g, grad_g, half_g) = results
    np.testing.assert_allclose(value, value_g, rtol=1e-12)
    np.testing.assert_allclose(grad, grad_g, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(half, half_g, rtol=2e-3, atol=1e-3)
