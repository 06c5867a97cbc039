"""Issue 21: Zhao et al. 2021's key frames (eq. 3-4) end with the segment end — the apex."""
import pytest

from mer_utils.papers.zhao2021.recipe import Zhao2021Params
from mer_utils.preprocess.temporal import key_frames, residual_segment


@pytest.mark.parametrize("onset,apex,offset", [(0, 40, 60), (5, 50, 70), (0, 23, 30), (3, 17, 40), (0, 100, 120)])
def test_last_key_frame_is_the_apex_by_default(onset, apex, offset):
    start, end = residual_segment(onset, apex, offset)
    assert end == apex  # apex >= 10 frames after the onset: eq. (2) ends the segment at the apex
    keys = key_frames(start, end)
    assert keys[-1] == apex
    assert len(keys) == 5 and keys == sorted(set(keys)) and keys[0] > start


def test_eq_4_hand_worked_and_the_old_reading_as_a_parameter():
    # start 5, end 45: gap = ceil(40 / 6) = 7 -> 12, 19, 26, 33, then `end` (eq. 4's last element)
    assert key_frames(5, 45) == [12, 19, 26, 33, 45]
    assert key_frames(5, 45, include_end=False) == [12, 19, 26, 33, 40]  # misses the apex
    # notebook 01's demo shape: a long segment where the old reading stops 2+ frames short of the apex
    assert key_frames(0, 50)[-1] == 50 and key_frames(0, 50, include_end=False)[-1] == 45
    # segments where gap * N_key >= end - start: both readings agree
    assert key_frames(0, 10) == key_frames(0, 10, include_end=False) == [2, 4, 6, 8, 10]


def test_recipe_default_follows_eq_4():
    assert Zhao2021Params().include_end is True
