"""Issue 21: Table 3's "without MA" row of Wei et al. 2022 is the single-magnification network (one fixed factor)."""
import pandas as pd
import pytest
import torch

import mer_utils.training as training
from mer_utils.papers.wei2022 import pipeline as aman
from mer_utils.papers.wei2022.model import AMAN


def test_table3_without_ma_is_one_fixed_factor_by_default():
    rows = aman.table3_settings(fixed_index=2)
    assert list(rows) == ["MA module", "FA module", "MA+FA module"]
    assert rows["FA module"] == {"use_ma": False, "use_fa": True, "factor_index": [2]}
    assert rows["MA module"] == {"use_ma": True, "use_fa": False}
    assert rows["MA+FA module"] == {}
    # the other reading stays a parameter: every factor, averaged
    assert aman.table3_settings("mean")["FA module"] == {"use_ma": False, "use_fa": True}


def test_table3_settings_reject_bad_readings():
    with pytest.raises(ValueError, match="fixed_index"):
        aman.table3_settings("fixed")
    with pytest.raises(ValueError, match="single-magnification"):
        aman.table3_settings("median", 1)


def test_fa_row_trains_on_a_single_factor(monkeypatch):
    """run_aman with the "FA module" settings hands the CV runner a bank with k = 1 (the fixed factor only)."""
    seen = {}

    def fake_cross_validate(method, data, folds, **kw):
        seen["inputs"], seen["params"] = data.inputs, kw["params"]
        return "ran"

    monkeypatch.setattr(training, "cross_validate", fake_cross_validate)
    table = pd.DataFrame({"subject": ["1", "1", "2", "2"], "subject_uid": ["d/1", "d/1", "d/2", "d/2"],
                          "dataset": "d", "label": [0, 1, 0, 1], "clip_uid": list("abcd")})
    bank = torch.arange(4 * 2 * 3 * 4, dtype=torch.float16).reshape(4, 2, 3, 4)  # (N, n, k=3, D)
    kw = aman.table3_settings("fixed", fixed_index=1)["FA module"]
    assert aman.run_aman(table, bank, None, notebook="t", dataset="d", protocol="p", level="pooled",
                         config=None, class_names=["a", "b"], **kw) == "ran"
    x = seen["inputs"]
    assert tuple(x.shape) == (4, 2, 1, 4) and torch.equal(x[:, :, 0], bank[:, :, 1])
    assert seen["params"]["k"] == 1 and seen["params"]["factor_index"] == [1]
    assert seen["params"]["use_ma"] is False


def test_ma_pool_over_one_factor_is_the_identity():
    """With one factor the MA pool is the identity, so "without MA" on one factor is the single-magnification net."""
    torch.manual_seed(0)
    net = AMAN(3, inputs="pooled", feature_dim=4, use_ma=False).eval()
    f = torch.randn(2, 5, 1, 4)
    pooled, w = net.ma(f, dim=2)
    assert torch.allclose(pooled, f[:, :, 0]) and torch.allclose(w, torch.ones(2, 5, 1))
