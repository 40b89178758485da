"""The core losses whose peer is ``keras.losses`` (issue #22), against Keras 3 itself.

Keras fixes its backend at first import: this module uses Keras on JAX (as the
conformance entries of ``xlosses.keras`` and tests/test_docs.py do in-process)
with 64-bit JAX, and skips where another backend was fixed first.  Values and
``jax.grad`` gradients of each Keras function (float64) against the xlosses core
on JAX arrays, at inputs where Keras' probability clipping (``[1e-7, 1 - 1e-7]``)
is inactive, all in one ``jax.jit`` program.  Per-sample Keras values are the
xlosses terms averaged over the last axis where xlosses returns element-wise
terms (MAPE, MSLE), and the batch mean for ``LogitsDistillation`` (a scalar).
Every option is swept against Keras by the conformance entries.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import xlosses

jax = pytest.importorskip("jax")
os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("Keras runs on another backend in this process", allow_module_level=True)


def test_against_keras_values_and_gradients():
    import jax.numpy as jnp
    from keras.distillation import LogitsDistillation

    jax.config.update("jax_enable_x64", True)
    K = keras.losses
    rng = np.random.default_rng(0)
    n, c = 6, 5
    x = jnp.asarray(rng.normal(size=(n, c)) * 1.5)  # probabilities far from the clip
    t = jnp.asarray(rng.normal(size=(n, c)) * 1.5)
    labels = jnp.asarray(rng.integers(0, c, n))
    onehot = jnp.asarray(np.eye(c)[np.asarray(labels)])
    soft = jnp.asarray(rng.dirichlet(np.ones(c), n))
    bits = jnp.asarray((rng.random((n, c)) < 0.5).astype(float))
    pos = jnp.asarray(rng.random((n, c)) + 0.1)
    alpha = [0.1, 0.2, 0.3, 0.4, 0.5]
    # loss="kl_divergence" (its default) resolves to the function, not the class, so Keras
    # 3.15 skips its own softmax and T² branch: the KLDivergence instance is the documented way
    distill = LogitsDistillation(temperature=3.0, loss=K.KLDivergence())
    cases = {  # name: (xlosses, keras), functions of the scores/logits/predictions x
        "softmax_focal_loss": (
            lambda x: xlosses.softmax_focal_loss(x, soft, alpha=0.25, gamma=0.5),
            lambda x: K.categorical_focal_crossentropy(
                soft, x, alpha=0.25, gamma=0.5, from_logits=True
            ),
        ),
        "softmax_focal_loss[per-class alpha]": (
            lambda x: xlosses.softmax_focal_loss(x, onehot, alpha=alpha),
            lambda x: K.categorical_focal_crossentropy(
                onehot, x, alpha=jnp.asarray(alpha), from_logits=True
            ),
        ),
        "generalized_cross_entropy": (
            lambda x: xlosses.generalized_cross_entropy(x, labels, 0.7),
            lambda x: K.categorical_generalized_cross_entropy(labels, jax.nn.softmax(x), 0.7),
        ),
        "squared_hinge_loss": (
            lambda x: xlosses.squared_hinge_loss(x, bits),
            lambda x: K.squared_hinge(bits, x),
        ),
        "categorical_hinge_loss": (
            lambda x: xlosses.categorical_hinge_loss(x, onehot),
            lambda x: K.categorical_hinge(onehot, x),
        ),
        "absolute_percentage_error": (
            lambda x: xlosses.absolute_percentage_error(x, t).mean(-1),
            lambda x: K.mean_absolute_percentage_error(t, x),
        ),
        "squared_logarithmic_error": (
            lambda x: xlosses.squared_logarithmic_error(x, pos).mean(-1),
            lambda x: K.mean_squared_logarithmic_error(pos, x),
        ),
        "distillation_loss": (
            lambda x: xlosses.distillation_loss(x, t, 3.0).mean(),
            lambda x: distill.compute_loss(t, x),
        ),
    }

    def outputs(x):
        return {
            name: [(f(x), jax.grad(lambda z, f=f: jnp.sum(f(z)))(x)) for f in pair]
            for name, pair in cases.items()
        }

    got = jax.jit(outputs)(x)
    # Keras' float32: its epsilon (a float32 1e-7, in MAPE and MSLE), the ops.cond of its
    # {0, 1} → ±1 label mapping (squared hinge) and the KLDivergence instance (a Loss, which
    # computes in floatx) round at ~1e-7
    loose = {
        "squared_hinge_loss",
        "absolute_percentage_error",
        "squared_logarithmic_error",
        "distillation_loss",
    }
    for name, ((a, ga), (b, gb)) in got.items():
        for what, u, v in (("value", a, b), ("gradient", ga, gb)):
            u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
            assert u.shape == v.shape, (name, what, u.shape, v.shape)
            err = np.max(np.abs(u - v) / (1 + np.abs(v)))
            assert err < (1e-6 if name in loose else 1e-12), (name, what, err)
