"""Training loop, inner validation on training subjects, the cross-validation runner and its resume."""
from collections import namedtuple

import numpy as np
import pandas as pd
import pytest
import torch

from mer_utils import results, training as T

Fold = namedtuple("Fold", "name train test")
torch.set_num_threads(1)  # tiny tensors: extra threads only add contention on a shared 2-core machine


def toy(n_subjects=6, per_subject=8, seed=0, classes=2, separable=True):
    """Gaussian blobs, one per class (far apart when separable), ``per_subject`` clips per subject."""
    rng = np.random.default_rng(seed)
    rows, X = [], []
    for s in range(n_subjects):
        for k in range(per_subject):
            lab = k % classes
            rows.append({"clip_uid": f"toy/s{s:02d}/c{k}", "subject_uid": f"toy/s{s:02d}", "subject": f"s{s:02d}",
                         "dataset": "toy" if s % 2 == 0 else "toy2", "label": lab, "label_name": f"class{lab}"})
            centre = np.eye(4)[lab] * (4.0 if separable else 0.0)
            X.append(centre + rng.normal(0, 0.5, 4))
    return pd.DataFrame(rows), np.asarray(X, dtype=np.float32)


def loso(table):
    subj = table["subject_uid"].to_numpy()
    return [Fold(s, np.flatnonzero(subj != s), np.flatnonzero(subj == s)) for s in np.unique(subj)]


def mlp(num_classes):
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, num_classes))


def test_fit_learns_separable_toy_set():
    torch.manual_seed(0)
    table, X = toy()
    data = T.ClipDataset(table, X)
    cfg = T.TrainConfig(epochs=15, batch_size=8, lr=0.05, optimizer="sgd")
    res = T.fit(mlp(2), data, np.arange(len(table)), cfg, device="cpu", progress=False)
    assert list(res.history["epoch"]) == list(range(1, 16))
    assert res.history["train_loss"].iloc[-1] < res.history["train_loss"].iloc[0]
    pred, probs, _ = T.predict(res.model, data, np.arange(len(table)), device="cpu")
    assert (pred == data.labels).mean() > 0.95 and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_inner_split_uses_training_subjects_only():
    table, _ = toy(n_subjects=6)
    groups = table["subject_uid"].to_numpy()
    test = np.flatnonzero(groups == "toy/s05")
    train = np.setdiff1d(np.arange(len(table)), test)
    tr, va = T.inner_split(groups, train, 0.34, seed=3)
    assert set(groups[va]).isdisjoint(groups[tr])
    assert set(groups[va]) | set(groups[tr]) == set(groups[train])
    assert "toy/s05" not in set(groups[va]) | set(groups[tr])
    assert np.array_equal(va, T.inner_split(groups, train, 0.34, seed=3)[1])
    with pytest.raises(ValueError, match="at least 2"):
        T.inner_split(groups, np.flatnonzero(groups == "toy/s00"), 0.5)


def test_fit_selection_uses_validation_of_training_subjects():
    table, X = toy(n_subjects=5)
    data = T.ClipDataset(table, X)
    groups = data.groups
    train = np.flatnonzero(groups != "toy/s04")
    cfg = T.TrainConfig(epochs=4, batch_size=8, val_fraction=0.25, select="val_loss", balance="sampler")
    res = T.fit(mlp(2), data, train, cfg, device="cpu", progress=False)
    assert {"val_loss", "val_acc", "val_uf1"} <= set(res.history.columns)
    assert set(groups[res.val_idx]) < set(groups[train]) and "toy/s04" not in set(groups[res.val_idx])
    assert res.history["selected"].sum() == 1
    with pytest.raises(ValueError, match="val_fraction"):
        T.TrainConfig(select="val_acc")


def test_balanced_oversampling_equal_counts():
    labels = np.array([0] * 7 + [1] * 2 + [2] * 4)
    out = T.balanced_indices(labels, np.arange(13), np.random.default_rng(0))
    assert np.bincount(labels[out]).tolist() == [7, 7, 7]
    assert set(np.arange(13)) <= set(out)


def test_check_fold_rejects_subject_overlap_and_bad_indices():
    table, _ = toy(n_subjects=3)
    groups = table["subject_uid"].to_numpy()
    with pytest.raises(ValueError, match="both train and test"):
        T.check_fold(Fold("bad", np.arange(0, 10), np.arange(10, 20)), groups, len(table))
    T.check_fold(Fold("ok", np.arange(0, 10), np.arange(10, 20)), groups, len(table), subject_wise=False)
    with pytest.raises(IndexError):
        T.check_fold(Fold("oob", np.arange(0, 8), np.array([99])), groups, len(table))


def _cv(method, data, folds, root, **kw):
    kw = {"notebook": "test", "dataset": "toy", "protocol": "loso", "method_name": "m", "progress": False,
          "root": root, "device": "cpu", **kw}
    return T.cross_validate(method, data, folds, **kw)


def test_cross_validate_sklearn_writes_store(tmp_path):
    from sklearn.svm import LinearSVC

    table, X = toy()
    data = T.ClipDataset(table, X)
    res = _cv(T.SklearnMethod(LinearSVC()), data, loso(table), tmp_path)
    p = res.predictions
    assert len(p) == len(table) and set(p["clip_uid"]) == set(table["clip_uid"])
    assert {"clip_uid", "subject_uid", "dataset", "fold", "true", "pred", "score_0", "score_1"} <= set(p.columns)
    assert res.metrics["pooled"]["war"] > 0.95
    for name in ("params.json", "metrics.json", "environment.json", "timings.json", "predictions.csv"):
        assert (res.run_dir / name).exists()
    assert len(list(res.run_dir.glob("folds/*/model.joblib"))) == 6
    assert res.run_dir.relative_to(tmp_path).parts[:3] == ("test", "toy", "loso")
    table_all = results.load_results(tmp_path, per_dataset=True)
    assert set(table_all["scope"]) == {"pooled", "toy", "toy2"} and table_all["complete"].all()


class NearestCentroid:
    """A ``fit_predict(fold, train_idx, test_idx, fold_dir)`` callable that can simulate a crash.

    Its ``repr`` (what the parameters hash sees) stays the same whatever ``crash_after`` is, as a re-run
    of the same notebook cell would be.
    """

    def __init__(self, X, labels):
        self.X, self.labels, self.calls, self.crash_after = X, labels, [], None

    def __call__(self, fold, train_idx, test_idx, fold_dir):
        if self.crash_after is not None and len(self.calls) >= self.crash_after:
            raise KeyboardInterrupt("simulated crash")
        self.calls.append(fold.name)
        X, y = self.X, self.labels
        centroids = np.stack([X[train_idx][y[train_idx] == c].mean(0) for c in (0, 1)])
        d = -((X[test_idx][:, None] - centroids[None]) ** 2).sum(-1)
        return d.argmax(1), d

    def __repr__(self):
        return "NearestCentroid()"


def test_resume_after_crash_gives_same_predictions(tmp_path):
    table, X = toy()
    folds = loso(table)
    method = NearestCentroid(X, table["label"].to_numpy())
    reference = _cv(method, table, folds, tmp_path / "reference")

    method.calls.clear()
    method.crash_after = 1  # dies when fold 2 starts
    with pytest.raises(KeyboardInterrupt):
        _cv(method, table, folds, tmp_path / "run")
    assert method.calls == [folds[0].name]
    run = next((tmp_path / "run").glob("*/*/*/*"))
    assert len(list(run.glob("folds/*/fold.json"))) == 1 and not (run / "metrics.json").exists()

    method.calls.clear()
    method.crash_after = None
    final = _cv(method, table, folds, tmp_path / "run")
    assert final.run_dir == run and final.resumed == [folds[0].name]
    assert method.calls == [f.name for f in folds[1:]]  # the finished fold is not recomputed
    pd.testing.assert_frame_equal(final.predictions, reference.predictions)

    method.calls.clear()
    third = _cv(method, table, folds, tmp_path / "run")
    assert method.calls == [] and third.computed == []
    pd.testing.assert_frame_equal(third.predictions, reference.predictions)


def test_changed_params_give_fresh_folder_and_finished_folds_are_protected(tmp_path):
    from sklearn.linear_model import LogisticRegression

    table, X = toy(n_subjects=4)
    data, folds = T.ClipDataset(table, X), loso(table)
    a = _cv(LogisticRegression(C=1.0), data, folds, tmp_path, params={"profile": "ci"})
    b = _cv(LogisticRegression(C=1.0), data, folds, tmp_path, params={"profile": "ci"})
    c = _cv(LogisticRegression(C=0.1), data, folds, tmp_path, params={"profile": "ci"})
    d = _cv(LogisticRegression(C=1.0), data, folds, tmp_path, params={"profile": "quick"})
    e = _cv(LogisticRegression(C=1.0), T.ClipDataset(table, X * 2), folds, tmp_path, params={"profile": "ci"})
    assert a.run_dir == b.run_dir and b.resumed == [f.name for f in folds]
    assert len({a.run_dir, c.run_dir, d.run_dir, e.run_dir}) == 4  # other features -> other folder
    # a finished fold holding predictions for other clips is never silently overwritten
    f0 = next(a.run_dir.glob("folds/000_*/predictions.csv"))
    bad = results.read_predictions(f0)
    bad["clip_uid"] = bad["clip_uid"] + "x"
    results.atomic_write_csv(f0, bad)
    with pytest.raises(RuntimeError, match="(?i)refusing to overwrite"):
        _cv(LogisticRegression(C=1.0), data, folds, tmp_path, params={"profile": "ci"})


def test_torch_method_cv_checkpoints_and_tracks_test(tmp_path):
    table, X = toy(n_subjects=3, per_subject=6)
    data, folds = T.ClipDataset(table, X), loso(table)
    cfg = T.TrainConfig(epochs=3, batch_size=4, lr=0.05, optimizer="sgd")
    res = _cv(T.TorchMethod(mlp, cfg, track_test=True), data, folds, tmp_path)
    assert len(list(res.run_dir.glob("folds/*/model.pt"))) == 3
    assert set(res.histories) == {f.name for f in folds} and "test_acc" in res.histories[folds[0].name]
    ep = T.load_fold_tables(res)
    assert set(ep) == {f.name for f in folds} and sorted(ep[folds[0].name]["epoch"].unique()) == [1, 2, 3]
    # crash between checkpoint and fold.json: the checkpoint is reused, predictions are identical
    fdir = next(res.run_dir.glob("folds/000_*"))
    (fdir / "fold.json").unlink()
    again = _cv(T.TorchMethod(mlp, cfg, track_test=True), data, folds, tmp_path)
    assert again.computed == [folds[0].name]
    pd.testing.assert_frame_equal(again.predictions, res.predictions)


def test_bad_inputs_raise_helpful_errors():
    table, X = toy(n_subjects=2)
    with pytest.raises(KeyError, match="subject_uid"):
        T.ClipDataset(table.drop(columns="subject_uid"), X)
    with pytest.raises(ValueError, match="one row per clip"):
        T.ClipDataset(table, X[:3])
    with pytest.raises(TypeError, match="fit_predict"):
        T.as_method(42)


def test_leakage_experiment_selection_on_test_is_optimistic(tmp_path):
    table, X = toy(n_subjects=4, per_subject=6, classes=3, separable=False)
    data, folds = T.ClipDataset(table, X), loso(table)
    cfg = T.TrainConfig(epochs=4, batch_size=8, lr=0.05, optimizer="sgd")
    res = T.leakage_experiment(data, folds, T.FeatureMLP(4, 8, 0.0), cfg, n_shuffles=1, notebook="test",
                               dataset="toy", protocol="loso", root=tmp_path, device="cpu", progress=False)
    t = res.table.set_index("protocol")
    assert list(t.index) == list(T.LEAKAGE_PROTOCOLS)
    # per fold the leaky epoch is the best on the test subject, so pooled accuracy can only go up
    assert t.loc[T.LEAKAGE_PROTOCOLS[2], "war"] >= t.loc[T.LEAKAGE_PROTOCOLS[0], "war"]
    assert set(res.histories) == {f.name for f in folds} and res.chosen_epochs.between(1, 4).all()
    assert list(res.summary().index) == list(T.LEAKAGE_PROTOCOLS)
    assert all(p.endswith("-shuffled") for p in results.load_results(tmp_path)["protocol"])


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "missing", "bad_json", "bad_pred"])
def test_damaged_fold_files_recompute_only_that_fold(tmp_path, damage):
    """Issue 19: a damaged finished fold is named, set aside (never deleted) and recomputed alone."""
    table, X = toy()
    folds = loso(table)
    method = NearestCentroid(X, table["label"].to_numpy())
    ref = _cv(method, table, folds, tmp_path)
    fdir = next(ref.run_dir.glob("folds/001_*"))
    pfile = fdir / "predictions.csv"
    text = pfile.read_text()
    if damage == "truncated":
        pfile.write_text("\n".join(text.splitlines()[:3]) + "\n")
    elif damage == "empty":
        pfile.write_text("")
    elif damage == "garbage":
        pfile.write_bytes(b"\x00\x01\x02")
    elif damage == "missing":
        pfile.unlink()
    elif damage == "bad_json":
        (fdir / "fold.json").write_text('{"name": ')
    else:
        bad = results.read_predictions(pfile)
        bad.loc[0, "pred"] = 7  # a label outside the two classes
        results.atomic_write_csv(pfile, bad)
    method.calls.clear()
    with pytest.warns(T.DamagedRunWarning, match=str(fdir.name)):
        again = _cv(method, table, folds, tmp_path)
    assert method.calls == [folds[1].name]  # only the damaged fold
    pd.testing.assert_frame_equal(again.predictions, ref.predictions)
    kept = list((ref.run_dir / "damaged").iterdir())
    assert len(kept) == 1 and kept[0].name.startswith(fdir.name)  # the damaged files are kept, not deleted


def test_damaged_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "model.pt"
    T.save_checkpoint(mlp(2), path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(RuntimeError, match=r"model\.pt is damaged.*Move it away"):
        T.load_checkpoint(mlp(2), path)


@pytest.mark.parametrize("wrap", [lambda s: s, lambda s: {"state_dict": s}, lambda s: {"model_state_dict": s},
                                  lambda s: {"state_dict": {"model": s}, "epoch": 3}])
def test_unwrap_state_dict_finds_the_parameters(wrap):
    state = {"module.fc.weight": torch.zeros(2), "bias": torch.ones(1)}
    assert list(T.unwrap_state_dict(wrap(state))) == ["fc.weight", "bias"]


def test_unwrap_state_dict_rejects_what_is_no_dict():
    with pytest.raises(TypeError, match="Expected a state dict.*Tensor"):
        T.unwrap_state_dict(torch.zeros(2))


def test_changed_preprocessing_parameter_recomputes_the_folds(tmp_path):
    """Issue 20: the cross-validation key includes the recipe, its version and its parameters' key (set by
    preprocess.prepare on the table), so the same features from another preprocessing never reuse folds."""
    from sklearn.linear_model import LogisticRegression

    table, X = toy(n_subjects=3)
    folds = loso(table)
    runs = []
    for crop in ("a", "a", "b"):
        t = table.copy()
        t.attrs["preprocessing"] = {"recipe": "she2020", "version": "1", "params_key": f"key-{crop}"}
        data = T.ClipDataset(t, X)
        assert data.table.attrs["preprocessing"]["params_key"] == f"key-{crop}"
        runs.append(_cv(LogisticRegression(), data, folds, tmp_path))
    assert runs[0].run_dir == runs[1].run_dir and runs[1].resumed == [f.name for f in folds]
    assert runs[2].run_dir != runs[0].run_dir and runs[2].computed == [f.name for f in folds]
    stored = results.read_json(runs[2].run_dir / "params.json")
    assert stored["preprocessing"]["params_key"] == "key-b"
