"""She et al. 2020 in the quick profile: onset optical flow as the frame network's input, and the claims table."""
import numpy as np
import pandas as pd
import pytest

from mer_utils.papers.she2020 import PROFILES, network_inputs, onset_flow_frames


def _moving_faces():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (140, 120)).astype(np.uint8)
    import cv2

    base = cv2.GaussianBlur(base, (0, 0), 3)
    frames = [np.roll(base, s, axis=1) for s in (0, 1, 2)]  # the face moves right by 1 and 2 px (at full size)
    return np.stack([np.stack(frames)] * 2)[..., None].repeat(3, axis=-1)


def test_onset_flow_frames_shape_encoding_and_direction():
    faces = _moving_faces()
    out = onset_flow_frames(faces, scale=0.5, flow_scale=0.5, gain=40)
    assert out.shape == (2, 3, 70, 60, 3) and out.dtype == np.uint8
    assert (out[:, 0, ..., 0] == 128).all() and (out[:, 0, ..., 2] == 0).all()  # frame 0: no flow
    dx = out[0, 1:, 10:-10, 10:-10, 0].astype(float) - 128  # moving right: dx > 0, growing with the shift
    assert dx[0].mean() > 5 and dx[1].mean() > dx[0].mean()
    small = onset_flow_frames(faces, scale=0.25, flow_scale=0.5)
    assert small.shape == (2, 3, 35, 30, 3)
    with pytest.raises(ValueError, match="scale"):
        onset_flow_frames(faces, scale=0.5, flow_scale=0.25)


def test_network_inputs_per_profile():
    faces = _moving_faces()
    assert PROFILES["full"]["input"] == "frames" and PROFILES["quick"]["input"] == "onset_flow"
    assert network_inputs(faces, PROFILES["full"]).shape == faces.shape
    assert network_inputs(faces, PROFILES["quick"]).shape == (2, 3, 35, 30, 3)
    with pytest.raises(ValueError, match="input"):
        network_inputs(faces, {**PROFILES["quick"], "input": "magnified"})


def test_claims_table_paired_rows(tmp_path):
    from types import SimpleNamespace

    from mer_utils.evaluation import claim_columns
    from mer_utils.papers.she2020 import claims_table

    rng = np.random.default_rng(0)
    n = 40
    table = pd.DataFrame({"clip_uid": [f"c{i}" for i in range(n)], "subject_uid": [f"s{i % 8}" for i in range(n)]})
    y = rng.integers(0, 4, n)
    good = pd.DataFrame({"clip_uid": table["clip_uid"], "subject_uid": table["subject_uid"], "true": y, "pred": y,
                         "fold": "f1"})
    bad = good.assign(pred=(y + 1) % 4)
    folds = tmp_path / "folds" / "f1"
    folds.mkdir(parents=True)
    aggs = pd.concat([good.assign(aggregation="mean+std+median"), bad.assign(aggregation="mean")])
    aggs.assign(width=192)[["clip_uid", "aggregation", "width", "true", "pred"]].to_csv(folds / "aggregations.csv",
                                                                                       index=False)
    (folds / "fold.json").write_text('{"name": "f1"}')
    run = SimpleNamespace(run_dir=tmp_path, predictions=good)
    alone = {"face": SimpleNamespace(predictions=bad)}
    claims = claims_table(run, alone, table, 4)
    assert list(claims["verdict"]) == ["reproduced", "reproduced"]
    assert claims["UAR (method)"].tolist() == [1.0, 1.0] and claims["UAR (ablation)"].tolist() == [0.0, 0.0]
    assert list(claims.columns) == claim_columns() + ["ci95"]  # the shared builder's columns, interval kept
    assert all(lo > 0 for lo, _ in claims["ci95"])
