"""Reddy et al. 2019's preprocessing recipe (Sec. III): grey 64x64 faces and 32x32 eye / nose-mouth regions,
T frames (18 for SMIC, 96 for CAS(ME)²), time first."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...preprocess.align import alignment_transform, as_size, box_transform, transform_points
from ...preprocess.recipe import FaceParams, Recipe, check_choice, check_positive, frame_shape, read_aligned
from ...preprocess.roi import reddy_roi_box
from ...preprocess.temporal import fixed_window, temporal_interpolate, uniform_indices


@dataclass(frozen=True)
class Reddy2019Params(FaceParams):
    """Reddy et al. 2019 (002, Sec. III; REFERENCE.md §3): grey, INTER_AREA, face 64x64 and the landmark-bounded
    eye / nose-mouth regions 32x32, T frames. ``n_frames`` None: 96 when every clip is CAS(ME)², else 18 (SMIC).
    ``temporal="fixed"`` takes frames ``frame_start .. frame_start+T-1`` of the segment as the authors' code does
    (it used frames 72..167 of the CAS(ME)² folders: ``segment="clip", frame_start=72``); shorter clips, which the
    paper drops, are resampled uniformly and flagged ``short_clip``."""

    size: tuple = (64, 64)
    roi_size: tuple = (32, 32)
    n_frames: int | None = None
    frame_start: int = 0
    temporal: str = "fixed"  # "fixed" | "uniform" | "tim"


class Reddy2019(Recipe):
    name = "reddy2019"
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
        out = read_aligned(seg, positions, [m_face, m_eyes, m_mouth], [p.size, p.roi_size, p.roi_size], False,
                            timer)
        if p.temporal == "tim":
            with timer("temporal", 3 * p.n_frames):
                out = [temporal_interpolate(x, p.n_frames, dtype=np.uint8) for x in out]
        meta = {"n_source_frames": n, "short_clip": bool(short)}
        return dict(zip(("face", "eyes", "nose_mouth"), out)), meta
