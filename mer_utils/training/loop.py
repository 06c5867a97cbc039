"""The training loop: :class:`TrainConfig`, :func:`fit` (optimiser, scheduler, loss, class balancing, batch
augmentation, mixed precision on CUDA only, epoch selection on an inner validation split of training subjects,
tqdm progress, a per-epoch history) and :func:`predict`."""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import evaluation
from .dataset import ClipDataset, inner_split


SELECT_CHOICES = ("last", "val_loss", "val_acc", "val_uf1")
BALANCE_CHOICES = ("none", "sampler", "oversample")


# ======================================================================================== training
@dataclass
class TrainConfig:
    """Settings of :func:`fit` (every field is recorded in the run parameters and hashed).

    ``optimizer``: ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` (with ``lr``, ``weight_decay``,
    ``momentum``) or a factory ``params -> torch.optim.Optimizer``. ``scheduler``: ``None`` or a factory
    ``optimizer -> scheduler`` stepped once per epoch. ``loss``: ``None`` -> cross-entropy with
    ``label_smoothing``; else a callable ``(logits, targets) -> loss``. ``balance``: ``"none"``,
    ``"sampler"`` (class-balanced ``WeightedRandomSampler``) or ``"oversample"`` (every class repeated to
    the largest, as Peng et al.'s group did). ``augment``: callable on a batch ``x`` (tensor or tuple, on
    the device) returning the augmented batch, training only. ``amp``: mixed precision, used on CUDA only.
    ``val_fraction`` > 0 holds out that share of the *training subjects* for validation; ``select`` picks
    the epoch (``"last"``, or the best ``val_loss`` / ``val_acc`` / ``val_uf1``); ``patience`` stops early.
    """

    epochs: int = 10
    batch_size: int = 16
    optimizer: Any = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: Any = None
    loss: Any = None
    label_smoothing: float = 0.0
    balance: str = "none"
    augment: Any = None
    amp: bool = True
    val_fraction: float = 0.0
    select: str = "last"
    patience: int | None = None
    grad_clip: float | None = None
    eval_batch_size: int | None = None
    num_workers: int = 0

    def __post_init__(self):
        from ..validate import check_train_config

        check_train_config(self, BALANCE_CHOICES, SELECT_CHOICES)  # types and ranges, naming the field
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"TrainConfig: epochs ({self.epochs}) and batch_size ({self.batch_size}) must be >= 1.")
        if self.balance not in BALANCE_CHOICES:
            raise ValueError(f"TrainConfig.balance={self.balance!r}: expected one of {BALANCE_CHOICES}.")
        if self.select not in SELECT_CHOICES:
            raise ValueError(f"TrainConfig.select={self.select!r}: expected one of {SELECT_CHOICES}.")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"TrainConfig.val_fraction={self.val_fraction}: expected 0 <= value < 1.")
        if (self.select != "last" or self.patience) and self.val_fraction == 0:
            raise ValueError(f"TrainConfig: select={self.select!r} / patience={self.patience} need an inner validation "
                             "split of training subjects: set val_fraction > 0 (e.g. 0.2).")


@dataclass
class FitResult:
    """What :func:`fit` returns: the trained model (best epoch restored when selecting), the per-epoch
    history, the chosen epoch, the inner split used and, for every tracked set, its predictions per epoch."""

    model: Any
    history: pd.DataFrame
    best_epoch: int
    train_idx: np.ndarray
    val_idx: np.ndarray
    epoch_predictions: dict = field(default_factory=dict)


def make_optimizer(config: TrainConfig, params) -> Any:
    """The optimiser of ``config`` over ``params`` (only those with ``requires_grad``)."""
    import torch

    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("The model has no trainable parameters (all requires_grad=False).")
    opt = config.optimizer
    if callable(opt):
        return opt(params)
    name = str(opt).lower()
    if name == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, weight_decay=config.weight_decay, momentum=0.0)
    raise ValueError(f"TrainConfig.optimizer={opt!r}: expected 'sgd', 'adam', 'adamw', 'rmsprop' or a factory.")


def balanced_indices(labels: np.ndarray, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Oversample: every class of ``labels[idx]`` drawn up to the largest class count, then shuffled.

    Each class keeps all its own clips and adds random repeats (Peng et al.'s group: oversampling every
    class to the largest).
    """
    idx = np.asarray(idx)
    y = np.asarray(labels)[idx]
    classes, counts = np.unique(y, return_counts=True)
    target = counts.max()
    parts = []
    for c, n in zip(classes, counts):
        members = idx[y == c]
        extra = rng.choice(members, size=target - n, replace=True) if target > n else members[:0]
        parts.append(np.concatenate([members, extra]))
    out = np.concatenate(parts)
    rng.shuffle(out)
    return out


def _to_device(x, device):
    if isinstance(x, (tuple, list)):
        return tuple(t.to(device, non_blocking=True) for t in x)
    return x.to(device, non_blocking=True)


def _forward(model, x):
    out = model(*x) if isinstance(x, tuple) else model(x)
    return out[0] if isinstance(out, (tuple, list)) else out


def gather_rows(a, idx, pin: bool = False):
    """Rows ``idx`` of tensor ``a``, on ``a``'s device; ``pin``: into page-locked host memory, so that the copy
    to the GPU runs asynchronously (PyTorch's pinned allocator caches the buffers and keeps one until its copy
    has finished)."""
    import torch

    if not pin:
        return a[idx]
    out = torch.empty((len(idx), *a.shape[1:]), dtype=a.dtype, pin_memory=True)
    return torch.index_select(a, 0, idx, out=out)


def _batches(data, order, batch_size: int, num_workers: int = 0):
    """Yield ``(x, y)`` batches of ``data`` in the given ``order`` (positions).

    In-memory array inputs are gathered a batch at a time where they live (fast: no per-clip Python call): on
    the GPU for inputs made resident there (:meth:`ClipDataset.resident`; the labels go along), into pinned
    host memory when the placement asks for it; lazily loaded inputs go through a ``DataLoader``
    (``num_workers`` processes).
    """
    import torch
    from torch.utils.data import DataLoader, Subset

    order = np.asarray(order, dtype=int)
    if isinstance(data, ClipDataset) and data._arrays is not None:
        placement = data.placement
        where = torch.device(placement.device) if placement is not None else torch.device("cpu")
        pin = placement is not None and placement.pinned_batches
        labels = torch.from_numpy(np.array(data.labels, dtype=np.int64)).to(where)
        for start in range(0, len(order), batch_size):
            b = torch.as_tensor(order[start:start + batch_size], device=where)
            xs = [gather_rows(a, b, pin) if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a[b.numpy()]))
                  for a in data._arrays]
            yield (tuple(xs) if data._multi else xs[0]), labels[b]
        return
    loader = DataLoader(Subset(data, [int(i) for i in order]), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, pin_memory=torch.cuda.is_available())
    yield from loader


def epoch_order(labels: np.ndarray, train_idx: np.ndarray, balance: str, rng: np.random.Generator) -> np.ndarray:
    """The training clips of one epoch, in order: shuffled (``"none"``), drawn with class-balanced weights
    with replacement (``"sampler"``), or every class oversampled to the largest (``"oversample"``)."""
    if balance == "oversample":
        return balanced_indices(labels, train_idx, rng)
    if balance == "sampler":
        y = np.asarray(labels)[train_idx]
        _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        weights = 1.0 / counts[inverse]
        return rng.choice(train_idx, size=len(train_idx), replace=True, p=weights / weights.sum())
    return rng.permutation(train_idx)


def predict(model, data, idx, batch_size: int = 64, device: Any = None, amp: bool = True,
            loss_fn: Callable | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Predicted class, class probabilities (softmax) and mean loss of ``model`` on ``data[idx]``."""
    import torch

    from ..device import resolve_device

    dev = resolve_device(device or "auto") if not isinstance(device, torch.device) else device
    model.eval()
    use_amp = amp and dev.type == "cuda"
    probs, total, count = [], 0.0, 0
    with torch.no_grad():
        for x, y in _batches(data, idx, batch_size):
            x, y = _to_device(x, dev), y.to(dev)
            with torch.autocast(device_type=dev.type, enabled=use_amp):
                logits = _forward(model, x)
            logits = logits.float()
            if loss_fn is not None:
                total += float(loss_fn(logits, y)) * len(y)
                count += len(y)
            probs.append(torch.softmax(logits, dim=1).cpu().numpy())
    p = np.concatenate(probs) if probs else np.zeros((0, 0))
    return p.argmax(axis=1), p, (total / count if count else float("nan"))


#: Seconds between two mid-fold resume checkpoints of :func:`fit` (when ``resume`` is given).
RESUME_EVERY_S = 600.0


def atomic_torch_save(path, obj) -> None:
    """``torch.save`` into a temporary sibling renamed over ``path`` when complete (a killed run leaves the
    previous file): mid-fold resume states and fold checkpoints."""
    import os
    from pathlib import Path

    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def fit(model, data: ClipDataset, train_idx, config: TrainConfig, *, val_idx=None,
        track: Mapping[str, Sequence[int]] | None = None, device: Any = None, seed: int = 0,
        progress: bool = True, desc: str = "train", resume=None,
        resume_every_s: float | None = None) -> FitResult:
    """Train ``model`` on ``data[train_idx]`` with ``config``; return a :class:`FitResult`.

    Validation: ``val_idx`` if given (must not overlap ``train_idx``), else, when
    ``config.val_fraction > 0``, an :func:`inner_split` of the training subjects. The chosen epoch
    (``config.select``) is decided on that validation set only, and its weights are restored.

    ``track`` = ``{"name": indices}`` evaluates extra sets after every epoch **for plotting only** (the
    history gets ``name_loss``/``name_acc`` columns and ``epoch_predictions[name]`` the predictions of every
    epoch); they never influence training or selection. Notebook 02 uses this to show what selecting the
    epoch on the test subject would do.

    ``resume``: a file for mid-fold checkpoints (issue 20). At the end of an epoch, when ``resume_every_s``
    seconds (default :data:`RESUME_EVERY_S`; 0 = every epoch) have passed since the last one, the whole state
    is saved there — weights, optimiser, scheduler, AMP scaler, torch's and the epoch sampler's random states,
    history — and a later call with the same arguments continues after that epoch, with the same final weights
    as an uninterrupted run. The file is removed when training ends; one written for other settings is an
    error naming it.
    """
    import torch

    from ..device import resolve_device
    from tqdm.auto import tqdm

    dev = device if isinstance(device, torch.device) else resolve_device(device or "auto")
    train_idx = np.asarray(train_idx, dtype=int)
    labels, groups = data.labels, data.groups
    if val_idx is None and config.val_fraction > 0:
        train_idx, val_idx = inner_split(groups, train_idx, config.val_fraction, seed)
    val_idx = np.asarray(val_idx if val_idx is not None else [], dtype=int)
    if np.intersect1d(train_idx, val_idx).size:
        raise ValueError("fit: val_idx overlaps train_idx; validate on clips the model does not train on.")
    if config.select != "last" and len(val_idx) == 0:
        raise ValueError(f"fit: select={config.select!r} needs validation clips (val_idx or val_fraction > 0).")
    track = {k: np.asarray(v, dtype=int) for k, v in (track or {}).items()}

    model = model.to(dev)
    optimizer = make_optimizer(config, model.parameters())
    scheduler = config.scheduler(optimizer) if config.scheduler is not None else None
    loss_fn = config.loss if config.loss is not None else torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    use_amp = bool(config.amp) and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    rng = np.random.default_rng(seed)
    ebs = config.eval_batch_size or max(config.batch_size, 64)
    n_classes = data.num_classes

    history, best_state, best_epoch, best_score, waited = [], None, config.epochs, None, 0
    epoch_preds: dict[str, list] = {k: [] for k in track}
    first, key, last_save = 1, None, time.perf_counter()
    every = RESUME_EVERY_S if resume_every_s is None else float(resume_every_s)
    if resume is not None:
        from pathlib import Path

        from .. import results

        resume = Path(resume)
        key = results.params_hash({"config": config, "train_idx": train_idx.tolist(), "val_idx": val_idx.tolist(),
                                   "seed": seed, "track": {k: v.tolist() for k, v in track.items()}})
        if resume.exists():
            st = torch.load(resume, map_location="cpu", weights_only=False)
            if st.get("key") != key:
                raise RuntimeError(f"The mid-fold checkpoint {resume} was written for other settings or clips; "
                                   "move it away (or delete it) to train this fold from the start.")
            model.load_state_dict(st["model"])
            optimizer.load_state_dict(st["optimizer"])
            if scheduler is not None and st["scheduler"] is not None:
                scheduler.load_state_dict(st["scheduler"])
            scaler.load_state_dict(st["scaler"])
            rng.bit_generator.state = st["sampler_rng"]
            torch.set_rng_state(st["torch_rng"])
            if st["cuda_rng"] is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(st["cuda_rng"])
            history, best_state, best_epoch, best_score, waited = (st["history"], st["best_state"], st["best_epoch"],
                                                                   st["best_score"], st["waited"])
            epoch_preds = st["epoch_preds"]
            first = st["epoch"] + 1
    bar = tqdm(range(first, config.epochs + 1), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        order = epoch_order(labels, train_idx, config.balance, rng)
        if len(order) % config.batch_size == 1 and len(order) > 1:
            order = order[:-1]  # a lone last clip sits out this epoch: BatchNorm cannot train on a batch of one
        loader = _batches(data, order, config.batch_size, config.num_workers)
        total, correct, seen = 0.0, 0, 0
        for x, y in loader:
            x, y = _to_device(x, dev), y.to(dev)
            if config.augment is not None:
                x = config.augment(x)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=dev.type, enabled=use_amp):
                logits = _forward(model, x)
                loss = loss_fn(logits.float(), y)
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            total += float(loss.detach()) * len(y)
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(y)
        row = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"], "train_loss": total / max(seen, 1),
               "train_acc": correct / max(seen, 1)}
        if scheduler is not None:
            scheduler.step()
        if len(val_idx):
            vp, _, vloss = predict(model, data, val_idx, ebs, dev, config.amp, loss_fn)
            vm = evaluation.quick_scores(labels[val_idx], vp, n_classes)
            row.update(val_loss=vloss, val_acc=vm["war"], val_uf1=vm["uf1"])
        for name, idx in track.items():
            tp, _, tloss = predict(model, data, idx, ebs, dev, config.amp, loss_fn)
            row.update({f"{name}_loss": tloss, f"{name}_acc": float(np.mean(tp == labels[idx]))})
            epoch_preds[name].append(pd.DataFrame({"epoch": epoch, "index": idx, "true": labels[idx], "pred": tp}))
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if progress:
            bar.set_postfix({k: round(v, 3) for k, v in row.items() if k in ("train_loss", "val_acc")})
        if config.select != "last":
            key = config.select
            score = -row["val_loss"] if key == "val_loss" else row[key]
            if best_score is None or score > best_score:
                best_score, best_epoch, waited = score, epoch, 0
                best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            else:
                waited += 1
        elif config.patience and len(val_idx):
            score = -row["val_loss"]
            if best_score is None or score > best_score:
                best_score, waited = score, 0
            else:
                waited += 1
        if config.patience and waited >= config.patience:
            break
        if resume is not None and epoch < config.epochs and time.perf_counter() - last_save >= every:
            atomic_torch_save(resume, {
                "key": key, "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "scaler": scaler.state_dict(), "sampler_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "history": history, "best_state": best_state, "best_epoch": best_epoch, "best_score": best_score,
                "waited": waited, "epoch_preds": epoch_preds})
            last_save = time.perf_counter()
    if resume is not None and resume.exists():
        resume.unlink()
    if config.select == "last":
        best_epoch = history[-1]["epoch"]
    elif best_state is not None:
        model.load_state_dict(best_state)
    hist = pd.DataFrame(history)
    hist["selected"] = hist["epoch"] == best_epoch
    return FitResult(model=model, history=hist, best_epoch=int(best_epoch), train_idx=train_idx, val_idx=val_idx,
                     epoch_predictions={k: pd.concat(v, ignore_index=True) for k, v in epoch_preds.items() if v})
