"""The papers' tables (format and every shipped file) and the comparison of runs with them."""
import json

import numpy as np
import pandas as pd
import pytest

from mer_utils import paper_tables as PT
from mer_utils import results as R


def test_every_shipped_paper_table_loads():
    listing = PT.list_paper_tables()
    assert "lbptop_baseline" in set(listing["paper"])
    for paper, tid in listing[["paper", "table"]].itertuples(index=False):
        df = PT.paper_table(paper, tid)
        assert len(df) and df.attrs["title"]
        if "metric" in df.columns:
            vals = df["value"].dropna()
            assert ((vals >= 0) & (vals <= 1)).all(), f"{paper} {tid}: values must read as fractions"
            assert set(df["metric"]) <= {"war", "uar", "uf1", "wf1", "f1"} | {m + "_std" for m in PT.TABLE_METRICS}
    long = PT.paper_tables()
    assert {"paper", "table", "method", "dataset", "protocol", "metric", "value", "printed"} <= set(long.columns)


def test_lbptop_example_table_values():
    t = PT.paper_table("lbptop_baseline", "zhao2021_table3").set_index(["dataset", "metric"])
    assert t.loc[("composite", "uf1"), "value"] == pytest.approx(0.588)
    peng = PT.paper_table("lbptop_baseline", "peng2018_table5_6").set_index(["dataset", "metric"])
    assert peng.loc[("samm", "war"), "value"] == pytest.approx(0.447)
    assert peng.loc[("samm", "f1"), "printed"] == pytest.approx(0.35)


def test_table_format_validation(tmp_path, monkeypatch):
    monkeypatch.setattr(PT, "PAPERS_DIR", tmp_path)
    doc = {"format": PT.TABLE_FORMAT, "paper": "toy", "tables": {
        "1": {"title": "t", "kind": "metrics", "scale": 100, "defaults": {"protocol": "p", "dataset": "casme2"},
              "columns": ["method", "metric", "value"], "rows": [["A", "Accuracy", 50.0], ["B", "uf1", None]]},
        "II": {"title": "cm", "kind": "confusion", "scale": 100, "labels": ["a", "b"], "matrix": [[50, 50], [0, 100]]}}}
    (tmp_path / "toy.json").write_text(json.dumps(doc))
    t1 = PT.paper_table("toy", 1)
    assert t1["metric"].tolist() == ["war", "uf1"] and t1["value"].iloc[0] == 0.5 and np.isnan(t1["value"].iloc[1])
    cm = PT.paper_table("toy", "II")
    assert cm.loc["b", "b"] == 1.0 and cm.index.name == "true"
    with pytest.raises(KeyError, match="has no table"):
        PT.paper_table("toy", "9")
    with pytest.raises(FileNotFoundError, match="available"):
        PT.paper_table("nope", "1")
    doc["tables"]["1"]["rows"] = [["A", "speed", 1.0]]
    (tmp_path / "toy.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="metric 'speed'"):
        PT.paper_table("toy", 1)


def test_compare_to_paper():
    summary = {"pooled": {"uf1": 0.5, "uar": 0.6}, "per_dataset": {"casme2": {"uf1": 0.7, "uar": 0.8},
                                                                    "samm": {"uf1": 0.3, "uar": 0.4}}}
    rows = PT.paper_table("lbptop_baseline", "zhao2021_table3")
    side = PT.compare_to_paper(rows, summary).set_index(["dataset", "metric"])
    assert side.loc[("composite", "uf1"), "this run"] == 0.5
    assert side.loc[("casme2", "uar"), "this run"] == 0.8
    assert pd.isna(side.loc[("smic_hs", "uf1"), "this run"])


def test_comparison_table_joins_runs_and_papers(tmp_path, composite_store):
    composite_store(tmp_path)
    runs = R.load_results(tmp_path, per_dataset=True)
    assert set(runs["scope"]) == {"pooled", "casme2", "samm"} and runs["profile"].eq("ci").any()
    t = PT.comparison_table(runs=runs)
    ours = t[t["source"] == "this course"]
    assert set(ours["dataset"]) == {"composite", "casme2", "samm"}  # the demo run is left out
    assert set(ours["protocol"]) == {"megc2019_composite"} and set(ours["split"]) == {"loso"}
    assert (ours["data"] == "synthetic (quick)").all()
    lbp = t[(t["source"] == "paper") & (t["protocol"] == "megc2019_composite") & (t["dataset"] == "composite")
            & t["method"].str.startswith("LBP-TOP")]
    assert len(lbp) == 1 and lbp["uf1"].iloc[0] == pytest.approx(0.588)  # cited twice, shown once
    sel = PT.comparison_selection(t, "uf1")
    assert set(sel["where"]) <= {"megc2019_composite / composite", "megc2019_composite / casme2",
                                 "megc2019_composite / samm"}
    assert (sel["source"] == "this course").sum() == 3
    empty = PT.comparison_table(runs=R.load_results(tmp_path / "none", per_dataset=True))
    assert (empty["source"] == "paper").all() and len(PT.comparison_selection(empty, "uf1"))


def test_split_protocol():
    assert PT.split_protocol("reddy2019_smic-loso") == ("reddy2019_smic", "loso")
    assert PT.split_protocol("casme2_5class") == ("casme2_5class", None)


def _fake_notebook(path, metrics):
    import json as _json

    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("record_metrics(...)")]
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=_json.dumps(metrics, indent=2))]
    nbformat.write(nb, str(path))


def test_course_main_results_reads_committed_outputs(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from mer_utils.paper_tables import course_main_results
    from mer_utils.plots import plot_main_results

    main = {"protocol": "casme2_5class", "uar": 0.5, "uf1": 0.45, "war": 0.55, "uar_ci95": [0.4, 0.6],
            "chance_uar": 0.2, "majority_uar": 0.2, "control_uar": 0.7}
    _fake_notebook(tmp_path / "50_wei2022_aman.ipynb", {"data_source": "synthetic (quick)", "main": main})
    _fake_notebook(tmp_path / "40_zhao2021_residual_sum_cropnet.ipynb", {"other": 1})
    _fake_notebook(tmp_path / "02_evaluation.ipynb", {"other": 1})  # not a paper notebook: not listed
    table = course_main_results(tmp_path)
    assert table["notebook"].tolist() == ["40_zhao2021_residual_sum_cropnet", "50_wei2022_aman"]
    row = table.set_index("paper").loc["wei2022"]
    assert row["UAR"] == 0.5 and row["UAR 95% CI"] == [0.4, 0.6] and row["control (flow + SVM)"] == 0.7
    assert row["paper reports"].startswith("WAR up to") or row["paper reports"].startswith("UAR up to")
    assert pd.isna(table.set_index("paper").loc["zhao2021", "UAR"])
    assert plot_main_results(table) is not None
