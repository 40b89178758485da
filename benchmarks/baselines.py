"""The peers written here: plain formulas for NumPy and torch, and the peer factories.

A *formula* is written once as ``fn(k, *arrays, **options)`` against a small
kit ``k``: ``k.m`` is the library module itself (``numpy`` or ``torch``, for
the element-wise functions and the ``sum``/``mean``/``amax``/``cumsum``/``any``
reductions whose positional ``axis``/``dim`` both accept), plus the few
operations whose spelling differs (softmax, gathering a label's entry, sorting,
``arange`` on the input's device).  :func:`formula` turns it into the NumPy
baseline and the torch peer ("the formula torch users write") of a case; where
``torch.nn.functional`` has the same math, :func:`torch_F` is the torch peer
instead.  No array API layer is involved: these are what a user of each library
would write.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Peer",
    "formula",
    "formulas",
    "jax_formula",
    "numpy_formula",
    "optax",
    "torch_F",
    "torch_formula",
]


@dataclass(frozen=True)
class Peer:
    """A peer implementation: ``make()`` returns the function, ``name`` describes it."""

    name: str
    make: Callable[[], Callable[..., Any]]


# -- kits -------------------------------------------------------------------------------------


class NumpyKit:
    """NumPy (and ``scipy.special``) spellings of the operations the formulas share."""

    name = "NumPy"
    m = np

    @staticmethod
    def relu(x: Any) -> Any:
        return np.maximum(x, 0)

    @staticmethod
    def sigmoid(x: Any) -> Any:
        from scipy.special import expit

        return expit(x)

    @staticmethod
    def softmax(x: Any, axis: int = -1) -> Any:
        from scipy.special import softmax

        return softmax(x, axis=axis)

    @staticmethod
    def log_softmax(x: Any, axis: int = -1) -> Any:
        from scipy.special import log_softmax

        return log_softmax(x, axis=axis)

    @staticmethod
    def logsumexp(x: Any) -> Any:
        from scipy.special import logsumexp

        return logsumexp(x, axis=-1)

    @staticmethod
    def gather(x: Any, index: Any) -> Any:
        """``x[..., index]`` row by row (``index`` has ``x``'s number of axes)."""
        return np.take_along_axis(x, index, axis=-1)

    @staticmethod
    def arange(n: int, like: Any) -> Any:
        return np.arange(n)

    @staticmethod
    def sort_desc(x: Any) -> Any:
        return -np.sort(-x, axis=-1)


class TorchKit:
    """torch spellings of the same operations (``torch.nn.functional`` where it has them)."""

    name = "torch"

    def __init__(self) -> None:
        import torch

        self.m = torch
        self.F = torch.nn.functional

    def relu(self, x: Any) -> Any:
        return self.F.relu(x)

    def sigmoid(self, x: Any) -> Any:
        return self.m.sigmoid(x)

    def softmax(self, x: Any, axis: int = -1) -> Any:
        return self.m.softmax(x, dim=axis)

    def log_softmax(self, x: Any, axis: int = -1) -> Any:
        return self.m.log_softmax(x, dim=axis)

    def logsumexp(self, x: Any) -> Any:
        return self.m.logsumexp(x, dim=-1)

    def gather(self, x: Any, index: Any) -> Any:
        return self.m.gather(x, -1, index)

    def arange(self, n: int, like: Any) -> Any:
        return self.m.arange(n, device=like.device)

    def sort_desc(self, x: Any) -> Any:
        return self.m.sort(x, dim=-1, descending=True).values


class JaxKit:
    """``jax.numpy`` spellings (``jax.nn`` where it has them), for the peers written as
    ``jax.numpy`` formulas where optax has no such loss (timed under ``jax.jit``)."""

    name = "jax.numpy"

    def __init__(self) -> None:
        import jax
        import jax.numpy as jnp

        self.m = jnp
        self.nn = jax.nn

    def relu(self, x: Any) -> Any:
        return self.nn.relu(x)

    def sigmoid(self, x: Any) -> Any:
        return self.nn.sigmoid(x)

    def softmax(self, x: Any, axis: int = -1) -> Any:
        return self.nn.softmax(x, axis=axis)

    def log_softmax(self, x: Any, axis: int = -1) -> Any:
        return self.nn.log_softmax(x, axis=axis)

    def logsumexp(self, x: Any) -> Any:
        return self.nn.logsumexp(x, axis=-1)

    def gather(self, x: Any, index: Any) -> Any:
        return self.m.take_along_axis(x, index, axis=-1)

    def arange(self, n: int, like: Any) -> Any:
        return self.m.arange(n)

    def sort_desc(self, x: Any) -> Any:
        return -self.m.sort(-x, axis=-1)


Kit = NumpyKit | TorchKit | JaxKit


# -- peer factories ---------------------------------------------------------------------------


def optax(name: str, **kw: Any) -> Peer:
    """``optax.losses.<name>`` with the options ``kw``."""

    def make() -> Callable[..., Any]:
        import optax as ox

        fn = getattr(ox.losses, name)
        return (lambda *a: fn(*a, **kw)) if kw else fn

    return Peer(f"optax.losses.{name}", make)


def _F() -> Any:
    import torch.nn.functional as F

    return F


def _call(name: str, kw: dict[str, Any]) -> str:
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in kw.items())})"


def torch_F(
    name: str,
    *,
    then: Callable[[Any], Any] | None = None,
    then_name: str = "{}",
    **kw: Any,
) -> Peer:
    """``torch.nn.functional.<name>(*args, **kw)``, optionally followed by ``then(out)``.

    ``then_name`` formats the peer's name around the call (``"{}.sum(-1)"``).
    """

    def make() -> Callable[..., Any]:
        fn = getattr(_F(), name)
        if then is None:
            return lambda *a: fn(*a, **kw)
        return lambda *a: then(fn(*a, **kw))

    return Peer(then_name.format(_call(f"F.{name}", kw)), make)


def numpy_formula(desc: str, fn: Callable[..., Any], **kw: Any) -> Peer:
    """The formula ``fn`` on NumPy (with ``scipy.special``), named ``desc``."""
    return Peer(f"{desc} (NumPy)", lambda: functools.partial(fn, NumpyKit, **kw))


def torch_formula(desc: str, fn: Callable[..., Any], **kw: Any) -> Peer:
    """The formula ``fn`` in torch operations, named ``desc``."""
    return Peer(f"{desc} (torch ops)", lambda: functools.partial(fn, TorchKit(), **kw))


def formula(desc: str, fn: Callable[..., Any], **kw: Any) -> dict[str, Peer]:
    """The ``"torch"`` and ``"numpy"`` peers of one formula."""
    return {"torch": torch_formula(desc, fn, **kw), "numpy": numpy_formula(desc, fn, **kw)}


def jax_formula(desc: str, fn: Callable[..., Any], **kw: Any) -> Peer:
    """The formula ``fn`` in ``jax.numpy`` operations, named ``desc`` (timed under ``jax.jit``)."""
    return Peer(f"{desc} (jax.numpy)", lambda: functools.partial(fn, JaxKit(), **kw))


def formulas(desc: str, fn: Callable[..., Any], **kw: Any) -> dict[str, Peer]:
    """The ``"torch"``, ``"jax"`` and ``"numpy"`` peers of one formula."""
    return {**formula(desc, fn, **kw), "jax": jax_formula(desc, fn, **kw)}


def mean_of(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``'s formula followed by the mean of all entries (torch's ``reduction='mean'``)."""

    def mean(k: Kit, *args: Any, **kw: Any) -> Any:
        return k.m.mean(fn(k, *args, **kw))

    return mean


def take(k: Kit, x: Any, labels: Any) -> Any:
    """The entry of each row's label: ``x[..., labels]`` row by row."""
    return k.gather(x, labels[..., None])[..., 0]


# -- regression -------------------------------------------------------------------------------

LOG2 = math.log(2.0)


def squared_error(k: Kit, x: Any, y: Any) -> Any:
    return k.m.square(x - y)


def l2_loss(k: Kit, x: Any, y: Any) -> Any:
    return 0.5 * k.m.square(x - y)


def absolute_error(k: Kit, x: Any, y: Any) -> Any:
    return k.m.abs(x - y)


def huber(k: Kit, x: Any, y: Any, delta: float = 1.0) -> Any:
    a = k.m.abs(x - y)
    q = k.m.clip(a, None, delta)
    return 0.5 * q * q + delta * (a - q)


def smooth_l1(k: Kit, x: Any, y: Any, beta: float = 1.0) -> Any:
    return huber(k, x, y, delta=beta) / beta


def log_cosh(k: Kit, x: Any, y: Any) -> Any:
    e = x - y
    return k.m.logaddexp(e, -e) - LOG2


def poisson_nll(k: Kit, log_rate: Any, y: Any) -> Any:
    return k.m.exp(log_rate) - y * log_rate


def gaussian_nll(k: Kit, mean: Any, y: Any, var: Any, eps: float = 1e-6) -> Any:
    v = k.m.clip(var, eps, None)
    return 0.5 * (k.m.log(v) + k.m.square(mean - y) / v)


# -- divergences (targets are strictly positive in the builders) ------------------------------


def kl(k: Kit, log_p: Any, t: Any) -> Any:
    return k.m.sum(t * (k.m.log(t) - log_p), -1)


def kl_log_targets(k: Kit, log_p: Any, log_t: Any) -> Any:
    return k.m.sum(k.m.exp(log_t) * (log_t - log_p), -1)


def generalized_kl(k: Kit, log_p: Any, t: Any) -> Any:
    return kl(k, log_p, t) + k.m.sum(k.m.exp(log_p) - t, -1)


def kl_div_batchmean(k: Kit, log_p: Any, t: Any) -> Any:
    return k.m.sum(t * (k.m.log(t) - log_p)) / log_p.shape[0]


# -- classification ---------------------------------------------------------------------------


def softplus(k: Kit, z: Any) -> Any:
    """The usual stable formula: ``max(z, 0) + log1p(exp(-|z|))``."""
    return k.relu(z) + k.m.log1p(k.m.exp(-k.m.abs(z)))


def bce(k: Kit, x: Any, y: Any) -> Any:
    return softplus(k, x) - x * y


def bce_of_probabilities(k: Kit, p: Any, y: Any) -> Any:
    return -(y * k.m.log(p) + (1 - y) * k.m.log1p(-p))


def integer_ce(k: Kit, x: Any, labels: Any) -> Any:
    return k.logsumexp(x) - take(k, x, labels)


def smoothed_integer_ce(k: Kit, x: Any, labels: Any, alpha: float) -> Any:
    """torch's ``label_smoothing``: ``(1 - α)·CE(x, y) + α·mean_j(-log p_j)``."""
    lse = k.logsumexp(x)
    return (1 - alpha) * (lse - take(k, x, labels)) + alpha * (lse - k.m.mean(x, -1))


def linear_ce(k: Kit, x: Any, w: Any, labels: Any) -> Any:
    """The cross-entropy of the logits ``x @ w.T`` (built whole)."""
    return integer_ce(k, x @ w.T, labels)


def linear_ce_and_grads(k: Kit, x: Any, w: Any, labels: Any) -> Any:
    """The loss of :func:`linear_ce` and the gradients of its sum in ``x`` and ``w``: the
    softmax of the whole logits minus the one-hot of the labels, two matrix products."""
    z = x @ w.T
    lse = k.logsumexp(z)
    dz = k.m.exp(z - lse[:, None])
    hit = labels[:, None] == k.arange(z.shape[-1], z)[None, :]
    dz = dz - hit * 1.0
    return lse - take(k, z, labels), dz @ w, dz.T @ x, None


def safe_soft_ce(k: Kit, x: Any, y: Any) -> Any:
    """Soft-label cross-entropy with ``0·log 0 = 0`` (a ``-inf`` logit of label 0 adds 0)."""
    return -k.m.sum(k.m.where(y != 0, y * k.log_softmax(x), 0.0), -1)


def nll(k: Kit, log_p: Any, labels: Any) -> Any:
    return -take(k, log_p, labels)


def soft_margin(k: Kit, x: Any, y: Any) -> Any:
    return softplus(k, -y * x)


def fenchel_young_lse(k: Kit, x: Any, y: Any) -> Any:
    """The Fenchel-Young loss of ``logsumexp``: ``logsumexp(x) - <y, x>``."""
    return k.logsumexp(x) - k.m.sum(y * x, -1)


def smooth_labels(k: Kit, y: Any, alpha: float) -> Any:
    return (1.0 - alpha) * y + alpha / y.shape[-1]


# -- margins ----------------------------------------------------------------------------------


def hinge(k: Kit, x: Any, y: Any) -> Any:
    return k.relu(1 - x * y)


def perceptron(k: Kit, x: Any, y: Any) -> Any:
    return k.relu(-x * y)


def _is_label(k: Kit, labels: Any, like: Any) -> Any:
    """``[..., C]`` booleans: entry ``j`` of a row is its label."""
    return labels[..., None] == k.arange(like.shape[-1], like)


def multiclass_hinge(k: Kit, x: Any, labels: Any) -> Any:
    return k.m.amax(k.m.where(_is_label(k, labels, x), x, x + 1), -1) - take(k, x, labels)


def multiclass_perceptron(k: Kit, x: Any, labels: Any) -> Any:
    return k.m.amax(x, -1) - take(k, x, labels)


def multi_margin(k: Kit, x: Any, labels: Any, margin: float = 1.0) -> Any:
    z = k.relu(margin - take(k, x, labels)[..., None] + x)
    return k.m.sum(k.m.where(_is_label(k, labels, x), 0.0, z), -1) / x.shape[-1]


def multilabel_margin(k: Kit, x: Any, targets: Any) -> Any:
    """torch's multi-label margin loss, all pairs at once (``[N, C, C]``)."""
    listed = k.m.cumsum(targets < 0, -1) == 0  # the classes before the first -1
    t = k.m.where(listed, targets, 0)
    is_target = k.m.any(_is_label(k, t, x) & listed[..., None], -2)
    z = k.relu(1 - k.gather(x, t)[..., :, None] + x[..., None, :])
    pair = listed[..., :, None] & ~is_target[..., None, :]
    return k.m.sum(k.m.sum(k.m.where(pair, z, 0.0), -1), -1) / x.shape[-1]


def hinge_embedding(k: Kit, x: Any, y: Any, margin: float = 1.0) -> Any:
    return k.m.where(y == 1, x, k.relu(margin - x))


def margin_ranking(k: Kit, x1: Any, x2: Any, y: Any, margin: float = 0.0) -> Any:
    return k.relu(-y * (x1 - x2) + margin)


# -- sparsemax --------------------------------------------------------------------------------


def sparsemax_binary(k: Kit, x: Any, labels: Any) -> Any:
    """optax's ``sparse_plus(where(labels, -x, x))``."""
    z = k.m.where(labels != 0, -x, x)
    return k.m.where(z <= -1, 0.0, k.m.where(z >= 1, z, 0.25 * k.m.square(z + 1)))


def sparsemax(k: Kit, x: Any) -> Any:
    """The Euclidean projection of each row onto the simplex (sort and threshold)."""
    z = k.sort_desc(x)
    cs = k.m.cumsum(z, -1)
    r = k.arange(x.shape[-1], x) + 1
    size = k.m.sum(1 + r * z > cs, -1)
    tau = (take(k, cs, size - 1) - 1) / size
    return k.relu(x - tau[..., None])


def multiclass_sparsemax(k: Kit, x: Any, labels: Any) -> Any:
    p = sparsemax(k, x)
    return k.m.sum(p * x, -1) - take(k, x, labels) + 0.5 * (1 - k.m.sum(p * p, -1))


# -- embeddings -------------------------------------------------------------------------------


def _norm(k: Kit, x: Any) -> Any:
    return k.m.sqrt(k.m.sum(x * x, -1))


def cosine_similarity(k: Kit, a: Any, b: Any) -> Any:
    return k.m.sum(a * b, -1) / (_norm(k, a) * _norm(k, b))


def cosine_distance(k: Kit, a: Any, b: Any) -> Any:
    return 1.0 - cosine_similarity(k, a, b)


def pairwise_distance(k: Kit, a: Any, b: Any, eps: float = 1e-6) -> Any:
    """torch's convention: ``||a - b + eps||``."""
    return _norm(k, a - b + eps)


def triplet_optax(k: Kit, a: Any, p: Any, n: Any, margin: float = 1.0, eps: float = 1e-6) -> Any:
    """optax's convention: ``sqrt(sum (a - p)² + eps)``."""

    def d(u: Any, v: Any) -> Any:
        return k.m.sqrt(k.m.sum(k.m.square(u - v), -1) + eps)

    return k.relu(d(a, p) - d(a, n) + margin)


def triplet_torch(k: Kit, a: Any, p: Any, n: Any, margin: float = 1.0) -> Any:
    return k.relu(pairwise_distance(k, a, p) - pairwise_distance(k, a, n) + margin)


def cosine_embedding(k: Kit, x1: Any, x2: Any, y: Any, margin: float = 0.0) -> Any:
    cos = cosine_similarity(k, x1, x2)
    return k.m.where(y == 1, 1 - cos, k.relu(cos - margin))


def ntxent(k: Kit, e: Any, labels: Any, temperature: float = 0.07) -> Any:
    """NT-Xent: cosines of all pairs, positives against the log-sum-exp of each row's negatives."""
    u = e / _norm(k, e)[..., None]
    s = (u @ u.T) / temperature
    same = labels[:, None] == labels[None, :]
    idx = k.arange(e.shape[0], e)
    pos = same & (idx[:, None] != idx[None, :])
    neg = k.logsumexp(k.m.where(same, -math.inf, s))
    per_pair = k.m.logaddexp(neg[:, None], s) - s
    return k.m.sum(k.m.where(pos, per_pair, 0.0)) / k.m.sum(pos)


# -- segmentation (spatial axis 1, classes last) ----------------------------------------------


def _dice_terms(k: Kit, p: Any, t: Any, smooth: float = 1.0) -> Any:
    """``1 - Dice`` per example and class (α = β = 0.5)."""
    inter = k.m.sum(p * t, 1)
    return 1.0 - (inter + smooth) / (0.5 * k.m.sum(p, 1) + 0.5 * k.m.sum(t, 1) + smooth)


def dice(k: Kit, x: Any, t: Any) -> Any:
    return k.m.mean(_dice_terms(k, k.softmax(x), t), -1)


def binary_dice(k: Kit, x: Any, t: Any) -> Any:
    return _dice_terms(k, k.sigmoid(x), t)


def generalized_dice(k: Kit, x: Any, t: Any) -> Any:
    w = 1.0 / (k.m.square(k.m.sum(t, (0, 1))) + 1e-7)
    w = w / k.m.sum(w) * t.shape[-1]
    return k.m.mean(_dice_terms(k, k.softmax(x), t) * w)


# -- ranking ----------------------------------------------------------------------------------


def ranking_softmax(k: Kit, x: Any, relevance: Any) -> Any:
    return -k.m.mean(k.m.sum(relevance * k.log_softmax(x), -1))


# -- CTC (NumPy; torch has F.ctc_loss) --------------------------------------------------------


def ctc_batch_first(
    log_probs: np.ndarray, labels: np.ndarray, frames: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """CTC negative log-likelihood per row, blank 0: the forward recursion over time in log space.

    ``log_probs [B, T, K]``, ``labels [B, N]`` (padded), ``frames [B]`` and
    ``lengths [B]`` (``>= 1``) the used frames and labels of each row.
    """
    b, t_max, _ = log_probs.shape
    s = 2 * labels.shape[1] + 1
    ext = np.zeros((b, s), dtype=labels.dtype)  # blank, l1, blank, l2, ..., blank
    ext[:, 1::2] = labels
    skip = np.zeros((b, s), dtype=bool)  # s may come from s - 2: a label unlike the one before
    skip[:, 3::2] = labels[:, 1:] != labels[:, :-1]
    emit = np.take_along_axis(log_probs, ext[:, None, :], axis=-1)  # [B, T, S]
    neg = np.full((b, 2), -np.inf, dtype=log_probs.dtype)
    alpha = np.concatenate([emit[:, 0, :2], np.full((b, s - 2), -np.inf, log_probs.dtype)], 1)
    for t in range(1, t_max):
        a1 = np.concatenate([neg[:, :1], alpha[:, :-1]], 1)
        a2 = np.where(skip, np.concatenate([neg, alpha[:, :-2]], 1), -np.inf)
        step = np.logaddexp(np.logaddexp(alpha, a1), a2) + emit[:, t]
        alpha = np.where((t < frames)[:, None], step, alpha)
    end = 2 * lengths[:, None]
    last = np.take_along_axis(alpha, np.concatenate([end, end - 1], 1), axis=1)
    return -np.logaddexp(last[:, 0], last[:, 1])


def ctc_from_paddings(
    logits: np.ndarray, logit_pad: np.ndarray, labels: np.ndarray, label_pad: np.ndarray
) -> np.ndarray:
    """optax's layout: logits and padding masks."""
    frames = np.rint(np.sum(1 - logit_pad, -1)).astype(np.int64)
    lengths = np.rint(np.sum(1 - label_pad, -1)).astype(np.int64)
    return ctc_batch_first(NumpyKit.log_softmax(logits), labels, frames, lengths)


def ctc_time_major(log_probs: Any, targets: Any, frames: Any, lengths: Any) -> Any:
    """torch's layout: ``log_probs [T, B, K]`` and lengths."""
    return ctc_batch_first(np.moveaxis(log_probs, 0, 1), targets, frames, lengths)


def ctc_mean(log_probs: Any, targets: Any, frames: Any, lengths: Any) -> Any:
    """torch's ``reduction='mean'``: each loss over its target length, then the batch mean."""
    return np.mean(ctc_time_major(log_probs, targets, frames, lengths) / lengths)


def torch_ctc_from_paddings() -> Callable[..., Any]:
    """F.ctc_loss on optax's arguments: log_softmax, time-major, lengths from the paddings."""
    import torch

    F = _F()

    def ctc(logits: Any, logit_pad: Any, labels: Any, label_pad: Any) -> Any:
        log_probs = torch.log_softmax(logits, dim=-1).transpose(0, 1)
        frames = torch.round(torch.sum(1 - logit_pad, -1)).long()
        lengths = torch.round(torch.sum(1 - label_pad, -1)).long()
        return F.ctc_loss(log_probs, labels, frames, lengths, reduction="none")

    return ctc


# -- issue #22: Keras' / MONAI's / kornia's / Barron's formulas, as users write them ---------


def softmax_focal(k: Kit, x: Any, y: Any, alpha: float = 0.25, gamma: float = 2.0) -> Any:
    """Keras' ``categorical_focal_crossentropy`` from logits (``log_softmax`` for its log):
    ``-Σ α (1 - p)^γ y log p``."""
    lp = k.log_softmax(x)
    return -k.m.sum(alpha * (1 - k.m.exp(lp)) ** gamma * y * lp, -1)


def softmax_focal_labels(k: Kit, x: Any, labels: Any, gamma: float = 2.0) -> Any:
    """``-(1 - p_y)^γ log p_y`` at each row's label."""
    lp = take(k, k.log_softmax(x), labels)
    return -((1 - k.m.exp(lp)) ** gamma) * lp


def generalized_ce(k: Kit, x: Any, labels: Any, q: float = 0.7) -> Any:
    """Keras' ``categorical_generalized_cross_entropy`` of ``softmax(x)``: ``(1 - p_y^q)/q``."""
    return (1 - take(k, k.softmax(x), labels) ** q) / q


def squared_hinge(k: Kit, x: Any, y: Any) -> Any:
    """Keras' ``squared_hinge``, its {0, 1} → ±1 label mapping (for the whole array) included."""
    y = k.m.where(k.m.all((y == 0) | (y == 1)), 2 * y - 1, y)
    return k.m.mean(k.relu(1 - y * x) ** 2, -1)


def categorical_hinge(k: Kit, x: Any, y: Any) -> Any:
    pos = k.m.sum(y * x, -1)
    neg = k.m.amax((1 - y) * x, -1)
    return k.relu(neg - pos + 1)


def percentage_error(k: Kit, x: Any, y: Any) -> Any:
    return 100 * k.m.abs(y - x) / k.m.clip(k.m.abs(y), 1e-7, None)


def log_error(k: Kit, x: Any, y: Any) -> Any:
    return k.m.square(k.m.log1p(k.m.clip(x, 1e-7, None)) - k.m.log1p(k.m.clip(y, 1e-7, None)))


def distillation(k: Kit, s: Any, t: Any, temperature: float = 2.0) -> Any:
    """Hinton's ``T²·KL(softmax(t/T) ‖ softmax(s/T))`` per row."""
    lt, ls = k.log_softmax(t / temperature), k.log_softmax(s / temperature)
    return temperature**2 * k.m.sum(k.m.exp(lt) * (lt - ls), -1)


def barron(k: Kit, x: Any, alpha: float = 0.5, scale: float = 1.3) -> Any:
    """Barron's ``ρ`` for a fixed ``α ∉ {0, 2}``, the paper's power form."""
    b = abs(alpha - 2)
    return b / alpha * ((k.m.square(x / scale) / b + 1) ** (alpha / 2) - 1)


def charbonnier(k: Kit, x: Any, y: Any) -> Any:
    return k.m.sqrt(k.m.square(x - y) + 1) - 1


def cauchy(k: Kit, x: Any, y: Any) -> Any:
    return k.m.log1p(0.5 * k.m.square(x - y))


def geman_mcclure(k: Kit, x: Any, y: Any) -> Any:
    d2 = k.m.square(x - y)
    return 2 * d2 / (d2 + 4)


def welsch(k: Kit, x: Any, y: Any) -> Any:
    return -k.m.expm1(-0.5 * k.m.square(x - y))


# -- segmentation, detection and image losses (issue #22 B) -----------------------------------


def soft_jaccard_batch(k: Kit, x: Any, labels: Any, alpha: float = 1.0, beta: float = 1.0) -> Any:
    """segmentation_models_pytorch's multiclass Tversky/Jaccard score over the whole batch,
    ``1 - score`` averaged over the classes present (classes last)."""
    p = k.softmax(x)
    t = 1.0 * (labels[..., None] == k.arange(x.shape[-1], x))
    ps, ts = k.m.sum(p, (0, 1)), k.m.sum(t, (0, 1))
    inter = (ps + ts - k.m.sum(abs(p - t), (0, 1))) / 2
    score = inter / k.m.maximum(inter + alpha * (ps - inter) + beta * (ts - inter), 1e-7 + 0 * ps)
    return k.m.mean((1.0 - score) * (ts > 0))


def focal_tversky_batch(k: Kit, x: Any, labels: Any) -> Any:
    return soft_jaccard_batch(k, x, labels, 0.3, 0.7) ** 2


def mcc_batch(k: Kit, p: Any, t: Any, eps: float = 1e-5) -> Any:
    tp = k.m.sum(p * t) + eps
    tn = k.m.sum((1 - p) * (1 - t)) + eps
    fp = k.m.sum(p * (1 - t)) + eps
    fn = k.m.sum((1 - p) * t) + eps
    return 1.0 - (tp * tn - fp * fn) / ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) ** 0.5


def _lovasz_gradient(gt: np.ndarray) -> np.ndarray:
    g = gt.sum()
    jac = 1.0 - (g - np.cumsum(gt)) / (g + np.cumsum(1.0 - gt))
    jac[1:] = jac[1:] - jac[:-1]
    return jac


def lovasz_hinge_loop(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Berman et al.'s reference algorithm in NumPy: a loop over the images."""
    out = []
    for xi, yi in zip(x, y, strict=True):
        e = 1.0 - xi * (2.0 * yi - 1.0)
        order = np.argsort(-e, kind="stable")
        out.append(np.dot(np.maximum(e[order], 0.0), _lovasz_gradient(yi[order])))
    return np.mean(out)


def lovasz_softmax_loop(x: np.ndarray, labels: np.ndarray, per_image: bool) -> np.ndarray:
    """Berman et al.'s reference algorithm in NumPy: loops over images (``per_image``) and
    classes, the classes present only."""
    from scipy.special import softmax

    p = softmax(x, axis=-1)
    groups = list(zip(p, labels, strict=True)) if per_image else [(p, labels)]
    out = []
    for pi, li in groups:
        pi, li = pi.reshape(-1, pi.shape[-1]), li.reshape(-1)
        losses = []
        for c in range(pi.shape[1]):
            fg = (li == c).astype(pi.dtype)
            if fg.sum() == 0:
                continue
            e = np.abs(fg - pi[:, c])
            order = np.argsort(-e, kind="stable")
            losses.append(np.dot(e[order], _lovasz_gradient(fg[order])))
        out.append(np.mean(losses) if losses else 0.0)
    return np.mean(out)


def box_loss(k: Kit, b1: Any, b2: Any, kind: str, eps: float = 1e-7) -> Any:
    """torchvision's generalized ('g'), distance ('d') or complete ('c') IoU loss per box."""
    x1, y1, x2, y2 = (b1[..., i] for i in range(4))
    u1, v1, u2, v2 = (b2[..., i] for i in range(4))
    xk1, yk1 = k.m.maximum(x1, u1), k.m.maximum(y1, v1)
    xk2, yk2 = k.m.minimum(x2, u2), k.m.minimum(y2, v2)
    inter = k.m.where((yk2 > yk1) & (xk2 > xk1), (xk2 - xk1) * (yk2 - yk1), 0.0 * x1)
    union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
    iou = inter / (union + eps)
    xc1, yc1 = k.m.minimum(x1, u1), k.m.minimum(y1, v1)
    xc2, yc2 = k.m.maximum(x2, u2), k.m.maximum(y2, v2)
    if kind == "g":
        area = (xc2 - xc1) * (yc2 - yc1)
        return 1.0 - iou + (area - union) / (area + eps)
    diag = (xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + eps
    cent = ((x1 + x2 - u1 - u2) / 2) ** 2 + ((y1 + y2 - v1 - v2) / 2) ** 2
    diou = 1.0 - iou + cent / diag
    if kind == "d":
        return diou
    atan = k.m.arctan if k.m is np else k.m.atan
    v = (4 / math.pi**2) * (atan((u2 - u1) / (v2 - v1)) - atan((x2 - x1) / (y2 - y1))) ** 2
    alpha = v / (1.0 - iou + v + eps)
    return diou + alpha * v


def total_variation(k: Kit, img: Any) -> Any:
    return k.m.sum(abs(img[..., 1:, :] - img[..., :-1, :]), (-2, -1)) + k.m.sum(
        abs(img[..., :, 1:] - img[..., :, :-1]), (-2, -1)
    )


def psnr_pooled(k: Kit, a: Any, b: Any, max_val: float = 1.0) -> Any:
    return -10.0 * k.m.log10(max_val**2 / k.m.mean((a - b) ** 2))


def ssim_scipy(a: np.ndarray, b: np.ndarray, window_size: int = 7, max_val: float = 1.0) -> Any:
    """kornia's SSIM loss with scipy.ndimage: a sampled Gaussian (σ = 1.5) correlated along
    each spatial axis with 'mirror' padding (torch's 'reflect'), the mean of the map."""
    from scipy.ndimage import correlate1d

    r = window_size // 2
    w = np.exp(-((np.arange(window_size) - r) ** 2) / (2 * 1.5**2))
    w = w / w.sum()

    def blur(z: np.ndarray) -> np.ndarray:
        return correlate1d(correlate1d(z, w, axis=-1, mode="mirror"), w, axis=-2, mode="mirror")

    mu1, mu2 = blur(a), blur(b)
    s11, s22, s12 = blur(a * a) - mu1**2, blur(b * b) - mu2**2, blur(a * b) - mu1 * mu2
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    ssim = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / (
        (mu1**2 + mu2**2 + c1) * (s11 + s22 + c2) + 1e-12
    )
    return np.mean(np.clip((1 - ssim) / 2, 0, 1))
