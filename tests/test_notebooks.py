"""Notebook tests: naming, the STYLE.md skeleton, and a papermill run of each notebook with its tiny
``ci`` profile whose recorded metrics are checked against ``tests/expectations/<stem>.json``.

nbval (run by scripts/test.sh over notebooks/) re-executes the committed notebooks and compares outputs.
"""
from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import nbformat
import pytest

from mer_utils.course import NOTEBOOK_DIR, NOTEBOOK_NAME, execute_notebook, list_notebooks
from mer_utils.record import committed_metrics

NOTEBOOKS = list_notebooks()
EXPECTATIONS = Path(__file__).parent / "expectations"
REQUIRED_PARAMETERS = {"PROFILE", "SEED", "DEVICE"}


def _ids(paths):
    return [p.stem for p in paths]


def _cell_source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _headings(nb) -> list[tuple[int, str]]:
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for line in _cell_source(cell).splitlines():
                if line.startswith("#"):
                    out.append((i, line.strip()))
    return out


def test_notebook_files_are_named_nn_slug():
    bad = [p.name for p in NOTEBOOK_DIR.glob("*.ipynb") if not NOTEBOOK_NAME.match(p.name)]
    assert not bad, f"notebooks must be named NN_slug.ipynb (lower case, underscores): {bad}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_skeleton(path: Path):
    nb = nbformat.read(str(path), as_version=4)
    cells = nb.cells
    assert cells and cells[0].cell_type == "markdown" and _cell_source(cells[0]).lstrip().startswith("# "), \
        f"{path.name}: the first cell must be a markdown title ('# ...')"
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected exactly one cell tagged 'parameters', found {len(tagged)}"
    p = tagged[0]
    assert cells[p].cell_type == "code", f"{path.name}: the parameters cell must be a code cell"
    tree = ast.parse(_cell_source(cells[p]))
    names = set()
    for node in tree.body:
        assert isinstance(node, (ast.Assign, ast.AnnAssign)), \
            f"{path.name}: the parameters cell may hold only assignments (line {node.lineno})"
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            assert isinstance(t, ast.Name) and t.id.isupper(), \
                f"{path.name}: parameter names must be UPPER_CASE names (line {node.lineno})"
            names.add(t.id)
    missing = REQUIRED_PARAMETERS - names
    assert not missing, f"{path.name}: the parameters cell lacks {sorted(missing)}"
    heads = _headings(nb)
    def first(title):
        hits = [i for i, h in heads if h.lower().startswith(title.lower())]
        assert hits, f"{path.name}: missing a '{title}' heading"
        return hits[0]
    setup, summary, exercises = first("## Setup"), first("## Summary"), first("## Exercises")
    assert setup < p < summary <= exercises, \
        f"{path.name}: order must be title, ## Setup, parameters cell, ..., ## Summary, ## Exercises"
    code = [c for c in cells if c.cell_type == "code"]
    assert "record_metrics(" in _cell_source(code[-1]) and f'"{path.stem}"' in _cell_source(code[-1]), \
        f"{path.name}: the last code cell must call record_metrics(\"{path.stem}\", ...)"
    unexecuted = [i for i, c in enumerate(cells) if c.cell_type == "code" and c.get("execution_count") is None
                  and _cell_source(c).strip()]
    assert not unexecuted, (f"{path.name}: cells {unexecuted} have no stored outputs; store the default run "
                            f"with `python -m mer_utils.course refresh {path.stem[:2]}`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_has_expectations(path: Path):
    exp = EXPECTATIONS / f"{path.stem}.json"
    assert exp.exists(), f"{path.name}: add {exp.relative_to(NOTEBOOK_DIR.parent)} with the ranges of its metrics"
    data = json.loads(exp.read_text())
    assert "ci" in data and data["ci"], f"{exp.name}: needs a non-empty 'ci' section"


def lookup(metrics: dict, dotted: str):
    """``metrics["a"]["b"]`` for ``"a.b"``; keys may themselves hold dots (``"casme2.war"``)."""
    if dotted in metrics:
        return metrics[dotted]
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        head, rest = ".".join(parts[:i]), ".".join(parts[i:])
        if isinstance(metrics.get(head), dict):
            try:
                return lookup(metrics[head], rest)
            except KeyError:
                continue
    raise KeyError(dotted)


def check_expectations(metrics: dict, ranges: dict) -> list[str]:
    """Messages for every expected metric that is missing or outside its [min, max] range."""
    problems = []
    for key, bounds in ranges.items():
        try:
            value = lookup(metrics, key)
        except KeyError:
            problems.append(f"missing metric {key!r}")
            continue
        if isinstance(bounds, list) and len(bounds) == 2:
            lo, hi = bounds
            if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) \
                    or not (lo <= value <= hi):
                problems.append(f"{key}={value!r} outside [{lo}, {hi}]")
        elif value != bounds:
            problems.append(f"{key}={value!r}, expected {bounds!r}")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_with_ci_profile(path: Path, tmp_path: Path):
    result = execute_notebook(path, tmp_path / path.name, {"PROFILE": "ci"}, tmp_path, progress=False)
    assert result.status == "ok", f"{path.name} failed with PROFILE='ci': {result.error}"
    assert result.metrics, f"{path.name}: no metrics recorded (last cell calls record_metrics)"
    exp = EXPECTATIONS / f"{path.stem}.json"
    ranges = json.loads(exp.read_text())["ci"] if exp.exists() else {}
    problems = check_expectations(result.metrics, ranges)
    assert not problems, f"{path.name} (ci profile): " + "; ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_outputs_meet_quick_expectations(path: Path):
    """The stored default (quick) run recorded metrics within the ranges of tests/expectations (nbval then
    checks that a re-run reproduces the stored outputs)."""
    exp = EXPECTATIONS / f"{path.stem}.json"
    ranges = json.loads(exp.read_text()).get("quick", {}) if exp.exists() else {}
    if not ranges:
        pytest.skip(f"{exp.name} has no 'quick' section")
    problems = check_expectations(committed_metrics(path), ranges)
    assert not problems, f"{path.name} (committed quick run): " + "; ".join(problems)


PAPER_NOTEBOOKS = [p for p in NOTEBOOKS if 10 <= int(p.name[:2]) < 90]
MAIN_KEYS = ("protocol", "uar", "uf1", "war", "uar_ci95", "chance_uar", "majority_uar", "control_uar")


@pytest.mark.parametrize("path", PAPER_NOTEBOOKS, ids=_ids(PAPER_NOTEBOOKS))
def test_committed_paper_run_learns_above_chance(path: Path):
    """Issue 17: the paper's main model, in the committed quick run, has a UAR whose 95% subject-bootstrap
    interval lies above chance, recorded with its yardsticks (majority baseline, positive control)."""
    main = committed_metrics(path).get("main")
    assert isinstance(main, dict), f"{path.name}: the last cell records no metrics['main'] ({MAIN_KEYS})"
    missing = [k for k in MAIN_KEYS if k not in main]
    assert not missing, f"{path.name}: metrics['main'] lacks {missing}"
    lo, hi = main["uar_ci95"]
    assert lo <= main["uar"] <= hi, f"{path.name}: UAR {main['uar']} outside its own interval {main['uar_ci95']}"
    assert lo > main["chance_uar"], (f"{path.name}: the main model's UAR interval [{lo:.3f}, {hi:.3f}] does not lie "
                                     f"above chance ({main['chance_uar']:.3f})")
