"""xlosses.torch: the nn.Module adapters against the PolyLoss reference code, the core
functions, torch autograd, torch.compile(fullgraph=True), and a short training run each.

References are the float64 formulas of ``conformance/entries/adapters.py``, written
with torch.nn.functional as in the PolyLoss paper's reference code and torchvision.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_close

torch = pytest.importorskip("torch")

import xlosses
from conformance.checks import _round_to
from conformance.spec import all_specs
from xlosses.torch import Loss, Poly1CrossEntropyLoss, Poly1FocalLoss, SigmoidFocalLoss

TF = torch.nn.functional
SPECS = {n: s for n, s in all_specs().items() if n.startswith("torch.")}


def _t(a):
    return torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a


# -- values and gradients against the references ---------------------------------------------


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_and_gradients_match_reference(name, dtype):
    spec = SPECS[name]
    # torch's layout [N, C, d1, d2] for the class-axis modules (torch.Loss keeps classes last)
    # (LinearCrossEntropyLoss takes features [tokens, dim], torch's linear_cross_entropy's)
    own = ("torch.Loss", "torch.LinearCrossEntropyLoss")
    shapes = spec.batch_shapes if name in own else (*spec.batch_shapes, (2, 3, 2))
    for vi, variant in enumerate(spec.variants):
        for si, batch in enumerate(shapes):
            raw = _round_to(
                spec.make(np.random.default_rng([5, vi, si]), batch, dict(variant)), dtype
            )
            want = spec.oracle(raw.args, raw.kwargs)
            args = [
                _t(a).to(getattr(torch, dtype)) if a.dtype.kind == "f" else _t(a) for a in raw.args
            ]
            kw = {
                k: _t(v).to(getattr(torch, dtype)) if isinstance(v, np.ndarray) else v
                for k, v in raw.kwargs.items()
            }
            x = args[0].clone().requires_grad_(True)
            got = spec.fn(x, *args[1:], **kw)
            assert got.dtype == getattr(torch, dtype)
            assert_close(got.detach().numpy(), want, 2e-4 if dtype == "float32" else 1e-6), variant
            if dtype == "float64":
                (g,) = torch.autograd.grad(got.sum(), [x])
                x64 = torch.from_numpy(raw.args[0].copy()).requires_grad_(True)
                ref = _reference_torch(name, x64, raw)
                (g_ref,) = torch.autograd.grad(ref.sum(), [x64])
                np.testing.assert_allclose(
                    g.numpy(), g_ref.numpy(), rtol=1e-9, atol=1e-12, err_msg=str(variant)
                )


def _reference_torch(name, x, raw):
    """The reference formula as a differentiable torch expression of ``x``."""
    import conformance.entries.adapters as ad

    kw = {k: _t(v) for k, v in raw.kwargs.items()}
    rest = [_t(a) for a in raw.args[1:]]
    if name == "torch.Poly1CrossEntropyLoss":
        w = kw.get("weight")
        (labels,) = rest
        ce = TF.cross_entropy(x, labels, weight=w, reduction="none")
        pt = TF.softmax(x, dim=1).gather(1, labels.unsqueeze(1)).squeeze(1)
        wy = w[labels] if w is not None else torch.ones_like(pt)
        loss = ce + kw.get("epsilon", 1.0) * wy * (1 - pt)
        red = kw.get("reduction", "none")
        return loss if red == "none" else loss.sum() / (wy.sum() if red == "mean" else 1)
    red = {"none": lambda t: t, "sum": torch.sum, "mean": torch.mean}[kw.get("reduction", "none")]
    if name == "torch.Poly1FocalLoss":
        (labels,) = rest
        y = torch.movedim(TF.one_hot(labels, x.shape[1]), -1, 1).to(x.dtype)
        return red(ad._poly_focal_terms(x, y, kw))
    if name == "torch.SigmoidFocalLoss":
        return red(ad._poly_focal_terms(x, rest[0], {**kw, "epsilon": 0.0}))
    if name == "torch.LinearCrossEntropyLoss":
        kw = {k: v for k, v in kw.items() if k != "chunk_size"}
        return TF.linear_cross_entropy(x, rest[0], rest[1], **kw)
    return TF.cross_entropy(x, rest[0], reduction=kw.get("reduction", "mean"))


# -- the weighted Poly-1 cross-entropy ------------------------------------------------------


def test_poly1_ce_weighted_semantics():
    """epsilon=0 is torch's weighted CE for every reduction; epsilon=-1 removes the first
    polynomial term exactly, even with uneven class weights (hand-derived series)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (16,), generator=g)
    w = torch.tensor([0.2, 1.0, 5.0, 2.5], dtype=torch.float64)
    for red in ("none", "mean", "sum"):
        got = Poly1CrossEntropyLoss(4, epsilon=0.0, reduction=red, weight=w)(x, y)
        torch.testing.assert_close(got, TF.cross_entropy(x, y, weight=w, reduction=red))
    got = Poly1CrossEntropyLoss(4, epsilon=-1.0, weight=w)(x, y)
    pt = torch.softmax(x, 1)[torch.arange(16), y]
    assert pt.min() > 0.01  # the series below converges to 1e-20 within 5000 terms
    series = sum((1 - pt) ** j / j for j in range(2, 5000))  # -log p - (1 - p)
    torch.testing.assert_close(got, w[y] * series, rtol=1e-9, atol=1e-12)


def test_poly1_ce_ignores_minus_100_like_cross_entropy():
    x = torch.randn(4, 3, dtype=torch.float64)
    y = torch.tensor([0, -100, 2, 1])
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    got = Poly1CrossEntropyLoss(3, epsilon=0.0, reduction="mean", weight=w)(x, y)
    torch.testing.assert_close(got, TF.cross_entropy(x, y, weight=w))


# -- the modules are thin: same numbers as the core functions --------------------------------


def test_values_equal_direct_core_calls():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, 5, 2, generator=g)
    labels = torch.randint(0, 4, (3, 5, 2), generator=g)
    onehot = torch.movedim(TF.one_hot(labels, 4), -1, 1).float()
    got = Poly1FocalLoss(4, epsilon=0.5, alpha=0.3, gamma=1.5)(x, labels)
    want = xlosses.poly_loss_sigmoid_focal(x, onehot, epsilon=0.5, alpha=0.3, gamma=1.5)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    got = Poly1FocalLoss(4, reduction="sum", label_is_onehot=True)(x, onehot)
    torch.testing.assert_close(got, xlosses.poly_loss_sigmoid_focal(x, onehot).sum())
    x2, l2 = x[:, :, 0, 0], labels[:, 0, 0]
    got = Poly1CrossEntropyLoss(4, epsilon=2.0)(x2, l2)
    torch.testing.assert_close(
        got, xlosses.poly_loss_cross_entropy(x2, l2, epsilon=2.0), rtol=0, atol=0
    )
    targets = torch.rand(3, 4, generator=g)
    got = SigmoidFocalLoss(alpha=0.25, gamma=2.0, reduction="mean")(x2, targets)
    torch.testing.assert_close(got, xlosses.sigmoid_focal_loss(x2, targets, alpha=0.25).mean())
    probs = torch.softmax(torch.randn(3, 4, generator=g), -1)
    got = Loss(xlosses.softmax_cross_entropy, reduction="sum")(x2, probs)
    torch.testing.assert_close(got, xlosses.softmax_cross_entropy(x2, probs).sum())


def test_generic_loss_tensor_options_are_buffers():
    where = torch.tensor([[True, False, True]])
    mod = Loss(xlosses.softmax_cross_entropy, reduction="none", where=where)
    assert "option_where" in dict(mod.named_buffers())
    x = torch.zeros(2, 3, dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(mod(x, y), torch.full((2,), np.log(2), dtype=torch.float64))
    assert "softmax_cross_entropy" in repr(mod) and "reduction='none'" in repr(mod)


def test_weight_is_a_buffer_that_follows_the_module():
    mod = Poly1CrossEntropyLoss(3, weight=torch.ones(3))
    assert "weight" in mod.state_dict()
    assert mod.double().weight.dtype == torch.float64


# -- compilation ----------------------------------------------------------------------------


def test_modules_compile_fullgraph():
    from conformance.backends import get_backend

    tb = get_backend("torch")
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 3, 5, generator=g)
    labels = torch.randint(0, 3, (4, 5), generator=g)
    mods = [
        (
            Poly1CrossEntropyLoss(3, reduction="mean", weight=torch.rand(3, generator=g) + 0.5),
            labels,
        ),
        (Poly1FocalLoss(3, reduction="mean"), labels),
        (SigmoidFocalLoss(reduction="sum"), torch.rand(4, 3, 5, generator=g)),
    ]
    for mod, target in mods:
        eager = mod(x, target)
        compiled = tb.compile(lambda a, b, mod=mod: mod(a, b))(x, target)
        torch.testing.assert_close(compiled, eager, rtol=1e-6, atol=1e-6)


# -- training -------------------------------------------------------------------------------


def _imbalanced_problem(seed=0, n=600, d=6, c=3):
    """Linearly separable-ish data with class frequencies of about 70/20/10 %."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, c, generator=g)
    y = torch.argmax(
        x @ w + torch.tensor([2.0, 0.5, -0.5]) + 0.3 * torch.randn(n, c, generator=g), 1
    )
    return x, y


@pytest.mark.parametrize(
    "make_loss",
    [
        lambda y: Poly1CrossEntropyLoss(3, epsilon=1.0, reduction="mean"),
        lambda y: Poly1CrossEntropyLoss(
            3, epsilon=-1.0, reduction="mean", weight=1.0 / torch.bincount(y, minlength=3).float()
        ),
        lambda y: Poly1FocalLoss(3, reduction="mean"),
        lambda y: Loss(xlosses.softmax_cross_entropy_with_integer_labels),
    ],
    ids=["poly1-ce", "poly1-ce-weighted", "poly1-focal", "generic"],
)
def test_adapter_trains_a_linear_model(make_loss):
    x, y = _imbalanced_problem()
    counts = torch.bincount(y, minlength=3)
    assert counts.max() > 3 * counts.min()  # imbalanced
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], 3)
    loss_fn = make_loss(y)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses[::10]
    accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.8


def test_sigmoid_focal_trains_a_multilabel_model():
    x, y = _imbalanced_problem(seed=1)
    targets = TF.one_hot(y, 3).float()
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], 3)
    loss_fn = SigmoidFocalLoss(reduction="mean")
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn(model(x), targets)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first


# -- errors and imports ---------------------------------------------------------------------


def test_errors():
    with pytest.raises(
        ValueError, match="reduction must be one of 'none', 'mean', 'sum'; got 'avg'"
    ):
        Poly1CrossEntropyLoss(3, reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        Loss(xlosses.sigmoid_focal_loss, reduction="batchmean")
    with pytest.raises(ValueError, match=r"has 4 classes on axis 1, but num_classes=3"):
        Poly1CrossEntropyLoss(3)(torch.zeros(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"logits shape \(2, 4\) must be \[N, 3, \.\.\.\]"):
        Poly1FocalLoss(3)(torch.zeros(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"labels shape \(3,\) must be \(2,\)"):
        Poly1FocalLoss(4)(torch.zeros(2, 4), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        Poly1FocalLoss(4)(torch.zeros(2, 4), torch.tensor([0, 4]))
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        Poly1FocalLoss(4)(torch.zeros(2, 4), torch.zeros(2))


def test_importing_functional_loads_no_framework():
    code = (
        "import sys, xlosses, xlosses.functional; "
        "print(sorted(m for m in ('torch', 'jax', 'keras', 'cupy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
