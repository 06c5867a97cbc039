"""Dense optical flow (Farneback, TV-L1), its magnitude and optical strain, and a flow-to-colour picture.

Zhao et al. 2021 (003, Table 4) compare their residual-sum images with Farneback and TV-L1 flow images computed
from the onset to the end frame of the segment; the flow literature they cite (Liong et al.'s STSTNet) feeds
horizontal flow, vertical flow and optical strain. TV-L1 is about 50x slower than Farneback (REFERENCE.md §5).
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .faces import to_grey

METHODS = ("farneback", "tvl1")

#: Farneback parameters (OpenCV's usual values for faces: 3 levels, window 15).
FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


@lru_cache(maxsize=4)
def _tvl1(tau: float, lam: float, theta: float, nscales: int, warps: int, epsilon: float, iterations: int):
    if not hasattr(cv2, "optflow"):
        raise ImportError("TV-L1 flow needs cv2.optflow from opencv-contrib: install "
                          "opencv-contrib-python-headless<5 (REFERENCE.md §5).")
    return cv2.optflow.DualTVL1OpticalFlow_create(tau=tau, lambda_=lam, theta=theta, nscales=nscales,
                                                  warps=warps, epsilon=epsilon, innnerIterations=30,
                                                  outerIterations=iterations, scaleStep=0.5, gamma=0.0,
                                                  medianFiltering=5, useInitialFlow=False)


def optical_flow(prev: np.ndarray, nxt: np.ndarray, method: str = "farneback", **params) -> np.ndarray:
    """Dense flow (H, W, 2) float32 (dx, dy) from ``prev`` to ``nxt`` (grey or RGB images of one size).

    ``method="farneback"`` (``cv2.calcOpticalFlowFarneback``, keyword overrides of :data:`FARNEBACK`) or
    ``"tvl1"`` (``cv2.optflow.DualTVL1OpticalFlow``; overrides ``tau, lam, theta, nscales, warps, epsilon,
    iterations``). A pixel at (x, y) in ``prev`` is found at (x + dx, y + dy) in ``nxt``.
    """
    a, b = to_grey(prev), to_grey(nxt)
    if a.shape != b.shape:
        raise ValueError(f"Both frames must have the same size, got {a.shape} and {b.shape}.")
    if method == "farneback":
        p = {**FARNEBACK, **params}
        return cv2.calcOpticalFlowFarneback(a, b, None, p["pyr_scale"], p["levels"], p["winsize"],
                                            p["iterations"], p["poly_n"], p["poly_sigma"], p["flags"])
    if method == "tvl1":
        p = dict(tau=0.25, lam=0.15, theta=0.3, nscales=5, warps=5, epsilon=0.01, iterations=10)
        unknown = set(params) - set(p)
        if unknown:
            raise ValueError(f"Unknown TV-L1 parameters {sorted(unknown)}; expected some of {sorted(p)}.")
        p.update(params)
        return _tvl1(**p).calc(a, b, None)
    raise ValueError(f"Unknown optical flow method {method!r}: expected one of {METHODS}.")


def clip_flows(frames: np.ndarray, method: str = "farneback", reference: str = "onset", **params) -> np.ndarray:
    """Flows over a clip (T, H, W[, C]) -> (T-1, H, W, 2): from the first (onset) frame to each later frame
    (``reference="onset"``) or between consecutive frames (``reference="previous"``)."""
    x = np.asarray(frames)
    if x.shape[0] < 2:
        raise ValueError(f"Need at least two frames for optical flow, got {x.shape[0]}.")
    if reference not in ("onset", "previous"):
        raise ValueError(f"reference must be 'onset' or 'previous', got {reference!r}.")
    grey = np.stack([to_grey(f) for f in x])
    pairs = [(grey[0] if reference == "onset" else grey[i - 1], grey[i]) for i in range(1, len(grey))]
    return np.stack([optical_flow(a, b, method, **params) for a, b in pairs])


def flow_magnitude(flow: np.ndarray) -> np.ndarray:
    """Per-pixel length of the flow vectors, (..., H, W)."""
    f = np.asarray(flow, dtype=np.float32)
    return np.hypot(f[..., 0], f[..., 1])


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Optical strain magnitude sqrt(e_xx^2 + e_yy^2 + 2 e_xy^2) of a flow (H, W, 2), with the strain tensor
    e = (grad u + grad u^T) / 2 from central differences (as used by STSTNet-style inputs)."""
    f = np.asarray(flow, dtype=np.float64)
    if f.ndim != 3 or f.shape[-1] != 2:
        raise ValueError(f"Expected one flow field (H, W, 2), got shape {f.shape}.")
    u_y, u_x = np.gradient(f[..., 0])
    v_y, v_x = np.gradient(f[..., 1])
    exy = 0.5 * (u_y + v_x)
    return np.sqrt(u_x ** 2 + v_y ** 2 + 2 * exy ** 2).astype(np.float32)


def flow_to_colour(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """RGB uint8 picture of a flow (H, W, 2): hue = direction, brightness = magnitude (scaled by
    ``max_magnitude``, default the largest magnitude in the field), full saturation."""
    f = np.asarray(flow, dtype=np.float32)
    if f.ndim != 3 or f.shape[-1] != 2:
        raise ValueError(f"Expected one flow field (H, W, 2), got shape {f.shape}.")
    mag, ang = cv2.cartToPolar(np.ascontiguousarray(f[..., 0]), np.ascontiguousarray(f[..., 1]))
    top = float(max_magnitude) if max_magnitude else float(mag.max())
    hsv = np.zeros(f.shape[:2] + (3,), dtype=np.uint8)
    hsv[..., 0] = (ang * (90.0 / np.pi)).astype(np.uint8) % 180
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(mag / top * 255.0, 0, 255).astype(np.uint8) if top > 0 else 0
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def flow_image(prev: np.ndarray, nxt: np.ndarray, method: str = "farneback", mode: str = "colour",
               **params) -> np.ndarray:
    """A 3-channel uint8 image of the flow from ``prev`` to ``nxt`` for a CNN: ``mode="colour"``
    (:func:`flow_to_colour`) or ``"uvs"`` (horizontal flow, vertical flow and optical strain, each min-max
    scaled to 0..255)."""
    f = optical_flow(prev, nxt, method, **params)
    if mode == "colour":
        return flow_to_colour(f)
    if mode == "uvs":
        chans = [f[..., 0], f[..., 1], optical_strain(f)]
        out = []
        for c in chans:
            lo, hi = float(c.min()), float(c.max())
            out.append(np.zeros(c.shape, np.uint8) if hi <= lo else
                       np.clip(np.rint((c - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8))
        return np.stack(out, axis=-1)
    raise ValueError(f"Unknown flow image mode {mode!r}: expected 'colour' or 'uvs'.")
