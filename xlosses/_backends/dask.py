"""Dask: lazy arrays (value checks never run: they would compute) and the row map.

dask is never imported here: the functions run only on Dask arrays, so
``sys.modules`` holds it by then.
"""

from __future__ import annotations

import sys
from typing import Any

import array_api_compat

from .._dispatch import BackendInfo, implements, register_backend
from .._ops import control

NAMESPACES = ("array_api_compat.dask.array",)

register_backend(BackendInfo("dask", lazy=True), NAMESPACES)


@implements(control.map_rows, NAMESPACES)
def map_rows(fn: Any, x: Any, *, xp: Any) -> Any:
    """``fn`` on the rows of each chunk, in one task per chunk.

    The last axis is rechunked to one chunk (a row is needed whole); each
    task loops over the rows of its chunk, a NumPy (or CuPy) array, so ``fn``
    sees the chunk's library, and the result is chunked like the leading axes
    of ``x``.  The output dtype must be known before anything is computed:
    it is ``x``'s (each chunk's result is cast to it).  Lazy: the graph is
    built from ``x``'s metadata, without calling ``fn``.
    """
    da = sys.modules["dask.array"]
    last = x.ndim - 1
    x = x.rechunk({last: -1})

    def rows(block: Any) -> Any:
        bxp = array_api_compat.array_namespace(block)
        out = control.loop_rows(fn, bxp.reshape(block, (-1, block.shape[-1])), xp=bxp)
        return bxp.reshape(bxp.astype(out, block.dtype), tuple(block.shape[:-1]))

    meta = da.utils.meta_from_array(x, ndim=last)
    return da.map_blocks(rows, x, drop_axis=last, dtype=x.dtype, meta=meta, token="map_rows")
