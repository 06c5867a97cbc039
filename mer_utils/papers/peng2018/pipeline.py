"""The transfer chain of Peng et al. 2018, "From Macro to Micro Expression Recognition" (MEGC 2018), Sec. III:
ImageNet ResNet-10 -> fine-tune on macro-expression images (Sec. III-B) -> fine-tune on micro-expression apex
frames (Sec. III-C), evaluated by the MEGC 2018 tasks HDE and CDE on objective classes I-V.

- :class:`ImageInputs`, the model input of one grey image;
- :class:`PengStage`, one fine-tuning stage as a per-fold method of :func:`mer_utils.training.cross_validate`
  (checkpoint-if-present; init from scratch, ImageNet weights or a previous stage), :data:`PROFILES`,
  :func:`make_stage`, :func:`run_stage`, :func:`stage_checkpoint`, :func:`select_folds`.

Beside it in this folder: the resampling and augmentation (:mod:`~.augment`), the macro set (:mod:`~.macro`) and
the paper's tables beside a run (:mod:`~.report`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .augment import HDE_AUGMENT, MACRO_AUGMENT, BatchAugment, PengAugment, balanced_resample

#: Micro-stage inputs: ``"apex"`` = the apex frame (the paper, Sec. III-C); ``"difference"`` = apex - onset
#: (:func:`difference_image`), the quick profile's view of the movement.
MICRO_INPUTS = ("apex", "difference")
#: Grey levels per unit of apex - onset difference in :func:`difference_image` (|differences| above 127/4
#: saturate; the synthetic and real micro-movements change most pixels by a few grey levels).
DIFFERENCE_GAIN = 4.0
#: HDE augmentation on difference images: the paper's rotation (8 degrees); its colour shift is dropped
#: because the same shift added to apex and onset cancels in their difference.
HDE_DIFFERENCE_AUGMENT = PengAugment(color_shift=0, max_rotation=8.0, max_smoothing=0, p=0.5)


def difference_image(apex: np.ndarray, onset: np.ndarray, gain: float = DIFFERENCE_GAIN) -> np.ndarray:
    """The movement from onset to apex as a grey uint8 image: ``128 + gain * (apex - onset)``, clipped.

    Peng et al. feed the apex frame alone (Sec. III-C); on the quick profile's small faces a micro-movement
    shifts an edge by about a pixel, which the apex frame alone barely shows, while the difference of the two
    aligned frames (the same landmark transform, :class:`~.recipe.Peng2018Params` ``onset=True``) isolates it.
    Stored as uint8 so the paper's augmentations (rotation, corner crops) apply unchanged: a rotation or crop
    of the difference is the difference of the rotated or cropped frames.
    """
    apex, onset = np.asarray(apex), np.asarray(onset)
    if apex.shape != onset.shape:
        raise ValueError(f"difference_image: apex {apex.shape} and onset {onset.shape} differ; prepare both with "
                         "the same recipe parameters (peng2018 with onset=True).")
    diff = apex.astype(np.float32) - onset.astype(np.float32)
    return np.clip(np.rint(128.0 + float(gain) * diff), 0, 255).astype(np.uint8)


def micro_images(arrays, micro_input: str = "apex") -> np.ndarray:
    """The micro-stage images of a ``peng2018`` preparation (``prep.arrays``): the apex frames, or
    :func:`difference_image` of apex and onset (needs the recipe's ``onset=True``)."""
    if micro_input not in MICRO_INPUTS:
        raise ValueError(f"micro_input={micro_input!r}: expected one of {MICRO_INPUTS}.")
    if micro_input == "apex":
        return np.asarray(arrays["apex"])
    if "onset" not in arrays:
        raise KeyError("micro_input='difference' needs the onset frames: prepare the 'peng2018' recipe with "
                       "params={'onset': True}.")
    return difference_image(arrays["apex"], arrays["onset"])


# ==================================================================================================
# Model inputs for the shared training loop
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

        from .model import ResNet10, load_imagenet_weights, replace_classifier

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

        from ...training import TrainConfig

        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, optimizer="sgd", lr=self.lr,
                           momentum=self.momentum, weight_decay=self.weight_decay,
                           scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=self.step_size,
                                             gamma=self.gamma),
                           augment=BatchAugment(self.augment, self.crop) if (self.augment or self.crop) else None,
                           balance="none", eval_batch_size=64)

    def __call__(self, fold, train_idx, test_idx, fold_dir):
        import pandas as pd
        import torch

        from ...device import resolve_device
        from ...training import fit, load_checkpoint, predict, save_checkpoint

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
#: ``quick`` / ``ci`` shrink the image size, the resampled class sizes and the epochs so that the chain runs on a
#: CPU in minutes, and feed the micro stages the apex - onset difference (``micro_input="difference"``,
#: :func:`difference_image`): at 48 pixels the apex frame alone carries a micro-movement of about a pixel.
#: With the difference input and few epochs they raise the micro learning rates to 0.01 (a few epochs at 1e-4
#: barely move the weights) and drop the HDE colour shift (it cancels in a difference).
#: ``*_per_class`` = images per class after resampling (None = up to the largest class);
#: ``cde_folds_per_dataset`` = None runs every LOSO fold, k keeps the first k test subjects of each dataset (in each
#: CDE experiment: ``quick`` = 2 SAMM + 2 CASME II + 4 composite folds). ``cde_design``: Tables V-VII as three
#: separate LOSO experiments (``"separate"``, the paper) or from one composite run (``"composite"``, MEGC 2019).
PROFILES = {
    "full": {"image_size": 224, "micro_input": "apex", "macro_per_class": 5000, "macro_epochs": 100,
             "macro_batch": 50, "macro_lr": 0.01, "macro_step": 20, "hde_per_class": 200, "hde_epochs": 50,
             "hde_batch": 100, "hde_lr": 1e-4, "hde_step": 10, "cde_epochs": 50, "cde_batch": 10, "cde_lr": 1e-3,
             "cde_step": 20, "cde_weight_decay": 0.05, "cde_folds_per_dataset": None, "cde_design": "separate", "ablation": True,
             "synthetic_size": "paper"},
    "quick": {"image_size": 48, "micro_input": "difference", "macro_per_class": 100, "macro_epochs": 3,
              "macro_batch": 25, "macro_lr": 0.01, "macro_step": 2, "hde_per_class": 10, "hde_epochs": 12,
              "hde_batch": 16, "hde_lr": 0.01, "hde_step": 8, "cde_epochs": 5, "cde_batch": 16, "cde_lr": 0.01,
              "cde_step": 4, "cde_weight_decay": 0.05, "cde_folds_per_dataset": 2, "cde_design": "separate", "ablation": True,
              "synthetic_size": "quick"},
    "ci": {"image_size": 32, "micro_input": "difference", "macro_per_class": 20, "macro_epochs": 1,
           "macro_batch": 25, "macro_lr": 0.01, "macro_step": 1, "hde_per_class": 8, "hde_epochs": 1,
           "hde_batch": 20, "hde_lr": 1e-3, "hde_step": 1, "cde_epochs": 1, "cde_batch": 10, "cde_lr": 1e-3,
           "cde_step": 1, "cde_weight_decay": 0.05, "cde_folds_per_dataset": 1, "cde_design": "separate", "ablation": True,
           "synthetic_size": "quick"},
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
        augment = HDE_AUGMENT if s.get("micro_input", "apex") == "apex" else HDE_DIFFERENCE_AUGMENT
        return PengStage(s["hde_epochs"], s["hde_batch"], s["hde_lr"], 0.9, 0.0, s["hde_step"], 0.5,
                         s["hde_per_class"], augment, None, init, None if init_path is None else str(init_path),
                         save_model=False)
    if task == "cde":
        return PengStage(s["cde_epochs"], s["cde_batch"], s["cde_lr"], 0.9, s["cde_weight_decay"], s["cde_step"], 0.1,
                         None, None, int(s["image_size"]), init, None if init_path is None else str(init_path),
                         save_model=False)
    raise ValueError(f"make_stage: task={task!r}; expected 'macro', 'hde' or 'cde'.")


def show_progress() -> bool:
    """Progress bars on, unless ``TQDM_DISABLE`` is on (:func:`mer_utils.paths.env_flag`; the course runner sets it
    for stored outputs)."""
    from ...paths import env_flag

    return not env_flag("TQDM_DISABLE", yes="no progress bars", no="progress bars")


def run_stage(stage: PengStage, train_data, folds, *, test_data=None, device="auto", progress: bool | None = None,
              **cv_kwargs):
    """Bind ``stage`` to the data and run it over ``folds`` with the shared :func:`cross_validate` (result
    store, resume of finished folds, per-fold seeds). ``cv_kwargs`` go to ``cross_validate`` (``notebook``,
    ``dataset``, ``protocol``, ``method_name``, ``params``, ``seed``, ``data_source``...)."""
    from ...training import CallableMethod, cross_validate

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
