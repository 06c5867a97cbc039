"""Result store keys and files, loading runs, and the paper tables (format and every shipped file)."""
import json

import numpy as np
import pandas as pd
import pytest

from mer_utils import results as R


def test_params_hash_is_stable_and_sensitive():
    a = {"epochs": 5, "lr": 0.01, "blocks": (5, 5), "arr": np.arange(3)}
    assert R.params_hash(a) == R.params_hash(dict(reversed(list(a.items()))))
    assert R.params_hash(a) != R.params_hash({**a, "epochs": 6})
    assert R.params_hash({"x": np.float32(0.5)}) == R.params_hash({"x": 0.5})


def test_jsonable_callables_and_unhashable_objects():
    f1 = lambda x: x + 1  # noqa: E731
    f2 = lambda x: x + 2  # noqa: E731
    assert R.params_hash({"f": f1}) != R.params_hash({"f": f2})  # edited lambda -> new hash

    class Opaque:
        pass

    with pytest.raises(TypeError, match="plain values"):
        R.params_hash({"thing": Opaque()})
    from sklearn.svm import LinearSVC

    assert R.params_hash({"m": LinearSVC(C=1)}) != R.params_hash({"m": LinearSVC(C=2)})


def test_run_dir_layout_and_bad_names(tmp_path):
    d = R.run_dir("02_evaluation", "casme2", "casme2_5class", {"a": 1}, root=tmp_path)
    assert d.relative_to(tmp_path).parts[:3] == ("02_evaluation", "casme2", "casme2_5class")
    assert d != R.run_dir("02_evaluation", "casme2", "casme2_5class", {"a": 2}, root=tmp_path)
    with pytest.raises(ValueError, match="protocol"):
        R.run_dir("nb", "casme2", "a/b", {}, root=tmp_path)


def test_atomic_writes_leave_no_temporary_files(tmp_path):
    R.atomic_write_json(tmp_path / "x" / "m.json", {"v": np.int64(3)})
    R.atomic_write_csv(tmp_path / "x" / "p.csv", pd.DataFrame({"subject": ["006"], "true": [1]}))
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["m.json", "p.csv"]
    assert json.loads((tmp_path / "x" / "m.json").read_text()) == {"v": 3}
    assert R.read_predictions(tmp_path / "x" / "p.csv")["subject"].iloc[0] == "006"


def test_environment_and_empty_store(tmp_path):
    env = R.environment_info("cpu")
    assert env["device"] == "cpu" and env["packages"]["numpy"]
    empty = R.load_results(tmp_path / "nothing")
    assert empty.empty and {"notebook", "protocol", "method", "uf1", "uar", "complete"} <= set(empty.columns)
    with pytest.raises(FileNotFoundError, match="params.json"):
        R.load_run(tmp_path)


def test_every_shipped_paper_table_loads():
    listing = R.list_paper_tables()
    assert "lbptop_baseline" in set(listing["paper"])
    for paper, tid in listing[["paper", "table"]].itertuples(index=False):
        df = R.paper_table(paper, tid)
        assert len(df) and df.attrs["title"]
        if "metric" in df.columns:
            vals = df["value"].dropna()
            assert ((vals >= 0) & (vals <= 1)).all(), f"{paper} {tid}: values must read as fractions"
            assert set(df["metric"]) <= {"war", "uar", "uf1", "wf1", "f1"} | {m + "_std" for m in R.TABLE_METRICS}
    long = R.paper_tables()
    assert {"paper", "table", "method", "dataset", "protocol", "metric", "value", "printed"} <= set(long.columns)


def test_lbptop_example_table_values():
    t = R.paper_table("lbptop_baseline", "zhao2021_table3").set_index(["dataset", "metric"])
    assert t.loc[("composite", "uf1"), "value"] == pytest.approx(0.588)
    peng = R.paper_table("lbptop_baseline", "peng2018_table5_6").set_index(["dataset", "metric"])
    assert peng.loc[("samm", "war"), "value"] == pytest.approx(0.447)
    assert peng.loc[("samm", "f1"), "printed"] == pytest.approx(0.35)


def test_table_format_validation(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "TABLES_DIR", tmp_path)
    doc = {"format": R.TABLE_FORMAT, "paper": "toy", "tables": {
        "1": {"title": "t", "kind": "metrics", "scale": 100, "defaults": {"protocol": "p", "dataset": "casme2"},
              "columns": ["method", "metric", "value"], "rows": [["A", "Accuracy", 50.0], ["B", "uf1", None]]},
        "II": {"title": "cm", "kind": "confusion", "scale": 100, "labels": ["a", "b"], "matrix": [[50, 50], [0, 100]]}}}
    (tmp_path / "toy.json").write_text(json.dumps(doc))
    t1 = R.paper_table("toy", 1)
    assert t1["metric"].tolist() == ["war", "uf1"] and t1["value"].iloc[0] == 0.5 and np.isnan(t1["value"].iloc[1])
    cm = R.paper_table("toy", "II")
    assert cm.loc["b", "b"] == 1.0 and cm.index.name == "true"
    with pytest.raises(KeyError, match="has no table"):
        R.paper_table("toy", "9")
    with pytest.raises(FileNotFoundError, match="available"):
        R.paper_table("nope", "1")
    doc["tables"]["1"]["rows"] = [["A", "speed", 1.0]]
    (tmp_path / "toy.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="metric 'speed'"):
        R.paper_table("toy", 1)


def test_compare_to_paper_and_notebook_metrics(tmp_path, monkeypatch):
    summary = {"pooled": {"uf1": 0.5, "uar": 0.6}, "per_dataset": {"casme2": {"uf1": 0.7, "uar": 0.8},
                                                                    "samm": {"uf1": 0.3, "uar": 0.4}}}
    rows = R.paper_table("lbptop_baseline", "zhao2021_table3")
    side = R.compare_to_paper(rows, summary).set_index(["dataset", "metric"])
    assert side.loc[("composite", "uf1"), "this run"] == 0.5
    assert side.loc[("casme2", "uar"), "this run"] == 0.8
    assert pd.isna(side.loc[("smic_hs", "uf1"), "this run"])
    monkeypatch.setenv("MER_RUN_DIR", str(tmp_path))
    from mer_utils.record import record_metrics

    record_metrics("02_evaluation", {"loso": {"uf1": 0.4}}, verbose=False)
    nm = R.load_notebook_metrics()
    assert nm.loc[0, "key"] == "loso.uf1" and nm.loc[0, "value"] == 0.4


def _store_with_one_composite_run(root):
    from collections import namedtuple

    from mer_utils import training as T

    Fold = namedtuple("Fold", "name train test")
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"clip_uid": [f"{d}/s{i}/c{i}" for i, d in enumerate(["casme2", "samm"] * 6)],
                          "subject_uid": [f"{d}/s{i % 4}" for i, d in enumerate(["casme2", "samm"] * 6)],
                          "dataset": ["casme2", "samm"] * 6, "label": rng.integers(0, 3, 12)})
    subj = table["subject_uid"].to_numpy()
    folds = [Fold(s, np.flatnonzero(subj != s), np.flatnonzero(subj == s)) for s in np.unique(subj)]
    T.cross_validate(lambda f, tr, te, d: np.zeros(len(te), int), table, folds, notebook="99_test",
                     dataset="megc2019", protocol="megc2019_composite-loso", method_name="always negative",
                     params={"profile": "ci"}, class_names=["negative", "positive", "surprise"], root=root,
                     progress=False, device="cpu", data_source="synthetic (quick)")
    T.cross_validate(lambda f, tr, te, d: np.zeros(len(te), int), table, folds, notebook="02_evaluation",
                     dataset="casme2", protocol="casme2_5class-shuffled", method_name="demo",
                     class_names=["a", "b", "c"], root=root, progress=False, device="cpu")


def test_comparison_table_joins_runs_and_papers(tmp_path):
    _store_with_one_composite_run(tmp_path)
    runs = R.load_results(tmp_path, per_dataset=True)
    assert set(runs["scope"]) == {"pooled", "casme2", "samm"} and runs["profile"].eq("ci").any()
    t = R.comparison_table(runs=runs)
    ours = t[t["source"] == "this course"]
    assert set(ours["dataset"]) == {"composite", "casme2", "samm"}  # the demo run is left out
    assert set(ours["protocol"]) == {"megc2019_composite"} and set(ours["split"]) == {"loso"}
    assert (ours["data"] == "synthetic (quick)").all()
    lbp = t[(t["source"] == "paper") & (t["protocol"] == "megc2019_composite") & (t["dataset"] == "composite")
            & t["method"].str.startswith("LBP-TOP")]
    assert len(lbp) == 1 and lbp["uf1"].iloc[0] == pytest.approx(0.588)  # cited twice, shown once
    sel = R.comparison_selection(t, "uf1")
    assert set(sel["where"]) <= {"megc2019_composite / composite", "megc2019_composite / casme2",
                                 "megc2019_composite / samm"}
    assert (sel["source"] == "this course").sum() == 3
    empty = R.comparison_table(runs=R.load_results(tmp_path / "none", per_dataset=True))
    assert (empty["source"] == "paper").all() and len(R.comparison_selection(empty, "uf1"))


def test_split_protocol_and_data_source():
    assert R.split_protocol("reddy2019_smic-loso") == ("reddy2019_smic", "loso")
    assert R.split_protocol("casme2_5class") == ("casme2_5class", None)
    t = pd.DataFrame({"a": [1]})
    t.attrs = {"sources": {"casme2": {"source": "synthetic", "root": "/x/data/synthetic/quick/CASME2"},
                           "samm": {"source": "licensed", "root": "/d/SAMM"}}}
    assert R.data_source(t) == "licensed + synthetic (quick)"
    t.attrs = {"source": "licensed", "root": "/d/CASME2"}
    assert R.data_source(t) == "licensed"


def test_course_status_lists_notebooks(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_RUN_DIR", str(tmp_path / "run"))
    _store_with_one_composite_run(tmp_path / "store")
    status = R.course_status(tmp_path / "store").set_index("notebook")
    assert not status["metrics recorded"].any()
    if "02_evaluation" in status.index:
        assert status.loc["02_evaluation", "complete runs"] == 1
