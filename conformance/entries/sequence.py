"""Conformance entries of the sequence family (CTC).

Small shapes (T = 6 frames, C = 4 classes, up to 3 labels) keep the finite
difference gradient checks fast.  Inputs mix padded frames, padded labels,
repeated labels (which need a blank in between) and, in some variants, rows
whose labels cannot be aligned to their frames.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np
from scipy.special import log_softmax

import xlosses

from ..spec import Inputs, PeerUnavailable, Spec, optax_peer, register, torch_peer
from ._inputs import logits

T, C, N = 6, 4, 3
BATCHES = ((2,), (3,))


def _label_rows(rng: np.random.Generator, b: int, v: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """``(labels [b, N], label_lengths [b], frame_lengths [b])`` for one batch."""
    blank = v.get("blank", 0)
    classes = np.array([c for c in range(C) if c != blank])
    labels = classes[rng.integers(0, len(classes), (b, N))]
    label_len = rng.integers(0, N + 1, b)
    label_len[0] = N  # at least one full row
    frame_len = rng.integers(T - 2, T + 1, b)
    if v.get("repeat"):
        labels[:, 1] = labels[:, 0]
    if v.get("impossible"):
        # row 0: "a a a" needs 5 frames and gets 4
        labels[0] = labels[0, 0]
        frame_len[0] = 4
    else:
        # enough frames for every row: one per label and one per blank between repeats
        ar = np.arange(N)
        repeats = ((labels[:, 1:] == labels[:, :-1]) & (ar[1:] < label_len[:, None])).sum(1)
        frame_len = np.maximum(frame_len, label_len + repeats)
    return labels.astype(np.int64), label_len, frame_len


def _optax_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    (b,) = batch
    labels, label_len, frame_len = _label_rows(rng, b, v)
    logit_pad = (np.arange(T) >= frame_len[:, None]).astype(np.float64)
    label_pad = (np.arange(N) >= label_len[:, None]).astype(np.float64)
    kw: dict[str, Any] = {}
    if "blank" in v:
        kw["blank_id"] = v["blank"]
    if "log_epsilon" in v:
        kw["log_epsilon"] = v["log_epsilon"]
    return Inputs([logits(rng, (b, T, C), v), logit_pad, labels, label_pad], kw)


def _torch_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    (b,) = batch
    labels, label_len, frame_len = _label_rows(rng, b, v)
    log_probs = log_softmax(logits(rng, (T, b, C), v), axis=-1)
    if v.get("concat"):
        labels = np.concatenate([labels[i, : label_len[i]] for i in range(b)])
    kw = {k: v[k] for k in ("blank", "zero_infinity") if k in v}
    return Inputs([log_probs, labels, frame_len.astype(np.int64), label_len.astype(np.int64)], kw)


def _flat_forward_probs(*args: Any, **kwargs: Any) -> Any:
    """``ctc_loss_with_forward_probs`` as one array: the loss, then both alpha tables."""
    loss, phi, emit = xlosses.ctc_loss_with_forward_probs(*args, **kwargs)
    xp = array_api_compat.array_namespace(loss)
    return xp.concat([loss, xp.reshape(phi, (-1,)), xp.reshape(emit, (-1,))])


def _flat_forward_probs_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    try:
        import jax
        import optax
    except ImportError as exc:
        raise PeerUnavailable("optax") from exc
    jax.config.update("jax_enable_x64", True)
    cpu = jax.devices("cpu")[0]
    out = optax.losses.ctc_loss_with_forward_probs(
        *[jax.device_put(np.asarray(a), cpu) for a in args], **kwargs
    )
    return np.concatenate([np.asarray(o, dtype=np.float64).reshape(-1) for o in out])


register(
    Spec(
        "ctc_loss",
        xlosses.ctc_loss,
        _optax_inputs,
        differentiable=(0,),
        # an impossible alignment costs about -log_epsilon: -1e4 keeps it within float16
        variants=({}, {"repeat": True}, {"blank": 2}, {"impossible": True, "log_epsilon": -1e4}),
        oracle=optax_peer("ctc_loss"),
        oracle_name="optax",
        batch_shapes=BATCHES,
    ),
    Spec(
        "ctc_loss_with_forward_probs",
        _flat_forward_probs,
        _optax_inputs,
        differentiable=(0,),
        # the alpha tables hold log_epsilon itself: -1e3 keeps them within float16 and keeps
        # the finite differences of their sum accurate
        variants=(
            {"log_epsilon": -1e3},
            {"repeat": True, "blank": 1, "log_epsilon": -1e3},
            {"impossible": True, "log_epsilon": -30.0},
        ),
        oracle=_flat_forward_probs_peer,
        oracle_name="optax (loss, logalpha_phi, logalpha_emit flattened)",
        batch_shapes=BATCHES,
        notes="the three outputs are compared as one flat array",
    ),
    Spec(
        "ctc_loss_from_lengths",
        xlosses.ctc_loss_from_lengths,
        _torch_inputs,
        differentiable=(0,),
        variants=(
            {},
            {"repeat": True, "blank": 3},
            {"concat": True},
            {"impossible": True, "zero_infinity": True},
        ),
        oracle=torch_peer("ctc_loss", reduction="none"),
        oracle_name="torch.nn.functional (reduction='none')",
        batch_shapes=BATCHES,
    ),
)
