"""Pipeline glue for Peng et al. 2018, "From Macro to Micro Expression Recognition" (MEGC 2018).

The transfer chain of Sec. III: ImageNet ResNet-10 -> fine-tune on macro-expression images (Sec. III-B)
-> fine-tune on micro-expression apex frames (Sec. III-C), evaluated by the MEGC 2018 tasks HDE and CDE on
objective classes I-V. What is specific to the paper lives here, on top of the shared loaders, the
``peng2018`` preprocessing recipe, the training loop and the cross-validation runner:

- :func:`balanced_resample` (class balancing by resampling), :class:`PengAugment` (colour shift, rotation,
  smoothing, each with p = 0.5), :func:`random_corner_crop` (CDE's 240 -> 224 corner crops);
- the macro set: :data:`MACRO_TO_OBJECTIVE`, :func:`load_macro_table`, :func:`prepare_macro_images`,
  :func:`random_test_split` (the paper's random 9:1 split);
- :class:`PengStage`, one fine-tuning stage as a per-fold method of :func:`mer_utils.training.cross_validate`
  (checkpoint-if-present; init from scratch, ImageNet weights or a previous stage), :data:`PROFILES`,
  :func:`make_stage`, :func:`run_stage`;
- the paper's tables beside a run: :func:`table_i`, :func:`hde_scores`, :func:`cde_scores`,
  :func:`compare_hde` (Table IV), :func:`compare_cde` (Tables V-VII), :func:`plot_confusions_vs_paper`
  (Tables II-III), :func:`ablation_table`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

__all__ = ["balanced_resample", "PengAugment", "random_corner_crop", "center_crop", "MACRO_AUGMENT",
           "HDE_AUGMENT", "CDE_AUGMENT", "OBJECTIVE_CLASSES", "MACRO_TO_OBJECTIVE",
           "load_emotion_folder", "load_macro_table", "prepare_macro_images", "random_test_split", "ImageInputs",
           "BatchAugment", "PengStage", "PROFILES", "cde_resize", "make_stage", "run_stage", "stage_checkpoint",
           "select_folds", "confusion_percent", "hde_scores", "cde_scores", "PAPER_METHOD", "table_i",
           "compare_hde", "compare_cde", "settings_vs_paper", "plot_confusions_vs_paper", "plot_examples",
           "augmentation_examples", "plot_image_row", "show_progress", "upright_labels", "hde_metrics", "cde_metrics", "ablation_table"]


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


# ==================================================================================================
# Macro-expression data (Sec. III-B)
# ==================================================================================================
#: The MEGC 2018 objective classes I-V (Davison et al. 2017, the paper's Table I) in label order.
OBJECTIVE_CLASSES = ("I", "II", "III", "IV", "V")

#: Macro-expression emotion names (FER2013, CK+, Oulu-CASIA, JAFFE, MUG spellings) -> objective class.
#: Davison et al.'s classes I-V are the AU groups of happiness (I: AU6/AU12), surprise (II: AU1+2, AU5, AU25),
#: anger (III: AU4, AU7, AU23), disgust (IV: AU9, AU10) and sadness (V: AU1, AU15); the paper keeps the macro
#: images "belonging to 5 types of facial expressions in MEGC 2018" (Sec. III-B). Fear, contempt and neutral
#: have no class among I-V and are dropped (listed by :func:`load_macro_table`).
MACRO_TO_OBJECTIVE = {
    "happy": "I", "happiness": "I", "ha": "I",
    "surprise": "II", "surprised": "II", "su": "II",
    "angry": "III", "anger": "III", "an": "III",
    "disgust": "IV", "disgusted": "IV", "di": "IV",
    "sad": "V", "sadness": "V", "sa": "V",
}

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm")


def load_emotion_folder(root, dataset: str = "macro_folder") -> "pd.DataFrame":
    """An image table (the loaders' FER2013 / CK+ format) from ``root/<emotion>/**/<image>`` folders.

    For the macro-expression sets the course has no loader for (Oulu-CASIA, JAFFE, MUG, Sec. III-B): export
    the chosen frames into one sub-folder per emotion (``happy/``, ``surprise/``, ``anger/``, ``disgust/``,
    ``sadness/``; other folders such as ``fear/`` are read and then dropped by :func:`load_macro_table`). The
    first path component below ``<emotion>`` is taken as the subject when present.
    """
    import pandas as pd
    from pathlib import Path

    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Macro-expression folder {root} not found; expected {root}/<emotion>/<images> "
                                "(e.g. happy/S01_001.png).")
    rows = []
    for emo_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(emo_dir.rglob("*")):
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                rel = path.relative_to(emo_dir)
                subject = rel.parts[0] if len(rel.parts) > 1 else None
                rows.append({"dataset": dataset, "image_id": f"{dataset}/{emo_dir.name}/{rel.as_posix()}",
                             "subject": subject, "path": str(path), "pixels": None, "label": -1,
                             "emotion": emo_dir.name.lower(), "usage": "all"})
    if not rows:
        raise ValueError(f"{root}: no images ({', '.join(IMAGE_EXTENSIONS)}) in emotion sub-folders.")
    return pd.DataFrame(rows)


def load_macro_table(sets: Sequence[str] = ("fer2013", "ckplus"), data_root=None, synthetic_size: str = "quick",
                     ck_last_k: int = 3, folder=None, verbose: bool = True):
    """The macro-expression training set of Sec. III-B as one image table labelled with objective classes I-V.

    ``sets`` names loaders of :func:`mer_utils.data.load_dataset` (``fer2013``, ``ckplus``: licensed copies
    under ``DATA_ROOT`` when present, else the synthetic sets in their formats); ``folder`` adds a folder of
    :func:`load_emotion_folder` (Oulu-CASIA / JAFFE / MUG exports). CK+ contributes the last ``ck_last_k``
    frames of each labelled sequence (the paper takes three). Returns ``(table, dropped)``: ``table`` has the
    image columns plus ``clip_uid`` (image id), ``subject_uid``, ``label`` (0..4) and ``label_name`` (I..V),
    ``dropped`` the images whose emotion has no class among I-V (with the reason).
    """
    import pandas as pd

    from ..data import load_dataset

    if isinstance(sets, str):
        sets = (sets,)
    parts = []
    for name in sets:
        if name not in ("fer2013", "ckplus"):
            raise ValueError(f"load_macro_table: unknown macro set {name!r}; expected 'fer2013' or 'ckplus' "
                             "(other sets: export them to emotion folders and pass folder=...).")
        opts = {"last_k": ck_last_k} if name == "ckplus" else {}
        parts.append(load_dataset(name, data_root=data_root, synthetic_size=synthetic_size, verbose=verbose, **opts))
    if folder is not None:
        parts.append(load_emotion_folder(folder))
    if not parts:
        raise ValueError("load_macro_table: no macro set given (sets=() and folder=None).")
    table = pd.concat(parts, ignore_index=True)
    emo = table["emotion"].astype(str).str.lower()
    cls = emo.map(MACRO_TO_OBJECTIVE)
    keep = cls.notna().to_numpy()
    dropped = table.loc[~keep, ["dataset", "image_id", "emotion"]].copy()
    dropped["reason"] = "emotion without an objective class among I-V (Sec. III-B keeps 5 types)"
    table = table.loc[keep].reset_index(drop=True)
    table["label_name"] = cls[keep].to_numpy()
    table["label"] = table["label_name"].map({c: i for i, c in enumerate(OBJECTIVE_CLASSES)}).astype("int64")
    table["clip_uid"] = table["image_id"].astype(str)
    subj = table["subject"].where(table["subject"].notna(), None)
    table["subject_uid"] = [f"{d}/{s}" if s is not None else f"{i}" for d, s, i in
                            zip(table["dataset"], subj, table["image_id"])]
    return table, dropped.reset_index(drop=True)


def prepare_macro_images(table, size: int, detector: str = "hog", crop: str = "landmarks", margin: float = 0.05,
                         cache: bool = True, progress: bool | None = None) -> np.ndarray:
    """Face crops of the macro images, grey uint8 ``(N, size, size)`` (Sec. III-B: face segmented and normalised
    to 224x224; the paper used AAM, here dlib's 68 landmarks through :func:`mer_utils.preprocess.align_image`).

    FER2013 images are already 48x48 face crops and are only resized; images read from files (CK+, emotion
    folders) are detected, aligned and cropped like the micro apex frames. Results are cached under
    ``cache_root()/peng2018/macro/`` keyed by the images and these parameters.
    """
    from tqdm.auto import tqdm

    from ..data import load_image
    from ..paths import cache_root
    from ..preprocess import align_image
    from ..results import params_hash

    progress = show_progress() if progress is None else progress
    size = int(size)
    if size < 32:
        raise ValueError(f"prepare_macro_images: size={size}; the ResNet-10 needs at least 32 pixels.")
    key = params_hash({"version": 1, "size": size, "detector": detector, "crop": crop, "margin": margin,
                       "ids": table["image_id"].astype(str).tolist(),
                       "paths": [str(p) if isinstance(p, str) else "" for p in table["path"]]})
    path = cache_root() / "peng2018" / "macro" / f"{key}.npz"
    if cache and path.exists():
        return np.load(path)["images"]
    out = np.zeros((len(table), size, size), np.uint8)
    found = 0
    for i, (_, row) in enumerate(tqdm(table.iterrows(), total=len(table), desc="macro faces", disable=not progress)):
        pixels = row.get("pixels")
        if isinstance(pixels, str) and pixels:
            out[i] = load_image(row, color=False, size=size)
            found += 1
        else:
            img = load_image(row, color=False)
            out[i], _, ok = align_image(img, (size, size), detector=detector, crop=crop, margin=margin)
            found += int(ok)
    if cache:
        import os

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, images=out)
        os.replace(tmp, path)
    return out


def random_test_split(labels: Sequence[int], test_fraction: float = 0.1, seed: int = 0, name: str = "random 90/10"):
    """The macro stage's split (Sec. III-B: "randomly selected 1/10 of the new dataset as test set"),
    stratified by class. Not subject-wise (FER2013 has no subject ids; the paper's split mixes subjects), so
    the macro test accuracy is optimistic; it only checks the first transfer step.
    """
    from sklearn.model_selection import train_test_split

    from ..data import Fold

    labels = np.asarray(labels)
    if not 0 < test_fraction < 1:
        raise ValueError(f"random_test_split: test_fraction={test_fraction}; expected 0 < value < 1.")
    idx = np.arange(labels.size)
    train, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)
    return Fold(name, np.sort(train), np.sort(test), subject_disjoint=False)


# ==================================================================================================
# Model inputs and batch augmentation for the shared training loop
# ==================================================================================================
class ImageInputs:
    """Model input of clip/image ``i``: the grey uint8 image repeated on 3 channels as a float tensor in [0, 255].

    The cvgj ResNet-10 normalises its input with its first BatchNorm (``data_bn``) instead of subtracting a
    mean image (REFERENCE.md §3), so no further scaling is done. Grey is repeated to 3 channels so that
    ImageNet (colour) weights fit the first convolution.
    """

    def __init__(self, images: np.ndarray, channels: int = 3):
        images = np.asarray(images)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"ImageInputs expects grey uint8 images (N, H, W), got {images.dtype} {images.shape}.")
        self.images, self.channels = images, int(channels)

    def __len__(self) -> int:
        return len(self.images)

    def __call__(self, i: int):
        import torch

        x = torch.from_numpy(np.ascontiguousarray(self.images[i])).float()[None]
        return x.expand(self.channels, -1, -1).contiguous()


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


# ==================================================================================================
# One training stage of the transfer chain, as a per-fold method of the shared CV runner
# ==================================================================================================
INITS = ("scratch", "imagenet", "checkpoint")


@dataclass(frozen=True)
class PengStage:
    """One fine-tuning stage of Sec. III (macro stage, HDE or CDE) as a ``fit_predict(fold, train_idx, test_idx,
    fold_dir)`` callable for :func:`mer_utils.training.cross_validate`.

    Per fold: build the ResNet-10, initialise it (``init``: ``"scratch"`` = random, ``"imagenet"`` = the
    weights file ``init_path`` when it loads, ``"checkpoint"`` = a previous stage's ``model.pt``, i.e. the
    macro -> micro transfer), balance the training clips by :func:`balanced_resample` (``per_class``; ``None``
    = up to the largest class), train with SGD (momentum) and a StepLR schedule through the shared
    :func:`mer_utils.training.fit` with :class:`BatchAugment`, save ``model.pt`` in the fold folder (reused when
    present: checkpoint-if-present, else train; ``save_model=False`` skips it for the many micro-stage folds,
which the runner resumes fold by fold anyway) and predict the test clips. No epoch is chosen on test data:
    the last epoch is used, as the paper reports results "after 50 epochs".

    The settings are dataclass fields (hashed into the result folder); the data are bound with :meth:`bind`.
    With ``crop`` set (CDE), training images are random corner crops and test images the centre crop of the
    ``test_data`` bound (pass the centre-cropped arrays there).
    """

    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 0.0
    step_size: int = 20
    gamma: float = 0.1
    per_class: int | None = None
    augment: PengAugment | None = None
    crop: int | None = None
    init: str = "scratch"
    init_path: str | None = None
    keep_head: bool = True
    save_model: bool = True

    def __post_init__(self):
        if self.init not in INITS:
            raise ValueError(f"PengStage.init={self.init!r}: expected one of {INITS}.")
        if self.init == "checkpoint" and not self.init_path:
            raise ValueError("PengStage(init='checkpoint') needs init_path (the macro stage's model.pt).")

    # data and run context are not settings: kept out of the dataclass fields (and so out of the hash)
    def bind(self, train_data, test_data=None, device="auto", progress: bool = True) -> "PengStage":
        """Attach the prepared datasets (``ClipDataset``) and the device; returns ``self``."""
        object.__setattr__(self, "_train_data", train_data)
        object.__setattr__(self, "_test_data", test_data if test_data is not None else train_data)
        object.__setattr__(self, "_device", device)
        object.__setattr__(self, "_progress", progress)
        return self

    def build_model(self, num_classes: int):
        """A fresh ResNet-10 with this stage's initialisation; returns ``(model, message)``."""
        import torch

        from ..models.peng2018 import ResNet10, load_imagenet_weights, replace_classifier

        model = ResNet10(num_classes)
        if self.init == "imagenet":
            return model, load_imagenet_weights(model, self.init_path).message
        if self.init == "checkpoint":
            payload = torch.load(self.init_path, map_location="cpu", weights_only=False)
            state = payload.get("state_dict", payload)
            own = model.state_dict()
            usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
            if not self.keep_head:
                usable = {k: v for k, v in usable.items() if not k.startswith("fc.")}
            model.load_state_dict(usable, strict=False)
            if "fc.weight" not in usable:
                replace_classifier(model, num_classes)
            return model, f"initialised {len(usable)} tensors from {self.init_path}"
        return model, "random initialisation"

    def train_config(self):
        """The :class:`mer_utils.training.TrainConfig` of this stage (SGD + momentum, StepLR per epoch)."""
        from functools import partial

        import torch

        from ..training import TrainConfig

        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, optimizer="sgd", lr=self.lr,
                           momentum=self.momentum, weight_decay=self.weight_decay,
                           scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=self.step_size,
                                             gamma=self.gamma),
                           augment=BatchAugment(self.augment, self.crop) if (self.augment or self.crop) else None,
                           balance="none", eval_batch_size=64)

    def __call__(self, fold, train_idx, test_idx, fold_dir):
        import pandas as pd
        import torch

        from ..device import resolve_device
        from ..training import fit, load_checkpoint, predict, save_checkpoint

        train_data = getattr(self, "_train_data", None)
        if train_data is None:
            raise RuntimeError("PengStage: call .bind(train_data, test_data, device) before cross_validate.")
        test_data, device = self._test_data, resolve_device(self._device)
        seed = int(torch.initial_seed()) % (2**31 - 1)  # cross_validate seeds each fold before calling us
        model, _ = self.build_model(train_data.num_classes)
        ckpt = Path(fold_dir) / "model.pt"
        config = self.train_config()
        if ckpt.exists():
            extra = load_checkpoint(model, ckpt)
            history = pd.DataFrame(extra.get("history", []))
            model = model.to(device)
        else:
            labels = train_data.labels
            idx = np.asarray(train_idx)[balanced_resample(labels[train_idx], self.per_class, seed)]
            res = fit(model, train_data, idx, config, device=device, seed=seed, progress=self._progress,
                      desc=f"{fold.name}")
            model, history = res.model, res.history
            if self.save_model:
                save_checkpoint(model, ckpt, history=history.to_dict(orient="records"), best_epoch=res.best_epoch,
                                n_train_resampled=int(idx.size))
        pred, probs, _ = predict(model, test_data, test_idx, 64, device, config.amp)
        return {"pred": pred, "scores": probs, "history": history}


# ==================================================================================================
# Profiles, running a stage, and the paper's tables
# ==================================================================================================
#: Notebook settings per profile. ``full`` = the paper as written (Sec. III-B/C): SGD with momentum 0.9;
#: macro stage batch 50, lr 0.01 "decreased 10 times after every 20 epochs" (StepLR step 20, gamma 0.1),
#: 100 epochs, 5,000 images per class; HDE batch 100, lr 1e-4 "decreased 2 times after every 10 epochs"
#: (step 10, gamma 0.5), 50 epochs, 200 images per class; CDE batch 10, lr 1e-3, step 20 gamma 0.1,
#: weight decay 0.05, classes resampled to equal counts, 240 -> 224 corner crops. The paper gives no epoch
#: count for CDE (we use HDE's 50) and states the momentum only for the macro stage (we keep 0.9).
#: ``quick`` / ``ci`` shrink the image size, the resampled class sizes and the epochs (and raise the HDE
#: learning rate, since a few epochs at 1e-4 barely move the weights) so that the chain runs on a CPU in minutes.
#: ``*_per_class`` = images per class after resampling (None = up to the largest class);
#: ``cde_folds_per_dataset`` = None runs every LOSO fold, k keeps the first k test subjects of each dataset.
PROFILES = {
    "full": {"image_size": 224, "macro_per_class": 5000, "macro_epochs": 100, "macro_batch": 50, "macro_lr": 0.01,
             "macro_step": 20, "hde_per_class": 200, "hde_epochs": 50, "hde_batch": 100, "hde_lr": 1e-4,
             "hde_step": 10, "cde_epochs": 50, "cde_batch": 10, "cde_lr": 1e-3, "cde_step": 20,
             "cde_weight_decay": 0.05, "cde_folds_per_dataset": None, "ablation": True, "synthetic_size": "paper"},
    "quick": {"image_size": 48, "macro_per_class": 100, "macro_epochs": 3, "macro_batch": 25, "macro_lr": 0.01,
              "macro_step": 2, "hde_per_class": 25, "hde_epochs": 4, "hde_batch": 15, "hde_lr": 1e-3,
              "hde_step": 3, "cde_epochs": 3, "cde_batch": 16, "cde_lr": 1e-3, "cde_step": 2,
              "cde_weight_decay": 0.05, "cde_folds_per_dataset": None, "ablation": True, "synthetic_size": "quick"},
    "ci": {"image_size": 32, "macro_per_class": 20, "macro_epochs": 1, "macro_batch": 25, "macro_lr": 0.01,
           "macro_step": 1, "hde_per_class": 8, "hde_epochs": 1, "hde_batch": 20, "hde_lr": 1e-3, "hde_step": 1,
           "cde_epochs": 1, "cde_batch": 10, "cde_lr": 1e-3, "cde_step": 1, "cde_weight_decay": 0.05,
           "cde_folds_per_dataset": 1, "ablation": True, "synthetic_size": "quick"},
}


def cde_resize(image_size: int) -> int:
    """Side of the CDE images before the random corner crop: 240 for 224 (Sec. III-C), the same ratio otherwise."""
    return int(round(image_size * 240 / 224))


def make_stage(task: str, settings, init: str = "scratch", init_path=None) -> PengStage:
    """The :class:`PengStage` of ``task`` (``"macro"``, ``"hde"``, ``"cde"``) from resolved profile ``settings``
    (an object or dict with the keys of :data:`PROFILES`)."""
    s = settings if isinstance(settings, dict) else vars(settings)
    if task == "macro":
        return PengStage(s["macro_epochs"], s["macro_batch"], s["macro_lr"], 0.9, 0.0, s["macro_step"], 0.1,
                         s["macro_per_class"], MACRO_AUGMENT, None, init, None if init_path is None else str(init_path))
    if task == "hde":
        return PengStage(s["hde_epochs"], s["hde_batch"], s["hde_lr"], 0.9, 0.0, s["hde_step"], 0.5,
                         s["hde_per_class"], HDE_AUGMENT, None, init, None if init_path is None else str(init_path),
                         save_model=False)
    if task == "cde":
        return PengStage(s["cde_epochs"], s["cde_batch"], s["cde_lr"], 0.9, s["cde_weight_decay"], s["cde_step"], 0.1,
                         None, None, int(s["image_size"]), init, None if init_path is None else str(init_path),
                         save_model=False)
    raise ValueError(f"make_stage: task={task!r}; expected 'macro', 'hde' or 'cde'.")


def show_progress() -> bool:
    """Progress bars on, unless ``TQDM_DISABLE`` is set (the course runner sets it for stored outputs)."""
    import os

    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("", "0", "false", "no")


def run_stage(stage: PengStage, train_data, folds, *, test_data=None, device="auto", progress: bool | None = None,
              **cv_kwargs):
    """Bind ``stage`` to the data and run it over ``folds`` with the shared :func:`cross_validate` (result
    store, resume of finished folds, per-fold seeds). ``cv_kwargs`` go to ``cross_validate`` (``notebook``,
    ``dataset``, ``protocol``, ``method_name``, ``params``, ``seed``, ``data_source``...)."""
    from ..training import CallableMethod, cross_validate

    progress = show_progress() if progress is None else progress
    stage.bind(train_data, test_data, device, progress)
    return cross_validate(CallableMethod(stage), train_data, folds, device=device, progress=progress, **cv_kwargs)


def stage_checkpoint(cv) -> Path:
    """The ``model.pt`` of a one-fold stage run (the macro stage), to initialise the next stage."""
    paths = sorted(Path(cv.run_dir).glob("folds/*/model.pt"))
    if len(paths) != 1:
        raise FileNotFoundError(f"{cv.run_dir}: expected one fold checkpoint (folds/*/model.pt), found {len(paths)}.")
    return paths[0]


def select_folds(folds, table, per_dataset: int | None):
    """Keep the first ``per_dataset`` LOSO folds of each dataset (all when ``None``); for the tiny ``ci`` profile."""
    if per_dataset is None:
        return list(folds)
    counts, keep = {}, []
    ds = table["dataset"].to_numpy()
    for f in folds:
        d = ds[np.asarray(f.test)[0]]
        if counts.get(d, 0) < per_dataset:
            keep.append(f)
            counts[d] = counts.get(d, 0) + 1
    return keep


def confusion_percent(predictions, classes: Sequence[str] = OBJECTIVE_CLASSES, fold: str | None = None):
    """Row-normalised confusion matrix in percent (the paper's Tables II-III) as a DataFrame (rows = true)."""
    import pandas as pd

    from ..evaluation import confusion

    p = predictions if fold is None else predictions[predictions["fold"] == fold]
    if len(p) == 0:
        raise ValueError(f"confusion_percent: no predictions for fold {fold!r}.")
    m = confusion(p["true"].to_numpy(), p["pred"].to_numpy(), list(range(len(classes))), normalize="true") * 100
    return pd.DataFrame(m, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="pred"))


def hde_scores(cv) -> "pd.DataFrame":
    """WAR and UAR of each HDE fold and their mean (the paper's Table IV averages the two folds), plus the
    pooled score of both folds for reference."""
    import pandas as pd

    from ..evaluation import compute_metrics, per_fold_metrics

    k = len(cv.class_names)
    pf = per_fold_metrics(cv.predictions, k)[["fold", "war", "uar", "uf1", "n"]]
    mean = {"fold": "mean of the two folds (Table IV)", **pf[["war", "uar", "uf1"]].mean().to_dict(), "n": pf["n"].sum()}
    pooled = {"fold": "pooled (both folds)", **compute_metrics(cv.predictions["true"], cv.predictions["pred"],
                                                               list(range(k)))}
    return pd.concat([pf, pd.DataFrame([mean, pooled])[pf.columns]], ignore_index=True)


def cde_scores(cv) -> "pd.DataFrame":
    """Accuracy (WAR) and F1 (UF1) of the CDE LOSO run on SAMM, CASME II (Tables V-VI) and the composite
    (Table VII); per-dataset scores come from the composite run's predictions (pooled over its folds)."""
    import pandas as pd

    m = cv.metrics
    rows = [{"dataset": d, **{k: m["per_dataset"][d][k] for k in ("war", "uf1", "uar", "n")}}
            for d in ("samm", "casme2") if d in m.get("per_dataset", {})]
    rows.append({"dataset": "composite", **{k: m["pooled"][k] for k in ("war", "uf1", "uar", "n")}})
    return pd.DataFrame(rows)


PAPER_METHOD = "ResNet-10 (ImageNet -> macro -> micro)"


def table_i(table) -> "pd.DataFrame":
    """Clips per objective class and dataset of this run beside the paper's Table I (from
    :data:`mer_utils.data.published.PROTOCOL_COUNTS`)."""
    import pandas as pd

    from ..data.published import PROTOCOL_COUNTS

    rows = []
    for ds in ("casme2", "samm"):
        part = table[table["dataset"] == ds]
        counts = part["label_name"].value_counts()
        paper = PROTOCOL_COUNTS["megc2018_objective"][ds]
        rows.append({"dataset": ds, "source": "paper (Table I)", **paper["classes"], "total": paper["clips"],
                     "subjects": paper["subjects"]})
        rows.append({"dataset": ds, "source": "this run", **{c: int(counts.get(c, 0)) for c in OBJECTIVE_CLASSES},
                     "total": len(part), "subjects": part["subject_uid"].nunique()})
    return pd.DataFrame(rows).set_index(["dataset", "source"])


def compare_hde(runs) -> "pd.DataFrame":
    """Table IV: mean WAR / UAR of the two HDE folds for the paper's rows and for each run in ``runs``
    (``{label: CVResult}``), plus each fold's WAR / UAR (the paper's Sec. IV-A text)."""
    import pandas as pd

    from ..results import paper_table

    paper = paper_table("peng2018", "IV").pivot_table(index="method", columns="metric", values="value", sort=False)
    folds = paper_table("peng2018", "hde_folds").pivot_table(index="dataset", columns="metric", values="value")
    rows = [{"method": m, "source": "paper", "WAR": r["war"], "UAR": r["uar"]} for m, r in paper.iterrows()]
    for m in rows:
        if m["method"] == PAPER_METHOD:
            for d, key in (("casme2->samm", "CASME II -> SAMM"), ("samm->casme2", "SAMM -> CASME II")):
                m[f"WAR {key}"], m[f"UAR {key}"] = folds.loc[d, "war"], folds.loc[d, "uar"]
    for label, cv in runs.items():
        sc = hde_scores(cv).set_index("fold")
        row = {"method": label, "source": "this run", "WAR": sc.loc["mean of the two folds (Table IV)", "war"],
               "UAR": sc.loc["mean of the two folds (Table IV)", "uar"]}
        for fold in sc.index[:2]:
            key = "CASME II -> SAMM" if fold.startswith("train casme2") else "SAMM -> CASME II"
            row[f"WAR {key}"], row[f"UAR {key}"] = sc.loc[fold, "war"], sc.loc[fold, "uar"]
        rows.append(row)
    return pd.DataFrame(rows).set_index(["method", "source"])


def compare_cde(runs) -> "pd.DataFrame":
    """Tables V (SAMM), VI (CASME II) and VII (composite): accuracy and F1 of the paper's rows and of each
    run in ``runs`` (``{label: CVResult}``); this run's F1 is UF1 (macro F1), the paper does not say which."""
    import pandas as pd

    from ..results import paper_table

    rows = []
    for tid, ds in (("V", "samm"), ("VI", "casme2"), ("VII", "composite")):
        p = paper_table("peng2018", tid).pivot_table(index="method", columns="metric", values="value", sort=False)
        for m, r in p.iterrows():
            rows.append({"table": tid, "dataset": ds, "method": m, "source": "paper", "accuracy": r["war"],
                         "F1": r["f1"]})
        for label, cv in runs.items():
            sc = cde_scores(cv).set_index("dataset")
            if ds in sc.index:
                rows.append({"table": tid, "dataset": ds, "method": label, "source": "this run",
                             "accuracy": sc.loc[ds, "war"], "F1": sc.loc[ds, "uf1"]})
    return pd.DataFrame(rows).set_index(["table", "dataset", "method", "source"])


def settings_vs_paper(settings) -> "pd.DataFrame":
    """This run's settings beside the paper's (``PROFILES['full']``), with a flag where they differ."""
    import pandas as pd

    s = settings if isinstance(settings, dict) else vars(settings)
    full = PROFILES["full"]
    return pd.DataFrame([{"setting": k, "paper (full)": repr(full[k]), "this run": repr(s[k]),
                          "differs": s[k] != full[k]} for k in full]).set_index("setting")


def upright_labels(ax):
    """Horizontal y tick labels (roman class names read badly when rotated); returns ``ax``."""
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    return ax


def plot_confusions_vs_paper(runs, axes=None):
    """Tables II and III as heatmaps: the paper's row-% confusion of each HDE fold above this run's."""
    import matplotlib.pyplot as plt

    from ..plots import plot_confusion
    from ..results import paper_table

    labels = list(runs)
    if axes is None:
        _, axes = plt.subplots(1 + len(labels), 2, figsize=(9, 4 * (1 + len(labels))))
    axes = np.atleast_2d(axes)
    for j, (tid, fold_prefix) in enumerate((("II", "train casme2"), ("III", "train samm"))):
        upright_labels(plot_confusion(paper_table("peng2018", tid).to_numpy() * 100, list(OBJECTIVE_CLASSES),
                                      normalize="true", ax=axes[0, j], fmt=".0f", title=f"paper, Table {tid}"))
        for i, label in enumerate(labels, start=1):
            p = runs[label].predictions
            p = p[p["fold"].str.startswith(fold_prefix)]
            upright_labels(plot_confusion(p, list(OBJECTIVE_CLASSES), normalize="true", ax=axes[i, j],
                                          title=f"{label}: {p['fold'].iloc[0]}"))
    plt.tight_layout()
    return axes


def plot_examples(images: np.ndarray, labels: Sequence[int], classes: Sequence[str] = OBJECTIVE_CLASSES,
                  per_class: int = 6, title: str | None = None):
    """A grid of the first ``per_class`` grey images of each class (one row per class)."""
    import matplotlib.pyplot as plt

    labels = np.asarray(labels)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.3 * per_class, 1.4 * len(classes)), squeeze=False)
    for r, name in enumerate(classes):
        idx = np.flatnonzero(labels == r)[:per_class]
        for c in range(per_class):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(idx):
                ax.imshow(images[idx[c]], cmap="gray", vmin=0, vmax=255)
        axes[r, 0].set_title(f"class {name}", fontsize=8, loc="left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes


def augmentation_examples(image: np.ndarray, n: int = 5, seed: int = 0, crop: int | None = None) -> dict:
    """``{name: image}``: the original, ``n`` draws of the macro-stage augmentation (Sec. III-B), one of each
    transformation alone at its maximum probability, and (``crop``) the four CDE corner crops of the image."""
    rng = np.random.default_rng(seed)
    out = {"original": image}
    for k in range(n):
        out[f"macro aug. {k + 1}"] = MACRO_AUGMENT(image, rng=rng, batch=False)
    out["colour shift only"] = PengAugment(20, 0, 0, 1.0)(image, rng=rng, batch=False)
    out["rotation only"] = PengAugment(0, 10, 0, 1.0)(image, rng=rng, batch=False)
    out["smoothing only"] = PengAugment(0, 0, 6, 1.0)(image, rng=rng, batch=False)
    if crop is not None:
        h, w = image.shape[:2]
        for name, (t, l) in {"crop top-left": (0, 0), "crop top-right": (0, w - crop),
                             "crop bottom-left": (h - crop, 0), "crop bottom-right": (h - crop, w - crop)}.items():
            out[name] = image[t:t + crop, l:l + crop]
    return out


def plot_image_row(images: dict, size: float = 1.6, title: str | None = None):
    """Show ``{name: grey image}`` side by side (images may differ in size), names as titles."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size + 0.4), squeeze=False)
    for ax, (name, img) in zip(axes[0], images.items()):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(name, fontsize=7)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return axes[0]


def _fold_key(fold: str) -> str:
    """``'train casme2 / test samm'`` -> ``'casme2_to_samm'``."""
    parts = fold.replace("train ", "").replace("test ", "").split(" / ")
    return "_to_".join(p.strip() for p in parts)


def hde_metrics(cv) -> dict:
    """HDE numbers to record: mean WAR / UAR / UF1 of the two folds and each fold's WAR / UAR."""
    sc = hde_scores(cv)
    out = {k: float(sc[k].iloc[2]) for k in ("war", "uar", "uf1")}
    for _, r in sc.iloc[:2].iterrows():
        key = _fold_key(r["fold"])
        out[f"war_{key}"], out[f"uar_{key}"] = float(r["war"]), float(r["uar"])
    return out


def cde_metrics(cv) -> dict:
    """CDE numbers to record: accuracy and F1 (UF1) per dataset and for the composite."""
    return {r["dataset"]: {"accuracy": float(r["war"]), "f1": float(r["uf1"])} for _, r in cde_scores(cv).iterrows()}


def ablation_table(hde: dict, cde: dict) -> "pd.DataFrame":
    """WAR / UAR / UF1 of every HDE run (mean of the two folds) and CDE run (composite), one row per training."""
    import pandas as pd

    rows = [{"task": "HDE (mean of the two folds)", "training": k, **{m.upper(): v for m, v in hde_metrics(cv).items()
                                                                      if m in ("war", "uar", "uf1")}}
            for k, cv in hde.items()]
    rows += [{"task": "CDE (composite, pooled)", "training": k,
              **{m.upper(): cv.metrics["pooled"][m] for m in ("war", "uar", "uf1")}} for k, cv in cde.items()]
    return pd.DataFrame(rows).set_index(["task", "training"])
