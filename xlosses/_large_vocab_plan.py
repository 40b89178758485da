"""The plan of a large-vocabulary call: its inputs checked and seen as 2-D arrays, its
options, and the sizes of the vocabulary chunks and token blocks that the loops of
:mod:`xlosses.large_vocab` run over."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ._checks import check_integer, check_label_range, floating_input

__all__ = ["BLOCK", "MIN_CHUNK", "Plan", "Problem", "plan_chunks", "setup"]

Array = Any

# One chunk of logits [tokens in a block, vocabulary chunk] holds about this many numbers
# (16 MiB in float32); a chunk of the vocabulary has at least MIN_CHUNK words.
BLOCK = 1 << 22
MIN_CHUNK = 256


class Plan(NamedTuple):
    """Static options of one call (hashable: a key for compiled loops and custom gradients)."""

    vocab: int  # V
    chunk: int  # words per vocabulary chunk
    block: int  # tokens per block; 0: all tokens in one block (no size in the key)
    smoothing: float  # label smoothing ε
    z_loss: float  # coefficient of log²Z
    softcap: float | None  # cap of cap·tanh(z/cap)


def plan_chunks(tokens: int, vocab: int, chunk_size: int | None) -> tuple[int, int]:
    """``(vocabulary chunk, tokens per block)`` for a problem of ``tokens × vocab``.

    ``chunk_size=None``: ``BLOCK // tokens`` words rounded down to a multiple of 128,
    at least ``MIN_CHUNK``, at most ``vocab``.  Tokens are cut into blocks only when a
    chunk of all of them would exceed twice ``BLOCK`` numbers.
    """
    if chunk_size is None:
        c = BLOCK // max(tokens, 1)
        c = max(MIN_CHUNK, c - c % 128)
    else:
        c = chunk_size
    c = max(1, min(c, vocab))
    block = tokens if tokens * c <= 2 * BLOCK else max(1, BLOCK // c)
    return c, max(1, min(block, tokens))


# -- set-up shared by the public functions --------------------------------------------------


class Problem(NamedTuple):
    """The inputs of a call as the chunked loops take them (2-D, checked)."""

    x: Array  # [T, D], compute dtype
    w: Array  # [V, D]
    b: Array | None  # [V]
    labels: Array  # [T]
    keep: Array | None  # [T] bool
    plan: Plan
    batch: tuple[int, ...]  # labels' shape
    dtype: Any  # the result dtype
    checked: bool  # every label read and found in [0, V) (eager, values readable)


def _check_options(
    label_smoothing: Any, z_loss: Any, logit_softcap: Any, chunk_size: Any
) -> tuple[float, float, float | None]:
    if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    if not isinstance(z_loss, (int, float)) or not z_loss >= 0.0:
        raise ValueError(f"z_loss must be a number >= 0, got {z_loss!r}")
    if logit_softcap is not None and (
        not isinstance(logit_softcap, (int, float)) or not logit_softcap > 0.0
    ):
        raise ValueError(f"logit_softcap must be None or a number > 0, got {logit_softcap!r}")
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be None or an int >= 1, got {chunk_size!r}")
    cap = None if logit_softcap is None else float(logit_softcap)
    return float(label_smoothing), float(z_loss), cap


def setup(
    xp: Any,
    features: Array,
    weight: Array,
    labels: Array,
    bias: Array | None,
    where: Array | None,
    label_smoothing: Any,
    z_loss: Any,
    logit_softcap: Any,
    chunk_size: Any,
    *,
    names: tuple[str, str, str, str] = ("features", "weight", "labels", "bias"),
) -> Problem:
    """Checks (shapes, dtypes, options, label range where readable) and 2-D views."""
    fname, wname, lname, bname = names
    x, dtype = floating_input(xp, features, fname)
    floating_input(xp, weight, wname)  # the check only: cast chunk by chunk
    check_integer(labels, lname, xp=xp)
    smoothing, zl, cap = _check_options(label_smoothing, z_loss, logit_softcap, chunk_size)
    if x.ndim < 1:
        raise ValueError(f"{fname} must have shape [..., dim], got a 0-d array")
    dim = x.shape[-1]
    if weight.ndim != 2 or weight.shape[1] != dim:
        raise ValueError(
            f"{wname} shape {tuple(weight.shape)} must be [vocab, dim] with dim = {dim}, the "
            f"last axis of {fname} shape {tuple(features.shape)}"
        )
    vocab = weight.shape[0]
    if vocab < 1:
        raise ValueError(f"{wname} must hold at least one class (row), got shape {weight.shape}")
    batch = tuple(x.shape[:-1])
    if tuple(labels.shape) != batch:
        raise ValueError(
            f"{lname} shape {tuple(labels.shape)} must equal {fname} shape "
            f"{tuple(features.shape)} without its last axis, i.e. {batch}"
        )
    if bias is not None:
        floating_input(xp, bias, bname)
        if tuple(bias.shape) != (vocab,):
            raise ValueError(
                f"{bname} shape {tuple(bias.shape)} must be ({vocab},), one entry per row of "
                f"{wname}"
            )
    tokens = math.prod(batch)
    x = xp.reshape(x, (tokens, dim))
    flat = xp.reshape(labels, (tokens,))
    keep = None
    if where is not None:
        if where.dtype != xp.bool:
            raise TypeError(f"where must be a boolean array, got dtype {where.dtype}")
        if tuple(where.shape) != batch:
            raise ValueError(
                f"where shape {tuple(where.shape)} must equal {lname} shape {batch} (one "
                f"entry per token)"
            )
        keep = xp.reshape(where, (tokens,))
    # labels of masked tokens are not read (padding such as -100 is fine there)
    checked = check_label_range(
        flat if keep is None else xp.where(keep, flat, 0), vocab, xp=xp, name=lname
    )
    chunk, block = plan_chunks(tokens, vocab, chunk_size)
    # one block of all tokens keeps the token count out of the plan: torch.compile's
    # dynamic shapes then need no recompilation per batch size
    plan = Plan(vocab, chunk, block if block < tokens else 0, smoothing, zl, cap)
    return Problem(x, weight, bias, flat, keep, plan, batch, dtype, bool(checked))
