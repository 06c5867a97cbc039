"""Training glue for CropNet (Zhao, Chen & Luo 2021, §3.2.1 and §4.2) on top of the shared training loop.

- :class:`AugmentationModule` — the image augmentation of §3.2.1 (Fig. 2), applied in turn to each training image
  (torchvision ``transforms.v2`` on uint8 tensors): brightness, contrast and saturation changed to 20–180 %, hue
  shifted by up to ±0.5; greyscale with probability 0.2; horizontal flip with probability 0.5; rotation in
  [-15°, 15°].
- :class:`AdamPFactory` — the AdamP optimiser (Heo et al. 2021) of §4.2, from ``timm.optim``.
- :class:`CropNetFactory` — ``num_classes -> CropNet`` (or the without-CGPO ablation) for the CV runner.
- :func:`cropnet_config` — a :class:`~mer_utils.training.TrainConfig` with the paper's loss (label smoothing) and
  optimiser (AdamP) and the augmentation module.
- :func:`cropnet_loso` — one LOSO run of CropNet on one input image (ARS / RRS / a flow image) through
  :func:`mer_utils.training.cross_validate` (resumable, result store).

All are dataclasses so the result store can hash their settings (a changed setting starts a fresh result folder).
The paper gives no learning rate, weight decay, smoothing factor, batch size or epoch count; the defaults here
are our choices and the notebook says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

#: Input images the recipe ``zhao2021`` produces, by the names used in Table 4.
INPUT_ARRAYS = {"ars": "ars", "rrs": "rrs", "farneback": "flow_farneback", "tvl1": "flow_tvl1"}


@dataclass(frozen=True)
class AugmentationModule:
    """The image augmentation module of §3.2.1 (Fig. 2), applied independently to every image of a batch.

    Call it on a uint8 batch ``(B, 3, H, W)`` (training only); it returns a batch of the same shape and dtype.
    Random draws come from torch's global generator, which the training loop seeds per fold.
    """

    brightness: tuple = (0.2, 1.8)
    contrast: tuple = (0.2, 1.8)
    saturation: tuple = (0.2, 1.8)
    hue: tuple = (-0.5, 0.5)
    grayscale_p: float = 0.2
    flip_p: float = 0.5
    degrees: float = 15.0

    def transform(self):
        """The torchvision ``v2.Compose`` of the four steps, in the paper's order."""
        from torchvision.transforms import v2

        return v2.Compose([
            v2.ColorJitter(brightness=self.brightness, contrast=self.contrast, saturation=self.saturation,
                           hue=self.hue),
            v2.RandomGrayscale(p=self.grayscale_p),
            v2.RandomHorizontalFlip(p=self.flip_p),
            v2.RandomRotation(degrees=self.degrees),
        ])

    def __call__(self, batch):
        import torch

        if not torch.is_tensor(batch) or batch.ndim != 4 or batch.shape[1] != 3:
            shape = tuple(batch.shape) if torch.is_tensor(batch) else type(batch).__name__
            raise ValueError(f"AugmentationModule: expected an RGB batch (B, 3, H, W), got {shape}.")
        t = self.transform()
        return torch.stack([t(img) for img in batch])


@dataclass(frozen=True)
class AdamPFactory:
    """``params -> timm.optim.AdamP`` (§4.2: "AdamP is used as an optimizer"); lr and weight decay are our choice
    (AdamP's own examples use lr 1e-3 and weight decay 1e-2)."""

    lr: float = 1e-3
    weight_decay: float = 1e-2
    betas: tuple = (0.9, 0.999)

    def __call__(self, params):
        from timm.optim import AdamP

        return AdamP(params, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay)


@dataclass(frozen=True)
class CropNetFactory:
    """``num_classes -> CropNet`` (``cgpo=True``) or the Table 4 ablation without CGPO, with the extractor size
    (``width_mult``/``depth_mult`` None = the paper's ``rexnet_100``) and head settings of a profile."""

    cgpo: bool = True
    width_mult: float | None = None
    depth_mult: float | None = None
    head_channels: int = 320
    pretrained: Any = "auto"
    dropout: float = 0.0

    def __call__(self, num_classes: int):
        from mer_utils.models.zhao2021 import build_cropnet

        return build_cropnet(num_classes, cgpo=self.cgpo, width_mult=self.width_mult, depth_mult=self.depth_mult,
                             head_channels=self.head_channels, pretrained=self.pretrained, dropout=self.dropout)


def cropnet_config(epochs: int = 30, batch_size: int = 16, lr: float = 1e-3, weight_decay: float = 1e-2,
                   label_smoothing: float = 0.1, augment: bool = True, **kwargs):
    """The training settings of §4.2: label-smoothing cross-entropy, AdamP, the augmentation module of §3.2.1.

    The last epoch is kept (no model selection, so nothing is chosen on test subjects).
    """
    from mer_utils.training import TrainConfig

    return TrainConfig(epochs=epochs, batch_size=batch_size, optimizer=AdamPFactory(lr, weight_decay), lr=lr,
                       weight_decay=weight_decay, label_smoothing=label_smoothing,
                       augment=AugmentationModule() if augment else None, **kwargs)


def input_images(prepared: Any, kind: str) -> np.ndarray:
    """The images of one input kind (``ars``, ``rrs``, ``farneback``, ``tvl1``) from the ``zhao2021`` recipe's
    output, as a channels-first uint8 array ``(N, 3, H, W)`` for :class:`~mer_utils.training.ClipDataset`.

    ``prepared`` is what :func:`mer_utils.preprocess.prepare` returned (``.arrays``), or a dict of arrays.
    """
    arrays = getattr(prepared, "arrays", prepared)
    if kind not in INPUT_ARRAYS:
        raise ValueError(f"Unknown input {kind!r}: expected one of {sorted(INPUT_ARRAYS)} (Table 4).")
    name = INPUT_ARRAYS[kind]
    if name not in arrays:
        raise KeyError(f"The prepared data has no {name!r} array (has {sorted(arrays)}); run the zhao2021 recipe "
                       f"with flows=('farneback', 'tvl1') for the flow inputs.")
    a = np.asarray(arrays[name])
    if a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"{name}: expected (N, H, W, 3) images, got {a.shape}.")
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))
