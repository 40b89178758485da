"""xlosses: loss functions written once against the Python array API standard.

Every loss takes its namespace from its inputs (through ``array_api_compat``)
and returns an array of the same library, dtype and device, so one
implementation serves NumPy, CuPy, JAX, PyTorch, Dask and any other array API
library.  Core functions are drop-in replacements for ``optax.losses``;
``xlosses.functional`` mirrors ``torch.nn.functional``.
"""

from __future__ import annotations

from ._ops import generic_only
from .classification import (
    poly_loss_cross_entropy,
    poly_loss_sigmoid_focal,
    safe_softmax_cross_entropy,
    sigmoid_binary_cross_entropy,
    sigmoid_focal_loss,
    softmax_cross_entropy,
    softmax_cross_entropy_with_integer_labels,
)
from .sequence import ctc_loss, ctc_loss_from_lengths, ctc_loss_with_forward_probs
from .smoothing import smooth_labels

__version__ = "0.1.0.dev0"

__all__ = [
    "ctc_loss",
    "ctc_loss_from_lengths",
    "ctc_loss_with_forward_probs",
    "generic_only",
    "poly_loss_cross_entropy",
    "poly_loss_sigmoid_focal",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
]
