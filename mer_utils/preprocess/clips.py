"""From a clip-table row to the frames a recipe needs: the onset..offset segment, frame positions, the apex,
and fast decoding of only the frames that are used.

Frame selection (numbers, paths, a missing frame filled with its nearest earlier one) is the loaders'
:func:`mer_utils.data.frames.select_frames`; decoding here adds JPEG *reduced* decoding
(``cv2.IMREAD_REDUCED_*``): when the aligned face is several times smaller than the frame (a 64x64 face from a
640x480 frame), the JPEG is decoded at 1/2, 1/4 or 1/8 size directly, which is several times faster than decoding
the full frame and shrinking it. Every position is relative to the segment (0 = its first frame).
"""
from __future__ import annotations

import math
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import cv2
import numpy as np

SEGMENTS = ("onset_offset", "clip")


def _get(row, key, default=None):
    try:
        return row[key]
    except (KeyError, TypeError, IndexError):
        return getattr(row, key, default)


def _number(value) -> int | None:
    """An annotated frame number, or None when missing (None, NaN, blank, '/', non-positive)."""
    if value is None or isinstance(value, (list, tuple, dict)):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(f) or f <= 0:
        return None
    return int(round(f))


def clip_name(row) -> str:
    return str(_get(row, "clip_uid") or _get(row, "clip") or "<clip>")


@dataclass
class ClipSegment:
    """The frames of one clip between its onset and offset, with the annotated positions inside it.

    ``numbers`` / ``paths``: the segment's frame numbers and files (uniform: a missing frame reuses a neighbour);
    ``onset``, ``apex``, ``offset``: positions (0-based) in the segment; ``apex_source``: ``"annotated"``,
    ``"middle"`` or ``"spotted"``; ``clip_start``: the position of the segment's first frame in the whole clip.
    """

    name: str
    numbers: np.ndarray
    paths: list
    onset: int
    apex: int
    offset: int
    apex_source: str = "annotated"
    notes: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)


def select(row, start=None, stop=None):
    """Frame numbers and paths of ``row`` between frame numbers ``start`` and ``stop`` (inclusive), and notes:
    the loaders' warnings (e.g. a missing frame filled with its neighbour) kept as text instead of printed once
    per recipe and worker (the loaders already reported them when the table was built)."""
    try:
        from mer_utils.data.frames import select_frames
    except ImportError:  # pragma: no cover - the loaders' module is part of the package
        select_frames = None
    if select_frames is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            numbers, paths = select_frames(row, start, stop, fill_missing=True)
        notes = [str(w.message) for w in caught]
        return np.asarray(numbers, dtype=np.int64), list(paths), notes
    numbers = np.asarray(_get(row, "frame_numbers") or [], dtype=np.int64)
    paths = list(_get(row, "frame_paths") or [])
    if len(numbers) == 0:
        raise ValueError(f"Clip {clip_name(row)} has no frames; expected 'frame_numbers' and 'frame_paths'.")
    lo = numbers[0] if start is None else start
    hi = numbers[-1] if stop is None else stop
    keep = np.flatnonzero((numbers >= lo) & (numbers <= hi))
    return numbers[keep], [paths[i] for i in keep], []


def clip_segment(row, segment: str = "onset_offset") -> ClipSegment:
    """The segment of a clip-table row a recipe works on.

    ``segment="onset_offset"``: frames onset..offset (the first / last frame on disk when the onset / offset is
    not annotated or the offset precedes the onset); ``"clip"``: every frame of the clip. The apex position is
    the annotated apex when it lies inside the segment, else the middle frame (``apex_source="middle"``).
    """
    if segment not in SEGMENTS:
        raise ValueError(f"Unknown segment {segment!r}: expected one of {SEGMENTS}.")
    onset, apex, offset = (_number(_get(row, k)) for k in ("onset", "apex", "offset"))
    notes = []
    if segment == "clip":
        numbers, paths, notes = select(row)
    else:
        stop = offset if (offset is not None and (onset is None or offset >= onset)) else None
        if offset is not None and stop is None:
            notes.append(f"offset {offset} precedes onset {onset}: segment runs to the last frame")
        numbers, paths, found = select(row, onset, stop)
        notes.extend(found)
    n = len(paths)

    def pos(number, default):
        if number is None:
            return default
        i = int(np.searchsorted(numbers, number))
        return min(max(i, 0), n - 1)

    on = pos(onset, 0)
    off = pos(offset, n - 1) if offset is not None and (onset is None or offset >= onset) else n - 1
    estimated = bool(_get(row, "apex_estimated", False) or False)
    if apex is not None and numbers[0] <= apex <= numbers[-1] and not estimated:
        ap, source = pos(apex, None), "annotated"
    else:
        ap, source = (on + off) // 2, "middle"
        if apex is not None and not estimated:
            notes.append(f"apex {apex} outside the segment {numbers[0]}..{numbers[-1]}: middle frame used")
    return ClipSegment(clip_name(row), numbers, paths, on, ap, off, source, notes)


def reduce_factor(scale: float, path: str | None = None) -> int:
    """Largest JPEG reduction (1, 2, 4, 8) that still leaves the frame at least twice the output resolution,
    for a warp that scales the full frame by ``scale``. Non-JPEG files are decoded at full size."""
    if path is not None and not path.lower().endswith((".jpg", ".jpeg")):
        return 1
    r = 1
    while r < 8 and scale * (2 * r) <= 0.5:
        r *= 2
    return r


_FLAGS = {(True, 1): cv2.IMREAD_COLOR, (True, 2): cv2.IMREAD_REDUCED_COLOR_2, (True, 4): cv2.IMREAD_REDUCED_COLOR_4,
          (True, 8): cv2.IMREAD_REDUCED_COLOR_8, (False, 1): cv2.IMREAD_GRAYSCALE,
          (False, 2): cv2.IMREAD_REDUCED_GRAYSCALE_2, (False, 4): cv2.IMREAD_REDUCED_GRAYSCALE_4,
          (False, 8): cv2.IMREAD_REDUCED_GRAYSCALE_8}


#: Frames decoded inside :func:`shared_decoding`, keyed by (path, colour, reduction); None outside such a block.
_SHARED: dict | None = None


@contextmanager
def shared_decoding():
    """Within this block every frame file is decoded at most once per (colour, JPEG reduction): the recipes that
    :func:`mer_utils.preprocess.prepare_many` runs on one clip share its decoded frames (the same pixels each
    would decode alone, so their outputs do not change). Hold it around one clip at a time: the decoded frames are
    kept until the block ends. Nested blocks share the outer one's frames."""
    global _SHARED
    outer = _SHARED
    if outer is None:
        _SHARED = {}
    try:
        yield
    finally:
        if outer is None:
            _SHARED = None


def decoding_memo() -> dict:
    """The frames decoded inside the current :func:`shared_decoding` block (a dict another reader, e.g. the
    tensor path of the recipes, may add its own decoded frames to, under keys of its own); outside a block a
    fresh empty dict, so nothing is kept."""
    return _SHARED if _SHARED is not None else {}


def decode(path: str, color: bool = True, reduce: int = 1, clip: str | None = None) -> np.ndarray:
    """One frame as uint8 RGB (H, W, 3) or grey (H, W), JPEG-decoded at 1/``reduce`` size (inside
    :func:`shared_decoding`: decoded once and returned read-only afterwards)."""
    if _SHARED is not None:
        key = (os.fspath(path), bool(color), int(reduce))
        img = _SHARED.get(key)
        if img is None:
            img = _SHARED[key] = _decode(path, color, reduce, clip)
            img.flags.writeable = False
        return img
    return _decode(path, color, reduce, clip)


def _decode(path: str, color: bool, reduce: int, clip: str | None) -> np.ndarray:
    from mer_utils.data.frames import CorruptFrameError, check_image_file

    check_image_file(path, clip)  # empty / truncated files: an error naming them, never a half-grey frame
    img = cv2.imread(os.fspath(path), _FLAGS[(bool(color), int(reduce))])
    if img is None:
        where = f" (clip {clip})" if clip else ""
        raise CorruptFrameError(f"Frame {path}{where} cannot be decoded (damaged or not an image); expected a "
                                "readable JPEG / BMP / PNG image. Re-copy the file from the dataset archive.")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if color else img


def read_positions(seg: ClipSegment, positions, color: bool = True, reduce: int = 1) -> np.ndarray:
    """Frames at ``positions`` of the segment, (len(positions), H, W[, 3]); each distinct file decoded once."""
    positions = [int(p) for p in np.atleast_1d(positions)]
    bad = [p for p in positions if not 0 <= p < len(seg)]
    if bad:
        raise IndexError(f"Clip {seg.name}: positions {bad} outside its {len(seg)}-frame segment.")
    done: dict[str, np.ndarray] = {}
    out = []
    for p in positions:
        path = seg.paths[p]
        if path not in done:
            done[path] = decode(path, color, reduce, seg.name)
        out.append(done[path])
    shapes = {f.shape for f in out}
    if len(shapes) > 1:
        raise ValueError(f"Clip {seg.name}: frames have different sizes {sorted(shapes)}.")
    return np.stack(out)


def reduced_matrix(matrix: np.ndarray, reduce: int) -> np.ndarray:
    """A 2x3 transform of full-size frame pixels adjusted for frames decoded at 1/``reduce`` size."""
    if reduce == 1:
        return np.asarray(matrix, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64).copy()
    # reduced pixel centre x_r maps back to x = (x_r + 0.5) * reduce - 0.5
    m[:, 2] = m[:, 2] + m[:, :2] @ np.array([0.5 * reduce - 0.5] * 2)
    m[:, :2] = m[:, :2] * reduce
    return m


def spotted_apex(seg: ClipSegment, size: int = 64) -> int:
    """Apex position from frame differences to the onset (:func:`mer_utils.preprocess.temporal.spot_apex`) on
    small grey frames of the segment."""
    from .temporal import spot_apex

    reduce = 4 if str(seg.paths[0]).lower().endswith((".jpg", ".jpeg")) else 1
    frames = read_positions(seg, range(seg.onset, seg.offset + 1), color=False, reduce=reduce)
    small = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])
    return seg.onset + spot_apex(small)
