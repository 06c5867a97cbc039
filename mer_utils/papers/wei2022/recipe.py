"""Wei et al. 2022's preprocessing recipe (Sec. 2.1 and 3.1): whole clip aligned, TIM, n frames each magnified
against the onset with factors 1..k (Eulerian, or Oh et al.'s network from a checkpoint)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...preprocess.align import alignment_transform, as_size
from ...preprocess.magnify import MAGNIFIERS, load_magnification_network
from ...preprocess.recipe import FaceParams, Recipe, check_choice, check_positive, frame_shape, magnify_frames, \
    read_aligned, tim_frames


@dataclass(frozen=True)
class Wei2022Params(FaceParams):
    """Wei et al. 2022 (004, Sec. 2.1 and 3.1): landmarks on the onset frame, whole clip aligned, 224x224, TIM to
    ``tim_length`` frames, ``n_frames`` frames taken from ``first`` every ``interval`` frames, each magnified
    against the onset with factors 1..k (``factors`` overrides). ``magnifier``: ``"eulerian"`` (two-frame
    linear Eulerian, default) or ``"oh2018"`` with ``magnifier_checkpoint`` (a state dict path)."""

    crop: str = "eyes"
    size: tuple = (224, 224)
    tim_length: int = 20
    n_frames: int = 11
    first: int = 0
    interval: int = 1
    k: int = 9
    factors: tuple | None = None
    magnifier: str = "eulerian"
    magnifier_checkpoint: str | None = None


_NETWORKS: dict = {}


def _network(path):
    if path not in _NETWORKS:
        _NETWORKS[path] = load_magnification_network(path, device="cpu")
    return _NETWORKS[path]


class Wei2022(Recipe):
    name = "wei2022"
    paper = "Wei et al. 2022, Attention-based Magnification-Adaptive Networks (004)"
    params_class = Wei2022Params
    profiles = {"ci": {"n_frames": 2, "k": 2, "size": (112, 112)}, "quick": {"n_frames": 4, "k": 3}, "full": {}}

    def _validate(self, p):
        super()._validate(p)
        for name in ("tim_length", "n_frames", "interval", "k"):
            check_positive(name, getattr(p, name))
        check_choice("magnifier", p.magnifier, MAGNIFIERS)
        if p.magnifier == "oh2018" and not p.magnifier_checkpoint:
            raise ValueError("magnifier='oh2018' needs magnifier_checkpoint='path/to/magnet.pth' (a state dict of "
                             "Oh et al.'s network); no weights can be downloaded here. Use magnifier='eulerian' "
                             "otherwise.")
        if p.first < 0 or p.first >= p.tim_length:
            raise ValueError(f"Parameter first={p.first}: expected 0 <= first < tim_length={p.tim_length}.")
        last = p.first + (p.n_frames - 1) * p.interval
        if last >= p.tim_length:  # frame_indices would repeat the last TIM frame: n frames that are not n frames
            raise ValueError(f"n_frames={p.n_frames} frames every interval={p.interval} from first={p.first} reach TIM "
                             f"position {last}, past the {p.tim_length} frames of tim_length={p.tim_length}: expected "
                             f"first + (n_frames - 1) x interval <= {p.tim_length - 1}. Lower n_frames (notebook 50: "
                             "N_FRAMES and the largest of N_GRID) or interval, or raise tim_length.")
        w, h = as_size(p.size)
        if p.magnifier == "oh2018" and (w % 4 or h % 4):
            raise ValueError(f"Oh et al.'s network needs sides divisible by 4, got size {p.size}.")

    def factors(self, p) -> tuple:
        """The magnification factors (1..k unless ``factors`` is given)."""
        return tuple(float(f) for f in p.factors) if p.factors else tuple(float(i) for i in range(1, p.k + 1))

    def frame_indices(self, p) -> list[int]:
        """Positions in the TIM sequence of the n selected frames."""
        return [min(p.first + j * p.interval, p.tim_length - 1) for j in range(p.n_frames)]

    def outputs(self, p):
        return {"magnified": ((p.n_frames, len(self.factors(p))) + frame_shape(p.size, True), np.uint8)}

    def process(self, seg, landmarks, p, timer):
        m = alignment_transform(landmarks, p.size, p.crop, p.margin)
        (faces,) = read_aligned(seg, range(len(seg)), [m], [p.size], True, timer)
        with timer("temporal", p.tim_length):
            tim = tim_frames(faces, p.tim_length)
        sel = self.frame_indices(p)
        factors = self.factors(p)
        with timer("magnify", len(sel) * len(factors)):
            net = _network(p.magnifier_checkpoint) if p.magnifier == "oh2018" else None
            mag = magnify_frames(tim[0], tim[sel], factors, method=p.magnifier, network=net)
        return {"magnified": mag}, {"n_source_frames": len(seg), "tim_frames": sel}
