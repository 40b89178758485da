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
from .._ops import entropy as _entropy
from .torch import _no_functorch

__all__ = ["LinearCrossEntropy", "Poly1CrossEntropy", "RowBlockCrossEntropy"]


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


class RowBlockCrossEntropy(torch.autograd.Function):
    """The per-row cross-entropy of large logits ``x`` ``[N, C]`` (any floating dtype) with
    class indices, computed block of rows by block of rows in the compute dtype: each
    block is ``block(x[i:j], labels[i:j])`` (the loss's torch version on the block
    converted to its compute dtype), and the backward pass differentiates the same
    ``block`` again, block by block (nothing saved but the inputs).

    A block of about a megabyte stays in the cache between the conversion, the
    log-softmax and the label gather, where the whole-batch kernels write and read back
    the logits' size several times (and a 16-bit batch is first copied whole into
    float32).  The rows are independent: the values are the unblocked kernel's, bit for
    bit.  With ``create_graph=True`` the blocks' gradients keep their graphs (derivatives
    of every order)."""

    @staticmethod
    def forward(x: Any, labels: Any, rows: int, block: Any, work: Any) -> Any:  # type: ignore[override]
        out = torch.empty(x.shape[0], dtype=work)
        for i in range(0, x.shape[0], rows):
            out[i : i + rows] = block(x[i : i + rows].to(work), labels[i : i + rows])
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:  # type: ignore[override]
        x, labels, rows, block, work = inputs
        ctx.save_for_backward(x, labels)
        ctx.rows, ctx.block, ctx.work = rows, block, work

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:  # type: ignore[override]
        x, labels = ctx.saved_tensors
        rows, block, work = ctx.rows, ctx.block, ctx.work
        graph = torch.is_grad_enabled()  # create_graph=True: keep the blocks' graphs
        pieces = []
        gx = None if graph else torch.empty_like(x)
        for i in range(0, x.shape[0], rows):
            xb = x[i : i + rows]
            if not graph:
                xb = xb.detach().requires_grad_(True)
            with torch.enable_grad():
                (gb,) = torch.autograd.grad(
                    block(xb.to(work), labels[i : i + rows]),
                    xb,
                    g[i : i + rows],
                    create_graph=graph,
                )
            if graph:
                pieces.append(gb)
            else:
                gx[i : i + rows] = gb
        return (torch.cat(pieces) if graph else gx), None, None, None, None


class Poly1CrossEntropy(torch.autograd.Function):
    """:func:`xlosses._ops.entropy.poly1_cross_entropy` (the generic body) with
    :func:`xlosses._ops.entropy.poly1_cross_entropy_vjp` as its backward: one closed-form
    pass that keeps only the inputs.  The rule is written with differentiable torch
    operations on the saved inputs, so with ``create_graph=True`` it is differentiated in
    turn (second derivatives)."""

    # the forward takes ``ctx`` (no ``setup_context``): ``apply`` then skips binding the
    # arguments with ``inspect.signature`` (tens of µs a call); the version never runs
    # under ``torch.func``'s transforms, which would need ``setup_context``
    @staticmethod
    def forward(ctx: Any, x: Any, y: Any, mask: Any, epsilon: float, axis: Any, xp: Any) -> Any:  # type: ignore[override]
        ctx.save_for_backward(x, y, mask)
        ctx.epsilon, ctx.axis, ctx.xp = epsilon, axis, xp
        return _entropy.poly1_cross_entropy.generic(x, y, mask, epsilon, axis=axis, xp=xp)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:  # type: ignore[override]
        x, y, mask = ctx.saved_tensors
        eps, axis = ctx.epsilon, ctx.axis
        if (
            torch.is_grad_enabled()
            or ctx.needs_input_grad[1]
            or mask is not None
            or not isinstance(axis, int)
        ):
            gx, gy = _entropy.poly1_cross_entropy_vjp(
                x, y, mask, g, eps, axis=axis, wrt_y=ctx.needs_input_grad[1], xp=ctx.xp
            )
            return gx, gy, None, None, None, None
        # first order, unmasked: the rule's ``g·(p·(S_y + ε S_yp) - y·(1 + ε p))`` as
        # ``p·(a - b·y) - g·y`` with row factors ``a = g·(S_y + ε S_yp)``, ``b = ε g``: one
        # buffer written in place after ``p`` (``softmax``: one kernel)
        gk = g.unsqueeze(axis)
        p = torch.softmax(x, axis)
        s = y.sum(axis, keepdim=True) + eps * torch.mul(y, p).sum(axis, keepdim=True)
        out = torch.mul(y, gk * -eps).add_(gk * s).mul_(p)
        return out.addcmul_(y, gk, value=-1.0), None, None, None, None, None
