"""PyTorch: whole losses handed to ``torch.nn.functional``'s fused kernels.

The loss cores declared ``@accelerated`` in the families (``integer_label_ce``,
``multi_margin_terms``, ``ctc_lengths_loss``, ...) and in ``xlosses.functional``
(``class_index_cross_entropy``, ``probability_bce``, ...) run torch's own kernel on eager
CPU tensors wherever its numbers are the generic body's: the kernels check their targets
themselves (no separate range check: a reduction and host reads, the per-call cost of a
small batch), and a dozen small kernels become one.  Each version returns
``NotImplemented`` (the generic body runs) on GPUs, under ``torch.compile`` and
``torch.func`` transforms, and wherever its conditions below do not hold.  The
primitives' versions and the backend's answers are in :mod:`.torch`.
"""

from __future__ import annotations

import inspect
import math
import sys
from typing import Any

from .torch import (
    _eager,
    as_int64,
    class_axis_first,
    eager_cpu,
    holds_nan,
    large,
    no_gradients,
    torch_version,
)


def _t() -> Any:
    return sys.modules["torch"]


# -- kernels without second derivatives ----------------------------------------------------

_ONCE: list[Any] = []  # the autograd.Function below, made on first use (torch is imported)


def _once_function() -> Any:
    if _ONCE:
        return _ONCE[0]
    torch = _t()

    class KernelOnce(torch.autograd.Function):
        """The kernel's value and first derivative; derivatives of higher order from the
        generic body (recomputed on the inputs while a higher-order graph is built)."""

        @staticmethod
        def forward(ctx: Any, x: Any, state: tuple[Any, Any, Any]) -> Any:
            ctx.state = state
            ctx.save_for_backward(x)
            return state[1].detach()

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            leaf, out, generic = ctx.state
            if torch.is_grad_enabled():  # create_graph: the generic body, differentiable
                (x,) = ctx.saved_tensors
                (gx,) = torch.autograd.grad(generic(x), x, grad, create_graph=True)
            else:
                # retained: a backward pass may run again (gradcheck, several vector
                # products); the graph goes with this node
                (gx,) = torch.autograd.grad(out, leaf, grad, retain_graph=True)
            return gx, None

    _ONCE.append(KernelOnce)
    return KernelOnce


def once_differentiable_kernel(name: str) -> Any:
    """Register the decorated version for ``name`` ("module:function") so that it stays
    differentiable to every order: its first argument's gradient is the kernel's, and where
    a higher-order graph is being built (``create_graph=True``, a Hessian) the backward pass
    recomputes the generic body on the inputs and differentiates that instead.  (torch's
    ``ctc_loss``, ``multi_margin_loss`` and ``multilabel_margin_loss`` kernels have no
    second derivative.)"""
    module, _, function = name.partition(":")

    def wrap(version: Any) -> Any:
        def run(x: Any, *args: Any, xp: Any, **kwargs: Any) -> Any:
            if not eager_cpu(x):  # the kernels run on eager CPU tensors only
                return NotImplemented
            if no_gradients(x):
                return version(x, *args, xp=xp, **kwargs)
            torch = _t()
            leaf = x.detach().requires_grad_(True)
            with torch.enable_grad():
                out = version(leaf, *args, xp=xp, **kwargs)
            if out is NotImplemented:
                return out
            generic = getattr(sys.modules[module], function).generic

            def body(z: Any) -> Any:
                return generic(z, *args, xp=xp, **kwargs)

            return _once_function().apply(x, (leaf, out, body))

        run.__name__ = run.__qualname__ = version.__name__
        run.__wrapped__ = version
        run.__signature__ = inspect.signature(version)
        torch_version(name)(run)
        return run

    return wrap


# torch's cross_entropy ignores the targets equal to ``ignore_index`` (default -100);
# the most negative int64 is the one value no class index or plausible label takes.
_NO_IGNORE = -(2**63)


def fused(name: str, x: Any, *args: Any, **kwargs: Any) -> Any:
    """``torch.nn.functional.<name>(x, *args, **kwargs)`` on eager CPU tensors, else
    ``NotImplemented``.

    For losses whose per-example core *is* one of torch's fused kernels: the
    kernel checks the targets, shapes and weights itself, which saves a
    separate range check (a reduction and host reads) and a dozen small
    kernels, the per-call cost of a small batch.  ``NotImplemented`` on GPUs,
    inside ``torch.compile`` and ``torch.func`` transforms, and when the kernel
    refuses its arguments: the generic body then runs, whose checks raise
    xlosses' own ``ValueError`` or ``TypeError``.
    """
    if not x.ndim or not eager_cpu(x):
        return NotImplemented
    return kernel(name, x, *args, **kwargs)


def kernel(name: str, *args: Any, **kwargs: Any) -> Any:
    """``torch.nn.functional.<name>(*args, **kwargs)``, or ``NotImplemented`` where it
    refuses its arguments (the caller has checked that the tensors are eager CPU ones)."""
    try:
        return getattr(_t().nn.functional, name)(*args, **kwargs)
    except (IndexError, RuntimeError, ValueError):  # refused: the generic body reports it
        return NotImplemented


@torch_version("xlosses.classification:integer_label_ce")
def integer_label_ce(x: Any, labels: Any, *, axis: int, mask: Any, xp: Any) -> Any:
    """The fused ``cross_entropy`` on eager CPU tensors, which raises for a target outside
    ``[0, C)`` itself: the separate range check (a reduction and two host reads, ~2 µs,
    more than the loss itself on small batches) is left to it.  No target is ignored
    (``ignore_index`` is the most negative int64, which the generic check reports)."""
    if mask is not None:
        return NotImplemented
    torch = _t()
    logits = class_axis_first(torch, x, axis) if x.ndim else x
    return fused(
        "cross_entropy", logits, as_int64(torch, labels), reduction="none", ignore_index=_NO_IGNORE
    )


# -- large logits: the rows in blocks ------------------------------------------------------

# logits of at least this many entries (32 MiB of float32) are taken in blocks of rows of
# about BLOCK_BYTES of the compute dtype (below it, one kernel is as fast or faster: 29 ms
# against 24 ms for the training step of 4096x1000 float32 on one thread)
BLOCKED = 1 << 23
BLOCK_BYTES = 1 << 20


def blocked(x: Any) -> bool:
    """``x`` large 2-D logits of a plain CPU tensor, in eager mode outside ``torch.func``
    transforms, forward-mode AD and ``torch.autocast``: where :func:`blocked_label_ce` may
    run."""
    torch = _t()
    return (
        type(x) is torch.Tensor
        and x.ndim == 2
        and x.numel() >= BLOCKED
        and x.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64)
        and eager_cpu(x)
        and torch.autograd.forward_ad._current_level < 0
        and not torch.is_autocast_enabled("cpu")
    )


def _label_ce_block(ignore_index: int) -> Any:
    def block(x: Any, labels: Any) -> Any:
        return _t().nn.functional.cross_entropy(
            x, labels, reduction="none", ignore_index=ignore_index
        )

    return block


def blocked_label_ce(x: Any, labels: Any, ignore_index: int = _NO_IGNORE) -> Any:
    """The per-row cross-entropy of :func:`blocked` logits ``x`` ``[N, C]`` with int64
    ``labels`` ``[N]`` in ``[0, C)`` or equal to ``ignore_index`` (loss 0), in the compute
    dtype of ``x`` (float32 for 16-bit logits, which are never copied whole), by blocks of
    rows (``torch_autograd.RowBlockCrossEntropy``): the fused kernel's values, bit for bit;
    ``NotImplemented`` for another label (the generic body reports it)."""
    torch = _t()
    n, c = x.shape
    if labels.shape != (n,) or labels.dtype != torch.int64:
        return NotImplemented
    lo, hi = (v.item() for v in torch.aminmax(torch.where(labels == ignore_index, 0, labels)))
    if lo < 0 or hi >= c:
        return NotImplemented
    from .torch_autograd import RowBlockCrossEntropy

    work = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    rows = max(1, BLOCK_BYTES // (c * work.itemsize))
    return RowBlockCrossEntropy.apply(x, labels, rows, _label_ce_block(ignore_index), work)


# -- whole losses of xlosses.functional and the torch-style cores ------------------------


def _index_target(target: Any) -> Any:
    """``target`` as int64, or ``None`` unless it is an integer (not bool) tensor."""
    torch = _t()
    dt = target.dtype
    if dt == torch.bool or dt.is_floating_point or dt.is_complex:
        return None
    return as_int64(torch, target)


def _fixed_weight(weight: Any, work: Any) -> tuple[bool, Any]:
    """``(usable, weight in work)``: a floating weight that needs no gradient (torch's
    fused kernels give none to a weight)."""
    if weight is None:
        return True, None
    if not weight.dtype.is_floating_point or (weight.requires_grad and _t().is_grad_enabled()):
        return False, None  # the generic body reports a non-floating weight
    return True, weight if weight.dtype == work else weight.to(work)


def _class_index_kernel(kind, input, target, weight, work, dtype, **kw) -> Any:
    t = _index_target(target)
    ok, w = _fixed_weight(weight, work)
    if t is None or not ok:
        return NotImplemented
    x = input if input.dtype == work else input.to(work)
    out = fused(kind, x, t, weight=w, **kw)
    return out if out is NotImplemented or out.dtype == dtype else out.to(dtype)


@torch_version("xlosses.functional.classification:class_index_cross_entropy")
def class_index_cross_entropy(
    input, target, weight, ignore_index, reduction, eps, dtype, work, *, xp
) -> Any:
    return _class_index_kernel(
        "cross_entropy",
        input,
        target,
        weight,
        work,
        dtype,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=eps,
    )


@torch_version("xlosses.functional.classification:class_index_nll")
def class_index_nll(input, target, weight, ignore_index, reduction, dtype, work, *, xp) -> Any:
    return _class_index_kernel(
        "nll_loss",
        input,
        target,
        weight,
        work,
        dtype,
        ignore_index=ignore_index,
        reduction=reduction,
    )


@torch_version("xlosses.functional.classification:probability_bce")
def probability_bce(p: Any, y: Any, weight: Any, reduction: str, *, xp: Any) -> Any:
    """The fused ``binary_cross_entropy``: its values are the generic body's (the logarithms
    clamped at -100), and it refuses probabilities outside ``[0, 1]`` itself, which saves
    the range check's two reductions and host reads; its derivative divides by
    ``max(p(1 - p), 1e-12)`` where the generic body's is exact, so it runs only where no
    gradient will pass.  Below ``LARGE`` entries only: one call against a dozen small
    kernels, while on large batches torch's serial CPU kernel is slower than the generic
    body (100 ms against 59 ms at 4096x1000 on one thread)."""
    if large(p) or not no_gradients(p, y):
        return NotImplemented
    ok, w = _fixed_weight(weight, p.dtype)
    if not ok:
        return NotImplemented
    return fused("binary_cross_entropy", p, y, weight=w, reduction=reduction)


@torch_version("xlosses.functional.regression:smooth_l1_terms")
def smooth_l1_terms(x: Any, target: Any, beta: float, reduction: str, *, xp: Any) -> Any:
    """The fused ``smooth_l1_loss`` (with the reduction): the same values and derivative."""
    if beta <= 0 or target.dtype != x.dtype or target.shape != x.shape:
        return NotImplemented
    return fused("smooth_l1_loss", x, target, reduction=reduction, beta=beta)


# torch's ``multi_margin_loss`` CPU kernel is a per-example loop: faster than a dozen small
# kernels up to about this many scores, twice as slow as the generic body at 4096x1000.
_SMALL = 1 << 16


def _margin_kernel(kind: str, x: Any, target: Any, reduction: str = "none", **kwargs: Any) -> Any:
    """The per-example cores of torch's ``multi_margin_loss`` and ``multilabel_margin_loss``
    (``x`` of shape ``[C]`` or ``[N, C]``, compute dtype).  Scores holding a NaN take the
    generic body, which keeps the NaN in its row (torch's kernels skip a NaN margin)."""
    if x.ndim > 2 or not x.ndim or not eager_cpu(x):
        return NotImplemented
    # a NaN sum: a NaN, or +inf and -inf, which the generic body also handles
    if holds_nan(x):
        return NotImplemented
    t = _index_target(target)
    ok, w = _fixed_weight(kwargs.pop("weight", None), x.dtype)
    if t is None or not ok:
        return NotImplemented
    if w is not None:
        kwargs["weight"] = w
    return fused(kind, x, t, reduction=reduction, **kwargs)


@once_differentiable_kernel("xlosses.margins:multi_margin_terms")
def multi_margin_terms(x: Any, labels: Any, *, p: int, margin: float, weight: Any, xp: Any):
    if math.prod(x.shape) > _SMALL or tuple(labels.shape) != tuple(x.shape[:-1]):
        return NotImplemented  # torch's CPU kernel loops per example: the generic body wins
    return _margin_kernel("multi_margin_loss", x, labels, p=p, margin=margin, weight=weight)


@once_differentiable_kernel("xlosses.functional.pairs:multi_margin_reduced")
def multi_margin_reduced(
    x: Any, target: Any, *, p: int, margin: float, weight: Any, reduction: str, xp: Any
) -> Any:
    """``F.multi_margin_loss`` with its own reduction: one kernel, one autograd node (the
    separate ``mean`` and its backward were half the cost of a training step at 32x10)."""
    if math.prod(x.shape) > _SMALL or tuple(target.shape) != tuple(x.shape[:-1]):
        return NotImplemented
    return _margin_kernel(
        "multi_margin_loss", x, target, reduction, p=p, margin=margin, weight=weight
    )


@once_differentiable_kernel("xlosses.functional.pairs:multilabel_margin_reduced")
def multilabel_margin_reduced(x: Any, target: Any, *, reduction: str, xp: Any) -> Any:
    return _margin_kernel("multilabel_margin_loss", x, target, reduction)


@once_differentiable_kernel("xlosses.margins:multilabel_margin_terms")
def multilabel_margin_terms(x: Any, targets: Any, *, xp: Any) -> Any:
    return _margin_kernel("multilabel_margin_loss", x, targets)


# Paths through optax's ``log_epsilon`` stand-in weigh at most ``exp(log_epsilon)`` each; once
# their sum is below ``exp(-_CTC_NEGLIGIBLE)`` of the likelihood it changes no bit of a float64
# loss (2**-52 ~ exp(-36)), and the exact recursion (torch's kernel) gives the same numbers.
_CTC_NEGLIGIBLE = 50.0


def _ctc_kernel(logp: Any, targets: Any, il: Any, tl: Any, blank: int) -> Any:
    """torch's fused ``ctc_loss`` per example, or ``NotImplemented`` where it refuses its
    arguments (lengths out of range, too few concatenated targets) or a loss is not
    finite (an impossible alignment, a NaN): the generic body then reports or computes
    those."""
    torch = _t()
    try:
        loss = torch.nn.functional.ctc_loss(logp, targets, il, tl, blank=blank, reduction="none")
    except (IndexError, RuntimeError, ValueError):
        return NotImplemented
    # finite sum: every loss finite (torch.isfinite costs 3x a sum on small batches)
    if loss.numel() and not math.isfinite(loss.detach().sum().item()):
        return NotImplemented
    return loss


@once_differentiable_kernel("xlosses.sequence:ctc_lengths_loss")
def ctc_lengths_loss(
    x, targets, il, tl, *, blank, zero_infinity, max_target_length, unbatched, xp
) -> Any:
    """torch's fused kernel: the generic body's exact recursion, one C++ loop where the
    generic body runs a dozen small kernels per frame.  Eager CPU only (on GPUs and under
    ``torch.compile`` the checks below would synchronise or branch on data);
    ``NotImplemented`` where the kernel refuses the lengths, where a target that the
    kernel would read lies outside ``[0, C)`` (the kernel does not check them), and where
    a loss is not finite (an impossible alignment, where the kernel's gradient is NaN; a
    NaN input).

    Gradients: the kernel returns ``exp(log_probs) - posterior``, the derivative with
    respect to the logits of a ``log_softmax``; the exact derivative with respect to
    ``log_probs`` is ``-posterior``.  When a gradient will pass, the extra term is taken
    off by adding ``s.detach() - s`` (0 in value) with ``s`` the sum of
    ``exp(log_probs)`` over the frames used.
    """
    if x.ndim != 3 or not eager_cpu(x):
        return NotImplemented
    torch = _t()
    lo, hi = torch.aminmax(targets) if targets.numel() else (0, 0)
    if not (0 <= lo and hi < x.shape[2]):
        if targets.ndim != 2 or tl.ndim != 1:
            return NotImplemented
        # padded entries may hold anything: the kernel reads the first target_lengths
        width = torch.arange(targets.shape[1], device=targets.device)
        targets = torch.where(width < tl[:, None], targets, blank)
        lo, hi = torch.aminmax(targets)
        if not (0 <= lo and hi < x.shape[2]):
            return NotImplemented
    loss = _ctc_kernel(x, targets, il, tl, blank)
    if loss is not NotImplemented and not no_gradients(x):
        steps = torch.arange(x.shape[0], device=x.device)
        used = (steps[:, None] < il[None, :])[..., None]
        s = torch.sum(torch.where(used, torch.exp(x), 0.0), dim=(0, 2))
        loss = loss + (s.detach() - s)
    return loss


@once_differentiable_kernel("xlosses.sequence:ctc_paddings_loss")
def ctc_paddings_loss(x, frame_pad, labels, label_pad, *, blank, log_epsilon, xp) -> Any:
    """optax's CTC loss by torch's fused kernel, on eager CPU tensors, where the generic
    body gives the same numbers (else ``NotImplemented``):

    * ``log_epsilon`` a Python number, negligible: ``loss + log_epsilon + log(2N + 1) +
      T·log 3`` below ``-_CTC_NEGLIGIBLE`` in every row (``(2N + 1)·3**T`` bounds the
      number of paths through a ``log_epsilon`` state, each weighing at most
      ``exp(log_epsilon)``);
    * finite logits where a gradient will pass (a NaN or infinity anywhere, padded
      frames included, takes the generic body, which never reads padded frames);
      without gradients a NaN or ``+inf`` in a used frame makes its loss NaN (next
      point) and padded frames are not read;
    * paddings of the form ``0…0 1…1`` per row (optax's may lie anywhere);
    * a finite loss in every row (an impossible alignment is ``inf`` for the kernel,
      about ``-log_epsilon`` for optax).

    The kernel's gradient with respect to its log-probabilities, ``exp(logp) -
    posterior``, is exact with respect to the logits after the ``log_softmax``'s
    backward pass.
    """
    if not isinstance(log_epsilon, (int, float)) or x.ndim != 3 or not x.shape[1]:
        return NotImplemented
    if not eager_cpu(x):
        return NotImplemented
    torch = _t()
    if not no_gradients(x) and not math.isfinite(x.detach().sum().item()):
        return NotImplemented
    num_steps, n = x.shape[1], labels.shape[1]
    # rows of the form 0...0 1...1: their running maximum is themselves
    for pad in (label_pad, frame_pad):
        if pad.shape[1] > 1 and not torch.equal(torch.cummax(pad, 1).values, pad):
            return NotImplemented
    il, tl = (~frame_pad).sum(1), (~label_pad).sum(1)  # (T - sum: torch.rsub costs 3x)
    logp = torch.log_softmax(x, dim=-1).transpose(0, 1)
    loss = _ctc_kernel(logp, labels, il, tl, blank)
    if loss is NotImplemented or not loss.numel():
        return loss
    paths = math.log(2 * n + 1) + num_steps * math.log(3.0)
    if loss.detach().max().item() + float(log_epsilon) + paths > -_CTC_NEGLIGIBLE:
        return NotImplemented
    return loss


@torch_version("xlosses.image:blurred_moments")
def blurred_moments(
    x: Any, y: Any, window: list[float], same: bool, spatial: tuple[int, int], *, xp: Any
) -> Any:
    """SSIM's five windowed moments by two depthwise convolutions (``F.conv2d`` with a
    ``1 × k`` and a ``k × 1`` kernel per image plane, ``groups`` = the planes, after
    ``F.pad(mode='reflect')``): kornia's computation, ``k`` products per pixel and axis
    instead of the generic window matrix's ``n``.  Channels-last on the CPU without
    gradients (oneDNN's fast layout; kornia does the same).  Every context (autograd of
    every order, ``torch.compile``, ``torch.func``, GPUs): torch's own operators."""
    torch = _t()
    F = torch.nn.functional
    last = (x.ndim - 2, x.ndim - 1)
    if tuple(spatial) != last:
        x, y = torch.movedim(x, spatial, last), torch.movedim(y, spatial, last)
    h, w = x.shape[-2:]
    lead = tuple(x.shape[:-2])
    planes = math.prod(lead)
    if planes == 0:
        return NotImplemented
    s = torch.stack([x, y, x * x, y * y, x * y]).reshape(5, planes, h, w)
    r = len(window) // 2
    if same:
        s = F.pad(s, (r, r, r, r), mode="reflect")
    if x.is_cpu and x.dtype == torch.float32 and no_gradients(x, y) and _eager():
        s = s.contiguous(memory_format=torch.channels_last)
    k = torch.tensor(window, dtype=x.dtype, device=x.device)
    kx = k.view(1, 1, 1, -1).expand(planes, 1, 1, -1)
    ky = k.view(1, 1, -1, 1).expand(planes, 1, -1, 1)
    s = F.conv2d(F.conv2d(s, kx, groups=planes), ky, groups=planes).contiguous()
    out = s.reshape(5, *lead, *s.shape[-2:])
    if tuple(spatial) != last:
        out = torch.movedim(out, (out.ndim - 2, out.ndim - 1), (spatial[0] + 1, spatial[1] + 1))
    return out
