r"""Sequence losses: connectionist temporal classification (CTC).

The CTC forward recursion is written once, in log space, against the array API
standard (:func:`_ctc_forward`).  Two public faces map onto it:

* :func:`ctc_loss` and :func:`ctc_loss_with_forward_probs`, drop-in for
  ``optax.losses`` (batch-major logits, padding indicators, ``log_epsilon`` as
  the approximation of ``log 0``);
* :func:`ctc_loss_from_lengths`, the core of ``torch.nn.functional.ctc_loss``
  (time-major log-probabilities, lengths, an exact ``log 0 = -inf``).

The recursion loops over time steps with :func:`xlosses._ops.scan`: a Python
loop (unrolled by ``jax.jit`` and ``torch.compile``, so that the compiled graph
grows with the number of time steps) whose JAX fast path is ``jax.lax.scan``.
The per-batch cores :func:`ctc_paddings_loss` and :func:`ctc_lengths_loss`
are declared ``@accelerated``: on eager CPU torch the backend hands the batch
to torch's fused ``ctc_loss`` kernel where it gives the generic body's numbers
(checked on the inputs and the result; see ``xlosses/_backends/torch.py``).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from array_api_compat import device as _device

from ._checks import (
    check_floating,
    check_integer,
    check_label_range,
    check_length_range,
    normalize_axes,
)
from ._dispatch import accelerated, read
from ._namespace import cast, compute_dtype, namespace, value_checks_possible
from ._ops import gather, log_softmax, safe_logaddexp, scan, zero_unread_rows

__all__ = ["ctc_loss", "ctc_loss_from_lengths", "ctc_loss_with_forward_probs"]

Array = Any


def _padding_mask(p: Array, *, xp: Any) -> Array:
    """Padding indicators (1.0 / 0.0, integers or booleans) as a boolean mask."""
    return p if p.dtype == xp.bool else p != 0


def _check_blank(blank: Any, num_classes: int, name: str) -> int:
    try:
        blank = operator.index(blank)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(blank).__name__}") from None
    if not 0 <= blank < num_classes:
        raise ValueError(f"{name}={blank} is out of range for {num_classes} classes")
    return blank


def _ctc_step(carry: tuple[Array, ...], x: tuple[Array, ...]) -> tuple[tuple[Array, ...], tuple]:
    """One frame of the CTC recursion (see :func:`_ctc_forward`).

    A module-level function with the per-batch constants in the carry, so that
    eager ``jax.lax.scan`` finds its compiled loop body in the cache.
    """
    phi, emit, eps_repeat, eps_differ = carry
    e, b, pad = x
    xp, phi = namespace(phi=phi)
    b = b[:, None]
    pad = pad[:, None]
    phi_tail = safe_logaddexp(phi[:, 1:], emit + eps_repeat, xp=xp)  # epsilon move
    phi_eps = xp.concat([phi[:, :1], phi_tail], axis=1)
    next_emit = safe_logaddexp(phi_eps[:, :-1], emit, xp=xp) + e
    next_tail = safe_logaddexp(phi_tail, emit + eps_differ, xp=xp) + b
    next_phi = xp.concat([phi[:, :1] + b, next_tail], axis=1)
    next_phi = xp.where(pad, phi, next_phi)
    next_emit = xp.where(pad, emit, next_emit)
    return (next_phi, next_emit, eps_repeat, eps_differ), ()


def _ctc_step_keep(carry: tuple[Array, ...], x: tuple[Array, ...]) -> tuple[Any, Any]:
    """:func:`_ctc_step` that also outputs the alphas of the frame."""
    carry, _ = _ctc_step(carry, x)
    return carry, carry[:2]


def _ctc_forward(
    logp: Array,
    labels: Array,
    label_pad: Array,
    frame_pad: Array,
    *,
    blank: int,
    log_zero: Array,
    keep: bool,
    xp: Any,
) -> tuple[Array, Array | None, Array | None]:
    r"""The CTC forward (alpha) recursion in log space: the math of every CTC loss.

    ``logp`` ``[T, B, K]`` are time-major log-probabilities, ``labels``
    ``[B, N]`` integer labels (any value at padded positions), ``label_pad``
    ``[B, N]`` and ``frame_pad`` ``[T, B]`` boolean padding masks (True =
    padded; labels right-padded, padded frames are skipped).  ``log_zero`` (a
    0-d array) stands for ``log 0``: ``-inf`` (exact) or optax's
    ``log_epsilon``.

    Two states per label position, as in optax: ``phi[n]`` (``N + 1`` of them)
    is the blank state after ``n`` labels, ``emit[n]`` the state emitting label
    ``n``.  Per frame with blank log-probability ``b`` and label
    log-probabilities ``e``::

        phi'[n]   = phi[n] ⊕ (emit[n-1] + [l_{n-1} = l_n]·log 0)       (epsilon move)
        emit[n]  <- (phi'[n] ⊕ emit[n]) + e[n]
        phi[n]   <- (phi'[n] ⊕ (emit[n-1] + [l_{n-1} ≠ l_n]·log 0)) + b

    with ``⊕`` the log-sum-exp of two terms (:func:`safe_logaddexp`, exact at
    ``-inf``); after the last frame ``phi[n] ⊕= emit[n-1]``, and the loss is
    ``-phi[S]`` at the label length ``S``.

    Returns ``(loss [B], logalpha_phi [T, B, N+1], logalpha_emit [T, B, N])``;
    the last two are ``None`` unless ``keep``.
    """
    _, batch, num_classes = logp.shape
    n = labels.shape[1]
    dev = _device(logp)
    # emission log-probabilities gathered per label (no one-hot): [T, B, N]
    in_range = (labels >= 0) & (labels < num_classes)
    idx = xp.where(in_range, labels, 0)
    emit_lp = gather(logp, xp.expand_dims(idx, axis=0), axis=2, xp=xp)
    # as optax's one-hot: a padded label outside [0, K) has log-probability 0;
    # an unpadded one is invalid and makes its row NaN
    emit_lp = xp.where(in_range, emit_lp, 0.0)
    emit_lp = xp.where(in_range | label_pad, emit_lp, xp.nan)
    blank_lp = logp[:, :, blank]  # [T, B]

    if n > 0:
        same = labels[:, 1:] == labels[:, :-1]
        repeat = xp.concat([same, xp.zeros((batch, 1), dtype=xp.bool, device=dev)], axis=1)
    else:
        repeat = xp.zeros((batch, 0), dtype=xp.bool, device=dev)
    # emit -> next label directly (no blank) is impossible when the label repeats
    eps_repeat = xp.where(repeat, log_zero, 0.0)
    eps_differ = xp.where(repeat, 0.0, log_zero)

    first = xp.arange(n + 1, dtype=labels.dtype, device=dev) == 0
    phi0 = xp.broadcast_to(xp.where(first, 0.0, log_zero), (batch, n + 1))
    emit0 = xp.broadcast_to(log_zero, (batch, n))

    step = _ctc_step_keep if keep else _ctc_step
    carry = (phi0, emit0, eps_repeat, eps_differ)
    (phi, emit, _, _), ys = scan(step, carry, (emit_lp, blank_lp, frame_pad), xp=xp)
    phi_last = xp.concat([phi[:, :1], safe_logaddexp(phi[:, 1:], emit, xp=xp)], axis=1)
    # explicit dtypes: a sum of int32 is int64 by default where int64 exists
    lengths = n - xp.sum(cast(label_pad, labels.dtype, xp=xp), axis=1, dtype=labels.dtype)
    loss = -gather(phi_last, lengths[:, None], axis=1, xp=xp)[:, 0]
    if not keep:
        return loss, None, None
    phis, emits = ys
    phis = xp.concat([phis[:-1, ...], phi_last[None, ...]], axis=0)
    return loss, phis, emits


def _check_ctc_shapes(logits: Array, logit_paddings: Array, labels: Array, label_paddings: Array):
    if logits.ndim != 3:
        raise ValueError(f"logits must have shape [B, T, K], got shape {tuple(logits.shape)}")
    if labels.ndim != 2:
        raise ValueError(f"labels must have shape [B, N], got shape {tuple(labels.shape)}")
    if tuple(logit_paddings.shape) != tuple(logits.shape[:2]):
        raise ValueError(
            f"logit_paddings shape {tuple(logit_paddings.shape)} must equal logits shape "
            f"{tuple(logits.shape)} without its last axis"
        )
    if tuple(label_paddings.shape) != tuple(labels.shape):
        raise ValueError(
            f"label_paddings shape {tuple(label_paddings.shape)} must equal labels shape "
            f"{tuple(labels.shape)}"
        )
    if labels.shape[0] != logits.shape[0]:
        raise ValueError(
            f"labels shape {tuple(labels.shape)} and logits shape {tuple(logits.shape)} "
            "have different batch sizes"
        )
    if logits.shape[1] == 0:
        raise ValueError("logits must have at least one time step (T >= 1)")


def _optax_ctc(
    logits: Array,
    logit_paddings: Array,
    labels: Array,
    label_paddings: Array,
    blank_id: int,
    log_epsilon: Any,
    keep: bool,
) -> tuple[Any, ...]:
    """The optax-compatible set-up: checks, log-softmax, paddings, then the recursion."""
    xp, logits, logit_paddings, labels, label_paddings, log_epsilon = namespace(
        logits=logits,
        logit_paddings=logit_paddings,
        labels=labels,
        label_paddings=label_paddings,
        log_epsilon=log_epsilon,
        numbers=("log_epsilon",),
    )
    check_floating(logits, "logits", xp=xp)
    check_integer(labels, "labels", xp=xp)
    _check_ctc_shapes(logits, logit_paddings, labels, label_paddings)
    blank = _check_blank(blank_id, logits.shape[2], "blank_id")
    dtype = logits.dtype
    x = cast(logits, compute_dtype(xp, dtype), xp=xp)
    label_pad = _padding_mask(label_paddings, xp=xp)
    check_label_range(xp.where(label_pad, 0, labels), x.shape[2], xp=xp)
    frame_pad = _padding_mask(logit_paddings, xp=xp)  # [B, T]
    if not keep:
        loss = ctc_paddings_loss(
            x, frame_pad, labels, label_pad, blank=blank, log_epsilon=log_epsilon, xp=xp
        )
        return cast(loss, dtype, xp=xp), None, None
    out = _paddings_recursion(x, frame_pad, labels, label_pad, blank, log_epsilon, True, xp)
    return tuple(cast(o, dtype, xp=xp) for o in out)


@accelerated
def ctc_paddings_loss(
    x: Array,
    frame_pad: Array,
    labels: Array,
    label_pad: Array,
    *,
    blank: int,
    log_epsilon: Any,
    xp: Any,
) -> Array:
    """optax's CTC loss ``[B]`` in ``x``'s (compute) dtype: ``x`` ``[B, T, K]`` logits,
    boolean paddings ``frame_pad [B, T]`` and ``label_pad [B, N]``, ``labels [B, N]``
    whose unpadded entries were checked (where a check could run), ``log_epsilon`` a
    number or a 0-d array."""
    return _paddings_recursion(x, frame_pad, labels, label_pad, blank, log_epsilon, False, xp)[0]


def _paddings_recursion(
    x: Array,
    frame_pad: Array,
    labels: Array,
    label_pad: Array,
    blank: int,
    log_epsilon: Any,
    keep: bool,
    xp: Any,
) -> tuple[Any, ...]:
    """``log_softmax`` of the logits, then :func:`_ctc_forward` with ``log_epsilon``."""
    # padded frames are never read: zeros there keep NaN or inf padding out of the gradients
    x = zero_unread_rows(x, frame_pad, xp=xp)
    frame_pad = xp.permute_dims(frame_pad, (1, 0))  # [T, B]
    logp = xp.permute_dims(log_softmax(x, axis=-1, xp=xp), (1, 0, 2))  # [T, B, K]
    if isinstance(log_epsilon, (int, float)):
        log_zero = xp.asarray(float(log_epsilon), dtype=x.dtype, device=_device(x))
    else:
        log_zero = cast(log_epsilon, x.dtype, xp=xp)
    return _ctc_forward(
        logp, labels, label_pad, frame_pad, blank=blank, log_zero=log_zero, keep=keep, xp=xp
    )


def ctc_loss_with_forward_probs(
    logits: Array,
    logit_paddings: Array,
    labels: Array,
    label_paddings: Array,
    *,
    blank_id: int = 0,
    log_epsilon: float | Array = -1e5,
) -> tuple[Array, Array, Array]:
    r"""CTC loss and the log forward probabilities (Graves et al., 2006).

    With :math:`p_t = \operatorname{softmax}(\mathrm{logits}_t)` over the
    unpadded frames and :math:`\mathcal{B}` the map that merges repeated
    symbols and then removes blanks,

    .. math::
        \ell = -\log \sum_{\pi:\ \mathcal{B}(\pi) = y}\ \prod_t p_t(\pi_t),

    computed by the forward recursion in log space over two states per label
    (blank :math:`\phi` before label :math:`n`, emission of label :math:`n`).
    Impossible transitions (and the initial state) weigh ``log_epsilon``
    instead of :math:`\log 0`, as in optax, so that an impossible alignment
    (too few frames) gives a large finite loss (about ``-log_epsilon``) with
    finite gradients.  Drop-in for
    ``optax.losses.ctc_loss_with_forward_probs``.

    Parameters
    ----------
    logits : array, shape ``[B, T, K]``
        Unnormalised log-probabilities of the ``K`` classes (blank included)
        for each of ``T`` frames.
    logit_paddings : array, shape ``[B, T]``
        1 (or True) marks a padded frame, which is skipped; 0 a real one.
        Padded frames may hold any value (even NaN): it is not read.
    labels : integer array, shape ``[B, N]``
        Label sequences, right-padded; entries in ``[0, K)`` (padded ones may
        be anything).
    label_paddings : array, shape ``[B, N]``
        1 (or True) marks a padded label; rows must be zeros then ones.
    blank_id : int, default 0
        Class index of the blank symbol.
    log_epsilon : float or 0-d array, default -1e5
        The stand-in for :math:`\log 0`.  ``-inf`` gives the exact recursion
        (then an impossible alignment gives ``+inf``).

    Returns
    -------
    loss : array, shape ``[B]``
        Negative log-likelihood of each label sequence.
    logalpha_phi : array, shape ``[T, B, N + 1]``
        :math:`\log\alpha` of the blank states after each frame (the last
        frame includes the final transition out of the emission states).
    logalpha_emit : array, shape ``[T, B, N]``
        :math:`\log\alpha` of the emission states after each frame.

    Notes
    -----
    The frame loop is a Python loop over ``T`` (a static size): ``jax.jit``
    uses ``jax.lax.scan`` (the fast path), while ``torch.compile`` and the
    generic path under ``jax.jit`` unroll it, so compile time grows linearly
    with ``T``.  Unpadded labels outside ``[0, K)`` raise ``ValueError`` on
    eager CPU backends and give NaN in their own row elsewhere (optax silently
    treats them as probability 1).

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.zeros((1, 2, 2))  # two frames, blank and one label, p = 1/2 each
    >>> loss, phi, emit = xlosses.ctc_loss_with_forward_probs(
    ...     logits, np.zeros((1, 2)), np.array([[1]]), np.zeros((1, 1)))
    >>> print(np.round(loss, 4), phi.shape, emit.shape)  # -log(3/4): "1 1", "_ 1", "1 _"
    [0.2877] (2, 1, 2) (2, 1, 1)

    References
    ----------
    Graves, Fernández, Gomez and Schmidhuber, *Connectionist Temporal
    Classification: Labelling Unsegmented Sequence Data with Recurrent Neural
    Networks*, ICML 2006.
    """
    return _optax_ctc(
        logits, logit_paddings, labels, label_paddings, blank_id, log_epsilon, keep=True
    )


def ctc_loss(
    logits: Array,
    logit_paddings: Array,
    labels: Array,
    label_paddings: Array,
    *,
    blank_id: int = 0,
    log_epsilon: float | Array = -1e5,
) -> Array:
    r"""CTC loss (Graves et al., 2006), per sequence.

    .. math::
        \ell = -\log \sum_{\pi:\ \mathcal{B}(\pi) = y}\ \prod_t
               \operatorname{softmax}(\mathrm{logits}_t)_{\pi_t}

    over the unpadded frames, :math:`\mathcal{B}` merging repeats and removing
    blanks.  See :func:`ctc_loss_with_forward_probs` for the recursion and
    the meaning of ``log_epsilon``; this function keeps no forward
    probabilities.  Drop-in for ``optax.losses.ctc_loss``.

    Parameters
    ----------
    logits : array, shape ``[B, T, K]``
        Unnormalised log-probabilities (blank included).
    logit_paddings : array, shape ``[B, T]``
        1 (or True) for padded frames.
    labels : integer array, shape ``[B, N]``
        Right-padded label sequences.
    label_paddings : array, shape ``[B, N]``
        1 (or True) for padded labels.
    blank_id : int, default 0
        Class index of the blank.
    log_epsilon : float or 0-d array, default -1e5
        Stand-in for :math:`\log 0`; ``-inf`` for the exact loss.

    Returns
    -------
    array, shape ``[B]``
        Negative log-likelihood of each label sequence, in ``logits``' dtype.

    Notes
    -----
    On eager CPU torch the loss comes from torch's fused CTC kernel (one C++
    loop instead of a dozen small kernels per frame) wherever that is this
    recursion's number: paddings that end each row, every loss finite and
    ``log_epsilon`` a Python float too small to weigh (the default's
    ``-1e5`` is; ``-15`` is not); elsewhere, and on every other backend, the
    recursion above runs.  Values and gradients are the same either way.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> logits = np.log(np.array([[[0.5, 0.5], [0.2, 0.8]]]))  # T = 2; blank 0, label 1
    >>> loss = xlosses.ctc_loss(logits, np.zeros((1, 2)), np.array([[1]]), np.zeros((1, 1)))
    >>> print(np.round(loss, 4))  # -log(0.5·0.8 + 0.5·0.8 + 0.5·0.2) = -log 0.9
    [0.1054]

    References
    ----------
    Graves, Fernández, Gomez and Schmidhuber, *Connectionist Temporal
    Classification*, ICML 2006.
    """
    loss, _, _ = _optax_ctc(
        logits, logit_paddings, labels, label_paddings, blank_id, log_epsilon, keep=False
    )
    return loss


def _lengths(lengths: Any, name: str, *, xp: Any, dev: Any) -> Array:
    """Lengths given as an integer array, a Python int or a sequence of ints."""
    if isinstance(lengths, (int, Sequence)) and not hasattr(lengths, "shape"):
        return xp.asarray(lengths, device=dev)
    check_integer(lengths, name, xp=xp)
    return lengths


def _concatenated_targets(
    targets: Array, target_lengths: Array, width: int, *, xp: Any, dev: Any
) -> tuple[Array, Array]:
    """torch's 1-D concatenated targets as padded rows ``[B, width]``, and row validity.

    Row ``b`` starts at the cumulative sum of the lengths before it; entries
    past the end of ``targets`` are gathered from index 0 and lie in the
    padding (or make the row invalid).
    """
    total = targets.shape[0]
    ends = xp.cumulative_sum(target_lengths, axis=0, dtype=target_lengths.dtype)
    starts = ends - target_lengths
    idx = starts[:, None] + xp.arange(width, dtype=starts.dtype, device=dev)[None, :]
    idx = xp.where((idx >= 0) & (idx < total), idx, 0)
    rows = xp.broadcast_to(targets[None, :], (target_lengths.shape[0], total))
    return gather(rows, idx, axis=1, xp=xp), ends <= total


def ctc_loss_from_lengths(
    log_probs: Array,
    targets: Array,
    input_lengths: Array | Sequence[int] | int,
    target_lengths: Array | Sequence[int] | int,
    *,
    blank: int = 0,
    zero_infinity: bool = False,
    time_axis: int = 0,
    max_target_length: int | None = None,
) -> Array:
    r"""Per-example CTC negative log-likelihood from lengths: the core of ``torch``'s ``ctc_loss``.

    .. math::
        \ell_b = -\log \sum_{\pi:\ \mathcal{B}(\pi) = y_b}\ \prod_{t < T_b}
                 \exp(\mathrm{log\_probs}_{t, b, \pi_t})

    with :math:`T_b` = ``input_lengths[b]``, :math:`y_b` the first
    ``target_lengths[b]`` targets of example ``b`` and :math:`\mathcal{B}`
    merging repeats and removing blanks.  The same recursion as
    :func:`ctc_loss` with an exact :math:`\log 0 = -\infty`, on the given
    log-probabilities as they are (no softmax).  No reduction: the
    ``torch.nn.functional.ctc_loss``-compatible adapter divides by the target
    lengths and averages for ``reduction='mean'``.

    Parameters
    ----------
    log_probs : array, shape ``[T, B, C]`` (or ``[B, T, C]`` with ``time_axis=1``, or ``[T, C]`` unbatched)
        Log-probabilities of the ``C`` classes (blank included), normally a
        ``log_softmax`` output.
    targets : integer array, shape ``[B, S]`` or ``[sum(target_lengths)]``
        Padded target rows, or torch's concatenation of all target sequences
        (``[S]`` for unbatched input).  Entries in ``[0, C)``, not ``blank``.
    input_lengths : integer array, int or sequence of ints, shape ``[B]``
        Frames used per example (``<= T``); later frames are skipped.
    target_lengths : integer array, int or sequence of ints, shape ``[B]``
        Length of each target sequence.
    blank : int, default 0
        Class index of the blank.
    zero_infinity : bool, default False
        Replace infinite losses (impossible alignments: too few frames for
        the targets and their repeats) and their gradients by 0.
    time_axis : {0, 1}, default 0
        Axis of ``log_probs`` holding time (torch's layout is time-major).
    max_target_length : int, optional
        Only for concatenated 1-D targets: an upper bound of the target
        lengths.  Without it the padded width is ``len(targets)`` (the only
        bound known without reading the lengths), which costs time and
        memory proportional to the whole concatenation per example.

    Returns
    -------
    array, shape ``[B]`` (``[]`` unbatched)
        Negative log-likelihood per example, in ``log_probs``' dtype; ``+inf``
        for impossible alignments unless ``zero_infinity``.

    Notes
    -----
    The gradient is the exact derivative with respect to ``log_probs``.
    torch's native kernel returns that plus ``exp(log_probs)`` on the used
    frames, a term that vanishes after the backward pass of ``log_softmax``
    (so the gradients with respect to logits agree) but not for
    ``log_probs`` taken as a leaf (on eager CPU torch, where torch's kernel
    computes the loss whenever every loss is finite, xlosses takes that term
    off).  Out-of-range lengths or targets raise
    ``ValueError`` on eager CPU backends and give NaN in their own row under
    ``jax.jit``, ``torch.compile`` and on GPUs.

    Examples
    --------
    >>> import numpy as np, xlosses
    >>> log_probs = np.log(np.array([[[0.5, 0.5]], [[0.2, 0.8]]]))  # [T=2, B=1, C=2]
    >>> loss = xlosses.ctc_loss_from_lengths(log_probs, np.array([[1]]), [2], [1])
    >>> print(np.round(loss, 4))
    [0.1054]
    >>> loss = xlosses.ctc_loss_from_lengths(log_probs, np.array([[1, 1]]), [2], [2])
    >>> print(loss)  # "1 1" needs a blank in between: three frames at least
    [inf]

    References
    ----------
    Graves, Fernández, Gomez and Schmidhuber, *Connectionist Temporal
    Classification*, ICML 2006.
    """
    # lengths may be Python ints or sequences (as torch takes them): those stay as they are
    lengths = {
        name: v
        for name, v in (("input_lengths", input_lengths), ("target_lengths", target_lengths))
        if hasattr(v, "shape")
    }
    xp, log_probs, targets, *given = namespace(
        log_probs=log_probs, targets=targets, indices=("targets",), **lengths
    )
    converted = dict(zip(lengths, given, strict=True))
    input_lengths = converted.get("input_lengths", input_lengths)
    target_lengths = converted.get("target_lengths", target_lengths)
    check_floating(log_probs, "log_probs", xp=xp)
    check_integer(targets, "targets", xp=xp)
    dev = _device(log_probs)
    il = _lengths(input_lengths, "input_lengths", xp=xp, dev=dev)
    tl = _lengths(target_lengths, "target_lengths", xp=xp, dev=dev)
    unbatched = log_probs.ndim == 2
    if unbatched:
        if targets.ndim != 1 or il.ndim != 0 or tl.ndim != 0:
            raise ValueError(
                "unbatched log_probs [T, C] need targets [S] and scalar lengths; got targets "
                f"shape {tuple(targets.shape)}, input_lengths shape {tuple(il.shape)}, "
                f"target_lengths shape {tuple(tl.shape)}"
            )
        log_probs, targets, il, tl = log_probs[:, None, :], targets[None, :], il[None], tl[None]
    elif log_probs.ndim != 3:
        raise ValueError(
            f"log_probs must have shape [T, B, C] or [T, C], got shape {tuple(log_probs.shape)}"
        )
    else:
        (time_axis,) = normalize_axes(time_axis, 3, "time_axis")
        if time_axis == 2:
            raise ValueError("time_axis must be 0 or 1 (the last axis holds the classes)")
        if time_axis == 1:
            log_probs = xp.permute_dims(log_probs, (1, 0, 2))
    num_steps, batch, num_classes = log_probs.shape
    for name, v in (("input_lengths", il), ("target_lengths", tl)):
        if tuple(v.shape) != (batch,):
            raise ValueError(
                f"{name} shape {tuple(v.shape)} must be ({batch},), the batch size of "
                f"log_probs shape {tuple(log_probs.shape)}"
            )
    if num_steps == 0:
        raise ValueError("log_probs must have at least one time step (T >= 1)")
    blank = _check_blank(blank, num_classes, "blank")
    dtype = log_probs.dtype
    x = cast(log_probs, compute_dtype(xp, dtype), xp=xp)
    loss = ctc_lengths_loss(
        x,
        targets,
        il,
        tl,
        blank=blank,
        zero_infinity=zero_infinity,
        max_target_length=max_target_length,
        unbatched=unbatched,
        xp=xp,
    )
    loss = cast(loss, dtype, xp=xp)
    return loss[0] if unbatched else loss


@accelerated
def ctc_lengths_loss(
    x: Array,
    targets: Array,
    il: Array,
    tl: Array,
    *,
    blank: int,
    zero_infinity: bool,
    max_target_length: int | None,
    unbatched: bool,
    xp: Any,
) -> Array:
    """The CTC loss ``[B]`` of :func:`ctc_loss_from_lengths` in ``x``'s (compute) dtype:
    ``x`` ``[T, B, C]`` log-probabilities, ``targets`` ``[B, S]`` or concatenated, integer
    lengths ``[B]`` (shapes checked); the lengths and targets are checked here."""
    num_steps, batch, num_classes = x.shape
    dev = _device(x)
    check_length_range(il, num_steps, xp=xp, name="input_lengths", what="the time axis")
    valid = (il >= 0) & (il <= num_steps) & (tl >= 0)
    if targets.ndim == 2 and not unbatched:
        if targets.shape[0] != batch:
            raise ValueError(
                f"targets shape {tuple(targets.shape)} and log_probs shape "
                f"{tuple(x.shape)} have different batch sizes"
            )
        labels, width = targets, targets.shape[1]
    elif targets.ndim == 1 and not unbatched:
        total = targets.shape[0]
        width = total if max_target_length is None else operator.index(max_target_length)
        if value_checks_possible(xp, tl):
            got = read(xp, xp.sum(tl, dtype=tl.dtype))
            if got is not None and got > total:
                raise ValueError(
                    f"target_lengths sum to {got} but the concatenated targets "
                    f"have only {total} entries"
                )
        labels, fits = _concatenated_targets(targets, tl, width, xp=xp, dev=dev)
        valid = valid & fits
    elif unbatched:
        labels, width = targets, targets.shape[1]
    else:
        raise ValueError(
            f"targets must have shape [B, S] or [sum(target_lengths)], got shape "
            f"{tuple(targets.shape)}"
        )
    check_length_range(tl, width, xp=xp, name="target_lengths", what="the target width")
    valid = valid & (tl <= width)
    steps = xp.arange(num_steps, dtype=il.dtype, device=dev)
    frame_pad = steps[:, None] >= il[None, :]
    label_pad = xp.arange(width, dtype=tl.dtype, device=dev)[None, :] >= tl[:, None]
    check_label_range(xp.where(label_pad, 0, labels), num_classes, xp=xp, name="targets")
    log_zero = xp.asarray(-xp.inf, dtype=x.dtype, device=dev)
    loss, _, _ = _ctc_forward(
        x, labels, label_pad, frame_pad, blank=blank, log_zero=log_zero, keep=False, xp=xp
    )
    if zero_infinity:
        loss = xp.where(loss == xp.inf, 0.0, loss)
    return xp.where(valid, loss, xp.nan)
