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

from . import cupy, dask, jax, numpy, strict, torch, torch_entries, torch_losses

__all__ = ["cupy", "dask", "jax", "numpy", "strict", "torch", "torch_entries", "torch_losses"]
