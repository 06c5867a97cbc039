"""The base of the per-paper preprocessing recipes: :class:`Recipe` (a named, frozen set of parameters and the
per-clip steps), :class:`FaceParams` (the face settings every recipe shares), :class:`StepTimer` and the helpers
the recipes share (:func:`read_aligned`, :func:`frame_shape`, the parameter checks).

Each paper's recipe lives in its folder (``mer_utils/papers/<paper>/recipe.py``); the registry of names
(:data:`mer_utils.papers.RECIPES`, :func:`mer_utils.papers.get_recipe`) sits above the paper folders, and
:func:`mer_utils.preprocess.prepare` runs a recipe over a clip table with caching and a process pool.

Every recipe detects the face and its 68 landmarks once per clip (on the onset frame; ``landmark_frames`` > 1
averages the landmarks of that many frames from the onset) and applies one transform to all frames.
"""
from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .align import as_size, warp_frames
from .clips import ClipSegment, read_positions, reduce_factor, reduced_matrix
from .faces import DETECTORS


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


def check_choice(name: str, value, options) -> None:
    """Raise a ValueError naming the parameter unless ``value`` is one of ``options``."""
    if value not in options:
        raise ValueError(f"Parameter {name}={value!r}: expected one of {tuple(options)}.")


def check_positive(name: str, value) -> None:
    """Raise a ValueError naming the parameter unless ``value`` is an integer >= 1."""
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
        check_choice("detector", p.detector, DETECTORS)
        check_choice("crop", p.crop, ("eyes", "landmarks"))
        check_choice("segment", p.segment, ("onset_offset", "clip"))
        check_positive("landmark_frames", p.landmark_frames)
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


def frame_shape(size, color: bool) -> tuple:
    """``(h, w, 3)`` or ``(h, w)`` for a ``(w, h)`` size."""
    w, h = as_size(size)
    return (h, w, 3) if color else (h, w)


def _scale(m: np.ndarray) -> float:
    return float(np.linalg.svd(np.asarray(m)[:, :2], compute_uv=False).max())


def read_aligned(seg: ClipSegment, positions, transforms: list, sizes: list, color: bool,
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
