"""Tools to prove your own loss on every backend, as xlosses proves its own.

* :func:`check_loss` runs the conformance suite's checks (values against a
  float64 NumPy run and an optional reference, gradients against finite
  differences and across JAX and torch, ``jax.jit`` and ``torch.compile``
  against eager, dtype, device and library kept, inputs not mutated, extremes
  finite) on every installed backend and returns a :class:`Report`;
* :func:`assert_close` compares arrays *and* checks namespace, dtype, device
  and shape;
* a pytest plugin (entry point ``xlosses``, module ``xlosses.testing.plugin``)
  gives every test an ``xp`` fixture over the installed array libraries and an
  ``assert_close`` fixture;
* :func:`loss_entry` registers a loss for ``python -m conformance --entries
  yourpackage.losses`` (also ``python -m xlosses.testing --entries ...``),
  which runs and reports only your entries.

The machinery is the ``conformance`` package that is installed with xlosses
(docs/decisions.md); this module's ``__all__`` is the stable surface.
"""

from __future__ import annotations

from conformance.spec import Inputs

from ._assert import assert_close
from ._check import DEFAULT_CHECKS, ConformanceError, Report, check_loss, loss_entry

__all__ = [
    "DEFAULT_CHECKS",
    "ConformanceError",
    "Inputs",
    "Report",
    "assert_close",
    "check_loss",
    "loss_entry",
]
