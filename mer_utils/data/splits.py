"""Train / test splits of a clip table: LOSO, k-fold by subject, holdout-database, and the 3D-CNN paper's 80/20.

Every function returns a list of :class:`Fold` ``(name, train, test)`` whose ``train`` / ``test`` are sorted
**positional** index arrays into the table (use ``table.iloc[fold.test]``). Subject-wise splits assert that no
subject (``subject_uid``, unique across datasets) is on both sides; model selection must then use training
subjects only (REFERENCE.md §2, "Leakage seen in public code").
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np
import pandas as pd

from .naming import family


class Fold(NamedTuple):
    """One split: ``name``, positional ``train`` and ``test`` indices, and whether subjects are disjoint."""

    name: str
    train: np.ndarray
    test: np.ndarray
    subject_disjoint: bool = True


def _subjects(table: pd.DataFrame, column: str | None) -> np.ndarray:
    column = column or ("subject_uid" if "subject_uid" in table.columns else "subject")
    if column not in table.columns:
        raise ValueError(f"The table has no {column!r} column; expected a clip table (subject_uid, subject).")
    values = table[column]
    if values.isna().any():
        raise ValueError(f"{int(values.isna().sum())} row(s) have no {column}; subject-wise splits need every clip's subject.")
    return values.astype(str).to_numpy()


def check_disjoint(table: pd.DataFrame, fold: Fold, subject_column: str | None = None) -> None:
    """Raise ``AssertionError`` naming the subjects found in both ``fold.train`` and ``fold.test``."""
    subjects = _subjects(table, subject_column)
    shared = sorted(set(subjects[fold.train]) & set(subjects[fold.test]))
    if shared:
        raise AssertionError(f"Fold {fold.name}: subjects {shared[:10]} are in both train and test "
                             f"({len(shared)} shared); a subject-wise split must keep them apart.")


def _fold(name: str, test_mask: np.ndarray, train_mask: np.ndarray | None = None, disjoint: bool = True) -> Fold:
    train_mask = ~test_mask if train_mask is None else train_mask
    return Fold(name, np.flatnonzero(train_mask).astype(np.int64), np.flatnonzero(test_mask).astype(np.int64), disjoint)


def leave_one_subject_out(table: pd.DataFrame, subject_column: str | None = None) -> list[Fold]:
    """Leave-one-subject-out: one fold per subject (sorted by id), that subject's clips as the test set.

    The MEGC protocols pool the predictions of all folds before computing a metric (REFERENCE.md §2).
    """
    subjects = _subjects(table, subject_column)
    folds = [_fold(str(s), subjects == s) for s in sorted(set(subjects))]
    for fold in folds:
        check_disjoint(table, fold, subject_column)
    return folds


def subject_kfold(table: pd.DataFrame, k: int = 5, seed: int = 0, stratify: bool = False,
                  subject_column: str | None = None) -> list[Fold]:
    """k folds by subject: the subjects are shuffled with ``seed`` and cut into ``k`` near-equal parts
    (She et al. 2020 §IV.A(b): "we randomly divide the subject into five parts").

    ``stratify=True`` balances the classes (``label`` column) across folds with scikit-learn's
    ``StratifiedGroupKFold`` instead.
    """
    subjects = _subjects(table, subject_column)
    unique = np.array(sorted(set(subjects)))
    if not 2 <= k <= len(unique):
        raise ValueError(f"k={k}: expected 2 <= k <= the number of subjects ({len(unique)}).")
    if stratify:
        if "label" not in table.columns:
            raise ValueError("stratify=True needs a 'label' column: apply a protocol first.")
        from sklearn.model_selection import StratifiedGroupKFold

        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        folds = [Fold(f"fold{i + 1}of{k}", np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64))
                 for i, (tr, te) in enumerate(splitter.split(np.zeros(len(table)), table["label"].to_numpy(), subjects))]
    else:
        order = np.random.default_rng(seed).permutation(unique)
        folds = [_fold(f"fold{i + 1}of{k}", np.isin(subjects, part)) for i, part in enumerate(np.array_split(order, k))]
    for fold in folds:
        check_disjoint(table, fold, subject_column)
    return folds


def _dataset_mask(table: pd.DataFrame, name: str) -> np.ndarray:
    datasets = table["dataset"].astype(str)
    mask = (datasets == name).to_numpy()
    if not mask.any():
        mask = (datasets.map(family) == family(name)).to_numpy()
    if not mask.any():
        raise ValueError(f"Dataset {name!r} is not in the table; it holds {sorted(set(datasets))}.")
    return mask


def holdout_database(table: pd.DataFrame, train: str | None = None, test: str | None = None,
                     subject_column: str | None = None) -> list[Fold]:
    """Holdout-database evaluation (MEGC 2018 HDE, Peng et al. 2018 §III.B): train on one dataset, test on another.

    With neither ``train`` nor ``test`` the table must hold exactly two datasets and both directions are
    returned (the HDE score is the mean of the two folds). With one of them, the other is every remaining dataset.
    Names match the ``dataset`` column (``casme2``) or a family (``smic`` for ``smic_hs``).
    """
    datasets = list(pd.unique(table["dataset"].astype(str)))
    if train is None and test is None:
        if len(datasets) != 2:
            raise ValueError(f"holdout_database without train/test needs exactly two datasets; the table holds {datasets}.")
        pairs = [(datasets[0], datasets[1]), (datasets[1], datasets[0])]
    else:
        pairs = [(train, test)]
    folds = []
    for a, b in pairs:
        train_mask = _dataset_mask(table, a) if a is not None else ~_dataset_mask(table, b)
        test_mask = _dataset_mask(table, b) if b is not None else ~train_mask
        if (train_mask & test_mask).any():
            raise ValueError(f"holdout_database: train {a!r} and test {b!r} select the same clips.")
        if not test_mask.any() or not train_mask.any():
            raise ValueError(f"holdout_database: train {a!r} / test {b!r} leaves one side empty.")
        name_a = a or "+".join(sorted(set(table["dataset"][train_mask])))
        name_b = b or "+".join(sorted(set(table["dataset"][test_mask])))
        folds.append(_fold(f"train {name_a} / test {name_b}", test_mask, train_mask))
    for fold in folds:
        check_disjoint(table, fold, subject_column)
    return folds


def random_split_80_20(table: pd.DataFrame, seed: int = 0, test_size: float = 0.2,
                       stratify: bool = False, groups: str | None = None) -> list[Fold]:
    """The single random 80/20 split of Reddy et al. 2019 §IV.A (one split, reused for every experiment).

    **Warning: subject-overlapping.** Clips are split at random, so the same person is in train and test and the
    score measures partly *who* is in a clip, not only what expression (REFERENCE.md §2). Kept only to reproduce
    the paper; report LOSO beside it. The authors call ``train_test_split(..., test_size=0.2, random_state=4)``
    on their own clip order, which cannot be recreated, so the exact split differs anyway.

    ``groups``: a column whose rows must stay on one side (e.g. ``"frame_dir"``, the video a CAS(ME)² window is
    cut from, so that overlapping windows of one video never straddle the split); ``test_size`` is then the
    fraction of groups (``GroupShuffleSplit``). When every group holds one clip the plain clip split is used.
    """
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    if not 0 < test_size < 1:
        raise ValueError(f"test_size={test_size}: expected a fraction between 0 and 1.")
    if groups is not None:
        if groups not in table.columns:
            raise KeyError(f"random_split_80_20(groups={groups!r}): the table has no such column; pass a column "
                           f"of {list(table.columns)} (e.g. 'frame_dir', the video) or groups=None.")
        if stratify:
            raise ValueError("random_split_80_20: stratify and groups cannot be combined.")
        g = table[groups].astype(str).to_numpy()
        if len(np.unique(g)) < len(g):
            splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
            train, test = next(splitter.split(np.arange(len(table)), groups=g))
            return [Fold("random_80_20", np.sort(train).astype(np.int64), np.sort(test).astype(np.int64),
                         subject_disjoint=False)]
    labels = table["label"].to_numpy() if stratify else None
    if stratify and "label" not in table.columns:
        raise ValueError("stratify=True needs a 'label' column: apply a protocol first.")
    train, test = train_test_split(np.arange(len(table)), test_size=test_size, random_state=seed, stratify=labels)
    return [Fold("random_80_20", np.sort(train).astype(np.int64), np.sort(test).astype(np.int64), subject_disjoint=False)]


def shared_subjects(table: pd.DataFrame, fold: Fold, subject_column: str | None = None) -> list[str]:
    """Subjects present in both sides of ``fold`` (empty for every subject-wise split)."""
    subjects = _subjects(table, subject_column)
    return sorted(set(subjects[fold.train]) & set(subjects[fold.test]))


def folds_table(table: pd.DataFrame, folds: Sequence[Fold], subject_column: str | None = None) -> pd.DataFrame:
    """One row per fold: clip and subject counts on each side and the subjects shared between them."""
    subjects = _subjects(table, subject_column)
    rows = []
    for fold in folds:
        rows.append({"fold": fold.name, "train_clips": len(fold.train), "test_clips": len(fold.test),
                     "train_subjects": len(set(subjects[fold.train])), "test_subjects": len(set(subjects[fold.test])),
                     "shared_subjects": len(shared_subjects(table, fold, subject_column))})
    return pd.DataFrame(rows)


def splits_for(protocol: Any, table: pd.DataFrame, seed: int = 0, **options: Any) -> list[Fold]:
    """The split a protocol's paper uses (``protocol.evaluation``): LOSO, k-fold by subject (``protocol.k``),
    holdout-database (both directions) or the random 80/20 split."""
    from .protocols import get_protocol

    protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
    if protocol.evaluation == "loso":
        return leave_one_subject_out(table, **options)
    if protocol.evaluation == "subject_kfold":
        return subject_kfold(table, k=protocol.k or 5, seed=seed, **options)
    if protocol.evaluation == "holdout_database":
        return holdout_database(table, **options)
    return random_split_80_20(table, seed=seed, **options)


__all__ = ["Fold", "leave_one_subject_out", "subject_kfold", "holdout_database", "random_split_80_20",
           "check_disjoint", "shared_subjects", "folds_table", "splits_for"]
