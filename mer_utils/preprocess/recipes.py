"""One recipe per paper: the parameters and the per-clip steps that produce exactly what that paper's model
consumes. :func:`mer_utils.preprocess.prepare` runs a recipe over a clip table with caching and a process pool.

=============  ======================================================================  ===========================
recipe         arrays per clip (uint8; T = frames)                                     paper
=============  ======================================================================  ===========================
``she2020``    ``face`` (T=64, 140, 120, 3); views ``left_eye``/``right_eye`` (T, 50,    She et al. 2020 (000)
               60, 3), ``mouth`` (T, 40, 80, 3) cut from the 12x14 grid of 10-px cells
``peng2018``   ``apex`` (224, 224) grey (or (224, 224, 3) with ``color=True``)         Peng et al. 2018 (001)
``reddy2019``  ``face`` (T, 64, 64), ``eyes`` (T, 32, 32), ``nose_mouth`` (T, 32, 32)  Reddy et al. 2019 (002)
               grey; T = 18 (SMIC) or 96 (CAS(ME)²); time is the first axis
``zhao2021``   ``ars``, ``rrs`` (320, 320, 3); ``flow_farneback``, ``flow_tvl1``         Zhao et al. 2021 (003)
               (320, 320, 3) flow images; CGPO is applied later (:func:`~.cgpo.cgpo`)
``wei2022``    ``magnified`` (n=11, k=9, 224, 224, 3): n TIM frames x factors 1..k      Wei et al. 2022 (004)
=============  ======================================================================  ===========================

Every recipe detects the face and its 68 landmarks once per clip (on the onset frame; ``landmark_frames`` > 1
averages the landmarks of that many frames from the onset) and applies one transform to all frames.
"""
from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Mapping

import cv2
import numpy as np

from .align import alignment_transform, as_size, box_transform, transform_points, warp_frames
from .clips import ClipSegment, read_positions, reduce_factor, reduced_matrix, spotted_apex
from .faces import DETECTORS
from .flow import METHODS as FLOW_METHODS, flow_image
from .magnify import MAGNIFIERS, magnify_against_onset
from .residual import absolute_residual_sum, relative_residual_sum
from .roi import SHE_FACE_SIZE, reddy_roi_box, she_rois
from .temporal import fixed_window, key_frames, resample_uniform, residual_segment, temporal_interpolate, \
    uniform_indices


class StepTimer:
    """Seconds and frame counts per named step (summed), for the benchmark and the report."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.frames: dict[str, int] = {}

    @contextmanager
    def __call__(self, step: str, frames: int = 1):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - t0
            self.frames[step] = self.frames.get(step, 0) + int(frames)


# ---------------------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class FaceParams:
    """Shared face settings: detector (``"haar"`` | ``"hog"``), crop (``"eyes"`` | ``"landmarks"``), margin
    around the landmark box, frames averaged for the landmarks, and the clip segment used."""

    detector: str = "hog"
    crop: str = "landmarks"
    margin: float = 0.05
    landmark_frames: int = 1
    segment: str = "onset_offset"


@dataclass(frozen=True)
class She2020Params(FaceParams):
    """She et al. 2020 (000, Sec. III-A): Haar detection, landmark crop, TIM to 64 frames, 120x140 faces."""

    detector: str = "haar"
    size: tuple = SHE_FACE_SIZE
    n_frames: int = 64
    temporal: str = "tim"  # "tim" | "uniform"
    color: bool = True


@dataclass(frozen=True)
class Peng2018Params(FaceParams):
    """Peng et al. 2018 (001, Sec. III-B): the apex frame, face cropped by landmarks, 224x224 (use 240 for the
    CDE task's random 224 corner crops), grey as in the group's related code (REFERENCE.md §3)."""

    size: tuple = (224, 224)
    color: bool = False
    apex: str = "annotated"  # "annotated" (middle when missing) | "middle" | "spotted"
    crop: str = "eyes"


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


def _choice(name: str, value, options) -> None:
    if value not in options:
        raise ValueError(f"Parameter {name}={value!r}: expected one of {tuple(options)}.")


def _positive(name: str, value) -> None:
    if value is None or int(value) < 1:
        raise ValueError(f"Parameter {name}={value!r}: expected an integer >= 1.")


# ----------------------------------------------------------------------------------------- recipes
class Recipe:
    """Base class: a named set of parameters (a frozen dataclass) and the per-clip steps."""

    name = ""
    paper = ""
    #: Bumped whenever the recipe's steps change their output; part of the cache key.
    version = "1"
    params_class: type = FaceParams
    #: Suggested parameter overrides for the notebooks' profiles (``full`` = the paper's settings).
    profiles: dict = {"ci": {}, "quick": {}, "full": {}}

    # ------------------------------------------------------------------ parameters
    def params(self, params: Any = None, profile: str | None = None, table=None, **overrides) -> Any:
        """The resolved parameters: defaults, then ``profile`` suggestions, then ``params`` (a dict or a params
        object), then keyword ``overrides``; dataset-dependent defaults filled from ``table``; validated."""
        values = {f.name: getattr(self.params_class(), f.name) for f in dataclasses.fields(self.params_class)}
        if profile is not None:
            if profile not in self.profiles:
                raise ValueError(f"Unknown profile {profile!r}: expected one of {sorted(self.profiles)}.")
            values.update(self.profiles[profile])
        if params is not None:
            if dataclasses.is_dataclass(params):
                params = dataclasses.asdict(params)
            if not isinstance(params, Mapping):
                raise TypeError(f"params must be a dict or a {self.params_class.__name__}, got {type(params).__name__}.")
            values.update(params)
        values.update(overrides)
        known = {f.name for f in dataclasses.fields(self.params_class)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown parameter(s) {unknown} for recipe {self.name!r}; it takes {sorted(known)}.")
        for k, v in list(values.items()):
            if isinstance(v, list):
                values[k] = tuple(v)
        values = self._fill(values, table)
        p = self.params_class(**values)
        self._validate(p)
        return p

    def _fill(self, values: dict, table) -> dict:
        return values

    def _validate(self, p) -> None:
        _choice("detector", p.detector, DETECTORS)
        _choice("crop", p.crop, ("eyes", "landmarks"))
        _choice("segment", p.segment, ("onset_offset", "clip"))
        _positive("landmark_frames", p.landmark_frames)
        if not 0 <= p.margin < 0.5:
            raise ValueError(f"Parameter margin={p.margin}: expected a fraction in [0, 0.5).")
        if hasattr(p, "size"):
            as_size(p.size)

    # ------------------------------------------------------------------ outputs
    def outputs(self, p) -> dict[str, tuple[tuple, Any]]:
        """Name -> (shape per clip, dtype) of the arrays one clip produces."""
        raise NotImplementedError

    def views(self, arrays: dict, p) -> dict:
        """Extra arrays that are views of the stored ones (no copy)."""
        return {}

    def process(self, seg: ClipSegment, landmarks: np.ndarray, p, timer: StepTimer) -> tuple[dict, dict]:
        """Arrays and metadata (JSON-able) for one clip."""
        raise NotImplementedError

    def describe(self, p=None) -> str:
        """One paragraph: the paper, the parameters and the output shapes."""
        p = p or self.params()
        shapes = ", ".join(f"{k} {s} {np.dtype(d).name}" for k, (s, d) in self.outputs(p).items())
        return f"{self.name} ({self.paper}): {shapes}"

    def __repr__(self) -> str:
        return f"<recipe {self.name}: {self.paper}>"


def _frame_shape(size, color: bool) -> tuple:
    w, h = as_size(size)
    return (h, w, 3) if color else (h, w)


def _scale(m: np.ndarray) -> float:
    return float(np.linalg.svd(np.asarray(m)[:, :2], compute_uv=False).max())


def _read_aligned(seg: ClipSegment, positions, transforms: list, sizes: list, color: bool,
                  timer: StepTimer) -> list[np.ndarray]:
    """Decode ``positions`` once (JPEG-reduced when every transform shrinks enough) and warp them with each
    transform to its size."""
    positions = list(positions)
    r = reduce_factor(max(_scale(m) for m in transforms), str(seg.paths[0]))
    with timer("read", len(positions)):
        frames = read_positions(seg, positions, color=color, reduce=r)
    out = []
    with timer("align", len(positions) * len(transforms)):
        for m, s in zip(transforms, sizes):
            out.append(warp_frames(frames, reduced_matrix(m, r), s))
    return out


class She2020(Recipe):
    name = "she2020"
    paper = "She et al. 2020, Multiple Aggregation Networks (000)"
    params_class = She2020Params
    profiles = {"ci": {"n_frames": 8}, "quick": {"n_frames": 16}, "full": {}}

    def _validate(self, p):
        super()._validate(p)
        _choice("temporal", p.temporal, ("tim", "uniform"))
        _positive("n_frames", p.n_frames)
        if as_size(p.size) != SHE_FACE_SIZE:
            raise ValueError(f"She et al.'s RoI grid needs 120x140 faces: size must be (120, 140), got {p.size}.")

    def outputs(self, p):
        return {"face": ((p.n_frames,) + _frame_shape(p.size, p.color), np.uint8)}

    def views(self, arrays, p):
        return she_rois(arrays["face"])

    def process(self, seg, landmarks, p, timer):
        m = alignment_transform(landmarks, p.size, p.crop, p.margin)
        (faces,) = _read_aligned(seg, range(len(seg)), [m], [p.size], p.color, timer)
        with timer("temporal", p.n_frames):
            if p.temporal == "tim":
                out = temporal_interpolate(faces, p.n_frames, dtype=np.uint8)
            else:
                out = resample_uniform(faces, p.n_frames)
        return {"face": out}, {"n_source_frames": len(seg)}


class Peng2018(Recipe):
    name = "peng2018"
    paper = "Peng et al. 2018, From Macro to Micro Expression Recognition (001)"
    params_class = Peng2018Params
    profiles = {"ci": {"size": (64, 64)}, "quick": {"size": (112, 112)}, "full": {}}

    def _validate(self, p):
        super()._validate(p)
        _choice("apex", p.apex, ("annotated", "middle", "spotted"))

    def outputs(self, p):
        return {"apex": (_frame_shape(p.size, p.color), np.uint8)}

    def process(self, seg, landmarks, p, timer):
        if p.apex == "annotated":
            pos, source = seg.apex, seg.apex_source
        elif p.apex == "middle":
            pos, source = (seg.onset + seg.offset) // 2, "middle"
        else:
            with timer("apex", seg.offset - seg.onset + 1):
                pos, source = spotted_apex(seg), "spotted"
        m = alignment_transform(landmarks, p.size, p.crop, p.margin)
        (img,) = _read_aligned(seg, [pos], [m], [p.size], p.color, timer)
        return {"apex": img[0]}, {"apex_position": int(pos), "apex_frame": int(seg.numbers[pos]),
                                  "apex_source": source}


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
        _choice("temporal", p.temporal, ("fixed", "uniform", "tim"))
        _positive("n_frames", p.n_frames)
        if p.frame_start < 0:
            raise ValueError(f"Parameter frame_start={p.frame_start}: expected >= 0.")
        as_size(p.roi_size)

    def outputs(self, p):
        face = (p.n_frames,) + _frame_shape(p.size, False)
        roi = (p.n_frames,) + _frame_shape(p.roi_size, False)
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
        out = _read_aligned(seg, positions, [m_face, m_eyes, m_mouth], [p.size, p.roi_size, p.roi_size], False,
                            timer)
        if p.temporal == "tim":
            with timer("temporal", 3 * p.n_frames):
                out = [temporal_interpolate(x, p.n_frames, dtype=np.uint8) for x in out]
        meta = {"n_source_frames": n, "short_clip": bool(short)}
        return dict(zip(("face", "eyes", "nose_mouth"), out)), meta


class Zhao2021(Recipe):
    name = "zhao2021"
    paper = "Zhao et al. 2021, Pixel Residual Sum and Cropped Gaussian Pyramid (003)"
    params_class = Zhao2021Params
    profiles = {"ci": {"size": (96, 96), "flows": ("farneback",)}, "quick": {"size": (160, 160)}, "full": {}}

    def _validate(self, p):
        super()._validate(p)
        _positive("n_key", p.n_key)
        _positive("flow_size", p.flow_size)
        w, h = as_size(p.size)
        if w != h:
            raise ValueError(f"CGPO needs square images: size must be (s, s), got {p.size}.")
        for f in p.flows:
            _choice("flows", f, FLOW_METHODS)
        _choice("flow_mode", p.flow_mode, ("colour", "uvs"))

    def outputs(self, p):
        shape = _frame_shape(p.size, True)
        out = {"ars": (shape, np.uint8), "rrs": (shape, np.uint8)}
        for f in p.flows:
            out[f"flow_{f}"] = (shape, np.uint8)
        return out

    def process(self, seg, landmarks, p, timer):
        start, end = residual_segment(seg.onset, seg.apex, seg.offset, p.min_length)
        end = min(end, len(seg) - 1)
        keys = key_frames(start, end, p.n_key, p.include_end)
        m = alignment_transform(landmarks, p.size, p.crop, p.margin)
        positions = [start] + keys + ([end] if p.flows else [])
        (al,) = _read_aligned(seg, positions, [m], [p.size], True, timer)
        with timer("residual", len(keys)):
            arrays = {"ars": absolute_residual_sum(al[0], al[1:1 + len(keys)]),
                      "rrs": relative_residual_sum(al[0], al[1:1 + len(keys)])}
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


_NETWORKS: dict = {}


def _network(path):
    if path not in _NETWORKS:
        from .magnify import load_magnification_network

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
            _positive(name, getattr(p, name))
        _choice("magnifier", p.magnifier, MAGNIFIERS)
        if p.magnifier == "oh2018" and not p.magnifier_checkpoint:
            raise ValueError("magnifier='oh2018' needs magnifier_checkpoint='path/to/magnet.pth' (a state dict of "
                             "Oh et al.'s network); no weights can be downloaded here. Use magnifier='eulerian' "
                             "otherwise.")
        if p.first < 0 or p.first >= p.tim_length:
            raise ValueError(f"Parameter first={p.first}: expected 0 <= first < tim_length={p.tim_length}.")
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
        return {"magnified": ((p.n_frames, len(self.factors(p))) + _frame_shape(p.size, True), np.uint8)}

    def process(self, seg, landmarks, p, timer):
        m = alignment_transform(landmarks, p.size, p.crop, p.margin)
        (faces,) = _read_aligned(seg, range(len(seg)), [m], [p.size], True, timer)
        with timer("temporal", p.tim_length):
            tim = temporal_interpolate(faces, p.tim_length, dtype=np.uint8)
        sel = self.frame_indices(p)
        factors = self.factors(p)
        with timer("magnify", len(sel) * len(factors)):
            net = _network(p.magnifier_checkpoint) if p.magnifier == "oh2018" else None
            mag = magnify_against_onset(tim[0], tim[sel], factors, method=p.magnifier, network=net)
        return {"magnified": mag}, {"n_source_frames": len(seg), "tim_frames": sel}


RECIPES: dict[str, Recipe] = {r.name: r for r in (She2020(), Peng2018(), Reddy2019(), Zhao2021(), Wei2022())}


def get_recipe(recipe) -> Recipe:
    """The recipe object for a name (``she2020``, ``peng2018``, ``reddy2019``, ``zhao2021``, ``wei2022``)."""
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe {recipe!r}: expected one of {sorted(RECIPES)}.")
    return RECIPES[recipe]


def recipe_params(recipe, profile: str | None = None, table=None, **overrides):
    """Resolved parameters of a recipe (defaults < profile suggestions < overrides)."""
    return get_recipe(recipe).params(None, profile=profile, table=table, **overrides)


def settings_table(profile: str, recipes=None, table=None):
    """Paper settings (``full`` profile) beside the settings of ``profile``, one row per recipe and parameter
    that matters for the arrays (a DataFrame: recipe, parameter, paper, this run, same)."""
    import pandas as pd

    rows = []
    for name in recipes or RECIPES:
        rec = get_recipe(name)
        paper = dataclasses.asdict(rec.params(profile="full", table=table))
        run = dataclasses.asdict(rec.params(profile=profile, table=table))
        for k in paper:
            rows.append({"recipe": name, "parameter": k, "paper": repr(paper[k]), "this run": repr(run[k]),
                         "same": paper[k] == run[k]})
    return pd.DataFrame(rows)
