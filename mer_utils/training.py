"""Training loop and cross-validation runner, shared by every notebook.

* :class:`ClipDataset` — a prepared dataset: the clip table (``clip_uid``, ``subject_uid``, ``dataset``,
  ``label``) plus the inputs (an array, a tuple of arrays for multi-input models, or an index -> tensor
  callable).
* :func:`fit` — plain PyTorch training: optimiser, scheduler, loss, epochs, batch size, class-balanced
  sampling or oversampling, batch augmentations, mixed precision on CUDA only, tqdm progress and a
  per-epoch history. Model selection / early stopping use an **inner validation split of training
  subjects** (:func:`inner_split`) and nothing else.
* :func:`cross_validate` — runs a method over the folds of a subject-wise split (LOSO, k-fold by subject,
  holdout-database). Per-fold predictions and checkpoints are written as it goes into the result store
  (:mod:`mer_utils.results`); a re-run skips finished folds; changed parameters give a fresh folder.
  Methods: :class:`TorchMethod` (a model factory + :class:`TrainConfig`), :class:`SklearnMethod` (a
  scikit-learn estimator on feature vectors, e.g. LBP-TOP + linear SVM, She et al.'s SVM on aggregated
  features), or any callable ``fit_predict(fold, train_idx, test_idx, fold_dir)`` for multi-stage methods.

Leakage this module refuses (REFERENCE.md §2): selecting epochs on the test fold, validating on the
training set, and folds whose train and test sets share a subject (unless explicitly allowed to
reproduce a paper's subject-overlapping split, which is then recorded in the parameters).
"""
from __future__ import annotations

import copy
import dataclasses
import inspect
import hashlib
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import evaluation, results

#: Columns a prepared clip table must have.
REQUIRED_COLUMNS = ("clip_uid", "subject_uid", "dataset", "label")
SELECT_CHOICES = ("last", "val_loss", "val_acc", "val_uf1")
BALANCE_CHOICES = ("none", "sampler", "oversample")


# ======================================================================================== data
def check_table(table: pd.DataFrame, what: str = "table") -> pd.DataFrame:
    """Check that ``table`` has the prepared-dataset columns and unique ``clip_uid``; return it."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{what}: expected a pandas DataFrame with columns {REQUIRED_COLUMNS}, "
                        f"got {type(table).__name__}.")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise KeyError(f"{what} lacks column(s) {missing}; a prepared table needs {REQUIRED_COLUMNS} "
                       "(clip tables from mer_utils.data + a protocol give them).")
    if table["clip_uid"].duplicated().any():
        dup = table.loc[table["clip_uid"].duplicated(), "clip_uid"].iloc[0]
        raise ValueError(f"{what}: clip_uid must be unique; {dup!r} appears more than once.")
    if not np.issubdtype(table["label"].dtype, np.integer):
        raise TypeError(f"{what}: column 'label' must hold integer class ids (0..C-1), got {table['label'].dtype}.")
    return table


class ClipDataset:
    """A prepared dataset: one row of ``table`` per clip and its model input.

    ``inputs`` is one of
      * an array / tensor of shape ``(N, ...)`` (row ``i`` is clip ``i``),
      * a tuple/list of such arrays for multi-input models (the model is called as ``model(*x)``),
      * a callable ``i -> tensor`` (or tuple of tensors) that loads clip ``i`` lazily (e.g. from a cache).

    ``dataset[i]`` returns ``(x, label)`` as torch tensors, so it plugs into a DataLoader.
    """

    def __init__(self, table: pd.DataFrame, inputs: Any, class_names: Sequence[str] | None = None):
        self.table = check_table(table).reset_index(drop=True)
        self.inputs = inputs
        n = len(self.table)
        if callable(inputs) and not hasattr(inputs, "shape"):
            self._get = inputs
            self._arrays = None
        else:
            arrays = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
            for k, a in enumerate(arrays):
                if not hasattr(a, "shape") or len(a) != n:
                    raise ValueError(f"inputs[{k}]: expected an array with one row per clip ({n}), "
                                     f"got {getattr(a, 'shape', type(a).__name__)}.")
            self._arrays = arrays
            self._multi = isinstance(inputs, (tuple, list))
            self._get = None
        self.class_names = list(class_names) if class_names is not None else _class_names_from(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int):
        import torch

        if self._get is not None:
            x = self._get(int(i))
        else:
            xs = [torch.as_tensor(np.asarray(a[i])) if not isinstance(a, torch.Tensor) else a[i] for a in self._arrays]
            x = tuple(xs) if self._multi else xs[0]
        return x, torch.as_tensor(int(self.labels[i]))

    def with_labels(self, labels: Sequence[int]) -> "ClipDataset":
        """The same clips and inputs with other labels (e.g. shuffled for a leakage check)."""
        labels = np.asarray(labels)
        if labels.shape != (len(self),):
            raise ValueError(f"with_labels: expected {len(self)} labels, got shape {labels.shape}.")
        table = self.table.copy()
        table["label"] = labels.astype(np.int64)
        if "label_name" in table.columns:
            table["label_name"] = [self.class_names[i] for i in table["label"]]
        return ClipDataset(table, self.inputs, self.class_names)

    @property
    def labels(self) -> np.ndarray:
        """Integer class of every clip."""
        return self.table["label"].to_numpy()

    @property
    def groups(self) -> np.ndarray:
        """Subject of every clip (``subject_uid``), the grouping of every subject-wise split."""
        return self.table["subject_uid"].to_numpy()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def features(self) -> np.ndarray:
        """The inputs as one 2-D array ``(N, D)`` (for scikit-learn); rows flattened when N-D."""
        if self._arrays is None or self._multi:
            raise TypeError("features(): this dataset's inputs are a callable or several arrays; "
                            "build ClipDataset(table, X) with one (N, D) feature array for scikit-learn.")
        a = self._arrays[0]
        a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
        return a.reshape(len(a), -1)


def _class_names_from(table: pd.DataFrame) -> list[str]:
    """Class names from ``label``/``label_name`` pairs (``0..max(label)``; unnamed ids as their number)."""
    n = int(table["label"].max()) + 1 if len(table) else 0
    names = [str(i) for i in range(n)]
    if "label_name" in table.columns:
        for lab, name in table[["label", "label_name"]].drop_duplicates().itertuples(index=False):
            names[int(lab)] = str(name)
    return names


def as_table(data: Any) -> pd.DataFrame:
    """The clip table of a :class:`ClipDataset` or of a DataFrame (checked)."""
    if isinstance(data, ClipDataset):
        return data.table
    return check_table(data, "data").reset_index(drop=True)


# ======================================================================================== splits
def inner_split(groups: np.ndarray, train_idx: np.ndarray, fraction: float = 0.2, seed: int = 0,
                labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split the **training** indices by subject into (inner_train, validation).

    Only subjects of ``train_idx`` are used, so the test subjects of a fold are never seen (REFERENCE.md
    §2: model selection must use training subjects only). About ``fraction`` of the training subjects go to
    validation (at least one, and at least one stays for training). Deterministic for a given ``seed``.
    """
    train_idx = np.asarray(train_idx)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction={fraction}: expected 0 < fraction < 1 (share of training subjects for validation).")
    subjects = np.unique(np.asarray(groups)[train_idx])
    if len(subjects) < 2:
        raise ValueError(f"inner_split: the training set has {len(subjects)} subject(s); need at least 2 to hold "
                         "some out for validation. Set val_fraction=0 (select='last') for this split.")
    rng = np.random.default_rng(seed)
    n_val = int(np.clip(round(fraction * len(subjects)), 1, len(subjects) - 1))
    val_subjects = rng.choice(subjects, size=n_val, replace=False)
    is_val = np.isin(np.asarray(groups)[train_idx], val_subjects)
    return train_idx[~is_val], train_idx[is_val]


def check_fold(fold: Any, groups: np.ndarray, n: int, subject_wise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validate a fold (``.name``, ``.train``, ``.test`` positional indices); return (train, test) arrays.

    Raises when indices are out of range, overlap, the test set is empty, or (``subject_wise``) a subject
    sits on both sides.
    """
    for attr in ("name", "train", "test"):
        if not hasattr(fold, attr):
            raise TypeError(f"fold {fold!r}: expected an object with .name, .train, .test "
                            "(mer_utils.data splits return Fold(name, train, test)).")
    train, test = np.asarray(fold.train, dtype=int).ravel(), np.asarray(fold.test, dtype=int).ravel()
    if len(test) == 0:
        raise ValueError(f"fold {fold.name!r}: empty test set.")
    if len(train) == 0:
        raise ValueError(f"fold {fold.name!r}: empty training set.")
    for part, idx in (("train", train), ("test", test)):
        if idx.min() < 0 or idx.max() >= n:
            raise IndexError(f"fold {fold.name!r}: {part} indices must be positions 0..{n - 1} in the table.")
    if np.intersect1d(train, test).size:
        raise ValueError(f"fold {fold.name!r}: {np.intersect1d(train, test).size} clip(s) in both train and test.")
    if subject_wise:
        shared = np.intersect1d(groups[train], groups[test])
        if shared.size:
            raise ValueError(f"fold {fold.name!r}: subject(s) {list(shared[:5])} in both train and test — leakage. "
                             "Use a subject-wise split, or pass subject_wise=False to reproduce a paper's "
                             "subject-overlapping split knowingly (it is recorded in the run parameters).")
    return train, test


def fold_seed(seed: int, fold_name: str) -> int:
    """Seed of one fold: fixed by the run seed and the fold's name (independent of the fold order)."""
    return int((int(seed) * 1_000_003 + zlib.crc32(str(fold_name).encode())) % (2**31 - 1))


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


def _batches(data, order, batch_size: int, num_workers: int = 0):
    """Yield ``(x, y)`` batches of ``data`` in the given ``order`` (positions).

    In-memory array inputs are sliced directly (fast: no per-clip Python call); lazily loaded inputs go
    through a ``DataLoader`` (``num_workers`` processes).
    """
    import torch
    from torch.utils.data import DataLoader, Subset

    order = np.asarray(order, dtype=int)
    if isinstance(data, ClipDataset) and data._arrays is not None:
        labels = torch.from_numpy(np.array(data.labels, dtype=np.int64))
        for start in range(0, len(order), batch_size):
            b = order[start:start + batch_size]
            xs = [a[torch.as_tensor(b)] if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a[b]))
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

    from .device import resolve_device

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


def fit(model, data: ClipDataset, train_idx, config: TrainConfig, *, val_idx=None,
        track: Mapping[str, Sequence[int]] | None = None, device: Any = None, seed: int = 0,
        progress: bool = True, desc: str = "train") -> FitResult:
    """Train ``model`` on ``data[train_idx]`` with ``config``; return a :class:`FitResult`.

    Validation: ``val_idx`` if given (must not overlap ``train_idx``), else, when
    ``config.val_fraction > 0``, an :func:`inner_split` of the training subjects. The chosen epoch
    (``config.select``) is decided on that validation set only, and its weights are restored.

    ``track`` = ``{"name": indices}`` evaluates extra sets after every epoch **for plotting only** (the
    history gets ``name_loss``/``name_acc`` columns and ``epoch_predictions[name]`` the predictions of every
    epoch); they never influence training or selection. Notebook 02 uses this to show what selecting the
    epoch on the test subject would do.
    """
    import torch

    from .device import resolve_device
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
    bar = tqdm(range(1, config.epochs + 1), desc=desc, disable=not progress, leave=False)
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
    if config.select == "last":
        best_epoch = history[-1]["epoch"]
    elif best_state is not None:
        model.load_state_dict(best_state)
    hist = pd.DataFrame(history)
    hist["selected"] = hist["epoch"] == best_epoch
    return FitResult(model=model, history=hist, best_epoch=int(best_epoch), train_idx=train_idx, val_idx=val_idx,
                     epoch_predictions={k: pd.concat(v, ignore_index=True) for k, v in epoch_preds.items() if v})


def save_checkpoint(model, path: str | os.PathLike, **extra) -> Path:
    """Save ``model.state_dict()`` (+ ``extra``) atomically with ``torch.save``."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"state_dict": model.state_dict(), **extra}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(model, path: str | os.PathLike, device: Any = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model``; return the extra entries."""
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    payload = torch.load(path, map_location=device, weights_only=False)
    model.load_state_dict(payload.pop("state_dict"))
    return payload


def fit_or_load(model, data: ClipDataset, train_idx, config: TrainConfig, checkpoint: str | os.PathLike,
                **fit_kwargs) -> FitResult:
    """Checkpoint-if-present, else train (and save): :func:`fit` wrapped with :func:`save_checkpoint`.

    The checkpoint stores the history and the config's hash; loading one saved with a different config
    raises instead of silently reusing it.
    """
    chash = results.params_hash({"config": config, "train_idx": np.asarray(train_idx).tolist()})
    path = Path(checkpoint)
    if path.exists():
        extra = load_checkpoint(model, path)
        if extra.get("config_hash") != chash:
            raise RuntimeError(f"{path} was trained with other settings (hash {extra.get('config_hash')} != {chash}); "
                               "delete it or choose another checkpoint path.")
        empty = np.zeros(0, dtype=int)
        return FitResult(model, pd.DataFrame(extra.get("history", [])), int(extra.get("best_epoch", 0)),
                         np.asarray(train_idx), empty)
    res = fit(model, data, train_idx, config, **fit_kwargs)
    save_checkpoint(res.model, path, history=res.history.to_dict(orient="records"), best_epoch=res.best_epoch,
                    config_hash=chash)
    return res


# ======================================================================================== methods
@dataclass
class FoldOutput:
    """What one fold of a method returns: predicted classes for the test clips (in ``test_idx`` order),
    optionally class scores ``(n_test, C)``, a training history and extra tables saved beside them."""

    pred: np.ndarray
    scores: np.ndarray | None = None
    history: pd.DataFrame | None = None
    tables: dict = field(default_factory=dict)


class TorchMethod:
    """A deep model trained per fold: ``model_factory(num_classes)`` -> fresh ``nn.Module`` (called after the
    fold's seed is set), trained by :func:`fit` with ``config`` on the fold's training clips only.

    The fold's checkpoint (``model.pt``) is saved in the fold folder; when it exists but the fold did not
    finish (crash between training and writing predictions) it is loaded instead of retraining.
    ``track_test=True`` records the test subject's loss/accuracy after every epoch (for learning curves and
    the leakage demonstration; never used for selection) in the fold's ``test_epochs.csv``.
    """

    def __init__(self, model_factory: Callable[[int], Any], config: TrainConfig, track_test: bool = False,
                 save_model: bool = True):
        if not callable(model_factory):
            raise TypeError("TorchMethod: model_factory must be a callable num_classes -> nn.Module.")
        self.model_factory, self.config = model_factory, config
        self.track_test, self.save_model = track_test, save_model

    def describe(self) -> dict:
        return {"kind": "torch", "model_factory": results.jsonable(self.model_factory),
                "config": results.jsonable(self.config), "track_test": self.track_test}

    def run_fold(self, data: ClipDataset, fold, train_idx, test_idx, fold_dir: Path, device, seed: int,
                 progress: bool = True) -> FoldOutput:
        if not isinstance(data, ClipDataset):
            raise TypeError("TorchMethod needs a ClipDataset (table + inputs), not a bare table.")
        model = self.model_factory(data.num_classes)
        ckpt = fold_dir / "model.pt"
        history, tables = None, {}
        if ckpt.exists():
            extra = load_checkpoint(model, ckpt, device="cpu")
            history = pd.DataFrame(extra.get("history", []))
            model = model.to(device)
        else:
            res = fit(model, data, train_idx, self.config, device=device, seed=seed, progress=progress,
                      track={"test": test_idx} if self.track_test else None, desc=f"fold {fold.name}")
            model, history = res.model, res.history
            if "test" in res.epoch_predictions:
                ep = res.epoch_predictions["test"]
                ep.insert(1, "clip_uid", data.table["clip_uid"].to_numpy()[ep["index"].to_numpy()])
                tables["test_epochs"] = ep.drop(columns="index")
            if self.save_model:
                save_checkpoint(model, ckpt, history=history.to_dict(orient="records"), best_epoch=res.best_epoch)
        pred, probs, _ = predict(model, data, test_idx, self.config.eval_batch_size or 64, device, self.config.amp)
        return FoldOutput(pred=pred, scores=probs, history=history, tables=tables)


class SklearnMethod:
    """A scikit-learn estimator (or pipeline) fitted per fold on ``data.features()`` (``(N, D)``).

    A fresh :func:`sklearn.base.clone` per fold; scores from ``predict_proba`` or ``decision_function``
    (mapped onto all classes; classes absent from a fold's training set get ``NaN``). ``groups=True``
    passes the training subjects as ``groups=`` to ``fit`` (for a ``GridSearchCV`` with a group splitter,
    i.e. hyper-parameters chosen on training subjects only). The fitted estimator is saved with joblib.
    """

    def __init__(self, estimator, groups: bool = False, save_model: bool = True):
        if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
            raise TypeError("SklearnMethod: expected a scikit-learn estimator with fit/predict.")
        self.estimator, self.groups, self.save_model = estimator, groups, save_model

    def describe(self) -> dict:
        return {"kind": "sklearn", "estimator": results.jsonable(self.estimator), "groups": self.groups}

    def run_fold(self, data: ClipDataset, fold, train_idx, test_idx, fold_dir: Path, device, seed: int,
                 progress: bool = True) -> FoldOutput:
        import joblib
        from sklearn.base import clone

        if not isinstance(data, ClipDataset):
            raise TypeError("SklearnMethod needs a ClipDataset(table, features).")
        X, y = data.features(), data.labels
        est = clone(self.estimator)
        kwargs = {"groups": data.groups[train_idx]} if self.groups else {}
        est.fit(X[train_idx], y[train_idx], **kwargs)
        pred = est.predict(X[test_idx])
        scores = _class_scores(est, X[test_idx], data.num_classes)
        if self.save_model:
            tmp = fold_dir / f".model.joblib.{os.getpid()}.tmp"
            joblib.dump(est, tmp)
            os.replace(tmp, fold_dir / "model.joblib")
        return FoldOutput(pred=np.asarray(pred), scores=scores)


def _class_scores(est, X, n_classes: int) -> np.ndarray | None:
    classes = getattr(est, "classes_", None)
    if classes is None:
        return None
    if hasattr(est, "predict_proba"):
        try:
            raw = est.predict_proba(X)
        except AttributeError:  # e.g. SVC(probability=False)
            raw = None
    else:
        raw = None
    if raw is None and hasattr(est, "decision_function"):
        raw = est.decision_function(X)
        if raw.ndim == 1:
            raw = np.stack([-raw, raw], axis=1)
    if raw is None:
        return None
    out = np.full((len(X), n_classes), np.nan)
    out[:, np.asarray(classes, dtype=int)] = raw
    return out


class CallableMethod:
    """Wraps a user function ``fit_predict(fold, train_idx, test_idx, fold_dir)`` returning predictions
    (array), ``(pred, scores)``, a dict with ``pred`` / ``scores`` / ``history`` or a :class:`FoldOutput`.

    The function may write its own checkpoints in ``fold_dir`` (and reuse them when present).
    """

    def __init__(self, fn: Callable, name: str | None = None):
        sig = inspect.signature(fn)
        if len(sig.parameters) < 4 and not any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values()):
            raise TypeError("fit_predict must accept (fold, train_idx, test_idx, fold_dir).")
        self.fn, self.name = fn, name

    def describe(self) -> dict:
        return {"kind": "callable", "fn": results.jsonable(self.fn)}

    def run_fold(self, data, fold, train_idx, test_idx, fold_dir, device, seed, progress=True) -> FoldOutput:
        return _as_output(self.fn(fold, train_idx, test_idx, fold_dir), len(test_idx))


def _as_output(out: Any, n: int) -> FoldOutput:
    if isinstance(out, FoldOutput):
        res = out
    elif isinstance(out, Mapping):
        if "pred" not in out:
            raise KeyError("fit_predict returned a dict without 'pred'.")
        res = FoldOutput(np.asarray(out["pred"]), out.get("scores"), out.get("history"), dict(out.get("tables", {})))
    elif isinstance(out, tuple):
        res = FoldOutput(np.asarray(out[0]), None if len(out) < 2 else out[1])
    else:
        res = FoldOutput(np.asarray(out))
    res.pred = np.asarray(res.pred).ravel()
    if len(res.pred) != n:
        raise ValueError(f"fit_predict returned {len(res.pred)} predictions for {n} test clips (one per test clip, "
                         "in test_idx order).")
    if res.scores is not None:
        res.scores = np.asarray(res.scores, dtype=float)
        if res.scores.ndim != 2 or len(res.scores) != n:
            raise ValueError(f"scores must have shape (n_test={n}, C), got {res.scores.shape}.")
    return res


def as_method(method: Any):
    """A :class:`TorchMethod`, :class:`SklearnMethod`, :class:`CallableMethod`, an sklearn estimator (wrapped
    in SklearnMethod) or a ``fit_predict`` callable (wrapped in CallableMethod)."""
    if isinstance(method, (TorchMethod, SklearnMethod, CallableMethod)):
        return method
    if hasattr(method, "fit") and hasattr(method, "predict"):
        return SklearnMethod(method)
    if callable(method):
        return CallableMethod(method)
    raise TypeError(f"method: expected TorchMethod, SklearnMethod, an sklearn estimator or a callable "
                    f"fit_predict(fold, train_idx, test_idx, fold_dir); got {type(method).__name__}.")


# ======================================================================================== runner
@dataclass
class CVResult:
    """What :func:`cross_validate` returns."""

    predictions: pd.DataFrame
    metrics: dict
    run_dir: Path
    class_names: list
    histories: dict
    timings: dict
    computed: list
    resumed: list

    def table(self, per_fold: bool = True) -> pd.DataFrame:
        """Pooled, per-dataset and (labelled) per-fold-mean metrics as a table."""
        return evaluation.metrics_table(self.predictions, len(self.class_names), per_fold=per_fold)

    def __repr__(self) -> str:
        p = self.metrics.get("pooled", {})
        return (f"CVResult({len(self.predictions)} clips, {len(self.computed) + len(self.resumed)} folds "
                f"[{len(self.resumed)} resumed], pooled UF1={p.get('uf1', float('nan')):.3f} "
                f"UAR={p.get('uar', float('nan')):.3f} WAR={p.get('war', float('nan')):.3f}, {self.run_dir})")


def _fold_dirname(i: int, name: str) -> str:
    return f"{i:03d}_{re.sub(r'[^A-Za-z0-9._-]+', '_', str(name))[:60]}"


def _sha1(values) -> str:
    return hashlib.sha1("\n".join(map(str, values)).encode()).hexdigest()[:16]


#: Arrays up to this size are hashed in full for the run's identity; larger ones by a strided sample of rows.
FULL_HASH_BYTES = 256 * 2**20


def inputs_fingerprint(data: Any) -> str | None:
    """A hash of a :class:`ClipDataset`'s in-memory inputs (shape, dtype and bytes), so that other features
    give another result folder even when the parameters forget to say so. Arrays over
    :data:`FULL_HASH_BYTES` are hashed by shape, dtype and every k-th row (k chosen to read about that
    much). Lazily loaded inputs (a callable) and bare tables give ``None``: describe them in ``params``."""
    if not isinstance(data, ClipDataset) or data._arrays is None:
        return None
    h = hashlib.sha1()
    for a in data._arrays:
        a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
        h.update(f"{a.shape}|{a.dtype}|".encode())
        step = max(1, int(np.ceil(a.nbytes / FULL_HASH_BYTES))) if a.nbytes > FULL_HASH_BYTES else 1
        for row in range(0, len(a), step):
            h.update(np.ascontiguousarray(a[row]).tobytes())
    return h.hexdigest()[:16]


def cross_validate(method: Any, data: ClipDataset | pd.DataFrame, folds: Sequence[Any], *, notebook: str,
                   dataset: str, protocol: str, method_name: str, params: Mapping[str, Any] | None = None,
                   class_names: Sequence[str] | None = None, seed: int = 0, device: Any = "auto",
                   data_source: str | None = None, subject_wise: bool = True, root: str | os.PathLike | None = None,
                   progress: bool = True, max_folds: int | None = None) -> CVResult:
    """Run ``method`` on every fold; return pooled predictions and metrics; store everything as it goes.

    Parameters
    ----------
    method : TorchMethod | SklearnMethod | sklearn estimator | callable ``fit_predict(fold, train_idx, test_idx, fold_dir)``
    data : ClipDataset, or the prepared table alone for a callable method (``clip_uid, subject_uid, dataset, label``).
    folds : ``Fold(name, train, test)`` objects from ``mer_utils.data`` splits (positional indices into the table).
    notebook, dataset, protocol : keys of the result folder (``dataset`` names the composite, e.g. ``megc2019``).
    method_name : display name (``"LBP-TOP + linear SVM"``) used in tables and plots.
    params : further settings that change the result (profile values, preprocessing...); everything that
        identifies the run — these, the method's description, the data (clip ids, labels and a hash of
        in-memory inputs, :func:`inputs_fingerprint`), the folds, ``seed``, ``data_source`` — is hashed into
        the folder name, so changed settings start a fresh folder. Lazily loaded inputs cannot be hashed:
        describe them (recipe, parameters) in ``params``.
    class_names : the protocol's full class list (metrics count every class); default from the table.
    data_source : what the run read (``"synthetic/quick"``, a ``DATA_ROOT``), shown by the comparison notebook.
    subject_wise : check that no subject is on both sides of a fold (set False only to reproduce a paper's
        subject-overlapping split such as Reddy et al.'s 80/20; it is recorded).
    max_folds : run only the first ``max_folds`` folds (tiny profiles); the folder records which.

    Resume: a fold whose ``fold.json`` exists is read back instead of recomputed (its test clips are
    checked). Each fold runs with its own seed (:func:`fold_seed`). Returns a :class:`CVResult`.
    """
    import torch
    from tqdm.auto import tqdm

    from .device import resolve_device, seed_everything

    meth = as_method(method)
    table = as_table(data)
    groups = table["subject_uid"].to_numpy()
    folds = list(folds)[: max_folds] if max_folds else list(folds)
    if not folds:
        raise ValueError("cross_validate: no folds given.")
    names = [str(f.name) for f in folds]
    if len(set(names)) != len(names):
        raise ValueError("cross_validate: fold names must be unique.")
    checked = [check_fold(f, groups, len(table), subject_wise) for f in folds]
    if class_names is None:
        class_names = data.class_names if isinstance(data, ClipDataset) else _class_names_from(table)
    class_names = [str(c) for c in class_names]
    C = len(class_names)
    if table["label"].max() >= C or table["label"].min() < 0:
        raise ValueError(f"labels must be 0..{C - 1} for class_names={class_names}; table has "
                         f"{sorted(table['label'].unique())}.")
    dev = device if isinstance(device, torch.device) else resolve_device(device)

    identity = {
        "notebook": notebook, "dataset": dataset, "protocol": protocol, "method": method_name,
        "method_spec": meth.describe(), "params": dict(params or {}), "seed": int(seed),
        "class_names": class_names, "subject_wise": bool(subject_wise), "data_source": data_source,
        "data": {"n_clips": len(table), "clips_labels_sha1": _sha1(table["clip_uid"] + "=" + table["label"].astype(str)),
                 "inputs_sha1": inputs_fingerprint(data)},
        "folds": [{"name": n, "n_train": len(tr), "n_test": len(te), "test_sha1": _sha1(table["clip_uid"].to_numpy()[te])}
                  for n, (tr, te) in zip(names, checked)],
    }
    folder = results.run_dir(notebook, dataset, protocol, identity, root)
    pfile = folder / "params.json"
    if pfile.exists():
        stored = results.read_json(pfile)
        stored_id = {k: v for k, v in stored.items() if k not in ("created", "hash")}
        if results.canonical_json(stored_id) != results.canonical_json(identity):
            raise RuntimeError(f"{pfile} holds other parameters than this run (hash collision or edited file); "
                               "refusing to mix results. Move that folder away to recompute.")
    else:
        results.atomic_write_json(pfile, {**identity, "hash": folder.name, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
    if not (folder / "environment.json").exists():
        results.atomic_write_json(folder / "environment.json", results.environment_info(dev))

    preds, histories, seconds, computed, resumed = [], {}, {}, [], []
    t_start = time.perf_counter()
    bar = tqdm(list(zip(folds, checked)), desc=f"{method_name} | {protocol}", disable=not progress)
    for i, (fold, (train_idx, test_idx)) in enumerate(bar):
        fdir = folder / "folds" / _fold_dirname(i, fold.name)
        test_uids = table["clip_uid"].to_numpy()[test_idx]
        done = fdir / "fold.json"
        if done.exists():
            info = results.read_json(done)
            fp = results.read_predictions(fdir / "predictions.csv")
            if list(fp["clip_uid"]) != list(test_uids):
                raise RuntimeError(f"{fdir}: finished fold holds predictions for other clips than fold {fold.name!r}; "
                                   "refusing to overwrite it. Move the run folder away to recompute.")
            seconds[fold.name] = info.get("seconds")
            if (fdir / "history.csv").exists():
                histories[fold.name] = pd.read_csv(fdir / "history.csv")
            resumed.append(fold.name)
        else:
            fdir.mkdir(parents=True, exist_ok=True)
            s = fold_seed(seed, fold.name)
            seed_everything(s)
            t0 = time.perf_counter()
            out = _as_output(meth.run_fold(data, fold, train_idx, test_idx, fdir, dev, s, progress), len(test_idx))
            elapsed = time.perf_counter() - t0
            fp = _fold_predictions(table, fold.name, test_idx, out, class_names)
            results.atomic_write_csv(fdir / "predictions.csv", fp)
            if out.history is not None and len(out.history):
                results.atomic_write_csv(fdir / "history.csv", out.history)
                histories[fold.name] = out.history
            for tname, t in out.tables.items():
                results.atomic_write_csv(fdir / f"{tname}.csv", t)
            results.atomic_write_json(done, {"name": fold.name, "index": i, "seed": s, "n_train": len(train_idx),
                                             "n_test": len(test_idx), "seconds": elapsed, "device": str(dev),
                                             "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
            seconds[fold.name] = elapsed
            computed.append(fold.name)
        preds.append(fp)
        if progress:
            allp = pd.concat(preds)
            bar.set_postfix(acc=f"{np.mean(allp['true'] == allp['pred']):.3f}")
    predictions = pd.concat(preds, ignore_index=True)
    metrics = evaluation.summarize(predictions, list(range(C)), per_fold=True)
    metrics["class_names"] = class_names
    timings = {"folds": seconds, "total_seconds": float(sum(v or 0 for v in seconds.values())),
               "this_call_seconds": time.perf_counter() - t_start, "computed": computed, "resumed": resumed}
    results.atomic_write_csv(folder / "predictions.csv", predictions)
    results.atomic_write_json(folder / "metrics.json", metrics)
    results.atomic_write_json(folder / "timings.json", timings)
    return CVResult(predictions, metrics, folder, class_names, histories, timings, computed, resumed)


def _fold_predictions(table: pd.DataFrame, fold_name: str, test_idx, out: FoldOutput, class_names) -> pd.DataFrame:
    rows = table.iloc[test_idx]
    C = len(class_names)
    pred = out.pred.astype(int)
    if pred.min(initial=0) < 0 or pred.max(initial=0) >= C:
        raise ValueError(f"fold {fold_name!r}: predicted labels outside 0..{C - 1}.")
    fp = pd.DataFrame({"clip_uid": rows["clip_uid"].to_numpy(), "subject_uid": rows["subject_uid"].to_numpy()})
    if "subject" in rows.columns:
        fp["subject"] = rows["subject"].to_numpy()
    fp["dataset"] = rows["dataset"].to_numpy()
    fp["fold"] = str(fold_name)
    fp["true"] = rows["label"].to_numpy().astype(int)
    fp["pred"] = pred
    fp["true_name"] = [class_names[i] for i in fp["true"]]
    fp["pred_name"] = [class_names[i] for i in pred]
    if out.scores is not None:
        if out.scores.shape[1] != C:
            raise ValueError(f"fold {fold_name!r}: scores have {out.scores.shape[1]} columns for {C} classes.")
        for k in range(C):
            fp[f"score_{k}"] = out.scores[:, k]
    return fp


def load_fold_tables(run: CVResult | str | os.PathLike, name: str = "test_epochs") -> dict[str, pd.DataFrame]:
    """Per-fold extra tables of a run (e.g. ``test_epochs`` written by ``TorchMethod(track_test=True)``),
    keyed by fold name."""
    folder = run.run_dir if isinstance(run, CVResult) else Path(run)
    out = {}
    for fdir in sorted((folder / "folds").glob("*")):
        f, info = fdir / f"{name}.csv", fdir / "fold.json"
        if f.exists() and info.exists():
            out[results.read_json(info)["name"]] = pd.read_csv(f)
    return out


# ======================================================================================== demonstrations
class FeatureMLP:
    """Factory of a small multilayer perceptron on feature vectors: ``[BatchNorm1d(D)] - Linear(D, hidden) -
    ReLU - Dropout - Linear(hidden, C)``. Used by notebook 02 as a fast model for the leakage demonstration.
    The input BatchNorm standardises the features with statistics of the training clips only (running
    statistics at test time), so no test statistic leaks in.

    ``FeatureMLP(in_features, hidden, dropout)(num_classes)`` returns the ``nn.Module`` (the shape a
    :class:`TorchMethod` factory takes); its ``repr`` lists the settings for the parameters hash.
    """

    def __init__(self, in_features: int, hidden: int = 64, dropout: float = 0.2, input_norm: bool = True):
        self.in_features, self.hidden, self.dropout = int(in_features), int(hidden), float(dropout)
        self.input_norm = bool(input_norm)

    def __call__(self, num_classes: int):
        import torch

        layers = [torch.nn.BatchNorm1d(self.in_features)] if self.input_norm else []
        layers += [torch.nn.Linear(self.in_features, self.hidden), torch.nn.ReLU(), torch.nn.Dropout(self.dropout),
                   torch.nn.Linear(self.hidden, num_classes)]
        return torch.nn.Sequential(*layers)

    def __repr__(self) -> str:
        return (f"FeatureMLP(in_features={self.in_features}, hidden={self.hidden}, dropout={self.dropout}, "
                f"input_norm={self.input_norm})")


#: Names of the three protocols compared by :func:`leakage_experiment`.
LEAKAGE_PROTOCOLS = ("last epoch (honest)", "best epoch on inner validation subjects (honest)",
                     "best epoch on the test subject (LEAK)")


@dataclass
class LeakageResult:
    """What :func:`leakage_experiment` returns: one row per (shuffle, protocol) in ``table``, the per-fold
    histories of the first shuffle's fixed-epoch run (with the test subject's curve) and the epochs the leaky
    protocol chose per fold (first shuffle)."""

    table: pd.DataFrame
    histories: dict
    chosen_epochs: pd.Series

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation over shuffles of WAR / UAR / UF1 per protocol (in protocol order)."""
        g = self.table.groupby("protocol", sort=False)[["war", "uar", "uf1"]]
        out = g.mean().join(g.std().fillna(0.0), rsuffix="_std")
        return out[["war", "war_std", "uar", "uar_std", "uf1", "uf1_std"]]


def leakage_experiment(data: ClipDataset, folds: Sequence[Any], model_factory: Callable[[int], Any],
                       config: TrainConfig, *, n_shuffles: int = 3, seed: int = 0, notebook: str, dataset: str,
                       protocol: str, val_fraction: float = 0.25, data_source: str | None = None,
                       root: str | os.PathLike | None = None, device: Any = "auto", progress: bool = True) -> LeakageResult:
    """Shuffled labels, three ways of picking the epoch (REFERENCE.md §2, "Leakage seen in public code").

    For each of ``n_shuffles`` random permutations of the labels (no information left in the inputs) the
    model is trained under ``folds`` and scored three ways:

    1. the **last epoch** of a fixed budget (honest: nothing is chosen);
    2. the epoch with the best accuracy on an **inner validation split of the training subjects**
       (honest model selection, :func:`inner_split`);
    3. the epoch with the best accuracy **on the test subject itself**, per fold — what the public AMAN
       and 3D-CNN code does. The predictions of that epoch are pooled like an honest run.

    Honest protocols stay at chance; the third reports well above chance from noise alone. Every run goes
    through :func:`cross_validate` (result store, resume; protocol ``<protocol>-shuffled``, which the
    comparison notebook leaves out). Returns a :class:`LeakageResult`.
    """
    if config.select != "last":
        raise ValueError("leakage_experiment: pass a config with select='last'; the function sets up the selections.")
    rows, histories, first_chosen = [], {}, pd.Series(dtype=float)
    for r in range(int(n_shuffles)):
        rng = np.random.default_rng(int(seed) * 7919 + r)
        shuffled = data.with_labels(rng.permutation(data.labels))
        common = dict(notebook=notebook, dataset=dataset, data_source=data_source, root=root, device=device,
                      progress=progress, seed=seed + r, class_names=data.class_names)
        run = cross_validate(TorchMethod(model_factory, config, track_test=True), shuffled, folds,
                             protocol=f"{protocol}-shuffled", method_name="shuffled labels, fixed epochs",
                             params={"shuffle": r}, **common)
        inner = dataclasses.replace(config, val_fraction=val_fraction, select="val_acc")
        sel = cross_validate(TorchMethod(model_factory, inner), shuffled, folds, protocol=f"{protocol}-shuffled",
                             method_name="shuffled labels, inner validation", params={"shuffle": r}, **common)
        leaky, chosen = evaluation.best_epoch_on_test(load_fold_tables(run), data.num_classes)
        if r == 0:
            histories, first_chosen = run.histories, chosen
        last_epoch = config.epochs
        for name, preds, epoch in ((LEAKAGE_PROTOCOLS[0], run.predictions, float(last_epoch)),
                                   (LEAKAGE_PROTOCOLS[1], sel.predictions,
                                    float(np.mean([h.loc[h["selected"].astype(bool), "epoch"].iloc[0]
                                                   for h in sel.histories.values()]))),
                                   (LEAKAGE_PROTOCOLS[2], leaky, float(chosen.mean()))):
            m = evaluation.pooled_metrics(preds, data.num_classes)
            rows.append({"shuffle": r, "protocol": name, "war": m["war"], "uar": m["uar"], "uf1": m["uf1"],
                         "mean_chosen_epoch": epoch})
    return LeakageResult(pd.DataFrame(rows), histories, first_chosen)
