"""The fused linear + softmax cross-entropy against the dense computation on every backend.

The reference is the dense computation in float64, written here: the logits
``features @ weight.T + bias`` (soft-capped), then the cross-entropy with
label smoothing and z-loss, differentiated by torch autograd (float64) for
the gradients.  The vocabulary (11 classes) is cut into chunks of 4: two whole
chunks and a shorter last one, which holds a label.  The conformance entries
(``conformance/entries/large_vocab.py``) sweep every option on every backend
and dtype; the functional form and the module are compared there with torch's
own ``F.linear_cross_entropy``.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import assert_close, raises_if_checked

import xlosses
from xlosses._large_vocab_plan import plan_chunks

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_JAX = importlib.util.find_spec("jax") is not None
V, D, CHUNK = 11, 6, 4
ALL = {"label_smoothing": 0.2, "z_loss": 1e-2, "logit_softcap": 4.0}
TOL = {"float32": 3e-5, "float64": 1e-10}


def _problem(rng, batch=(2, 5), scale=1.0, vocab=V, dim=D):
    x = scale * rng.standard_normal((*batch, dim))
    w = rng.standard_normal((vocab, dim)) * (3.0 / np.sqrt(dim))
    b = rng.standard_normal(vocab)
    y = rng.integers(0, vocab, batch)
    y.reshape(-1)[-1] = vocab - 1  # a label in the last (shorter) chunk
    keep = rng.random(batch) < 0.7
    return x, w, b, y, keep


def _dense(x, w, b, y, keep, *, label_smoothing=0.0, z_loss=0.0, logit_softcap=None):
    """Loss and gradients (features, weight, bias) of ``sum(loss)``: torch float64 autograd
    of the logits' cross-entropy."""
    torch = pytest.importorskip("torch")
    xt, wt, bt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w, b))
    z = xt @ wt.T + bt
    if logit_softcap is not None:
        z = logit_softcap * torch.tanh(z / logit_softcap)
    yt = torch.tensor(np.where(keep, y, -100))
    ce = torch.nn.functional.cross_entropy(
        z.reshape(-1, z.shape[-1]),
        yt.reshape(-1),
        reduction="none",
        label_smoothing=label_smoothing,
    ).reshape(yt.shape)
    loss = torch.where(torch.tensor(keep), ce + z_loss * torch.logsumexp(z, -1) ** 2, 0.0)
    grads = torch.autograd.grad(loss.sum(), (xt, wt, bt))
    return [a.detach().numpy() for a in (loss, *grads)]


def _assert_all_close(got, want, tol):
    for g, w in zip(got, want, strict=True):
        assert_close(g, w, tol)


# -- values and gradients on every backend ----------------------------------------------------


def _on_backend(backend, fn, *args):
    """``fn(*args)`` as NumPy arrays: under one ``jax.jit`` on JAX (eager JAX compiles every
    primitive), computed at once on Dask (each output alone would recompute the loop)."""
    if backend.module == "jax":
        import jax

        fn = jax.jit(fn)
    out = fn(*args)
    if backend.name == "dask":
        import dask

        return [np.asarray(o, dtype=np.float64) for o in dask.compute(*out)]
    return [backend.to_numpy(o) for o in out]


@pytest.mark.skipif(not HAS_TORCH, reason="the dense reference runs torch autograd")
def test_loss_and_grads_against_dense(backend, rng):
    """``linear_softmax_cross_entropy_and_grads`` (no autodiff: every backend) and the loss,
    with a mask and several chunks: every option in float64, none in float32."""
    x, w, b, y, keep = _problem(rng)
    for dtype, options in (("float64", ALL), ("float32", {})):
        if dtype not in backend.dtypes or (backend.module == "jax" and dtype == "float64"):
            continue
        args = [backend.asarray(a, dtype) for a in (x, w, b)]

        def both(x, w, b, y, keep, options=options):
            kw = {"bias": b, "where": keep, "chunk_size": CHUNK, **options}
            out = xlosses.linear_softmax_cross_entropy_and_grads(x, w, y, **kw)
            loss = xlosses.linear_softmax_cross_entropy_with_integer_labels(x, w, y, **kw)
            return (*out, loss)

        got = _on_backend(backend, both, *args, backend.asarray(y), backend.asarray(keep))
        rounded = [backend.to_numpy(a) for a in args]
        want = _dense(*rounded, y, keep, **options)
        _assert_all_close(got, [*want, want[0]], TOL[dtype])


@pytest.mark.skipif(not HAS_TORCH, reason="torch")
def test_torch_autograd_custom_and_generic(rng):
    """The torch.autograd.Function's gradients (and those of the loop itself under
    ``generic_only()``) against the dense ones; labels of masked tokens are padding."""
    import torch

    x, w, b, y, keep = _problem(rng)
    want = _dense(x, w, b, y, keep, **ALL)
    for generic in (False, True):
        leaves = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        labels = torch.tensor(np.where(keep, y, -100))
        with xlosses.generic_only() if generic else _nothing():
            loss = xlosses.linear_softmax_cross_entropy_with_integer_labels(
                leaves[0], leaves[1], labels, bias=leaves[2], where=torch.tensor(keep),
                chunk_size=CHUNK, **ALL,
            )  # fmt: skip
            loss.sum().backward()
        got = [loss.detach().numpy()] + [t.grad.numpy() for t in leaves]
        _assert_all_close(got, want, TOL["float64"])


def _nothing():
    import contextlib

    return contextlib.nullcontext()


@pytest.mark.skipif(not HAS_TORCH, reason="torch")
def test_torch_func_vmap(rng):
    """``torch.func.vmap`` maps the autograd.Function (its generated rule).  (``torch.func.grad``
    works too; its first use imports torch's compiler, seconds this suite spends elsewhere.)"""
    import torch

    x, w, b, y, _ = _problem(rng)
    xt, wt, bt, yt = (torch.tensor(a) for a in (x, w, b, y))

    def one(xs, ys):
        return xlosses.linear_softmax_cross_entropy_with_integer_labels(
            xs, wt, ys, bias=bt, chunk_size=CHUNK
        )

    mapped = torch.func.vmap(one)(xt, yt)
    assert_close(mapped.numpy(), one(xt, yt).detach().numpy(), 1e-12)


@pytest.mark.skipif(not HAS_JAX or not HAS_TORCH, reason="jax and torch")
def test_jax_jit_grad_vmap(rng):
    """One ``jax.jit`` program: ``vmap`` over two batches of ``value_and_grad`` (the
    custom VJP), against the dense float64 reference; then the generic loop's gradient."""
    import jax
    import jax.numpy as jnp

    x, w, b, y, keep = _problem(rng)
    f32 = [np.asarray(a, np.float32) for a in (x, w, b)]

    def total(xs, ws, bs, ys, ks):
        loss = xlosses.linear_softmax_cross_entropy_with_integer_labels(
            xs, ws, ys, bias=bs, where=ks, chunk_size=CHUNK, **ALL
        )
        return jnp.sum(loss)

    def program(xs, ws, bs, ys, ks):
        value_and_grad = jax.value_and_grad(total, argnums=(0, 1, 2))
        mapped = jax.vmap(value_and_grad, in_axes=(0, None, None, 0, 0))(xs, ws, bs, ys, ks)
        with xlosses.generic_only():  # read while tracing: autodiff through lax.scan
            generic = jax.grad(total, argnums=1)(xs[0], ws, bs, ys[0], ks[0])
        return mapped, generic

    (value, grads), generic = jax.jit(program)(*map(jnp.asarray, (*f32, y, keep)))
    for i in range(2):  # each example of the vmapped axis against its own dense reference
        want = _dense(f32[0][i], f32[1], f32[2], y[i], keep[i], **ALL)
        assert_close(np.asarray(value[i]), want[0].sum(), 1e-5)
        _assert_all_close([np.asarray(grads[0][i]), np.asarray(grads[1][i])], want[1:3], 1e-4)
    assert_close(np.asarray(generic), np.asarray(grads[1][0]), 1e-5)


# -- dtypes and extremes --------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_TORCH, reason="torch")
@pytest.mark.parametrize("low", ["bfloat16", "float16"])
def test_16bit_inputs_accumulate_in_float32(low, rng):
    """2048 classes in chunks of 256: the loss of 16-bit inputs is the float32 loss of the
    same (rounded) numbers, rounded once; the gradients keep the inputs' dtypes."""
    import torch

    x, w, b, y, keep = _problem(rng, batch=(16,), vocab=2048, dim=32)
    dt = getattr(torch, low)
    leaves = [torch.tensor(a).to(dt).requires_grad_() for a in (x, w, b)]
    loss = xlosses.linear_softmax_cross_entropy_with_integer_labels(
        leaves[0], leaves[1], torch.tensor(y), bias=leaves[2], chunk_size=256
    )
    loss.sum().backward()
    assert loss.dtype == dt and all(t.grad.dtype == dt for t in leaves)
    rounded = [t.detach().double().numpy() for t in leaves]
    want = _dense(*rounded, y, np.ones_like(keep))
    eps = torch.finfo(dt).eps
    assert_close(loss.detach().double().numpy(), want[0], eps)  # one rounding of the result
    for t, g in zip(leaves, want[1:], strict=True):
        assert_close(t.grad.double().numpy(), g, 4 * eps)


@pytest.mark.skipif(not HAS_TORCH, reason="torch")
def test_logits_of_1e4_stay_finite(rng):
    """float32 logits at ±1e4 (and beyond the soft-cap): finite values and gradients."""
    import torch

    x, w, b, y, keep = _problem(rng, scale=3e3)
    for options in ({}, ALL):
        leaves = [torch.tensor(a, dtype=torch.float32, requires_grad=True) for a in (x, w, b)]
        loss = xlosses.linear_softmax_cross_entropy_with_integer_labels(
            leaves[0], leaves[1], torch.tensor(y), bias=leaves[2], chunk_size=CHUNK, **options
        )
        loss.sum().backward()
        rounded = [t.detach().double().numpy() for t in leaves]
        want = _dense(*rounded, y, np.ones_like(keep), **options)
        assert np.abs(rounded[0] @ rounded[1].T).max() > 1e4
        assert torch.isfinite(loss).all() and all(torch.isfinite(t.grad).all() for t in leaves)
        assert_close(loss.detach().double().numpy(), want[0], 1e-5, floor=np.abs(want[0]).max())


# -- options, chunks and errors ----------------------------------------------------------------


def test_chunk_plan():
    assert plan_chunks(8192, 32768, None) == (512, 8192)  # 2**22 logits per chunk
    assert plan_chunks(10, 50, None) == (50, 10)  # a small vocabulary: one chunk
    assert plan_chunks(65536, 131072, None) == (256, 16384)  # blocks of tokens as well
    assert plan_chunks(100, 11, 4) == (4, 100)


def test_token_blocks_and_leading_axes(rng, monkeypatch):
    """Batches cut into blocks of tokens give the same loss and gradients (NumPy)."""
    from xlosses import _large_vocab_plan

    x, w, b, y, _ = _problem(rng, batch=(3, 7))
    whole = xlosses.linear_softmax_cross_entropy_and_grads(x, w, y, bias=b, chunk_size=CHUNK)
    monkeypatch.setattr(_large_vocab_plan, "BLOCK", 8)  # chunks of 4 words: blocks of 2 tokens
    monkeypatch.setattr(_large_vocab_plan, "plan_chunks", lambda t, v, c: (CHUNK, 2))
    blocks = xlosses.linear_softmax_cross_entropy_and_grads(x, w, y, bias=b, chunk_size=CHUNK)
    _assert_all_close(blocks, whole, 1e-12)


def test_cotangent_weighs_each_token(rng):
    x, w, _, y, _ = _problem(rng, batch=(6,))
    g = rng.random(6)
    _, dx, _, db = xlosses.linear_softmax_cross_entropy_and_grads(x, w, y, cotangent=g)
    _, dx1, _, _ = xlosses.linear_softmax_cross_entropy_and_grads(x, w, y)
    assert db is None
    assert_close(dx, dx1 * g[:, None], 1e-12)


def test_bad_inputs(backend, rng):
    x, w, b, y, _ = _problem(rng, batch=(4,))
    xb, wb, yb = backend.asarray(x, "float32"), backend.asarray(w, "float32"), backend.asarray(y)
    f = xlosses.linear_softmax_cross_entropy_with_integer_labels
    with pytest.raises(ValueError, match=r"weight shape \(11, 5\)"):
        f(xb, backend.asarray(w[:, :5], "float32"), yb)
    with pytest.raises(ValueError, match=r"labels shape \(3,\)"):
        f(xb, wb, backend.asarray(y[:3]))
    with pytest.raises(ValueError, match=r"bias shape \(10,\)"):
        f(xb, wb, yb, bias=backend.asarray(b[:10], "float32"))
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        f(xb, wb, backend.asarray(x[:, 0], "float32"))
    with pytest.raises(TypeError, match="features must have a real floating dtype"):
        f(backend.asarray(y[:, None] * np.ones((1, D), np.int64)), wb, yb)
    for bad in ({"label_smoothing": 1.5}, {"z_loss": -1.0}, {"logit_softcap": 0.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            f(xb, wb, yb, **bad)
    with pytest.raises(ValueError, match="chunk_size"):
        f(xb, wb, yb, chunk_size=0)
    with raises_if_checked(backend, ValueError, r"labels must lie in \[0, 11\)"):
        f(xb, wb, backend.asarray(np.array([0, 11, 2, 3])))


def test_invalid_label_gives_nan_in_its_row_only():
    """Where no check runs (here: a masked-out check), an out-of-range label is NaN in its
    own row and contributes no gradient."""
    import array_api_compat

    from xlosses import large_vocab as lv

    rng = np.random.default_rng(0)
    x, w, b, y, _ = _problem(rng, batch=(4,))
    y[1] = 40
    plan = lv.Plan(V, CHUNK, 4, 0.0, 0.0, None)
    xp = array_api_compat.array_namespace(x)
    loss, lse = lv.forward(x, w, b, y, None, None, None, plan=plan, xp=xp)
    assert np.isnan(loss[1]) and np.isfinite(np.delete(loss, 1)).all()
    dx, dw, _ = lv.backward(x, w, b, y, None, None, None, lse, np.ones(4), plan=plan, xp=xp)
    assert (dx[1] == 0).all() and np.isfinite(dw).all()


def _cumulative(carry, xs):
    (x,) = xs
    return carry + x, (carry * x, carry)


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_scan_into_equals_the_generic_loop(lib):
    """NumPy's and eager torch's ``_ops.scan`` write the outputs into arrays allocated once
    (the chunked backward's ``∂weight`` then takes its size, not twice): the same values as
    the generic body; torch outputs that need a gradient are stacked as there."""
    from xlosses._ops import control

    mod = pytest.importorskip(lib)
    import array_api_compat

    xs = mod.asarray(np.arange(12.0).reshape(4, 3))
    xp = array_api_compat.array_namespace(xs)
    fast = control.scan(_cumulative, xs[0] * 0, (xs,), xp=xp)
    slow = control.scan.generic(_cumulative, xs[0] * 0, (xs,), xp=xp)
    for a, b in zip([fast[0], *fast[1]], [slow[0], *slow[1]], strict=True):
        assert_close(np.asarray(a), np.asarray(b), 0.0)
    if lib == "torch":
        leaf = xs.clone().requires_grad_()
        _, ys = control.scan(_cumulative, leaf[0] * 0, (leaf,), xp=xp)
        ys[0].sum().backward()
        assert leaf.grad is not None
