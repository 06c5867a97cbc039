"""Result store keys and files, loading runs, the notebooks' recorded metrics."""
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


def test_notebook_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_RUN_DIR", str(tmp_path))
    from mer_utils.record import record_metrics

    record_metrics("02_evaluation", {"loso": {"uf1": 0.4}}, verbose=False)
    nm = R.load_notebook_metrics()
    assert nm.loc[0, "key"] == "loso.uf1" and nm.loc[0, "value"] == 0.4


def test_data_source():
    t = pd.DataFrame({"a": [1]})
    t.attrs = {"sources": {"casme2": {"source": "synthetic", "root": "/x/data/synthetic/quick/CASME2"},
                           "samm": {"source": "licensed", "root": "/d/SAMM"}}}
    assert R.data_source(t) == "licensed + synthetic (quick)"
    t.attrs = {"source": "licensed", "root": "/d/CASME2"}
    assert R.data_source(t) == "licensed"


def test_course_status_lists_notebooks(tmp_path, monkeypatch, composite_store):
    monkeypatch.setenv("MER_RUN_DIR", str(tmp_path / "run"))
    composite_store(tmp_path / "store")
    status = R.course_status(tmp_path / "store").set_index("notebook")
    assert not status["metrics recorded"].any()
    if "02_evaluation" in status.index:
        assert status.loc["02_evaluation", "complete runs"] == 1
