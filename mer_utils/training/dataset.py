"""The prepared dataset a training run reads (:class:`ClipDataset`: the clip table plus the inputs) and the
subject-wise checks of its splits: :func:`inner_split` (validation subjects taken from the training subjects
only), :func:`check_fold` (no subject on both sides), :func:`fold_seed`. :meth:`ClipDataset.resident` keeps
tensor inputs on the training GPU when they fit (:func:`place_inputs`, the rule)."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd


#: Columns a prepared clip table must have.
REQUIRED_COLUMNS = ("clip_uid", "subject_uid", "dataset", "label")


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

    ``dataset[i]`` returns ``(x, label)`` as torch tensors, so it plugs into a DataLoader. Array inputs are
    gathered a batch at a time by the training loop, where they live: :meth:`resident` puts them on the
    training GPU when they fit (``placement`` then says what was decided; ``None`` for a dataset never placed).
    """

    def __init__(self, table: pd.DataFrame, inputs: Any, class_names: Sequence[str] | None = None):
        self.table = check_table(table).reset_index(drop=True)
        self.inputs = inputs
        self.placement: Placement | None = None
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
        self.class_names = list(class_names) if class_names is not None else class_names_from(self.table)

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
        out = ClipDataset(table, self.inputs, self.class_names)
        out.placement = self.placement
        return out

    def resident(self, device: Any, fraction: float = None, available_bytes: int | None = None) -> "ClipDataset":
        """The same clips with their array inputs placed for training on ``device`` by :func:`place_inputs`:
        moved onto a CUDA ``device`` when they take at most ``fraction`` of its available memory (batches are
        then gathered and converted on the GPU, nothing crosses the bus per batch), else kept in host memory and
        gathered into page-locked (pinned) batches that are copied asynchronously. Off CUDA nothing moves and
        the batches are the same tensors as without placement. NumPy inputs become tensors (no copy on the host).
        The decision is :attr:`placement` (printable). ``available_bytes`` overrides the measured free memory
        (tests); ``fraction`` defaults to :data:`RESIDENT_FRACTION`."""
        import torch

        if self._arrays is None:
            raise TypeError("ClipDataset.resident(): this dataset loads clips through a callable; resident inputs "
                            "need arrays or tensors with one row per clip (ClipDataset(table, X)).")
        tensors = [a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
                   for a in self._arrays]
        placement = place_inputs(sum(t.numel() * t.element_size() for t in tensors), device,
                                 RESIDENT_FRACTION if fraction is None else fraction, available_bytes)
        moved = [t.to(placement.device) for t in tensors]
        out = ClipDataset(self.table, tuple(moved) if self._multi else moved[0], self.class_names)
        out.placement = placement
        return out

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


#: Share of a CUDA device's available memory that :meth:`ClipDataset.resident` inputs may take. Available =
#: free memory reported by the driver (``torch.cuda.mem_get_info``) + what PyTorch's caching allocator holds but
#: does not use (memory an earlier run released). The other half stays for the model: weights, optimiser state,
#: activations of a batch and cuDNN workspaces (She et al.'s paper-size run: frames ~2 GB, training ~4.3 GB).
RESIDENT_FRACTION = 0.5


@dataclass(frozen=True)
class Placement:
    """Where :meth:`ClipDataset.resident` put the inputs: ``device`` (where they live), ``resident`` (on the
    training device, a CUDA GPU), ``pinned_batches`` (host inputs for CUDA training: batches gathered into
    page-locked memory), their size and the memory rule's numbers (``None`` off CUDA: available bytes, the limit
    and the fraction that gave it). ``str()`` is one line for a notebook."""

    device: str
    training_device: str
    resident: bool
    pinned_batches: bool
    nbytes: int
    available_bytes: int | None = None
    limit_bytes: int | None = None
    fraction: float | None = None

    def __str__(self) -> str:
        size = f"{self.nbytes / 1e9:.2f} GB" if self.nbytes >= 1e8 else f"{self.nbytes / 1e6:.1f} MB"
        if self.available_bytes is None:
            return f"inputs ({size}) in host memory: training on {self.training_device}"
        rule = f"limit {self.limit_bytes / 1e9:.1f} GB = {self.fraction:g} x {self.available_bytes / 1e9:.1f} GB available"
        if self.resident:
            return f"inputs ({size}) resident on {self.device}, batches gathered there ({rule})"
        return (f"inputs ({size}) in host memory, over the GPU limit ({rule}): batches gathered into pinned memory "
                f"and copied to {self.training_device}")


def cuda_available_bytes(device: Any) -> int:
    """Memory of CUDA ``device`` a new tensor can take: the driver's free memory (``torch.cuda.mem_get_info``)
    plus what PyTorch's caching allocator reserves without using."""
    import torch

    free, _ = torch.cuda.mem_get_info(device)
    return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))


def place_inputs(nbytes: int, device: Any, fraction: float = RESIDENT_FRACTION,
                 available_bytes: int | None = None) -> Placement:
    """The memory rule of :meth:`ClipDataset.resident`: inputs of ``nbytes`` live on a CUDA ``device`` when
    ``nbytes <= fraction x available`` (:func:`cuda_available_bytes`, or ``available_bytes`` when given), else
    in host memory with pinned batches; on any other device (CPU, MPS) in host memory, unchanged."""
    import torch

    from ..device import resolve_device

    if not 0 < fraction <= 1:
        raise ValueError(f"place_inputs: fraction must be in (0, 1] (share of the GPU's available memory), "
                         f"got {fraction}.")
    dev = resolve_device(device)
    if dev.type != "cuda":
        return Placement("cpu", str(dev), False, False, int(nbytes))
    if dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    avail = cuda_available_bytes(dev) if available_bytes is None else int(available_bytes)
    limit = int(fraction * avail)
    fits = nbytes <= limit
    return Placement(str(dev) if fits else "cpu", str(dev), fits, not fits, int(nbytes), avail, limit, float(fraction))


def class_names_from(table: pd.DataFrame) -> list[str]:
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
