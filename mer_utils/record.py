"""Record a notebook's key metrics in a machine-readable file, for the tests and the comparison notebook.

The last cell of every notebook calls :func:`record_metrics`. The file goes to
``$MER_RUN_DIR/metrics/<notebook>.json`` when the batch runner or a test sets ``MER_RUN_DIR``, else to
``runs/metrics/<notebook>.json``. Values must be JSON numbers, strings, booleans, or nested dicts/lists of them.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping

from .paths import repo_path

RUN_DIR_ENV = "MER_RUN_DIR"


def metrics_dir() -> Path:
    """Folder the metrics files go to (see module docstring)."""
    env = os.environ.get(RUN_DIR_ENV)
    base = Path(env) if env else repo_path("runs")
    return base / "metrics"


def _clean(value: Any, where: str) -> Any:
    """Convert NumPy / torch scalars to plain JSON values; reject what JSON cannot hold."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (str, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    raise TypeError(f"record_metrics: {where} has type {type(value).__name__}; "
                    "expected a number, string, bool, or a dict/list of them.")


def record_metrics(notebook: str, metrics: Mapping[str, Any], verbose: bool = True) -> Path:
    """Write ``metrics`` for ``notebook`` (its file stem, e.g. ``"00_datasets"``) and return the file path."""
    if not notebook or "/" in notebook or notebook.endswith(".ipynb"):
        raise ValueError(f"record_metrics: notebook should be the file stem like '00_datasets', got {notebook!r}.")
    payload = {"notebook": notebook, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "metrics": _clean(dict(metrics), "metrics")}
    out = metrics_dir()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{notebook}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    os.replace(tmp, path)
    if verbose:
        print(json.dumps(payload["metrics"], indent=2, sort_keys=True))
    return path


def read_metrics(notebook: str, run_dir: str | os.PathLike | None = None) -> dict:
    """Read back what :func:`record_metrics` wrote (from ``run_dir`` or the default location)."""
    base = Path(run_dir) / "metrics" if run_dir is not None else metrics_dir()
    path = base / f"{notebook}.json"
    if not path.exists():
        raise FileNotFoundError(f"No recorded metrics for {notebook!r} at {path}; "
                                "the notebook's last cell calls record_metrics(...) — did it run to the end?")
    return json.loads(path.read_text())["metrics"]


def committed_metrics(notebook: str | os.PathLike) -> dict:
    """The metrics a notebook's **stored** last cell printed (``record_metrics`` prints them as JSON): what the
    committed default run of that notebook recorded, readable without re-running it or a result store."""
    import nbformat

    path = Path(notebook)
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code:
        raise ValueError(f"{path.name}: no code cells; expected a course notebook ending with record_metrics(...).")
    text = "".join(o.get("text", "") for o in code[-1].get("outputs", []) if o.get("output_type") == "stream")
    start = text.find("{")
    if start < 0:
        raise ValueError(f"{path.name}: the last cell's stored output holds no metrics JSON; store the default "
                         f"run with `scripts/course.sh refresh {path.name[:2]}`.")
    return json.JSONDecoder().raw_decode(text[start:])[0]
