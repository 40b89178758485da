"""The array backends xlosses runs on, as the tests and the conformance suite see them.

One :class:`Backend` per library: how to detect it, convert NumPy data to it
and back, which dtypes it has, and (for JAX and torch) how to differentiate,
compile and place arrays.  ``tests/conftest.py`` parametrizes its ``backend``
fixture over :func:`available_backends`; the conformance suite runs the same
list.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BACKENDS", "Backend", "available_backends", "get_backend"]


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class Backend:
    """One array library as seen by the tests."""

    name: str
    module: str
    dtypes: tuple[str, ...]
    differentiable: bool = False
    gpu: bool = False
    notes: str = ""
    # run by the conformance suite, not by every test of the test suite (which gets
    # the plain backends unless ``$XLOSSES_BACKENDS`` names these)
    conformance_only: bool = False
    # array-api-strict's simulated device (``"device1"``, ``"no_x64"``) for the inputs
    device: str | None = None
    _extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # -- availability -------------------------------------------------------
    def available(self) -> bool:
        if not _has(self.module):
            return False
        if self.name == "cupy":
            try:
                import cupy

                return cupy.cuda.runtime.getDeviceCount() > 0
            except Exception:
                return False
        if self.name in ("torch_cuda", "jax_cuda"):
            return self._gpu_device() is not None
        return True

    def _gpu_device(self) -> Any:
        try:
            if self.module == "torch":
                import torch

                return torch.device("cuda") if torch.cuda.is_available() else None
            if self.module == "jax":
                import jax

                gpus = jax.devices("gpu")
                return gpus[0] if gpus else None
        except Exception:
            return None
        return None

    # -- namespace and dtypes ----------------------------------------------------
    @property
    def xp(self) -> Any:
        import array_api_compat

        return array_api_compat.array_namespace(self.asarray(np.zeros(1)))

    def dtype(self, name: str) -> Any:
        mod = importlib.import_module(self.module)
        if self.module == "array_api_strict":
            return getattr(mod, name)
        if self.module == "dask.array":
            return np.dtype(name)
        if self.module == "jax":
            import jax.numpy as jnp

            return getattr(jnp, name)
        if self.module == "numpy" or self.module == "cupy":
            return np.dtype(name)
        return getattr(mod, name)

    # -- conversion -----------------------------------------------------------------
    def asarray(self, a: Any, dtype: str | None = None) -> Any:
        """Convert a NumPy array (or scalar) to this backend, optionally casting floats."""
        a = np.asarray(a)
        if dtype is not None and np.issubdtype(a.dtype, np.floating) and dtype != "bfloat16":
            a = a.astype(dtype)
        if self.name == "numpy":
            return a.copy()
        if self.module == "array_api_strict":
            import array_api_strict as xps

            _strict_flags()
            if self.device is None:
                return xps.asarray(a)
            if self.device == "no_x64" and a.dtype == np.int64:
                a = a.astype(np.int32)  # the device has no 64-bit types (JAX's default)
            return xps.asarray(a, device=xps.Device(self.device))
        if self.module == "torch":
            import torch

            t = torch.from_numpy(a.copy())
            if dtype == "bfloat16" and t.is_floating_point():
                t = t.to(torch.bfloat16)
            if self.name == "torch_cuda":
                t = t.to("cuda")
            return t
        if self.module == "jax":
            import jax
            import jax.numpy as jnp

            # the CPU backend stays on the CPU even where JAX's default device is a GPU
            device = self._gpu_device() if self.name == "jax_cuda" else jax.devices("cpu")[0]
            out = jax.device_put(a, device)
            if dtype == "bfloat16" and np.issubdtype(a.dtype, np.floating):
                out = out.astype(jnp.bfloat16)
            return out
        if self.name == "cupy":
            import cupy

            return cupy.asarray(a)
        if self.name == "dask":
            import dask.array as da

            chunks = tuple(max(1, s // 2) if i == 0 else s for i, s in enumerate(a.shape))
            return da.from_array(a, chunks=chunks or ())
        raise KeyError(self.name)

    def to_numpy(self, x: Any) -> np.ndarray:
        """Bring a result back to NumPy (float64 for floating results)."""
        if self.module == "array_api_strict":
            import array_api_strict as xps

            if self.device is not None:  # only arrays on the CPU device convert to NumPy
                x = x.to_device(xps.Device("CPU_DEVICE"))
            if x.dtype in (xps.float32, xps.float64):
                x = xps.astype(x, xps.float64)
            return np.asarray(x)
        if self.module == "torch":
            t = x.detach().cpu()
            if t.is_floating_point():
                t = t.double()
            return t.numpy()
        if self.module == "jax":
            a = np.asarray(x)
            return (
                a.astype(np.float64)
                if np.issubdtype(a.dtype, np.floating) or a.dtype.name == "bfloat16"
                else a
            )
        if self.name == "cupy":
            import cupy

            a = cupy.asnumpy(x)
        elif self.name == "dask":
            a = np.asarray(x.compute())
        else:
            a = np.asarray(x)
        return a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a

    def dtype_name(self, x: Any) -> str:
        """The dtype of ``x`` as a plain name (``'float32'``, ``'bfloat16'``, …)."""
        return str(x.dtype).replace("torch.", "").replace("array_api_strict.", "")

    def device_of(self, x: Any) -> Any:
        import array_api_compat

        return array_api_compat.device(x)

    # -- differentiation and compilation ------------------------------------------------
    def grad(
        self, fn: Callable[..., Any], args: Sequence[Any], argnums: Sequence[int]
    ) -> list[Any]:
        """Gradients of ``sum(fn(*args))`` with respect to ``args[i]`` for ``i`` in ``argnums``."""
        if self.module == "jax":
            import jax
            import jax.numpy as jnp

            g = jax.grad(lambda *a: jnp.sum(fn(*a)), argnums=tuple(argnums))(*args)
            return list(g)
        if self.module == "torch":
            import torch

            leaves = list(args)
            for i in argnums:
                leaves[i] = args[i].detach().clone().requires_grad_(True)
            out = fn(*leaves)
            grads = torch.autograd.grad(out.sum(), [leaves[i] for i in argnums], allow_unused=True)
            return [
                torch.zeros_like(leaves[i]) if g is None else g
                for i, g in zip(argnums, grads, strict=True)
            ]
        raise NotImplementedError(f"{self.name} has no automatic differentiation")

    def grad_fn(
        self, fn: Callable[..., Any], argnums: Sequence[int], *, jit: bool = False
    ) -> Callable[..., list[Any]]:
        """A reusable ``args -> grad(args)`` of ``sum(fn(*args))`` (see :meth:`grad`).

        With ``jit`` on JAX it is ``jax.jit(jax.grad(...))``: one XLA program
        instead of eager op-by-op dispatch, which compiles every primitive
        separately on first use and dominates the suite's run time.
        """
        if self.module == "jax" and jit:
            import jax
            import jax.numpy as jnp

            g = jax.jit(jax.grad(lambda *a: jnp.sum(fn(*a)), argnums=tuple(argnums)))
            return lambda *args: list(g(*args))
        return lambda *args: self.grad(fn, args, argnums)

    def jit_value_and_grad(
        self, fn: Callable[..., Any], argnums: Sequence[int]
    ) -> Callable[..., tuple[Any, list[Any]]]:
        """JAX only: one ``jax.jit`` program returning ``fn(*args)`` and the gradients
        of its sum in ``argnums`` (none if empty): one XLA compilation for both."""
        import jax
        import jax.numpy as jnp

        def both(*args: Any) -> tuple[Any, list[Any]]:
            if not argnums:
                return fn(*args), []
            value, vjp = jax.vjp(lambda *a: fn(*a), *args)
            grads = vjp(jnp.ones_like(value))
            return value, [grads[i] for i in argnums]

        return jax.jit(both)

    def compile(
        self, fn: Callable[..., Any], *, torch_backend: str | None = None
    ) -> Callable[..., Any]:
        """``jax.jit`` or ``torch.compile(fullgraph=True)`` of ``fn`` (array arguments only).

        ``torch_backend`` defaults to ``$XLOSSES_TORCH_COMPILE_BACKEND`` or
        ``aot_eager`` (full graph capture and AOT autograd without C++ code
        generation, which is slow on small machines); pass ``'inductor'`` for
        the real compiler.
        """
        if self.module == "jax":
            import jax

            return jax.jit(fn)
        if self.module == "torch":
            import torch

            # Every check compiles a fresh wrapper of the same code object: lift
            # dynamo's per-code recompile limit so that this is not mistaken for
            # a recompilation storm (fullgraph=True turns that into an error).
            torch._dynamo.config.recompile_limit = 100_000
            torch._dynamo.config.accumulated_recompile_limit = 1_000_000
            backend = torch_backend or os.environ.get("XLOSSES_TORCH_COMPILE_BACKEND", "aot_eager")
            return torch.compile(fn, fullgraph=True, backend=backend, dynamic=False)
        raise NotImplementedError(f"{self.name} has no compiler")


def _strict_flags() -> None:
    """array-api-strict without the optional behaviours a loss must not rely on.

    Boolean indexing and functions with data-dependent output shapes (``unique``,
    ``nonzero``) are switched off: under ``jax.jit`` and ``torch.compile`` they fail.
    """
    import array_api_strict as xps

    xps.set_array_api_strict_flags(boolean_indexing=False, data_dependent_shapes=False)


_FLOATS = ("float32", "float64")

BACKENDS: tuple[Backend, ...] = (
    Backend("numpy", "numpy", (*_FLOATS, "float16")),
    Backend("array_api_strict", "array_api_strict", _FLOATS),
    # simulated devices: a second device (arrays must stay on their inputs' device, new
    # ones be created there) and one without 64-bit types (default dtypes int32/float32)
    Backend(
        "strict@device1",
        "array_api_strict",
        _FLOATS,
        conformance_only=True,
        device="device1",
        notes="array-api-strict's simulated second device",
    ),
    Backend(
        "strict@no_x64",
        "array_api_strict",
        ("float32",),
        conformance_only=True,
        device="no_x64",
        notes="array-api-strict's device without float64/int64 (integer inputs int32)",
    ),
    Backend("torch", "torch", (*_FLOATS, "float16", "bfloat16"), differentiable=True),
    Backend("jax", "jax", (*_FLOATS, "float16", "bfloat16"), differentiable=True),
    Backend("cupy", "cupy", (*_FLOATS, "float16"), gpu=True),
    Backend(
        "torch_cuda", "torch", (*_FLOATS, "float16", "bfloat16"), differentiable=True, gpu=True
    ),
    Backend("jax_cuda", "jax", (*_FLOATS, "float16", "bfloat16"), differentiable=True, gpu=True),
    Backend("dask", "dask.array", (*_FLOATS, "float16"), notes="lazy, chunked by batch"),
)


def get_backend(name: str) -> Backend:
    for b in BACKENDS:
        if b.name == name:
            return b
    raise KeyError(f"unknown backend {name!r}; known: {', '.join(b.name for b in BACKENDS)}")


def available_backends(
    names: Sequence[str] | None = None, *, gpu: bool | None = None
) -> list[Backend]:
    """Backends installed (and, for GPU ones, with a device present).

    ``names`` restricts to those names (e.g. from ``$XLOSSES_BACKENDS``);
    ``gpu`` keeps only GPU (True) or CPU (False) backends.  Without names
    (the test suite's default) the ``conformance_only`` backends are left out.
    """
    if names is None:
        env = os.environ.get("XLOSSES_BACKENDS", "").strip()
        names = [n.strip() for n in env.split(",") if n.strip()] or None
    if names:
        chosen = [get_backend(n) for n in names]
    else:
        chosen = [b for b in BACKENDS if not b.conformance_only]
    out = [b for b in chosen if (gpu is None or b.gpu == gpu) and b.available()]
    if any(b.module == "jax" for b in out):
        import jax

        jax.config.update("jax_enable_x64", True)
    return out
