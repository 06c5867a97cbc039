"""Metrics against hand-computed confusion matrices; pooled vs per-fold; absent classes; per dataset."""
import numpy as np
import pandas as pd
import pytest

from mer_utils import evaluation as ev


def _hand(cm):
    """UF1 / UAR / WAR / WF1 from a confusion matrix by the formulas of REFERENCE.md §2 (no sklearn)."""
    cm = np.asarray(cm, float)
    tp = np.diag(cm)
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    n_c = cm.sum(1)
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=(2 * tp + fp + fn) > 0)
    rec = np.divide(tp, n_c, out=np.zeros_like(tp), where=n_c > 0)
    return {"uf1": f1.mean(), "uar": rec.mean(), "war": tp.sum() / cm.sum(), "wf1": (f1 * n_c).sum() / n_c.sum()}


def test_metrics_match_hand_computed_confusion_matrix():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    cm = ev.confusion(y_true, y_pred, 3)
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    m = ev.compute_metrics(y_true, y_pred, [0, 1, 2])
    # by hand: F1 = 4/5, 2/4, 2/3 ; recall = 2/3, 1/2, 1
    assert m["uf1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["uar"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert m["war"] == pytest.approx(4 / 6)
    assert m["wf1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 2 / 3) / 6)
    for k, v in _hand(cm).items():
        assert m[k] == pytest.approx(v)


def test_random_predictions_agree_with_formulas():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    m = ev.compute_metrics(y_true, y_pred, 5)
    for k, v in _hand(ev.confusion(y_true, y_pred, 5)).items():
        assert m[k] == pytest.approx(v)
    q = ev.quick_scores(y_true, np.where(y_pred == 4, 3, y_pred), 5)  # class 4 never predicted
    full = ev.compute_metrics(y_true, np.where(y_pred == 4, 3, y_pred), 5)
    assert all(q[k] == pytest.approx(full[k]) for k in ("war", "uar", "uf1"))


def test_absent_class_still_counts():
    # class 2 never occurs: with the full label list it contributes a 0 to UF1 and UAR
    m3 = ev.compute_metrics([0, 0, 1, 1], [0, 1, 1, 1], labels=[0, 1, 2])
    m2 = ev.compute_metrics([0, 0, 1, 1], [0, 1, 1, 1], labels=[0, 1])
    assert m3["uf1"] == pytest.approx((2 / 3 + 0.8 + 0) / 3)
    assert m3["uar"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert m2["uf1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert ev.confusion([0, 1], [0, 1], 3).shape == (3, 3)


def test_unknown_label_and_length_mismatch_raise():
    with pytest.raises(ValueError, match="not in labels"):
        ev.compute_metrics([0, 3], [0, 1], labels=[0, 1, 2])
    with pytest.raises(ValueError, match="differ in length"):
        ev.compute_metrics([0, 1], [0], labels=2)


def _two_folds():
    # fold A: 3 clips, all correct; fold B: 1 clip, wrong. Pooled WAR 3/4, per-fold mean (1 + 0) / 2.
    return pd.DataFrame({"fold": ["A", "A", "A", "B"], "true": [0, 1, 2, 0], "pred": [0, 1, 2, 1],
                         "dataset": ["casme2", "casme2", "samm", "samm"],
                         "subject_uid": ["casme2/sub01"] * 3 + ["samm/006"]})


def test_pooled_vs_per_fold():
    p = _two_folds()
    pooled = ev.pooled_metrics(p, 3)
    assert pooled["war"] == pytest.approx(0.75)
    pf = ev.per_fold_metrics(p, 3)
    assert list(pf["fold"]) == ["A", "B"]
    assert pf["war"].tolist() == [1.0, 0.0]
    # fold B has one class present: UF1 over all 3 classes is 0 there, not undefined
    assert pf.loc[1, "uf1"] == 0.0
    assert ev.fold_mean(pf)["war"] == pytest.approx(0.5)
    table = ev.metrics_table(p, 3, per_fold=True)
    assert ev.PER_FOLD_MEAN in table.index and "pooled" in table.index
    assert table.loc["pooled", "war"] != table.loc[ev.PER_FOLD_MEAN, "war"]


def test_per_dataset_and_summary():
    p = _two_folds()
    per = ev.per_dataset_metrics(p, 3)
    assert per["casme2"]["war"] == 1.0 and per["samm"]["war"] == 0.5
    s = ev.summarize(p, 3)
    assert s["labels"] == [0, 1, 2] and set(s) >= {"pooled", "per_dataset", "per_fold", "per_fold_mean"}
    acc = ev.per_subject_accuracy(p)
    assert acc.set_index("subject_uid").loc["samm/006", "accuracy"] == 0.0


def test_confusion_normalisation_rows():
    cm = ev.confusion([0, 0, 1], [0, 1, 1], 3, normalize="true")
    np.testing.assert_allclose(cm, [[0.5, 0.5, 0], [0, 1, 0], [0, 0, 0]])


def test_chance_level_and_best_epoch_on_test():
    assert ev.chance_level([0, 0, 0, 1], 2)["uar"] == pytest.approx(0.5)
    t = pd.DataFrame({"epoch": [1, 1, 2, 2], "true": [0, 1, 0, 1], "pred": [1, 0, 0, 1]})
    chosen, epochs = ev.best_epoch_on_test({"f": t}, 2)
    assert epochs["f"] == 2 and (chosen["true"] == chosen["pred"]).all()
