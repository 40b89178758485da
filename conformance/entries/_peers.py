"""Oracles of the entries whose peer has no helper in ``conformance.spec``: Keras.

(``conformance.spec`` has :func:`~conformance.spec.optax_peer` and
:func:`~conformance.spec.torch_peer`; these follow the same protocol.)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..spec import PeerUnavailable

__all__ = ["keras_peer"]


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
    return oracle
