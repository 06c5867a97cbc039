"""The prepared GPU check (benchmarks/gpu_check.py) runs: on CPU with --smoke (tiny shapes, one step), every case
builds its model from the notebooks' full settings, trains through the project's fit, and is compared with the
cost plan's estimate. Its numbers are meaningless on CPU; on a GPU machine the same script measures the plan."""
from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

from mer_utils.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "gpu_check.py"


def _run(argv):
    old = sys.argv
    sys.argv = [str(SCRIPT), *argv]
    try:
        return runpy.run_path(str(SCRIPT), run_name="gpu_check")["main"](argv)
    finally:
        sys.argv = old


@pytest.mark.slow
def test_gpu_check_smoke_runs_every_case_against_the_plan(tmp_path):
    out = tmp_path / "gpu_check.json"
    rows = _run(["--smoke", "--device", "cpu", "--out", str(out)])
    data = json.loads(out.read_text())
    assert data["meta"]["smoke"] is True and len(data["cases"]) == len(rows) == 7
    names = " ".join(r["case"] for r in rows)
    for word in ("AMAN", "ResNet-18", "She", "Peng", "Reddy", "Zhao"):
        assert word in names
    for r in rows:
        assert r["step_s"] > 0 and r["plan_step_s"] > 0 and r["gflop_per_sample"] > 0
        assert r["plan_over_measured"] == pytest.approx(r["plan_step_s"] / r["step_s"], rel=0.02, abs=0.01)
        assert r["peak_gpu_gb"] is None  # CPU


def test_gpu_check_refuses_full_shapes_without_cuda_and_unknown_cases(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is here: the full shapes are allowed")
    with pytest.raises(SystemExit):
        _run(["--device", "cpu", "--out", str(tmp_path / "x.json")])
    assert "--smoke" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run(["--smoke", "--device", "cpu", "--cases", "nonesuch", "--out", str(tmp_path / "x.json")])
    assert "matches none" in capsys.readouterr().err
