"""Unit tests for the Reddy et al. 2019 pipeline glue (mer_utils.papers.reddy2019.pipeline), on tiny inputs."""
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from mer_utils.papers.reddy2019 import pipeline as R
from mer_utils.training import ClipDataset, cross_validate, load_fold_tables


def _video(tmp_path, n=40):
    folder = tmp_path / "rawpic" / "s15" / "15_0101disgustingteeth"
    folder.mkdir(parents=True)
    for k in range(1, n + 1):
        cv2.imwrite(str(folder / f"img{k}.jpg"), np.full((8, 8), k, np.uint8))
    return folder


def _row(folder, onset, apex, offset, uid="casme_sq/s15/disgust1_1"):
    nums = list(range(onset, offset + 1))
    return {"clip_uid": uid, "frame_dir": str(folder), "onset": onset, "apex": apex, "offset": offset,
            "apex_estimated": False, "frame_numbers": nums, "frame_paths": [str(folder / f"img{k}.jpg") for k in nums]}


def test_apex_window_centres_on_apex_and_stays_inside_the_video(tmp_path):
    folder = _video(tmp_path, 40)
    table = pd.DataFrame([_row(folder, 10, 14, 16), _row(folder, 2, 3, 5, "b"), _row(folder, 36, 39, 40, "c")])
    out = R.apex_window(table, 12)
    assert list(out["n_frames"]) == [12, 12, 12]
    assert out["frame_numbers"].iloc[0] == list(range(8, 20))      # apex 14 -> 8..19
    assert out["window_start"].iloc[1] == 1                         # clamped at the first frame
    assert out["window_stop"].iloc[2] == 40                         # clamped at the last frame
    assert out["frame_paths"].iloc[0][0].endswith("img8.jpg")       # numeric, not lexical, order
    short = R.apex_window(table.iloc[:1], 100)                      # video shorter than T: all its frames
    assert short["n_frames"].iloc[0] == 40
    assert table["frame_numbers"].iloc[0] == list(range(10, 17))    # input untouched


def test_apex_window_bad_input():
    with pytest.raises(KeyError, match="frame_dir"):
        R.apex_window(pd.DataFrame({"clip_uid": ["a"]}), 10)
    with pytest.raises(ValueError, match="n_frames"):
        R.apex_window(pd.DataFrame({"clip_uid": ["a"]}), 0)


def test_normaliser_is_fitted_on_training_clips_only():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 100, size=(5, 2, 3, 4, 4)).astype(np.uint8)
    test = np.full((1, 2, 3, 4, 4), 255, np.uint8)
    norm = R.GlobalMeanMaxNormaliser().fit(list(train))
    for c in range(2):
        m = train[:, c].astype(float).mean()
        assert norm.mean[c] == pytest.approx(m)
        assert norm.scale[c] == pytest.approx(train[:, c].max() - m)
    out = norm(test[0])
    assert out.dtype == torch.float32 and out.shape == (2, 3, 4, 4)
    assert float(out[0].max()) > 1.0          # test data outside the training range stays outside
    z = torch.stack([norm(x) for x in train])
    assert float(z[:, 0].max()) == pytest.approx(1.0)   # authors' x -= mean; x /= max(x) on training data
    with pytest.raises(RuntimeError, match="fit"):
        R.GlobalMeanMaxNormaliser()(train[0])
    with pytest.raises(ValueError, match=r"\(C, T, H, W\)"):
        R.GlobalMeanMaxNormaliser().fit([np.zeros((3, 4, 4))])


def test_model_inputs_shapes():
    prep = SimpleNamespace(arrays={"face": np.zeros((4, 18, 64, 64), np.uint8),
                                   "eyes": np.zeros((4, 18, 32, 32), np.uint8),
                                   "nose_mouth": np.ones((4, 18, 32, 32), np.uint8)})
    assert R.model_inputs(prep, "MicroExpSTCNN").shape == (4, 1, 18, 64, 64)
    fuse = R.model_inputs(prep, "MicroExpFuseNet-late")
    assert fuse.shape == (4, 2, 18, 32, 32) and fuse[:, 1].min() == 1 and fuse[:, 0].max() == 0
    with pytest.raises(ValueError, match="Unknown model"):
        R.model_inputs(prep, "C3D")


def test_kernel_labels_round_trip():
    assert R.kernel_label((3, 3, 15)) == "3x3x15" and R.parse_kernel("7x7x19") == (7, 7, 19)
    with pytest.raises(ValueError, match="rows x cols x frames"):
        R.parse_kernel("3x15")
    assert len(R.PROFILES["full"]["kernel_grid"]) == 12 and R.PROFILES["full"]["epochs"] == 100


def test_epoch_accuracy_and_last_epochs_summary():
    tables = {"a": pd.DataFrame({"epoch": [1, 1, 2, 2], "true": [0, 1, 0, 1], "pred": [0, 0, 0, 1]}),
              "b": pd.DataFrame({"epoch": [1, 2], "true": [2, 2], "pred": [2, 0]})}
    curve = R.epoch_accuracy(tables)
    assert curve["accuracy"].tolist() == pytest.approx([2 / 3, 2 / 3]) and curve["n"].tolist() == [3, 3]
    s = R.last_epochs_summary(pd.DataFrame({"epoch": range(1, 21), "accuracy": np.r_[np.zeros(10), np.arange(10)]}))
    assert s["mean"] == pytest.approx(4.5) and s["std"] == pytest.approx(np.std(np.arange(10), ddof=1))
    assert s["epochs"] == list(range(11, 21))
    with pytest.raises(ValueError, match="track_test"):
        R.epoch_accuracy({})


def _subjects_table(subjects, labels):
    n = len(labels)
    return pd.DataFrame({"clip_uid": [f"c{i}" for i in range(n)], "subject_uid": subjects, "dataset": "d",
                         "label": np.asarray(labels, dtype=np.int64)})


def test_subject_majority_baseline_uses_identity_only_when_subjects_overlap():
    # Each subject shows one label only: identity alone predicts every clip when the split mixes subjects.
    table = _subjects_table(["a"] * 4 + ["b"] * 4 + ["c"] * 4, [0] * 4 + [1] * 4 + [2] * 4)
    mixed = [SimpleNamespace(train=np.array([0, 1, 2, 4, 5, 6, 8, 9, 10]), test=np.array([3, 7, 11]))]
    assert R.subject_majority_baseline(table, mixed) == 1.0
    loso = R.make_folds(table, "loso")
    assert R.subject_majority_baseline(table, loso) == 0.0
    ov = R.subject_overlap(table, mixed[0])
    assert ov["test_clips_with_subject_in_train"] == 3 and ov["shared_subjects"] == 3


def test_saliency_region_shares():
    sal = np.zeros((2, 10, 10))
    sal[:, 0:2, 0:10] = 1.0                      # all mass in the top two rows
    boxes = {"eyes": (0, 0, 10, 2), "nose_mouth": (2, 5, 8, 9)}
    df = R.saliency_region_shares(sal, boxes).set_index("region")
    assert df.loc["eyes", "saliency_share"] == pytest.approx(1.0)
    assert df.loc["eyes", "area_share"] == pytest.approx(0.2)
    assert df.loc["eyes", "ratio"] == pytest.approx(5.0)
    assert df["saliency_share"].sum() == pytest.approx(1.0) and df["area_share"].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        R.saliency_region_shares(np.zeros((2, 2, 3, 4)), boxes)


def test_reddy_method_runs_under_the_cv_runner(tmp_path):
    rng = np.random.default_rng(0)
    n, T = 12, 8
    labels = np.arange(n) % 3
    X = rng.integers(0, 50, size=(n, 1, T, 16, 16)).astype(np.uint8)
    X[labels == 1, :, :, :8] += 150                       # a learnable cue
    table = _subjects_table([f"s{i % 4}" for i in range(n)], labels)
    data = ClipDataset(table, X, class_names=["a", "b", "c"])
    method = R.ReddyTorchMethod(R.ModelFactory("MicroExpSTCNN", T, (3, 3, 3), face_size=16),
                                R.authors_config(epochs=2, batch_size=4))
    kwargs = dict(notebook="t", dataset="d", protocol="p", method_name="m", root=tmp_path, device="cpu",
                  progress=False, max_folds=2)
    res = cross_validate(method, data, R.make_folds(table, "loso"), **kwargs)
    assert len(res.predictions) == 6 and set(res.histories) == {"s0", "s1"}
    epochs = load_fold_tables(res, "test_epochs")
    assert sorted(R.epoch_accuracy(epochs)["epoch"]) == [1, 2]
    summary = R.run_summary(res, last=2)
    assert summary["acc_best_epoch_on_test"] >= summary["acc"]
    assert 0 <= summary["test_last_mean"] <= 1 and summary["folds"] == 2
    assert not any((res.run_dir / "folds").glob("*/model.pt"))      # weights kept only when asked
    stats = pd.read_csv(next((res.run_dir / "folds").glob("000_*")) / "normalisation.csv")
    train0 = X[np.flatnonzero(table["subject_uid"] != "s0")].astype(float)
    assert stats["mean"].iloc[0] == pytest.approx(train0.mean())    # fold s0: statistics without s0's clips
    again = cross_validate(method, data, R.make_folds(table, "loso"), **kwargs)
    assert len(again.resumed) == 2 and again.predictions.equals(res.predictions)
