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

from . import clips as _clips
from . import residual as _residual
from .align import as_size, warp_frames
from .clips import ClipSegment, read_positions, reduce_factor, reduced_matrix
from .faces import DETECTORS
from .magnify import magnify_against_onset
from .temporal import temporal_interpolate

#: The torch device of the tensor path while :func:`tensor_path` is active (set per clip by ``prepare``), else
#: None: the OpenCV / NumPy reference functions.
_TENSOR_DEVICE = None


@contextmanager
def tensor_path(device):
    """Run the shared steps below (:func:`read_aligned`, :func:`tim_frames`, :func:`magnify_frames`,
    :func:`residual_sums`) with :mod:`~mer_utils.preprocess.tensor_ops` on ``device`` (a torch device or name;
    None: the reference path)."""
    global _TENSOR_DEVICE
    saved = _TENSOR_DEVICE
    _TENSOR_DEVICE = device
    try:
        yield
    finally:
        _TENSOR_DEVICE = saved


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
    transform to its size. On the tensor path: full frames decoded in one batch on the device (shared by the
    recipes of a clip inside :func:`~mer_utils.preprocess.clips.shared_decoding`), warped there."""
    positions = list(positions)
    if _TENSOR_DEVICE is not None:
        return _read_aligned_tensor(seg, positions, transforms, sizes, color, timer)
    r = reduce_factor(max(_scale(m) for m in transforms), str(seg.paths[0]))
    with timer("read", len(positions)):
        frames = read_positions(seg, positions, color=color, reduce=r)
    out = []
    with timer("align", len(positions) * len(transforms)):
        for m, s in zip(transforms, sizes):
            out.append(warp_frames(frames, reduced_matrix(m, r), s))
    return out


def _read_aligned_tensor(seg, positions, transforms, sizes, color, timer):
    import torch

    from .tensor_ops import decode_frames, warp_frames_tensor

    dev = _TENSOR_DEVICE
    memo = _clips.decoding_memo()
    paths = [str(seg.paths[p]) for p in positions]
    with timer("read", len(positions)):
        missing = list(dict.fromkeys(p for p in paths if (p, color, "tensor") not in memo))
        if missing:
            for p, img in zip(missing, decode_frames(missing, dev, color=color, clip=seg.name)):
                memo[(p, color, "tensor")] = img
        frames = torch.stack([memo[(p, color, "tensor")] for p in paths])
    out = []
    with timer("align", len(positions) * len(transforms)):
        for m, s in zip(transforms, sizes):
            out.append(warp_frames_tensor(frames, m, s).cpu().numpy())
    return out


def _on_device(x):
    import torch

    return torch.from_numpy(np.ascontiguousarray(x)).to(_TENSOR_DEVICE)


def tim_frames(frames: np.ndarray, n_out: int) -> np.ndarray:
    """TIM of uint8 frames to ``n_out`` frames, uint8 (:func:`~mer_utils.preprocess.temporal.temporal_interpolate`,
    or its tensor version on the tensor path)."""
    if _TENSOR_DEVICE is None:
        return temporal_interpolate(frames, n_out, dtype=np.uint8)
    from .tensor_ops import temporal_interpolate_tensor

    return temporal_interpolate_tensor(_on_device(frames), n_out).cpu().numpy()


def magnify_frames(onset: np.ndarray, frames: np.ndarray, factors, method: str = "eulerian", network=None) -> np.ndarray:
    """AMAN's stack (:func:`~mer_utils.preprocess.magnify.magnify_against_onset`); the Eulerian magnifier as
    tensor operations on the tensor path (Oh et al.'s network runs where it was loaded)."""
    if _TENSOR_DEVICE is None or method != "eulerian":
        return magnify_against_onset(onset, frames, factors, method=method, network=network)
    from .tensor_ops import magnify_pair_tensor

    return magnify_pair_tensor(_on_device(onset), _on_device(frames), factors).cpu().numpy()


def residual_sums(start_frame: np.ndarray, key_frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zhao et al. 2021's ARS and RRS images (eq. 5-7) of a start frame and its key frames (uint8 each), from one
    residual sum: :func:`~.residual.residual_sums`, or :func:`~.tensor_ops.residual_sums_tensor` on the tensor
    path."""
    if _TENSOR_DEVICE is None:
        return _residual.residual_sums(start_frame, key_frames)
    from .tensor_ops import residual_sums_tensor

    ars, rrs = residual_sums_tensor(_on_device(start_frame), _on_device(key_frames))
    return ars.cpu().numpy(), rrs.cpu().numpy()
