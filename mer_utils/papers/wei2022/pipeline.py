"""AMAN pipeline (Wei et al. 2022, 004_*.txt): backbone pretraining on a facial-expression set, feature
banks of the magnified stacks, LOSO training of the attention network and read-out of its attention.

The magnified stacks come from the shared ``wei2022`` preprocessing recipe (TIM, n frames, factors 1..k,
eq. 1–3). The steps here:

1. :func:`pretrain_backbone` — a torchvision ResNet-18 trained on a macro-expression image set (FER2013
   format; the paper says FER2017 / FER2013, the authors' code uses FER+). Checkpoint-if-present: the
   checkpoint is keyed by the training settings and the images, and reused on re-runs.
2. :func:`feature_bank` — the frozen part of the backbone run **once** over every magnified image:
   ``level="trunk"`` stores conv1..layer3 maps (the paper's set-up: layer4 is fine-tuned per fold);
   ``level="pooled"`` stores 512-d layer4 features (a cheaper variant for the CPU profile: layer4 frozen too).
3. :func:`aman_factory` + the shared :func:`mer_utils.training.cross_validate` (LOSO) train MA, FA and the
   classifier (and layer4 at ``level="trunk"``) per fold with RMSprop + StepLR as in the authors' code.
4. :func:`attention_table` — alpha (per magnification level) and beta (per frame) of every test clip,
   computed by the model of the fold that held the clip out.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ... import paths
from .model import AMAN, FEATURE_DIM
from ...training import ClipDataset, TrainConfig, fit_or_load, predict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LEVELS = ("trunk", "pooled")


def to_backbone_input(images: np.ndarray, size: int | None = None) -> torch.Tensor:
    """uint8 images ``(N, H, W)`` grey or ``(N, H, W, 3)`` RGB -> float ``(N, 3, S, S)`` with ImageNet
    normalisation (the backbone's input convention; grey is repeated on three channels)."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"to_backbone_input expects (N, H, W) or (N, H, W, 3) uint8 images; got {arr.shape}")
    x = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float().div_(255.0)
    if size is not None and x.shape[-2:] != (size, size):
        x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _fingerprint(*arrays: np.ndarray) -> str:
    h = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:12]


def random_flip(x: torch.Tensor) -> torch.Tensor:
    """Horizontal flip of half the images of a batch (the pretraining augmentation)."""
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def pretrain_backbone(train_images: np.ndarray, train_labels: np.ndarray, num_classes: int, *,
                      test_images: np.ndarray | None = None, test_labels: np.ndarray | None = None,
                      size: int = 64, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3,
                      seed: int = 0, device: Any = "cpu", checkpoint_dir: str | Path | None = None,
                      progress: bool = True) -> tuple[nn.Module, dict]:
    """Train a ResNet-18 expression classifier on macro-expression images (§3.1.1: backbone pretrained on a
    facial-expression set); return ``(model, report)``.

    Checkpoint-if-present: the checkpoint file name is a hash of the settings and the images, under
    ``checkpoint_dir`` (default ``<cache_root>/checkpoints/wei2022``). ``report`` has the checkpoint path,
    whether it was reused, and the test accuracy when test images are given.
    """
    from torchvision.models import resnet18

    labels = np.asarray(train_labels, dtype=np.int64)
    if len(labels) != len(train_images):
        raise ValueError(f"pretrain_backbone: {len(train_images)} images but {len(labels)} labels.")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"pretrain_backbone: labels must be in 0..{num_classes - 1}; got {labels.min()}..{labels.max()}.")
    config = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer="adam", lr=lr, balance="sampler",
                         augment=random_flip)
    key = {"size": size, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
           "num_classes": num_classes, "data": _fingerprint(train_images, labels), "arch": "resnet18"}
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    folder = Path(checkpoint_dir) if checkpoint_dir else paths.cache_root() / "checkpoints" / "wei2022"
    ckpt = folder / f"backbone-{digest}.pt"
    reused = ckpt.exists()
    table = pd.DataFrame({"clip_uid": [f"img{i}" for i in range(len(labels))],
                          "subject_uid": [f"img{i}" for i in range(len(labels))],
                          "dataset": "macro", "label": labels})
    data = ClipDataset(table, to_backbone_input(train_images, size))
    torch.manual_seed(seed)
    model = resnet18(weights=None, num_classes=num_classes)
    result = fit_or_load(model, data, np.arange(len(labels)), config, ckpt, device=device, seed=seed,
                         progress=progress, desc="backbone")
    model = getattr(result, "model", result)
    report = {"checkpoint": str(ckpt), "reused": reused, "n_train": int(len(labels)), "size": size}
    if test_images is not None and test_labels is not None and len(test_labels):
        t_labels = np.asarray(test_labels, dtype=np.int64)
        t_table = pd.DataFrame({"clip_uid": [f"t{i}" for i in range(len(t_labels))],
                                "subject_uid": [f"t{i}" for i in range(len(t_labels))],
                                "dataset": "macro", "label": t_labels})
        t_data = ClipDataset(t_table, to_backbone_input(test_images, size))
        pred, _, _ = predict(model, t_data, np.arange(len(t_labels)), device=device)
        report["test_accuracy"] = float((pred == t_labels).mean())
        report["n_test"] = int(len(t_labels))
    model.eval()
    return model, report


def feature_bank(backbone: nn.Module | None, magnified: np.ndarray, level: str = "pooled",
                 batch_size: int = 32, device: Any = "cpu", progress: bool = True, size: int | None = None,
                 grey: bool = False) -> torch.Tensor:
    """Run the frozen part of the backbone once over every magnified image (eq. 4).

    ``magnified``: uint8 ``(N, n, k, H, W, 3)`` from the ``wei2022`` recipe. ``size`` resizes the images to
    the scale the backbone was pretrained at and ``grey=True`` converts them to grey first (a backbone
    pretrained on grey FER2013 faces). Returns float16 ``(N, n, k, 256, S/16, S/16)`` for
    ``level="trunk"`` or ``(N, n, k, 512)`` for ``level="pooled"``.
    """
    from tqdm.auto import tqdm

    if level not in LEVELS:
        raise ValueError(f"feature_bank level={level!r}: expected one of {LEVELS}.")
    arr = np.asarray(magnified)
    if arr.ndim != 6 or arr.shape[-1] != 3:
        raise ValueError(f"feature_bank expects magnified stacks (N, n, k, H, W, 3); got {arr.shape}")
    n_clips, n, k = arr.shape[:3]
    helper = AMAN(num_classes=1, backbone=backbone).to(device).eval()
    flat = arr.reshape(-1, *arr.shape[3:])
    out = []
    steps = range(0, len(flat), batch_size)
    for start in tqdm(steps, desc=f"features ({level})", disable=not progress):
        chunk = flat[start:start + batch_size]
        if grey:
            chunk = (chunk.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round().astype(np.uint8)
        x = to_backbone_input(chunk, size).to(device)
        f = helper.trunk_features(x) if level == "trunk" else helper.pooled_features(x)
        out.append(f.to(torch.float16).cpu())
    feats = torch.cat(out)
    return feats.reshape(n_clips, n, k, *feats.shape[1:])


class _FloatView:
    """Index -> float32 tensor view of a float16 feature bank (keeps memory at half size)."""

    def __init__(self, bank: torch.Tensor):
        self.bank = bank

    def __call__(self, i: int) -> torch.Tensor:
        return self.bank[i].float()


def aman_dataset(table: pd.DataFrame, bank: torch.Tensor, class_names: Sequence[str] | None = None) -> ClipDataset:
    """A :class:`~mer_utils.training.ClipDataset` over a feature bank (row i of the bank = table row i)."""
    if len(bank) != len(table):
        raise ValueError(f"aman_dataset: the feature bank has {len(bank)} clips but the table {len(table)} rows.")
    return ClipDataset(table, _FloatView(bank), class_names=class_names)


def aman_factory(backbone: nn.Module | None, level: str, use_ma: bool = True, use_fa: bool = True):
    """``num_classes -> AMAN`` for :class:`~mer_utils.training.TorchMethod`. At ``level="trunk"`` the
    model carries the backbone's layer4 (fine-tuned); at ``"pooled"`` only MA, FA and the classifier."""
    if level not in LEVELS:
        raise ValueError(f"aman_factory level={level!r}: expected one of {LEVELS}.")

    def factory(num_classes: int) -> AMAN:
        return AMAN(num_classes, backbone=backbone, use_ma=use_ma, use_fa=use_fa, inputs=level)

    factory.__qualname__ = f"aman_factory(level={level!r}, use_ma={use_ma}, use_fa={use_fa})"
    return factory


def aman_config(epochs: int = 50, batch_size: int = 4, lr: float = 1e-3, weight_decay: float = 1e-4,
                step: int = 30, gamma: float = 0.2) -> TrainConfig:
    """The authors' optimiser: RMSprop (lr 1e-3, weight decay 1e-4), StepLR(30, 0.2), 50 epochs, batch 4
    (REFERENCE.md §3). The last epoch is kept: no model selection on the test subject."""
    def scheduler(opt):
        return torch.optim.lr_scheduler.StepLR(opt, step_size=step, gamma=gamma)

    scheduler.__qualname__ = f"StepLR(step_size={step}, gamma={gamma})"
    return TrainConfig(epochs=epochs, batch_size=batch_size, optimizer="rmsprop", lr=lr,
                       weight_decay=weight_decay, scheduler=scheduler)


def attention_table(run, factory, data: ClipDataset, factors: Sequence[float],
                    frame_positions: Sequence[int], device: Any = "cpu") -> pd.DataFrame:
    """alpha (per factor) and beta (per frame) of every clip, from the model of the fold that tested it.

    Reads each fold's ``model.pt`` from the cross-validation run folder. Returns one row per
    (clip, frame, factor): ``clip_uid, subject_uid, dataset, label, fold, frame, factor, alpha, beta``.
    """
    from ...training import load_checkpoint

    table = data.table if hasattr(data, "table") else None
    preds = run.predictions
    rows = []
    uid_to_pos = {u: i for i, u in enumerate(table["clip_uid"])}
    folds_root = Path(run.run_dir) / "folds"
    for fold_dir in sorted(p for p in folds_root.iterdir() if (p / "model.pt").exists()):
        fold_name = json.loads((fold_dir / "fold.json").read_text()).get("name", fold_dir.name) \
            if (fold_dir / "fold.json").exists() else fold_dir.name
        model = factory(data.num_classes)
        load_checkpoint(model, fold_dir / "model.pt")
        model.to(device).eval()
        test_uids = preds.loc[preds["fold"].astype(str) == str(fold_name), "clip_uid"]
        for uid in test_uids:
            i = uid_to_pos[uid]
            x, _ = data[i]
            with torch.no_grad():
                _, alpha, beta = model(x.unsqueeze(0).to(device), return_attention=True)
            a, b = alpha[0].cpu().numpy(), beta[0].cpu().numpy()
            for j, frame in enumerate(frame_positions):
                for m, factor in enumerate(factors):
                    rows.append({"clip_uid": uid, "subject_uid": table["subject_uid"].iat[i],
                                 "dataset": table["dataset"].iat[i], "label": int(table["label"].iat[i]),
                                 "fold": fold_name, "frame": int(frame), "factor": float(factor),
                                 "alpha": float(a[j, m]), "beta": float(b[j])})
    if not rows:
        raise FileNotFoundError(f"No fold checkpoints (model.pt) under {folds_root}; run the cross-validation "
                                "with TorchMethod(save_model=True) first.")
    return pd.DataFrame(rows)


def plot_magnification_grid(stack: np.ndarray, factors: Sequence[float], frame_positions: Sequence[int],
                            onset: np.ndarray | None = None, ax_size: float = 1.6):
    """The n x k magnified images of one clip (rows: frames, columns: factors); with ``onset``, a second
    figure row shows |magnified - onset| so the growing motion is visible."""
    import matplotlib.pyplot as plt

    n, k = stack.shape[:2]
    rows = n * (2 if onset is not None else 1)
    fig, axes = plt.subplots(rows, k, figsize=(ax_size * k, ax_size * rows), squeeze=False)
    for j in range(n):
        for m in range(k):
            r = j * (2 if onset is not None else 1)
            axes[r, m].imshow(stack[j, m])
            if j == 0:
                axes[r, m].set_title(f"x{factors[m]:g}", fontsize=9)
            if onset is not None:
                diff = np.abs(stack[j, m].astype(np.int16) - onset.astype(np.int16)).mean(-1)
                axes[r + 1, m].imshow(diff, cmap="magma", vmin=0, vmax=max(8, float(diff.max())))
        axes[j * (2 if onset is not None else 1), 0].set_ylabel(f"frame {frame_positions[j]}", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def run_aman(table: pd.DataFrame, bank: torch.Tensor, backbone: nn.Module | None, *, notebook: str,
             dataset: str, protocol: str, level: str, config: TrainConfig, use_ma: bool = True,
             use_fa: bool = True, n_frames: int | None = None, k: int | None = None,
             params: dict | None = None, class_names: Sequence[str] | None = None, seed: int = 0,
             device: Any = "auto", data_source: str | None = None, progress: bool = True,
             max_folds: int | None = None):
    """LOSO cross-validation of AMAN on a feature bank (the shared runner: resumable, stored, pooled metrics).

    ``n_frames`` / ``k`` keep the first n frames / the first k factors of the bank, so one preprocessing
    run at the largest n and k serves the ablations of Table 1 and Fig. 3. The model of every fold is
    saved so :func:`attention_table` can read its attention weights.
    """
    from ...data import leave_one_subject_out
    from ...training import TorchMethod, cross_validate

    sub = bank
    if n_frames is not None:
        if not 1 <= n_frames <= bank.shape[1]:
            raise ValueError(f"n_frames={n_frames}: the bank holds {bank.shape[1]} frames per clip.")
        sub = sub[:, :n_frames]
    if k is not None:
        if not 1 <= k <= bank.shape[2]:
            raise ValueError(f"k={k}: the bank holds {bank.shape[2]} magnification factors per frame.")
        sub = sub[:, :, :k]
    data = aman_dataset(table, sub.contiguous(), class_names)
    method = TorchMethod(aman_factory(backbone, level, use_ma, use_fa), config, save_model=True)
    name = "AMAN (" + "+".join(m for m, on in (("MA", use_ma), ("FA", use_fa)) if on) + ")" if (use_ma or use_fa) \
        else "AMAN (no attention)"
    run_params = {**(params or {}), "level": level, "use_ma": use_ma, "use_fa": use_fa,
                  "n_frames": int(sub.shape[1]), "k": int(sub.shape[2])}
    return cross_validate(method, data, leave_one_subject_out(table), notebook=notebook, dataset=dataset,
                          protocol=protocol, method_name=name, params=run_params, class_names=class_names,
                          seed=seed, device=device, data_source=data_source, progress=progress,
                          max_folds=max_folds)
