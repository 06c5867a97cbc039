"""Zhao et al. 2021's preprocessing recipe (Sec. 3.1): the segment of eq. (1)-(2), key frames of eq. (3)-(4),
ARS (eq. 5) and RRS (eq. 6-7) colour images, and the flow images of the ablation; CGPO is applied later
(:func:`mer_utils.preprocess.cgpo.cgpo`)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...preprocess.align import REGISTER_CHOICES, alignment_transform, as_size, register_to_first
from ...preprocess.flow import METHODS as FLOW_METHODS, flow_image
from ...preprocess.recipe import FaceParams, Recipe, check_choice, check_positive, frame_shape, read_aligned, \
    residual_sums
from ...preprocess.temporal import key_frames, residual_segment


@dataclass(frozen=True)
class Zhao2021Params(FaceParams):
    """Zhao et al. 2021 (003, Sec. 3.1): segment of eq. (1)-(2) (at least ``min_length`` frames), ``n_key`` key
    frames of eq. (3)-(4), ARS (eq. 5) and RRS (eq. 6-7) colour images at 320x320 (the CGPO input); ``flows``:
    flow images of the ablation (onset -> segment end), computed at ``flow_size`` and resized."""

    size: tuple = (320, 320)
    n_key: int = 5
    min_length: int = 10
    include_end: bool = True  # eq. (4) ends with `end` (the apex); False = the N_key multiples of gap only (old)
    flows: tuple = ("farneback", "tvl1")
    flow_size: int = 160
    flow_mode: str = "colour"  # "colour" | "uvs"
    register: str = "none"  # "none" | "euclidean": key frames registered to the start frame before the residuals


class Zhao2021(Recipe):
    name = "zhao2021"
    version = "2"  # 2: key_frame output, optional registration of the key frames
    paper = "Zhao et al. 2021, Pixel Residual Sum and Cropped Gaussian Pyramid (003)"
    params_class = Zhao2021Params
    profiles = {"ci": {"size": (96, 96), "flows": ("farneback",)}, "quick": {"size": (160, 160)}, "full": {}}

    def _validate(self, p):
        super()._validate(p)
        check_positive("n_key", p.n_key)
        check_positive("flow_size", p.flow_size)
        w, h = as_size(p.size)
        if w != h:
            raise ValueError(f"CGPO needs square images: size must be (s, s), got {p.size}.")
        for f in p.flows:
            check_choice("flows", f, FLOW_METHODS)
        check_choice("flow_mode", p.flow_mode, ("colour", "uvs"))
        check_choice("register", p.register, REGISTER_CHOICES)

    def outputs(self, p):
        shape = frame_shape(p.size, True)
        out = {"ars": (shape, np.uint8), "rrs": (shape, np.uint8), "key_frame": (shape, np.uint8)}
        for f in p.flows:
            out[f"flow_{f}"] = (shape, np.uint8)
        return out

    def process(self, seg, landmarks, p, timer):
        start, end = residual_segment(seg.onset, seg.apex, seg.offset, p.min_length)
        end = min(end, len(seg) - 1)
        keys = key_frames(start, end, p.n_key, p.include_end)
        m = alignment_transform(landmarks, p.size, p.crop, p.margin)
        positions = [start] + keys + ([end] if p.flows else [])
        (al,) = read_aligned(seg, positions, [m], [p.size], True, timer)
        if p.register != "none":
            with timer("register", len(positions) - 1):
                al = register_to_first(al, p.register)
        with timer("residual", len(keys)):
            ars, rrs = residual_sums(al[0], al[1:1 + len(keys)])
            arrays = {"ars": ars, "rrs": rrs,
                      "key_frame": al[len(keys)].copy()}  # the last key frame itself: the raw-frame ablation
        if p.flows:
            fs = int(p.flow_size)
            a = cv2.resize(al[0], (fs, fs), interpolation=cv2.INTER_AREA)
            b = cv2.resize(al[-1], (fs, fs), interpolation=cv2.INTER_AREA)
            w, h = as_size(p.size)
            for method in p.flows:
                with timer(f"flow_{method}", 1):
                    img = flow_image(a, b, method, p.flow_mode)
                    arrays[f"flow_{method}"] = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
        meta = {"segment_start": int(seg.numbers[start]), "segment_end": int(seg.numbers[end]),
                "key_frames": [int(seg.numbers[k]) for k in keys]}
        return arrays, meta
