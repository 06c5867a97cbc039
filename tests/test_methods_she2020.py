"""She et al. 2020 Part 3: aggregation of frame features (eq. 3-4, Table IV) and the video-level SVM."""
import numpy as np
import pytest
import torch

from mer_utils.methods.she2020 import (STATISTICS, aggregate_clips, aggregate_frame_features,
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
    model = fit_video_svm(x, y, groups, inner_folds=3)
    assert set(model.best_params_) >= {"svc__C", "svc__kernel"}
    assert (model.predict(x) == y).mean() > 0.9
    single = fit_video_svm(x, y, np.zeros(48))  # one subject: no inner search possible
    assert not hasattr(single, "best_params_")
