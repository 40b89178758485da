"""Oracles and loaders of the peers that have no helper in ``conformance.spec``.

(``conformance.spec`` has :func:`~conformance.spec.optax_peer` and
:func:`~conformance.spec.torch_peer`; :func:`keras_peer` follows the same protocol.)

* segmentation_models_pytorch: only its ``losses`` subpackage, which needs
  torch alone.  The package's own ``__init__`` imports its encoders (timm,
  torchvision, huggingface_hub); it is installed without them
  (``pip install --no-deps``, see ``constraints/ci.txt``), so the loss modules
  are loaded under a stand-in parent package that runs none of that.
* kornia and MONAI import as they are.

Each loader raises :class:`~conformance.spec.PeerUnavailable` when its
library (or torch) is missing.  Helpers convert float64 NumPy data to torch
tensors (channels last → first, as the peers are NCHW) and back.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from typing import Any

import numpy as np

from ..spec import PeerUnavailable

__all__ = [
    "kept_rows",
    "keras_peer",
    "kornia_losses",
    "monai_losses",
    "smp_losses",
    "t64",
    "to_numpy",
]

_SMP = "segmentation_models_pytorch"
_cache: dict[str, Any] = {}


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise PeerUnavailable("torch") from exc
    return torch


def smp_losses() -> Any:
    """``segmentation_models_pytorch.losses`` without the package's encoders."""
    if "smp" in _cache:
        return _cache["smp"]
    _torch()
    loaded = sys.modules.get(f"{_SMP}.losses")
    if loaded is None:
        spec = importlib.util.find_spec(_SMP)
        if spec is None or not spec.submodule_search_locations:
            raise PeerUnavailable(_SMP)
        stand_in = _SMP not in sys.modules
        if stand_in:  # a parent package that runs nothing: only .losses is imported
            parent = types.ModuleType(_SMP)
            parent.__path__ = list(spec.submodule_search_locations)
            sys.modules[_SMP] = parent
        try:
            loaded = importlib.import_module(f"{_SMP}.losses")
        finally:
            if stand_in:  # a later `import segmentation_models_pytorch` runs the real one
                del sys.modules[_SMP]
    _cache["smp"] = loaded
    return loaded


def kornia_losses() -> Any:
    _torch()
    try:
        return importlib.import_module("kornia.losses")
    except ImportError as exc:
        raise PeerUnavailable("kornia") from exc


def monai_losses() -> Any:
    _torch()
    try:
        return importlib.import_module("monai.losses")
    except ImportError as exc:
        raise PeerUnavailable("monai") from exc


def t64(a: Any, *, channels_first: bool = False, grad: bool = False) -> Any:
    """A float64 (integer arrays: int64) torch tensor of ``a``; the last axis moved to 1 on request."""
    torch = _torch()
    arr = np.asarray(a)
    if channels_first:
        arr = np.moveaxis(arr, -1, 1)
    t = torch.from_numpy(np.ascontiguousarray(arr))
    t = t.double() if t.is_floating_point() else t
    return t.requires_grad_(True) if grad else t


def to_numpy(t: Any) -> np.ndarray:
    return t.detach().double().numpy() if hasattr(t, "detach") else np.asarray(t, np.float64)


def kept_rows(
    arrays: list[np.ndarray], axes: tuple[int, ...], ndim: int
) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """``arrays`` (each ``[*shape, extra...]`` with ``ndim`` leading axes) with the
    ``axes`` moved last and flattened, the other leading axes flattened first:
    ``(kept shape, [array of shape [rows, summed, extra...]])``."""
    axes = tuple(a % ndim for a in axes)
    kept = [a for a in range(ndim) if a not in axes]
    out = []
    kept_shape: tuple[int, ...] = ()
    for arr in arrays:
        moved = np.moveaxis(arr, [*kept, *axes], list(range(ndim)))
        kept_shape = tuple(arr.shape[a] for a in kept)
        rows = int(np.prod(kept_shape)) if kept_shape else 1
        summed = int(np.prod([arr.shape[a] for a in axes])) if axes else 1
        out.append(moved.reshape(rows, summed, *arr.shape[ndim:]))
    return kept_shape, out


def keras_peer(fn: Any) -> Any:
    """An oracle calling ``fn(keras.losses, *args, **kwargs)`` on Keras' JAX backend in
    float64 (one ``jax.jit`` per set of non-array keywords)."""
    programs: dict[str, Any] = {}

    def oracle(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
        os.environ.setdefault("KERAS_BACKEND", "jax")
        try:
            import jax
            import keras
        except ImportError as exc:
            raise PeerUnavailable("keras") from exc
        if keras.backend.backend() != "jax":
            raise PeerUnavailable("keras on JAX (Keras runs on another backend here)")
        jax.config.update("jax_enable_x64", True)
        arrays = {k: v for k, v in kwargs.items() if isinstance(v, np.ndarray)}
        static = {k: v for k, v in kwargs.items() if k not in arrays}
        key = repr(sorted(static.items()))
        if key not in programs:
            programs[key] = jax.jit(lambda a, kw: fn(keras.losses, *a, **kw, **static))
        cpu = jax.devices("cpu")[0]
        put = [jax.device_put(a, cpu) if isinstance(a, np.ndarray) else a for a in args]
        on_cpu = {k: jax.device_put(v, cpu) for k, v in arrays.items()}
        return np.asarray(programs[key](put, on_cpu), dtype=np.float64)

    oracle.__qualname__ = f"keras.losses ({fn.__name__})"
    # Keras' means reduce in float32 even for float64 inputs (squared_hinge of float64
    # arrays is 1.6066668033599854 where the sum gives 1.6066666666666665)
    oracle.precision = 1e-6  # type: ignore[attr-defined]
    return oracle
