"""xlosses.keras on Keras 3's JAX and torch backends.

Keras fixes its backend when it is first imported, so each backend runs in its
own interpreter (``KERAS_BACKEND=jax`` / ``torch``) with the checks below:
values against the core functions and float64 formulas written here (sparse
and one-hot labels, every Keras reduction, ``sample_weight``), serialization,
and a short training run of a linear model on an imbalanced synthetic problem
whose loss must decrease.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

if importlib.util.find_spec("keras") is None:  # not imported here: it would fix the backend
    pytest.skip("keras not installed", allow_module_level=True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECKS = textwrap.dedent(
    """
    import numpy as np, keras
    import xlosses
    from xlosses.keras import Poly1CrossEntropy, Poly1Focal

    assert keras.backend.backend() == BACKEND, keras.backend.backend()
    rng = np.random.default_rng(0)
    N, C = 8, 4
    x = rng.normal(size=(N, C)) * 2
    y = rng.integers(0, C, N)
    onehot = np.eye(C)[y]

    # float64 formulas, independent of xlosses
    logp = x - x.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    pt = np.exp(logp[np.arange(N), y])
    poly_ce = -np.log(pt) + 1.5 * (1 - pt)
    s = 1 / (1 + np.exp(-x))
    q = onehot * s + (1 - onehot) * (1 - s)
    bce = -np.log(q)
    a_t = 0.25 * onehot + 0.75 * (1 - onehot)
    poly_focal = (a_t * (1 - q) ** 2 * bce + 1.0 * (1 - q) ** 3).mean(-1)

    def npy(t):
        return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)

    f32 = dict(rtol=2e-5, atol=1e-6)
    ce = Poly1CrossEntropy(epsilon=1.5)
    np.testing.assert_allclose(npy(ce(y, x)), poly_ce.mean(), **f32)
    np.testing.assert_allclose(npy(ce(y[:, None], x)), poly_ce.mean(), **f32)
    np.testing.assert_allclose(npy(ce(onehot, x)), poly_ce.mean(), **f32)
    np.testing.assert_allclose(npy(Poly1CrossEntropy(1.5, reduction="sum")(y, x)), poly_ce.sum(), **f32)
    np.testing.assert_allclose(npy(Poly1CrossEntropy(1.5, reduction=None)(y, x)), poly_ce, **f32)
    w = rng.random(N)
    np.testing.assert_allclose(npy(ce(y, x, sample_weight=w)), (w * poly_ce).mean(), **f32)
    # the same numbers as a direct call of the core function on the backend's tensors
    xt, yt = keras.ops.convert_to_tensor(x, "float32"), keras.ops.convert_to_tensor(y, "int32")
    core = xlosses.poly_loss_cross_entropy(xt, yt, epsilon=1.5)
    np.testing.assert_allclose(npy(ce.call(yt, xt)), npy(core), rtol=0, atol=0)

    focal = Poly1Focal(gamma=2.0, epsilon=1.0, alpha=0.25)
    np.testing.assert_allclose(npy(focal(y, x)), poly_focal.mean(), **f32)
    np.testing.assert_allclose(npy(focal(onehot, x)), poly_focal.mean(), **f32)
    np.testing.assert_allclose(npy(Poly1Focal(reduction=None)(y, x)), poly_focal, **f32)
    core = xlosses.poly_loss_sigmoid_focal(xt, keras.ops.one_hot(yt, C), epsilon=1.0)
    np.testing.assert_allclose(npy(focal.call(yt, xt)), npy(core).mean(-1), rtol=1e-7, atol=0)

    # serialization round trip
    for loss in (Poly1CrossEntropy(epsilon=-1.0), Poly1Focal(gamma=0.5, epsilon=2.0, alpha=None)):
        again = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(again) is type(loss) and again.get_config() == loss.get_config()

    # the drop-ins: every class and function of keras.losses against Keras itself, one small
    # input each (float32), per sample and with sample weights under every reduction
    import xlosses.keras as xk
    N4, C4 = 4, 3
    lg = rng.normal(size=(N4, C4)).astype("float32") * 2
    pr = np.exp(lg) / np.exp(lg).sum(-1, keepdims=True)
    lab = rng.integers(0, C4, N4)
    oh = np.eye(C4, dtype="float32")[lab]
    bn = (rng.random((N4, C4)) < 0.5).astype("float32")
    sg = 1 / (1 + np.exp(-lg))
    rt, rp = (rng.random((2, N4, C4)) + 0.2).astype("float32")
    seq = np.array([[1, 2, 0], [2, 2, 1], [1, 0, 0], [2, 1, 2]])
    sx = rng.normal(size=(N4, 6, C4)).astype("float32")
    em = rng.normal(size=(N4, 3)).astype("float32")
    em /= np.linalg.norm(em, axis=-1, keepdims=True)  # Keras' circle expects unit vectors
    DROP_INS = [  # (function, class, y_true, y_pred, options)
        ("mean_squared_error", "MeanSquaredError", rt, rp, {}),
        ("mean_absolute_error", "MeanAbsoluteError", rt, rp, {}),
        ("mean_absolute_percentage_error", "MeanAbsolutePercentageError", rt, rp, {}),
        ("mean_squared_logarithmic_error", "MeanSquaredLogarithmicError", rt, rp, {}),
        ("poisson", "Poisson", rt, rp, {}),
        ("cosine_similarity", "CosineSimilarity", rt, lg, {"axis": 0}),
        ("huber", "Huber", rt, lg, {"delta": 0.7}),
        ("log_cosh", "LogCosh", rt, lg, {}),
        ("kl_divergence", "KLDivergence", pr[::-1].copy(), pr, {}),
        ("hinge", "Hinge", bn, lg, {}),
        ("squared_hinge", "SquaredHinge", bn, lg, {}),
        ("categorical_hinge", "CategoricalHinge", oh, lg, {}),
        ("binary_crossentropy", "BinaryCrossentropy", bn, sg, {"label_smoothing": 0.1}),
        ("binary_crossentropy", "BinaryCrossentropy", bn, lg, {"from_logits": True}),
        ("binary_focal_crossentropy", "BinaryFocalCrossentropy", bn, sg,
         {"apply_class_balancing": True, "gamma": 1.5}),
        ("binary_focal_crossentropy", "BinaryFocalCrossentropy", bn, lg,
         {"from_logits": True, "label_smoothing": 0.1}),
        ("categorical_crossentropy", "CategoricalCrossentropy", oh, pr, {"label_smoothing": 0.1}),
        ("categorical_crossentropy", "CategoricalCrossentropy", oh, lg, {"from_logits": True}),
        ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", lab, pr, {}),
        ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", lab, lg,
         {"from_logits": True, "ignore_class": 1}),
        ("categorical_focal_crossentropy", "CategoricalFocalCrossentropy", oh, pr, {}),
        ("categorical_focal_crossentropy", "CategoricalFocalCrossentropy", oh, lg,
         {"from_logits": True, "alpha": 0.5, "gamma": 1.0}),
        ("categorical_generalized_cross_entropy", "CategoricalGeneralizedCrossEntropy", lab, pr,
         {"q": 0.7}),
        ("ctc", "CTC", seq, sx, {}),
        ("dice", "Dice", bn, sg, {}),
        ("dice", "Dice", bn, sg, {"axis": 1}),
        ("tversky", "Tversky", bn, sg, {"alpha": 0.3, "beta": 0.7}),
        ("circle", "Circle", np.array([0, 0, 1, 2]), em, {"gamma": 16.0, "margin": 0.3}),
    ]
    covered = {f for f, *_ in DROP_INS} | {c for _, c, *_ in DROP_INS}
    assert covered | {"Loss"} == {n for n in xk.__all__ if not n.startswith("Poly1")}, covered
    drop = dict(rtol=2e-5, atol=2e-6)
    _SUM = "sum_over_batch_size"
    sw = rng.random(N4).astype("float32")
    for fname, cname, t, p, kw in DROP_INS:
        what = f"{fname} {kw}"
        t, p = keras.ops.convert_to_tensor(t), keras.ops.convert_to_tensor(p)  # Keras' GCE on torch
        want = npy(getattr(keras.losses, fname)(t, p, **kw))
        np.testing.assert_allclose(npy(getattr(xk, fname)(t, p, **kw)), want, err_msg=what, **drop)
        # Keras applies the reductions (the same code on both backends): every one on torch;
        # on JAX, whose eager Keras ops compile one by one, the default (where masks act)
        for red in ("sum_over_batch_size", "sum", None) if BACKEND == "torch" else (_SUM,):
            ours, theirs = getattr(xk, cname)(reduction=red, **kw), getattr(keras.losses, cname)(reduction=red, **kw)
            w = sw if want.shape == (N4,) else None
            np.testing.assert_allclose(npy(ours(t, p, sample_weight=w)), npy(theirs(t, p, sample_weight=w)),
                                       err_msg=f"{cname} {red} {kw}", **drop)
        loss = getattr(xk, cname)(**kw)
        assert loss.name == getattr(keras.losses, cname)(**kw).name
        again = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(again) is type(loss) and again.get_config() == loss.get_config(), cname
    # the generic wrapper: any xlosses loss, predictions first, per example, serializable
    generic = xk.Loss(xlosses.sigmoid_focal_loss, gamma=1.0, reduction="sum")
    np.testing.assert_allclose(npy(generic(bn, lg)), npy(xlosses.sigmoid_focal_loss(lg, bn, gamma=1.0)).sum(), **drop)
    again = keras.losses.deserialize(keras.losses.serialize(generic))
    assert again.fn is xlosses.sigmoid_focal_loss and again.kwargs == {"gamma": 1.0}
    np.testing.assert_allclose(npy(again(bn, lg)), npy(generic(bn, lg)), rtol=0, atol=0)
    # exact where Keras clips: a confident right answer costs 0 here, ~1e-7·16 in Keras
    one = np.array([[1.0, 0.0]], "float32")
    assert npy(xk.categorical_crossentropy(one, one))[0] == 0.0
    assert np.isinf(npy(xk.binary_crossentropy(one, one[:, ::-1].copy())))[0]

    # training: a linear model on an imbalanced problem (about 70/20/10 %)
    keras.utils.set_random_seed(0)
    X = rng.normal(size=(600, 6)).astype("float32")
    logits = X @ rng.normal(size=(6, 3)) + np.array([2.0, 0.5, -0.5])
    Y = logits.argmax(-1)
    counts = np.bincount(Y, minlength=3)
    assert counts.max() > 3 * counts.min(), counts
    # one Poly-1 adapter and two drop-ins, sparse and one-hot (the values of every class are
    # checked above; each fit compiles a training step): all three on torch, the adapter on JAX
    fits = [(Poly1CrossEntropy(epsilon=1.0), Y), (xk.SparseCategoricalCrossentropy(from_logits=True), Y),
            (xk.CategoricalFocalCrossentropy(from_logits=True, alpha=1.0), np.eye(3)[Y])]
    for loss, target in fits if BACKEND == "torch" else fits[:1]:
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss)
        hist = model.fit(X, target, epochs=8, batch_size=100, verbose=0).history["loss"]
        assert hist[-1] < 0.6 * hist[0], (loss.name, hist)
        acc = (model.predict(X, verbose=0).argmax(-1) == Y).mean()
        assert acc > 0.8, (loss.name, acc)
    print("KERAS CHECKS PASSED")
    """
)


# the JAX interpreter runs with --sweeps (35 s, the test budget): the default run checks Keras
# on JAX in process (tests/test_keras_peers.py, the quick conformance's keras.* entries)
@pytest.mark.parametrize("keras_backend", [pytest.param("jax", marks=pytest.mark.sweep), "torch"])
def test_keras_backend(keras_backend):
    if importlib.util.find_spec(keras_backend) is None:
        pytest.skip(f"{keras_backend} not installed")
    env = {**os.environ, "KERAS_BACKEND": keras_backend, "PYTHONPATH": ROOT}
    code = f"BACKEND = {keras_backend!r}\n{CHECKS}"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
    )
    assert out.returncode == 0 and "KERAS CHECKS PASSED" in out.stdout, out.stderr[-4000:]


def test_import_without_a_supported_backend_says_what_to_do(tmp_path):
    """Keras' default backend is TensorFlow (not installed here, and its tensors are not array
    API arrays): the ImportError names the backends that work and how to choose one."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update({"PYTHONPATH": ROOT, "KERAS_HOME": str(tmp_path)})
    out = subprocess.run(
        [sys.executable, "-c", "import xlosses.keras"], env=env, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert "ImportError" in out.stderr and "KERAS_BACKEND=jax" in out.stderr, out.stderr
    assert "ModuleNotFoundError" not in out.stderr.strip().splitlines()[-1]
