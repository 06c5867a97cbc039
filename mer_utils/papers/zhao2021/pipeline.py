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
INPUT_ARRAYS = {"ars": "ars", "rrs": "rrs", "farneback": "flow_farneback", "tvl1": "flow_tvl1",
                "frame": "key_frame"}

#: Notebook 40's profiles. ``full`` is the paper's network (``rexnet_100``, 320x320 inputs, ImageNet
#: normalisation, the augmentation module of Fig. 2) with our choice of epochs (the paper gives none). ``quick`` /
#: ``ci`` change how the network sees the data so that a randomly initialised CropNet learns on a CPU in about a
#: minute (notebook 40, "How this run differs"):
#:
#: - ``register="euclidean"``: the key frames are registered to the start frame (rigid ECC) before the residual
#:   sums, so head drift does not fill ARS / RRS with edges;
#: - ``compute_size`` 160: the residual sums are computed where a micro-movement spans pixels, then area-averaged
#:   to the network's ``image_size`` (32), which keeps their energy;
#: - a narrower, shallower ReXNet (width x0.25, depth x0.35, stages up to stride ``max_reduction`` 4) with the
#:   head's adaptive pooling to ``pool_size`` 2 (Fig. 3 gives no size) so the features keep where on the face
#:   the residual is; ``input_norm="pixel"``: per-pixel standardisation by the training fold's images instead of
#:   ImageNet's statistics (there are no ImageNet weights here);
#: - horizontal flips only (``augment="flip"``; the colour and rotation jitter of Fig. 2 needs more epochs than the
#:   budget has), class-balanced batches, dropout 0.2, lr 2e-3;
#: - the ablations run on the MEGC 2019 composite (108 clips: the power to tell two inputs apart), CASME II runs
#:   ARS only; the N_key sweep, RRS and the flow inputs run in ``full``. ``ci`` also runs only the first folds.
PROFILES = {
    "ci": dict(synthetic_size="quick", compute_size=96, image_size=32, width_mult=0.25, depth_mult=0.35,
               max_reduction=4, pool_size=2, head_channels=16, input_norm="pixel", register="euclidean",
               augment="flip", balance="sampler", dropout=0.2, epochs=1, composite_epochs=1, batch_size=16, lr=2e-3,
               n_key_grid=[5], threads=1, max_folds=2, casme2_inputs=["ars"], composite_inputs=["ars", "frame"],
               composite_cgpo_ablation=True, flows=["farneback"], bn_momentum=None),
    "quick": dict(synthetic_size="quick", compute_size=160, image_size=32, width_mult=0.25, depth_mult=0.35,
                  max_reduction=4, pool_size=2, head_channels=64, input_norm="pixel", register="euclidean",
                  augment="flip", balance="sampler", dropout=0.2, epochs=12, composite_epochs=5, batch_size=16,
                  lr=2e-3, n_key_grid=[5], threads=1, max_folds=None, casme2_inputs=["ars"],
                  composite_inputs=["ars", "frame"], composite_cgpo_ablation=True, flows=["farneback"],
                  bn_momentum=None),
    "full": dict(synthetic_size="paper", compute_size=320, image_size=320, width_mult=1.0, depth_mult=1.0,
                 max_reduction=None, pool_size=1, head_channels=320, input_norm="imagenet", register="none",
                 augment="paper", balance="none", dropout=0.0, epochs=30, composite_epochs=30, batch_size=16, lr=1e-3,
                 n_key_grid=[1, 3, 5, 7, 9], threads=None, max_folds=None,
                 casme2_inputs=["ars", "rrs", "farneback", "tvl1", "frame"], composite_inputs=["ars", "rrs", "frame"],
                 composite_cgpo_ablation=True, flows=["farneback", "tvl1"], bn_momentum=0.1),
}


@dataclass(frozen=True)
class FlipAugmentation:
    """Horizontal flip with probability ``p``, drawn per image (vectorised; torch's global generator, seeded per
    fold by the training loop): the one step of the augmentation module of Fig. 2 that the CPU profiles keep."""

    p: float = 0.5

    def __call__(self, batch):
        import torch

        if not torch.is_tensor(batch) or batch.ndim != 4:
            shape = tuple(batch.shape) if torch.is_tensor(batch) else type(batch).__name__
            raise ValueError(f"FlipAugmentation: expected a batch (B, C, H, W), got {shape}.")
        flip = (torch.rand(batch.shape[0]) < self.p).to(batch.device)
        return torch.where(flip.view(-1, 1, 1, 1), batch.flip(-1), batch)


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
    (``width_mult``/``depth_mult`` None or 1 = the paper's ``rexnet_100``) and head settings of a profile;
    ``channels_last`` stores the weights channels-last (faster on CPU, same numbers); ``bn_momentum`` None makes
    BatchNorm's running statistics a plain average over training (for short CPU runs, see
    :func:`mer_utils.papers.zhao2021.model.set_batchnorm_momentum`)."""

    cgpo: bool = True
    width_mult: float | None = None
    depth_mult: float | None = None
    head_channels: int = 320
    pretrained: Any = "auto"
    dropout: float = 0.0
    channels_last: bool = True
    bn_momentum: float | None = 0.1
    max_reduction: int | None = None
    pool_size: int = 1
    input_norm: str = "imagenet"

    def __call__(self, num_classes: int):
        from .model import build_cropnet, set_batchnorm_momentum, use_channels_last

        model = build_cropnet(num_classes, cgpo=self.cgpo, width_mult=self.width_mult, depth_mult=self.depth_mult,
                              head_channels=self.head_channels, pretrained=self.pretrained, dropout=self.dropout,
                              max_reduction=self.max_reduction, pool_size=self.pool_size,
                              input_norm=self.input_norm)
        set_batchnorm_momentum(model, self.bn_momentum)
        return use_channels_last(model) if self.channels_last else model


AUGMENTATIONS = {"paper": AugmentationModule, "flip": FlipAugmentation}


def cropnet_config(epochs: int = 30, batch_size: int = 16, lr: float = 1e-3, weight_decay: float = 1e-2,
                   label_smoothing: float = 0.1, augment: bool | str | None = "paper", **kwargs):
    """The training settings of §4.2: label-smoothing cross-entropy, AdamP, the augmentation module of §3.2.1.

    ``augment``: ``"paper"`` (or ``True``) the module of Fig. 2, ``"flip"`` horizontal flips only (the CPU
    profiles), ``None`` / ``False`` none. Other keywords (``balance``...) go to ``TrainConfig``. The last epoch is
    kept (no model selection, so nothing is chosen on test subjects).
    """
    from mer_utils.training import TrainConfig

    if augment is True:
        augment = "paper"
    if augment not in (None, False) and augment not in AUGMENTATIONS:
        raise ValueError(f"augment={augment!r}: expected one of {sorted(AUGMENTATIONS)}, True, False or None.")
    return TrainConfig(epochs=epochs, batch_size=batch_size, optimizer=AdamPFactory(lr, weight_decay), lr=lr,
                       weight_decay=weight_decay, label_smoothing=label_smoothing,
                       augment=AUGMENTATIONS[augment]() if augment else None, **kwargs)


def input_images(prepared: Any, kind: str, size: int | None = None) -> np.ndarray:
    """The images of one input kind (``ars``, ``rrs``, ``farneback``, ``tvl1``, ``frame`` = the last key frame
    itself) from the ``zhao2021`` recipe's output, as a channels-first uint8 array ``(N, 3, H, W)`` for
    :class:`~mer_utils.training.ClipDataset`.

    ``prepared`` is what :func:`mer_utils.preprocess.prepare` returned (``.arrays``), or a dict of arrays.
    ``size``: resize to ``size`` x ``size`` by area averaging (``cv2.INTER_AREA``: each output pixel is the mean
    of the residuals it covers, so a sum computed at a larger size keeps its energy); ``None`` keeps the size.
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
    if size is not None and a.shape[1:3] != (int(size), int(size)):
        import cv2

        if int(size) < 2:
            raise ValueError(f"input_images: size should be >= 2 pixels, got {size}.")
        a = np.stack([cv2.resize(im, (int(size), int(size)), interpolation=cv2.INTER_AREA) for im in a])
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def prepare_inputs(table, size: int, n_key: int = 5, flows: Sequence[str] = ("farneback", "tvl1"),
                   flow_size: int | None = None, progress: bool = True, workers: int | None = None, **params):
    """Run the shared ``zhao2021`` recipe (segment eq. 1–2, dlib landmarks and crop, key frames eq. 3–4, ARS eq. 5,
    RRS eq. 6–7, optional flow images) at ``size`` x ``size``; returns :class:`mer_utils.preprocess.Prepared`.

    ``flow_size`` (default: ``min(size, 160)``, the recipe's) is where the flow is computed before resizing.
    """
    from mer_utils.preprocess import prepare

    flows = tuple(flows)
    p = {"size": (int(size), int(size)), "n_key": int(n_key), "flows": flows,
         "flow_size": int(flow_size or min(int(size), 160)), **params}
    return prepare("zhao2021", table, params=p, progress=progress, workers=workers)


def cropnet_loso(table, images: np.ndarray, factory: CropNetFactory, config, *, notebook: str, dataset: str,
                 protocol: str, method_name: str, params: dict | None = None, seed: int = 0, device: Any = "auto",
                 data_source: str | None = None, progress: bool = True, max_folds: int | None = None,
                 save_model: bool = False):
    """One leave-one-subject-out run of CropNet on ``images`` ``(N, 3, S, S)`` uint8 (row i = ``table`` row i)
    with the shared resumable CV runner; returns its :class:`~mer_utils.training.CVResult` (pooled metrics,
    per-clip predictions, result folder). The protocol's full class list comes from ``table.attrs["classes"]``
    when present. ``save_model``: keep each fold's model (29 MB at the paper's size, ~540 folds in ``full``:
    off by default, nothing reads them; finished folds are reused from their stored predictions)."""
    from mer_utils.data import leave_one_subject_out
    from mer_utils.training import ClipDataset, TorchMethod, cross_validate

    classes = table.attrs.get("classes")
    data = ClipDataset(table.reset_index(drop=True), images, class_names=classes)
    folds = leave_one_subject_out(table.reset_index(drop=True))
    return cross_validate(TorchMethod(factory, config, save_model=save_model), data, folds, notebook=notebook, dataset=dataset,
                          protocol=protocol, method_name=method_name, params=params, class_names=data.class_names,
                          seed=seed, device=device, data_source=data_source, progress=progress, max_folds=max_folds)


def compare_runs(paper_rows, runs: dict, label: str = "this run"):
    """Paper rows beside this run's numbers, one run per paper method: ``runs`` maps a paper ``method`` name to a
    :func:`mer_utils.evaluation.summarize` dict (``CVResult.metrics``). Methods without a run are left out."""
    import pandas as pd

    from mer_utils.paper_tables import compare_to_paper

    parts = [compare_to_paper(paper_rows[paper_rows["method"] == m], summary, label) for m, summary in runs.items()]
    if not parts:
        raise ValueError("compare_runs: no runs given.")
    missing = [m for m in runs if m not in set(paper_rows["method"])]
    if missing:
        raise KeyError(f"compare_runs: {missing} are not methods of this paper table; it has "
                       f"{sorted(set(paper_rows['method']))}.")
    return pd.concat(parts, ignore_index=True)


def claims_table(claims: Sequence[tuple], labels) -> "Any":
    """The claims table that closes notebook 40's results: one :func:`mer_utils.evaluation.claim_row` per
    ``(claim, paper's evidence, method run, ablation run, expected_sign)``, indexed by claim: the paper's evidence
    (column ``paper``), UAR of both (pooled over folds), their difference, its paired subject-bootstrap 95%
    interval on the same clips and the verdict. Runs are ``CVResult`` objects or prediction tables."""
    import pandas as pd

    from mer_utils.evaluation import claim_row

    rows = [claim_row(claim, a, b, labels, expected_sign=sign, paper=evidence)
            for claim, evidence, a, b, sign in claims]
    return pd.DataFrame(rows).set_index("claim")
