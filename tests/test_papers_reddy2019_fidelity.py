"""Issue 21: Reddy et al. 2019 — Table IV's SMIC counts vs the authors' code, and CAS(ME)² windows that share
frames across the 80/20 split (grouped by video by default, the authors' clip split as a flagged option)."""
import numpy as np
import pandas as pd
import pytest

from mer_utils.data import random_split_80_20
from mer_utils.papers.reddy2019 import pipeline as R


def test_table_iv_smic_counts_cannot_come_from_smic_hs():
    c = R.class_counts("reddy2019_smic", "smic_hs")
    assert c.loc[["negative", "positive", "surprise"], "paper (Table IV)"].tolist() == [79, 34, 43]
    assert c.loc[["negative", "positive", "surprise"], "authors' code"].tolist() == [66, 47, 43]
    assert c.loc[["negative", "positive", "surprise"], "whole SMIC-HS"].tolist() == [70, 51, 43]
    assert not c.loc["negative", "possible"]  # 79 negative clips > the 70 SMIC-HS has
    assert c.loc["total", "paper (Table IV)"] == c.loc["total", "authors' code"] == 156
    assert R.class_counts("reddy2019_casme_sq", "casme_sq").loc["total", "paper (Table IV)"] == 206


def _videos(n_videos=20, per_video=3, window=10, step=6):
    rows = []
    for v in range(n_videos):
        for k in range(per_video):
            start = 100 * (v % 3) + k * step  # windows of one video overlap by window - step frames
            rows.append({"clip_uid": f"casme_sq/s{v % 5}/v{v}_{k}", "subject_uid": f"casme_sq/s{v % 5}",
                         "frame_dir": f"/data/rawpic/s{v % 5}/v{v}", "label": k % 3,
                         "frame_numbers": list(range(start, start + window))})
    return pd.DataFrame(rows)


def test_window_overlaps_found_per_video():
    t = _videos(n_videos=2, per_video=3)
    ov = R.window_overlaps(t)
    # per video: (0,1) share 4 frames, (1,2) share 4, (0,2) none
    assert len(ov) == 4 and set(ov["shared_frames"]) == {4}
    assert set(ov["video"]) == set(t["frame_dir"])
    with pytest.raises(KeyError, match="frame_numbers"):
        R.window_overlaps(t.drop(columns="frame_numbers"))


def test_80_20_split_is_grouped_by_video_by_default():
    t = _videos()
    (fold,) = R.make_folds(t, "random_80_20", seed=0)
    videos = t["frame_dir"].to_numpy()
    assert not set(videos[fold.train]) & set(videos[fold.test])
    assert R.split_overlap(t, fold)["test_clips_sharing_frames_with_train"] == 0
    # the authors' clip split (flagged variant) lets windows of one video straddle the split
    leaked = [R.split_overlap(t, R.make_folds(t, "random_80_20", seed=s, group="clip")[0])
              ["test_clips_sharing_frames_with_train"] for s in range(5)]
    assert max(leaked) > 0
    with pytest.raises(ValueError, match="group"):
        R.make_folds(t, "random_80_20", group="subject")


def test_one_clip_per_video_keeps_the_clip_split():
    t = _videos(n_videos=30, per_video=1)
    grouped = random_split_80_20(t, seed=3, groups="frame_dir")[0]
    plain = random_split_80_20(t, seed=3)[0]
    assert np.array_equal(grouped.test, plain.test) and np.array_equal(grouped.train, plain.train)
