"""One fixture, ``backend``, parametrized over every installed array backend.

Backends come from ``conformance.backends`` (shared with the conformance
suite): numpy, array_api_strict, torch, jax, and cupy / torch_cuda / jax_cuda
where a GPU is present.  ``XLOSSES_BACKENDS=numpy,torch`` restricts the list.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from conformance.backends import Backend, available_backends

BACKENDS = available_backends()


@pytest.fixture(params=BACKENDS, ids=[b.name for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def backend_named(name: str) -> Backend | None:
    return next((b for b in BACKENDS if b.name == name), None)


def assert_close(got, want, rtol: float, floor: float = 1.0) -> None:
    """``|got - want| <= rtol·(|want| + floor)`` elementwise, NaN equal to NaN."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * floor, equal_nan=True)


def raises_if_checked(backend, exc, match):
    """``pytest.raises`` where value checks run (eager CPU); elsewhere (GPU, Dask's lazy
    arrays) no check can run and the call must simply not raise (bad rows become NaN)."""
    import contextlib

    if backend.gpu or backend.name == "dask":
        return contextlib.nullcontext()
    return pytest.raises(exc, match=match)


# -- sweeps: exhaustive peer sweeps run in full with --sweeps (nox -s sweeps) ------------------

SWEEP_BACKENDS = ("numpy", "torch")  # what the default run keeps of a sweep
# what the default run leaves to the sweeps of a family file (marked backend_sweep): eager JAX
# compiles every primitive on first use, Dask builds and runs a graph per call, so these cases
# are most of a family file's time; the quick conformance checks every loss on both
FAMILY_SWEEP_BACKENDS = ("jax", "dask")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--sweeps",
        action="store_true",
        default=os.environ.get("XLOSSES_SWEEPS", "") not in ("", "0"),
        help="run every backend of the tests marked 'sweep' (default: NumPy and torch only; "
        "the quick conformance checks every loss on every backend)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the tests for the workers (longest files first), and deselect (not skip: nothing
    is hidden, pytest reports the count) the cases of ``sweep`` tests beyond NumPy and torch
    and the JAX and Dask cases of ``backend_sweep`` files."""
    items.sort(key=_order)  # the workers' order (below); stable: each file keeps its order
    if config.getoption("--sweeps"):
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        b = callspec.params.get("backend") if callspec is not None else None
        name = getattr(b, "name", None)
        # a sweep case of a backend beyond NumPy and torch, or one without a backend parameter
        # (the Dask file's later variants) belongs to the sweep run
        if item.get_closest_marker("sweep") and name not in SWEEP_BACKENDS:
            drop.append(item)
        elif item.get_closest_marker("backend_sweep") and name in FAMILY_SWEEP_BACKENDS:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def run_once(backend, fn, args, grad_of=None):
    """``fn(*args)`` (a list of arrays) as NumPy arrays, computed once: one ``jax.jit``
    program on JAX (eager JAX compiles every primitive), one ``compute`` on Dask.

    ``grad_of`` (argument indices): also the gradients of the sum of every output (JAX: in
    the same program; torch: autograd; none on libraries without autodiff).
    """
    xp = backend.xp
    if backend.module == "jax":
        import jax
        import jax.numpy as jnp

        def both(*a):
            out = fn(*a)
            if grad_of is None:
                return out, []

            def total(*b):
                return sum(jnp.sum(o) for o in fn(*b))

            return out, list(jax.grad(total, argnums=tuple(grad_of))(*a))

        out, grads = jax.jit(both)(*args)
    else:
        out, grads = fn(*args), []
        if grad_of is not None and backend.differentiable:

            def summed(*a):
                return xp.stack([xp.sum(o) for o in fn(*a)])

            grads = backend.grad(summed, args, grad_of)
    flat = backend.to_numpy(xp.concat([xp.reshape(xp.astype(o, out[0].dtype), (-1,)) for o in out]))
    sizes = np.cumsum([0] + [int(np.prod(o.shape)) for o in out])
    values = [
        flat[a:b].reshape(tuple(o.shape)) for a, b, o in zip(sizes, sizes[1:], out, strict=False)
    ]
    return values, [backend.to_numpy(g) for g in grads]


# -- scheduling over the workers (pytest-xdist) ------------------------------------------------
#
# Whole files go to one worker (module fixtures run once), except the per-spec quick
# conformance tests, each its own unit: in one file they would keep one worker busy for most of
# the run.  The longest files start first and the small units fill the gaps at the end.

SPLIT = ("tests/test_conformance.py::test_quick_conformance[",)
LONGEST_FIRST = (  # by their durations in a full run (pytest --durations=0), longest first
    "test_sequence.py",
    "test_sharded_jax.py",
    "test_keras.py",
    "test_classification.py",
    "test_functional.py",
    "test_docs.py",
    "test_embeddings.py",
)


def _order(item: pytest.Item) -> tuple[int, int]:
    file = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    if item.nodeid.startswith(SPLIT):
        return (2, 0)
    if file in LONGEST_FIRST:
        return (0, LONGEST_FIRST.index(file))
    return (1, 0)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if nodeid.startswith(SPLIT) else super()._split_scope(nodeid)

    config.option.loadscopereorder = False  # the collection's order (above), not the sizes
    return Scheduling(config, log)
