"""Notebook 30's CPU-profile input (onset differences) and its claims table, on tiny arrays."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mer_utils.evaluation import claim_columns
from mer_utils.papers import reddy2019 as R
from mer_utils.papers.reddy2019.recipe import Reddy2019


def test_onset_difference_keeps_subpixel_motion_energy():
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, (1, 20, 20), dtype=np.uint8), 3, axis=0)
    frames[2, 5:10, 5:10] = np.clip(frames[2, 5:10, 5:10].astype(int) + 20, 0, 255)
    out = R.onset_difference(frames, (10, 10), gain=1.0)
    assert out.shape == (3, 10, 10) and out.dtype == np.uint8
    assert out[0].max() == 0 and out[1].max() == 0
    assert out[2].sum() > 0 and out[2, 7:, 7:].max() == 0


def test_onset_difference_rejects_colour():
    with pytest.raises(ValueError, match="grey"):
        R.onset_difference(np.zeros((2, 4, 4, 3), np.uint8), 2)


def test_recipe_validates_motion_and_register():
    rec = Reddy2019()
    p = rec.params({"motion": "onset_difference", "register": "euclidean", "n_frames": 4})
    assert p.motion == "onset_difference" and p.register == "euclidean"
    with pytest.raises(ValueError, match="motion"):
        rec.params({"motion": "flow", "n_frames": 4})
    with pytest.raises(ValueError, match="register"):
        rec.params({"register": "affine", "n_frames": 4})


def test_prepare_reddy_rejects_unknown_input():
    with pytest.raises(ValueError, match="input"):
        R.prepare_reddy(pd.DataFrame(), 4, input="flow")


def test_profiles_keep_the_paper_in_full():
    assert R.PROFILES["full"]["input"] == "frames" and R.PROFILES["full"]["momentum"] == 0.0
    assert R.PROFILES["quick"]["input"] == "onset_difference"


def _preds(n, correct, seed=0):
    rng = np.random.default_rng(seed)
    true = np.arange(n) % 3
    pred = np.where(rng.random(n) < correct, true, (true + 1) % 3)
    return pd.DataFrame({"true": true, "pred": pred, "subject_uid": [f"s{i % 6}" for i in range(n)],
                         "clip_uid": [f"c{i}" for i in range(n)], "fold": [f"s{i % 6}" for i in range(n)]})


def test_claims_table_rows_and_verdicts():
    good, weak = _preds(60, 1.0), _preds(60, 0.2, 1)
    split = good.iloc[:12]
    runs = {("d", "MicroExpSTCNN", "loso"): SimpleNamespace(predictions=good),
            ("d", "MicroExpFuseNet-intermediate", "loso"): SimpleNamespace(predictions=weak),
            ("d", "MicroExpSTCNN", "random_80_20"): SimpleNamespace(predictions=split)}
    t = R.claims_table(runs, "d", 3)
    assert len(t) == 3
    assert list(t["verdict"][:2]) == ["reproduced", "reproduced"]
    assert t["verdict"].iloc[2] == "not resolved at this size"  # 80/20 and LOSO identical on those clips
    assert list(t.columns) == ["method", "ablation"] + claim_columns()[1:] and t.index.name == "claim"
    assert t["UAR (ablation)"].iloc[0] == 0.333 and t["difference"].iloc[0] == 0.667  # chance, 1/3
    assert t["95% CI (paired, subjects)"].iloc[2] == "[+0.000, +0.000]"
