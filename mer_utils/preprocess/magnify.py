"""Motion magnification: Eulerian linear magnification and the learning-based magnifier of Oh et al. 2018.

AMAN (Wei et al. 2022, 004, eq. 1-3) magnifies each selected frame against the onset frame with a set of
amplification factors 1..k: ``I_mag = f(I_on, I_sel, amp)``. Throughout this module the **factor** multiplies the
motion: the output shows the motion between the two frames ``factor`` times larger, and ``factor = 1`` returns
the input frame unchanged (Oh et al.'s alpha; Wu et al.'s alpha is ``factor - 1``).

- :func:`eulerian_magnify` — Eulerian video magnification, linear version (Wu et al. 2012; REFERENCE.md §4):
  Laplacian pyramid, temporal IIR band-pass per level (r1 = 0.4, r2 = 0.05 as in the reference MATLAB), the
  amplification attenuated for spatial wavelengths below lambda_c = 16, the finest and the coarsest bands left
  out, and the amplified band added back to **the current** frame.
- :func:`magnify_pair` — the same linear magnification for two frames: the temporal band is the difference of the
  Laplacian pyramids of the selected frame and the onset frame. This is the default magnifier of the AMAN recipe.
- :func:`magnify_against_onset` — AMAN's stack: n frames x k factors, with either magnifier.
- ``MotionMagnificationNet`` (Oh et al. 2018: encoder -> manipulator -> decoder) lives in
  :mod:`mer_utils.preprocess.oh2018` and is importable from here; its weights are loaded only from a
  checkpoint the user supplies (:func:`load_magnification_network`).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

MAGNIFIERS = ("eulerian", "oh2018")

_RGB2YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ2RGB = np.linalg.inv(_RGB2YIQ)


def pyramid_levels(height: int, width: int, min_size: int = 8) -> int:
    """Number of Laplacian pyramid levels (bands + residual) so that the coarsest is about ``min_size`` px."""
    return max(2, int(math.floor(math.log2(max(min(height, width), 1) / min_size))) + 1)


def laplacian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """Laplacian pyramid of a float32 image (H, W[, C]): ``levels - 1`` band-pass images, finest first, then the
    low-pass residual. :func:`collapse_pyramid` inverts it exactly."""
    cur = np.asarray(image, dtype=np.float32)
    pyr = []
    for _ in range(levels - 1):
        down = cv2.pyrDown(cur)
        up = cv2.pyrUp(down, dstsize=(cur.shape[1], cur.shape[0]))
        pyr.append(cur - up.reshape(cur.shape))
        cur = down.reshape(down.shape[:2] + cur.shape[2:])
    pyr.append(cur)
    return pyr


def collapse_pyramid(pyr: list[np.ndarray]) -> np.ndarray:
    """Rebuild the image from a Laplacian pyramid made by :func:`laplacian_pyramid`."""
    cur = pyr[-1]
    for band in reversed(pyr[:-1]):
        cur = cv2.pyrUp(cur, dstsize=(band.shape[1], band.shape[0])).reshape(band.shape) + band
    return cur


def level_gains(factor: float, height: int, width: int, levels: int, lambda_c: float = 16.0,
                exaggeration: float = 2.0) -> np.ndarray:
    """Amplification (Wu et al.'s alpha, i.e. ``factor - 1``) applied to each pyramid level, finest first.

    As in the reference MATLAB (``amplify_spatial_lpyr_temporal_iir``): the representative wavelength of the
    coarsest level is the image diagonal / 3 and halves at each finer level; delta = lambda_c / 8 / (1 + alpha);
    a level gets min(alpha, exaggeration * (lambda / (8 delta) - 1)); the finest and the coarsest levels get 0.
    """
    alpha = float(factor) - 1.0
    gains = np.zeros(levels)
    if alpha == 0.0:
        return gains
    delta = lambda_c / 8.0 / (1.0 + alpha)
    lam = math.hypot(height, width) / 3.0
    for lvl in range(levels - 1, -1, -1):  # coarsest first, as the MATLAB loop
        cur = (lam / delta / 8.0 - 1.0) * exaggeration
        if lvl in (0, levels - 1):
            gains[lvl] = 0.0
        else:
            gains[lvl] = alpha if cur > alpha else max(cur, 0.0)
        lam /= 2.0
    return gains


def _to_work(image: np.ndarray, chrom_attenuation: float) -> tuple[np.ndarray, bool]:
    x = np.asarray(image, dtype=np.float32)
    yiq = x.ndim == 3 and x.shape[-1] == 3 and chrom_attenuation != 1.0
    return (x @ _RGB2YIQ.T.astype(np.float32) if yiq else x), yiq


def _chrom(band: np.ndarray, yiq: bool, chrom_attenuation: float) -> np.ndarray:
    if yiq:
        band = band.copy()
        band[..., 1:] *= chrom_attenuation
    return band


def _finish(x: np.ndarray, yiq: bool, out_dtype) -> np.ndarray:
    if yiq:
        x = x @ _YIQ2RGB.T.astype(np.float32)
    if out_dtype is not None and np.dtype(out_dtype) == np.uint8:
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return x.astype(out_dtype) if out_dtype is not None else x


def magnify_pair(onset: np.ndarray, frame: np.ndarray, factors=(2.0,), lambda_c: float = 16.0,
                 exaggeration: float = 2.0, levels: int | None = None, chrom_attenuation: float = 1.0,
                 dtype=np.uint8) -> np.ndarray:
    """Linear Eulerian magnification of the motion from ``onset`` to ``frame`` (same shape, (H, W[, 3])).

    For each factor: ``frame + sum_l gain_l(factor) * band_l``, where band_l is level l of the Laplacian pyramid
    of ``frame - onset`` (the two-frame temporal band) and the gains follow :func:`level_gains`. Returns
    (len(factors), H, W[, 3]) in ``dtype`` (uint8: rounded and clipped; ``None``: float32). Factor 1 returns
    ``frame``.
    """
    a, yiq = _to_work(onset, chrom_attenuation)
    b, _ = _to_work(frame, chrom_attenuation)
    if a.shape != b.shape:
        raise ValueError(f"Onset {a.shape} and frame {b.shape} must have the same shape.")
    h, w = b.shape[:2]
    nlev = levels or pyramid_levels(h, w)
    factors = np.atleast_1d(np.asarray(factors, dtype=np.float64))
    gains = np.stack([level_gains(f, h, w, nlev, lambda_c, exaggeration) for f in factors])  # (K, L)
    pyr = laplacian_pyramid(b - a, nlev)
    used = np.flatnonzero(np.abs(gains).sum(axis=0) > 0)
    # the collapse is linear: pre-collapse each used band alone, then mix per factor
    contrib = []
    for lvl in used:
        only = [np.zeros_like(p) for p in pyr]
        only[lvl] = pyr[lvl]
        contrib.append(_chrom(collapse_pyramid(only), yiq, chrom_attenuation))
    out = np.repeat(b[None], len(factors), axis=0)
    if contrib:
        c = np.stack(contrib)  # (U, H, W[, C])
        out += np.tensordot(gains[:, used].astype(np.float32), c, axes=(1, 0))
    return _finish(out, yiq, dtype)


def eulerian_magnify(frames: np.ndarray, factor: float = 10.0, r1: float = 0.4, r2: float = 0.05,
                     lambda_c: float = 16.0, exaggeration: float = 2.0, levels: int | None = None,
                     chrom_attenuation: float = 1.0, dtype=np.uint8) -> np.ndarray:
    """Eulerian video magnification of a clip (T, H, W[, 3]) with a temporal IIR band-pass (REFERENCE.md §4).

    Per pyramid level: lowpass1 <- (1 - r1) lowpass1 + r1 L_t, lowpass2 <- (1 - r2) lowpass2 + r2 L_t, band =
    lowpass1 - lowpass2 (both start at the first frame), scaled by :func:`level_gains`, collapsed and added to the
    current frame. ``factor = 1`` returns the clip unchanged.
    """
    x = np.asarray(frames)
    if x.ndim not in (3, 4):
        raise ValueError(f"Expected a clip (T, H, W) or (T, H, W, 3), got shape {x.shape}.")
    h, w = x.shape[1:3]
    nlev = levels or pyramid_levels(h, w)
    gains = level_gains(factor, h, w, nlev, lambda_c, exaggeration)
    out = np.empty(x.shape, dtype=np.float32)
    low1 = low2 = None
    for t, frame in enumerate(x):
        cur, yiq = _to_work(frame, chrom_attenuation)
        pyr = laplacian_pyramid(cur, nlev)
        if low1 is None:
            low1, low2 = [p.copy() for p in pyr], [p.copy() for p in pyr]
        else:
            for lvl in range(nlev):
                low1[lvl] = (1 - r1) * low1[lvl] + r1 * pyr[lvl]
                low2[lvl] = (1 - r2) * low2[lvl] + r2 * pyr[lvl]
        band = [(low1[l] - low2[l]) * np.float32(gains[l]) for l in range(nlev)]
        res = cur + _chrom(collapse_pyramid(band), yiq, chrom_attenuation)
        out[t] = _finish(res, yiq, None)
    if dtype is not None and np.dtype(dtype) == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(dtype) if dtype is not None else out


def magnify_against_onset(onset: np.ndarray, frames: np.ndarray, factors, method: str = "eulerian",
                          network=None, device=None, **kwargs) -> np.ndarray:
    """AMAN's magnified stack (Wei et al. 2022, eq. 3): every frame of ``frames`` (n, H, W[, 3]) magnified against
    ``onset`` with every factor -> (n, k, H, W[, 3]) uint8.

    ``method="eulerian"``: :func:`magnify_pair` (``kwargs`` passed on). ``method="oh2018"``: the learning-based
    network of Oh et al. 2018 — pass ``network`` (a loaded ``MotionMagnificationNet``, see
    :func:`load_magnification_network`); colour frames with H and W divisible by 4.
    """
    x = np.asarray(frames)
    if method == "eulerian":
        return np.stack([magnify_pair(onset, f, factors, dtype=np.uint8, **kwargs) for f in x])
    if method == "oh2018":
        if network is None:
            raise ValueError("method='oh2018' needs network=load_magnification_network(checkpoint='path/to/file.pth'); "
                             "no pretrained weights can be downloaded here.")
        from .oh2018 import magnify_with_network

        return np.stack([magnify_with_network(network, onset, f, factors, device=device) for f in x])
    raise ValueError(f"Unknown magnifier {method!r}: expected one of {MAGNIFIERS}.")


def load_magnification_network(checkpoint=None, device="cpu", strict: bool = True):
    """Build Oh et al.'s ``MotionMagnificationNet`` and load its weights from a user-supplied ``checkpoint``
    (a PyTorch state dict file). Raises a ``ValueError`` explaining what to supply when ``checkpoint`` is None."""
    from .oh2018 import load_magnification_network as _load

    return _load(checkpoint, device=device, strict=strict)


def __getattr__(name):  # lazy access to the torch network, so importing this module does not import torch
    if name in ("MotionMagnificationNet", "magnify_with_network"):
        from . import oh2018

        return getattr(oh2018, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def measured_gain(factor: float, wavelength: float = 32.0, shift: float = 0.25, size: int = 128) -> float:
    """How much :func:`magnify_pair` multiplies a known motion: a vertical-stripe sinusoid of ``wavelength``
    pixels shifted by ``shift`` pixels is magnified with ``factor``; the phase shift of the result divided by the
    input's phase shift is returned (ideally ``factor``; the finest and coarsest pyramid bands are left
    unmagnified, so a little less)."""
    x = np.arange(size)

    def image(s):
        return np.repeat((128 + 60 * np.sin(2 * np.pi * (x - s) / wavelength))[None], size, axis=0)

    def phase(img):
        row = img.mean(axis=0) - img.mean()
        return math.atan2((row * np.cos(2 * np.pi * x / wavelength)).sum(), (row * np.sin(2 * np.pi * x / wavelength)).sum())

    a, b = image(0.0), image(shift)
    out = magnify_pair(a, b, [factor], dtype=None)[0]
    return (phase(out) - phase(a)) / (phase(b) - phase(a))
