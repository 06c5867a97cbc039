"""Issue 21: Peng et al. 2018's Tables V-VII are three separate LOSO experiments (SAMM alone, CASME II alone,
the composite), with 20 / 26 / 46 training-test processes in the paper and 21 / 26 / 47 subjects in the real
annotation files; the one-composite-run derivation (MEGC 2019 practice) stays an option."""
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mer_utils.data import apply_protocol
from mer_utils.papers.peng2018 import cde as C
from mer_utils.papers.peng2018.report import cde_scores, compare_cde
from mer_utils.paper_tables import paper_table
from mer_utils.paths import REPO_ROOT

FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "real-annotations"


@pytest.fixture(scope="module")
def real_megc2018():
    if not FIXTURES.is_dir():
        pytest.skip(f"real annotation fixtures not found at {FIXTURES}")
    from mer_utils.data import read_casme2_coding, read_casme2_objective_classes, read_samm_coding
    from mer_utils.data.spreadsheets import merge_objective_classes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        casme2 = merge_objective_classes(read_casme2_coding(FIXTURES / "CASME2-coding-20140508.xlsx"),
                                         read_casme2_objective_classes(FIXTURES / "CASME2-ObjectiveClasses.xlsx"))
        samm = read_samm_coding(FIXTURES / "SAMM_Micro_FACS_Codes_v2.xlsx")
        table, _ = apply_protocol("megc2018_objective", pd.concat([casme2, samm], ignore_index=True), warn=False)
    return table.reset_index(drop=True)


def test_paper_scores_are_fractions_of_three_separate_experiments():
    for tid, ds in C.CDE_TABLES.items():
        k, n = C.PAPER_CDE_FRACTIONS[ds]
        acc = paper_table("peng2018", tid).query("method == 'ResNet-10 (ImageNet -> macro -> micro)' and "
                                                 "metric == 'war'")["value"].item()
        assert k / n == pytest.approx(acc, abs=5e-5)
    (s, _), (c, _), (comp, _) = (C.PAPER_CDE_FRACTIONS[d] for d in ("samm", "casme2", "composite"))
    assert s + c != comp  # 48 + 140 = 188 != 189: the composite is not the two per-database runs pooled
    assert C.cde_experiments() == ["samm", "casme2", "composite"]
    assert C.cde_experiments("composite") == ["composite"]
    with pytest.raises(ValueError, match="separate"):
        C.cde_experiments("pooled")


def test_fold_counts_on_the_real_annotation_files(real_megc2018):
    t = real_megc2018
    assert t.groupby("dataset").size().to_dict() == {"casme2": 185, "samm": 68}
    assert C.cde_fold_counts(t) == {"samm": 21, "casme2": 26, "composite": 47}  # the paper: 20 / 26 / 46
    folds = {e: C.cde_folds(t, e) for e in C.cde_experiments()}
    assert {e: len(f) for e, f in folds.items()} == {"samm": 21, "casme2": 26, "composite": 47}
    ds = t["dataset"].to_numpy()
    for f in folds["samm"]:  # SAMM alone: trained and tested on SAMM subjects only
        assert set(ds[f.train]) == {"samm"} and set(ds[f.test]) == {"samm"}
    for f in folds["casme2"]:
        assert set(ds[f.train]) == {"casme2"} and set(ds[f.test]) == {"casme2"}
    assert all(set(ds[f.train]) == {"casme2", "samm"} for f in folds["composite"])
    # every clip tested exactly once per experiment
    assert sorted(np.concatenate([f.test for f in folds["samm"]])) == list(np.flatnonzero(ds == "samm"))
    assert sum(len(f.test) for f in folds["composite"]) == 253
    # the quick profile's affordable subset: 2 test subjects per database in each experiment
    assert [len(C.cde_folds(t, e, 2)) for e in C.cde_experiments()] == [2, 2, 4]
    shown = C.cde_folds_table(t)
    assert shown.loc["V", "paper's processes"] == 20 and shown.loc["V", "LOSO folds (subjects here)"] == 21


def _run(rows):
    p = pd.DataFrame(rows, columns=["dataset", "fold", "true", "pred"])
    from mer_utils.evaluation import summarize

    return SimpleNamespace(predictions=p, metrics=summarize(p, 5))


def test_scores_come_from_each_experiments_own_run():
    composite = _run([("samm", "a", 0, 0), ("samm", "a", 1, 2), ("casme2", "b", 0, 0), ("casme2", "b", 1, 1)])
    samm = _run([("samm", "a", 0, 0), ("samm", "a", 1, 1)])
    casme2 = _run([("casme2", "b", 0, 1), ("casme2", "b", 1, 1)])
    sep = cde_scores({"samm": samm, "casme2": casme2, "composite": composite}).set_index("dataset")
    assert sep.loc["samm", "war"] == 1.0 and sep.loc["casme2", "war"] == 0.5 and sep.loc["composite", "war"] == 0.75
    one = cde_scores(composite).set_index("dataset")  # the MEGC 2019 derivation, kept as an option
    assert one.loc["samm", "war"] == 0.5 and one.loc["casme2", "war"] == 1.0
    assert one.loc["samm", "scored on"] == "its clips in the composite run"
    t = compare_cde({"ours": {"samm": samm, "casme2": casme2, "composite": composite}})
    assert t.loc[("V", "samm", "ours", "this run"), "accuracy"] == 1.0
    assert t.loc[("V", "samm", "ResNet-10 (ImageNet -> macro -> micro)", "paper"), "folds"] == 20
