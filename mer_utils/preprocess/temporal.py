"""Temporal normalisation: the temporal interpolation model (TIM), uniform resampling, Zhao et al.'s clip
segment and key frames, and a simple apex spotter.

TIM (Zhou et al. 2011, used by Pfister et al. 2011; She et al. 2020, 000, Sec. III-A: "time-interpolation model
... so that all videos are the same length (64 frames)"; Wei et al. 2022, 004, Sec. 2.1) embeds the N frames of a
clip on a curve: the frames are points of a low-dimensional manifold parametrised by the eigenvectors of the
path graph's Laplacian, ``sin(pi k t + pi (N - k) / (2N))``, and any position t in [0, 1] on the curve gives a
new frame. Asked for the original N positions it returns the input frames.

Two implementations that agree to numerical precision:

- :func:`tim_svd` follows REFERENCE.md §4 step by step (SVD, Laplacian eigenvectors, W, scales m_k, y(t)).
- :func:`temporal_interpolate` uses the closed form those steps reduce to: with ``(W^T)^-1 = Q V0`` the new
  frame is ``mu + Xc V0 diag(m) s(t)``, a fixed linear combination of the input frames whose weights depend only
  on N and t (:func:`tim_weights`). It needs no SVD, is fast, and stays well defined when frames repeat (where the
  SVD route needs rank N - 1).
"""
from __future__ import annotations

import math

import numpy as np


# ----------------------------------------------------------------------------------------------- TIM
def _path_laplacian_eigenvectors(n: int) -> np.ndarray:
    """Eigenvectors of the path graph's Laplacian L = D - A, ascending eigenvalues, constant one dropped:
    (n, n-1), column k proportional to sin(pi k p + pi (n - k) / (2n)) at p = 1/n, 2/n, ..., 1."""
    a = np.zeros((n, n))
    idx = np.arange(n - 1)
    a[idx, idx + 1] = a[idx + 1, idx] = 1.0
    lap = np.diag(a.sum(axis=1)) - a
    _, vecs = np.linalg.eigh(lap)  # ascending order
    return vecs[:, 1:]


def _curve(n: int, positions: np.ndarray) -> np.ndarray:
    """s_k(t) = sin(pi k p + pi (n - k) / (2n)) with p = t (1 - 1/n) + 1/n, for k = 1..n-1: (n-1, len(t))."""
    t = np.asarray(positions, dtype=np.float64)
    p = t * (1 - 1 / n) + 1 / n
    k = np.arange(1, n)[:, None]
    return np.sin(np.pi * k * p[None, :] + np.pi * (n - k) / (2 * n))


def tim_positions(n_in: int) -> np.ndarray:
    """Positions t in [0, 1] of the N input frames on the TIM curve (``linspace(0, 1, N)``)."""
    if n_in < 1:
        raise ValueError(f"A clip needs at least one frame, got n_in={n_in}.")
    return np.linspace(0.0, 1.0, n_in) if n_in > 1 else np.zeros(1)


def _as_positions(n_out=None, positions=None) -> np.ndarray:
    if positions is None:
        if n_out is None or int(n_out) < 1:
            raise ValueError(f"Give the output length n_out >= 1 or explicit positions, got n_out={n_out!r}.")
        return np.linspace(0.0, 1.0, int(n_out)) if int(n_out) > 1 else np.zeros(1)
    pos = np.asarray(positions, dtype=np.float64).ravel()
    if pos.size == 0 or np.any(pos < -1e-12) or np.any(pos > 1 + 1e-12):
        raise ValueError("TIM positions must be a non-empty list of numbers in [0, 1].")
    return pos


def tim_weights(n_in: int, n_out: int | None = None, positions=None) -> np.ndarray:
    """(n_in, n_out) weights A such that the TIM frames are ``A.T @ X`` for the (n_in, D) input frames X.

    Closed form of REFERENCE.md §4: frame(t) = mu + Xc V0 diag(m) s(t) with m_k = V0[0, k] / s_k(0); the
    columns of A sum to 1. ``positions`` (in [0, 1]) override ``n_out`` evenly spaced ones.
    """
    pos = _as_positions(n_out, positions)
    if n_in == 1:
        return np.ones((1, pos.size))
    v0 = _path_laplacian_eigenvectors(n_in)
    m = v0[0] / _curve(n_in, np.zeros(1))[:, 0]
    w = v0 @ (m[:, None] * _curve(n_in, pos))  # (n_in, n_out): weights on the centred frames
    return w + (1.0 - w.sum(axis=0, keepdims=True)) / n_in


def temporal_interpolate(frames: np.ndarray, n_out: int | None = None, positions=None,
                         dtype=None) -> np.ndarray:
    """TIM: resample a clip of N frames (N, ...) to ``n_out`` frames (or the given ``positions`` in [0, 1]).

    Output frames are float32 unless ``dtype`` is given; with ``dtype=np.uint8`` values are rounded and clipped
    to 0..255. Asked for ``positions=tim_positions(N)`` it returns the input frames.
    """
    x = np.asarray(frames)
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"Expected frames of shape (N, ...) with N >= 1, got {x.shape}.")
    a = tim_weights(x.shape[0], n_out, positions)
    work = np.float64 if x.dtype == np.float64 else np.float32
    out = a.T.astype(work) @ x.reshape(x.shape[0], -1).astype(work, copy=False)
    out = out.reshape((a.shape[1],) + x.shape[1:])
    if dtype is None:
        return out
    if np.dtype(dtype) == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(dtype)


def tim_svd(frames: np.ndarray, n_out: int | None = None, positions=None, rtol: float = 1e-10) -> np.ndarray:
    """TIM exactly as REFERENCE.md §4 lists its steps (float64). Requires the centred frames to have rank N-1.

    1. Frames as columns of X (D x N); subtract the column mean mu; economy SVD X = U S V^T; keep N-1
       components: U (D x N-1), Q = S V^T (N-1 x N).
    2. Path graph Laplacian L = D - A; eigenvectors in ascending order, constant one dropped -> V0 (N x N-1).
    3. W = (Q Q^T)^-1 Q V0; m_k = Q[:, 0]^T W[:, k] / sin(pi k / N + pi (N - k) / (2N)).
    4. For t in [0, 1]: p = t (1 - 1/N) + 1/N, y_k = m_k sin(pi k p + pi (N - k) / (2N)),
       frame = U (W^T)^-1 y + mu.
    """
    x = np.asarray(frames, dtype=np.float64)
    n = x.shape[0]
    pos = _as_positions(n_out, positions)
    if n == 1:
        return np.repeat(x, pos.size, axis=0)
    big_x = x.reshape(n, -1).T  # D x N
    mu = big_x.mean(axis=1, keepdims=True)
    u, s, vt = np.linalg.svd(big_x - mu, full_matrices=False)
    if s[n - 2] <= rtol * max(s[0], 1e-300):
        raise ValueError(f"TIM needs {n} frames of rank {n - 1} after centring (no repeated frames); the "
                         f"singular values end in {s[-2:]}. Use temporal_interpolate (closed form), drop "
                         "duplicate frames, or add a tiny noise.")
    u, q = u[:, : n - 1], s[: n - 1, None] * vt[: n - 1]
    v0 = _path_laplacian_eigenvectors(n)
    w = np.linalg.solve(q @ q.T, q @ v0)
    k = np.arange(1, n)
    m = (q[:, 0] @ w) / np.sin(np.pi * k / n + np.pi * (n - k) / (2 * n))
    y = m[:, None] * _curve(n, pos)
    out = u @ np.linalg.solve(w.T, y) + mu  # D x n_out
    return out.T.reshape((pos.size,) + x.shape[1:])


# ------------------------------------------------------------------------------------ other resampling
def uniform_indices(n_in: int, n_out: int) -> np.ndarray:
    """``n_out`` frame indices spread evenly over 0..n_in-1 (nearest frame; repeats when n_out > n_in)."""
    if n_in < 1 or n_out < 1:
        raise ValueError(f"Need n_in >= 1 and n_out >= 1, got n_in={n_in}, n_out={n_out}.")
    return np.rint(np.linspace(0, n_in - 1, n_out)).astype(int)


def resample_uniform(frames: np.ndarray, n_out: int) -> np.ndarray:
    """Pick ``n_out`` frames evenly spaced in time (simple alternative to TIM)."""
    x = np.asarray(frames)
    return x[uniform_indices(x.shape[0], n_out)]


def fixed_window(n_in: int, length: int, start: int = 0) -> np.ndarray | None:
    """Indices ``start .. start+length-1`` when the clip is long enough, else ``None``.

    The 3D-CNN authors' code takes a fixed range of frames (SMIC frames 0..17, CAS(ME)² frames 72..167;
    REFERENCE.md §3) and the paper drops shorter videos (002, Sec. IV-A).
    """
    if start < 0 or length < 1:
        raise ValueError(f"Need start >= 0 and length >= 1, got start={start}, length={length}.")
    if start + length > n_in:
        return None
    return np.arange(start, start + length)


# ------------------------------------------------------------------------ Zhao et al. 2021, eq. (1)-(4)
def residual_segment(onset: int, apex: int, offset: int, min_length: int = 10) -> tuple[int, int]:
    """``(start, end)`` frame positions of the clip segment of Zhao et al. 2021 (003, eq. 1-2).

    start = T(onset); end = min(T(onset) + 10, T(offset)) if T(apex) - T(onset) < 10, else
    min(T(apex), T(offset)). Arguments are positions (indices) of the frames in the clip.
    """
    onset, apex, offset = int(onset), int(apex), int(offset)
    if offset < onset:
        raise ValueError(f"offset position {offset} precedes onset position {onset}.")
    start = onset
    if apex - onset < min_length:
        end = min(onset + min_length, offset)
    else:
        end = min(apex, offset)
    return start, end


def key_frames(start: int, end: int, n_key: int = 5, include_end: bool = True) -> list[int]:
    """Key-frame positions of Zhao et al. 2021 (003, eq. 3-4).

    gap = ceil((end - start) / (N_key + 1)); eq. (4) lists F = {min(start + gap, end), min(start + 2 gap, end),
    ..., end}: the set **ends with** ``end`` (the apex, eq. 2, when the segment is at least ``min_length`` long).
    ``include_end=True`` (default, the paper's reading): the N_key-th key frame is ``end``, the first N_key - 1
    are the multiples of gap. ``include_end=False`` (the reading before issue 21): the N_key multiples of gap
    only, so the last key frame is ``end`` only when ``gap * N_key >= end - start`` (e.g. every 10-frame
    segment) and otherwise falls short of the apex (e.g. segment 5..45: keys end at 40, not 45). Returned as a
    sorted set (repeats collapse when the segment is short).
    """
    start, end, n_key = int(start), int(end), int(n_key)
    if end < start:
        raise ValueError(f"end position {end} precedes start position {start}.")
    if n_key < 1:
        raise ValueError(f"N_key must be >= 1, got {n_key}.")
    gap = math.ceil((end - start) / (n_key + 1))
    frames = [min(start + gap * i, end) for i in range(1, n_key + 1)]
    if include_end:
        frames[-1] = end
    return sorted(set(frames))


# ------------------------------------------------------------------------------------------ apex
def motion_curve(frames: np.ndarray, reference: int = 0) -> np.ndarray:
    """Mean absolute grey-level difference of each frame to the ``reference`` frame (a simple intensity curve)."""
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim < 3:
        raise ValueError(f"Expected frames (T, H, W[, C]), got {x.shape}.")
    return np.abs(x - x[reference]).reshape(x.shape[0], -1).mean(axis=1)


def spot_apex(frames: np.ndarray, reference: int = 0, smooth: int = 3) -> int:
    """Index of the frame that differs most from the ``reference`` (onset) frame, after a moving average of
    width ``smooth`` over the difference curve — a simple stand-in when the apex is not annotated."""
    curve = motion_curve(frames, reference)
    if smooth > 1 and curve.size >= smooth:
        curve = np.convolve(curve, np.ones(smooth) / smooth, mode="same")
    return int(np.argmax(curve))


def middle_index(n: int) -> int:
    """The middle frame position of an n-frame clip (SMIC's convention when no apex is annotated)."""
    return (int(n) - 1) // 2
