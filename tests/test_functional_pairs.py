"""xlosses.functional's margin, embedding, ranking, triplet and CTC losses.

The generic checks (values and input gradients against torch.nn.functional on
every backend, signatures) are in ``tests/test_functional.py`` and take their
inputs from ``conformance/entries/functional_pairs.py``.  Here: numbers derived
by hand from torch's documented rules (the reductions above all), the errors,
compilation and 16-bit inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_close, raises_if_checked
from test_functional import SPECS, _on, _torch_ref

import xlosses
import xlosses.functional as F
from conformance.checks import _round_to

# JAX and Dask cases with --sweeps (tests/conftest.py: FAMILY_SWEEP_BACKENDS)
pytestmark = pytest.mark.backend_sweep

torch = pytest.importorskip("torch")

NAMES = [
    "cosine_embedding_loss",
    "ctc_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]


def _a(backend, x, dtype="float64"):
    x = np.asarray(x)
    return backend.asarray(x, dtype if x.dtype.kind == "f" else None)


def _v(backend, out):
    return backend.to_numpy(out)


def _runs(backend, name):
    spec = SPECS[f"functional.{name}"]
    if spec.backends is not None and backend.name not in spec.backends:
        pytest.skip(f"{name} does not run on {backend.name} yet (a known gap)")


# -- hand-derived numbers -------------------------------------------------------------------


def test_margin_ranking_and_hinge_embedding_by_hand(backend):
    a, v = (lambda x: _a(backend, x)), (lambda o: _v(backend, o))
    # max(0, -y (x1 - x2) + margin): y = 1 with x1 - x2 = 1 is satisfied, the others are not
    x1, x2 = a([2.0, 0.0, 2.0]), a([1.0, 1.0, 1.0])
    y = a([1.0, 1.0, -1.0])
    got = F.margin_ranking_loss(x1, x2, y, margin=0.5, reduction="none")
    np.testing.assert_allclose(v(got), [0.0, 1.5, 1.5], rtol=1e-12)
    np.testing.assert_allclose(v(F.margin_ranking_loss(x1, x2, y, margin=0.5)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(v(F.margin_ranking_loss(x1, x2, y, reduction="sum")), 2.0)
    # x for y = 1, max(0, margin - x) for y = -1; 'mean' over every element of [2, 2]
    d = a([[0.2, 0.2], [1.4, 3.0]])
    y = a([[1.0, -1.0], [-1.0, 1.0]])
    got = F.hinge_embedding_loss(d, y, margin=2.0, reduction="none")
    np.testing.assert_allclose(v(got), [[0.2, 1.8], [0.6, 3.0]], rtol=1e-12)
    np.testing.assert_allclose(v(F.hinge_embedding_loss(d, y, margin=2.0)), 5.6 / 4, rtol=1e-12)
    # the default margin 1 and a target broadcast along the last axis
    got = F.hinge_embedding_loss(d, a([1.0, -1.0]), reduction="sum")
    np.testing.assert_allclose(v(got), 0.2 + 0.8 + 1.4 + 0.0, rtol=1e-12)


def test_cosine_embedding_and_triplets_by_hand(backend):
    a, v = (lambda x: _a(backend, x)), (lambda o: _v(backend, o))
    # orthogonal pairs: cos = 0, so 1 - cos = 1 (y = 1) and max(0, 0 - margin) (y = -1)
    x1, x2 = a([[1.0, 0.0], [1.0, 0.0]]), a([[0.0, 2.0], [0.0, 2.0]])
    got = F.cosine_embedding_loss(x1, x2, a([1.0, -1.0]), margin=-0.5, reduction="none")
    np.testing.assert_allclose(v(got), [1.0, 0.5], rtol=1e-12)
    # one example [D] with a 0-d target
    got = F.cosine_embedding_loss(a([3.0, 4.0]), a([3.0, 4.0]), a(-1.0))
    np.testing.assert_allclose(v(got), 1.0, rtol=1e-12)
    # L1 distances 1 (positive), 3 (negative) and 2 (positive to negative)
    anc, pos, neg = a([[0.0, 0.0]]), a([[1.0, 0.0]]), a([[0.0, 3.0]])
    got = F.triplet_margin_loss(anc, pos, neg, margin=3.0, p=1, eps=0.0, reduction="none")
    np.testing.assert_allclose(v(got), [1.0], rtol=1e-12)
    got = F.triplet_margin_loss(anc, pos, neg, margin=3.0, p=1, eps=0.0, swap=True)
    np.testing.assert_allclose(v(got), 1.0 - 3.0 + 3.0, rtol=1e-12)  # min(3, |(1,0)-(0,3)|_1 = 4)
    # a user distance: squared Euclidean, 1 and 9
    got = F.triplet_margin_with_distance_loss(
        anc,
        pos,
        neg,
        distance_function=lambda x, y: xlosses.pairwise_distance(x, y, eps=0.0) ** 2,
        margin=10.0,
    )
    np.testing.assert_allclose(v(got), 1.0 - 9.0 + 10.0, rtol=1e-12)


def test_multi_margin_weight_scales_examples_not_the_mean(backend):
    a, v = (lambda x: _a(backend, x)), (lambda o: _v(backend, o))
    x = a([[1.0, 0.0, 0.5], [0.0, 0.0, 0.0]])
    y = a(np.array([0, 1]))
    w = a([3.0, 1.0, 1.0])
    # row 0: hinge terms max(0, 1 - 1 + 0) = 0 and 1 - 1 + 0.5 = 0.5, over C = 3, times w_0 = 3
    # row 1: 1 and 1 over 3, times w_1 = 1
    want = np.array([0.5 / 3 * 3, 2 / 3])
    got = F.multi_margin_loss(x, y, weight=w, reduction="none")
    np.testing.assert_allclose(v(got), want, rtol=1e-12)
    # 'mean' is the plain mean over the examples, not sum(loss) / sum(w_y)
    np.testing.assert_allclose(v(F.multi_margin_loss(x, y, weight=w)), want.mean(), rtol=1e-12)
    got = F.multi_margin_loss(x, y, p=2, margin=2.0, weight=w, reduction="sum")
    np.testing.assert_allclose(v(got), 3 * (1.0 + 2.25) / 3 + (4 + 4) / 3, rtol=1e-12)
    # one example [C] with a target of shape [] or [1] (torch keeps the [1])
    got = F.multi_margin_loss(x[0, ...], y[0], weight=w, reduction="none")
    assert got.shape == () and np.allclose(v(got), 0.5)
    assert F.multi_margin_loss(x[0, ...], y[:1], weight=w, reduction="none").shape == (1,)


def test_multilabel_margin_by_hand(backend):
    a, v = (lambda x: _a(backend, x)), (lambda o: _v(backend, o))
    x = a([[0.0, 1.0, 0.5], [0.0, 0.0, 0.0]])
    # row 0 lists class 1 (then -1 ends the list, the 0 after it is ignored):
    # (max(0, 1 - 1 + 0) + max(0, 1 - 1 + 0.5)) / 3; row 1 lists nothing: 0
    t = a(np.array([[1, -1, 0], [-1, 1, 2]]))
    got = F.multilabel_margin_loss(x, t, reduction="none")
    np.testing.assert_allclose(v(got), [0.5 / 3, 0.0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(v(F.multilabel_margin_loss(x, t)), 0.25 / 3, rtol=1e-12)


def test_ctc_mean_divides_by_target_lengths(backend):
    """Uniform p = 1/2 over {blank, 1} on 3 frames: every path has probability 1/8.

    Target "1" is read from 6 paths (1__, _1_, __1, 11_, _11, 111): -log(6/8);
    "1 1" only from 1_1: log 8; the empty target only from ___: log 8.  'mean'
    divides by the target lengths 1, 2 and max(0, 1) = 1, then averages.
    """
    _runs(backend, "ctc_loss")
    log_probs = _a(backend, np.full((3, 3, 2), math.log(0.5)))
    lengths = _a(backend, np.array([3, 3, 3]))
    target_lengths = _a(backend, np.array([1, 2, 0]))
    per_example = [math.log(8 / 6), math.log(8), math.log(8)]
    mean = (per_example[0] / 1 + per_example[1] / 2 + per_example[2] / 1) / 3
    padded = _a(backend, np.array([[1, 1], [1, 1], [1, 1]]))
    for reduction, want in (("none", per_example), ("sum", sum(per_example)), ("mean", mean)):
        got = F.ctc_loss(log_probs, padded, lengths, target_lengths, reduction=reduction)
        np.testing.assert_allclose(_v(backend, got), want, rtol=1e-12, err_msg=reduction)
    # concatenated targets with the lengths as Python sequences; unbatched [T, C]
    got = F.ctc_loss(log_probs, _a(backend, np.array([1, 1, 1])), (3, 3, 3), (1, 2, 0))
    np.testing.assert_allclose(_v(backend, got), mean, rtol=1e-12)
    got = F.ctc_loss(log_probs[:, 1, :], _a(backend, np.array([1, 1])), 3, 2)
    np.testing.assert_allclose(_v(backend, got), math.log(8) / 2, rtol=1e-12)
    # "1 1" in 2 frames is impossible: inf, or 0 with zero_infinity (also in the mean)
    short = _a(backend, np.array([2, 2, 2]))
    got = F.ctc_loss(log_probs, _a(backend, np.array([1, 1, 1])), short, target_lengths)
    assert _v(backend, got) == np.inf
    got = F.ctc_loss(
        log_probs, _a(backend, np.array([1, 1, 1])), short, target_lengths, zero_infinity=True
    )
    np.testing.assert_allclose(_v(backend, got), (math.log(4 / 3) + 0.0 + math.log(4)) / 3)


# -- errors ---------------------------------------------------------------------------------


def _calls(backend):
    """One otherwise valid call per name, as a function of ``reduction``."""
    x = _a(backend, np.zeros((2, 3)), "float32")
    y = _a(backend, np.ones(2), "float32")
    labels = _a(backend, np.array([0, 1]))
    multi = _a(backend, np.array([[0, -1, 0], [2, 1, -1]]))
    log_probs = _a(backend, np.full((3, 2, 2), math.log(0.5)), "float32")
    ctc_targets = _a(backend, np.array([[1], [1]]))
    ones = _a(backend, np.array([1, 1]))
    return {
        "cosine_embedding_loss": lambda r: F.cosine_embedding_loss(x, x, y, reduction=r),
        "ctc_loss": lambda r: F.ctc_loss(log_probs, ctc_targets, ones, ones, reduction=r),
        "hinge_embedding_loss": lambda r: F.hinge_embedding_loss(x, x, reduction=r),
        "margin_ranking_loss": lambda r: F.margin_ranking_loss(y, y, y, reduction=r),
        "multi_margin_loss": lambda r: F.multi_margin_loss(x, labels, reduction=r),
        "multilabel_margin_loss": lambda r: F.multilabel_margin_loss(x, multi, reduction=r),
        "triplet_margin_loss": lambda r: F.triplet_margin_loss(x, x, x, reduction=r),
        "triplet_margin_with_distance_loss": lambda r: F.triplet_margin_with_distance_loss(
            x, x, x, reduction=r
        ),
    }


def test_unknown_reduction_lists_the_valid_ones(backend):
    calls = _calls(backend)
    assert sorted(calls) == NAMES
    for call in calls.values():
        with pytest.raises(
            ValueError, match=r"reduction must be one of 'none', 'mean', 'sum'; got 'avg'"
        ):
            call("avg")


def test_bad_shapes_and_dtypes(backend):
    f32 = "float32"
    x2 = _a(backend, np.zeros((2, 3)), f32)
    x1 = _a(backend, np.zeros(3), f32)
    x3 = _a(backend, np.zeros((2, 3, 4)), f32)
    i2 = _a(backend, np.zeros((2, 3), dtype=np.int64))
    y2 = _a(backend, np.ones(2), f32)
    labels = _a(backend, np.array([0, 1]))
    same_ndim = "all must have the same number of dimensions"

    with pytest.raises(
        ValueError, match=rf"input1 shape \(2, 3\), input2 shape \(3,\): {same_ndim}"
    ):
        F.cosine_embedding_loss(x2, x1, y2)
    with pytest.raises(ValueError, match=r"target \[N\].*target shape \(2, 1\)"):
        F.cosine_embedding_loss(x2, x2, _a(backend, np.ones((2, 1)), f32))
    with pytest.raises(ValueError, match=r"target shape \(3,\) do not broadcast"):
        F.cosine_embedding_loss(x2, x2, _a(backend, np.ones(3), f32))
    with pytest.raises(TypeError, match="input1 must have a real floating dtype"):
        F.cosine_embedding_loss(i2, x2, y2)
    with pytest.raises(ValueError, match=r"input shape \(2, 3\) and target shape \(2,\) do not"):
        F.hinge_embedding_loss(x2, y2)
    with pytest.raises(ValueError, match=rf"input1 shape \(2,\), input2 shape \(\), .*{same_ndim}"):
        F.margin_ranking_loss(y2, _a(backend, np.array(1.0), f32), y2)
    with pytest.raises(TypeError, match="input2 must have a real floating dtype"):
        F.margin_ranking_loss(x2, i2, x2)
    with pytest.raises(
        ValueError, match=r"input must have shape \[C\] or \[N, C\], got shape \(2, 3, 4\)"
    ):
        F.multi_margin_loss(x3, i2)
    with pytest.raises(
        ValueError, match=r"target shape \(3,\) must be \(2,\) for input shape \(2, 3\)"
    ):
        F.multi_margin_loss(x2, _a(backend, np.array([0, 1, 2])))
    with pytest.raises(TypeError, match="target must have an integer dtype"):
        F.multi_margin_loss(x2, y2)
    with pytest.raises(ValueError, match=r"weight shape \(2,\) must be \(3,\)"):
        F.multi_margin_loss(x2, labels, weight=y2)
    with pytest.raises(ValueError, match="p must be one of 1, 2; got 3"):
        F.multi_margin_loss(x2, labels, p=3)
    with raises_if_checked(backend, ValueError, match=r"must lie in \[0, 3\)"):
        F.multi_margin_loss(x2, _a(backend, np.array([0, 3])))
    with pytest.raises(
        ValueError, match=r"shapes must be equal: input shape \(2, 3\), target shape \(2,\)"
    ):
        F.multilabel_margin_loss(x2, labels)
    with pytest.raises(ValueError, match=r"input must have shape \[C\] or \[N, C\]"):
        F.multilabel_margin_loss(x3, _a(backend, np.zeros((2, 3, 4), dtype=np.int64)))
    with pytest.raises(ValueError, match="margin must be greater than 0, got 0"):
        F.triplet_margin_loss(x2, x2, x2, margin=0)
    with pytest.raises(ValueError, match=r"margin must be greater than 0, got -1\.0"):
        F.triplet_margin_with_distance_loss(x2, x2, x2, margin=-1.0)
    with pytest.raises(ValueError, match=rf"negative shape \(3,\): {same_ndim}"):
        F.triplet_margin_loss(x2, x2, x1)
    with pytest.raises(ValueError, match=r"positive shape \(4, 3\) .* do not broadcast"):
        F.triplet_margin_with_distance_loss(x2, _a(backend, np.zeros((4, 3)), f32), x2)
    with pytest.raises(TypeError, match="positive must have a real floating dtype"):
        F.triplet_margin_loss(x2, i2, x2)

    log_probs = _a(backend, np.full((3, 2, 2), math.log(0.5)), f32)
    targets, ones = _a(backend, np.array([[1], [1]])), _a(backend, np.array([1, 1]))
    with pytest.raises(TypeError, match="log_probs must have a real floating dtype"):
        F.ctc_loss(_a(backend, np.zeros((3, 2, 2), dtype=np.int64)), targets, ones, ones)
    with pytest.raises(TypeError, match="targets must have an integer dtype"):
        F.ctc_loss(log_probs, _a(backend, np.ones((2, 1)), f32), ones, ones)
    with pytest.raises(ValueError, match=r"input_lengths shape \(3,\) must be \(2,\)"):
        F.ctc_loss(log_probs, targets, _a(backend, np.array([1, 1, 1])), ones)
    if backend.name != "dask":  # CTC does not run on Dask yet; value checks never do
        with raises_if_checked(backend, ValueError, match=r"input_lengths must lie in \[0, 3\]"):
            F.ctc_loss(log_probs, targets, _a(backend, np.array([1, 4])), ones)


# -- compilation ----------------------------------------------------------------------------

COMPILED = [
    ("cosine_embedding_loss", {"margin": 0.3}),
    ("hinge_embedding_loss", {"margin": 0.5, "reduction": "none"}),
    ("margin_ranking_loss", {"margin": 0.5}),
    ("multi_margin_loss", {"weight": True, "p": 2, "reduction": "none"}),
    ("multilabel_margin_loss", {}),
    ("triplet_margin_loss", {"swap": True}),
    ("triplet_margin_with_distance_loss", {"distance": "cosine", "swap": True}),
    ("ctc_loss", {"concat": True}),
]


@pytest.mark.parametrize("name,variant", COMPILED, ids=[n for n, _ in COMPILED])
def test_compiled_equals_torch(backend, name, variant):
    """``jax.jit`` / ``torch.compile(fullgraph=True)`` of one representative call of each loss."""
    if not backend.differentiable:
        pytest.skip("no compiler")
    spec = SPECS[f"functional.{name}"]
    raw = _round_to(spec.make(np.random.default_rng(3), (3,), dict(variant)), "float32")
    args, kwargs = _on(backend, raw, "float32")
    arrays = {k: v for k, v in kwargs.items() if hasattr(v, "shape")}
    static = {k: v for k, v in kwargs.items() if k not in arrays}
    n = len(args)

    def call(*a):
        return spec.fn(*a[:n], **dict(zip(arrays, a[n:], strict=True)), **static)

    got = backend.compile(call)(*args, *arrays.values())
    assert_close(backend.to_numpy(got), _torch_ref(name, raw.args, raw.kwargs), 2e-4)


# -- 16-bit inputs --------------------------------------------------------------------------


def _float16_cases():
    """``(name, args, kwargs)`` whose float16 intermediates would overflow (> 65504)."""
    big = np.array([[300.0, 400.0], [-300.0, 400.0]])  # squared norms 250000
    zero = np.zeros((2, 2))
    # each hinge term 200² = 40000, three of them: 120000 before the division by C = 4
    scores = np.array([[0.0, 200.0, 200.0, 200.0]])
    # 4 frames of log-probability -2e4: about 8e4 per example, 4e4 per target label
    log_probs = np.full((4, 1, 2), -2.0e4)
    return [
        ("cosine_embedding_loss", [big, big[::-1], np.array([1.0, -1.0])], {}),
        ("triplet_margin_loss", [zero, big, 2 * big], {"margin": 10.0, "reduction": "none"}),
        ("multi_margin_loss", [scores, np.array([0])], {"p": 2, "margin": 0.0}),
        ("ctc_loss", [log_probs, np.array([[1, 1]]), np.array([4]), np.array([2])], {}),
    ]


@pytest.mark.parametrize("case", _float16_cases(), ids=lambda c: c[0])
def test_float16_computed_in_float32(backend, case):
    name, raw_args, raw_kwargs = case
    if "float16" not in backend.dtypes:
        pytest.skip("no float16")
    _runs(backend, name)
    want = _torch_ref(name, raw_args, raw_kwargs)
    assert np.all(np.isfinite(want)) and np.all(np.abs(want) < 6e4)
    args = [_a(backend, a, "float16") for a in raw_args]
    out = getattr(F, name)(*args, **raw_kwargs)
    assert backend.dtype_name(out) == "float16"
    np.testing.assert_allclose(backend.to_numpy(out), want, rtol=2e-3)
