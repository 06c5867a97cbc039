"""Regions of interest (RoIs).

**She et al. 2020** (000, Sec. III-B, Fig. 3, Table II): the 120x140 face is divided into a 12x14 grid of
10-pixel cells (12 columns, 14 rows) and three RoIs are cut out of it: left eye + eyebrow, right eye + eyebrow
(AUs 1, 2, 4, 7) and mouth (AUs 10, 12, 14, 15, 25). The paper shows the cells only in a figure; the cell ranges
of :data:`SHE_ROI_CELLS` were chosen on faces aligned by this package's ``crop="landmarks"`` (the landmark box
fills the face), where the brows lie in rows 0-1, the eyes in rows 2-3 and the lips in rows 7-10. "Left" and
"right" are the image's sides (the subject's right eye appears on the image's left).

**Reddy et al. 2019** (002, Sec. III-B): eye and nose-mouth regions bounded by dlib landmarks (REFERENCE.md §3,
the authors' code; 0-based landmark indices): eyes = rows lm19.y..lm1.y, columns lm1.x..lm15.x; nose-mouth =
rows lm2.y..lm6.y, columns lm2.x..lm14.x; each resized to 32x32 grey.
"""
from __future__ import annotations

import cv2
import numpy as np

from .faces import _check_landmarks

#: Face size (width, height) and cell size of She et al.'s grid.
SHE_FACE_SIZE = (120, 140)
SHE_CELL = 10
SHE_GRID = (14, 12)  # rows, columns

#: Cell ranges ``(row0, row1, col0, col1)`` (stops exclusive) of She et al.'s RoIs on the 14x12 grid.
SHE_ROI_CELLS = {
    "left_eye": (0, 5, 0, 6),    # eyebrow + eye, image left: 50 x 60 px
    "right_eye": (0, 5, 6, 12),  # eyebrow + eye, image right: 50 x 60 px
    "mouth": (7, 11, 2, 10),     # lips and corners: 40 x 80 px
}

#: Landmark indices bounding Reddy et al.'s regions: (top, bottom, left, right) as (point, axis) pairs.
REDDY_ROI_LANDMARKS = {
    "eyes": ((19, 1), (1, 1), (1, 0), (15, 0)),
    "nose_mouth": ((2, 1), (6, 1), (2, 0), (14, 0)),
}


def she_roi_slices(name: str, cell: int = SHE_CELL) -> tuple[slice, slice]:
    """(row slice, column slice) in pixels of one of She et al.'s RoIs (``left_eye``, ``right_eye``, ``mouth``)."""
    if name not in SHE_ROI_CELLS:
        raise ValueError(f"Unknown She et al. RoI {name!r}: expected one of {sorted(SHE_ROI_CELLS)}.")
    r0, r1, c0, c1 = SHE_ROI_CELLS[name]
    return slice(r0 * cell, r1 * cell), slice(c0 * cell, c1 * cell)


def she_roi_cells(name: str) -> list[tuple[int, int]]:
    """The (row, column) grid cells that make up one of She et al.'s RoIs."""
    if name not in SHE_ROI_CELLS:
        raise ValueError(f"Unknown She et al. RoI {name!r}: expected one of {sorted(SHE_ROI_CELLS)}.")
    r0, r1, c0, c1 = SHE_ROI_CELLS[name]
    return [(r, c) for r in range(r0, r1) for c in range(c0, c1)]


def she_rois(faces: np.ndarray) -> dict[str, np.ndarray]:
    """Views of the three RoIs cut from faces of shape (..., 140, 120[, C]) (no copy)."""
    x = faces if isinstance(faces, np.ndarray) else np.asarray(faces)
    w, h = SHE_FACE_SIZE
    if x.ndim >= 2 and x.shape[-2:] == (h, w):
        hw_axis = x.ndim - 2
    elif x.ndim >= 3 and x.shape[-3:-1] == (h, w):
        hw_axis = x.ndim - 3
    else:
        raise ValueError(f"She et al.'s RoIs are defined on 120x140 (width x height) faces: expected an array "
                         f"(..., 140, 120) or (..., 140, 120, C), got shape {x.shape}.")
    out = {}
    for name in SHE_ROI_CELLS:
        rs, cs = she_roi_slices(name)
        index = (slice(None),) * hw_axis + (rs, cs)
        out[name] = x[index]
    return out


def draw_roi_grid(face: np.ndarray, cell: int = SHE_CELL, rois: dict | None = None, alpha: float = 0.35) -> np.ndarray:
    """A copy of a face (RGB or grey) with the cell grid drawn and She et al.'s RoI cells tinted."""
    img = np.asarray(face).copy()
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    img = np.ascontiguousarray(img.astype(np.uint8))
    colours = {"left_eye": (255, 60, 60), "right_eye": (60, 120, 255), "mouth": (60, 220, 60)}
    tint = img.copy()
    for name, (r0, r1, c0, c1) in (rois or SHE_ROI_CELLS).items():
        cv2.rectangle(tint, (c0 * cell, r0 * cell), (c1 * cell - 1, r1 * cell - 1), colours.get(name, (255, 255, 0)), -1)
    img = cv2.addWeighted(tint, alpha, img, 1 - alpha, 0)
    h, w = img.shape[:2]
    for x in range(0, w + 1, cell):
        cv2.line(img, (min(x, w - 1), 0), (min(x, w - 1), h - 1), (255, 255, 255), 1)
    for y in range(0, h + 1, cell):
        cv2.line(img, (0, min(y, h - 1)), (w - 1, min(y, h - 1)), (255, 255, 255), 1)
    return img


def reddy_roi_box(landmarks: np.ndarray, name: str, min_side: float = 4.0) -> tuple[float, float, float, float]:
    """Box ``(x0, y0, x1, y1)`` of Reddy et al.'s ``eyes`` or ``nose_mouth`` region from 68 landmarks (in the
    landmarks' coordinates). A box thinner than ``min_side`` pixels is widened about its centre."""
    if name not in REDDY_ROI_LANDMARKS:
        raise ValueError(f"Unknown Reddy et al. RoI {name!r}: expected one of {sorted(REDDY_ROI_LANDMARKS)}.")
    lm = _check_landmarks(landmarks)
    (pt, at), (pb, ab), (pl, al), (pr, ar) = REDDY_ROI_LANDMARKS[name]
    y0, y1 = sorted((lm[pt, at], lm[pb, ab]))
    x0, x1 = sorted((lm[pl, al], lm[pr, ar]))
    if y1 - y0 < min_side:
        c = (y0 + y1) / 2
        y0, y1 = c - min_side / 2, c + min_side / 2
    if x1 - x0 < min_side:
        c = (x0 + x1) / 2
        x0, x1 = c - min_side / 2, c + min_side / 2
    return float(x0), float(y0), float(x1), float(y1)
