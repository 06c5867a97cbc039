"""Splits: coverage, determinism and subject disjointness."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mer_utils.data import (Fold, check_disjoint, folds_table, holdout_database, leave_one_subject_out,
                            random_split_80_20, splits_for, subject_kfold)
from mer_utils.data.splits import shared_subjects


@pytest.fixture
def composite():
    rng = np.random.default_rng(0)
    rows = []
    for dataset, family, subjects in [("casme2", "casme2", 6), ("samm", "samm", 5)]:
        for s in range(subjects):
            for c in range(int(rng.integers(1, 5))):
                rows.append({"dataset": dataset, "subject": f"{s:03d}", "subject_uid": f"{family}/{s:03d}",
                             "clip": f"{s}_{c}", "label": int(rng.integers(0, 3))})
    return pd.DataFrame(rows)


def _covers_once(table, folds):
    tested = np.concatenate([f.test for f in folds])
    return sorted(tested.tolist()) == list(range(len(table)))


def test_loso(composite):
    folds = leave_one_subject_out(composite)
    assert len(folds) == composite["subject_uid"].nunique() == 11
    assert _covers_once(composite, folds)
    for fold in folds:
        assert set(composite["subject_uid"].iloc[fold.test]) == {fold.name}
        assert len(fold.train) + len(fold.test) == len(composite) and fold.subject_disjoint
        assert fold.train.dtype == np.int64 and np.all(np.diff(fold.test) > 0)


def test_subject_kfold_is_seeded_and_disjoint(composite):
    a, b = subject_kfold(composite, k=5, seed=1), subject_kfold(composite, k=5, seed=1)
    c = subject_kfold(composite, k=5, seed=2)
    assert [f.test.tolist() for f in a] == [f.test.tolist() for f in b]
    assert [f.test.tolist() for f in a] != [f.test.tolist() for f in c]
    assert _covers_once(composite, a) and len(a) == 5
    assert all(shared_subjects(composite, f) == [] for f in a)
    stratified = subject_kfold(composite, k=3, seed=0, stratify=True)
    assert _covers_once(composite, stratified)
    with pytest.raises(ValueError, match="k=20"):
        subject_kfold(composite, k=20)


def test_holdout_database_both_directions(composite):
    folds = holdout_database(composite)
    assert [f.name for f in folds] == ["train casme2 / test samm", "train samm / test casme2"]
    assert set(composite["dataset"].iloc[folds[0].train]) == {"casme2"}
    assert set(composite["dataset"].iloc[folds[0].test]) == {"samm"}
    one = holdout_database(composite, train="samm", test="casme2")
    assert one[0].test.tolist() == folds[1].test.tolist()
    assert holdout_database(composite, train="samm")[0].name == "train samm / test casme2"
    with pytest.raises(ValueError, match="smic"):
        holdout_database(composite, train="smic", test="samm")


def test_random_80_20_is_flagged_and_overlapping(composite):
    (fold,) = random_split_80_20(composite, seed=4)
    assert not fold.subject_disjoint and fold.name == "random_80_20"
    assert len(fold.test) == int(np.ceil(0.2 * len(composite)))
    assert sorted(fold.train.tolist() + fold.test.tolist()) == list(range(len(composite)))
    assert "subject-overlapping" in random_split_80_20.__doc__
    assert len(shared_subjects(composite, fold)) > 0
    table = folds_table(composite, [fold])
    assert table.loc[0, "shared_subjects"] > 0 and table.loc[0, "test_clips"] == len(fold.test)


def test_check_disjoint_names_the_shared_subjects(composite):
    fold = Fold("bad", np.array([0, 1]), np.array([1, 2]))
    with pytest.raises(AssertionError, match=r"casme2/000"):
        check_disjoint(composite, fold)


def test_splits_for_protocols(composite):
    assert len(splits_for("megc2018_objective", composite)) == 11
    assert len(splits_for("she2020_4class", composite, seed=0)) == 5
    assert splits_for("reddy2019_smic", composite)[0].name == "random_80_20"
