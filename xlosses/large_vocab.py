r"""Large vocabularies: a linear layer and the softmax cross-entropy fused, in chunks.

In a language model the last layer's logits ``features @ weight.T`` have one
row per token and one column per word of the vocabulary: ``[tokens, vocab]``,
often the largest array of the whole step (8192 tokens × 32768 words in
float32 are 1 GiB, and their gradient another).  The losses here never build
it.  They loop over *chunks of the vocabulary* (``_ops.scan``: ``lax.scan`` on
JAX, a loop elsewhere) and keep per token an online log-sum-exp (the running
one and each chunk's, added in log space), the logit of its label (picked in
the chunk that holds it) and, for label smoothing, the running sum of its
logits.  Long batches are also cut into blocks of tokens, so that one chunk
of logits ``[tokens in the block, chunk]`` stays about ``2**22`` numbers.

The gradient is computed chunk by chunk as well, without automatic
differentiation: the forward keeps each token's log-sum-exp, and the backward
recomputes each chunk's logits and accumulates

.. math::
    \partial x = (\operatorname{softmax}(z) - \text{onehot})\,W,\qquad
    \partial W = (\operatorname{softmax}(z) - \text{onehot})^\top x,\qquad
    \partial b = \textstyle\sum_{\text{tokens}} (\operatorname{softmax}(z) - \text{onehot})

(with the terms of label smoothing, z-loss and soft-capping) in float32 for
16-bit inputs.  JAX (``jax.custom_vjp``) and torch (``torch.autograd.Function``)
attach it as the loss's gradient in ``xlosses/_backends/``; libraries without
automatic differentiation (NumPy, CuPy, Dask) call
:func:`linear_softmax_cross_entropy_and_grads`.  Under
:func:`xlosses.generic_only` the loss is the plain chunked forward, which
JAX and torch differentiate through the loop themselves (the reference the
custom gradients are tested against).

Everything here is written once against the array API standard.
"""

from __future__ import annotations

import math
from typing import Any

from ._checks import floating_input
from ._dispatch import accelerated, entry
from ._large_vocab_plan import Plan, setup
from ._namespace import cast, compiling, namespace
from ._ops import label_cross_entropy, logsumexp, scan, take_labels
from ._ops._util import device
from .classification import softmax_cross_entropy_with_integer_labels

__all__ = [
    "linear_softmax_cross_entropy_and_grads",
    "linear_softmax_cross_entropy_with_integer_labels",
]

Array = Any

# -- the math of one chunk ------------------------------------------------------------------


def _token_blocks(tokens: int, block: int) -> list[tuple[int, int]]:
    """``[(t0, t1), ...]`` of the token blocks; one of all tokens where ``block`` is 0."""
    if not block:
        return [(0, tokens)]
    return [(t0, min(t0 + block, tokens)) for t0 in range(0, tokens, block)]


def _logits(x: Array, w: Array, b: Array | None, cap: float | None, xp: Any) -> Array:
    """``x @ w.T + b`` in ``x``'s (compute) dtype, soft-capped: ``cap·tanh(z/cap)``."""
    z = xp.matmul(x, xp.matrix_transpose(cast(w, x.dtype, xp=xp)))
    if b is not None:
        z = z + cast(b, x.dtype, xp=xp)
    if cap is not None:
        z = cap * xp.tanh(z / cap)
    return z


def _chunk_parts(xs: tuple[Array, ...], has_bias: bool, has_cw: bool) -> tuple[Any, ...]:
    """``(w, start, b, cw)`` of one step's slices (``None`` for the parts a call lacks)."""
    w, start = xs[0], xs[1]
    i = 2
    b = cw = None
    if has_bias:
        b, i = xs[i], i + 1
    if has_cw:
        cw = xs[i]
    return w, start, b, cw


def _forward_step(
    carry: tuple[Array, ...],
    xs: tuple[Array, ...],
    *,
    plan: Plan,
    parts: tuple[bool, bool],
    xp: Any,
) -> tuple[tuple[Array, ...], tuple[()]]:
    """One vocabulary chunk: the online log-sum-exp (the running one and the chunk's,
    added in log space), the label's logit, the logits' sum."""
    x, labels, lse, zy, zs = carry
    w, start, b, cw = _chunk_parts(xs, *parts)
    z = _logits(x, w, b, plan.softcap, xp)
    lse = xp.logaddexp(lse, logsumexp(z, axis=-1, xp=xp))  # the first step adds to -inf
    local = labels - start
    inside = (local >= 0) & (local < w.shape[0])
    picked = take_labels(z, xp.where(inside, local, 0), axis=-1, xp=xp)
    zy = zy + xp.where(inside, picked, 0.0)
    if plan.smoothing:
        zs = zs + xp.sum(z if cw is None else z * cast(cw, z.dtype, xp=xp), axis=-1)
    return (x, labels, lse, zy, zs), ()


def _backward_step(
    carry: tuple[Array, ...],
    xs: tuple[Array, ...],
    *,
    plan: Plan,
    parts: tuple[bool, bool],
    xp: Any,
) -> tuple[tuple[Array, ...], tuple[Array, ...]]:
    """One vocabulary chunk of the gradient: ``∂z`` from the saved log-sum-exp, then
    ``∂x += ∂z W``, ``∂W = ∂zᵀ x``, ``∂b = Σ ∂z``."""
    x, labels, lse, a, by, bs, positions, dx = carry
    w, start, b, cw = _chunk_parts(xs, *parts)
    c = w.shape[0]
    hit = (labels - start)[:, None] == positions[None, :c]
    # one expression: each temporary dies as soon as it is used (NumPy even reuses it)
    cap = plan.softcap
    z = None if cap is None else _logits(x, w, b, cap, xp)  # kept for the cap's derivative
    dz = a[:, None] * xp.exp(
        (_logits(x, w, b, cap, xp) if z is None else z) - lse[:, None]
    ) - xp.where(hit, by[:, None], 0.0)
    if plan.smoothing:
        dz = dz - (bs[:, None] if cw is None else bs[:, None] * cast(cw, dz.dtype, xp=xp))
    if z is not None:
        t = z / cap
        dz = dz * (1.0 - t * t)
    wc = cast(w, x.dtype, xp=xp)
    dx = dx + xp.matmul(dz, wc)
    dw = cast(xp.matmul(xp.matrix_transpose(dz), x), w.dtype, xp=xp)
    out: tuple[Array, ...] = (dw,)
    if b is not None:
        out += (cast(xp.sum(dz, axis=0), b.dtype, xp=xp),)
    return (x, labels, lse, a, by, bs, positions, dx), out


# module-level steps with their static options bound, one per (step, plan, parts,
# namespace): JAX compiles one loop body per step object (_ops.scan's contract)
_STEPS: dict[tuple[Any, ...], Any] = {}


def _step(body: Any, plan: Plan, parts: tuple[bool, bool], xp: Any) -> Any:
    key = (body, plan, parts, xp.__name__)
    step = _STEPS.get(key)
    if step is None:

        def step(carry: Any, xs: Any) -> Any:
            return body(carry, xs, plan=plan, parts=parts, xp=xp)

        if not compiling():  # filled outside torch.compile only (see _dispatch.compiling)
            _STEPS[key] = step
    return step


def _chunks(
    w: Array, b: Array | None, cw: Array | None, labels: Array, chunk: int, xp: Any
) -> tuple[tuple[Array, ...] | None, tuple[Array, ...] | None]:
    """The scanned slices of the whole chunks and those of the last, shorter chunk.

    Whole chunks: ``w`` ``[n, chunk, D]``, their first word ``[n]`` (labels' dtype),
    ``b`` ``[n, chunk]``, ``cw`` ``[n, chunk]`` (reshapes, no copy where the vocabulary
    divides).  The rest (``V mod chunk`` words) is one more step with 2-D slices.
    """
    vocab, dim = w.shape
    n, rest = vocab // chunk, vocab % chunk  # not divmod: symbolic sizes under torch.compile
    dev = device(labels)
    whole = None
    if n:
        end = n * chunk
        starts = xp.arange(0, end, chunk, dtype=labels.dtype, device=dev)
        ww = w if end == vocab else w[:end, ...]
        whole = (xp.reshape(ww, (n, chunk, dim)), starts)
        for v in (b, cw):
            if v is not None:
                whole += (xp.reshape(v if end == vocab else v[:end], (n, chunk)),)
    last = None
    if rest:
        end = n * chunk
        last = (w[end:, ...], xp.asarray(end, dtype=labels.dtype, device=dev))
        for v in (b, cw):
            if v is not None:
                last += (v[end:],)
    return whole, last


def _loop(
    body: Any,
    carry: tuple[Array, ...],
    w: Array,
    b: Array | None,
    cw: Array | None,
    labels: Array,
    plan: Plan,
    xp: Any,
) -> tuple[tuple[Array, ...], list[tuple[Array, ...]]]:
    """``body`` over the vocabulary chunks: the final carry and each part's outputs."""
    parts = (b is not None, cw is not None)
    step = _step(body, plan, parts, xp)
    whole, last = _chunks(w, b, cw, labels, plan.chunk, xp)
    outs = []
    if whole is not None:
        carry, ys = scan(step, carry, whole, xp=xp)
        outs.append(ys)
    if last is not None:
        carry, y = step(carry, last)
        outs.append(tuple(xp.expand_dims(v, axis=0) for v in y))
    return carry, outs


# -- forward and backward of 2-D inputs ----------------------------------------------------


def _row_terms(
    ce: Array, lse: Array, zs: Array, rw: Array | None, cw_mean: Any, plan: Plan, xp: Any
) -> Array:
    """``rw(1-ε)·ce + ε(w̄·lse - Σ_c w_c z_c / V) + z_loss·lse²`` per token, with ``ce`` =
    ``lse - z_y`` (``lse`` and ``zs`` are read only with label smoothing or a z-loss)."""
    eps = plan.smoothing
    loss = ce if rw is None else rw * ce
    if eps:
        loss = (1.0 - eps) * loss + eps * (cw_mean * lse - zs / plan.vocab)
    if plan.z_loss:
        loss = loss + plan.z_loss * (lse * lse)
    return loss


def _class_weight_mean(cw: Array | None, xp: Any) -> Any:
    return 1.0 if cw is None else xp.mean(cw)


def forward(
    x: Array,
    w: Array,
    b: Array | None,
    labels: Array,
    keep: Array | None,
    rw: Array | None,
    cw: Array | None,
    *,
    plan: Plan,
    xp: Any,
) -> tuple[Array, Array]:
    """Per-token loss ``[T]`` and log-sum-exp ``[T]`` of 2-D ``x`` ``[T, D]`` (compute dtype).

    ``w`` ``[V, D]`` and ``b`` ``[V]`` in their own dtypes (cast chunk by chunk),
    ``labels`` ``[T]``, ``keep`` (bool ``[T]`` or ``None``: masked tokens have loss 0),
    ``rw`` (``[T]``: a weight of each token's cross-entropy term) and ``cw`` (``[V]``:
    class weights of label smoothing's term), both optional.  Labels outside
    ``[0, V)`` give NaN in their own rows.  Differentiable by JAX and torch through the
    loop.
    """
    tokens = x.shape[0]
    losses, lses = [], []
    for t0, t1 in _token_blocks(tokens, plan.block):
        whole = t0 == 0 and t1 == tokens
        xb = x if whole else x[t0:t1, ...]
        lb = labels if whole else labels[t0:t1]
        n = t1 - t0
        zeros = xp.zeros((n,), dtype=x.dtype, device=device(x))
        init = (xb, lb, zeros - math.inf, zeros, zeros)
        (_, _, lse, zy, zs), _ = _loop(_forward_step, init, w, b, cw, lb, plan, xp)
        rwb = rw if rw is None or whole else rw[t0:t1]
        losses.append(_row_terms(lse - zy, lse, zs, rwb, _class_weight_mean(cw, xp), plan, xp))
        lses.append(lse)
    loss = losses[0] if len(losses) == 1 else xp.concat(losses)
    lse = lses[0] if len(lses) == 1 else xp.concat(lses)
    valid = (labels >= 0) & (labels < plan.vocab)
    return _masked(loss, valid, keep, xp), lse


def _masked(loss: Array, valid: Array | None, keep: Array | None, xp: Any) -> Array:
    """NaN for tokens with invalid labels (``valid``; ``None``: none), 0 for masked ones."""
    if valid is not None:
        loss = xp.where(valid, loss, xp.nan)
    return loss if keep is None else xp.where(keep, loss, 0.0)


# Problems of at most this many logits take the dense path: their logits are a few hundred
# KiB, and one vocabulary chunk's loop (online log-sum-exp, custom gradient) costs ~20 small
# operations where the dense cross-entropy is three.
DENSE = 1 << 16


def dense_rows(
    x: Array,
    w: Array,
    b: Array | None,
    labels: Array,
    keep: Array | None,
    rw: Array | None,
    cw: Array | None,
    *,
    plan: Plan,
    checked: bool = False,
    xp: Any,
) -> Array:
    """Per-token loss ``[T]`` of a small problem (see :func:`forward`) from its logits,
    differentiated by the library's automatic differentiation.  ``checked``: every label
    (of the tokens kept) is known to lie in ``[0, V)``, so none is masked."""
    z = _logits(x, w, b, plan.softcap, xp)
    if checked:
        safe, valid = labels if keep is None else xp.where(keep, labels, 0), None
    else:
        valid = (labels >= 0) & (labels < plan.vocab)
        safe = xp.where(valid, labels, 0)
    ce = label_cross_entropy(z, safe, axis=-1, xp=xp)
    lse = zs = None
    if plan.smoothing or plan.z_loss:
        lse = logsumexp(z, axis=-1, xp=xp)
        if plan.smoothing:
            zs = xp.sum(z if cw is None else z * cast(cw, z.dtype, xp=xp), axis=-1)
    loss = _row_terms(ce, lse, zs, rw, _class_weight_mean(cw, xp), plan, xp)
    return _masked(loss, valid, keep, xp)


def small_problem(features: Array, weight: Array, labels: Array, bias: Array | None) -> bool:
    """Consistent shapes (``[..., D]`` features, ``[V, D]`` weight, labels of the batch
    shape, a ``[V]`` bias or none) of at most ``DENSE`` logits: what the dense path takes
    (anything else goes to the checks of :func:`xlosses._large_vocab_plan.setup`)."""
    return (
        features.ndim >= 1
        and weight.ndim == 2
        and weight.shape[1] == features.shape[-1]
        and tuple(labels.shape) == tuple(features.shape[:-1])
        and (bias is None or tuple(bias.shape) == (weight.shape[0],))
        and math.prod(features.shape[:-1]) * weight.shape[0] <= DENSE
    )


def token_losses(
    x: Array,
    w: Array,
    b: Array | None,
    labels: Array,
    keep: Array | None,
    rw: Array | None,
    cw: Array | None,
    *,
    plan: Plan,
    checked: bool = False,
    xp: Any,
) -> Array:
    """Per-token loss ``[T]``: :func:`dense_rows` for one chunk of at most ``DENSE``
    logits, else the chunked :func:`linear_cross_entropy_rows`."""
    if plan.block == 0 and plan.chunk == plan.vocab and x.shape[0] * plan.vocab <= DENSE:
        return dense_rows(x, w, b, labels, keep, rw, cw, plan=plan, checked=checked, xp=xp)
    return linear_cross_entropy_rows(x, w, b, labels, keep, rw, cw, plan=plan, xp=xp)


def backward(
    x: Array,
    w: Array,
    b: Array | None,
    labels: Array,
    keep: Array | None,
    rw: Array | None,
    cw: Array | None,
    lse: Array,
    g: Array,
    *,
    plan: Plan,
    xp: Any,
) -> tuple[Array, Array, Array | None]:
    """``(∂x, ∂w, ∂b)`` of ``Σ g·loss`` (:func:`forward`'s arguments, its ``lse``).

    ``∂x`` in ``x``'s dtype, ``∂w`` and ``∂b`` in their own; accumulated in ``x``'s
    (compute) dtype.  Masked tokens and tokens with invalid labels contribute nothing.
    """
    tokens = x.shape[0]
    eps = plan.smoothing
    g = cast(g, x.dtype, xp=xp)
    valid = (labels >= 0) & (labels < plan.vocab)
    use = valid if keep is None else valid & keep
    g = xp.where(use, g, 0.0)  # before any product: a NaN cotangent of a masked row stays out
    by = g if rw is None else g * rw
    by = (1.0 - eps) * by
    a = by + 2.0 * plan.z_loss * g * lse if plan.z_loss else by
    if eps:
        a = a + (eps * _class_weight_mean(cw, xp)) * g
    bs = (eps / plan.vocab) * g
    positions = xp.arange(plan.chunk, dtype=labels.dtype, device=device(labels))
    dxs, dws, dbs = [], None, None
    for t0, t1 in _token_blocks(tokens, plan.block):
        whole = t0 == 0 and t1 == tokens

        def part(v: Array) -> Array:
            return v if whole else v[t0:t1, ...]  # noqa: B023 (used at once)

        xb = part(x)
        dx0 = xp.zeros(tuple(xb.shape), dtype=x.dtype, device=device(x))
        init = (xb, part(labels), part(lse), part(a), part(by), part(bs), positions, dx0)
        carry, outs = _loop(_backward_step, init, w, b, cw, part(labels), plan, xp)
        dxs.append(carry[-1])
        dw = _join([o[0] for o in outs], w.shape, xp)
        dws = dw if dws is None else dws + dw
        if b is not None:
            db = _join([o[1] for o in outs], b.shape, xp)
            dbs = db if dbs is None else dbs + db
    dx = dxs[0] if len(dxs) == 1 else xp.concat(dxs, axis=0)
    return dx, dws, dbs


def _join(pieces: list[Array], shape: tuple[int, ...], xp: Any) -> Array:
    """Stacked per-chunk outputs ``[n, chunk, ...]`` (and the last chunk's) as ``shape``."""
    flat = [xp.reshape(p, (-1, *shape[1:])) for p in pieces]
    return flat[0] if len(flat) == 1 else xp.concat(flat, axis=0)


# -- the dispatch point of the custom gradients ---------------------------------------------


@accelerated
def linear_cross_entropy_rows(
    x: Array,
    w: Array,
    b: Array | None,
    labels: Array,
    keep: Array | None,
    rw: Array | None,
    cw: Array | None,
    *,
    plan: Plan,
    xp: Any,
) -> Array:
    """Per-token loss ``[T]`` of 2-D ``x`` (see :func:`forward`).

    The generic body is the chunked forward itself, which automatic differentiation
    follows through the loop.  JAX and torch attach :func:`backward` as its gradient
    (``jax.custom_vjp``, ``torch.autograd.Function`` in ``xlosses/_backends/``): the
    logits are recomputed chunk by chunk instead of being kept for every chunk.
    """
    return forward(x, w, b, labels, keep, rw, cw, plan=plan, xp=xp)[0]


# -- public functions -----------------------------------------------------------------------


@entry
def linear_softmax_cross_entropy_with_integer_labels(
    features: Array,
    weight: Array,
    labels: Array,
    *,
    bias: Array | None = None,
    where: Array | None = None,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    logit_softcap: float | None = None,
    chunk_size: int | None = None,
) -> Array:
    r"""Softmax cross-entropy of a linear layer's logits, without the logits.

    With logits :math:`z = x W^\top + b` (soft-capped to
    :math:`c \tanh(z / c)` with ``logit_softcap`` :math:`c`), label
    smoothing :math:`\varepsilon` over :math:`V` classes and z-loss
    coefficient :math:`\lambda`:

    .. math::
        \ell = (1 - \varepsilon)\,\bigl(\operatorname{lse}(z) - z_y\bigr)
             + \varepsilon\,\Bigl(\operatorname{lse}(z) - \frac{1}{V}\sum_c z_c\Bigr)
             + \lambda \operatorname{lse}(z)^2,
        \qquad \operatorname{lse}(z) = \log \sum_c e^{z_c}.

    The same values as
    ``softmax_cross_entropy_with_integer_labels(features @ weight.T + bias, labels)``
    (and, with ``label_smoothing``, as ``softmax_cross_entropy`` with
    ``smooth_labels`` of the one-hot labels), but the ``[tokens, vocab]``
    logits are never built: a loop over chunks of the vocabulary keeps an
    online log-sum-exp per token (:mod:`xlosses.large_vocab`).  On JAX and
    torch the gradient recomputes each chunk's logits (float32 accumulation
    for 16-bit inputs) instead of keeping them; it is first-order only (use
    :func:`xlosses.generic_only` to differentiate the loop itself, to any
    order).

    Parameters
    ----------
    features : array, shape ``[..., dim]``
        The last hidden states (real floating dtype).
    weight : array, shape ``[vocab, dim]``
        The output layer's weight: the layout of a torch ``Linear`` weight and
        of a tied embedding table.
    labels : integer array, shape ``features.shape[:-1]``
        Class indices in ``[0, vocab)``.
    bias : array, shape ``[vocab]``, optional
        The output layer's bias.
    where : bool array, shape ``labels.shape``, optional
        Tokens to include; the others have loss 0 and no gradient, and their
        labels are not read (padding values such as -100 are fine there).
    label_smoothing : float, default 0.0
        :math:`\varepsilon \in [0, 1]`, as ``optax.smooth_labels`` and torch's
        ``label_smoothing``.
    z_loss : float, default 0.0
        :math:`\lambda \ge 0`: PaLM's auxiliary loss :math:`\lambda \log^2 Z`
        that keeps the softmax normaliser near 1.
    logit_softcap : float, optional
        :math:`c > 0`: Gemma 2's soft-capping of the logits,
        :math:`c \tanh(z / c)`.
    chunk_size : int, optional
        Words of the vocabulary per chunk.  ``None`` chooses ``2**22 // tokens``
        rounded down to a multiple of 128 (at least 256, at most ``vocab``),
        so that one chunk of logits holds about :math:`2^{22}` numbers (16 MiB in
        float32); batches of more than :math:`2^{23} / \text{chunk}` tokens are
        also cut into blocks of :math:`2^{22} / \text{chunk}` tokens.  The
        forward then needs a few chunk-sized temporaries (about 5 × 16 MiB)
        beyond the per-token statistics; the gradient adds ``∂features``
        ``[tokens, dim]`` in float32 and the per-chunk pieces of ``∂weight``
        (``[vocab, dim]``, joined once at the end).

    Returns
    -------
    array, shape ``labels.shape``
        Per-token loss, in the floating dtype of ``features`` (and ``weight``,
        ``bias``: the promotion of the three).

    Notes
    -----
    Out-of-range labels raise ``ValueError`` on eager CPU backends; where no
    check can run (under ``jax.jit``, ``torch.compile``, on GPUs, on Dask)
    their rows are NaN and contribute no gradient.  Libraries without
    automatic differentiation get the gradients from
    :func:`linear_softmax_cross_entropy_and_grads`.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> features = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> weight = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> labels = np.array([0, 2])
    >>> loss = xlosses.linear_softmax_cross_entropy_with_integer_labels(features, weight, labels)
    >>> print(np.round(loss, 4))  # logits [1, 0, 0] and [0, 2, 0]
    [0.5514 2.2395]
    >>> print(np.round(xlosses.softmax_cross_entropy_with_integer_labels(features @ weight.T, labels), 4))
    [0.5514 2.2395]

    References
    ----------
    Wijmans et al., *Cut Your Losses in Large-Vocabulary Language Models*,
    ICLR 2025.  Hsu et al., *Liger Kernel: Efficient Triton Kernels for LLM
    Training*, 2024.  Chowdhery et al., *PaLM*, JMLR 2023 (z-loss).  Gemma
    Team, *Gemma 2*, 2024 (logit soft-capping).
    """
    xp, features, weight, labels, bias, where = namespace(
        features=features, weight=weight, labels=labels, bias=bias, where=where, indices=("labels",)
    )
    plain = where is None and not label_smoothing and not z_loss and logit_softcap is None
    if plain and chunk_size is None and small_problem(features, weight, labels, bias):
        # a few hundred KiB of logits: the plain cross-entropy of them (one kernel on torch)
        x, dtype = floating_input(xp, features, "features")
        floating_input(xp, weight, "weight")
        if bias is not None:
            floating_input(xp, bias, "bias")
        z = _logits(x, weight, bias, None, xp)
        return cast(softmax_cross_entropy_with_integer_labels(z, labels), dtype, xp=xp)
    p = setup(
        xp,
        features,
        weight,
        labels,
        bias,
        where,
        label_smoothing,
        z_loss,
        logit_softcap,
        chunk_size,
    )
    loss = token_losses(
        p.x, p.w, p.b, p.labels, p.keep, None, None, plan=p.plan, checked=p.checked, xp=xp
    )
    return cast(xp.reshape(loss, p.batch), p.dtype, xp=xp)


def linear_softmax_cross_entropy_and_grads(
    features: Array,
    weight: Array,
    labels: Array,
    *,
    bias: Array | None = None,
    where: Array | None = None,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    logit_softcap: float | None = None,
    chunk_size: int | None = None,
    cotangent: Array | None = None,
) -> tuple[Array, Array, Array, Array | None]:
    r"""The loss of :func:`linear_softmax_cross_entropy_with_integer_labels` and its gradients.

    For libraries without automatic differentiation (NumPy, CuPy, Dask), and
    for hand-written training loops anywhere: one forward over the
    vocabulary chunks, then one backward that recomputes each chunk's logits
    and accumulates the gradients of

    .. math::
        L = \sum_n g_n\, \ell_n

    with respect to ``features``, ``weight`` and ``bias``, where :math:`g`
    is ``cotangent`` (default: ones, the gradient of ``loss.sum()``; pass
    ``1/N`` for the mean).  16-bit inputs accumulate in float32.

    Parameters
    ----------
    features, weight, labels, bias, where, label_smoothing, z_loss, logit_softcap, chunk_size
        As in :func:`linear_softmax_cross_entropy_with_integer_labels`.
    cotangent : array, shape ``labels.shape``, optional
        Weight :math:`g_n` of each token's loss in :math:`L`.

    Returns
    -------
    loss : array, shape ``labels.shape``
        Per-token loss, as :func:`linear_softmax_cross_entropy_with_integer_labels`.
    d_features : array, shape and dtype of ``features``
    d_weight : array, shape and dtype of ``weight``
    d_bias : array, shape and dtype of ``bias``, or ``None`` without ``bias``

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> features = np.array([[0.0, 0.0]])
    >>> weight = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> loss, d_features, d_weight, d_bias = xlosses.linear_softmax_cross_entropy_and_grads(
    ...     features, weight, np.array([0]), bias=np.zeros(2))
    >>> print(np.round(loss, 4), d_bias)  # log 2; softmax - onehot = [0.5, 0.5] - [1, 0]
    [0.6931] [-0.5  0.5]
    >>> print(d_features)  # (softmax - onehot) @ weight
    [[-0.5  0.5]]
    """
    xp, features, weight, labels, bias, where, cotangent = namespace(
        features=features,
        weight=weight,
        labels=labels,
        bias=bias,
        where=where,
        cotangent=cotangent,
        indices=("labels",),
    )
    p = setup(
        xp,
        features,
        weight,
        labels,
        bias,
        where,
        label_smoothing,
        z_loss,
        logit_softcap,
        chunk_size,
    )
    tokens = p.labels.shape[0]
    if cotangent is None:
        g = xp.ones((tokens,), dtype=p.x.dtype, device=device(p.x))
    else:
        floating_input(xp, cotangent, "cotangent")
        if tuple(cotangent.shape) != p.batch:
            raise ValueError(
                f"cotangent shape {tuple(cotangent.shape)} must equal labels shape {p.batch}"
            )
        g = xp.reshape(cast(cotangent, p.x.dtype, xp=xp), (tokens,))
    loss, lse = forward(p.x, p.w, p.b, p.labels, p.keep, None, None, plan=p.plan, xp=xp)
    dx, dw, db = backward(p.x, p.w, p.b, p.labels, p.keep, None, None, lse, g, plan=p.plan, xp=xp)
    loss = cast(xp.reshape(loss, p.batch), p.dtype, xp=xp)
    dx = cast(xp.reshape(dx, tuple(features.shape)), features.dtype, xp=xp)
    return loss, dx, dw, db
