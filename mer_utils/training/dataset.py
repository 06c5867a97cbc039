"""The prepared dataset a training run reads (:class:`ClipDataset`: the clip table plus the inputs) and the
subject-wise checks of its splits: :func:`inner_split` (validation subjects taken from the training subjects
only), :func:`check_fold` (no subject on both sides), :func:`fold_seed`."""
from __future__ import annotations

import zlib
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
