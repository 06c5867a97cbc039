"""Tests of the foundation: paths, profiles, device helper, metric recording and the course runner."""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest

from mer_utils import config, course, device, paths, record


# ---------------------------------------------------------------- paths
def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.DATA_ROOT_ENV, raising=False)
    assert paths.data_root() == paths.REPO_ROOT / "data"
    monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path / "env"))
    assert paths.data_root() == tmp_path / "env"
    assert paths.data_root(tmp_path / "param") == tmp_path / "param"


def test_synthetic_and_cache_roots_follow_env(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.SYNTHETIC_ROOT_ENV, str(tmp_path / "syn"))
    monkeypatch.setenv(paths.CACHE_ROOT_ENV, str(tmp_path / "cache"))
    assert paths.synthetic_root("paper") == tmp_path / "syn" / "paper"
    assert paths.cache_root() == tmp_path / "cache"


# ---------------------------------------------------------------- profiles
TABLE = {"ci": {"epochs": 1, "lr": 0.1}, "quick": {"epochs": 5, "lr": 0.1}, "full": {"epochs": 500, "lr": 5e-4}}


def test_resolve_profile_fills_none_and_keeps_overrides():
    s = config.resolve_profile("full", TABLE, verbose=False, epochs=None, lr=0.01)
    assert s.epochs == 500 and s.lr == 0.01


def test_resolve_profile_rejects_unknown_profile_and_setting():
    with pytest.raises(ValueError, match="Unknown PROFILE 'fast'"):
        config.resolve_profile("fast", TABLE, verbose=False)
    with pytest.raises(ValueError, match="Unknown setting 'EPOCH'"):
        config.resolve_profile("quick", TABLE, verbose=False, EPOCH=3)


# ---------------------------------------------------------------- device
def test_resolve_device():
    import torch

    assert device.resolve_device("cpu").type == "cpu"
    assert device.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="Unknown DEVICE"):
        device.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            device.resolve_device("cuda")


def test_setup_is_deterministic():
    import torch

    device.setup("cpu", seed=3, verbose=False)
    a = torch.rand(4), np.random.rand(2)
    info = device.setup("cpu", seed=3, verbose=False)
    b = torch.rand(4), np.random.rand(2)
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert info.seed == 3 and info.device.type == "cpu"


# ---------------------------------------------------------------- record
def test_record_and_read_metrics(monkeypatch, tmp_path):
    monkeypatch.setenv(record.RUN_DIR_ENV, str(tmp_path))
    path = record.record_metrics("99_demo", {"acc": np.float32(0.5), "per_class": [1, np.int64(2)],
                                             "nested": {"uf1": 0.25}}, verbose=False)
    assert path == tmp_path / "metrics" / "99_demo.json"
    got = record.read_metrics("99_demo")
    assert got == {"acc": 0.5, "per_class": [1, 2], "nested": {"uf1": 0.25}}


def test_record_rejects_bad_values(tmp_path, monkeypatch):
    monkeypatch.setenv(record.RUN_DIR_ENV, str(tmp_path))
    with pytest.raises(TypeError, match="metrics.model"):
        record.record_metrics("99_demo", {"model": object()}, verbose=False)
    with pytest.raises(ValueError, match="file stem"):
        record.record_metrics("99_demo.ipynb", {}, verbose=False)
    with pytest.raises(FileNotFoundError, match="record_metrics"):
        record.read_metrics("98_missing")


# ---------------------------------------------------------------- course runner
def _write_notebook(folder: Path, name: str, body: str, params: str = 'PROFILE = "quick"\nSEED = 0') -> Path:
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Demo"), p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / name
    nbformat.write(nb, str(path))
    return path


def test_resolve_notebooks_by_number_and_name(tmp_path):
    _write_notebook(tmp_path, "00_intro.ipynb", "x = 1")
    _write_notebook(tmp_path, "10_paper.ipynb", "x = 1")
    (tmp_path / "scratch.ipynb").write_text("{}")
    assert [p.name for p in course.resolve_notebooks(None, tmp_path)] == ["00_intro.ipynb", "10_paper.ipynb"]
    assert [p.name for p in course.resolve_notebooks(["10", "00_intro.ipynb"], tmp_path)] == \
        ["10_paper.ipynb", "00_intro.ipynb"]
    with pytest.raises(course.CourseError, match="Unknown notebook '20'.*00_intro, 10_paper"):
        course.resolve_notebooks(["20"], tmp_path)


def test_plan_parameters_rejects_undeclared(tmp_path):
    a = _write_notebook(tmp_path, "00_a.ipynb", "x = 1", 'PROFILE = "quick"\nEPOCHS = None')
    b = _write_notebook(tmp_path, "01_b.ipynb", "x = 1")
    plan = course.plan_parameters([a, b], {"EPOCHS": 3}, "ci")
    assert plan[a] == {"PROFILE": "ci", "EPOCHS": 3} and plan[b] == {"PROFILE": "ci"}
    with pytest.raises(course.CourseError, match="'LR' is not declared by 00_a.ipynb.*EPOCHS"):
        course.plan_parameters([a], {"LR": 0.1}, "ci")
    with pytest.raises(ValueError, match="Unknown PROFILE"):
        course.plan_parameters([a], {}, "medium")


def test_parse_value():
    assert course.parse_value("3") == 3 and course.parse_value("0.5") == 0.5
    assert course.parse_value("true") is True and course.parse_value("null") is None
    assert course.parse_value("[1, 2]") == [1, 2] and course.parse_value("cuda") == "cuda"


def test_cli_errors_before_running(tmp_path, capsys):
    assert course.main(["run", "--notebook", "no_such_notebook", "--no-data"]) == 2
    assert "Unknown notebook" in capsys.readouterr().err
    assert course.main(["run", "--profile", "medium", "--no-data"]) == 2
    assert "Unknown PROFILE 'medium'" in capsys.readouterr().err
    assert course.main(["run", "-p", "PROFILE", "full", "--no-data"]) == 2


@pytest.mark.slow
def test_run_continues_after_a_failure_and_summarises(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    _write_notebook(folder, "00_ok.ipynb",
                    'from mer_utils.record import record_metrics\nrecord_metrics("00_ok", {"acc": 0.75})')
    _write_notebook(folder, "01_bad.ipynb", "raise ValueError('broken on purpose')")
    _write_notebook(folder, "02_after.ipynb",
                    'from mer_utils.record import record_metrics\nrecord_metrics("02_after", {"n": 2})')
    run_dir, results = course.run(None, "ci", {}, tmp_path / "run", generate_data=False, folder=folder)
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    assert results[0].metrics == {"acc": 0.75}
    assert results[1].error["ename"] == "ValueError" and "broken on purpose" in results[1].error["evalue"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [n["status"] for n in summary["notebooks"]] == ["ok", "failed", "ok"]
    assert "01_bad | failed" in (run_dir / "summary.md").read_text()
    assert (run_dir / "notebooks" / "01_bad.ipynb").exists()
    with pytest.raises(course.CourseError, match="not empty"):
        course.run(None, "ci", {}, run_dir, generate_data=False, folder=folder)


def test_course_run_require_licensed_reaches_the_kernels(tmp_path, monkeypatch):
    """``course run --require-licensed``: the kernels see $MER_REQUIRE_LICENSED=1 and no data is generated."""
    monkeypatch.delenv("MER_REQUIRE_LICENSED", raising=False)
    monkeypatch.setattr(course, "ensure_data", lambda size: pytest.fail("data generated under --require-licensed"))
    folder = tmp_path / "nbs"
    folder.mkdir()
    _write_notebook(folder, "00_env.ipynb", 'import os\nfrom mer_utils.record import record_metrics\n'
                    'record_metrics("00_env", {"flag": os.environ.get("MER_REQUIRE_LICENSED", "unset")})')
    run_dir, results = course.run(None, "ci", {}, tmp_path / "run", folder=folder, require_licensed=True)
    assert results[0].status == "ok" and results[0].metrics == {"flag": "1"}
    assert json.loads((run_dir / "summary.json").read_text())["require_licensed"] is True
    assert "MER_REQUIRE_LICENSED" not in os.environ                          # the runner's own process is untouched


def test_every_parameters_line_is_read_by_papermill(tmp_path):
    """A parameter whose line papermill cannot parse (e.g. '=' in its comment) would be unknown to `-p`: every
    committed notebook's parameters are all read, and a bad line is a named error."""
    for nb in course.list_notebooks():
        assert "PROFILE" in course.declared_parameters(nb)
    folder = tmp_path / "nbs"
    folder.mkdir()
    path = _write_notebook(folder, "00_bad.ipynb", "print(1)",
                           params='PROFILE = "quick"\nMODE = "a"  # "a" = one thing, "b" = another')
    with pytest.raises(course.CourseError, match=r"00_bad\.ipynb: papermill cannot read the parameter line\(s\) "
                                                 r"\['MODE = \"a\"  # \"a\" = one thing"):
        course.declared_parameters(path)
