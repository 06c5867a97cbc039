"""Reddy et al. 2019's preprocessing recipe (Sec. III): grey 64x64 faces and 32x32 eye / nose-mouth regions,
T frames (18 for SMIC, 96 for CAS(ME)²), time first."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...preprocess.align import REGISTER_CHOICES, alignment_transform, as_size, box_transform, register_to_first, \
    transform_points
from ...preprocess.recipe import FaceParams, Recipe, check_choice, check_positive, frame_shape, read_aligned
from ...preprocess.roi import reddy_roi_box
from ...preprocess.temporal import fixed_window, temporal_interpolate, uniform_indices


@dataclass(frozen=True)
class Reddy2019Params(FaceParams):
    """Reddy et al. 2019 (002, Sec. III; REFERENCE.md §3): grey, INTER_AREA, face 64x64 and the landmark-bounded
    eye / nose-mouth regions 32x32, T frames. ``n_frames`` None: 96 when every clip is CAS(ME)², else 18 (SMIC).
    ``temporal="fixed"`` takes frames ``frame_start .. frame_start+T-1`` of the segment as the authors' code does
    (it used frames 72..167 of the CAS(ME)² folders: ``segment="clip", frame_start=72``); shorter clips, which the
    paper drops, are resampled uniformly and flagged ``short_clip``.

    ``motion="onset_difference"`` (the CPU profiles; the paper's input is the frame volume, ``"none"``): every
    frame is replaced by its absolute difference to the first frame of the window, computed on faces and regions
    ``motion_scale`` times larger (where a micro-movement spans pixels; optionally after ``register``-ing each
    frame to the first), multiplied by ``difference_gain``, clipped to 0..255 and area-averaged to ``size`` /
    ``roi_size`` — so the volume the 3D CNN sees carries the movement instead of the face's texture."""

    size: tuple = (64, 64)
    roi_size: tuple = (32, 32)
    n_frames: int | None = None
    frame_start: int = 0
    temporal: str = "fixed"  # "fixed" | "uniform" | "tim"
    motion: str = "none"  # "none" (grey frames, the paper) | "onset_difference"
    motion_scale: float = 2.5
    register: str = "none"  # "none" | "euclidean" (before the differences)
    difference_gain: float = 4.0


def onset_difference(frames: np.ndarray, size, gain: float = 4.0) -> np.ndarray:
    """``|x_t - x_0| * gain`` of grey frames ``(T, H, W)`` uint8, clipped to 0..255 and area-averaged to ``size``
    (width, height): frame 0 becomes all zeros and every later frame shows where the face moved since the first.
    Computing the difference before shrinking keeps sub-pixel movements of the small output (their absolute
    differences average instead of cancelling)."""
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"onset_difference: expected grey frames (T, H, W), got shape {frames.shape}.")
    d = np.abs(frames.astype(np.float32) - frames[:1].astype(np.float32)) * float(gain)
    w, h = as_size(size)
    out = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in d])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class Reddy2019(Recipe):
    name = "reddy2019"
    version = "2"  # 2: optional onset differences and registration (defaults unchanged)
    paper = "Reddy et al. 2019, Spontaneous Facial Micro-Expression Recognition using 3D Spatiotemporal CNNs (002)"
    params_class = Reddy2019Params
    profiles = {"ci": {}, "quick": {}, "full": {}}

    def _fill(self, values, table):
        if values.get("n_frames") is None:
            datasets = set(table["dataset"]) if table is not None and "dataset" in getattr(table, "columns", ()) else set()
            values["n_frames"] = 96 if datasets and datasets <= {"casme_sq"} else 18
        return values

    def _validate(self, p):
        super()._validate(p)
        check_choice("temporal", p.temporal, ("fixed", "uniform", "tim"))
        check_choice("motion", p.motion, ("none", "onset_difference"))
        check_choice("register", p.register, REGISTER_CHOICES)
        if not p.motion_scale >= 1 or not p.difference_gain > 0:
            raise ValueError(f"Parameters motion_scale={p.motion_scale} (>= 1) and difference_gain="
                             f"{p.difference_gain} (> 0) out of range.")
        check_positive("n_frames", p.n_frames)
        if p.frame_start < 0:
            raise ValueError(f"Parameter frame_start={p.frame_start}: expected >= 0.")
        as_size(p.roi_size)

    def outputs(self, p):
        face = (p.n_frames,) + frame_shape(p.size, False)
        roi = (p.n_frames,) + frame_shape(p.roi_size, False)
        return {"face": (face, np.uint8), "eyes": (roi, np.uint8), "nose_mouth": (roi, np.uint8)}

    def process(self, seg, landmarks, p, timer):
        m_face = alignment_transform(landmarks, p.size, p.crop, p.margin)
        lm = transform_points(m_face, landmarks)
        m_eyes = box_transform(m_face, reddy_roi_box(lm, "eyes"), p.roi_size)
        m_mouth = box_transform(m_face, reddy_roi_box(lm, "nose_mouth"), p.roi_size)
        n, short = len(seg), False
        if p.temporal == "tim":
            positions = range(n)
        elif p.temporal == "fixed":
            idx = fixed_window(n, p.n_frames, p.frame_start)
            short = idx is None
            positions = uniform_indices(n, p.n_frames) if short else idx
        else:
            positions = uniform_indices(n, p.n_frames)
        sizes = [as_size(p.size), as_size(p.roi_size), as_size(p.roi_size)]
        transforms = [m_face, m_eyes, m_mouth]
        if p.motion != "none":  # read larger, register and difference there, then shrink
            k = float(p.motion_scale)
            scale = np.array([[k, 0.0, 0.0], [0.0, k, 0.0]])
            transforms = [scale @ np.vstack([m, [0.0, 0.0, 1.0]]) for m in transforms]
            big = [(int(round(w * k)), int(round(h * k))) for w, h in sizes]
            out = read_aligned(seg, positions, transforms, big, False, timer)
        else:
            out = read_aligned(seg, positions, transforms, sizes, False, timer)
        if p.temporal == "tim":
            with timer("temporal", 3 * p.n_frames):
                out = [temporal_interpolate(x, p.n_frames, dtype=np.uint8) for x in out]
        if p.register != "none":
            with timer("register", 3 * (len(out[0]) - 1)):
                out = [register_to_first(x, p.register) for x in out]
        if p.motion != "none":
            with timer("difference", 3 * len(out[0])):
                out = [onset_difference(x, s, p.difference_gain) for x, s in zip(out, sizes)]
        meta = {"n_source_frames": n, "short_clip": bool(short)}
        return dict(zip(("face", "eyes", "nose_mouth"), out)), meta
