"""Peng et al. 2018's preprocessing recipe (Sec. III-B): the apex frame, face cropped by landmarks, 224x224."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...preprocess.align import alignment_transform
from ...preprocess.clips import spotted_apex
from ...preprocess.recipe import FaceParams, Recipe, check_choice, frame_shape, read_aligned


@dataclass(frozen=True)
class Peng2018Params(FaceParams):
    """Peng et al. 2018 (001, Sec. III-B): the apex frame, face cropped by landmarks, 224x224 (use 240 for the
    CDE task's random 224 corner crops), grey as in the group's related code (REFERENCE.md §3)."""

    size: tuple = (224, 224)
    color: bool = False
    apex: str = "annotated"  # "annotated" (middle when missing) | "middle" | "spotted"
    crop: str = "eyes"
    onset: bool = False  # also output the onset frame, warped like the apex (for apex - onset inputs)


class Peng2018(Recipe):
    name = "peng2018"
    paper = "Peng et al. 2018, From Macro to Micro Expression Recognition (001)"
    params_class = Peng2018Params
    profiles = {"ci": {"size": (64, 64)}, "quick": {"size": (112, 112)}, "full": {}}

    def _validate(self, p):
        super()._validate(p)
        check_choice("apex", p.apex, ("annotated", "middle", "spotted"))

    def outputs(self, p):
        out = {"apex": (frame_shape(p.size, p.color), np.uint8)}
        if p.onset:
            out["onset"] = (frame_shape(p.size, p.color), np.uint8)
        return out

    def process(self, seg, landmarks, p, timer):
        if p.apex == "annotated":
            pos, source = seg.apex, seg.apex_source
        elif p.apex == "middle":
            pos, source = (seg.onset + seg.offset) // 2, "middle"
        else:
            with timer("apex", seg.offset - seg.onset + 1):
                pos, source = spotted_apex(seg), "spotted"
        m = alignment_transform(landmarks, p.size, p.crop, p.margin)
        positions = [pos, seg.onset] if p.onset else [pos]
        (img,) = read_aligned(seg, positions, [m], [p.size], p.color, timer)
        arrays = {"apex": img[0], "onset": img[1]} if p.onset else {"apex": img[0]}
        return arrays, {"apex_position": int(pos), "apex_frame": int(seg.numbers[pos]),
                                  "apex_source": source}
