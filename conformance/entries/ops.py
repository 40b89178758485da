"""Conformance entries of the public primitives, ``xlosses.ops`` (specs named ``ops.<name>``).

The oracles are float64 SciPy / NumPy formulas written here, independently of
``xlosses/_ops``; each raises :class:`PeerUnavailable` when SciPy is missing.
Builders take ``variant["scale"]`` (the extremes check) to scale their
logit-like inputs; domain-restricted inputs (probabilities) get their edge
values (exact 0 and 1) there instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from xlosses import ops

from ..spec import Inputs, PeerUnavailable, Spec, register
from ._inputs import NUM_CLASSES, logits

C = NUM_CLASSES
FLOAT64 = "float64 SciPy / NumPy formula"
# declared transform cells (conformance.transforms), with the reason
SYMBOLIC_AXIS = (
    "the check passes axis as an int argument, which dynamic=True makes a SymInt; "
    "array_api_compat's squeeze sorts the axes in Python, which dynamo refuses for SymInts "
    "(a literal axis compiles)"
)
MINUS_INF = (
    "a variant's entries are -inf by definition (masked-out log-probabilities, "
    "logaddexp(-inf, -inf)): autocast's finiteness and gradcheck's differences cannot hold there"
)


def _scipy() -> Any:
    try:
        import scipy.special
    except ImportError as exc:
        raise PeerUnavailable("scipy") from exc
    return scipy.special


def _quiet(fn: Callable[..., Any]) -> Callable[[list[Any], dict[str, Any]], np.ndarray]:
    """An oracle ``(args, kwargs) -> float64`` from ``fn(*args, **kwargs)``, without warnings
    (``log 0``, empty means)."""

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return np.asarray(fn(*args, **kwargs), dtype=np.float64)

    oracle.__qualname__ = getattr(fn, "__qualname__", "oracle")
    return oracle


def _kw(v: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v[k] for k in names if k in v}


# -- builders -------------------------------------------------------------------------------


def _rows(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Logits ``[*batch, C]`` (a mask of them with ``v['masked']``) and the variant's options."""
    x = logits(rng, (*batch, C), v)
    kw = _kw(v, "axis", "keepdims", "ord", "tie", "delta")
    if v.get("masked"):
        m = rng.random(x.shape) < 0.7
        m[..., 0] = True
        kw["where"] = m
    return Inputs([x], kw)


def _pair(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    shape = (*batch, C)
    a, b = logits(rng, shape, v), logits(rng, shape, v)
    if v.get("neg_inf"):
        a[..., 0] = b[..., 0] = -np.inf  # (-inf, -inf): an unreachable state
    return Inputs([a, b])


def _positive(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Entries ``> 0``, larger with the scale, and exact zeros in the extremes check (their
    ``-inf`` would fail finite differences and ``gradcheck``; tests/test_ops.py checks them)."""
    x = rng.random((*batch, C)) * v.get("scale", 1.0) + 1e-3
    if v.get("scale", 1.0) != 1.0:
        x[..., 0] = 0.0
    return Inputs([x])


def _log_probs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Log-probabilities ``< 0`` on both sides of ``-log 2`` (times the scale)."""
    x = -np.abs(3.0 * rng.standard_normal((*batch, C))) * v.get("scale", 1.0) - 1e-6
    return Inputs([x])


def _xlogy(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    shape = (*batch, C)
    x = 2.0 * rng.standard_normal(shape)
    y = rng.random(shape) * v.get("scale", 1.0) + 1e-3
    x[..., 0] = 0.0  # x = 0: the guarded entries
    if v.get("scale", 1.0) != 1.0:  # the extremes check: y = 0 there too (0·log 0 = 0)
        y[..., 0] = 0.0
    return Inputs([x, y])


def _labels(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    axis = v.get("axis", -1)
    x = logits(rng, (C, *batch) if axis == 0 else (*batch, C), v)
    labels = rng.integers(0, C, batch).astype(np.int64)
    return Inputs([x, labels], _kw(v, "axis"))


def _probs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Probabilities in ``(0, 1)``; exact 0 and 1 entries in the extremes check."""
    p = rng.uniform(0.02, 0.98, (*batch, C))
    if v.get("scale", 1.0) != 1.0:
        p[..., 0], p[..., 1] = 0.0, 1.0
    kw = _kw(v, "gamma")
    if v.get("gamma_array"):
        kw["gamma"] = np.array([0.0, 0.5, 1.0, 2.0, 3.5])  # broadcasts over the last axis
    return Inputs([p], kw)


def _equal_zero(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    """Entries exactly at the kinks: 0 for ``relu``, ``0`` and ``±δ`` for ``huber``."""
    x = np.round(2.0 * rng.standard_normal((*batch, C)), 1)
    x[..., 0] = 0.0
    d = v.get("delta", 1.0)
    x[..., 1], x[..., 2] = d, -d
    return Inputs([x], _kw(v, "tie", "delta"))


# -- float64 references ---------------------------------------------------------------------


def _axis(kw: dict[str, Any], default: Any) -> Any:
    return kw.get("axis", default)


def _logsumexp_ref(x: np.ndarray, **kw: Any) -> np.ndarray:
    w = kw.get("where")
    return _scipy().logsumexp(
        x,
        axis=_axis(kw, None),
        b=None if w is None else w.astype(np.float64),
        keepdims=kw.get("keepdims", False),
    )


def _log_softmax_ref(x: np.ndarray, **kw: Any) -> np.ndarray:
    w = kw.get("where")
    if w is None:
        return _scipy().log_softmax(x, axis=_axis(kw, -1))
    masked = np.where(w, x, -np.inf)
    lse = _scipy().logsumexp(masked, axis=_axis(kw, -1), keepdims=True)
    return np.where(w, masked - lse, -np.inf)


def _softmax_ref(x: np.ndarray, **kw: Any) -> np.ndarray:
    return np.where(kw.get("where", True), np.exp(_log_softmax_ref(x, **kw)), 0.0)


def _huber_ref(x: np.ndarray, delta: float = 1.0) -> np.ndarray:
    return _scipy().huber(delta, x)


def _vector_norm_ref(x: np.ndarray, **kw: Any) -> np.ndarray:
    ord_, axis = kw.get("ord", 2), _axis(kw, None)
    a = np.abs(x)
    if ord_ == math.inf:
        return np.max(a, axis=axis, keepdims=kw.get("keepdims", False))
    if ord_ == 0:
        return np.sum(a != 0, axis=axis, keepdims=kw.get("keepdims", False)).astype(float)
    s = np.sum(a**ord_, axis=axis, keepdims=kw.get("keepdims", False))
    return s ** (1.0 / ord_)


def _sparsemax_ref(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Martins and Astudillo (2016), Algorithm 1, row by row."""
    z = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    out = np.empty_like(z)
    for idx in np.ndindex(z.shape[:-1]):
        row = z[idx]
        u = np.sort(row)[::-1]
        k = np.arange(1, row.size + 1)
        support = 1.0 + k * u > np.cumsum(u)
        kz = k[support][-1]
        tau = (np.sum(u[:kz]) - 1.0) / kz
        out[idx] = np.maximum(row - tau, 0.0)
    return np.moveaxis(out, -1, axis)


def _take_labels_ref(x: np.ndarray, labels: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.squeeze(np.take_along_axis(x, np.expand_dims(labels, axis), axis=axis), axis)


def _masked_sum_ref(x: np.ndarray, **kw: Any) -> np.ndarray:
    return np.sum(x, axis=_axis(kw, None), where=kw.get("where", True))


def _masked_mean_ref(x: np.ndarray, **kw: Any) -> np.ndarray:
    return np.mean(x, axis=_axis(kw, None), where=kw.get("where", True))


def _log1mexp_ref(x: np.ndarray) -> np.ndarray:
    # written apart from the primitive: log1p(-e^x) far from 0, log(-expm1 x) near it
    return np.where(x < -1.0, np.log1p(-np.exp(x)), np.log(-np.expm1(x)))


def _relu_grad(args: list[Any], kwargs: dict[str, Any], argnums: tuple[int, ...]) -> list:
    """The derivative conventions ``relu(tie=)`` promises: torch.relu / jax.nn.relu (0),
    ``jnp.maximum(x, 0)`` (½), ``torch.clamp_min(x, 0)`` (1) at ``x = 0``."""
    x = np.asarray(args[0], dtype=np.float64)
    return [(x > 0) + kwargs.get("tie", 0.0) * (x == 0)]


def _huber_grad(args: list[Any], kwargs: dict[str, Any], argnums: tuple[int, ...]) -> list:
    """optax's ``huber_loss`` derivative: 0 at 0, ``±δ`` at ``|x| = δ`` (``x`` clipped)."""
    d = kwargs.get("delta", 1.0)
    return [np.clip(np.asarray(args[0], dtype=np.float64), -d, d)]


# -- the entries ----------------------------------------------------------------------------


def _spec(name: str, make: Any, oracle: Callable[..., Any], **kw: Any) -> Spec:
    defaults: dict[str, Any] = {"differentiable": (0,), "oracle_name": FLOAT64}
    return Spec(
        f"ops.{name}", getattr(ops, name), make, oracle=_quiet(oracle), **{**defaults, **kw}
    )


def _scipy_fn(name: str) -> Callable[..., np.ndarray]:
    def f(*a: Any, **k: Any) -> np.ndarray:
        return getattr(_scipy(), name)(*a, **k)

    f.__qualname__ = f"scipy.special.{name}"
    return f


register(
    _spec(
        "logsumexp",
        _rows,
        _logsumexp_ref,
        variants=(
            {"axis": -1},
            {},
            {"axis": -1, "masked": True},
            {"axis": (0, 1), "keepdims": True},
        ),
        declared={"torch:compile_dynamic": SYMBOLIC_AXIS},
    ),
    _spec(
        "log_softmax",
        _rows,
        _log_softmax_ref,
        variants=({}, {"masked": True}, {"axis": 0}),
        declared={"torch:autocast": MINUS_INF, "torch:gradcheck": MINUS_INF},
    ),
    _spec("softmax", _rows, _softmax_ref, variants=({}, {"masked": True}, {"axis": 0})),
    _spec("softplus", _rows, lambda x: np.logaddexp(0.0, x)),
    _spec("log_sigmoid", _rows, _scipy_fn("log_expit")),
    _spec("sigmoid", _rows, _scipy_fn("expit")),
    _spec("safe_log", _positive, np.log),
    _spec("log1mexp", _log_probs, _log1mexp_ref),
    _spec(
        "logaddexp",
        _pair,
        np.logaddexp,
        differentiable=(0, 1),
        variants=({}, {"neg_inf": True}),
        declared={"torch:autocast": MINUS_INF, "torch:gradcheck": MINUS_INF},
    ),
    _spec(
        "xlogy",
        _xlogy,
        _scipy_fn("xlogy"),
        differentiable=(0, 1),
    ),
    _spec(
        "take_labels",
        _labels,
        _take_labels_ref,
        variants=({}, {"axis": 0}),
    ),
    _spec(
        "masked_sum",
        _rows,
        _masked_sum_ref,
        variants=({"axis": -1, "masked": True}, {"masked": True}, {"axis": -1}),
    ),
    _spec(
        "masked_mean",
        _rows,
        _masked_mean_ref,
        variants=({"axis": -1, "masked": True}, {"masked": True}, {}),
    ),
    _spec(
        "relu",
        _rows,
        lambda x, tie=0.0: np.maximum(x, 0.0),
        variants=({}, {"tie": 0.5}, {"tie": 1.0}),
        kinks=_equal_zero,
        kink_variants=({}, {"tie": 0.5}, {"tie": 1.0}),
        kink_peer=_relu_grad,
    ),
    _spec(
        "huber",
        _rows,
        _huber_ref,
        variants=({}, {"delta": 0.5}),
        kinks=_equal_zero,
        kink_variants=({}, {"delta": 0.5}),
        kink_peer=_huber_grad,
    ),
    _spec("log_cosh", _rows, lambda x: np.logaddexp(x, -x) - math.log(2.0)),
    _spec(
        "vector_norm",
        _rows,
        _vector_norm_ref,
        variants=(
            {"axis": -1},
            {},
            {"axis": -1, "ord": 1},
            {"axis": -1, "ord": 3, "keepdims": True},
            {"axis": -1, "ord": math.inf},
        ),
        declared={"torch:compile_dynamic": SYMBOLIC_AXIS},
    ),
    _spec("sparsemax", _rows, _sparsemax_ref, variants=({}, {"axis": 0})),
    _spec(
        "focal_power",
        _probs,
        lambda p, gamma=2.0: np.power(1.0 - p, gamma),
        variants=({}, {"gamma": 0.5}, {"gamma": 1.0}, {"gamma": 0.0}, {"gamma_array": True}),
    ),
)
