"""How each benchmark mode runs a loss and its peer: libraries, compilation, sync, memory.

A :class:`Mode` converts the case's NumPy inputs for the xlosses side and for
the peer side (the peer may live in another library: CuPy is timed against
torch CUDA), wraps the xlosses function (``jax.jit``, ``torch.compile``) and
the peer, waits for asynchronous work (``block_until_ready``, CUDA
synchronisation) and measures peak extra memory where the library reports it.
"""

from __future__ import annotations

import importlib.util
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from conformance.backends import get_backend

__all__ = ["CPU_MODES", "GPU_MODES", "MODES", "Mode", "available_modes"]


@dataclass(frozen=True)
class Mode:
    """One way of running xlosses against a peer.

    ``backend``/``peer_backend`` are names from ``conformance.backends``;
    ``peer_lib`` picks the peer in a case's table (``"jax"``, ``"torch"``,
    ``"numpy"``); ``compile`` is ``None``, ``"jit"`` (both sides under
    ``jax.jit``) or ``"inductor"`` (xlosses under
    ``torch.compile(fullgraph=True)``, the peer eager).
    """

    name: str
    backend: str
    peer_backend: str
    peer_lib: str
    compile: str | None = None
    gpu: bool = False
    describe: str = ""

    # -- availability ---------------------------------------------------------------
    def available(self) -> bool:
        mods = {"numpy": "numpy", "jax": "jax", "torch": "torch", "cupy": "cupy"}
        for b in (self.backend, self.peer_backend):
            if importlib.util.find_spec(mods.get(b.split("_")[0], b)) is None:
                return False
            if not get_backend(b).available():
                return False
        return self.peer_lib != "jax" or importlib.util.find_spec("optax") is not None

    # -- inputs -----------------------------------------------------------------------
    def convert(self, arrays: list[np.ndarray], dtype: str, *, peer: bool) -> list[Any]:
        b = get_backend(self.peer_backend if peer else self.backend)
        out = []
        for a in arrays:
            if np.issubdtype(a.dtype, np.floating):
                out.append(b.asarray(a, dtype))
            else:
                out.append(b.asarray(a))
        return out

    # -- callables ----------------------------------------------------------------------
    def wrap(self, fn: Callable[..., Any], *, peer: bool) -> Callable[..., Any]:
        if self.compile == "jit":
            import jax

            return jax.jit(fn)
        if self.compile == "inductor" and not peer:
            import torch

            torch._dynamo.config.recompile_limit = 1_000
            torch._dynamo.config.accumulated_recompile_limit = 100_000
            return torch.compile(fn, fullgraph=True, dynamic=False, backend="inductor")
        return fn

    def sync(self, out: Any, *, peer: bool) -> None:
        lib = get_backend(self.peer_backend if peer else self.backend).module
        if lib == "jax":
            import jax

            jax.block_until_ready(out)  # an array or a tuple of them
        elif lib == "torch" and self.gpu:
            import torch

            torch.cuda.synchronize()
        elif lib == "cupy":
            import cupy

            cupy.cuda.Device().synchronize()

    # -- memory -------------------------------------------------------------------------
    def peak_extra_bytes(
        self, fn: Callable[..., Any], args: list[Any], *, peer: bool
    ) -> int | None:
        """Peak memory a call allocates beyond its inputs, where the library reports it.

        NumPy: ``tracemalloc`` (NumPy reports its buffers to it).  JAX: the
        compiled program's temporary buffers plus its output
        (``memory_analysis``).  torch/CuPy on a GPU: the allocator's peak
        statistics.  ``None`` where nothing reliable is available (torch on
        the CPU).
        """
        lib = get_backend(self.peer_backend if peer else self.backend).module
        if lib == "numpy":
            tracemalloc.start()
            try:
                tracemalloc.reset_peak()
                base = tracemalloc.get_traced_memory()[0]
                out = fn(*args)
                peak = tracemalloc.get_traced_memory()[1]
                del out
            finally:
                tracemalloc.stop()
            return peak - base
        if lib == "jax" and hasattr(fn, "lower"):
            try:
                ma = fn.lower(*args).compile().memory_analysis()
                return int(ma.temp_size_in_bytes + ma.output_size_in_bytes)
            except Exception:
                return None
        if lib == "torch" and self.gpu:
            import torch

            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            out = fn(*args)
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
            del out
            return peak - base
        if lib == "cupy":
            return _cupy_peak(fn, args)
        return None


def _cupy_peak(fn: Callable[..., Any], args: list[Any]) -> int | None:
    """Peak bytes CuPy's allocator hands out during one call (a memory hook)."""
    import cupy
    from cupy.cuda import memory_hook

    class Peak(memory_hook.MemoryHook):
        name = "xlosses-peak"

        def __init__(self) -> None:
            self.now = 0
            self.peak = 0
            self.sizes: dict[int, int] = {}

        def malloc_postprocess(self, device_id, size, mem_size, mem_ptr, pmem_id):
            self.sizes[mem_ptr] = mem_size
            self.now += mem_size
            self.peak = max(self.peak, self.now)

        def free_postprocess(self, device_id, mem_size, mem_ptr, pmem_id):
            self.now -= self.sizes.pop(mem_ptr, 0)

    cupy.cuda.Device().synchronize()
    hook = Peak()
    with hook:
        out = fn(*args)
        cupy.cuda.Device().synchronize()
    del out
    return hook.peak


MODES: tuple[Mode, ...] = (
    Mode("numpy", "numpy", "numpy", "numpy", describe="NumPy vs a plain vectorised baseline"),
    Mode("jax_jit", "jax", "jax", "jax", "jit", describe="jax.jit vs optax under jax.jit"),
    Mode("torch", "torch", "torch", "torch", describe="torch eager vs torch.nn.functional"),
    Mode(
        "torch_compile",
        "torch",
        "torch",
        "torch",
        "inductor",
        describe="torch.compile(fullgraph=True) vs torch.nn.functional eager",
    ),
    Mode("cupy", "cupy", "torch_cuda", "torch", gpu=True, describe="CuPy vs torch CUDA eager"),
    Mode("torch_cuda", "torch_cuda", "torch_cuda", "torch", gpu=True, describe="torch CUDA eager"),
    Mode(
        "torch_cuda_compile",
        "torch_cuda",
        "torch_cuda",
        "torch",
        "inductor",
        gpu=True,
        describe="torch.compile on CUDA vs torch.nn.functional CUDA eager",
    ),
    Mode("jax_cuda_jit", "jax_cuda", "jax_cuda", "jax", "jit", gpu=True, describe="JAX CUDA jit"),
)
CPU_MODES = tuple(m.name for m in MODES if not m.gpu)
GPU_MODES = tuple(m.name for m in MODES if m.gpu)


def available_modes(names: list[str]) -> list[Mode]:
    by_name = {m.name: m for m in MODES}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown backend(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[n] for n in names if by_name[n].available()]
