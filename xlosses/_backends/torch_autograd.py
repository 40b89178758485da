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

__all__ = ["LinearCrossEntropy"]


class LinearCrossEntropy(torch.autograd.Function):
    """:func:`xlosses.large_vocab.forward` (per-token loss and log-sum-exp) with
    :func:`xlosses.large_vocab.backward` as its gradient; first-order only (``torch.func.vmap`` maps it with the generated rule)."""

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
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, g: Any, _g_lse: Any) -> Any:  # type: ignore[override]
        x, w, b, labels, keep, rw, cw, lse = ctx.saved_tensors
        dx, dw, db = _lv.backward(x, w, b, labels, keep, rw, cw, lse, g, plan=ctx.plan, xp=ctx.xp)
        return dx, dw, db, None, None, None, None, None, None
