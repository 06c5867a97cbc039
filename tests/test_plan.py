"""The cost plan (mer_utils.plan, issue 20 item 1): FLOP counts against a hand calculation, the formulas, the JSON
rows and their total, and that the notebooks' settings drive the estimate."""
import json

import pytest
import torch
from torch import nn

from mer_utils import course
from mer_utils import plan as P
from mer_utils.plan_notebooks import ESTIMATORS


def tiny_net():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 3 * 3, 3))


def test_flops_of_a_tiny_conv_net_match_a_hand_calculation():
    prof = P.profile_model(tiny_net, (1, 1, 5, 5))
    conv = 2 * (2 * 3 * 3) * (1 * 3 * 3)  # 2 FLOP x output elements x multiply-adds per output
    linear = 2 * 18 * 3
    assert prof.flops == conv + linear == 432
    assert prof.params == (2 * 9 + 2) + (18 * 3 + 3)
    assert prof.trainable == prof.params and prof.state_bytes == 4 * prof.params
    assert prof.ops == 3 and prof.activation_bytes == 4 * (18 + 18 + 3)  # conv, relu, addmm (flatten: a view)


def test_train_stage_follows_its_formula():
    prof = P.ModelProfile(flops=1e9, ops=100, activation_bytes=1e6, params=1000, trainable=500, state_bytes=4000)
    one = P.train_stage("x", prof, epochs=1, batch=10, train_samples=1000, folds=3, checkpoint=True)
    two = P.train_stage("x", prof, epochs=2, batch=10, train_samples=1000, folds=3, checkpoint=True)
    step = max(3 * 10 * 1e9 / P.EFFECTIVE_FLOP_PER_S, 3 * 100 * P.OP_OVERHEAD_S)
    assert one.seconds == pytest.approx(100 * step + 1000 * P.SAMPLE_OVERHEAD_S)
    assert two.seconds == pytest.approx(2 * one.seconds)
    assert one.disk_bytes == 3 * (4000 + P.RESULT_BYTES_PER_FOLD)
    assert one.gpu_bytes == 4 * (1000 + 3 * 500) + 10 * 1e6


def test_a_group_stage_sums_time_and_disk_and_keeps_the_peak_memory():
    group = P.Stage("group")
    assert group.absorb(P.Stage("a", 10, 5, 7, 100), "a: 10 s") is group
    group.absorb(P.Stage("b", 20, 3, 9, 50), "b: 20 s").absorb(P.Stage("c", 1, 1, 1, 1))
    assert (group.seconds, group.gpu_bytes, group.host_bytes, group.disk_bytes) == (31, 5, 9, 151)
    assert group.detail == "a: 10 s; b: 20 s"


def test_resident_inputs_cost_gpu_memory_and_no_host_bytes():
    """Issue 20: inputs kept on the GPU (ClipDataset.resident) pay the batch gather only, no host copy per sample,
    and take GPU memory; She's plan asks the pipeline's placement rule about an empty H100 (paper size: resident)."""
    prof = P.ModelProfile(flops=1e9, ops=100, activation_bytes=1e6, params=1000, trainable=500, state_bytes=4000)
    kw = dict(epochs=1, batch=10, train_samples=1000, input_bytes=4e5, sliced=True)
    host, gpu = P.train_stage("x", prof, **kw), P.train_stage("x", prof, **kw, resident_bytes=2e9)
    assert host.seconds - gpu.seconds == pytest.approx(1000 * 4e5 / P.HOST_BYTES_PER_S)
    assert gpu.gpu_bytes == host.gpu_bytes + 2e9
    she = {s["name"]: s for s in P.plan("full", ["10"])[0]["stages"]}
    assert "inputs resident on the GPU" in she["train fusion"]["detail"]


def test_rows_have_the_issue_keys_and_the_total_is_their_sum(monkeypatch):
    def fake(slug, settings):
        gb = len(slug) * P.GB
        return P.NotebookPlan(slug, [P.Stage("a", 3600.0, gb, gb, gb), P.Stage("b", 1800.0, 0, 0, gb)])

    monkeypatch.setattr("mer_utils.plan_notebooks.ESTIMATORS", {k: fake for k in ESTIMATORS})
    rows = P.plan("full", ["10", "20"])
    assert [r["notebook"] for r in rows] == ["10_she2020_multiple_aggregation", "20_peng2018_macro_to_micro", "total"]
    for r in rows:
        assert {"notebook", "gpu_hours", "gpu_gb", "host_gb", "disk_gb"} <= set(r)
    body, total = rows[:-1], rows[-1]
    assert body[0]["gpu_hours"] == 1.5 and body[0]["disk_gb"] == pytest.approx(2 * len(body[0]["notebook"]))
    for key in ("gpu_hours", "disk_gb"):
        assert total[key] == pytest.approx(sum(r[key] for r in body))
    for key in ("gpu_gb", "host_gb"):
        assert total[key] == max(r[key] for r in body)
    json.dumps(rows)


def test_settings_are_read_from_the_notebook_and_parameters_override_them():
    s = P.notebook_settings("notebooks/50_wei2022_aman.ipynb", "full")
    assert s["factors"] == list(range(1, 12)) and s["n_grid"] == "main" and s["epochs"] == 50
    assert P.notebook_settings("notebooks/50_wei2022_aman.ipynb", "full", {"K": 7, "SEED": 3})["ceiling"] == 7
    with pytest.raises(ValueError, match="sets no profile setting"):
        P.notebook_settings("notebooks/50_wei2022_aman.ipynb", "full", {"NOT_A_PARAMETER": 1})


def test_a_setting_changes_the_estimate_of_a_real_notebook(capsys):
    base = P.plan("full", ["30"])[0]
    fewer = P.plan("full", ["30"], {"EPOCHS": 10})[0]
    assert base["notebook"] == "30_reddy2019_3d_cnn" and base["gpu_hours"] > 0
    assert fewer["gpu_hours"] < base["gpu_hours"] / 5
    assert course.main(["plan", "--profile", "full", "--notebook", "30", "--json", "-p", "EPOCHS", "10"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["gpu_hours"] == fewer["gpu_hours"] and rows[-1]["notebook"] == "total"


def test_course_plan_routes_a_parameter_to_the_notebooks_that_declare_it():
    """README: `plan --profile full -p N_GRID paper` over the whole course switches Fig. 3's paper sweep on in
    notebook 50 only (the other notebooks do not declare N_GRID); a name no notebook declares is an error."""
    from mer_utils.course import CourseError
    from mer_utils.plan import plan

    default = {r["notebook"]: r for r in plan("full")}
    paper = {r["notebook"]: r for r in plan("full", None, {"N_GRID": "paper"})}
    assert paper["50_wei2022_aman"]["gpu_hours"] > 3 * default["50_wei2022_aman"]["gpu_hours"]
    assert paper["40_zhao2021_residual_sum_cropnet"] == default["40_zhao2021_residual_sum_cropnet"]
    with pytest.raises(CourseError, match="'NOPE' is not declared by any selected notebook"):
        plan("full", None, {"NOPE": 1})


def test_the_default_full_course_meets_the_targets_and_names_what_fig3_would_add():
    """Issue 20's budgets hold for the default `full` course; Fig. 3's paper sweep (n = 1..20 on three datasets) is
    opt-in, and the plan's note for notebook 50 gives what it adds — the difference of the two plans, not a typed
    number — and the command that switches it on."""
    from mer_utils.plan import TARGETS, plan

    rows = plan("full")
    total = rows[-1]
    for key, limit in TARGETS.items():
        assert total[key] <= limit, (key, total[key], limit)
    wei = next(r for r in rows if r["notebook"] == "50_wei2022_aman")
    paper = plan("full", ["50"], {"N_GRID": "paper"})[0]
    (note,) = [n for n in wei["notes"] if "Fig. 3" in n]
    assert "-p N_GRID paper" in note and "off (n = 11 only)" in note
    added_h = float(note.split("adds ")[1].split(" GPU-h")[0])
    assert added_h == pytest.approx(paper["gpu_hours"] - wei["gpu_hours"], abs=0.06)
    assert not [n for n in paper["notes"] if "Fig. 3" in n]  # the paper's sweep: nothing to add


def test_n_grid_reads_paper_lists_and_rejects_the_rest_with_the_expected_form():
    from mer_utils.papers.wei2022 import PAPER_N_GRID, n_grid

    assert n_grid(None) is None and n_grid("paper") == list(range(1, 21)) == list(PAPER_N_GRID)
    assert n_grid([1, 11, 20]) == [1, 11, 20] and n_grid("Paper ") == list(range(1, 21))
    for bad in ("all", [], [0, 3], [2.5], "11", 11):
        with pytest.raises(ValueError, match="N_GRID"):
            n_grid(bad)


def test_the_plan_refuses_the_cpu_profiles_with_an_error_naming_full():
    """The plan models PROFILE='full' on paper-size data; 'quick' / 'ci' used to crash deep inside notebook 50's
    estimator (AMAN inputs='map')."""
    import pytest

    from mer_utils.plan import plan

    for profile in ("quick", "ci"):
        with pytest.raises(ValueError, match="--profile full"):
            plan(profile, ["50"])
