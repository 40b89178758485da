r"""Public numerical primitives: the pieces xlosses' losses are made of, for your own losses.

Each function takes arrays of any array API library (NumPy, CuPy, JAX,
PyTorch, Dask, array-api-strict) and returns an array of that library, on the
input's device, in the input's floating dtype: the namespace is found from the
arrays (no ``xp`` argument), with the input policy of the losses (NumPy arrays
beside JAX arrays are converted, Python numbers become arrays, floating dtypes
are promoted).  Every function keeps the guarantees of the losses:

* values *and gradients* finite wherever the mathematical function is finite
  (log-space forms, the "double where" around guarded entries);
* float16 and bfloat16 inputs computed in float32 and cast back;
* the derivative at a kink chosen and documented (``relu``, ``huber``,
  ``vector_norm`` at 0, ``sparsemax``);
* backend fast paths (``torch.logsumexp``, ``jax.nn.log_softmax``, ...) only
  where they equal the generic, standard-only body, which the conformance
  suite checks on every backend (``xlosses.generic_only()`` switches them off).

Names and signatures follow the array API standard's conventions: arrays
positional-only, options keyword-only, ``axis=`` an int or a tuple of ints.
Reductions (``logsumexp``, ``vector_norm``, ``masked_sum``, ``masked_mean``)
reduce every axis by default (``axis=None``), as the standard's reductions and
SciPy do; the per-row maps (``softmax``, ``log_softmax``, ``sparsemax``,
``take_labels``) work along the last axis by default, as ``jax.nn`` and
``torch.nn.functional`` do.

This module's ``__all__`` is the stable public surface (docs/decisions.md):
names and signatures change only with a deprecation.  ``xlosses._ops`` behind
it is private and free to change.
"""

from __future__ import annotations

from ._logspace import (
    log1mexp,
    log_sigmoid,
    log_softmax,
    logaddexp,
    logsumexp,
    safe_log,
    sigmoid,
    softmax,
    softplus,
    xlogy,
)
from ._pieces import (
    focal_power,
    huber,
    log_cosh,
    masked_mean,
    masked_sum,
    relu,
    sparsemax,
    take_labels,
    vector_norm,
)

__all__ = [
    "focal_power",
    "huber",
    "log1mexp",
    "log_cosh",
    "log_sigmoid",
    "log_softmax",
    "logaddexp",
    "logsumexp",
    "masked_mean",
    "masked_sum",
    "relu",
    "safe_log",
    "sigmoid",
    "softmax",
    "softplus",
    "sparsemax",
    "take_labels",
    "vector_norm",
    "xlogy",
]
