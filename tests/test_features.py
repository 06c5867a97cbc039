"""LBP-TOP: width, hand-checked codes on tiny clips, equality with a per-plane loop."""
import numpy as np
import pytest
from skimage.feature import local_binary_pattern

from mer_utils import features as F

# scikit-image "nri_uniform", P = 8, R = 1: neighbour p sits at (row - sin(2 pi p / 8), col + cos(2 pi p / 8));
# bit p = neighbour >= centre. For a uniform pattern with n ones (0 < n < 8) the code is
# 1 + (n - 1) * 8 + rot, rot = n - first_zero if bit 0 is set, else 8 - first_one; all ones -> 8 * 7 + 1 = 57.
ALL_ONES = 57
# value grows with the row index: bits (p0..p7) = 1 0 0 0 1 1 1 1 -> n = 5, first_zero = 1 -> 1 + 32 + 4 = 37
ROW_RAMP = 37
# value grows with the column index: bits = 1 1 1 0 0 0 1 1 -> n = 5, first_zero = 3 -> 1 + 32 + 2 = 35
COL_RAMP = 35


def _onehot_planes(feat, blocks):
    h = feat.reshape(3, blocks, 59)
    assert np.allclose(h.sum(-1), 1)
    return [np.unique(h[p].argmax(-1)) for p in range(3)], h.max()


def test_width_is_three_planes_times_blocks_times_59():
    clip = np.random.default_rng(0).integers(0, 255, (8, 20, 24), dtype=np.uint8)
    assert F.n_bins(8) == 59
    assert F.lbp_top(clip, blocks=(2, 3)).shape == (3 * 6 * 59,)
    assert F.lbp_top(clip, blocks=(2, 2), t_blocks=2).shape == (3 * 8 * 59,)
    assert len(F.feature_names((2, 3))) == 3 * 6 * 59


def test_constant_clip_is_all_ones_on_every_plane():
    planes, peak = _onehot_planes(F.lbp_top(np.full((5, 6, 7), 9, np.uint8), blocks=(2, 2)), 4)
    assert [p.tolist() for p in planes] == [[ALL_ONES]] * 3 and peak == 1.0


def test_temporal_ramp_hand_checked():
    # value = t: each frame constant (XY all ones); on XT and YT rows are time, so both see a row ramp
    clip = np.broadcast_to(np.arange(6, dtype=np.uint8)[:, None, None] * 10, (6, 5, 5)).copy()
    planes, _ = _onehot_planes(F.lbp_top(clip, blocks=(1, 1)), 1)
    assert [p.tolist() for p in planes] == [[ALL_ONES], [ROW_RAMP], [ROW_RAMP]]


def test_horizontal_ramp_hand_checked():
    # value = x: XY and XT have x as columns (column ramp); YT (rows t, cols y) is constant
    clip = np.broadcast_to(np.arange(7, dtype=np.uint8)[None, None, :] * 10, (5, 6, 7)).copy()
    planes, _ = _onehot_planes(F.lbp_top(clip, blocks=(1, 1)), 1)
    assert [p.tolist() for p in planes] == [[COL_RAMP], [COL_RAMP], [ALL_ONES]]


def test_vectorised_equals_per_plane_loop():
    rng = np.random.default_rng(1)
    clip = rng.integers(0, 255, (6, 9, 11)).astype(np.uint8)
    codes = F.lbp_top_codes(clip)
    T, H, W = clip.shape
    for t in range(T):
        ref = local_binary_pattern(clip[t], 8, 1, "nri_uniform")
        np.testing.assert_array_equal(codes[0, t, 1:-1, 1:-1], ref[1:-1, 1:-1])
    for y in range(1, H - 1):
        ref = local_binary_pattern(clip[:, y, :], 8, 1, "nri_uniform")
        np.testing.assert_array_equal(codes[1, 1:-1, y, 1:-1], ref[1:-1, 1:-1])
    for x in range(1, W - 1):
        ref = local_binary_pattern(clip[:, :, x], 8, 1, "nri_uniform")
        np.testing.assert_array_equal(codes[2, 1:-1, 1:-1, x], ref[1:-1, 1:-1])


def test_colour_input_batch_and_errors():
    rng = np.random.default_rng(2)
    colour = rng.integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    X = F.lbp_top_features([colour, colour[..., 0]], blocks=(2, 2), progress=False)
    assert X.shape == (2, 3 * 4 * 59)
    with pytest.raises(ValueError, match="too small"):
        F.lbp_top(np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="expects a clip"):
        F.lbp_top(np.zeros((8, 8), np.uint8))
