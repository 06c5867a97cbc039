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
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .naming import DataWarning, frame_number, is_ignored_file, is_missing

#: File extensions treated as frames.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".bmp", ".png", ".tif", ".tiff")

_REPORTED: set[tuple] = set()
_LAST_DIGITS = re.compile(r"(\d+)(?!.*\d)")


def _shape(name: str) -> tuple[str, str, int]:
    """``(text before the frame number, text after it, padded width or 0)`` of a frame file name."""
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    match = _LAST_DIGITS.search(stem)
    if match is None:
        return stem.lower(), (dot + ext).lower(), 0
    digits = match.group(1)
    width = len(digits) if digits.startswith("0") and len(digits) > 1 else 0
    return stem[:match.start(1)].lower(), (stem[match.end(1):] + dot + ext).lower(), width


def scan_frames(folder: str | os.PathLike, pattern: str | re.Pattern | None = None) -> tuple[list[int], list[str]]:
    """Frame numbers and paths of the images in ``folder``, sorted by frame number (one directory listing).

    Hidden files, macOS ``._`` companions (``._img47.jpg``), ``Thumbs.db`` and the like are ignored
    (:func:`~mer_utils.data.naming.is_ignored_file`). Image files without a number in their name are skipped with
    a :class:`DataWarning`. When several files claim one frame number (``img36.jpg`` / ``img036.jpg``,
    ``img40.jpg`` / ``img40 (copy).jpg``, ``img1.jpg`` / ``img1.bmp``) the one named like the dataset's frames
    wins: it matches ``pattern`` (a dataset's entry of :data:`~mer_utils.data.naming.FRAME_PATTERNS`), then the
    folder's own naming (the text around the number and its zero-padding shared by most files); a warning names
    the file used and the files skipped for every such frame.
    """
    try:
        entries = sorted(e.name for e in os.scandir(folder) if e.is_file() and not is_ignored_file(e.name))
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    regex = re.compile(pattern, re.IGNORECASE) if isinstance(pattern, str) else pattern
    claims: dict[int, list[str]] = {}
    unnumbered = []
    for name in entries:
        if not name.lower().endswith(IMAGE_EXTENSIONS):
            continue
        number = frame_number(name)
        if number is None:
            unnumbered.append(name)
        else:
            claims.setdefault(number, []).append(name)
    if unnumbered:
        warnings.warn(f"{folder}: {len(unnumbered)} image(s) without a frame number in the name were skipped: "
                      f"{unnumbered[:5]}.", DataWarning, stacklevel=2)
    conflicts = {n: names for n, names in claims.items() if len(names) > 1}
    found: dict[int, str] = {n: names[0] for n, names in claims.items()}
    if conflicts:
        # the folder's own naming: the text around the number and the zero-padding most files share
        shapes = Counter(_shape(names[0])[:2] for n, names in claims.items() if len(names) == 1) or \
            Counter(_shape(name)[:2] for names in claims.values() for name in names)
        usual = shapes.most_common(1)[0][0]
        widths = Counter(_shape(names[0])[2] for names in claims.values() if len(names) == 1
                         and _shape(names[0])[:2] == usual)
        width = widths.most_common(1)[0][0] if widths else 0

        def rank(number: int, name: str) -> tuple:
            before, after, _ = _shape(name)
            digits = _LAST_DIGITS.search(name.rpartition(".")[0] if "." in name else name).group(1)
            return (not (regex is not None and regex.fullmatch(name)), (before, after) != usual,
                    digits != str(number).zfill(width), len(name), name)

        reports = []
        for number, names in sorted(conflicts.items()):
            ordered = sorted(names, key=lambda n: rank(number, n))
            found[number] = ordered[0]
            reports.append(f"frame {number}: using {ordered[0]!r}, skipped {ordered[1:]}")
        how = f"the dataset's naming ({regex.pattern})" if regex is not None else "the folder's naming"
        shown = "; ".join(reports[:8]) + (f"; ... ({len(reports) - 8} more)" if len(reports) > 8 else "")
        warnings.warn(f"{folder}: {len(reports)} frame number(s) are claimed by several files; the file following "
                      f"{how} was used: {shown}. Delete or move the other copies.", DataWarning, stacklevel=2)
    numbers = sorted(found)
    return numbers, [os.path.join(folder, found[n]) for n in numbers]


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


class CorruptFrameError(ValueError):
    """A frame file that is empty, truncated (a half-copied file) or not the image its extension says."""


_PNG_END = b"IEND\xaeB`\x82"


def image_file_problem(path: str | os.PathLike) -> str | None:
    """What is wrong with an image file, judged from its first and last bytes (no decoding), or ``None``.

    Catches what decoders only print to stderr: a JPEG without its end-of-image marker ``FF D9`` (libjpeg's
    "Premature end of JPEG file", decoded as a half-grey frame), a PNG without its ``IEND`` chunk, a BMP shorter
    than its header says, an empty file. Reads at most a few kilobytes.
    """
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        if size == 0:
            return "is empty (0 bytes)"
        with open(path, "rb") as handle:
            head = handle.read(64)
            handle.seek(max(0, size - 1024))
            tail = handle.read()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    lower = path.lower()
    if head[:2] == b"\xff\xd8":
        if b"\xff\xd9" not in tail:
            return (f"is truncated: the JPEG data stops after {size} bytes without its end-of-image marker (FF D9), "
                    "typically a half-copied file")
    elif head[:8] == b"\x89PNG\r\n\x1a\n":
        if _PNG_END not in tail:
            return f"is truncated: the PNG data stops after {size} bytes without its IEND chunk"
    elif head[:2] == b"BM" and len(head) >= 34:
        declared = int.from_bytes(head[2:6], "little")
        offset = int.from_bytes(head[10:14], "little")
        width = int.from_bytes(head[18:22], "little", signed=True)
        height = int.from_bytes(head[22:26], "little", signed=True)
        bits = int.from_bytes(head[28:30], "little")
        compression = int.from_bytes(head[30:34], "little")
        expected = declared
        if compression in (0, 3) and width > 0 and bits:  # uncompressed rows, padded to 4 bytes
            expected = max(expected, offset + ((bits * width + 31) // 32) * 4 * abs(height))
        if size < expected:
            return f"is truncated: the BMP header announces {expected} bytes but the file holds {size}"
    elif lower.endswith((".jpg", ".jpeg")):
        return f"cannot be decoded: it is not a JPEG image (it starts with {head[:8]!r})"
    elif lower.endswith(".png"):
        return f"cannot be decoded: it is not a PNG image (it starts with {head[:8]!r})"
    elif lower.endswith(".bmp"):
        return f"cannot be decoded: it is not a BMP image (it starts with {head[:8]!r})"
    return None


def check_image_file(path: str | os.PathLike, clip: str | None = None) -> None:
    """Raise :class:`CorruptFrameError` naming the file, its clip and the fix when :func:`image_file_problem`
    finds something wrong (empty, truncated, not an image); a missing file raises ``FileNotFoundError``."""
    where = f" (clip {clip})" if clip else ""
    if not os.path.exists(path):
        raise FileNotFoundError(f"Frame {path}{where} does not exist; the clip table lists it. Rebuild the table "
                                "(load_dataset / load_<dataset>) after moving or deleting frames.")
    problem = image_file_problem(path)
    if problem is not None:
        raise CorruptFrameError(f"Frame {path}{where} {problem}. Re-copy the file from the dataset archive; or delete "
                                "it and rebuild the clip table, and the frame is filled with its nearest earlier "
                                "frame (reported).")


def read_image(path: str | os.PathLike, color: bool = True, size: int | Sequence[int] | None = None,
               clip: str | None = None) -> np.ndarray:
    """One image as uint8 RGB (H, W, 3) or grey (H, W), optionally resized to ``size`` = (height, width).

    Shrinking uses ``cv2.INTER_AREA`` (as the 3D-CNN code does, REFERENCE.md §3), enlarging ``INTER_LINEAR``.
    An unreadable, empty or truncated file raises an error naming it (and its clip) — never a half-grey frame
    (:func:`check_image_file`: :class:`CorruptFrameError`, a ``ValueError``; ``FileNotFoundError`` when absent).
    """
    import cv2

    check_image_file(path, clip)
    flag = cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE
    image = cv2.imread(os.fspath(path), flag)
    if image is None:
        where = f" (clip {clip})" if clip else ""
        raise CorruptFrameError(f"Frame {path}{where} cannot be decoded (damaged or not an image); expected a "
                                "readable JPEG / BMP / PNG image. Re-copy the file from the dataset archive.")
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


__all__ = ["IMAGE_EXTENSIONS", "scan_frames", "read_image", "check_image_file", "image_file_problem",
           "CorruptFrameError", "select_frames", "load_frames", "frames_to_tensor",
           "Clip", "load_clip", "load_tensor", "load_image", "load_images"]
