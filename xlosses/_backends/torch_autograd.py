"""PyTorch: ``torch.autograd.Function`` classes of xlosses' custom gradients.

Imported on first use by the versions in :mod:`.torch` (never by ``import
xlosses``): a class cannot be defined while ``torch.compile`` traces, but an
import runs as Python does.  The math of the forward and the backward is the
generic code's; only the glue is here.
"""

from __future__ import annotations

from typing import Any

import torch

from .. import large_vocab as _lv
from .torch import _no_functorch

__all__ = ["LinearCrossEntropy"]


class LinearCrossEntropy(torch.autograd.Function):
    """:func:`xlosses.large_vocab.forward` (per-token loss and log-sum-exp) with
    :func:`xlosses.large_vocab.backward` as its gradient; the chunked gradient is first-order; a gradient with ``create_graph=True``
    differentiates the generic loop instead (``torch.func.vmap`` maps it with the generated rule)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, w, b, labels, keep, rw, cw, plan, xp):  # type: ignore[override]
        return _lv.forward(x, w, b, labels, keep, rw, cw, plan=plan, xp=xp)

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:  # type: ignore[override]
        x, w, b, labels, keep, rw, cw, plan, xp = inputs
        ctx.save_for_backward(x, w, b, labels, keep, rw, cw, output[1])
        ctx.plan, ctx.xp = plan, xp
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    def backward(ctx: Any, g: Any, _g_lse: Any) -> Any:  # type: ignore[override]
        x, w, b, labels, keep, rw, cw, lse = ctx.saved_tensors
        if (
            torch.is_grad_enabled()
            and _no_functorch(torch)
            and any(t is not None and t.requires_grad for t in (x, w, b))
        ):
            # create_graph=True (a Hessian, gradgradcheck; not torch.func's transforms, whose
            # saved tensors need no grad here): the gradient must itself be
            # differentiable, so differentiate the generic loop (its memory is the dense
            # path's; first-order training keeps the chunked backward below)
            return (*_loop_gradients(ctx, x, w, b, labels, keep, rw, cw, g), *(None,) * 6)
        with torch.no_grad():
            dx, dw, db = _lv.backward(
                x, w, b, labels, keep, rw, cw, lse, g, plan=ctx.plan, xp=ctx.xp
            )
        return dx, dw, db, None, None, None, None, None, None


def _loop_gradients(
    ctx: Any, x: Any, w: Any, b: Any, labels: Any, keep: Any, rw: Any, cw: Any, g: Any
) -> list[Any]:
    """``d(g·loss)/d(x, w, b)`` with a graph, by autograd through the generic forward."""
    wanted = [t for t in (x, w, b) if t is not None and t.requires_grad]
    loss, _ = _lv.forward(x, w, b, labels, keep, rw, cw, plan=ctx.plan, xp=ctx.xp)
    found = iter(torch.autograd.grad(loss, wanted, g, create_graph=True, allow_unused=True))
    return [next(found) if t is not None and t.requires_grad else None for t in (x, w, b)]
