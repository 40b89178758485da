"""No host round-trip inside a loss on a GPU (DESIGN.md §6, issue 7).

For every conformance spec and every GPU backend present, the loss is called
with the library's own synchronisation guard switched on:

* torch CUDA: ``torch.cuda.set_sync_debug_mode("error")`` raises on any
  operation that synchronises the host with the device;
* CuPy: ``cupyx.allow_synchronize(False)`` raises on a device synchronisation;
* JAX: ``jax.transfer_guard("disallow")`` raises on any implicit host/device transfer.

Inputs are built (and moved to the device) before the guard is switched on.
Without a GPU every case skips.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from conformance.backends import available_backends, get_backend
from conformance.spec import all_specs

GPU_BACKENDS = available_backends(gpu=True)
SPECS = all_specs()


@contextlib.contextmanager
def _no_sync(backend):
    if backend.name == "torch_cuda":
        import torch

        torch.cuda.set_sync_debug_mode("error")
        try:
            yield
        finally:
            torch.cuda.set_sync_debug_mode("default")
    elif backend.name == "cupy":
        import cupyx

        with cupyx.allow_synchronize(False):
            yield
    elif backend.name == "jax_cuda":
        import jax

        with jax.transfer_guard("disallow"):
            yield
    else:  # pragma: no cover
        raise KeyError(backend.name)


def _build(spec, backend):
    raw = spec.make(np.random.default_rng(0), spec.batch_shapes[0], dict(spec.variants[0]))

    def conv(a):
        return backend.asarray(a, "float32") if isinstance(a, np.ndarray) else a

    return [conv(a) for a in raw.args], {k: conv(v) for k, v in raw.kwargs.items()}


@pytest.mark.skipif(not GPU_BACKENDS, reason="no GPU present")
@pytest.mark.parametrize("gpu_backend", GPU_BACKENDS, ids=[b.name for b in GPU_BACKENDS])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_loss_runs_without_host_sync(gpu_backend, name):
    spec = SPECS[name]
    if spec.backends is not None and gpu_backend.name not in spec.backends:
        pytest.skip(f"{name} does not run on {gpu_backend.name}")
    args, kwargs = _build(spec, gpu_backend)
    spec.fn(*args, **kwargs)  # warm-up: first-call setup (namespace caches, kernels) may sync
    with _no_sync(gpu_backend):
        out = spec.fn(*args, **kwargs)
    first = out[0] if isinstance(out, tuple) else out
    got = gpu_backend.to_numpy(first)
    np_args, np_kwargs = _build(spec, get_backend("numpy"))
    want = spec.fn(*np_args, **np_kwargs)
    want = np.asarray(want[0] if isinstance(want, tuple) else want, dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3, equal_nan=True)
