"""She et al. 2020's preprocessing recipe (Sec. III-A): Haar face detection, landmark crop to 120x140, TIM
to 64 frames; the RoIs of the 12x14 grid of 10-px cells are views of the stored faces."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...preprocess.align import alignment_transform, as_size
from ...preprocess.recipe import FaceParams, Recipe, check_choice, check_positive, frame_shape, read_aligned, \
    tim_frames
from ...preprocess.roi import SHE_FACE_SIZE, she_rois
from ...preprocess.temporal import resample_uniform


@dataclass(frozen=True)
class She2020Params(FaceParams):
    """She et al. 2020 (000, Sec. III-A): Haar detection, landmark crop, TIM to 64 frames, 120x140 faces."""

    detector: str = "haar"
    size: tuple = SHE_FACE_SIZE
    n_frames: int = 64
    temporal: str = "tim"  # "tim" | "uniform"
    color: bool = True


class She2020(Recipe):
    name = "she2020"
    paper = "She et al. 2020, Multiple Aggregation Networks (000)"
    params_class = She2020Params
    profiles = {"ci": {"n_frames": 8}, "quick": {"n_frames": 16}, "full": {}}

    def _validate(self, p):
        super()._validate(p)
        check_choice("temporal", p.temporal, ("tim", "uniform"))
        check_positive("n_frames", p.n_frames)
        if as_size(p.size) != SHE_FACE_SIZE:
            raise ValueError(f"She et al.'s RoI grid needs 120x140 faces: size must be (120, 140), got {p.size}.")

    def outputs(self, p):
        return {"face": ((p.n_frames,) + frame_shape(p.size, p.color), np.uint8)}

    def views(self, arrays, p):
        return she_rois(arrays["face"])

    def process(self, seg, landmarks, p, timer):
        m = alignment_transform(landmarks, p.size, p.crop, p.margin)
        (faces,) = read_aligned(seg, range(len(seg)), [m], [p.size], p.color, timer)
        with timer("temporal", p.n_frames):
            if p.temporal == "tim":
                out = tim_frames(faces, p.n_frames)
            else:
                out = resample_uniform(faces, p.n_frames)
        return {"face": out}, {"n_source_frames": len(seg)}
