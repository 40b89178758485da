"""Conformance entries of the image losses (total variation, PSNR, SSIM), kornia as the oracle.

Images are ``[*batch, H, W]`` (the spatial axes last, kornia's layout; a
``channels_last`` variant puts them at ``(-3, -2)`` with a channel axis of 2
after them).  kornia's PSNR pools the batch and its SSIM wants
``[B, C, H, W]``: the oracles call them once per image.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import xlosses

from ..spec import Inputs, Spec, register
from ._peers import kornia_losses, t64, to_numpy

H, W = 7, 8


def _images(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    shape = (*batch, H, W, 2) if v.get("channels_last") else (*batch, H, W)
    s = v.get("scale", 1.0)
    a = rng.random(shape) * s
    b = np.clip(a + 0.15 * s * rng.standard_normal(shape), 0.0, s)
    kw = {k: v[k] for k in ("reduction", "padding", "eps") if k in v}
    if v.get("channels_last"):
        kw["spatial_axes"] = (-3, -2)
    return Inputs([a, b], kw)


def _nchw(a: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray:
    """The images with the spatial axes last (kornia's layout)."""
    return np.moveaxis(a, -1, -3) if kwargs.get("spatial_axes") == (-3, -2) else a


def _tv_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    inputs = _images(rng, batch, v)
    return Inputs(inputs.args[:1], inputs.kwargs)


def _tv_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    K = kornia_losses()
    return to_numpy(K.total_variation(t64(_nchw(args[0], kwargs)), kwargs.get("reduction", "sum")))


def _psnr_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    inputs = _images(rng, batch, v)
    kw = {"axis": v["axis"]} if "axis" in v else {}
    return Inputs([*inputs.args, v.get("max_val", 1.0)], kw)


def _psnr_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    K = kornia_losses()
    a, b, max_val = args
    axis = kwargs.get("axis")
    if axis is not None:  # the whole batch pooled: kornia's own reduction
        return to_numpy(K.psnr_loss(t64(a), t64(b), float(max_val)))
    return np.asarray(
        [float(K.psnr_loss(t64(a[i]), t64(b[i]), float(max_val))) for i in range(a.shape[0])]
    )


def _ssim_inputs(rng: np.random.Generator, batch: tuple[int, ...], v: dict[str, Any]) -> Inputs:
    inputs = _images(rng, batch, v)
    # window_size must stay a Python int under jax.jit: a keyword (static), not a positional
    kw = {**inputs.kwargs, "window_size": v.get("window_size", 5), "max_val": v.get("max_val", 1.0)}
    return Inputs(inputs.args, kw)


def _ssim_peer(args: list[Any], kwargs: dict[str, Any]) -> np.ndarray:
    K = kornia_losses()
    a, b = _nchw(args[0], kwargs), _nchw(args[1], kwargs)
    window, max_val = kwargs["window_size"], kwargs["max_val"]
    out = []
    for i in range(a.shape[0]):  # each image's 2-D slices as a batch of one-channel images
        ai, bi = a[i].reshape(-1, 1, *a.shape[-2:]), b[i].reshape(-1, 1, *b.shape[-2:])
        loss = K.ssim_loss(
            t64(ai),
            t64(bi),
            window,
            float(max_val),
            eps=kwargs.get("eps", 1e-12),
            padding=kwargs.get("padding", "same"),
        )
        out.append(float(loss))
    return np.asarray(out)


register(
    Spec(
        "total_variation_loss",
        xlosses.total_variation_loss,
        _tv_inputs,
        differentiable=(0,),
        variants=({}, {"reduction": "mean"}, {"channels_last": True}),
        oracle=_tv_peer,
        oracle_name="kornia",
    ),
    Spec(
        "psnr_loss",
        xlosses.psnr_loss,
        _psnr_inputs,
        differentiable=(0, 1),
        variants=({}, {"max_val": 2.0, "axis": (0, 1, 2)}),
        oracle=_psnr_peer,
        oracle_name="kornia (per image)",
        batch_shapes=((6,),),
    ),
    Spec(
        "ssim_loss",
        xlosses.ssim_loss,
        _ssim_inputs,
        differentiable=(0, 1),
        variants=(
            {},
            {"padding": "valid", "window_size": 3, "max_val": 2.0},
            {"channels_last": True, "window_size": 7, "eps": 0.0},
        ),
        oracle=_ssim_peer,
        oracle_name="kornia (per image)",
    ),
)
