"""Peng et al. 2018 in the quick profile: the apex - onset input and a macro stage free of the micro subjects
(issue 17: whatever the course pretrains must not have seen the micro-expression test subjects)."""
import json

import numpy as np
import pandas as pd
import pytest

from mer_utils.papers.peng2018 import (PROFILES, difference_image, exclude_identities, make_stage, micro_identities,
                                        micro_images, synthetic_identities)
from mer_utils.paths import synthetic_root


def test_difference_image_centres_and_clips():
    apex = np.array([[10, 200], [50, 0]], np.uint8)
    onset = np.array([[10, 100], [40, 20]], np.uint8)
    d = difference_image(apex, onset, gain=2)
    assert d.dtype == np.uint8 and d.tolist() == [[128, 255], [148, 88]]
    with pytest.raises(ValueError, match="differ"):
        difference_image(apex, onset[:1])


def test_micro_images_choice():
    arrays = {"apex": np.full((2, 4, 4), 130, np.uint8), "onset": np.full((2, 4, 4), 129, np.uint8)}
    assert np.array_equal(micro_images(arrays, "apex"), arrays["apex"])
    assert (micro_images(arrays, "difference") == 132).all()
    with pytest.raises(KeyError, match="needs the onset frames"):
        micro_images({"apex": arrays["apex"]}, "difference")
    with pytest.raises(ValueError, match="micro_input"):
        micro_images(arrays, "flow")


def test_profiles_quick_uses_difference_full_keeps_paper():
    assert PROFILES["full"]["micro_input"] == "apex" and PROFILES["quick"]["micro_input"] == "difference"
    quick = make_stage("hde", PROFILES["quick"])
    full = make_stage("hde", PROFILES["full"])
    assert quick.augment.color_shift == 0 and quick.augment.max_rotation == full.augment.max_rotation
    assert full.augment.color_shift == 20


def test_exclude_identities_drops_listed_and_keeps_licensed():
    macro = pd.DataFrame({"dataset": ["fer2013"] * 4, "image_id": [f"fer2013/{i}" for i in range(4)],
                          "emotion": ["happy"] * 4, "identity": ["casme2/sub01", "smic/s01", None, "samm/006"]})
    kept, dropped = exclude_identities(macro, {"casme2/sub01", "samm/006"})
    assert kept["image_id"].tolist() == ["fer2013/1", "fer2013/2"]
    assert dropped["image_id"].tolist() == ["fer2013/0", "fer2013/3"] and "reason" in dropped


def test_synthetic_identities_reads_ground_truth(tmp_path):
    fer = tmp_path / "FER2013" / "_synthetic_gt"
    fer.mkdir(parents=True)
    (fer / "fer2013.csv").write_text("row,identity\n0,casme2/sub01\n1,macro/000\n")
    table = pd.DataFrame({"dataset": ["fer2013"] * 2, "image_id": ["fer2013/1", "fer2013/0"]})
    assert synthetic_identities(table, "synthetic", tmp_path / "FER2013").tolist() == ["macro/000", "casme2/sub01"]
    assert synthetic_identities(table, "licensed", None).tolist() == [None, None]
    ck = tmp_path / "CK+" / "_synthetic_gt"
    (ck / "ckplus" / "S005").mkdir(parents=True)
    (ck / "ckplus" / "S005" / "001.json").write_text(json.dumps({"identity": "samm/006"}))
    (ck / "index.csv").write_text("clip_uid,json\nckplus/S005/001,_synthetic_gt/ckplus/S005/001.json\n")
    table = pd.DataFrame({"dataset": ["ckplus"], "image_id": ["ckplus/S005_001_00000008"]})
    assert synthetic_identities(table, "synthetic", tmp_path / "CK+").tolist() == ["samm/006"]


@pytest.mark.skipif(not (synthetic_root("quick") / "FER2013" / "_synthetic_gt").is_dir(),
                    reason="synthetic quick data not generated")
def test_quick_macro_stage_identities_disjoint_from_micro_subjects():
    """The notebook's quick macro set, after exclusion, holds no identity of a CASME II / SAMM subject (and the
    exclusion is needed: the synthetic macro sets do reuse those identities)."""
    from mer_utils.data import load_protocol
    from mer_utils.papers.peng2018 import load_macro_table

    lab, _ = load_protocol("megc2018_objective", synthetic_size="quick", verbose=False)
    micro = micro_identities(lab)
    assert len(micro) == lab["subject_uid"].nunique()
    macro, _ = load_macro_table(("fer2013", "ckplus"), synthetic_size="quick", verbose=False)
    assert set(macro["identity"]) & micro  # the generator shares identities: without the filter, a leak
    kept, dropped = exclude_identities(macro, micro)
    assert len(kept) >= 100 and len(dropped) > 0
    assert not set(kept["identity"].dropna()) & micro
    assert (kept["source"] == "synthetic").all()
