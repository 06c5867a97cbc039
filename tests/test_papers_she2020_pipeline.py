"""She et al. 2020 Part 3: aggregation of frame features (eq. 3-4, Table IV) and the video-level SVM."""
import numpy as np
import pytest
import torch

from mer_utils.papers.she2020.pipeline import (STATISTICS, aggregate_clips, aggregate_frame_features,
                                       aggregation_choices, fit_video_svm)

# one clip, N = 4 frames, D = 2 features; column 0: 1, 2, 3, 10; column 1: 0, 0, 4, 4
S = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 4.0], [10.0, 4.0]])


def test_known_mean_std_median():
    np.testing.assert_allclose(aggregate_frame_features(S, ["mean"]), [4.0, 2.0])
    np.testing.assert_allclose(aggregate_frame_features(S, ["std"]), [np.sqrt(12.5), 2.0])  # ddof = 0
    np.testing.assert_allclose(aggregate_frame_features(S, ["median"]), [2.5, 2.0])  # mean of middle two
    np.testing.assert_allclose(aggregate_frame_features(S), [4.0, 2.0, np.sqrt(12.5), 2.0, 2.5, 2.0])


def test_torch_input_and_batch_of_clips():
    batch = np.stack([S, S[::-1] * 2])
    z = aggregate_frame_features(torch.from_numpy(batch), "mean+median")
    np.testing.assert_allclose(z, [[4.0, 2.0, 2.5, 2.0], [8.0, 4.0, 5.0, 4.0]])


def test_seven_choices_in_table_iv_order_and_widths():
    choices = aggregation_choices()
    assert list(choices) == ["mean", "std", "median", "mean+std", "mean+median", "std+median",
                             "mean+std+median"]
    frames = np.random.default_rng(0).normal(size=(3, 5, 64))
    widths = {name: aggregate_frame_features(frames, stats).shape for name, stats in choices.items()}
    assert widths == {"mean": (3, 64), "std": (3, 64), "median": (3, 64), "mean+std": (3, 128),
                      "mean+median": (3, 128), "std+median": (3, 128), "mean+std+median": (3, 192)}
    assert choices["mean+std+median"] == STATISTICS


def test_aggregate_clips_equal_and_unequal_lengths():
    feats = np.concatenate([S, S * 2, S[:3]])
    clip = np.array([7] * 4 + [3] * 4 + [5] * 3)
    clips, z = aggregate_clips(feats, clip, "mean")
    np.testing.assert_array_equal(clips, [3, 5, 7])
    np.testing.assert_allclose(z, [[8.0, 4.0], [2.0, 4 / 3], [4.0, 2.0]])
    clips, z = aggregate_clips(np.concatenate([S, S * 2]), np.array([1] * 4 + [0] * 4), "median+std")
    np.testing.assert_allclose(z[1], aggregate_frame_features(S, "median+std"))
    np.testing.assert_allclose(z[0], aggregate_frame_features(S * 2, "median+std"))


def test_bad_input_errors():
    with pytest.raises(ValueError, match="Unknown statistic"):
        aggregate_frame_features(S, ["max"])
    with pytest.raises(ValueError, match=r"\(N, D\) or \(B, N, D\)"):
        aggregate_frame_features(np.zeros(5))
    with pytest.raises(ValueError, match="clip_index"):
        aggregate_clips(S, np.zeros(3))


def test_svm_inner_cv_on_subjects_learns_separable_data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2, 3], 12)
    x = rng.normal(size=(48, 6)) + 3 * np.eye(4, 6)[y]
    groups = np.tile(np.arange(6), 8)
    grid = {"svc__kernel": ["linear", "rbf"], "svc__C": [0.1, 1.0]}
    model = fit_video_svm(x, y, groups, grid, inner_folds=3)
    assert set(model.best_params_) >= {"svc__C", "svc__kernel"}
    assert (model.predict(x) == y).mean() > 0.9
    single = fit_video_svm(x, y, np.zeros(48), grid)  # one subject: no inner search possible
    assert not hasattr(single, "best_params_")
    fixed = fit_video_svm(x, y, groups, {"svc__kernel": ["linear"], "svc__C": [0.5]})  # one candidate: no search
    assert not hasattr(fixed, "best_params_") and fixed.get_params()["svc__C"] == 0.5


def test_roi_boxes_follow_the_shared_grid():
    from mer_utils.papers.she2020.pipeline import she_roi_boxes
    from mer_utils.preprocess.roi import SHE_ROI_CELLS

    full, half = she_roi_boxes(), she_roi_boxes(0.5)
    for name, (r0, r1, c0, c1) in SHE_ROI_CELLS.items():
        assert full[name] == (10 * r0, 10 * r1, 10 * c0, 10 * c1)
        assert half[name] == (5 * r0, 5 * r1, 5 * c0, 5 * c1)


def test_resize_faces_and_frame_table(she_tiny_problem):
    from mer_utils.papers.she2020.pipeline import frame_indices, frame_table, resize_faces

    faces = np.zeros((2, 3, 140, 120, 3), np.uint8)
    assert resize_faces(faces, 0.5).shape == (2, 3, 70, 60, 3)
    assert resize_faces(faces, 1.0, grey=True).shape == (2, 3, 140, 120, 1)
    with pytest.raises(ValueError, match="uint8 faces"):
        resize_faces(faces.astype(float))
    table, _ = she_tiny_problem(2, 2)
    ft = frame_table(table, 3)
    assert len(ft) == 12 and ft["clip_uid"].iloc[4] == "casme2/s0/c1#1"
    assert (ft["label"].to_numpy()[frame_indices([1], 3)] == table["label"].iloc[1]).all()


@pytest.mark.slow
def test_pipeline_cross_validates_and_resumes(tmp_path, monkeypatch, she_tiny_problem):
    from mer_utils.data.splits import subject_kfold
    from mer_utils.papers.she2020.pipeline import (She2020Settings, aggregation_results, load_frame_features,
                                           run_multiple_aggregation)

    monkeypatch.setenv("MER_RESULTS_ROOT", str(tmp_path))
    table, faces = she_tiny_problem()
    folds = subject_kfold(table, k=2, seed=0)
    settings = She2020Settings(width=2, blocks_per_stage=1, hidden=8, epochs=1, batch_size=16, scale=0.2,
                               svm_grid=({"svc__kernel": ["linear"], "svc__C": [1.0]},), inner_folds=2)
    kw = dict(notebook="test", dataset="tiny", protocol="she2020_4class", class_names=list("abcd"),
              device="cpu", progress=False)
    cv = run_multiple_aggregation(table, faces, folds, settings, **kw)
    assert len(cv.predictions) == len(table) and cv.computed == ["fold1of2", "fold2of2"]
    assert "training on cpu" in str(cv.frames_placement)  # notebook 10 prints where the frames were kept
    agg = aggregation_results(cv, 4)
    assert list(agg["aggregation"])[-1] == "mean+std+median"
    assert list(agg["width"]) == [8, 8, 8, 16, 16, 16, 24] and (agg["n"] == len(table)).all()
    main = agg.set_index("aggregation").loc["mean+std+median", "war"]
    assert main == pytest.approx(cv.metrics["pooled"]["war"])
    feats, rows = load_frame_features(cv, table)
    assert feats.shape == (len(table), 3, 8) and set(rows["clip_uid"]) == set(table["clip_uid"])
    again = run_multiple_aggregation(table, faces, folds, settings, **kw)
    assert again.resumed == ["fold1of2", "fold2of2"] and again.run_dir == cv.run_dir
    face_only = run_multiple_aggregation(table, faces, folds, She2020Settings(**{**settings.__dict__,
                                                                                 "branches": ("face",)}), **kw)
    assert face_only.run_dir != cv.run_dir


def test_uint8_frame_batches_train_exactly_like_per_frame_float_tensors(she_tiny_problem):
    """Issue 20: the frames are one uint8 tensor sliced per batch (no per-frame Python call) and scaled on the
    device; training gives the same weights (to float rounding) as feeding each frame as a float tensor through a
    callable (without dropout: the old path's DataLoader also drew from torch's generator, which shifted the
    dropout masks)."""
    from mer_utils.papers.she2020.pipeline import (MultipleAggregationPipeline, She2020Settings, frame_indices,
                                                   frame_table)
    from mer_utils.training import ClipDataset, fit

    def _to_tensor(frames):  # the per-frame float conversion of the old path
        return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)

    table, faces = she_tiny_problem()
    settings = She2020Settings(width=2, blocks_per_stage=1, hidden=8, epochs=2, batch_size=8, scale=0.2, dropout=0.0)
    pipe = MultipleAggregationPipeline(table, faces, settings, 4, device="cpu", progress=False)
    assert pipe.frames.inputs.dtype == torch.uint8 and tuple(pipe.frames.inputs.shape) == (48, 1, 28, 24)
    flat = faces.reshape(-1, *faces.shape[2:])
    old = ClipDataset(frame_table(pipe.table, 3), lambda i: _to_tensor(flat[i: i + 1])[0], class_names=list("0123"))
    idx = frame_indices(np.arange(8), 3)
    torch.manual_seed(0)
    a = fit(pipe.build_model(), pipe.frames, idx, pipe.train_config(), device="cpu", seed=1, progress=False).model
    torch.manual_seed(0)
    b = fit(pipe.build_model(), old, idx, pipe.train_config(), device="cpu", seed=1, progress=False).model
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(va.float(), vb.float(), atol=1e-5), (k, (va.float() - vb.float()).abs().max())
