"""The sizes a training step uses, per case (``python -m benchmarks --training``).

A :class:`Problem` is a ``rows x classes`` size (read by each case's builder
as in :mod:`benchmarks.inputs`), the builder's own shape options (CTC: frames
and labels per sequence) and, where the size is tied to them, its dtypes.
:func:`training_problems` gives each case the per-call-overhead sizes of the
torch targets (8×10 and 32×10) and the sizes of its family in training:

* classification, regression, margins, ranking: a batch of 4096 × 1000;
* the integer-label cross-entropies (the core one and ``functional.cross_entropy``):
  also a language model's batch, 8192 tokens × a vocabulary of 32768, in float32
  and bfloat16 (1 GiB of float32 logits);
* CTC: 32 sequences of 50 frames with up to 20 labels, 32 of 200 frames with
  up to 40 labels, 8 of 500 frames with up to 100 labels, a vocabulary of 64;
* segmentation volumes (Dice, Jaccard, Tversky, Lovász, Dice + CE): 8 images
  of 128 × 128 pixels and 4 classes;
* embeddings (NT-Xent, triplets): 512 vectors of 128 dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import inputs as I
from .cases import Case

__all__ = ["Problem", "training_problems"]


@dataclass(frozen=True)
class Problem:
    """One size: ``rows x classes``, the builder's shape options, the dtypes (None: the run's)."""

    rows: int
    classes: int
    shape: tuple[tuple[str, int], ...] = ()
    dtypes: tuple[str, ...] | None = None

    @property
    def options(self) -> dict[str, int]:
        return dict(self.shape)

    def describe(self) -> str:
        """``"4096x1000"``, or with the builder's options: ``"6400x64 frames=200 labels=40"``."""
        return " ".join([f"{self.rows}x{self.classes}", *(f"{k}={v}" for k, v in self.shape)])


OVERHEAD = (Problem(8, 10), Problem(32, 10))
CLASSIFICATION = Problem(4096, 1000)
LANGUAGE_MODEL = Problem(8192, 32768, dtypes=("float32", "bfloat16"))
CTC_VOCABULARY = 64
CTC = tuple(
    Problem(batch * frames, CTC_VOCABULARY, (("frames", frames), ("labels", labels)))
    for batch, frames, labels in ((32, 50, 20), (32, 200, 40), (8, 500, 100))
)
SEGMENTATION = Problem(8, 128 * 128 * I.SEGMENTATION_CLASSES)  # 8 images 128×128, 4 classes
EMBEDDINGS = Problem(I.NTXENT_ROWS, I.NTXENT_DIM)

LANGUAGE_MODEL_CASES = {"softmax_cross_entropy_with_integer_labels", "functional.cross_entropy"}
EMBEDDING_CASES = {
    "ntxent",
    "triplet_margin_loss",
    "functional.triplet_margin_loss",
    "functional.triplet_margin_with_distance_loss",
}


def training_problems(case: Case) -> tuple[Problem, ...]:
    """The sizes at which ``--training`` times ``case``."""
    if case.make in (I.ctc_paddings, I.ctc_lengths):
        return OVERHEAD + CTC
    if case.make in (I.segmentation_inputs, I.segmentation_labels):
        return (*OVERHEAD, SEGMENTATION)
    if case.name in EMBEDDING_CASES:
        return (*OVERHEAD, EMBEDDINGS)
    if case.name in LANGUAGE_MODEL_CASES:
        return (*OVERHEAD, CLASSIFICATION, LANGUAGE_MODEL)
    return (*OVERHEAD, CLASSIFICATION)
