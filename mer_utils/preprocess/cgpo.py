"""Cropped Gaussian Pyramid with Overlapping (CGPO) of Zhao et al. 2021 (003, Sec. 3.2.2).

The paper: a 320x320 input and a copy down-sampled to 160x160; "for each image with different scale resolution,
we divide them into several 160x160 images and introduce the overlap factor alpha (0.3)"; 10 sub-images in all,
fed to the shared feature extractor; sub-image 0 gets no position embedding, 1..9 do (eq. 8).

The paper does not spell out the crop grid. What this module does (and why):

- sub-image 0: the whole input down-sampled to ``out`` x ``out`` (the 160x160 level of the pyramid);
- sub-images 1..9: a ``grid`` x ``grid`` = 3x3 grid of square crops of the full-resolution input, row by row
  from the top-left. Neighbouring crops overlap by ``overlap`` = 0.3 of their side and the grid spans the whole
  input, so the crop side is ``size / (grid - (grid - 1) * overlap)`` = 320 / 2.4 = 133 px (stride 93-94 px);
  each crop is then resized to ``out`` x ``out`` = 160x160.

That is the only grid in which the nine 160-px sub-images of a 320-px image overlap by the stated factor 0.3 and
cover the whole face. (Taking fixed 160-px crops instead forces a stride of 80 px, i.e. an overlap of 0.5, and
leaves alpha unused; fixed 160-px crops with overlap 0.3 do not fit three to a side.) Box corners are rounded to
whole pixels, so the numpy and torch versions cut identical crops.
"""
from __future__ import annotations

import cv2
import numpy as np


def cgpo_boxes(size: int = 320, grid: int = 3, overlap: float = 0.3) -> np.ndarray:
    """(1 + grid^2, 4) integer boxes ``(x0, y0, x1, y1)`` in the input's pixels: the whole image, then the grid
    crops row by row. Neighbouring crops overlap by ``overlap`` of the crop side (to the nearest pixel)."""
    if not 0 <= overlap < 1:
        raise ValueError(f"The CGPO overlap factor must be in [0, 1), got {overlap}.")
    if grid < 1 or size < grid:
        raise ValueError(f"Need grid >= 1 and an input of at least grid pixels, got grid={grid}, size={size}.")
    side = int(round(size / (grid - (grid - 1) * overlap)))
    offsets = np.rint(np.linspace(0, size - side, grid)).astype(int) if grid > 1 else np.zeros(1, int)
    boxes = [(0, 0, size, size)]
    for y in offsets:
        for x in offsets:
            boxes.append((int(x), int(y), int(x) + side, int(y) + side))
    return np.array(boxes, dtype=int)


def _check_square(h: int, w: int) -> int:
    if h != w:
        raise ValueError(f"CGPO expects a square input (the paper uses 320x320), got {h}x{w}; resize it first.")
    return h


def cgpo(image: np.ndarray, out: int | None = None, grid: int = 3, overlap: float = 0.3) -> np.ndarray:
    """The 10 CGPO sub-images of one square image (H, W[, C]) as (1 + grid^2, out, out[, C]), same dtype.

    ``out`` defaults to half the input side (160 for the paper's 320x320 input).
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"Expected one image (H, W) or (H, W, C), got shape {img.shape}.")
    size = _check_square(*img.shape[:2])
    out = int(out or size // 2)
    subs = []
    for i, (x0, y0, x1, y1) in enumerate(cgpo_boxes(size, grid, overlap)):
        crop = np.ascontiguousarray(img[y0:y1, x0:x1])
        interp = cv2.INTER_AREA if (x1 - x0) > out else cv2.INTER_LINEAR
        subs.append(cv2.resize(crop, (out, out), interpolation=interp).reshape((out, out) + img.shape[2:]))
    return np.stack(subs)


def cgpo_tensor(x, out: int | None = None, grid: int = 3, overlap: float = 0.3):
    """Torch version for a batch (B, C, H, W) -> (B, 1 + grid^2, C, out, out); differentiable, runs on x's
    device (bilinear with anti-aliasing when shrinking)."""
    import torch
    import torch.nn.functional as F

    if x.dim() != 4:
        raise ValueError(f"Expected a batch (B, C, H, W), got shape {tuple(x.shape)}.")
    size = _check_square(x.shape[-2], x.shape[-1])
    out = int(out or size // 2)
    subs = []
    for x0, y0, x1, y1 in cgpo_boxes(size, grid, overlap):
        crop = x[..., y0:y1, x0:x1]
        subs.append(F.interpolate(crop, size=(out, out), mode="bilinear", align_corners=False,
                                  antialias=(x1 - x0) > out))
    return torch.stack(subs, dim=1)


def draw_cgpo_boxes(image: np.ndarray, grid: int = 3, overlap: float = 0.3, thickness: int = 2) -> np.ndarray:
    """A copy of a square RGB/grey image with the grid crops of :func:`cgpo_boxes` outlined in colours."""
    img = np.asarray(image).copy()
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    img = np.ascontiguousarray(img)
    size = _check_square(*img.shape[:2])
    colours = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
               (70, 240, 240), (240, 50, 230), (210, 245, 60)]
    for i, (x0, y0, x1, y1) in enumerate(cgpo_boxes(size, grid, overlap)[1:]):
        cv2.rectangle(img, (int(x0), int(y0)), (int(x1) - 1, int(y1) - 1), colours[i % len(colours)], thickness)
    return img
