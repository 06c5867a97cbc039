"""Peng et al. 2018's class balancing and augmentation (Sec. III-B, III-C): :func:`balanced_resample`,
:class:`PengAugment` (colour shift, rotation, smoothing, each with p = 0.5), the CDE corner crops
(:func:`random_corner_crop`, :func:`center_crop`) and :class:`BatchAugment`, which applies them to a batch inside
the shared training loop."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np


# --------------------------------------------------------------------------------------------------
# Class balancing by resampling (Sec. III-B: "resampling ... 5000 images on each type"; Sec. III-C HDE:
# "increased to 200 by using resample techniques"; CDE: "the samples in each type have the same number")
# --------------------------------------------------------------------------------------------------
def balanced_resample(labels: Sequence[int], per_class: int | None = None, seed: int | np.random.Generator = 0,
                      classes: Sequence[int] | None = None) -> np.ndarray:
    """Indices into ``labels`` that hold every class exactly ``per_class`` times (shuffled).

    The paper balances each training set by resampling: 5,000 images per class for the macro stage
    (Sec. III-B), 200 per class for HDE and "the same number" per class for CDE (Sec. III-C). Here a class of
    n samples contributes each sample ``per_class // n`` times plus ``per_class % n`` further samples drawn
    without replacement, so no sample is lost and counts are exactly equal; when ``per_class < n`` the class
    is subsampled without replacement. ``per_class=None`` oversamples every class to the largest one.

    ``classes`` lists the classes that must appear (a class of ``classes`` absent from ``labels`` raises,
    since no resampling can create it); by default the classes present in ``labels``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"balanced_resample expects a non-empty 1-D array of class labels, got shape {labels.shape}.")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    present, counts = np.unique(labels, return_counts=True)
    wanted = present if classes is None else np.asarray(classes)
    absent = sorted(set(wanted.tolist()) - set(present.tolist()))
    if absent:
        raise ValueError(f"balanced_resample: classes {absent} have no sample to resample; drop them from "
                         "`classes` or add training samples of them.")
    target = int(counts.max()) if per_class is None else int(per_class)
    if target < 1:
        raise ValueError(f"balanced_resample: per_class must be >= 1, got {per_class!r}.")
    out = []
    for c in wanted:
        idx = np.flatnonzero(labels == c)
        reps, rest = divmod(target, idx.size)
        out.append(np.tile(idx, reps))
        out.append(rng.choice(idx, size=rest, replace=False))
    out = np.concatenate(out)
    return out[rng.permutation(out.size)]


# --------------------------------------------------------------------------------------------------
# Augmentations (Sec. III-B: colour shift max 20, rotation max 10 degrees, smoothing max window 6, p = 0.5;
# Sec. III-C HDE: colour shift max 20, rotation max 8 degrees, p = 0.5)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PengAugment:
    """The paper's training-time augmentations, each applied independently with probability ``p``.

    - colour shift: an integer offset in [-``color_shift``, ``color_shift``] added to each channel
      (one offset per channel; grey images get one), clipped to [0, 255];
    - rotation: an angle in [-``max_rotation``, ``max_rotation``] degrees about the image centre,
      borders replicated (so no black corners enter the face crop);
    - smoothing: a box (mean) filter of window k x k, k drawn from 2..``max_smoothing`` (0 disables).

    Works on uint8 images (H, W), (H, W, C), or a batch (N, H, W[, C]); returns the same shape and
    dtype with values in [0, 255]. The paper gives the maximum of each transformation and p = 0.5; the
    distributions (uniform) and the box filter are our choices.
    """

    color_shift: int = 20
    max_rotation: float = 10.0
    max_smoothing: int = 6
    p: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"PengAugment: p must lie in [0, 1], got {self.p!r}.")
        if self.color_shift < 0 or self.max_rotation < 0 or self.max_smoothing < 0:
            raise ValueError("PengAugment: color_shift, max_rotation and max_smoothing must be >= 0, got "
                             f"{self.color_shift!r}, {self.max_rotation!r}, {self.max_smoothing!r}.")

    def _one(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = img
        if self.color_shift > 0 and rng.random() < self.p:
            channels = 1 if out.ndim == 2 else out.shape[2]
            shift = rng.integers(-self.color_shift, self.color_shift + 1, size=channels)
            out = np.clip(out.astype(np.int16) + (shift[0] if out.ndim == 2 else shift), 0, 255).astype(np.uint8)
        if self.max_rotation > 0 and rng.random() < self.p:
            h, w = out.shape[:2]
            angle = rng.uniform(-self.max_rotation, self.max_rotation)
            m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
            rot = cv2.warpAffine(out, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            out = rot.reshape(out.shape)
        if self.max_smoothing >= 2 and rng.random() < self.p:
            k = int(rng.integers(2, self.max_smoothing + 1))
            out = cv2.blur(out, (k, k), borderType=cv2.BORDER_REPLICATE).reshape(out.shape)
        return out if out is not img else img.copy()

    def __call__(self, images: np.ndarray, rng: np.random.Generator | int | None = None,
                 batch: bool | None = None) -> np.ndarray:
        """Augment one image or a batch. ``batch=None`` treats 4-D input (and 3-D input whose last axis is
        not 1 or 3 channels) as a batch."""
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise ValueError(f"PengAugment expects uint8 images in [0, 255], got dtype {images.dtype}; "
                             "augment before converting to float.")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        if batch is None:
            batch = images.ndim == 4 or (images.ndim == 3 and images.shape[-1] not in (1, 3))
        if not batch:
            if images.ndim not in (2, 3):
                raise ValueError(f"PengAugment: one image must be (H, W) or (H, W, C), got {images.shape}.")
            return self._one(images, rng)
        if images.ndim not in (3, 4):
            raise ValueError(f"PengAugment: a batch must be (N, H, W) or (N, H, W, C), got {images.shape}.")
        return np.stack([self._one(im, rng) for im in images]) if len(images) else images.copy()


#: Macro-expression stage (Sec. III-B).
MACRO_AUGMENT = PengAugment(color_shift=20, max_rotation=10.0, max_smoothing=6, p=0.5)
#: HDE (Sec. III-C a): colour shift and rotation up to 8 degrees, no smoothing mentioned.
HDE_AUGMENT = PengAugment(color_shift=20, max_rotation=8.0, max_smoothing=0, p=0.5)
#: CDE (Sec. III-C) names only the 240 -> 224 random corner crops (:func:`random_corner_crop`), so no
#: photometric / geometric augmentation is applied there.
CDE_AUGMENT = None


# --------------------------------------------------------------------------------------------------
# CDE crops (Sec. III-C: "normalized to 240*240 pixels, and then cut into a 224*224 image by randomly
# cutting the four corners")
# --------------------------------------------------------------------------------------------------
def random_corner_crop(images: np.ndarray, size: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Crop ``size`` x ``size`` from one of the four corners (chosen at random per image) of a batch.

    ``images`` is (N, H, W) or (N, H, W, C) with H, W >= ``size``; the paper uses 240 -> 224 (Sec. III-C).
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"random_corner_crop expects a batch (N, H, W[, C]), got shape {images.shape}.")
    n, h, w = images.shape[:3]
    if size > h or size > w:
        raise ValueError(f"random_corner_crop: crop {size} larger than the images ({h}x{w}); "
                         "resize to e.g. 240x240 before cropping 224.")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    corner = rng.integers(0, 4, size=n)
    top = np.where(corner // 2 == 0, 0, h - size)
    left = np.where(corner % 2 == 0, 0, w - size)
    return np.stack([images[i, t:t + size, l:l + size] for i, (t, l) in enumerate(zip(top, left))])


def center_crop(images: np.ndarray, size: int) -> np.ndarray:
    """Central ``size`` x ``size`` crop of a batch (N, H, W[, C]): the test-time view for CDE (our choice;
    the paper does not say how test images were cropped)."""
    images = np.asarray(images)
    h, w = images.shape[1:3]
    if size > h or size > w:
        raise ValueError(f"center_crop: crop {size} larger than the images ({h}x{w}).")
    t, l = (h - size) // 2, (w - size) // 2
    return images[:, t:t + size, l:l + size]


# --------------------------------------------------------------------------------------------------
# Batch augmentation for the shared training loop
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchAugment:
    """Training-time augmentation of a batch (B, C, H, W) of float images in [0, 255] inside :func:`fit`:
    :class:`PengAugment` on each image, then (CDE) a random corner crop to ``crop`` pixels.

    Random numbers come from torch's global generator, which :func:`mer_utils.training.cross_validate` seeds
    per fold, so every fold is reproducible and independent of the fold order.
    """

    augment: PengAugment | None = None
    crop: int | None = None

    def __call__(self, x):
        import torch

        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        rng = np.random.default_rng(seed)
        arr = x.detach().permute(0, 2, 3, 1).clamp(0, 255).round().to(torch.uint8).cpu().numpy()
        if self.augment is not None:
            arr = self.augment(arr, rng=rng, batch=True)
        if self.crop is not None:
            arr = random_corner_crop(arr, int(self.crop), rng=rng)
        return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float().to(x.device)
