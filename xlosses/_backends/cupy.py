"""CuPy: the NumPy-like versions of :mod:`.numpy` (in-place ufuncs on the GPU).

Tests of values are not used here (each would synchronise the device): value
checks do not run, and invalid entries give NaN in their own rows.  cupy is
never imported here: the versions find the module in ``sys.modules``.
"""

from __future__ import annotations

import sys
from typing import Any

from .._dispatch import BackendInfo, implements, register_backend
from . import numpy as _numpy

NAMESPACES = ("array_api_compat.cupy",)


class _Lazy:
    """``sys.modules['cupy']``, looked up when a version first runs."""

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.modules["cupy"], name)


register_backend(BackendInfo("cupy"), NAMESPACES)
for _ns in NAMESPACES:
    _numpy.MODULES[_ns] = _Lazy()
for _generic, _impl in _numpy.NUMPY_LIKE:
    implements(_generic, NAMESPACES)(_impl)
