"""Zhao et al. 2021's preprocessing recipe (Sec. 3.1): the segment of eq. (1)-(2), key frames of eq. (3)-(4),
ARS (eq. 5) and RRS (eq. 6-7) colour images, and the flow images of the ablation; CGPO is applied later
(:func:`mer_utils.preprocess.cgpo.cgpo`)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...preprocess.align import alignment_transform, as_size
from ...preprocess.flow import METHODS as FLOW_METHODS, flow_image
from ...preprocess.recipe import FaceParams, Recipe, check_choice, check_positive, frame_shape, read_aligned
from ...preprocess.residual import absolute_residual_sum, relative_residual_sum
from ...preprocess.temporal import key_frames, residual_segment


#: How key frames are aligned to the start frame before the residuals (§3.1 "align faces"): ``"none"`` — one
#: landmark crop for the whole clip, so head drift between frames stays in the residuals; ``"euclidean"`` —
#: each later frame additionally registered to the start frame by a rigid (rotation + shift) ECC fit.
REGISTER_CHOICES = ("none", "euclidean")


def register_to_first(frames: np.ndarray, motion: str = "euclidean", iterations: int = 50,
                      eps: float = 1e-4) -> np.ndarray:
    """``frames`` (T, H, W[, 3]) uint8 with frames 1..T-1 warped onto frame 0 by a rigid ECC fit (OpenCV's
    ``findTransformECC``, on grey, slightly blurred copies); a frame whose fit fails is kept as it is.

    Removes the rigid head drift the one-transform-per-clip crop leaves between the start and the key frames,
    so the residual sums (eq. 5-7) keep the non-rigid facial motion rather than edges of a shifted face.
    """
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4) or frames.dtype != np.uint8:
        raise ValueError(f"register_to_first: expected uint8 frames (T, H, W[, 3]), got {frames.dtype} {frames.shape}.")
    check_choice("register", motion, REGISTER_CHOICES[1:])

    def grey(x):
        g = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) if x.ndim == 3 else x
        return cv2.GaussianBlur(g, (5, 5), 1.0).astype(np.float32)

    ref = grey(frames[0])
    h, w = ref.shape
    out = frames.copy()
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, eps)
    for i in range(1, len(frames)):
        warp = np.eye(2, 3, dtype=np.float32)
        try:
            _, warp = cv2.findTransformECC(ref, grey(frames[i]), warp, cv2.MOTION_EUCLIDEAN, criteria, None, 1)
        except cv2.error:
            continue
        out[i] = cv2.warpAffine(frames[i], warp, (w, h), flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
    return out


@dataclass(frozen=True)
class Zhao2021Params(FaceParams):
    """Zhao et al. 2021 (003, Sec. 3.1): segment of eq. (1)-(2) (at least ``min_length`` frames), ``n_key`` key
    frames of eq. (3)-(4), ARS (eq. 5) and RRS (eq. 6-7) colour images at 320x320 (the CGPO input); ``flows``:
    flow images of the ablation (onset -> segment end), computed at ``flow_size`` and resized."""

    size: tuple = (320, 320)
    n_key: int = 5
    min_length: int = 10
    include_end: bool = False
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
            arrays = {"ars": absolute_residual_sum(al[0], al[1:1 + len(keys)]),
                      "rrs": relative_residual_sum(al[0], al[1:1 + len(keys)]),
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
