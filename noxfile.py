"""nox sessions: one per backend, all CPU backends together, sweeps, conformance, docs, lint.

Every session installs with ``constraints/ci.txt`` (the CPU build of torch and
the versions CI uses).
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

CONSTRAINTS = ("-c", "constraints/ci.txt")


def _install(session: nox.Session, *extras: str) -> None:
    spec = f".[{','.join(('test', *extras))}]"
    session.install("-e", spec, *CONSTRAINTS)
    # a test peer whose package imports timm and torchvision (which does not import against
    # the CPU torch): installed alone; the tests load only its torch-only losses subpackage
    session.install("--no-deps", "segmentation-models-pytorch", *CONSTRAINTS)


def _backend_session(session: nox.Session, backends: str, *extras: str) -> None:
    _install(session, *extras)
    session.run("pytest", *session.posargs, env={"XLOSSES_BACKENDS": backends})


@nox.session
def numpy(session: nox.Session) -> None:
    """Tests on NumPy alone."""
    _backend_session(session, "numpy")


@nox.session
def strict(session: nox.Session) -> None:
    """Tests on array-api-strict: proof that the generic code uses only the standard."""
    _backend_session(session, "numpy,array_api_strict", "strict")


@nox.session
def torch(session: nox.Session) -> None:
    """Tests on PyTorch (CPU build; CUDA where present)."""
    _backend_session(session, "numpy,torch,torch_cuda", "torch")


@nox.session
def jax(session: nox.Session) -> None:
    """Tests on JAX."""
    _backend_session(session, "numpy,jax,jax_cuda", "jax")


@nox.session
def cupy(session: nox.Session) -> None:
    """Tests on CuPy: skips cleanly where there is no GPU."""
    try:
        _install(session, "cupy")
    except Exception:  # no CUDA wheel for this machine
        session.skip("CuPy could not be installed (no GPU toolchain)")
    has_gpu = session.run(
        "python",
        "-c",
        "import cupy; print(cupy.cuda.runtime.getDeviceCount())",
        silent=True,
        success_codes=[0, 1],
    )
    if not has_gpu or not has_gpu.strip().isdigit() or int(has_gpu.strip()) == 0:
        session.skip("no GPU present")
    session.run("pytest", *session.posargs, env={"XLOSSES_BACKENDS": "numpy,cupy"})


@nox.session
def tests(session: nox.Session) -> None:
    """Every CPU backend in one environment (what CI runs)."""
    _install(session, "all")
    session.run("pytest", *session.posargs)


@nox.session
def sweeps(session: nox.Session) -> None:
    """The exhaustive sweeps: every backend of the tests marked ``sweep``, the JAX and Dask
    cases of the family files (``backend_sweep``), the Keras drop-ins' and primitives'
    conformance entries, and every variant, the 2-D batch and ``pmap`` of the sharded-JAX
    check (the default test run keeps NumPy, array-api-strict and torch, and variant 0)."""
    _install(session, "all")
    session.run("pytest", "--sweeps", *session.posargs, env={"XLOSSES_SWEEPS": "1"})


@nox.session
def conformance(session: nox.Session) -> None:
    """The conformance report on every CPU backend (``-- --quick`` for the CI budget)."""
    _install(session, "all")
    session.run("python", "-m", "conformance", *session.posargs)


@nox.session
def conformance_gpu(session: nox.Session) -> None:
    """The conformance report on the GPU backends (cupy, torch_cuda, jax_cuda).

    Skips cleanly where no GPU is present.  Installs the CUDA builds through the
    ``gpu`` requirements of the machine (no CPU pin of torch from ``ci.txt``).
    """
    import shutil

    if shutil.which("nvidia-smi") is None:
        session.skip("no GPU present (nvidia-smi not found)")
    session.install("-e", ".[test,conformance,strict]", "cupy-cuda12x", "torch", "jax[cuda12]")
    session.run("python", "-m", "conformance", "--gpu", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Speed and memory against the native peers (``-- --gpu`` on a GPU machine)."""
    _install(session, "all")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built with ``mkdocs build --strict`` into ``site/``.

    The build runs the quick conformance suite for the conformance page unless
    ``XLOSSES_CONFORMANCE_JSON`` names a report (``python -m conformance --json PATH``).
    ``nox -s docs -- serve`` serves the site locally instead.
    """
    _install(session, "all", "docs")
    env = {"NO_MKDOCS_2_WARNING": "1"}
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:], env=env)
    else:
        session.run("mkdocs", "build", "--strict", *session.posargs, env=env)
