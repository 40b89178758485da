"""Input builders of the benchmark cases: float64 NumPy data for a ``rows x classes`` problem.

A builder is ``make(rng, rows, classes) -> list[numpy.ndarray]``, the
positional arguments of both calls; the runner casts floating arrays to the
dtype under test (integer arrays keep their dtype).  Most problems are
``rows x classes`` arrays as they are (per-class losses: classification,
regression and margins element-wise; embeddings: ``rows`` vectors of
``classes`` dimensions); the others keep about ``rows * classes`` elements in
their main input where the shape allows it:

* segmentation: ``rows`` images of ``classes // 4`` pixels and 4 classes;
* CTC: ``rows`` frames, cut into sequences of ``CTC_FRAMES`` frames, with a
  vocabulary of ``classes`` (blank 0) and up to ``CTC_LABELS`` labels each;
* NT-Xent: at most ``NTXENT_ROWS`` embeddings of at most ``NTXENT_DIM``
  dimensions (optax compares all pairs through a ``[n, n, dim]`` array);
* multi-label margin: at most ``MULTILABEL_CLASSES`` classes (every
  implementation compares all pairs of classes, ``[rows, C, C]``);
* the fused linear cross-entropy: ``rows`` features of ``LINEAR_DIM``
  dimensions and a ``classes × LINEAR_DIM`` weight (the logits ``rows x classes``
  that its peers build; ``python -m benchmarks.large_vocab`` times the
  training step at a language model's size).
* metric learning: at most ``NTXENT_ROWS`` embeddings of at most ``NTXENT_DIM``
  dimensions (every pair of the batch: ``[n, n]``), in ``n // 4`` classes; the
  class-weight losses have ``min(classes, METRIC_CLASSES)`` classes;
* learning to rank (rax): ``rows`` lists of at most ``LIST_ITEMS`` items (the
  pairwise losses compare all pairs of a list: ``[rows, L, L]``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import log_softmax

Builder = Callable[[np.random.Generator, int, int], list[np.ndarray]]

SEGMENTATION_CLASSES = 4
CTC_FRAMES = 16
CTC_LABELS = 5
NTXENT_ROWS = 512
NTXENT_DIM = 128
MULTILABEL_CLASSES = 32
LINEAR_DIM = 64
METRIC_CLASSES = 1000
LIST_ITEMS = 50


# -- pieces -----------------------------------------------------------------------------------


def _logits(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    return 3.0 * rng.standard_normal((n, c))


def _probabilities(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    z = rng.standard_normal((n, c))
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _signs(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def _bits(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    return (rng.random((n, c)) < 0.5).astype(np.float64)


def _labels(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    return rng.integers(0, c, n).astype(np.int64)


# -- classification, margins, divergences -----------------------------------------------------


def soft_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Logits and rows of probabilities."""
    return [_logits(rng, n, c), _probabilities(rng, n, c)]


def integer_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Logits and class indices."""
    return [_logits(rng, n, c), _labels(rng, n, c)]


def linear_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Features ``[n, LINEAR_DIM]``, a weight ``[c, LINEAR_DIM]`` (logits of spread about 3)
    and class indices."""
    x = rng.standard_normal((n, LINEAR_DIM))
    w = 3.0 * rng.standard_normal((c, LINEAR_DIM)) / np.sqrt(LINEAR_DIM)
    return [x, w, _labels(rng, n, c)]


def binary_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Logits and hard multi-label targets (0/1)."""
    return [_logits(rng, n, c), _bits(rng, n, c)]


def integer_binary_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Logits and integer 0/1 labels (the binary sparsemax loss)."""
    return [_logits(rng, n, c), _bits(rng, n, c).astype(np.int64)]


def sign_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Scores and ±1 targets, per class."""
    return [_logits(rng, n, c), _signs(rng, n, c)]


def probability_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Probabilities in (0.02, 0.98) and 0/1 targets (``binary_cross_entropy``)."""
    return [rng.uniform(0.02, 0.98, (n, c)), _bits(rng, n, c)]


def log_probability_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Log-probabilities (``log_softmax`` of logits) and rows of probabilities."""
    return [log_softmax(_logits(rng, n, c), axis=-1), _probabilities(rng, n, c)]


def log_log_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Log-probabilities and log-probability targets."""
    return [log_softmax(_logits(rng, n, c), axis=-1), np.log(_probabilities(rng, n, c))]


def unnormalised_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Log-measures and measures, both scaled by factors in [0.5, 2] (generalised KL)."""
    lp, t = log_probability_inputs(rng, n, c)
    return [lp + np.log(rng.uniform(0.5, 2.0, (n, c))), t * rng.uniform(0.5, 2.0, (n, c))]


def log_probability_labels(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Log-probabilities and class indices (``nll_loss``)."""
    return [log_softmax(_logits(rng, n, c), axis=-1), _labels(rng, n, c)]


def label_rows(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Rows of probabilities alone (``smooth_labels``)."""
    return [_probabilities(rng, n, c)]


def multilabel_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Scores ``[rows, min(classes, 32)]`` and torch's targets: k distinct classes, then -1."""
    c = min(c, MULTILABEL_CLASSES)
    perm = np.argsort(rng.random((n, c)), axis=-1)
    k = rng.integers(0, c + 1, n)
    return [_logits(rng, n, c), np.where(np.arange(c) < k[:, None], perm, -1).astype(np.int64)]


# -- regression -------------------------------------------------------------------------------


def regression_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Predictions and targets, element-wise."""
    return [_logits(rng, n, c), 2.0 * rng.standard_normal((n, c))]


def residual_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Residuals alone (``robust_loss``)."""
    return [_logits(rng, n, c)]


def poisson_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Log-rates (at most 10) and Poisson counts."""
    return [np.minimum(_logits(rng, n, c), 10.0), rng.poisson(2.5, (n, c)).astype(np.float64)]


def gaussian_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Means, targets and variances in [0.2, 1.2]."""
    return [*regression_inputs(rng, n, c), 0.2 + rng.random((n, c))]


# -- embeddings and ranking -------------------------------------------------------------------


def vector_pairs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Two batches of ``rows`` vectors of ``classes`` dimensions."""
    return [rng.standard_normal((n, c)), rng.standard_normal((n, c))]


def vector_pairs_signs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Two batches of vectors and a ±1 target per pair (``cosine_embedding_loss``)."""
    return [*vector_pairs(rng, n, c), _signs(rng, n)]


def score_pairs_signs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Two scores and a ±1 target per entry (``margin_ranking_loss``)."""
    return [*vector_pairs(rng, n, c), _signs(rng, n, c)]


def triplet_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Anchors, positives (closer to the anchors on average) and negatives."""
    a, p, neg = (rng.standard_normal((n, c)) for _ in range(3))
    return [a, a + 0.7 * (p - a) / (1.0 + np.abs(p - a)), neg]


def ntxent_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """``min(rows, 512)`` embeddings of ``min(classes, 128)`` dimensions, labels in pairs."""
    n, c = min(n, NTXENT_ROWS), min(c, NTXENT_DIM)
    return [rng.standard_normal((n, c)), rng.permutation(np.arange(n) // 2).astype(np.int64)]


def metric_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """``min(rows, 512)`` embeddings of ``min(classes, 128)`` dimensions in ``n // 4`` classes."""
    n, c = min(n, NTXENT_ROWS), min(c, NTXENT_DIM)
    return [rng.standard_normal((n, c)), rng.integers(0, max(2, n // 4), n).astype(np.int64)]


def class_weight_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Embeddings as :func:`metric_inputs`, class indices and a ``[C, dim]`` weight matrix."""
    e, _ = metric_inputs(rng, n, c)
    k = min(c, METRIC_CLASSES)
    return [
        e,
        rng.integers(0, k, e.shape[0]).astype(np.int64),
        rng.standard_normal((k, e.shape[1])),
    ]


def list_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """``rows`` lists of ``min(classes, 50)`` items: scores and graded relevance 0, 1, 2."""
    return relevance_inputs(rng, n, min(c, LIST_ITEMS))


def relevance_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """``rows`` lists of ``classes`` items: scores and graded relevance 0, 1, 2."""
    return [_logits(rng, n, c), rng.integers(0, 3, (n, c)).astype(np.float64)]


# -- segmentation -----------------------------------------------------------------------------


def segmentation_inputs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Logits ``[rows, classes // 4, 4]`` and one-hot targets (4 segmentation classes)."""
    k = SEGMENTATION_CLASSES
    pixels = max(1, c // k)
    return [3.0 * rng.standard_normal((n, pixels, k)), np.eye(k)[rng.integers(0, k, (n, pixels))]]


# -- CTC --------------------------------------------------------------------------------------


def _ctc_rows(
    rng: np.random.Generator,
    n: int,
    c: int,
    frames: int = CTC_FRAMES,
    labels: int = CTC_LABELS,
) -> tuple[np.ndarray, ...]:
    """Log-probabilities ``[B, T, K]``, labels ``[B, N]`` and the lengths of frames and labels.

    ``B = max(1, rows // T)`` sequences of ``T = frames`` frames (default
    ``CTC_FRAMES``) over a vocabulary of ``K = max(classes, 2)`` (blank 0);
    ``N = min(labels, K - 1)`` labels per row (default ``CTC_LABELS``), of which
    the first 1..N count (N // 2..N for more than ``CTC_LABELS``); each row uses
    ``T - max(3, T // 8)`` to ``T`` frames, always enough for its labels and repeats.
    """
    b, t, k = max(1, n // frames), frames, max(c, 2)
    width = min(labels, k - 1)
    if 2 * width + 1 > t - 3:
        raise ValueError(f"CTC: {width} labels do not fit in {t} frames")
    low = 1 if width <= CTC_LABELS else width // 2
    labels_ = rng.integers(1, k, (b, width)).astype(np.int64)
    lengths = rng.integers(low, width + 1, b)
    frames_ = np.maximum(rng.integers(t - max(3, t // 8), t + 1, b), 2 * lengths + 1)
    return 3.0 * rng.standard_normal((b, t, k)), labels_, frames_, lengths


def ctc_paddings(rng: np.random.Generator, n: int, c: int, **shape: int) -> list[np.ndarray]:
    """optax's CTC arguments: logits, logit paddings, labels, label paddings (1.0 = padded)."""
    logits, labels, frames, lengths = _ctc_rows(rng, n, c, **shape)
    logit_pad = (np.arange(logits.shape[1]) >= frames[:, None]).astype(np.float64)
    label_pad = (np.arange(labels.shape[1]) >= lengths[:, None]).astype(np.float64)
    return [logits, logit_pad, labels, label_pad]


def ctc_lengths(rng: np.random.Generator, n: int, c: int, **shape: int) -> list[np.ndarray]:
    """torch's CTC arguments: log-probabilities ``[T, B, K]``, targets, input and target lengths."""
    logits, labels, frames, lengths = _ctc_rows(rng, n, c, **shape)
    log_probs = np.ascontiguousarray(np.moveaxis(log_softmax(logits, axis=-1), 0, 1))
    return [log_probs, labels, frames.astype(np.int64), lengths.astype(np.int64)]


# -- segmentation, detection and image losses (issue #22 B) ---------------------------------------


def segmentation_labels(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Logits ``[rows, classes // 4, 4]`` and class indices ``[rows, classes // 4]``."""
    k = SEGMENTATION_CLASSES
    pixels = max(1, c // k)
    return [3.0 * rng.standard_normal((n, pixels, k)), rng.integers(0, k, (n, pixels))]


def segmentation_onehot(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Logits ``[rows, classes // 4, 4]`` and their one-hot targets (of random classes)."""
    x, labels = segmentation_labels(rng, n, c)
    return [x, np.eye(SEGMENTATION_CLASSES)[labels]]


def probability_bits(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Probabilities (a sigmoid of logits) and hard binary targets, ``[rows, classes]``."""
    return [1.0 / (1.0 + np.exp(-_logits(rng, n, c))), _bits(rng, n, c)]


def box_pairs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """``rows * classes // 4`` pairs of overlapping boxes ``(x1, y1, x2, y2)``."""
    m = max(1, n * c // 4)
    corner = rng.random((m, 2)) * 10.0
    b1 = np.concatenate([corner, corner + rng.random((m, 2)) * 5.0 + 0.5], axis=-1)
    b2 = b1 + rng.standard_normal((m, 4))
    b2[:, 2:] = np.maximum(b2[:, 2:], b2[:, :2] + 0.1)
    return [b1, b2]


IMAGE_CHANNELS = 3
IMAGE_MIN_SIDE = 8


def image_pairs(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    """Two batches of ``rows`` images ``[3, s, s]`` in ``[0, 1]``, ``s² ≈ classes / 3`` (at least 8)."""
    s = max(IMAGE_MIN_SIDE, round((c / IMAGE_CHANNELS) ** 0.5))
    a = rng.random((n, IMAGE_CHANNELS, s, s))
    return [a, np.clip(a + 0.1 * rng.standard_normal(a.shape), 0.0, 1.0)]


def images(rng: np.random.Generator, n: int, c: int) -> list[np.ndarray]:
    return image_pairs(rng, n, c)[:1]
