"""The backend layer: one module per array library, the only place a framework is named.

Each module registers, through :mod:`xlosses._dispatch`, what its library
tells the generic code (:class:`xlosses._dispatch.BackendInfo`) and its
versions of the ``@accelerated`` primitives and losses.  Importing this
package imports no framework: the modules look their library up in
``sys.modules`` when a version runs (only ever on that library's arrays).

Adding a fast path touches one module here; adding a backend adds one module
and its name below.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from . import cupy, dask, jax, numpy, strict, torch, torch_entries, torch_losses

__all__ = [
    "THRESHOLDS",
    "cupy",
    "dask",
    "jax",
    "lowered_thresholds",
    "numpy",
    "strict",
    "torch",
    "torch_entries",
    "torch_losses",
]

# The size thresholds above which a version takes another path (module, name, the value
# that takes it at every size).  Each is a module global read at the call.
THRESHOLDS = (
    (numpy, "LARGE", 1),
    (torch, "LARGE", 1),
    (torch, "POLY1_RULE", 1),
    (torch_losses, "BLOCKED", 1),
    (torch_losses, "BLOCK_BYTES", 1),  # blocks of one row
)


@contextlib.contextmanager
def lowered_thresholds() -> Iterator[None]:
    """Every threshold of ``THRESHOLDS`` at its floor for the block: small inputs take the
    paths of large ones (the conformance suite's ``large_paths`` check compares them with
    the generic body, under autodiff and ``torch.func`` too).  Not thread-safe."""
    saved = [(m, name, getattr(m, name)) for m, name, _ in THRESHOLDS]
    try:
        for m, name, low in THRESHOLDS:
            setattr(m, name, low)
        yield
    finally:
        for m, name, value in saved:
            setattr(m, name, value)
