"""Conformance entries of the large-vocabulary losses (a linear layer and the cross-entropy).

The oracles compute the logits ``features @ weight.T + bias`` and then the
loss on them, in float64: a NumPy formula for the core loss, torch's own
``F.linear_cross_entropy`` for the functional form and the module, and torch
autograd of the dense formula for the gradients that
``linear_softmax_cross_entropy_and_grads`` returns.  Most variants run several
chunks of the vocabulary (``chunk_size=4`` over 11 classes: two whole chunks
and a shorter last one, which holds a label).
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np
from scipy.special import logsumexp

import xlosses
import xlosses.functional

from ..spec import Inputs, PeerUnavailable, Spec, register, torch_peer
from ._inputs import class_indices, logits, mask

VOCAB = 11  # not the sharded test's batch (24), not a batch size of the suite
DIM = 6
CHUNK = 4

# variants of the core loss (every option; few, as tests/test_sharded_jax.py compiles each)
CORE_VARIANTS: tuple[dict[str, Any], ...] = (
    {"chunk_size": CHUNK},
    {"chunk_size": CHUNK, "where": True, "label_smoothing": 0.2},
    {"chunk_size": 5, "z_loss": 1e-3, "logit_softcap": 4.0},
    {"label_smoothing": 0.1, "z_loss": 1e-4, "logit_softcap": 10.0, "where": True},  # one chunk
)
# the gradients' function also without a bias (the core's bias is a differentiable argument)
GRAD_VARIANTS: tuple[dict[str, Any], ...] = (
    {"chunk_size": CHUNK, "where": True, "label_smoothing": 0.2},
    {"chunk_size": 5, "z_loss": 1e-3, "logit_softcap": 4.0, "bias": False},
    {"chunk_size": 3, "label_smoothing": 0.1, "z_loss": 1e-4, "logit_softcap": 10.0, "where": True},
)
_OPTIONS = ("chunk_size", "label_smoothing", "z_loss", "logit_softcap")


def _inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """``features [*batch, DIM]``, ``weight [VOCAB, DIM]``, labels, ``bias [VOCAB]``: logits
    of spread about 3 (times ``v['scale']``); the last class is always some row's label."""
    x = logits(rng, (*batch, DIM), v)
    w = rng.standard_normal((VOCAB, DIM)) / np.sqrt(DIM)
    y = class_indices(rng, batch, VOCAB)
    y.reshape(-1)[-1] = VOCAB - 1  # a label in the last (shorter) chunk
    b = None if v.get("bias") is False else 0.5 * rng.standard_normal(VOCAB)
    kw = {k: v[k] for k in _OPTIONS if k in v}
    if v.get("where"):
        keep = mask(rng, batch, keep_first=False)
        kw["where"] = keep
        y = np.where(keep, y, -100)  # padding in the masked tokens is not read
    return Inputs([x, w, y, b], kw)


def _core(features: Any, weight: Any, labels: Any, bias: Any, **kw: Any) -> Any:
    return xlosses.linear_softmax_cross_entropy_with_integer_labels(
        features, weight, labels, bias=bias, **kw
    )


def _dense_logits(x: np.ndarray, w: np.ndarray, b: Any, cap: Any) -> np.ndarray:
    z = x @ w.T + (0.0 if b is None else b)
    return z if cap is None else cap * np.tanh(z / cap)


def dense_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    """The loss of the logits in float64: ``lse - z_y`` with smoothing and z-loss."""
    x, w, y, b = args
    eps, zl = kwargs.get("label_smoothing", 0.0), kwargs.get("z_loss", 0.0)
    z = _dense_logits(x, w, b, kwargs.get("logit_softcap"))
    lse = logsumexp(z, axis=-1)
    zy = np.take_along_axis(z, np.clip(y, 0, VOCAB - 1)[..., None], axis=-1)[..., 0]
    loss = (1 - eps) * (lse - zy) + eps * (lse - z.mean(-1)) + zl * lse**2
    where = kwargs.get("where")
    return loss if where is None else np.where(where, loss, 0.0)


def _torch_dense(args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """torch float64: the dense loss (``F.cross_entropy`` of the logits, plus the z-loss)
    and its gradients by autograd."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a test dependency
        raise PeerUnavailable("torch") from exc
    x, w, y, b = (None if a is None else torch.from_numpy(np.array(a)) for a in args)
    leaves = [t.requires_grad_() for t in (x, w, b) if t is not None]
    z = x @ w.T + (0.0 if b is None else b)
    cap = kwargs.get("logit_softcap")
    if cap is not None:
        z = cap * torch.tanh(z / cap)
    eps, zl = kwargs.get("label_smoothing", 0.0), kwargs.get("z_loss", 0.0)
    ce = torch.nn.functional.cross_entropy(
        z.reshape(-1, VOCAB), y.reshape(-1), reduction="none", label_smoothing=eps
    )
    loss = ce.reshape(y.shape) + zl * torch.logsumexp(z, -1) ** 2
    where = kwargs.get("where")
    if where is not None:
        loss = torch.where(torch.from_numpy(np.array(where)), loss, 0.0)
    grads = torch.autograd.grad(loss.sum(), leaves)
    return (loss, *grads) if b is not None else (loss, *grads, None)


def _flat(xp: Any, parts: list[Any]) -> Any:
    return xp.concat([xp.reshape(p, (-1,)) for p in parts if p is not None])


def _grads_per_token(features: Any, weight: Any, labels: Any, bias: Any, **kw: Any) -> Any:
    """The loss and ``∂features`` of each token as one array ``[*batch, 1 + DIM]``."""
    loss, dx, _, _ = xlosses.linear_softmax_cross_entropy_and_grads(
        features, weight, labels, bias=bias, **kw
    )
    xp = array_api_compat.array_namespace(loss)
    return xp.concat([xp.expand_dims(loss, axis=-1), dx], axis=-1)


def _grads_per_token_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    loss, dx, _, _ = (None if t is None else t.detach().numpy() for t in _torch_dense(args, kwargs))
    return np.concatenate([loss[..., None], dx], axis=-1)


def _grads_of_weight(features: Any, weight: Any, labels: Any, bias: Any, **kw: Any) -> Any:
    """``∂weight`` and ``∂bias`` (sums over the tokens) flattened into one array."""
    _, _, dw, db = xlosses.linear_softmax_cross_entropy_and_grads(
        features, weight, labels, bias=bias, **kw
    )
    return _flat(array_api_compat.array_namespace(dw), [dw, db])


def _grads_of_weight_reference(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    _, _, dw, db = _torch_dense(args, kwargs)
    return np.concatenate([t.detach().numpy().reshape(-1) for t in (dw, db) if t is not None])


# -- the functional form and the module: torch's own linear_cross_entropy ------------------


def _functional_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]):
    """torch's layout: ``input [N, DIM]``, ``linear_weight``, ``target [N]``; options."""
    base = _inputs(rng, batch, {"scale": v.get("scale", 1.0)})
    x, w, y, b = base.args
    kw = {k: v[k] for k in ("reduction", "label_smoothing", "ignore_index") if k in v}
    if v.get("bias", True):
        kw["linear_bias"] = b
    if v.get("weight"):
        kw["weight"] = rng.uniform(0.2, 3.0, VOCAB)
    if v.get("ignore"):
        y = np.where(rng.random(y.shape) < 0.3, v.get("ignore_index", -100), y)
        y.reshape(-1)[0] = 0  # one token counts
    if "chunk_size" in v:
        kw["chunk_size"] = v["chunk_size"]
    return Inputs([x, w, y], kw)


FUNCTIONAL_VARIANTS: tuple[dict[str, Any], ...] = (
    {"chunk_size": CHUNK},
    {"chunk_size": CHUNK, "reduction": "none", "ignore": True, "label_smoothing": 0.1},
    {"chunk_size": CHUNK, "reduction": "sum", "weight": True, "ignore": True, "ignore_index": 3},
    {"chunk_size": 5, "weight": True, "label_smoothing": 0.2, "ignore": True, "bias": False},
)


# the chunked gradient is a custom reverse-mode rule (jax.custom_vjp, an autograd.Function):
# forward mode has no rule; torch's second derivatives differentiate the generic loop
_FORWARD_MODE = (
    "the chunked gradient is a reverse-mode rule (jax.custom_vjp / torch.autograd.Function); "
    "forward mode would need a second rule that keeps every chunk (generic_only() gives it)"
)
FIRST_ORDER = {
    "jax:jvp": _FORWARD_MODE,
    "jax:jacfwd": _FORWARD_MODE,
    "jax:hessian": _FORWARD_MODE + "; jax.hessian is jacfwd of jacrev",
    "torch:jvp": _FORWARD_MODE,
}


def _torch_linear_ce(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    kw = {k: v for k, v in kwargs.items() if k != "chunk_size"}
    return torch_peer("linear_cross_entropy")(args, kw)


register(
    Spec(
        "linear_softmax_cross_entropy_with_integer_labels",
        _core,
        _inputs,
        differentiable=(0, 1, 3),
        variants=CORE_VARIANTS,
        oracle=dense_reference,
        oracle_name="float64 formula of the logits",
        declared=FIRST_ORDER,
    ),
    Spec(
        "linear_softmax_cross_entropy_and_grads[loss and d_features]",
        _grads_per_token,
        _inputs,
        variants=GRAD_VARIANTS,
        oracle=_grads_per_token_reference,
        oracle_name="torch autograd of the dense loss (float64)",
        notes="the loss and d_features of each token, as one array [..., 1 + dim]",
    ),
    Spec(
        "linear_softmax_cross_entropy_and_grads[d_weight and d_bias]",
        _grads_of_weight,
        _inputs,
        variants=GRAD_VARIANTS,
        oracle=_grads_of_weight_reference,
        oracle_name="torch autograd of the dense loss (float64)",
        notes="d_weight and d_bias (sums over the tokens), flattened into one array",
    ),
    Spec(
        "functional.linear_cross_entropy",
        xlosses.functional.linear_cross_entropy,
        _functional_inputs,
        differentiable=(0, 1),
        variants=FUNCTIONAL_VARIANTS,
        oracle=_torch_linear_ce,
        oracle_name="torch.nn.functional.linear_cross_entropy",
        batch_shapes=((6,),),
        declared=FIRST_ORDER,
    ),
)


def _torch_module_spec() -> list[Spec]:
    try:
        import torch

        from xlosses import torch as xt
    except ImportError:
        return []

    def key(kw: dict[str, Any]) -> tuple[Any, ...]:
        return tuple((k, v) for k, v in kw.items() if k not in ("linear_bias", "weight"))

    # one module per configuration, built here (torch.compile cannot trace a Parameter's
    # constructor, torch.func.vmap refuses its random initialisation); functional_call
    # swaps in the weights, the bias and the class weights of each call, so the module's
    # own shapes and dtype do not matter (its forward reads them from the weights)
    modules: dict[tuple[Any, ...], Any] = {}
    for v in FUNCTIONAL_VARIANTS:
        kw = _functional_inputs(np.random.default_rng(0), (6,), dict(v)).kwargs
        has_b, has_cw = kw.get("linear_bias") is not None, kw.get("weight") is not None
        modules[(has_b, has_cw, *key(kw))] = xt.LinearCrossEntropyLoss(
            1,
            1,
            bias=has_b,
            weight=torch.ones(1) if has_cw else None,
            device="meta",
            **dict(key(kw)),
        )

    def module(x: Any, w: Any, y: Any, **kw: Any) -> Any:
        if not isinstance(w, torch.Tensor):  # the float64 NumPy reference: what forward calls
            return xlosses.functional.linear_cross_entropy(x, w, y, **kw)
        b, cw = kw.get("linear_bias"), kw.get("weight")
        for name, v in (("linear_bias", b), ("weight", cw)):
            if v is not None and not isinstance(v, torch.Tensor):  # as the module's own
                raise TypeError(f"{name} must be a tensor (a module's parameter or buffer)")
        m = modules[(b is not None, cw is not None, *key(kw))]
        params = {"linear.weight": w}
        if b is not None:
            params["linear.bias"] = b
        if cw is not None:
            params["weight"] = cw
        return torch.func.functional_call(m, params, (x, y))

    return [
        Spec(
            "torch.LinearCrossEntropyLoss",
            module,
            _functional_inputs,
            differentiable=(0, 1),
            variants=FUNCTIONAL_VARIANTS,
            oracle=_torch_linear_ce,
            oracle_name="torch.nn.functional.linear_cross_entropy",
            batch_shapes=((6,),),
            backends=("torch", "torch_cuda"),
            declared=FIRST_ORDER,
        )
    ]


register(*_torch_module_spec())
