"""result_summary and its parts: pooled scores, subject bootstrap, majority baseline on the same folds,
paired differences and claim verdicts."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mer_utils.evaluation import (CLAIM_INTERVAL, claim_columns, claim_row, claim_verdict, compute_metrics,
                                  majority_baseline, paired_difference_ci,
                                  result_summary, subject_bootstrap, summary_table)


def _table(n_subjects=12, per_subject=6, C=3, acc=0.7, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        for k in range(per_subject):
            t = int(rng.integers(C))
            p = t if rng.random() < acc else int(rng.integers(C))
            rows.append({"subject_uid": f"d/s{s:02d}", "clip_uid": f"d/s{s:02d}/c{k}", "fold": f"s{s:02d}",
                         "true": t, "pred": p})
    return pd.DataFrame(rows)


def test_bootstrap_matches_a_slow_reference():
    t = _table()
    ci = subject_bootstrap(t, 3, n_boot=300, seed=3)
    # the same replicates, computed the slow way with compute_metrics
    subjects = np.unique(t["subject_uid"].astype(str))
    counts = np.random.default_rng(3).multinomial(len(subjects), np.full(len(subjects), 1 / len(subjects)), size=300)
    uars = []
    for c in counts:
        parts = [t[t["subject_uid"] == s] for s, k in zip(subjects, c) for _ in range(k)]
        b = pd.concat(parts)
        uars.append(compute_metrics(b["true"], b["pred"], 3)["uar"])
    assert ci["uar"] == pytest.approx([np.quantile(uars, 0.025), np.quantile(uars, 0.975)], abs=1e-12)


def test_summary_has_every_yardstick_and_a_learning_model_is_above_chance():
    good, ctrl = _table(acc=0.9, seed=1), _table(acc=0.5, seed=2)
    s = result_summary(good, [0, 1, 2], control=ctrl, n_boot=500, protocol="toy")
    for key in ("protocol", "uar", "uf1", "war", "uar_ci95", "chance_uar", "majority_uar", "majority_war",
                "control_uar", "n", "n_subjects", "above_chance"):
        assert key in s
    assert s["chance_uar"] == pytest.approx(1 / 3)
    assert s["uar_ci95"][0] < s["uar"] < s["uar_ci95"][1]
    assert s["above_chance"] and s["uar"] == pytest.approx(compute_metrics(good["true"], good["pred"], 3)["uar"])
    table = summary_table({"model": s})
    assert table.loc["model", "CI above chance"]


def test_random_predictions_are_not_above_chance():
    s = result_summary(_table(acc=0.0, seed=4), 3, n_boot=500)
    assert s["uar_ci95"][0] < 1 / 3 < s["uar_ci95"][1] and not s["above_chance"]


def test_majority_baseline_uses_training_folds_only():
    t = pd.DataFrame({"subject_uid": ["a", "a", "b", "b", "c"], "fold": ["a", "a", "b", "b", "c"],
                      "true": [0, 0, 1, 1, 1], "pred": [0, 0, 0, 0, 0]})
    m = majority_baseline(t, 2)
    # fold a trains on b,c (all 1) -> predicts 1; fold b trains on a (0,0) + c (1) -> 0; fold c -> tie -> 0
    assert m["pred"].tolist() == [1, 1, 0, 0, 0]


def test_control_must_cover_the_same_clips():
    t = _table()
    with pytest.raises(ValueError, match="same protocol and folds"):
        result_summary(t, 3, control=t.iloc[:10], n_boot=10)


def test_paired_difference_and_verdicts():
    a, b = _table(acc=0.95, seed=5), _table(acc=0.95, seed=5)
    b["pred"] = (b["true"] + 1) % 3  # always wrong
    lo, hi = paired_difference_ci(a, b, 3, n_boot=300)
    assert lo > 0.5 and claim_verdict([lo, hi]) == "reproduced"
    assert claim_verdict([lo, hi], expected_sign=-1) == "reversed"
    assert claim_verdict([-0.1, 0.2]) == "not resolved at this size"
    with pytest.raises(ValueError, match="same clips"):
        paired_difference_ci(a, b.iloc[:5], 3)


def test_claim_row_reports_scores_interval_and_verdict():
    a, b = _table(acc=0.95, seed=5), _table(acc=0.95, seed=5)
    b["pred"] = (b["true"] + 1) % 3  # always wrong
    row = claim_row("a beats b", a, b, 3, n_boot=300, protocol="toy")
    assert list(row) == ["protocol", "claim", "UAR (method)", "UAR (ablation)", "difference",
                         "95% CI (paired, subjects)", "verdict"] == ["protocol"] + claim_columns()
    assert row["verdict"] == "reproduced"
    assert row["UAR (ablation)"] == 0.0 and row["difference"] == row["UAR (method)"]
    exact = paired_difference_ci(a, b, 3, n_boot=300)
    lo, hi = (float(v) for v in row["95% CI (paired, subjects)"].strip("[]").split(","))
    assert [lo, hi] == [round(v, 3) for v in exact]
    assert claim_row("b beats a", b, a, 3, n_boot=300)["verdict"] == "reversed"
    assert claim_row("b loses to a", b, a, 3, expected_sign=-1, n_boot=300)["verdict"] == "reproduced"
    # the unrounded interval for a notebook's record, only when asked for; runs (``.predictions``) are accepted
    kept = claim_row("a beats b", SimpleNamespace(predictions=a), SimpleNamespace(predictions=b), 3, n_boot=300,
                     keep_interval=True)
    assert kept[CLAIM_INTERVAL] == exact and list(kept)[-1] == CLAIM_INTERVAL == "ci95"
    assert {k: v for k, v in kept.items() if k != CLAIM_INTERVAL} == {k: v for k, v in row.items() if k != "protocol"}


def test_claim_row_other_metrics_and_a_constant_ablation():
    a, b = _table(acc=0.8, seed=5), _table(acc=0.4, seed=5)
    b["true"] = a["true"]
    row = claim_row("a beats b on UF1", a, b, 3, metric="uf1", n_boot=200, seed=3)
    assert list(row) == claim_columns("uf1")
    assert row["UF1 (method)"] == round(compute_metrics(a["true"], a["pred"], 3)["uf1"], 3)
    lo, hi = paired_difference_ci(a, b, 3, metric="uf1", n_boot=200, seed=3)
    assert row["95% CI (paired, subjects)"] == f"[{lo:+.3f}, {hi:+.3f}]"
    # against a constant (chance): a's own subject-bootstrap interval minus it, same seed and resamples
    chance = claim_row("a above chance", a, 1 / 3, 3, n_boot=200, keep_interval=True)
    ci = subject_bootstrap(a, 3, n_boot=200)["uar"]
    assert chance["ci95"] == [ci[0] - 1 / 3, ci[1] - 1 / 3] and chance["UAR (ablation)"] == 0.333
    assert chance["difference"] == round(compute_metrics(a["true"], a["pred"], 3)["uar"] - 1 / 3, 3)
    assert chance["verdict"] == "reproduced"
    assert claim_row("a above 0.99", a, 0.99, 3, n_boot=200)["verdict"] == "reversed"
