"""Pixel residual sums of Zhao et al. 2021 (003, Sec. 3.1.1.5 and 3.1.2).

For the key frames F of a clip segment (:func:`mer_utils.preprocess.temporal.key_frames`) and its start frame
Q_start:

- ARS (eq. 5): ``ares = (sum_{f in F} |Q_f - Q_start|) mod 256`` — the sum wraps around at 256;
- RRS (eq. 6-7): ``diff = sum_{f in F} |Q_f - Q_start|``, then min-max scaled to [gmin, gmax] = [0, 255]
  over the whole image (all pixels and channels).
"""
from __future__ import annotations

import numpy as np


def residual_sum(start_frame: np.ndarray, key_frames: np.ndarray) -> np.ndarray:
    """``diff = sum_f |Q_f - Q_start|`` (eq. 6) as int64, for a start frame (H, W[, C]) and key frames
    (K, H, W[, C]) of the same shape."""
    q0 = np.asarray(start_frame)
    qf = np.asarray(key_frames)
    if qf.ndim == q0.ndim:
        qf = qf[None]
    if qf.shape[1:] != q0.shape:
        raise ValueError(f"Key frames {qf.shape[1:]} and the start frame {q0.shape} must have the same shape.")
    return np.abs(qf.astype(np.int64) - q0.astype(np.int64)[None]).sum(axis=0)


def absolute_residual_sum(start_frame: np.ndarray, key_frames: np.ndarray) -> np.ndarray:
    """ARS image (eq. 5): the residual sum modulo 256, as uint8."""
    return _ars(residual_sum(start_frame, key_frames))


def relative_residual_sum(start_frame: np.ndarray, key_frames: np.ndarray, gmin: float = 0.0,
                          gmax: float = 255.0) -> np.ndarray:
    """RRS image (eq. 6-7): the residual sum min-max scaled to [gmin, gmax] over the whole image, rounded to
    uint8. A constant residual (no motion at all) maps to ``gmin`` everywhere."""
    return _rrs(residual_sum(start_frame, key_frames), gmin, gmax)


def residual_sums(start_frame: np.ndarray, key_frames: np.ndarray, gmin: float = 0.0,
                  gmax: float = 255.0) -> tuple[np.ndarray, np.ndarray]:
    """``(ARS, RRS)``: :func:`absolute_residual_sum` and :func:`relative_residual_sum` from one residual sum."""
    diff = residual_sum(start_frame, key_frames)
    return _ars(diff), _rrs(diff, gmin, gmax)


def _ars(diff: np.ndarray) -> np.ndarray:
    return (diff % 256).astype(np.uint8)


def _rrs(diff: np.ndarray, gmin: float, gmax: float) -> np.ndarray:
    diff = diff.astype(np.float64)
    lo, hi = diff.min(), diff.max()
    if hi - lo <= 0:
        scaled = np.full(diff.shape, float(gmin))
    else:
        scaled = (diff - lo) / (hi - lo) * (gmax - gmin) + gmin
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
