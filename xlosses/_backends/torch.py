"""PyTorch: fused kernels, whole-loss delegations to ``torch.nn.functional``, and glue.

Three kinds of version live here:

* fused kernels of one primitive (``torch.logsumexp``, ``F.softplus``,
  ``F.binary_cross_entropy_with_logits``, ...), used wherever they give the
  generic body's values and derivatives (most also under ``torch.compile``);
* *eager* versions (``_eager``: not inside ``torch.compile``, where inductor
  fuses the generic body itself) and *eager CPU* versions (``eager_cpu``: a
  test of values is free there, no device synchronisation, no trace, no
  ``torch.func`` transform), among them the whole-loss delegations to
  ``torch.nn.functional``'s kernels (``cross_entropy``, ``ctc_loss``,
  ``multi_margin_loss``, ...), each where its numbers are the generic body's;
* glue that is semantics, not speed: ``stop_gradient`` is ``detach``.

torch is never imported here: the functions run only on torch tensors, so
``sys.modules["torch"]`` holds it by then.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from .._dispatch import BackendInfo, implements, register_backend
from .._ops import control, divergence, entropy, logspace, norms, piecewise, simplex
from .._ops import labels as label_ops
from . import numpy as _np_backend

NAMESPACES = ("array_api_compat.torch",)


def torch_version(generic: Any) -> Any:
    """Register the decorated function as ``generic``'s version for torch."""
    return implements(generic, NAMESPACES)


def _t() -> Any:
    return sys.modules["torch"]


def _no_functorch(torch: Any) -> bool:
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return active is None or not active()


def values_readable(x: Any) -> bool:
    """A tensor whose values a Python check may read now (``.item()``): on the CPU (no
    device synchronisation), outside ``torch.compile`` (a graph break) and outside
    ``torch.func`` transforms (``vmap``'s batched tensors refuse ``.item()``; xlosses'
    own ``map_rows`` runs user functions under ``vmap``)."""
    torch = _t()
    return x.is_cpu and not torch.compiler.is_compiling() and _no_functorch(torch)


def _read(v: Any) -> Any:
    return v.item() if values_readable(v) else None


def _compiling() -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and torch.compiler.is_compiling()


def _autocast(x: Any, dtype: Any) -> Any:
    """float32 for 16-bit inputs inside ``torch.autocast`` on ``x``'s device type: torch's
    own losses run (and return) in float32 there."""
    torch = _t()
    if dtype != torch.float16 and dtype != torch.bfloat16:
        return None
    return torch.float32 if torch.is_autocast_enabled(x.device.type) else None


register_backend(
    BackendInfo(
        "torch",
        values_readable=values_readable,
        read=_read,
        compiling=_compiling,
        autocast=_autocast,
    ),
    NAMESPACES,
)


def _eager() -> bool:
    """Not inside ``torch.compile`` (inductor fuses the generic body; some kernels break
    full graphs)."""
    return not _t().compiler.is_compiling()


eager_cpu = values_readable


def no_gradients(*arrays: Any) -> bool:
    """No automatic differentiation will pass through ``arrays``: no ``requires_grad`` (or
    grad mode off), and no ``torch.func`` transform or forward-mode level active (their
    tangents and batched tensors refuse the in-place and ``out=`` operations this licenses)."""
    torch = _t()
    if not _no_functorch(torch) or torch.autograd.forward_ad._current_level >= 0:
        return False
    return not torch.is_grad_enabled() or not any(a.requires_grad for a in arrays)


def holds_nan(out: Any) -> bool:
    """Some entry of ``out`` may be NaN: one NaN-propagating ``sum`` (which may also report
    ``inf - inf``) and a host read (``math.isnan`` of it: one kernel fewer than
    ``torch.isnan``); a 0-d ``out`` is read as it is."""
    return math.isnan((out if not out.ndim else out.detach().sum()).item())


LARGE = _np_backend.LARGE


def large(x: Any) -> bool:
    return x.ndim > 0 and math.prod(x.shape) >= LARGE


# -- log-space ---------------------------------------------------------------------------


@torch_version(logspace.logsumexp)
def logsumexp(x: Any, *, axis: Any = -1, keepdims: bool = False, where: Any = None, xp: Any):
    if where is not None:
        return NotImplemented
    return _t().logsumexp(x, dim=axis, keepdim=keepdims)


@torch_version(logspace.log_softmax)
def log_softmax(x: Any, *, axis: Any = -1, where: Any = None, xp: Any) -> Any:
    if where is not None or not isinstance(axis, int):
        return NotImplemented
    return _t().log_softmax(x, dim=axis)


@torch_version(logspace.softmax)
def softmax(x: Any, *, axis: Any = -1, where: Any = None, xp: Any) -> Any:
    if where is not None or not isinstance(axis, int):
        return NotImplemented
    return _t().softmax(x, dim=axis)


# torch's softplus returns x itself above its threshold: log1p(exp(-40)) = 4e-18 is below
# half an ulp of 40 in float64 (and exp(40) does not overflow float32); its default, 20,
# leaves a relative error of 1e-10 in float64
_SOFTPLUS_LINEAR = 40.0


@torch_version(logspace.softplus)
def softplus(x: Any, *, xp: Any) -> Any:
    """The fused ``softplus`` in eager mode (derivative ``sigmoid(x)``)."""
    if not x.ndim or not _eager():
        return NotImplemented
    return _t().nn.functional.softplus(x, threshold=_SOFTPLUS_LINEAR)


@torch_version(logspace.log_sigmoid_pair)
def log_sigmoid_pair(x: Any, *, xp: Any) -> Any:
    logsigmoid = _t().nn.functional.logsigmoid
    return logsigmoid(x), logsigmoid(-x)


@torch_version(logspace.log_sigmoid)
def log_sigmoid(x: Any, *, xp: Any) -> Any:
    return _t().nn.functional.logsigmoid(x)


@torch_version(logspace.sigmoid)
def sigmoid(x: Any, *, xp: Any) -> Any:
    return _t().sigmoid(x)


# -- cross-entropy terms -----------------------------------------------------------------


@torch_version(entropy.sigmoid_cross_entropy)
def sigmoid_cross_entropy(x: Any, y: Any, *, xp: Any) -> Any:
    """The fused ``binary_cross_entropy_with_logits`` (the same formula, gradients in ``x``
    and ``y``) when the shapes and dtypes agree."""
    if x.shape != y.shape or x.dtype != y.dtype:
        return NotImplemented
    return _t().nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")


def _power(torch: Any, q: Any, g: float) -> Any:
    if g == 0:
        return torch.ones_like(q)
    if g == 1:
        return q
    return torch.square(q) if g == 2 else torch.pow(q, g)


@torch_version(entropy.sigmoid_focal_powers)
def sigmoid_focal_powers(x: Any, y: Any, gammas: tuple[Any, ...], *, xp: Any) -> Any:
    """Eager, every ``g`` a Python number that is 0 or ≥ 1 (then ``q**g`` has a finite
    derivative at ``q = 0``, where ``q`` underflows): the fused BCE kernel and
    ``q = σ(x)(1 - y) + σ(-x) y`` in linear space (a sum of non-negative terms), ``q**g``
    directly."""
    if (
        x.shape != y.shape
        or x.dtype != y.dtype
        or not all(entropy.static_power(g) for g in gammas)
        or not _eager()
    ):
        return NotImplemented
    torch = _t()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    q = torch.sigmoid(x) * (1.0 - y) + torch.sigmoid(-x) * y
    return bce, tuple(_power(torch, q, g) for g in gammas)


@torch_version(entropy.poly1_sum)
def poly1_sum(logp: Any, y: Any, epsilon: float, *, axis: Any, xp: Any) -> Any:
    """Eager: ``logp + ε·expm1(logp)`` in one fused ``add(alpha=)`` (in place on the
    ``expm1`` result, and the product with ``y`` too, when no gradient is needed), then
    the negated row sums."""
    if not logp.ndim or not _eager():
        return NotImplemented
    torch = _t()
    t = torch.expm1(logp)
    if logp.shape == y.shape and no_gradients(logp, y):
        t.mul_(epsilon).add_(logp).mul_(y)
    else:
        t = y * torch.add(logp, t, alpha=epsilon)
    return -torch.sum(t, dim=axis)


POLY1_RULE = 2**16


@torch_version(entropy.poly1_cross_entropy)
def poly1_cross_entropy(x: Any, y: Any, mask: Any, epsilon: float, *, axis: Any, xp: Any) -> Any:
    """Eager autograd with a gradient to take, ``x`` and ``y`` of one shape: the generic
    body with :func:`xlosses._ops.entropy.poly1_cross_entropy_vjp` as its backward
    (``torch_autograd.Poly1CrossEntropy``).  Autograd of the generic body goes through
    ``log_softmax``, ``expm1`` and their products, keeping each ``[N, C]`` term for the
    backward (6 times the logits' memory against 2, 1.1-1.5 times the time).  Below
    ``POLY1_RULE`` entries the Python of the rule costs more than autograd's nodes."""
    torch = _t()
    if (
        type(x) is not torch.Tensor
        or x.numel() < POLY1_RULE
        or x.shape != y.shape
        or (mask is not None and mask.shape != x.shape)
        or not isinstance(epsilon, (int, float))
        or not _no_functorch(torch)  # torch.func (vmap, grad, jvp): the generic body
        or torch.autograd.forward_ad._current_level >= 0  # forward mode: the generic body
        or no_gradients(x, y)
        or not _eager()
        or torch.is_autocast_enabled(x.device.type)
    ):
        return NotImplemented
    from .torch_autograd import Poly1CrossEntropy

    return Poly1CrossEntropy.apply(x, y, mask, float(epsilon), axis, xp)


def class_axis_first(torch: Any, x: Any, axis: int) -> Any:
    """``x`` with its class ``axis`` moved to 1, where torch's losses want it."""
    return x if x.ndim == 1 or axis % x.ndim == 1 else torch.movedim(x, axis, 1)


def as_int64(torch: Any, t: Any) -> Any:
    return t if t.dtype == torch.int64 else t.to(torch.int64)


@torch_version(entropy.label_cross_entropy)
def label_cross_entropy(x: Any, labels: Any, *, axis: int, xp: Any) -> Any:
    """Eager: the fused ``cross_entropy`` (log-softmax and gather in native kernels)."""
    if not x.ndim or not _eager():
        return NotImplemented
    torch = _t()
    logits = class_axis_first(torch, x, axis)
    return torch.nn.functional.cross_entropy(logits, as_int64(torch, labels), reduction="none")


@torch_version(entropy.soft_label_cross_entropy)
def soft_label_cross_entropy(x: Any, y: Any, *, axis: int, xp: Any) -> Any:
    """Eager: the fused ``cross_entropy`` with probability targets (the same formula)."""
    if not x.ndim or x.shape != y.shape or x.dtype != y.dtype or not _eager():
        return NotImplemented
    torch = _t()
    if x.ndim > 1 and axis % x.ndim != 1:
        x, y = torch.movedim(x, axis, 1), torch.movedim(y, axis, 1)
    return torch.nn.functional.cross_entropy(x, y, reduction="none")


# -- labels ------------------------------------------------------------------------------


@torch_version(label_ops.value_range)
def value_range(x: Any, *, xp: Any) -> Any:
    """``torch.aminmax`` (one kernel); callers test that the values are readable."""
    lo, hi = _t().aminmax(x)
    return lo.item(), hi.item()


@torch_version(label_ops.gather)
def gather(x: Any, indices: Any, *, axis: int, xp: Any) -> Any:
    """``Tensor.gather`` with int64 indices (array_api_compat's ``take_along_axis`` wraps
    ``take_along_dim``, which broadcasts and checks again: 18 µs against 55 µs for 4096
    rows)."""
    axis = axis % x.ndim
    shape = list(x.shape)
    shape[axis] = indices.shape[axis]
    torch = _t()
    return x.gather(axis, as_int64(torch, indices).expand(shape))


# -- piecewise ---------------------------------------------------------------------------


@torch_version(piecewise.relu)
def relu(x: Any, *, tie: float = 1.0, owned: bool = False, xp: Any) -> Any:
    """``clamp_min`` (derivative 1 at 0), ``relu`` (0), ``maximum`` (½)."""
    if not x.ndim:
        return NotImplemented
    torch = _t()
    if tie == 1.0:
        return torch.clamp_min(x, 0)
    if tie == 0.0:
        return torch.relu(x)
    if tie == 0.5:
        return torch.maximum(x, x.new_zeros(()))
    return NotImplemented


@torch_version(piecewise.clamp)
def clamp(x: Any, *, lo: float | None = None, hi: float | None = None, xp: Any) -> Any:
    """``torch.clamp``: derivative 1 inside and at the bounds, as the generic body."""
    return NotImplemented if not x.ndim else _t().clamp(x, lo, hi)


@torch_version(piecewise.straight_through_clamp)
def straight_through_clamp(x: Any, lo: float, *, xp: Any) -> Any:
    """Where no gradient will pass: the clamp alone."""
    if not x.ndim or not no_gradients(x):
        return NotImplemented
    return _t().clamp(x, lo)


@torch_version(piecewise.squared_difference)
def squared_difference(x: Any, t: Any, *, xp: Any) -> Any:
    """Eager: the fused ``mse_loss(reduction='none')`` for ``t`` of ``x``'s shape (one kernel,
    not two; inductor fuses the generic body itself)."""
    if t is None or not x.ndim or x.shape != t.shape or not _eager():
        return NotImplemented
    return _t().nn.functional.mse_loss(x, t, reduction="none")


@torch_version(piecewise.huber)
def huber(x: Any, t: Any, delta: Any, *, xp: Any) -> Any:
    """Eager: the fused ``huber_loss`` (the same derivatives) for a positive number ``δ`` and
    ``t`` of ``x``'s shape."""
    if (
        t is None
        or not isinstance(delta, (int, float))
        or delta <= 0
        or not x.ndim
        or x.shape != t.shape
        or not _eager()
    ):
        return NotImplemented
    return _t().nn.functional.huber_loss(x, t, reduction="none", delta=float(delta))


@torch_version(piecewise.abs_value)
def abs_value(x: Any, *, xp: Any) -> Any:
    """``torch.abs`` (derivative 0 at 0)."""
    return NotImplemented if not x.ndim else _t().abs(x)


@torch_version(piecewise.log_cosh)
def log_cosh(e: Any, *, xp: Any) -> Any:
    """Eager: the branch-free form (each ``where`` costs several passes here), in place
    when no gradient is needed."""
    if not e.ndim or not _eager():
        return NotImplemented
    torch = _t()
    if no_gradients(e):
        return _np_backend.log_cosh_in_place(torch, e)
    lin = piecewise.LOG_COSH_LINEAR
    a = torch.abs(e)
    s = torch.sinh(0.5 * torch.clamp(a, max=lin))
    return torch.log1p(2.0 * (s * s)) + torch.relu(a - lin)


# -- divergence terms --------------------------------------------------------------------


@torch_version(divergence.where_rare)
def where_rare(mask: Any, value: float, x: Any, *, xp: Any) -> Any:
    """On eager CPU tensors: ``x`` itself when no entry of ``mask`` is true (a test of values
    is free there, and returning ``x`` is the ``where`` in value and gradient)."""
    if not large(x) or mask.shape != x.shape or not eager_cpu(x) or mask.any():
        return NotImplemented
    return x


@torch_version(divergence.guarded)
def guarded(fn: Any, mask: Any, args: Any, fills: Any, *, value: float = 0.0, xp: Any) -> Any:
    """Eager CPU, no argument requiring a gradient: ``fn`` of the arguments as they are and
    only the outer select (:func:`where_rare`): the same values."""
    if not large(mask) or not eager_cpu(mask) or not no_gradients(*args):
        return NotImplemented
    return divergence.where_rare(mask, value, fn(*args), xp=xp)


def _unguarded(arrays: tuple[Any, ...], form: Any, reduce: Any = None) -> Any:
    """``form()`` (or ``reduce`` of it) on eager CPU tensors when it holds no NaN, else
    ``NotImplemented``: the unguarded form of a guarded term is NaN at every entry the
    guard changes, so a NaN-free result *is* the generic body's, in value and gradient."""
    if not all(a.ndim for a in arrays) or not eager_cpu(arrays[0]):
        return NotImplemented
    out = form()
    if out is None:
        return NotImplemented
    if reduce is not None:
        out = reduce(out)
    return NotImplemented if holds_nan(out) else out


@torch_version(divergence.exp_minus_product)
def exp_minus_product(x: Any, y: Any, *, xp: Any) -> Any:
    """``addcmul(exp(x), y, x, value=-1)``: one kernel fewer than torch's own
    ``poisson_nll_loss``."""
    torch = _t()
    return _unguarded((x, y), lambda: torch.addcmul(torch.exp(x), y, x, value=-1.0))


@torch_version(divergence.exp_times_difference)
def exp_times_difference(a: Any, b: Any, *, xp: Any, reduce: Any = None) -> Any:
    """``kl_div(b, a, log_target=True)`` for ``b`` of ``a``'s shape."""
    torch = _t()
    return _unguarded(
        (a, b),
        lambda: (
            torch.nn.functional.kl_div(b, a, reduction="none", log_target=True)
            if a.shape == b.shape
            else None
        ),
        reduce,
    )


@torch_version(divergence.xlog_ratio)
def xlog_ratio(t: Any, lp: Any, *, xp: Any, reduce: Any = None) -> Any:
    """Out of place.  (torch's ``kl_div`` takes ``xlogy``, finite at ``t = 0``, with a gradient
    there that is not the guard's: not a candidate.)"""
    torch = _t()
    return _unguarded((t, lp), lambda: t * (torch.log(t) - lp), reduce)


@torch_version(divergence.masked_terms_sum)
def masked_terms_sum(a: Any, keep_a: Any, b: Any, keep_b: Any, *, xp: Any) -> Any:
    return _unguarded((a, b), lambda: a * keep_a + b * keep_b)


# -- norms and sparsemax -----------------------------------------------------------------


@torch_version(norms.inverse_sqrt)
def inverse_sqrt(n2: Any, floor: Any, *, xp: Any) -> Any:
    """Eager, a number ``floor``: the generic steps in torch's own operations
    (``clamp_min``: derivative 1 at the floor, as the ``where``; ``rsqrt`` on the CPU, an
    approximation on CUDA: ``1/sqrt`` there), without the scalar tensors of
    array_api_compat's ``where``: 4 kernels instead of 7 for a small batch."""
    if not n2.ndim or not isinstance(floor, (int, float)) or not _eager():
        return NotImplemented
    torch = _t()
    m = torch.clamp_min(n2, floor)
    inv = torch.rsqrt if m.is_cpu else (lambda v: torch.reciprocal(torch.sqrt(v)))
    if floor > 0:
        return inv(m)
    nz = m != 0
    return torch.where(nz, inv(torch.where(nz, m, 1.0)), 0.0)


@torch_version(norms.vector_norm)
def vector_norm(x: Any, p: float, *, axis: Any = -1, keepdims: bool = False, xp: Any) -> Any:
    """``p = 2`` on eager CPU tensors: torch's own norm (one pass) where it can be trusted
    (see the NumPy backend's ``trusted_norm2``); the range of the norms is one kernel."""
    if p != 2 or not x.ndim or not eager_cpu(x):
        return NotImplemented
    torch = _t()
    plain = torch.linalg.vector_norm(x, 2, dim=axis, keepdim=True)
    if plain.numel():
        lo, hi = (v.item() for v in torch.aminmax(plain.detach()))
    else:
        lo, hi = math.inf, 0.0
    return _np_backend.trusted_norm2(plain, x, axis, keepdims, xp, lo, hi)


@torch_version(simplex.sparsemax)
def sparsemax_(x: Any, *, axis: int = -1, xp: Any) -> Any:
    """Eager CPU without gradients: ``τ`` from the sorted cumulative sum (see the NumPy
    backend)."""
    if not eager_cpu(x) or not no_gradients(x):
        return NotImplemented
    return _np_backend.sorted_tau_sparsemax(x, axis, xp, holds_nan)


# -- control flow ------------------------------------------------------------------------


@torch_version(control.stop_gradient)
def stop_gradient(x: Any, *, xp: Any) -> Any:
    return x.detach()


@torch_version(control.map_rows)
def map_rows(fn: Any, x: Any, *, xp: Any) -> Any:
    """``torch.func.vmap`` over the rows (no rows: the generic body's empty result)."""
    batch = tuple(x.shape[:-1])
    if math.prod(batch) == 0:
        return NotImplemented
    flat = xp.reshape(x, (-1, x.shape[-1]))
    return xp.reshape(_t().func.vmap(fn)(flat), batch)


# -- large vocabularies: the chunked gradient as an autograd.Function -------------------------


@torch_version("xlosses.large_vocab:linear_cross_entropy_rows")
def linear_cross_entropy_rows(
    x: Any, w: Any, b: Any, labels: Any, keep: Any, rw: Any, cw: Any, *, plan: Any, xp: Any
) -> Any:
    """The chunked forward with :func:`xlosses.large_vocab.backward` as its gradient (the
    logits recomputed chunk by chunk, not kept for every chunk), first-order: a second
    derivative raises (``generic_only()`` differentiates the loop itself, to any order).

    The ``torch.autograd.Function`` lives in :mod:`.torch_autograd`, imported here on first
    use: a class cannot be defined while ``torch.compile`` traces, an import can."""
    from .torch_autograd import LinearCrossEntropy

    return LinearCrossEntropy.apply(x, w, b, labels, keep, rw, cw, plan, xp)[0]


@torch_version(control.scan)
def scan(step: Any, carry: Any, xs: tuple[Any, ...], *, xp: Any) -> Any:
    """Eager, outside ``torch.func`` transforms, outputs that need no gradient (the chunked
    cross-entropy's backward): written into tensors allocated once (the NumPy backend's
    ``scan_into``), not kept and stacked (twice their size at the end)."""
    torch = _t()
    if xs[0].shape[0] == 0 or not _eager() or not _no_functorch(torch):
        return NotImplemented

    def alloc(n: int, y: tuple[Any, ...]) -> Any:
        if torch.is_grad_enabled() and any(v.requires_grad for v in y):
            return None
        return tuple(torch.empty((n, *v.shape), dtype=v.dtype, device=v.device) for v in y)

    return _np_backend.scan_into(step, carry, xs, alloc, lambda vs: torch.stack(vs, dim=0))
