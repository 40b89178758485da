"""The loss table of the benchmarks: one :class:`Case` per loss.

A case names the xlosses function, builds its inputs (float64 NumPy data for a
``rows x classes`` problem, converted per backend and dtype by the runner) and
lists the peer to time it against, per library:

* ``"jax"``: the ``optax.losses`` function (both sides run under ``jax.jit``);
* ``"torch"``: ``torch.nn.functional`` (or the formula torch users write where
  ``torch.nn.functional`` has no such loss), eager;
* ``"numpy"``: a plain vectorised NumPy/SciPy baseline written here.

To add a loss, append a :class:`Case` to :data:`CASES` (or call
:func:`register`): the runner, the report and the tests pick it up.  Peers are
*factories* (called once, after the libraries are imported) returning a
function of the same positional arguments as the xlosses call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import xlosses

__all__ = ["CASES", "Case", "Peer", "register"]


@dataclass(frozen=True)
class Peer:
    """A peer implementation: ``make()`` returns the function, ``name`` describes it."""

    name: str
    make: Callable[[], Callable[..., Any]]


@dataclass(frozen=True)
class Case:
    """One loss in the benchmark table."""

    name: str
    fn: Callable[..., Any]
    make: Callable[[np.random.Generator, int, int], list[np.ndarray]]
    peers: dict[str, Peer] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)  # fixed options, both sides
    logits_arg: int = 0  # the argument whose bytes define the problem size


# -- input builders (float64 NumPy; integer labels stay int64) ------------------------------


def _logits(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    return 3.0 * rng.standard_normal((n, c))


def _probabilities(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    z = rng.standard_normal((n, c))
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def soft_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Logits and rows of probabilities."""
    return [_logits(rng, n, c), _probabilities(rng, n, c)]


def integer_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Logits and class indices."""
    return [_logits(rng, n, c), rng.integers(0, c, n).astype(np.int64)]


def binary_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Logits and hard multi-label targets (0/1)."""
    return [_logits(rng, n, c), (rng.random((n, c)) < 0.5).astype(np.float64)]


# -- peers ----------------------------------------------------------------------------------


def optax(name: str, **kw: Any) -> Peer:
    def make() -> Callable[..., Any]:
        import optax as ox

        fn = getattr(ox.losses, name)
        return (lambda *a: fn(*a, **kw)) if kw else fn

    return Peer(f"optax.losses.{name}", make)


def _F() -> Any:
    import torch.nn.functional as F

    return F


def torch_cross_entropy() -> Peer:
    return Peer(
        "F.cross_entropy(reduction='none')",
        lambda: lambda x, y: _F().cross_entropy(x, y, reduction="none"),
    )


def torch_bce() -> Peer:
    return Peer(
        "F.binary_cross_entropy_with_logits(reduction='none')",
        lambda: lambda x, y: _F().binary_cross_entropy_with_logits(x, y, reduction="none"),
    )


def torch_focal(alpha: float | None, gamma: float) -> Peer:
    """torchvision.ops.sigmoid_focal_loss's formula, in torch operations."""

    def make() -> Callable[..., Any]:
        import torch

        F = _F()

        def focal(x: Any, y: Any) -> Any:
            p = torch.sigmoid(x)
            ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
            p_t = p * y + (1 - p) * (1 - y)
            loss = ce * ((1 - p_t) ** gamma)
            if alpha is not None:
                loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
            return loss

        return focal

    return Peer("torchvision's sigmoid_focal_loss formula", make)


def torch_poly_ce(epsilon: float) -> Peer:
    """The PolyLoss paper's Poly-1 cross-entropy, in torch operations."""

    def make() -> Callable[..., Any]:
        import torch

        F = _F()

        def poly(x: Any, y: Any) -> Any:
            pt = torch.sum(y * torch.softmax(x, dim=-1), dim=-1)
            return F.cross_entropy(x, y, reduction="none") + epsilon * (1 - pt)

        return poly

    return Peer("F.cross_entropy + ε·(1 - p_t) (paper's formula)", make)


def _numpy_lse(x: np.ndarray) -> np.ndarray:
    from scipy.special import logsumexp

    return logsumexp(x, axis=-1)


def _numpy_log_softmax(x: np.ndarray) -> np.ndarray:
    from scipy.special import log_softmax

    return log_softmax(x, axis=-1)


def _numpy_bce(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # the usual stable formula: max(x, 0) - x·y + log1p(exp(-|x|))
    return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))


def _numpy_focal(alpha: float | None, gamma: float) -> Callable[..., Any]:
    from scipy.special import expit

    def focal(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        p = expit(x)
        p_t = p * y + (1 - p) * (1 - y)
        loss = _numpy_bce(x, y) * (1 - p_t) ** gamma
        if alpha is not None:
            loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
        return loss

    return focal


def _numpy_soft_ce(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -np.sum(y * _numpy_log_softmax(x), axis=-1)


def _numpy_int_ce(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    picked = np.take_along_axis(x, labels[:, None], axis=-1)[:, 0]
    return _numpy_lse(x) - picked


def _numpy_safe_ce(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -np.sum(np.where(y != 0, y * _numpy_log_softmax(x), 0), axis=-1)


def _numpy_poly_ce(epsilon: float) -> Callable[..., Any]:
    def poly(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        logp = _numpy_log_softmax(x)
        return -np.sum(y * logp, axis=-1) + epsilon * (1 - np.sum(y * np.exp(logp), axis=-1))

    return poly


def numpy(name: str, fn: Callable[[], Callable[..., Any]]) -> Peer:
    return Peer(name, fn)


# -- the table ------------------------------------------------------------------------------

FOCAL = {"alpha": 0.25, "gamma": 2.0}
POLY_EPS = 2.0

CASES: list[Case] = [
    Case(
        "softmax_cross_entropy",
        xlosses.softmax_cross_entropy,
        soft_inputs,
        {
            "jax": optax("softmax_cross_entropy"),
            "torch": torch_cross_entropy(),
            "numpy": numpy("-sum(y·scipy log_softmax)", lambda: _numpy_soft_ce),
        },
    ),
    Case(
        "softmax_cross_entropy_with_integer_labels",
        xlosses.softmax_cross_entropy_with_integer_labels,
        integer_inputs,
        {
            "jax": optax("softmax_cross_entropy_with_integer_labels"),
            "torch": torch_cross_entropy(),
            "numpy": numpy("scipy logsumexp - take_along_axis", lambda: _numpy_int_ce),
        },
    ),
    Case(
        "safe_softmax_cross_entropy",
        xlosses.safe_softmax_cross_entropy,
        soft_inputs,
        {
            "jax": optax("safe_softmax_cross_entropy"),
            "torch": torch_cross_entropy(),
            "numpy": numpy("-sum(where(y≠0, y·log_softmax))", lambda: _numpy_safe_ce),
        },
    ),
    Case(
        "sigmoid_binary_cross_entropy",
        xlosses.sigmoid_binary_cross_entropy,
        binary_inputs,
        {
            "jax": optax("sigmoid_binary_cross_entropy"),
            "torch": torch_bce(),
            "numpy": numpy("max(x,0) - x·y + log1p(exp(-|x|))", lambda: _numpy_bce),
        },
    ),
    Case(
        "sigmoid_focal_loss",
        xlosses.sigmoid_focal_loss,
        binary_inputs,
        {
            "jax": optax("sigmoid_focal_loss", **FOCAL),
            "torch": torch_focal(**FOCAL),
            "numpy": numpy("torchvision's formula in NumPy", lambda: _numpy_focal(**FOCAL)),
        },
        kwargs=FOCAL,
    ),
    Case(
        "poly_loss_cross_entropy",
        xlosses.poly_loss_cross_entropy,
        soft_inputs,
        {
            "jax": optax("poly_loss_cross_entropy", epsilon=POLY_EPS),
            "torch": torch_poly_ce(POLY_EPS),
            "numpy": numpy("paper's formula in NumPy", lambda: _numpy_poly_ce(POLY_EPS)),
        },
        kwargs={"epsilon": POLY_EPS},
    ),
]


def register(*cases: Case) -> None:
    """Add cases to the table (names must be new)."""
    known = {c.name for c in CASES}
    for c in cases:
        if c.name in known:
            raise ValueError(f"benchmark case {c.name!r} registered twice")
        CASES.append(c)
        known.add(c.name)
