"""xlosses.ops, the public primitives: values against float64 formulas written here, the input
policy, bad input, and the edge cases the conformance entries leave out (empty reductions,
``log 0``, ``p = 1``, zero vectors, NaN rows).  The conformance entries (``ops.*``) check every
primitive on every backend and dtype, with gradients, compilation and transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_close, backend_named

from xlosses import ops

X = np.array([[0.5, -1.0, 2.0, 0.0], [3.0, 0.25, -0.5, 1.5]])
P = np.array([[0.0, 0.25, 0.5, 1.0], [0.1, 0.9, 0.99, 0.3]])


def _ref_logsumexp(x):
    m = np.max(x, axis=-1, keepdims=True)
    return np.log(np.sum(np.exp(x - m), axis=-1)) + m[..., 0]


def test_values_and_dtype_on_every_backend(backend):
    """One pass over the primitives: library, dtype and values kept on each backend."""
    x, p = backend.asarray(X, "float32"), backend.asarray(P, "float32")
    lab = backend.asarray(np.array([2, 0]))
    cases = {
        "logsumexp": (ops.logsumexp(x, axis=-1), _ref_logsumexp(X)),
        "softmax": (ops.softmax(x), np.exp(X - _ref_logsumexp(X)[:, None])),
        "take_labels": (ops.take_labels(x, lab), np.array([2.0, 3.0])),
        "focal_power": (ops.focal_power(p, gamma=2.0), (1.0 - P) ** 2),
        "vector_norm": (ops.vector_norm(x, axis=-1), np.sqrt(np.sum(X * X, axis=-1))),
        "masked_mean": (ops.masked_mean(x, where=x > 0, axis=-1), np.array([1.25, 1.5833333])),
    }
    for name, (got, want) in cases.items():
        assert backend.dtype_name(got) == "float32", name
        assert type(got).__module__.split(".")[0] == type(x).__module__.split(".")[0], name
        assert_close(backend.to_numpy(got), want, 1e-6)


def test_float16_is_computed_in_float32_and_returned_as_float16():
    x = np.array([1e4, 1e4, 0.0], dtype=np.float16)
    out = ops.logsumexp(x)
    assert out.dtype == np.float16 and np.isfinite(out)
    assert ops.softmax(x).dtype == np.float16
    assert ops.vector_norm(np.array([3e4, 4e4], dtype=np.float16)) == np.float16(5e4)


def test_python_scalars_and_numpy_beside_jax():
    assert float(ops.logaddexp(np.array(0.0), 0.0)) == pytest.approx(math.log(2.0))
    jax = pytest.importorskip("jax")
    out = ops.xlogy(jax.numpy.asarray([2.0]), np.array([math.e]))  # NumPy beside JAX
    assert type(out).__module__.startswith("jax") and float(out[0]) == pytest.approx(2.0)


def test_empty_reductions_and_log_zero():
    none = np.zeros((2, 4), dtype=bool)
    none[1, 0] = True
    assert np.array_equal(ops.logsumexp(X, axis=-1, where=none), [-np.inf, 3.0])
    assert np.array_equal(ops.softmax(X, where=none), [[0, 0, 0, 0], [1, 0, 0, 0]])
    out = ops.masked_mean(X, where=none, axis=-1)
    assert np.isnan(out[0]) and out[1] == 3.0
    with np.errstate(all="raise"):  # no warning: no log 0 is evaluated
        assert ops.safe_log(np.array([0.0]))[0] == -np.inf
        assert ops.xlogy(np.array([0.0, 0.0]), np.array([0.0, np.inf])).tolist() == [0.0, 0.0]
        assert ops.logaddexp(np.array(-np.inf), np.array(-np.inf)) == -np.inf


def test_nan_stays_in_its_row():
    x = X.copy()
    x[0, 1] = np.nan
    for f in (ops.logsumexp, ops.vector_norm, ops.masked_sum):
        out = f(x, axis=-1)
        assert np.isnan(out[0]) and np.isfinite(out[1]), f.__name__
    assert np.isfinite(ops.masked_sum(x, where=np.isfinite(x), axis=-1)).all()
    with np.errstate(all="ignore"):
        out = ops.sparsemax(x)
    assert np.isnan(out[0]).all() and np.allclose(out[1].sum(), 1.0)


def test_take_labels_out_of_range():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        ops.take_labels(X, np.array([0, 4]))
    with pytest.raises(ValueError, match="labels shape"):
        ops.take_labels(X, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        ops.take_labels(X, np.array([0.0, 1.0]))
    jax = pytest.importorskip("jax")
    out = jax.jit(ops.take_labels)(jax.numpy.asarray(X), jax.numpy.asarray([4, 1]))
    assert np.isnan(out[0]) and float(out[1]) == 0.25  # no check under jit: NaN in its row


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="x must have a real floating dtype"):
        ops.softplus(np.array([1, 2]))
    with pytest.raises(ValueError, match="tie must be"):
        ops.relu(X, tie=0.3)
    with pytest.raises(ValueError, match="delta must be positive"):
        ops.huber(X, delta=0.0)
    with pytest.raises(ValueError, match="gamma must be"):
        ops.focal_power(P, gamma=-1.0)
    with pytest.raises(ValueError, match="ord must be"):
        ops.vector_norm(X, ord=-1)
    with pytest.raises(ValueError, match="where shape"):
        ops.masked_sum(X, where=np.ones((3, 4), dtype=bool))
    with pytest.raises(TypeError, match="where must be a boolean"):
        ops.logsumexp(X, where=np.ones((2, 4)))
    with pytest.raises(ValueError, match="out of range"):
        ops.softmax(X, axis=2)


def test_inputs_are_not_mutated():
    x = X.copy()
    for f in (ops.relu, ops.softmax, ops.sparsemax, ops.log_cosh, ops.sigmoid):
        f(x)
    assert np.array_equal(x, X)


def test_gradients_at_the_edges_torch():
    """Derivatives where a naive formula gives NaN, and the kink conventions."""
    if backend_named("torch") is None:
        pytest.skip("torch is not installed")
    import torch

    def grad(f, *vals):
        ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in vals]
        f(*ts).sum().backward()
        return [t.grad.numpy() for t in ts]

    # relu: the chosen derivative at 0
    for tie in (0.0, 0.5, 1.0):
        assert grad(lambda x, tie=tie: ops.relu(x, tie=tie), [0.0])[0][0] == tie
    # focal power at p = 1: 0 for γ = 2, -1 for γ = 1, 0 (not NaN) for γ = 0.5
    for g, want in ((2.0, 0.0), (1.0, -1.0), (0.5, 0.0), (0.0, 0.0)):
        assert grad(lambda p, g=g: ops.focal_power(p, gamma=g), [1.0])[0][0] == want
    # vector norm of a zero vector, xlogy at x = 0, logaddexp at (-inf, -inf), empty mean
    assert np.array_equal(grad(lambda x: ops.vector_norm(x), [0.0, 0.0])[0], [0.0, 0.0])
    gx, gy = grad(ops.xlogy, [0.0, 0.0], [2.0, 0.0])
    assert np.allclose(gx, [math.log(2.0), 0.0]) and np.array_equal(gy, [0.0, 0.0])
    ga, gb = grad(ops.logaddexp, [-np.inf, -np.inf], [-np.inf, 1.0])
    assert np.array_equal(ga, [0.5, 0.0]) and np.array_equal(gb, [0.5, 1.0])
    (gm,) = grad(lambda x: ops.masked_mean(x, where=x > 5.0, axis=-1), [[1.0, 2.0]])
    assert np.array_equal(gm, [[0.0, 0.0]])
    (gl,) = grad(ops.safe_log, [0.0, 2.0])
    assert np.array_equal(gl, [0.0, 0.5])


def test_generic_body_equals_fast_paths_torch():
    if backend_named("torch") is None:
        pytest.skip("torch is not installed")
    import torch

    import xlosses

    x = torch.tensor(X)
    fast = [ops.logsumexp(x, axis=-1), ops.log_softmax(x), ops.vector_norm(x, axis=-1)]
    with xlosses.generic_only():
        slow = [ops.logsumexp(x, axis=-1), ops.log_softmax(x), ops.vector_norm(x, axis=-1)]
    for a, b in zip(fast, slow, strict=True):
        assert_close(a.numpy(), b.numpy(), 1e-14)
