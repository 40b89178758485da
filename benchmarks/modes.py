"""How each benchmark mode runs a loss and its peer: libraries, compilation, sync, memory.

A :class:`Mode` converts the case's NumPy inputs for the xlosses side and for
the peer side (the peer may live in another library: CuPy is timed against
torch CUDA), wraps the xlosses function (``jax.jit``, ``torch.compile``) and
the peer, waits for asynchronous work (``block_until_ready``, CUDA
synchronisation) and measures peak extra memory where the library reports it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
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

    # -- the training step ---------------------------------------------------------------
    def can_train(self) -> bool:
        """Whether this mode times value-and-gradient (JAX and torch; not NumPy or CuPy)."""
        return self.peer_lib in ("jax", "torch") and self.backend != "cupy"

    def prepare_grad(self, args: list[Any], grad_args: tuple[int, ...], *, peer: bool) -> None:
        """Mark the differentiated torch inputs ``requires_grad`` (JAX needs nothing)."""
        if get_backend(self.peer_backend if peer else self.backend).module != "torch":
            return
        for i in grad_args:
            if not args[i].is_floating_point():
                raise TypeError(f"argument {i} ({args[i].dtype}) cannot be differentiated")
            args[i].requires_grad_(True)

    def train_step(
        self, fn: Callable[..., Any], grad_args: tuple[int, ...], *, peer: bool
    ) -> Callable[..., Any]:
        """Value and gradient of ``sum(fn(*args))`` in the differentiated arguments.

        JAX: ``jax.jit(jax.value_and_grad(...))`` on both sides.  torch: the
        forward, ``backward()`` (the gradients reset to ``None`` first, as
        ``optimizer.zero_grad()`` does) and the gradients; under
        ``"inductor"`` the xlosses side's forward and sum are compiled
        (``fullgraph=True``), AOTAutograd compiling its backward.  A loss with
        several outputs is differentiated through its first.
        """
        lib = get_backend(self.peer_backend if peer else self.backend).module

        def first(out: Any) -> Any:
            return out[0] if isinstance(out, tuple | list) else out

        if lib == "jax":
            import jax
            import jax.numpy as jnp

            return jax.jit(jax.value_and_grad(lambda *a: jnp.sum(first(fn(*a))), argnums=grad_args))
        if lib != "torch":
            raise NotImplementedError(f"no training step on {lib}")

        def loss(*a: Any) -> Any:
            out = first(fn(*a))
            return out.sum() if out.ndim else out

        if self.compile == "inductor" and not peer:
            loss = self.wrap(loss, peer=False)

        def step(*a: Any) -> Any:
            for i in grad_args:
                a[i].grad = None
            value = loss(*a)
            value.backward()
            return value.detach(), tuple(a[i].grad for i in grad_args)

        return step

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
        statistics.  torch on the CPU: the allocations and frees the profiler
        records during the call (``profile_memory=True``), summed in order.
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
        if lib == "torch" and not self.gpu:
            return _torch_cpu_peak(fn, args)
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


def _torch_cpu_peak(fn: Callable[..., Any], args: list[Any]) -> int | None:
    """Peak bytes allocated during one call on the CPU, from the profiler's memory events."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    for a in args:  # the previous step's gradients are freed outside the measured call
        if isinstance(a, torch.Tensor) and a.requires_grad:
            a.grad = None
    # the profiler's C++ side logs each start and stop on stderr: silenced
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
                out = fn(*args)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    del out
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    now = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        now += e.nbytes()
        peak = max(peak, now)
    return peak


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
