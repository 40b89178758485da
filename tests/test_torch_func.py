"""Losses under ``torch.func`` transforms on eager CPU torch.

The eager fast paths read values in Python (``.item()``: label range checks, NaN
tests, CTC's kernel conditions); ``vmap``'s batched tensors refuse that, so those
paths must step aside there, as under ``torch.compile``.  Each loss under ``vmap``
is compared with the same loss called on every slice, and ``torch.func.grad``
with autograd.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import xlosses
import xlosses.functional as XF

B, N, C = 3, 6, 5


def _scores(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, N, C, generator=g, dtype=torch.float64)


def _labels(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, C, (B, N), generator=g)


def _probs(seed):
    return torch.softmax(_scores(seed), dim=-1)


def _listed(seed):
    """Two listed classes per row, then -1 (torch's multi-label targets)."""
    first = _labels(seed)
    t = torch.full((B, N, C), -1)
    t[..., 0], t[..., 1] = first, (first + 2) % C
    return t


# name -> (loss of one slice, its arguments batched along axis 0)
CASES = {
    "softmax_cross_entropy_with_integer_labels": (
        xlosses.softmax_cross_entropy_with_integer_labels,
        lambda: (_scores(0), _labels(1)),
    ),
    "multi_margin_loss": (xlosses.multi_margin_loss, lambda: (_scores(2), _labels(3))),
    "multiclass_perceptron_loss": (
        xlosses.multiclass_perceptron_loss,
        lambda: (_scores(4), _labels(5)),
    ),
    "multiclass_sparsemax_loss": (
        xlosses.multiclass_sparsemax_loss,
        lambda: (_scores(6), _labels(7)),
    ),
    "kl_divergence": (xlosses.kl_divergence, lambda: (torch.log(_probs(8)), _probs(9))),
    "kl_divergence_with_log_targets": (
        xlosses.kl_divergence_with_log_targets,
        lambda: (torch.log(_probs(10)), torch.log(_probs(11))),
    ),
    "functional.nll_loss": (
        lambda x, y: XF.nll_loss(x, y, reduction="none"),
        lambda: (torch.log(_probs(12)), _labels(13)),
    ),
    "functional.multilabel_margin_loss": (
        lambda x, y: XF.multilabel_margin_loss(x, y, reduction="none"),
        lambda: (_scores(14), _listed(15)),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_equals_a_loop_over_slices(name):
    fn, make = CASES[name]
    args = make()
    got = torch.func.vmap(fn)(*args)
    want = torch.stack([fn(*(a[i] for a in args)) for i in range(B)])
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(CASES))
def test_func_grad_equals_autograd(name):
    fn, make = CASES[name]
    x, *rest = (a[0] for a in make())  # one slice
    got = torch.func.grad(lambda v: fn(v, *rest).sum())(x)
    leaf = x.clone().requires_grad_(True)
    fn(leaf, *rest).sum().backward()
    np.testing.assert_allclose(got.numpy(), leaf.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_dynamic_compile_takes_the_axis_as_an_argument():
    """``torch.compile(loss, dynamic=True)`` makes integer arguments symbols: an ``axis``
    passed at each call must still give the loss's values (it was "sort with non-constant
    keys" in the axis handling).  Expected values: the cosine similarity written here."""
    loss = torch.compile(xlosses.cosine_similarity, dynamic=True, fullgraph=True)
    x, y = _scores(20)[0], _scores(21)[0]
    for axis in (0,):  # one compilation (each axis is one: the axis is specialised)
        want = torch.sum(x * y, axis) / (
            torch.linalg.vector_norm(x, dim=axis) * torch.linalg.vector_norm(y, dim=axis)
        )
        torch.testing.assert_close(loss(x, y, axis=axis), want, rtol=1e-12, atol=1e-12)
