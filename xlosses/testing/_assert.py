"""``assert_close``: values, and the namespace, dtype, device and shape they come in."""

from __future__ import annotations

import math
from typing import Any

import array_api_compat
import numpy as np

__all__ = ["assert_close", "to_numpy"]


def _library(x: Any) -> str:
    return type(x).__module__.split(".")[0]


def to_numpy(x: Any) -> np.ndarray:
    """A copy of array ``x`` (any supported library, any device) as a NumPy array; 16-bit
    floats that NumPy lacks (bfloat16) come back as float32."""
    lib = _library(x)
    if lib == "torch":
        t = x.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        return t.numpy().copy()
    if lib == "cupy":
        return x.get()
    if lib == "dask":
        return np.asarray(x.compute())
    if lib == "array_api_strict":
        import array_api_strict as xps

        x = x.to_device(xps.Device("CPU_DEVICE"))
    a = np.asarray(x)
    if a.dtype.name == "bfloat16":
        a = a.astype(np.float32)
    return a


def _default_rtol(xp: Any, dtype: Any) -> float:
    """``4·sqrt(eps)`` of a floating dtype (SciPy's ``xp_assert_close`` default), 0 else."""
    try:
        if xp.isdtype(dtype, "real floating") or xp.isdtype(dtype, "complex floating"):
            return 4.0 * math.sqrt(float(xp.finfo(dtype).eps))
    except (TypeError, ValueError, AttributeError):
        pass
    return 0.0


def assert_close(
    actual: Any,
    desired: Any,
    *,
    rtol: float | None = None,
    atol: float = 0.0,
    check_namespace: bool = True,
    check_dtype: bool = True,
    check_device: bool = True,
    check_shape: bool = True,
    err_msg: str = "",
) -> None:
    r"""Assert that ``actual`` equals ``desired`` to a tolerance, *and* that it is the same kind
    of array: the same namespace, dtype, device and shape.

    .. math::
        |a - d| \le \text{atol} + \text{rtol} \cdot |d| \quad \text{elementwise (NaN equals NaN)}

    A loss that returns a NumPy array for torch inputs, float64 for float32
    inputs, or a CPU array for GPU inputs passes a plain value comparison;
    here it fails, with a message naming what differs.

    Parameters
    ----------
    actual : array
        The array under test (any array API library).
    desired : array
        The expected array, of the library, dtype and device ``actual`` must
        have (build it with ``xp.asarray(..., dtype=..., device=...)``).
    rtol : float, optional
        Relative tolerance; default ``4·sqrt(eps)`` of ``desired``'s dtype (as
        SciPy's ``xp_assert_close``): about ``6e-8`` for float64, ``1.4e-3``
        for float32, 0 for integers and booleans.
    atol : float, default 0.0
        Absolute tolerance.
    check_namespace, check_dtype, check_device, check_shape : bool, default True
        Which properties must match besides the values (shapes must always
        broadcast).
    err_msg : str, optional
        Prepended to the failure message.

    Raises
    ------
    AssertionError
        Naming the property or the entries that differ.

    Examples
    --------
    >>> import numpy as np
    >>> from xlosses.testing import assert_close
    >>> assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]))
    >>> assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.0], dtype=np.float32))
    Traceback (most recent call last):
    ...
    AssertionError: dtype differs: actual float64, desired float32
    """
    prefix = f"{err_msg}: " if err_msg else ""
    xp_a = array_api_compat.array_namespace(actual)
    xp_d = array_api_compat.array_namespace(desired)
    if check_namespace and xp_a is not xp_d:
        raise AssertionError(
            f"{prefix}namespace differs: actual {xp_a.__name__} ({_library(actual)}), "
            f"desired {xp_d.__name__} ({_library(desired)})"
        )
    if check_dtype and str(actual.dtype) != str(desired.dtype):
        raise AssertionError(
            f"{prefix}dtype differs: actual {actual.dtype}, desired {desired.dtype}"
        )
    if check_device:
        dev_a, dev_d = array_api_compat.device(actual), array_api_compat.device(desired)
        if str(dev_a) != str(dev_d):
            raise AssertionError(f"{prefix}device differs: actual {dev_a}, desired {dev_d}")
    if check_shape and tuple(actual.shape) != tuple(desired.shape):
        raise AssertionError(
            f"{prefix}shape differs: actual {tuple(actual.shape)}, desired {tuple(desired.shape)}"
        )
    if rtol is None:
        rtol = _default_rtol(xp_d, desired.dtype)
    a, d = to_numpy(actual), to_numpy(desired)
    try:
        np.testing.assert_allclose(a, d, rtol=rtol, atol=atol, equal_nan=True, err_msg=err_msg)
    except AssertionError as exc:
        raise AssertionError(f"{prefix}values differ (rtol={rtol:g}, atol={atol:g}){exc}") from None
