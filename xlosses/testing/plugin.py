"""The pytest plugin of xlosses (entry point ``xlosses`` in the ``pytest11`` group).

Installed with xlosses, it gives every test of a project two fixtures:

``xp``
    The array API namespace of each installed array library, one test case
    per library: ``numpy`` (``array_api_compat.numpy``), ``array_api_strict``,
    ``torch`` (``array_api_compat.torch``), ``jax`` (``jax.numpy``, with
    ``jax_enable_x64`` switched on so that float64 is float64), ``dask``
    (``array_api_compat.dask.array``) and ``cupy`` where a GPU is present.
    ``--xp-backends=numpy,torch`` (or ``$XLOSSES_BACKENDS``) restricts them.
    A test (or conftest) that defines or parametrizes its own ``xp`` keeps it.
``assert_close``
    :func:`xlosses.testing.assert_close`: values *and* namespace, dtype,
    device and shape.

Nothing is imported at collection beyond this module: a library is imported
when a test of its case runs.  Tests that do not ask for ``xp`` are not
touched.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

import pytest

# backend name -> (module to find, namespace module)
NAMESPACES = {
    "numpy": ("numpy", "array_api_compat.numpy"),
    "array_api_strict": ("array_api_strict", "array_api_strict"),
    "torch": ("torch", "array_api_compat.torch"),
    "jax": ("jax", "jax.numpy"),
    "dask": ("dask.array", "array_api_compat.dask.array"),
    "cupy": ("cupy", "array_api_compat.cupy"),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _cupy_gpu() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def selected_backends(option: str | None) -> list[str]:
    """The backend names of the ``xp`` fixture: those named (``--xp-backends``, else
    ``$XLOSSES_BACKENDS``) or every installed one (CuPy only with a GPU), in a fixed order."""
    text = option or os.environ.get("XLOSSES_BACKENDS", "")
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in NAMESPACES]
    if unknown:
        raise pytest.UsageError(
            f"--xp-backends: unknown backend(s) {unknown}; known: {', '.join(NAMESPACES)}"
        )
    if names:
        return [n for n in names if _installed(NAMESPACES[n][0])]
    return [
        n for n, (mod, _) in NAMESPACES.items() if _installed(mod) and (n != "cupy" or _cupy_gpu())
    ]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xlosses")
    group.addoption(
        "--xp-backends",
        default=None,
        help="comma-separated array libraries of the xp fixture (default: every installed "
        "one; also $XLOSSES_BACKENDS): " + ", ".join(NAMESPACES),
    )


def _ours(metafunc: pytest.Metafunc) -> bool:
    """Whether the ``xp`` a test gets is this plugin's (not a conftest's or the test's own
    parametrization)."""
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if "xp" in names:
            return False
    defs = getattr(metafunc, "_arg2fixturedefs", {}).get("xp")
    return bool(defs) and getattr(defs[-1].func, "__module__", None) == __name__


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "xp" not in metafunc.fixturenames or not _ours(metafunc):
        return
    names = selected_backends(metafunc.config.getoption("xp_backends", None))
    metafunc.parametrize("xp", names, indirect=True, ids=names)


def namespace(name: str) -> Any:
    """The array API namespace of backend ``name`` (see :data:`NAMESPACES`)."""
    if name == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    return importlib.import_module(NAMESPACES[name][1])


@pytest.fixture
def xp(request: pytest.FixtureRequest) -> Any:
    """The array API namespace of one installed array library (one test case each)."""
    name = getattr(request, "param", None)
    if name is None:  # requested without parametrization (e.g. by another fixture)
        name = selected_backends(request.config.getoption("xp_backends", None))[0]
    return namespace(name)


@pytest.fixture(name="assert_close")
def assert_close_fixture() -> Any:
    """:func:`xlosses.testing.assert_close`."""
    from xlosses.testing import assert_close

    return assert_close
