"""CTC on every backend: values by enumeration of alignments, optax and torch as peers,
gradients, compilation, the scan fast path, extremes and errors.

The independent reference is a brute-force sum over every path of K^T symbols that
collapses (merge repeats, drop blanks) to the label sequence, in float64.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import itertools
import math

import numpy as np
import pytest
from conftest import assert_close, backend_named, raises_if_checked

import xlosses

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

HAS_OPTAX = importlib.util.find_spec("optax") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None
TOL = {"float32": 2e-4, "float64": 1e-6}
needs_optax = pytest.mark.skipif(not HAS_OPTAX, reason="optax not installed")
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")


def _skip_dask_sweep(backend):
    """The peer sweeps run on every backend but Dask, where each CTC call builds a graph of
    hundreds of tasks per frame (seconds per case).  Dask runs every CTC variant in
    tests/test_dask.py (lazy, chunked, equal to NumPy) and, with ``--sweeps``, the
    hand-derived tests here."""
    if backend.name == "dask":
        pytest.skip("Dask: the peer sweep of the CTC variants runs in tests/test_dask.py")


# -- independent references -------------------------------------------------------------


def ref_log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def brute_force_nll(logp: np.ndarray, labels, blank: int) -> float:
    """-log of the summed probability of every path (one symbol per frame) that
    collapses to ``labels``; ``logp`` is ``[T, K]`` (used frames only)."""
    num_steps, k = logp.shape
    total = 0.0
    for path in itertools.product(range(k), repeat=num_steps):
        merged = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]
        if [s for s in merged if s != blank] == list(labels):
            total += math.exp(sum(logp[t, s] for t, s in enumerate(path)))
    return -math.log(total) if total > 0 else math.inf


def _random_batch(rng, b, t, k, n, blank=0, repeat=True):
    """Random logits [b, t, k], labels [b, n] without blank, label and frame lengths."""
    classes = np.array([c for c in range(k) if c != blank])
    labels = classes[rng.integers(0, len(classes), (b, n))]
    if repeat:
        labels[0, 1] = labels[0, 0]
    label_len = rng.integers(0, n + 1, b)
    label_len[0] = n
    frame_len = rng.integers(max(1, t - 2), t + 1, b)
    frame_len[0] = t
    x = rng.normal(size=(b, t, k)) * 2
    return x, labels, label_len, frame_len


def _pads(lengths, size):
    return (np.arange(size) >= np.asarray(lengths)[:, None]).astype(np.float64)


@functools.cache
def _optax_jit(fn_name):
    """optax's function under jax.jit: eager optax compiles its scan on every call."""
    import jax
    import optax

    jax.config.update("jax_enable_x64", True)
    fn = getattr(optax.losses, fn_name)
    return jax.jit(fn, static_argnames=("blank_id", "log_epsilon"))


def _optax_ctc(fn_name, x, logit_pad, labels, label_pad, **kw):
    import jax.numpy as jnp

    args = [jnp.asarray(a) for a in (x, logit_pad, labels, label_pad)]
    return _optax_jit(fn_name)(*args, **kw)


def _grad0(backend, fn, args):
    return backend.to_numpy(backend.grad(fn, args, [0])[0])


# -- values: by hand and by enumeration -----------------------------------------------------


@pytest.mark.sweep
def test_hand_derived_two_frames(backend):
    """T = 2, blank 0: every alignment written out.

    p1 = (.5, .3, .2), p2 = (.1, .6, .3)
    "1":   11, _1, 1_   -> .3·.6 + .5·.6 + .3·.1 = .51
    "1 2": 12           -> .3·.3 = .09
    "2 1": 21           -> .2·.6 = .12
    "":    __           -> .5·.1 = .05
    "1 1": impossible (needs "1 _ 1", three frames)
    """
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    labels = np.array([[1, 0], [1, 2], [2, 1], [0, 0], [1, 1]])
    lengths = np.array([1, 2, 2, 0, 2])
    want = -np.log([0.51, 0.09, 0.12, 0.05])
    x = np.broadcast_to(np.log(p), (5, 2, 3)).copy()
    f64 = "float64"
    got = xlosses.ctc_loss(
        backend.asarray(x, f64),
        backend.asarray(np.zeros((5, 2)), f64),
        backend.asarray(labels),
        backend.asarray(_pads(lengths, 2), f64),
    )
    got = backend.to_numpy(got)
    np.testing.assert_allclose(got[:4], want, rtol=1e-12)
    # optax's log_epsilon = -1e5 stands in for log 0: the impossible row costs about 1e5
    assert 9e4 < got[4] < 1.1e5
    got = xlosses.ctc_loss_from_lengths(
        backend.asarray(np.broadcast_to(np.log(p)[:, None, :], (2, 5, 3)).copy(), f64),
        backend.asarray(labels),
        backend.asarray(np.full(5, 2)),
        backend.asarray(lengths),
    )
    np.testing.assert_allclose(backend.to_numpy(got), [*want, np.inf], rtol=1e-12)
    # T = 1: a single frame emits the label or the blank
    one = backend.asarray(np.log(p[:1])[None], f64)
    got = xlosses.ctc_loss_from_lengths(one[0, ...], backend.asarray(np.array([2])), 1, 1)
    np.testing.assert_allclose(backend.to_numpy(got), -np.log(0.2), rtol=1e-12)
    got = xlosses.ctc_loss_from_lengths(one[0, ...], backend.asarray(np.array([2])), 1, 0)
    np.testing.assert_allclose(backend.to_numpy(got), -np.log(0.5), rtol=1e-12)


@pytest.mark.sweep
@pytest.mark.parametrize("blank", [0, 2])
def test_brute_force_enumeration(backend, dtype, rng, blank):
    b, t, k, n = 4, 5, 3, 3
    x, labels, label_len, frame_len = _random_batch(rng, b, t, k, n, blank)
    xb = backend.asarray(x, dtype)
    x = backend.to_numpy(xb)
    logp = ref_log_softmax(x)
    want = [
        brute_force_nll(logp[i, : frame_len[i]], labels[i, : label_len[i]], blank) for i in range(b)
    ]
    got = xlosses.ctc_loss(
        xb,
        backend.asarray(_pads(frame_len, t), dtype),
        backend.asarray(labels),
        backend.asarray(_pads(label_len, n), dtype),
        blank_id=blank,
    )
    finite = np.isfinite(want)
    assert finite[0] and finite.sum() >= 2
    assert_close(backend.to_numpy(got)[finite], np.array(want)[finite], TOL[dtype])
    got = xlosses.ctc_loss_from_lengths(
        backend.asarray(np.transpose(logp, (1, 0, 2)), dtype),
        backend.asarray(labels),
        backend.asarray(frame_len),
        backend.asarray(label_len),
        blank=blank,
    )
    assert_close(backend.to_numpy(got), np.array(want), TOL[dtype])


# -- optax ------------------------------------------------------------------------------


@needs_optax
@pytest.mark.sweep
@pytest.mark.parametrize(
    ("case", "batch"),
    [("plain", 1), ("plain", 3), ("plain", 6), ("repeat", 3), ("blank2", 3), ("impossible", 3)],
)
def test_agrees_with_optax(backend, dtype, rng, case, batch):
    _skip_dask_sweep(backend)
    t, k, n = 6, 5, 3
    blank = 2 if case == "blank2" else 0
    x, labels, label_len, frame_len = _random_batch(rng, batch, t, k, n, blank, case == "repeat")
    if case == "impossible":
        labels[0] = labels[0, 0]  # "a a a" needs 5 frames
        frame_len[0] = 4
    xb = backend.asarray(x, dtype)
    x = backend.to_numpy(xb)
    args = (x, _pads(frame_len, t), labels, _pads(label_len, n))
    bargs = [
        xb,
        backend.asarray(args[1], dtype),
        backend.asarray(labels),
        backend.asarray(args[3], dtype),
    ]
    kw = {"blank_id": blank}
    want = _optax_ctc("ctc_loss_with_forward_probs", *args, **kw)

    def fn(*a):
        return xlosses.ctc_loss_with_forward_probs(*a, **kw)

    got = backend.compile(fn)(*bargs) if backend.module == "jax" else fn(*bargs)
    for g, w in zip(got, want, strict=True):
        assert backend.dtype_name(g) == dtype
        assert_close(backend.to_numpy(g), np.asarray(w), TOL[dtype])
    loss = backend.to_numpy(xlosses.ctc_loss(*bargs, **kw))
    assert_close(loss, np.asarray(want[0]), TOL[dtype])
    if case == "impossible":
        assert np.isfinite(loss[0]) and loss[0] > 9e4


@pytest.mark.sweep
@needs_optax
@pytest.mark.parametrize("log_epsilon", [-1e5, -20.0])
def test_gradients_agree_with_optax(backend, rng, log_epsilon):
    """Gradients of the loss (impossible row included) and of the alpha tables."""
    if not backend.differentiable:
        pytest.skip("no autodiff")
    import jax
    import jax.numpy as jnp
    import optax

    t, k, n, b = 6, 4, 3, 3
    x, labels, label_len, frame_len = _random_batch(rng, b, t, k, n)
    labels[2] = 1
    label_len[2], frame_len[2] = 3, 4  # impossible: "1 1 1" in 4 frames
    pads = (_pads(frame_len, t), _pads(label_len, n))
    kw = {"log_epsilon": log_epsilon}
    rest = [backend.asarray(pads[0], "float64"), backend.asarray(labels)]
    rest.append(backend.asarray(pads[1], "float64"))

    def peer(z, tables):
        out = optax.losses.ctc_loss_with_forward_probs(
            z, *[jnp.asarray(a) for a in (pads[0], labels, pads[1])], **kw
        )
        return jnp.sum(out[0]) + (0.01 * (jnp.sum(out[1]) + jnp.sum(out[2])) if tables else 0.0)

    def ours(z, *r, tables):
        loss, phi, emit = xlosses.ctc_loss_with_forward_probs(z, *r, **kw)
        if not tables:
            return loss
        return loss + 0.01 * (backend.xp.sum(phi) + backend.xp.sum(emit)) / b

    peer_grad = jax.jit(jax.grad(peer), static_argnums=1)  # eager optax dispatches op by op
    for tables in (False, True):
        want = np.asarray(peer_grad(jnp.asarray(x), tables))
        got = _grad0(
            backend,
            lambda z, *r, tables=tables: ours(z, *r, tables=tables),
            [backend.asarray(x, "float64"), *rest],
        )
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


# -- torch.nn.functional.ctc_loss -------------------------------------------------------------


def _torch_case(rng, b=3, t=6, c=5, s=3, blank=0):
    x, labels, label_len, frame_len = _random_batch(rng, b, t, c, s, blank)
    labels[1, :2] = labels[0, 0]
    label_len[1] = 2
    labels[2] = 1 if blank == 0 else 0  # a non-blank class
    label_len[2], frame_len[2] = 3, 4  # impossible: three equal labels in four frames
    logp = np.transpose(ref_log_softmax(x), (1, 0, 2))  # [T, B, C]
    return x, logp, labels, frame_len, label_len


@needs_torch
@pytest.mark.sweep
@pytest.mark.parametrize(
    "form", ["padded", "concatenated", "blank3", "zero_infinity", "batch_major", "tuples"]
)
def test_agrees_with_torch(backend, dtype, rng, form):
    _skip_dask_sweep(backend)
    import torch
    import torch.nn.functional as F

    blank = 3 if form == "blank3" else 0
    _, logp, labels, il, tl = _torch_case(rng, blank=blank)
    lpb = backend.asarray(logp, dtype)
    logp = backend.to_numpy(lpb)
    targets = labels
    if form == "concatenated":
        targets = np.concatenate([labels[i, : tl[i]] for i in range(3)])
    kw = {"blank": blank, "zero_infinity": form == "zero_infinity"}
    want = F.ctc_loss(
        torch.from_numpy(logp),
        torch.from_numpy(targets),
        torch.from_numpy(il),
        torch.from_numpy(tl),
        reduction="none",
        **kw,
    ).numpy()
    assert np.isinf(want[2]) != kw["zero_infinity"]
    lengths = (backend.asarray(il), backend.asarray(tl))
    if form == "tuples":
        lengths = (tuple(int(v) for v in il), tuple(int(v) for v in tl))
    if form == "batch_major":
        lpb = backend.asarray(np.transpose(logp, (1, 0, 2)), dtype)
        kw["time_axis"] = 1
    got = xlosses.ctc_loss_from_lengths(lpb, backend.asarray(targets), *lengths, **kw)
    assert backend.dtype_name(got) == dtype
    assert_close(backend.to_numpy(got), want, TOL[dtype])
    if form == "concatenated":
        got = xlosses.ctc_loss_from_lengths(
            lpb, backend.asarray(targets), *lengths, max_target_length=3
        )
        assert_close(backend.to_numpy(got), want, TOL[dtype])


@needs_torch
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_gradients_agree_with_torch(backend, rng, zero_infinity):
    """Through log_softmax the gradients equal torch's; with log_probs as the leaf, torch's
    kernel adds exp(log_probs) on used frames (a term log_softmax's backward removes)."""
    if not backend.differentiable:
        pytest.skip("no autodiff")
    import torch
    import torch.nn.functional as F

    x, logp, labels, il, tl = _torch_case(rng)
    xt = torch.from_numpy(np.transpose(x, (1, 0, 2)).copy()).requires_grad_(True)
    kw = {"blank": 0, "zero_infinity": zero_infinity}
    args_t = [torch.from_numpy(a) for a in (labels, il, tl)]
    want = F.ctc_loss(torch.log_softmax(xt, -1), *args_t, reduction="none", **kw)
    keep = 3 if zero_infinity else 2  # torch's gradient of an infinite row is NaN
    (g_want,) = torch.autograd.grad(want[:keep].sum(), xt)
    rest = [backend.asarray(a) for a in (labels, il, tl)]
    xp = backend.xp

    def ours(z, *r):
        logp = z - xp.expand_dims(xp.log(xp.sum(xp.exp(z), axis=-1)), axis=-1)
        return xlosses.ctc_loss_from_lengths(logp, *r, **kw)[:keep]

    xb = backend.asarray(np.transpose(x, (1, 0, 2)).copy(), "float64")
    # (torch's kernel leaves NaN in the gradient of an infinite row even when it is not summed)
    g = _grad0(backend, ours, [xb, *rest])
    np.testing.assert_allclose(g[:, :keep], g_want.numpy()[:, :keep], atol=1e-10)
    assert np.all(g[:, keep:] == 0)
    # log_probs as the leaf: ours is the exact derivative (central differences), torch's is
    # that plus exp(log_probs) on the frames each example uses
    lp = torch.from_numpy(logp).requires_grad_(True)
    (g_torch,) = torch.autograd.grad(F.ctc_loss(lp, *args_t, reduction="none", **kw)[:2].sum(), lp)
    g = _grad0(
        backend,
        lambda z, *r: xlosses.ctc_loss_from_lengths(z, *r, **kw)[:2],
        [backend.asarray(logp, "float64"), *rest],
    )
    used = (np.arange(6)[:, None] < il[None, :2])[..., None]
    want_raw = g_torch.numpy()[:, :2] - np.exp(logp[:, :2]) * used
    np.testing.assert_allclose(g[:, :2], want_raw, atol=1e-10)
    fd = np.zeros_like(logp)
    for idx in [(0, 0, 0), (2, 1, 3), (5, 0, 1), (3, 1, 0)]:
        step = np.zeros_like(logp)
        step[idx] = 1e-6

        def total(z):
            out = xlosses.ctc_loss_from_lengths(z, labels, il, tl, **kw)
            return out[:2].sum()

        fd[idx] = (total(logp + step) - total(logp - step)) / 2e-6
        np.testing.assert_allclose(g[idx], fd[idx], atol=1e-7)


@pytest.mark.sweep
def test_impossible_alignments(backend):
    """torch semantics: +inf (or 0 with zero_infinity, with zero gradient); optax semantics:
    about -log_epsilon, finite gradient."""
    logp = np.log(np.full((3, 1, 3), 1 / 3))
    labels = np.array([[1, 1]])  # "1 _ 1" needs three frames
    lpb = backend.asarray(logp, "float64")
    args = [backend.asarray(labels), backend.asarray(np.array([2])), backend.asarray(np.array([2]))]
    got = backend.to_numpy(xlosses.ctc_loss_from_lengths(lpb, *args))
    assert got[0] == np.inf
    got = backend.to_numpy(xlosses.ctc_loss_from_lengths(lpb, *args, zero_infinity=True))
    assert got[0] == 0.0
    args[0] = backend.asarray(np.array([[1, 1]]))
    # three frames: exactly one path "1 _ 1"
    full = [args[0], backend.asarray(np.array([3])), args[2]]
    got = backend.to_numpy(xlosses.ctc_loss_from_lengths(lpb, *full))
    np.testing.assert_allclose(got, [3 * np.log(3)], rtol=1e-12)
    if backend.differentiable:
        g = _grad0(
            backend,
            lambda z, *r: xlosses.ctc_loss_from_lengths(z, *r, zero_infinity=True),
            [lpb, *args],
        )
        assert np.all(g == 0.0)
        x = backend.asarray(np.zeros((1, 2, 3)), "float64")
        opt = [backend.asarray(np.zeros((1, 2)), "float64"), args[0]]
        opt.append(backend.asarray(np.zeros((1, 2)), "float64"))
        g = _grad0(backend, xlosses.ctc_loss, [x, *opt])
        assert np.all(np.isfinite(g)) and np.any(g != 0)


# -- compilation and the scan fast path ------------------------------------------------------


def test_compiled_equals_eager(backend, rng):
    if not backend.differentiable:
        pytest.skip("no compiler")
    t, k, n = 4, 4, 2
    x, labels, label_len, frame_len = _random_batch(rng, 2, t, k, n)
    args = [
        backend.asarray(x, "float32"),
        backend.asarray(_pads(frame_len, t), "float32"),
        backend.asarray(labels),
        backend.asarray(_pads(label_len, n), "float32"),
    ]
    eager = backend.to_numpy(xlosses.ctc_loss(*args))
    comp = backend.to_numpy(backend.compile(xlosses.ctc_loss)(*args))
    np.testing.assert_allclose(comp, eager, rtol=1e-6)
    logp = backend.asarray(np.transpose(ref_log_softmax(x), (1, 0, 2)), "float32")
    rest = [backend.asarray(a) for a in (labels, frame_len, label_len)]
    eager = backend.to_numpy(xlosses.ctc_loss_from_lengths(logp, *rest))
    comp = backend.to_numpy(backend.compile(xlosses.ctc_loss_from_lengths)(logp, *rest))
    np.testing.assert_allclose(comp, eager, rtol=1e-6)


def _float64_optax_args(backend, rng, *, t, k, n):
    """optax-style CTC arguments (logits, paddings, labels) of a random batch of 3, float64."""
    x, labels, label_len, frame_len = _random_batch(rng, 3, t, k, n)
    return [
        backend.asarray(x, "float64"),
        backend.asarray(_pads(frame_len, t), "float64"),
        backend.asarray(labels),
        backend.asarray(_pads(label_len, n), "float64"),
    ]


def _forward_probs_total(*a):
    """A scalar of the loss and both alpha tables: its gradient runs through all three."""
    loss, phi, emit = xlosses.ctc_loss_with_forward_probs(*a)
    return loss.sum() + 1e-3 * (phi.sum() + emit.sum())


def test_scan_fast_path_equals_generic_loop(rng):
    jb = backend_named("jax")
    if jb is None:
        pytest.skip("needs jax")
    import jax

    # 4 frames: the generic loop is unrolled into the program (its compile time grows
    # with the frames: 7 took 11 s)
    args = _float64_optax_args(jb, rng, t=4, k=4, n=2)
    total = _forward_probs_total

    fast = jax.jit(jax.value_and_grad(total))
    jaxpr = str(jax.make_jaxpr(total)(*args))
    assert "scan" in jaxpr
    with xlosses.generic_only():
        generic = jax.jit(jax.value_and_grad(total))
        v_gen, g_gen = generic(*args)  # traced (and unrolled) inside the block
        # (a fresh function: jax caches traces by function identity)
        assert "scan" not in str(jax.make_jaxpr(lambda *a: total(*a))(*args))
    v_fast, g_fast = fast(*args)
    np.testing.assert_allclose(float(v_fast), float(v_gen), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g_fast), np.asarray(g_gen), rtol=1e-10, atol=1e-12)


class _KernelSpy:
    """Counts the calls of ``torch.nn.functional.ctc_loss`` (the fused kernel) and of the
    generic recursion (``recursions``)."""

    def __init__(self, monkeypatch):
        import torch.nn.functional as F

        import xlosses.sequence

        self.calls, self.recursions = 0, 0
        real, recursion = F.ctc_loss, xlosses.sequence._ctc_forward

        def spy(*a, **k):
            self.calls += 1
            return real(*a, **k)

        def spy_recursion(*a, **k):
            self.recursions += 1
            return recursion(*a, **k)

        monkeypatch.setattr(F, "ctc_loss", spy)
        monkeypatch.setattr(xlosses.sequence, "_ctc_forward", spy_recursion)


def _value_and_grad(fn, args, generic):
    """Loss values and the gradient of their sum with respect to ``args[0]`` (torch)."""
    import torch

    x = args[0].detach().clone().requires_grad_(True)
    with xlosses.generic_only() if generic else contextlib.nullcontext():
        out = fn(x, *args[1:])
        (g,) = torch.autograd.grad(out.sum(), x) if torch.isfinite(out).all() else (None,)
    return out.detach().numpy(), None if g is None else g.numpy()


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("face", ["ctc_loss", "ctc_loss_from_lengths", "functional"])
def test_torch_fused_kernel_equals_generic_body(rng, monkeypatch, dtype, face):
    """On eager CPU torch the CTC losses call torch's fused kernel where it gives the generic
    body's numbers (values and gradients, with log_probs as the leaf too), and fall back to
    the generic body where it would not: an impossible alignment (inf for the kernel), a
    log_epsilon that is not negligible, paddings that are not a suffix, a NaN."""
    import torch

    import xlosses.functional as XF

    t, k, n, b = 7, 5, 3, 4
    x, labels, label_len, frame_len = _random_batch(rng, b, t, k, n)
    frame_len[1], label_len[1] = 4, 1
    tt = functools.partial(torch.tensor, dtype=getattr(torch, dtype))
    if face == "ctc_loss":
        fn = xlosses.ctc_loss
        args = [tt(x), tt(_pads(frame_len, t)), torch.tensor(labels), tt(_pads(label_len, n))]
    else:
        fn = (
            xlosses.ctc_loss_from_lengths
            if face != "functional"
            else functools.partial(XF.ctc_loss, reduction="none")
        )
        logp = np.transpose(ref_log_softmax(x), (1, 0, 2)).copy()
        args = [tt(logp), torch.tensor(labels), torch.tensor(frame_len), torch.tensor(label_len)]
    tol = {"float32": 2e-5, "float64": 1e-12}[dtype]

    def check(args, fused):
        spy = _KernelSpy(monkeypatch)
        got, g = _value_and_grad(fn, args, generic=False)
        calls = spy.calls
        assert (calls, spy.recursions) == (1, 0) if fused else spy.recursions == 1
        want, g_want = _value_and_grad(fn, args, generic=True)
        assert spy.calls == calls  # the generic body never calls it
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
        if g_want is not None:
            np.testing.assert_allclose(g, g_want, rtol=tol, atol=tol)
        return got

    def check_fused_without_gradients(args):
        with torch.no_grad():
            spy = _KernelSpy(monkeypatch)
            got = fn(*args).numpy()
            assert (spy.calls, spy.recursions) == (1, 0)
            with xlosses.generic_only():
                np.testing.assert_allclose(got, fn(*args).numpy(), rtol=tol, atol=tol)

    check(args, fused=True)
    check_fused_without_gradients(args)

    # an impossible alignment: row 0 is "a a a" in 4 frames (the kernel's inf is discarded)
    imp = [a.clone() for a in args]
    imp[2 if face == "ctc_loss" else 1][0] = imp[2 if face == "ctc_loss" else 1][0, 0]
    if face == "ctc_loss":
        imp[1][0] = tt(_pads([4], t))[0]
    else:
        imp[2][0] = 4
    out = check(imp, fused=False)
    assert np.isfinite(out[0]) == (face == "ctc_loss")  # optax's: about -log_epsilon
    # NaN in a used frame: the NaN stays in its row, the others are the generic body's
    nan = [a.clone() for a in args]
    if face == "ctc_loss":
        nan[0][2, 0, 1] = float("nan")
    else:
        nan[0][0, 2, 1] = float("nan")
    out = check(nan, fused=False)
    assert np.isnan(out[2]) and np.all(np.isfinite(np.delete(out, 2)))
    if face == "ctc_loss":
        # NaN and inf in padded frames (row 1 uses 4 of 7), -inf logits in a used frame: the
        # kernel where no gradient passes (padded frames unread), the generic body where one
        # does (log_softmax's gradient there would be NaN)
        odd = [a.clone() for a in args]
        odd[0][1, 5, :] = float("nan")
        odd[0][1, 6, 0] = float("inf")
        odd[0][0, 3, 2] = -float("inf")
        check_fused_without_gradients(odd)
        out = check(odd, fused=False)
        assert np.all(np.isfinite(out))
        # a log_epsilon of -15 weighs in the generic body: the kernel's value is discarded
        for log_epsilon in (-15.0, torch.tensor(-1e5, dtype=getattr(torch, dtype))):
            spy = _KernelSpy(monkeypatch)
            got = xlosses.ctc_loss(*args, log_epsilon=log_epsilon)
            with xlosses.generic_only():
                want = xlosses.ctc_loss(*args, log_epsilon=log_epsilon)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=tol, atol=tol)
            assert spy.calls == (0 if torch.is_tensor(log_epsilon) else 1)
            if dtype == "float64" and not torch.is_tensor(log_epsilon):
                # the kernel's exact value differs: falling back is what keeps optax's number
                exact = xlosses.ctc_loss(*args, log_epsilon=-math.inf).numpy()
                assert np.abs(want.numpy() - exact).max() > 100 * tol
        # optax's paddings may lie anywhere: a padded frame before a used one
        holes = [a.clone() for a in args]
        holes[1][0, 1] = 1.0
        check(holes, fused=False)
        holes = [a.clone() for a in args]
        holes[3][0] = tt([0.0, 1.0, 0.0])
        check(holes, fused=False)


@needs_torch
@pytest.mark.parametrize(
    "form", ["padded junk", "concatenated", "int32", "unbatched", "time_axis=1", "zero_infinity"]
)
def test_torch_fused_kernel_from_lengths_forms(rng, monkeypatch, form):
    """ctc_loss_from_lengths's other argument forms on the fused kernel (or, for an infinite
    loss with zero_infinity, the generic body): the generic body's values and gradients."""
    import torch

    t, k, n, b = 6, 5, 3, 3
    x, labels, label_len, frame_len = _random_batch(rng, b, t, k, n)
    logp = torch.tensor(np.transpose(ref_log_softmax(x), (1, 0, 2)).copy())
    targets = torch.tensor(labels)
    il, tl = torch.tensor(frame_len), torch.tensor(label_len)
    kw, fused = {}, True
    if form == "padded junk":  # the kernel does not read past target_lengths
        targets = torch.where(torch.arange(n) < tl[:, None], targets, -1)
        targets[1, -1] = 99 if label_len[1] < n else targets[1, -1]
    elif form == "concatenated":
        targets = torch.cat([targets[i, : label_len[i]] for i in range(b)])
    elif form == "int32":
        targets, il, tl = targets.int(), il.int(), tl.int()
    elif form == "unbatched":
        logp, targets, il, tl = logp[:, 0], targets[0], il[0], tl[0]
    elif form == "time_axis=1":
        logp, kw = logp.transpose(0, 1).contiguous(), {"time_axis": 1}
    else:  # row 0 is "a a a" in 4 frames: infinite, 0 with zero_infinity
        targets[0], il[0], kw, fused = targets[0, 0], 4, {"zero_infinity": True}, False
    fn = functools.partial(xlosses.ctc_loss_from_lengths, **kw)
    spy = _KernelSpy(monkeypatch)
    got, g = _value_and_grad(fn, [logp, targets, il, tl], generic=False)
    assert (spy.calls, spy.recursions) == (1, 0 if fused else 1)
    want, g_want = _value_and_grad(fn, [logp, targets, il, tl], generic=True)
    assert spy.calls == 1 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, g_want, rtol=1e-12, atol=1e-12)
    if not fused:
        assert got[0] == 0 and np.all(g[:, 0] == 0)


@pytest.mark.sweep  # shard_map runs with --sweeps (tests/test_sharded_jax.py too)
def test_scan_under_shard_map_values_and_gradients(rng):
    """The lax.scan fast path runs per device: its initial carry (built from constants, so
    typed as equal on every device) is made varying over the mesh axis like the carry the
    step returns.  One device suffices for the typing; tests/test_sharded_jax.py runs 8."""
    jb = backend_named("jax")
    if jb is None:
        pytest.skip("needs jax")
    import jax
    from jax.sharding import Mesh
    from jax.sharding import PartitionSpec as P

    mesh = Mesh(np.array(jax.devices()[:1]), ("batch",))
    args = _float64_optax_args(jb, rng, t=5, k=4, n=2)
    total = _forward_probs_total

    def per_device(*a):  # the gradient of the shard's total, summed over the mesh axis
        value, grad = jax.value_and_grad(total)(*a)
        return jax.lax.psum(value, "batch"), grad

    sm = jax.shard_map(
        per_device, mesh=mesh, in_specs=(P("batch"),) * 4, out_specs=(P(), P("batch"))
    )
    v_sm, g_sm = jax.jit(sm)(*args)
    v, g = jax.jit(jax.value_and_grad(total))(*args)
    np.testing.assert_allclose(float(v_sm), float(v), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g_sm), np.asarray(g), rtol=1e-10, atol=1e-12)
    eager = jax.shard_map(
        xlosses.ctc_loss, mesh=mesh, in_specs=(P("batch"),) * 4, out_specs=P("batch")
    )(*args)
    np.testing.assert_allclose(np.asarray(eager), np.asarray(xlosses.ctc_loss(*args)), rtol=1e-12)


# -- numerics ------------------------------------------------------------------------------------


@pytest.mark.sweep
def test_extreme_logits_float32(backend, rng):
    t, k, n = 5, 4, 2
    x, labels, label_len, frame_len = _random_batch(rng, 3, t, k, n)
    x = np.sign(x) * 1e4
    args = [
        backend.asarray(x, "float32"),
        backend.asarray(_pads(frame_len, t), "float32"),
        backend.asarray(labels),
        backend.asarray(_pads(label_len, n), "float32"),
    ]
    assert np.all(np.isfinite(backend.to_numpy(xlosses.ctc_loss(*args))))
    logp = backend.asarray(np.transpose(ref_log_softmax(x), (1, 0, 2)), "float32")
    rest = [backend.asarray(a) for a in (labels, frame_len, label_len)]
    ref = xlosses.ctc_loss_from_lengths(
        np.transpose(ref_log_softmax(x), (1, 0, 2)), labels, frame_len, label_len
    )
    got = backend.to_numpy(xlosses.ctc_loss_from_lengths(logp, *rest))
    assert np.array_equal(np.isfinite(got), np.isfinite(ref))
    if backend.differentiable:
        assert np.all(np.isfinite(_grad0(backend, xlosses.ctc_loss, args)))
        g = _grad0(backend, xlosses.ctc_loss_from_lengths, [logp, *rest])
        assert np.all(np.isfinite(g))


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision(backend, rng, low):
    if low not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {low}")
    t, k, n = 5, 4, 2
    x, labels, label_len, frame_len = _random_batch(rng, 2, t, k, n)
    args = [
        backend.asarray(x, low),
        backend.asarray(_pads(frame_len, t), low),
        backend.asarray(labels),
        backend.asarray(_pads(label_len, n), low),
    ]
    out = xlosses.ctc_loss(*args)
    assert backend.dtype_name(out) == low
    want = xlosses.ctc_loss(x, _pads(frame_len, t), labels, _pads(label_len, n))  # float64 NumPy
    assert_close(backend.to_numpy(out), want, 2e-2 if low == "float16" else 1e-1)
    if backend.differentiable:
        assert np.all(np.isfinite(_grad0(backend, xlosses.ctc_loss, args)))


def test_nan_stays_in_its_row_and_padding_is_not_read(backend, rng):
    t, k, n = 5, 4, 2
    x, labels, label_len, frame_len = _random_batch(rng, 3, t, k, n)
    frame_len[1] = 3
    pads = (_pads(frame_len, t), _pads(label_len, n))

    def call(z):
        return xlosses.ctc_loss(
            z,
            backend.asarray(pads[0], "float64"),
            backend.asarray(labels),
            backend.asarray(pads[1], "float64"),
        )

    clean = backend.to_numpy(call(backend.asarray(x, "float64")))
    dirty = x.copy()
    dirty[1, 3:] = np.nan  # padded frames of row 1
    dirty[2, 0, 0] = np.nan  # a used frame of row 2
    got = backend.to_numpy(call(backend.asarray(dirty, "float64")))
    np.testing.assert_array_equal(got[:2], clean[:2])
    assert np.isnan(got[2])
    if backend.differentiable:
        g = _grad0(backend, lambda z, *r: call(z)[:2], [backend.asarray(dirty, "float64")])
        assert np.all(np.isfinite(g[:2])) and np.all(g[1, 3:] == 0)


# -- errors ------------------------------------------------------------------------------------


def test_shape_and_type_errors(backend):
    f32, f = "float32", backend.asarray
    x = f(np.zeros((2, 4, 3)), f32)
    lp = f(np.zeros((2, 4)), f32)
    lab = f(np.ones((2, 2), dtype=np.int64))
    lpad = f(np.zeros((2, 2)), f32)
    with pytest.raises(ValueError, match=r"logits must have shape \[B, T, K\].*\(4, 3\)"):
        xlosses.ctc_loss(x[0, ...], lp, lab, lpad)
    with pytest.raises(ValueError, match=r"logit_paddings shape \(2, 3\).*\(2, 4, 3\)"):
        xlosses.ctc_loss(x, lp[:, :3], lab, lpad)
    with pytest.raises(ValueError, match=r"label_paddings shape \(2, 1\).*labels shape \(2, 2\)"):
        xlosses.ctc_loss(x, lp, lab, lpad[:, :1])
    with pytest.raises(ValueError, match="blank_id=3 is out of range for 3 classes"):
        xlosses.ctc_loss(x, lp, lab, lpad, blank_id=3)
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        xlosses.ctc_loss(x, lp, lpad, lpad)
    with pytest.raises(TypeError, match="logits must have a real floating dtype"):
        xlosses.ctc_loss(lab[..., None], lp, lab, lpad)
    logp = f(np.zeros((4, 2, 3)), f32)
    il, tl = f(np.array([4, 4])), f(np.array([2, 1]))
    with pytest.raises(ValueError, match=r"input_lengths shape \(3,\) must be \(2,\)"):
        xlosses.ctc_loss_from_lengths(logp, lab, f(np.array([4, 4, 4])), tl)
    with pytest.raises(ValueError, match="time_axis must be 0 or 1"):
        xlosses.ctc_loss_from_lengths(logp, lab, il, tl, time_axis=2)
    with pytest.raises(ValueError, match="blank=5 is out of range"):
        xlosses.ctc_loss_from_lengths(logp, lab, il, tl, blank=5)
    with pytest.raises(TypeError, match="input_lengths must have an integer dtype"):
        xlosses.ctc_loss_from_lengths(logp, lab, f(np.array([4.0, 4.0]), f32), tl)


def test_value_errors_eager_and_nan_when_compiled(backend):
    f = backend.asarray
    x = f(np.zeros((2, 4, 3)), "float64")
    pads = f(np.zeros((2, 4)), "float64"), f(np.array([[0.0, 0.0], [0.0, 1.0]]), "float64")
    bad = f(np.array([[1, 3], [2, 7]]))  # 3 is out of range; 7 is padding (allowed)
    with raises_if_checked(backend, ValueError, r"labels must lie in \[0, 3\)"):
        xlosses.ctc_loss(x, pads[0], bad, pads[1])
    logp = f(np.log(np.full((4, 2, 3), 1 / 3)), "float64")
    good = f(np.array([[1, 2], [2, 1]]))
    with raises_if_checked(backend, ValueError, r"input_lengths must lie in \[0, 4\].*\[4, 5\]"):
        xlosses.ctc_loss_from_lengths(logp, good, f(np.array([4, 5])), f(np.array([2, 2])))
    with raises_if_checked(backend, ValueError, r"target_lengths must lie in \[0, 2\].*\[-1, 2\]"):
        xlosses.ctc_loss_from_lengths(logp, good, f(np.array([4, 4])), f(np.array([2, -1])))
    with raises_if_checked(backend, ValueError, "target_lengths sum to 4 but"):
        xlosses.ctc_loss_from_lengths(logp, f(np.array([1, 2, 1])), [4, 4], [2, 2])
    with raises_if_checked(backend, ValueError, r"targets must lie in \[0, 3\)"):
        xlosses.ctc_loss_from_lengths(logp, bad, f(np.array([4, 4])), f(np.array([2, 2])))
    if backend.differentiable:
        # no check can run under jit / torch.compile: the bad rows are NaN, the good ones not
        out = backend.to_numpy(backend.compile(xlosses.ctc_loss)(x, pads[0], bad, pads[1]))
        assert np.isnan(out[0]) and np.isfinite(out[1])
        out = backend.to_numpy(
            backend.compile(xlosses.ctc_loss_from_lengths)(
                logp, good, f(np.array([4, 5])), f(np.array([2, 2]))
            )
        )
        assert np.isfinite(out[0]) and np.isnan(out[1])
    if backend.name == "dask":
        # no check runs on lazy arrays: the bad rows are NaN once computed
        out = backend.to_numpy(xlosses.ctc_loss(x, pads[0], bad, pads[1]))
        assert np.isnan(out[0]) and np.isfinite(out[1])


def test_inputs_not_mutated_and_requires_grad_kept():
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 4, 3, requires_grad=True)
    x0 = x.detach().clone()
    labels = torch.tensor([[1, 2], [2, 2]])
    pads = torch.zeros(2, 4), torch.zeros(2, 2)
    xlosses.ctc_loss(x, pads[0], labels, pads[1]).sum().backward()
    assert x.requires_grad and torch.equal(x.detach(), x0) and x.grad is not None
    assert torch.equal(labels, torch.tensor([[1, 2], [2, 2]]))
