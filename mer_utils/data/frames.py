"""Frames on disk: listing a clip folder once, and loading frames lazily as arrays, a :class:`Clip` or a tensor.

A clip table (see :mod:`mer_utils.data.loaders`) stores only frame *paths* (no image is decoded when a table is
built); :func:`load_frames` decodes what a caller asks for::

    frames = load_frames(table.iloc[0], color=False, size=(112, 112), start=row.onset, stop=row.apex)

Frame files are ordered by the **number** in their name (``img100`` after ``img46``; REFERENCE.md §1). A frame
missing inside the requested range is filled with its nearest earlier frame (so the time axis stays uniform)
and reported once per clip with a :class:`~mer_utils.data.naming.DataWarning`.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .naming import DataWarning, frame_number, is_missing

#: File extensions treated as frames.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".bmp", ".png", ".tif", ".tiff")

_REPORTED: set[tuple] = set()


def scan_frames(folder: str | os.PathLike) -> tuple[list[int], list[str]]:
    """Frame numbers and paths of the images in ``folder``, sorted by frame number (one directory listing).

    Image files without a number in their name are skipped with a warning; two files with the same number
    (``img1.jpg`` and ``img1.bmp``) keep the first in name order, also reported.
    """
    found: dict[int, str] = {}
    unnumbered, duplicates = [], []
    try:
        entries = sorted((e.name for e in os.scandir(folder) if e.is_file()))
    except FileNotFoundError:
        return [], []
    for name in entries:
        if not name.lower().endswith(IMAGE_EXTENSIONS):
            continue
        number = frame_number(name)
        if number is None:
            unnumbered.append(name)
        elif number in found:
            duplicates.append(name)
        else:
            found[number] = os.path.join(folder, name)
    if unnumbered:
        warnings.warn(f"{folder}: {len(unnumbered)} image(s) without a frame number in the name were skipped: "
                      f"{unnumbered[:5]}.", DataWarning, stacklevel=2)
    if duplicates:
        warnings.warn(f"{folder}: image(s) repeating a frame number were skipped: {duplicates[:5]}.",
                      DataWarning, stacklevel=2)
    numbers = sorted(found)
    return numbers, [found[n] for n in numbers]


def _get(row: Any, key: str, default: Any = None) -> Any:
    """``row[key]`` for a Series / dict, ``getattr`` for an ``itertuples`` row."""
    try:
        return row[key]
    except (KeyError, TypeError, IndexError):
        return getattr(row, key, default)


def _clip_name(row: Any) -> str:
    return str(_get(row, "clip_uid") or _get(row, "clip") or "<clip>")


def _size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f"size={size!r}: expected an int (square) or (height, width) with positive values.")
    return int(size[0]), int(size[1])


def read_image(path: str | os.PathLike, color: bool = True, size: int | Sequence[int] | None = None,
               clip: str | None = None) -> np.ndarray:
    """One image as uint8 RGB (H, W, 3) or grey (H, W), optionally resized to ``size`` = (height, width).

    Shrinking uses ``cv2.INTER_AREA`` (as the 3D-CNN code does, REFERENCE.md §3), enlarging ``INTER_LINEAR``.
    An unreadable file raises a ``ValueError`` naming it (and its clip).
    """
    import cv2

    flag = cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE
    image = cv2.imread(os.fspath(path), flag)
    if image is None:
        where = f" (clip {clip})" if clip else ""
        state = "does not exist" if not os.path.exists(path) else "cannot be decoded (truncated or not an image)"
        raise ValueError(f"Frame {path}{where} {state}; expected a readable JPEG / BMP / PNG image. "
                         "Re-copy the file from the dataset archive.")
    if color:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    target = _size(size)
    if target is not None and image.shape[:2] != target:
        shrink = target[0] < image.shape[0] or target[1] < image.shape[1]
        image = cv2.resize(image, (target[1], target[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return image


def select_frames(row: Any, start: int | None = None, stop: int | None = None,
                  fill_missing: bool = True) -> tuple[np.ndarray, list[str]]:
    """Frame numbers and paths of ``row`` between ``start`` and ``stop`` (frame numbers, inclusive).

    With ``fill_missing`` every number of the range gets a path (a missing frame reuses the nearest earlier
    one, or the next at the start of the range); otherwise only the frames on disk are returned. Missing frames
    are reported once per clip. Raises when the range holds no frame at all.
    """
    numbers = _get(row, "frame_numbers")
    paths = _get(row, "frame_paths")
    numbers = np.asarray([] if numbers is None else numbers, dtype=np.int64)
    paths = [] if paths is None else list(paths)
    name = _clip_name(row)
    if len(numbers) == 0:
        raise ValueError(f"Clip {name} has no frames (frame folder {_get(row, 'frame_dir')}); expected image "
                         "files named with their frame number. Check the dataset copy.")
    lo = int(numbers[0]) if is_missing(start) else int(start)
    hi = int(numbers[-1]) if is_missing(stop) else int(stop)
    if hi < lo:
        raise ValueError(f"Clip {name}: start={lo} is after stop={hi}; frame numbers are inclusive and ascending.")
    keep = (numbers >= lo) & (numbers <= hi)
    if not keep.any():
        raise ValueError(f"Clip {name}: no frame between {lo} and {hi}; the frames on disk are numbered "
                         f"{numbers[0]}..{numbers[-1]}.")
    wanted = np.arange(lo, hi + 1)
    missing = np.setdiff1d(wanted, numbers[keep])
    if len(missing) == 0 or not fill_missing:
        if len(missing):
            _report_missing(name, missing, filled=False)
        idx = np.flatnonzero(keep)
        return numbers[idx], [paths[i] for i in idx]
    _report_missing(name, missing, filled=True)
    # nearest earlier frame on disk for every wanted number (the first frame on disk for numbers before it)
    pos = np.searchsorted(numbers, wanted, side="right") - 1
    pos = np.clip(pos, 0, len(numbers) - 1)
    before_first = wanted < numbers[0]
    pos[before_first] = 0
    return wanted, [paths[i] for i in pos]


def _report_missing(name: str, missing: np.ndarray, filled: bool) -> None:
    key = (name, tuple(missing.tolist()), filled)
    if key in _REPORTED:
        return
    _REPORTED.add(key)
    shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
    action = "filled with the nearest earlier frame" if filled else "left out (fill_missing=False)"
    warnings.warn(f"Clip {name}: {len(missing)} frame(s) missing on disk ({shown}); {action}.", DataWarning,
                  stacklevel=3)


def load_frames(row: Any, color: bool = True, size: int | Sequence[int] | None = None,
                start: int | None = None, stop: int | None = None, fill_missing: bool = True) -> np.ndarray:
    """The frames of a clip-table row as uint8 ``(T, H, W, 3)`` RGB or ``(T, H, W)`` grey.

    ``start`` / ``stop`` are frame **numbers** (inclusive; e.g. ``row.onset``, ``row.apex``), default the
    first / last frame on disk; ``size`` is an int or (height, width). See :func:`select_frames` for missing frames.
    """
    _, paths = select_frames(row, start, stop, fill_missing)
    name = _clip_name(row)
    cache: dict[str, np.ndarray] = {}
    frames = []
    for path in paths:
        if path not in cache:
            cache[path] = read_image(path, color=color, size=size, clip=name)
        frames.append(cache[path])
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise ValueError(f"Clip {name}: frames have different sizes {sorted(shapes)}; pass size=(height, width).")
    return np.stack(frames)


def frames_to_tensor(frames: np.ndarray, dtype: Any = None):
    """uint8 frames ``(T, H, W[, 3])`` -> float tensor ``(T, C, H, W)`` in [0, 1] (C = 1 for grey)."""
    import torch

    array = np.asarray(frames)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4:
        raise ValueError(f"frames of shape {array.shape}: expected (T, H, W) or (T, H, W, C).")
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))
    return tensor.to(dtype or torch.float32).div_(255.0)


@dataclass
class Clip:
    """A loaded clip: frames plus what the table says about them (frame numbers, onset / apex / offset, label)."""

    clip_uid: str
    dataset: str
    subject: str
    clip: str
    frames: np.ndarray
    frame_numbers: np.ndarray
    fps: float | None = None
    emotion: str | None = None
    onset: int | None = None
    apex: int | None = None
    offset: int | None = None
    label: int | None = None
    label_name: str | None = None
    info: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        return (f"Clip({self.clip_uid!r}, emotion={self.emotion!r}, label={self.label!r}, frames={self.frames.shape}, "
                f"numbers {self.frame_numbers[0]}..{self.frame_numbers[-1]}, onset/apex/offset="
                f"{self.onset}/{self.apex}/{self.offset})")

    def index(self, number: int | None) -> int | None:
        """Position in :attr:`frames` of frame number ``number`` (the nearest one when it is not loaded)."""
        if number is None:
            return None
        return int(np.abs(self.frame_numbers - int(number)).argmin())

    @property
    def onset_index(self) -> int | None:
        return self.index(self.onset)

    @property
    def apex_index(self) -> int | None:
        return self.index(self.apex)

    @property
    def offset_index(self) -> int | None:
        return self.index(self.offset)

    @property
    def apex_frame(self) -> np.ndarray:
        """The apex frame (nearest loaded frame to the annotated or estimated apex)."""
        return self.frames[self.apex_index if self.apex is not None else len(self.frames) // 2]

    def to_tensor(self, dtype: Any = None):
        """Frames as a float tensor ``(T, C, H, W)`` in [0, 1]."""
        return frames_to_tensor(self.frames, dtype)


def _opt_int(value: Any) -> int | None:
    return None if is_missing(value) else int(value)


def load_clip(row: Any, color: bool = True, size: int | Sequence[int] | None = None, start: int | None = None,
              stop: int | None = None, fill_missing: bool = True) -> Clip:
    """A :class:`Clip` for a clip-table row (frames loaded as in :func:`load_frames`)."""
    numbers, _ = select_frames(row, start, stop, fill_missing)
    frames = load_frames(row, color=color, size=size, start=start, stop=stop, fill_missing=fill_missing)
    fps = _get(row, "fps")
    return Clip(clip_uid=str(_get(row, "clip_uid")), dataset=str(_get(row, "dataset")), subject=str(_get(row, "subject")),
                clip=str(_get(row, "clip")), frames=frames, frame_numbers=np.asarray(numbers),
                fps=None if is_missing(fps) else float(fps), emotion=_get(row, "emotion"),
                onset=_opt_int(_get(row, "onset")), apex=_opt_int(_get(row, "apex")), offset=_opt_int(_get(row, "offset")),
                label=_opt_int(_get(row, "label")), label_name=_get(row, "label_name"))


def load_tensor(row: Any, color: bool = True, size: int | Sequence[int] | None = None, start: int | None = None,
                stop: int | None = None, dtype: Any = None):
    """The frames of a clip-table row as a float tensor ``(T, C, H, W)`` in [0, 1]."""
    return frames_to_tensor(load_frames(row, color=color, size=size, start=start, stop=stop), dtype)


def load_image(row: Any, color: bool = False, size: int | Sequence[int] | None = None) -> np.ndarray:
    """One image of a macro-expression table (FER2013 ``pixels`` string or CK+ ``path``) as uint8 array.

    Grey (H, W) by default; ``color=True`` gives (H, W, 3) RGB (grey images are repeated on 3 channels).
    """
    pixels = _get(row, "pixels")
    if not is_missing(pixels):
        values = np.array(str(pixels).split(), dtype=np.float64)
        side = int(round(np.sqrt(values.size)))
        if side * side != values.size or values.size == 0:
            raise ValueError(f"Image {_get(row, 'image_id')}: {values.size} pixel values; expected a square image "
                             "(2304 values for FER2013's 48x48).")
        image = np.clip(values, 0, 255).astype(np.uint8).reshape(side, side)
        if size is not None:
            import cv2

            target = _size(size)
            shrink = target[0] < side or target[1] < side
            image = cv2.resize(image, (target[1], target[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return np.repeat(image[..., None], 3, axis=2) if color else image
    path = _get(row, "path")
    if is_missing(path):
        raise ValueError(f"Row {_get(row, 'image_id')}: neither 'pixels' nor 'path' is set; expected a FER2013 or "
                         "CK+ image table from load_dataset('fer2013' / 'ckplus').")
    return read_image(path, color=color, size=size, clip=_get(row, "image_id"))


def load_images(table: Any, color: bool = False, size: int | Sequence[int] | None = None) -> np.ndarray:
    """All images of a macro-expression table stacked to ``(N, H, W[, 3])`` uint8 (``size`` required if they differ)."""
    return np.stack([load_image(row, color=color, size=size) for _, row in table.iterrows()])


__all__ = ["IMAGE_EXTENSIONS", "scan_frames", "read_image", "select_frames", "load_frames", "frames_to_tensor",
           "Clip", "load_clip", "load_tensor", "load_image", "load_images"]
