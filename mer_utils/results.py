"""The result store and the papers' reported numbers as data.

Result store
------------
One folder per (notebook, dataset, protocol, parameters hash) under :func:`mer_utils.paths.results_root`::

    runs/results/<notebook>/<dataset>/<protocol>/<hash12>/
        params.json        everything that identifies the run (hashed into the folder name)
        environment.json   package versions, device, Python, platform
        folds/<fold>/      per-fold predictions.csv, fold.json (the "done" marker), model checkpoint, history.csv
        predictions.csv    all folds' test predictions, pooled (written when every fold is done)
        metrics.json       pooled / per-dataset / per-fold metrics (mer_utils.evaluation.summarize)
        timings.json       seconds per fold and in all

A changed parameter gives a different hash, hence a fresh folder: results of different settings never mix.
Every file is written atomically (temporary file + ``os.replace``), so a crash leaves either the old file or
the new one. :func:`load_results` reads every run into one table.

Paper tables
------------
Each paper's reported numbers live in ``mer_utils/tables/<paper>.json`` (format in
``.dev/API_evaluation.md`` and :func:`paper_table`); notebooks show them beside their own results with
:func:`compare_to_paper`, never typed into prose.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .paths import results_root

#: Folder holding the paper tables (``<paper>.json``).
TABLES_DIR = Path(__file__).resolve().parent / "tables"
#: Format tag every paper-table file carries.
TABLE_FORMAT = "mer_utils.paper_tables/1"
#: Metric names allowed in paper tables (``accuracy``/``acc`` are read as ``war``); ``<metric>_std`` also allowed.
TABLE_METRICS = ("war", "uar", "uf1", "wf1", "f1")
_METRIC_ALIASES = {"accuracy": "war", "acc": "war", "war": "war", "uar": "uar", "uf1": "uf1",
                   "wf1": "wf1", "f1": "f1", "macro_f1": "uf1"}
#: Dataset name used for a score pooled over a composite (as opposed to one of its datasets).
COMPOSITE = "composite"


# ----------------------------------------------------------------------------------------- hashing
def jsonable(obj: Any, where: str = "params") -> Any:
    """Convert ``obj`` to plain JSON values deterministically (for hashing and for ``params.json``).

    Handles dicts, lists/tuples, sets (sorted), NumPy scalars and arrays, paths, dataclasses, enums,
    scikit-learn estimators (their ``repr``, which lists the parameters), ``functools.partial`` and
    functions/classes (``module.qualname`` plus a hash of the source, so editing a lambda changes the
    hash). Anything else raises ``TypeError`` naming where it sits, so an undescribed object never
    leaks a memory address into the hash.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return None if math.isnan(f) else f
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, f"{where}.{k}") for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        return sorted(jsonable(v, where) for v in obj)
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), where)
    if isinstance(obj, os.PathLike):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__class__": _qualname(type(obj)),
                **{f.name: jsonable(getattr(obj, f.name), f"{where}.{f.name}") for f in dataclasses.fields(obj)}}
    if hasattr(obj, "get_params") and hasattr(obj, "fit"):  # scikit-learn estimator / pipeline
        return {"__sklearn__": repr(obj).replace("\n", " ")}
    if isinstance(obj, functools.partial):
        return {"__partial__": jsonable(obj.func, where), "args": jsonable(obj.args, where),
                "keywords": jsonable(obj.keywords, where)}
    if inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj) or inspect.isbuiltin(obj):
        return {"__callable__": _qualname(obj), "source_sha1": _source_hash(obj)}
    if hasattr(obj, "value") and type(obj).__module__ != "builtins" and isinstance(getattr(obj, "name", None), str):
        return f"{_qualname(type(obj))}.{obj.name}"  # Enum
    text = repr(obj)
    if " at 0x" in text:
        raise TypeError(f"{where}: cannot describe a {type(obj).__name__} reproducibly for the parameters hash; "
                        "pass its settings as plain values (numbers, strings, lists, dicts) instead.")
    return text


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


def _source_hash(obj: Any) -> str | None:
    try:
        src = inspect.getsource(obj)
    except (OSError, TypeError):
        return None
    return hashlib.sha1(src.encode()).hexdigest()[:12]


def canonical_json(obj: Any) -> str:
    """Deterministic JSON text of ``obj`` (sorted keys, no spaces) after :func:`jsonable`."""
    return json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def params_hash(params: Mapping[str, Any], length: int = 12) -> str:
    """Short SHA-1 of the canonical JSON of ``params``: equal settings -> equal hash, any change -> new hash."""
    return hashlib.sha1(canonical_json(params).encode()).hexdigest()[:length]


def _safe_name(value: str, what: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError(f"{what} must be a non-empty string.")
    bad = set(text) & set('/\\:*?"<>|')
    if bad or text in (".", ".."):
        raise ValueError(f"{what}={value!r} contains {sorted(bad) or text!r}; use letters, digits, '_', '-', '.'.")
    return text


def run_dir(notebook: str, dataset: str, protocol: str, params: Mapping[str, Any],
            root: str | os.PathLike | None = None) -> Path:
    """The run folder ``<root>/<notebook>/<dataset>/<protocol>/<params_hash>`` (not created here)."""
    base = Path(root) if root is not None else results_root()
    return (base / _safe_name(notebook, "notebook") / _safe_name(dataset, "dataset")
            / _safe_name(protocol, "protocol") / params_hash(params))


# ----------------------------------------------------------------------------------------- atomic writes
def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace`` (never a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """:func:`atomic_write_text` of ``obj`` as indented JSON (NumPy values converted)."""
    return atomic_write_text(path, json.dumps(jsonable(obj, Path(path).name), indent=2, sort_keys=True))


def atomic_write_csv(path: str | os.PathLike, table: pd.DataFrame) -> Path:
    """:func:`atomic_write_text` of a DataFrame as CSV without the index."""
    return atomic_write_text(path, table.to_csv(index=False))


#: Columns of a predictions table that are text even when they look like numbers (SAMM subject ``006``).
TEXT_COLUMNS = ("clip_uid", "subject_uid", "subject", "dataset", "fold", "true_name", "pred_name")


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``predictions.csv`` of the store, keeping ids as text (``006`` stays ``006``)."""
    return pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS})


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, with an error naming the file when it is missing or broken."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist.") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); delete it to recompute.") from None


# ----------------------------------------------------------------------------------------- environment
def environment_info(device: Any = None) -> dict:
    """Python, platform, versions of the main packages and the device (for ``environment.json``)."""
    from importlib import metadata

    versions = {}
    for pkg in ("mer-utils", "numpy", "pandas", "scikit-learn", "scikit-image", "torch", "torchvision",
                "timm", "opencv-contrib-python-headless", "dlib-bin"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    info = {"python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
            "packages": versions, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        import torch

        dev = torch.device(device) if device is not None else torch.device("cpu")
        info["device"] = str(dev)
        info["device_name"] = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "CPU"
        info["torch_threads"] = torch.get_num_threads()
        info["cuda_available"] = bool(torch.cuda.is_available())
    except Exception as err:  # pragma: no cover - torch always installed in this project
        info["device"] = f"unknown ({err})"
    return info


# ----------------------------------------------------------------------------------------- loading runs
def load_run(path: str | os.PathLike) -> dict:
    """Read one run folder: ``{"path", "params", "metrics" (or None), "timings" (or None),
    "environment" (or None), "predictions" (DataFrame or None), "folds_done"}``."""
    path = Path(path)
    if not (path / "params.json").exists():
        raise FileNotFoundError(f"{path} is not a run folder (no params.json); "
                                "run folders are made by mer_utils.training.cross_validate.")
    out = {"path": path, "params": read_json(path / "params.json")}
    for name in ("metrics", "timings", "environment"):
        f = path / f"{name}.json"
        out[name] = read_json(f) if f.exists() else None
    pred = path / "predictions.csv"
    out["predictions"] = read_predictions(pred) if pred.exists() else None
    out["folds_done"] = sorted(p.parent.name for p in (path / "folds").glob("*/fold.json"))
    return out


def load_results(root: str | os.PathLike | None = None, per_dataset: bool = False,
                 include_incomplete: bool = True) -> pd.DataFrame:
    """Every run in the store as one table (one row per run; with ``per_dataset=True`` also one row per
    dataset inside each composite run, ``scope`` naming it).

    Columns: ``notebook, dataset, protocol, method, scope, war, uar, uf1, wf1, n, complete, n_folds,
    folds_done, seconds, device, data, profile, datasets, created, run, path`` (``datasets``: the datasets
    scored inside the run, comma-separated). ``data`` is the run's ``data_source``
    (what it read: the synthetic set or ``DATA_ROOT``); ``profile`` is ``params["profile"]`` when the
    notebook put it there (recommended). An empty store gives
    an empty table with these columns.
    """
    base = Path(root) if root is not None else results_root()
    columns = ["notebook", "dataset", "protocol", "method", "scope", "war", "uar", "uf1", "wf1", "n",
               "complete", "n_folds", "folds_done", "seconds", "device", "data", "profile", "datasets", "created",
               "run", "path"]
    rows = []
    for pfile in sorted(base.glob("*/*/*/*/params.json")):
        folder = pfile.parent
        try:
            params = read_json(pfile)
        except ValueError:
            continue
        metrics = read_json(folder / "metrics.json") if (folder / "metrics.json").exists() else None
        timings = read_json(folder / "timings.json") if (folder / "timings.json").exists() else {}
        env = read_json(folder / "environment.json") if (folder / "environment.json").exists() else {}
        folds = params.get("folds", [])
        done = len(list((folder / "folds").glob("*/fold.json")))
        complete = metrics is not None
        if not complete and not include_incomplete:
            continue
        base_row = {"notebook": params.get("notebook"), "dataset": params.get("dataset"),
                    "protocol": params.get("protocol"), "method": params.get("method"),
                    "complete": complete, "n_folds": len(folds), "folds_done": done,
                    "seconds": timings.get("total_seconds"), "device": env.get("device"),
                    "data": params.get("data_source") or (params.get("params") or {}).get("data"),
                    "profile": (params.get("params") or {}).get("profile"),
                    "created": params.get("created"), "run": folder.name, "path": str(folder)}
        pooled = (metrics or {}).get("pooled", {})
        per_ds = (metrics or {}).get("per_dataset", {})
        base_row["datasets"] = ",".join(sorted(per_ds))
        rows.append({**base_row, "scope": "pooled", **{k: pooled.get(k) for k in ("war", "uar", "uf1", "wf1", "n")}})
        if per_dataset and len(per_ds) > 1:
            for ds, m in per_ds.items():
                rows.append({**base_row, "scope": ds, **{k: m.get(k) for k in ("war", "uar", "uf1", "wf1", "n")}})
    return pd.DataFrame(rows, columns=columns)


def load_notebook_metrics(run_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every notebook's recorded metrics (``mer_utils.record``) flattened to ``notebook, key, value`` rows.

    Nested dicts become dotted keys (``loso.uf1``). Missing folder -> empty table.
    """
    from .record import metrics_dir

    folder = Path(run_dir) / "metrics" if run_dir is not None else metrics_dir()
    rows = []
    for f in sorted(folder.glob("*.json")):
        try:
            payload = json.loads(f.read_text())
        except json.JSONDecodeError:
            continue
        for key, value in _flatten(payload.get("metrics", {})):
            rows.append({"notebook": payload.get("notebook", f.stem), "key": key, "value": value,
                         "recorded_at": payload.get("recorded_at")})
    return pd.DataFrame(rows, columns=["notebook", "key", "value", "recorded_at"])


def _flatten(obj: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    else:
        yield prefix, obj


# ----------------------------------------------------------------------------------------- paper tables
def _table_file(paper: str) -> Path:
    path = TABLES_DIR / f"{paper}.json"
    if not path.exists():
        have = sorted(p.stem for p in TABLES_DIR.glob("*.json"))
        raise FileNotFoundError(f"No paper table file {path.name} in {TABLES_DIR}; available: {have}.")
    return path


def _load_table_file(paper: str) -> dict:
    data = read_json(_table_file(paper))
    if data.get("format") != TABLE_FORMAT:
        raise ValueError(f"{paper}.json: 'format' must be {TABLE_FORMAT!r}, got {data.get('format')!r}.")
    if not isinstance(data.get("tables"), dict) or not data["tables"]:
        raise ValueError(f"{paper}.json: expected a non-empty 'tables' object keyed by table id.")
    return data


def list_paper_tables() -> pd.DataFrame:
    """All tables in ``mer_utils/tables/``: ``paper, table, kind, title, source``."""
    rows = []
    for f in sorted(TABLES_DIR.glob("*.json")):
        data = _load_table_file(f.stem)
        for tid, t in data["tables"].items():
            rows.append({"paper": f.stem, "table": tid, "kind": t.get("kind", "metrics"),
                         "title": t.get("title", ""), "source": t.get("source", data.get("citation", ""))})
    return pd.DataFrame(rows, columns=["paper", "table", "kind", "title", "source"])


def paper_table(paper: str, table_id: str | int) -> pd.DataFrame:
    """One table of a paper's reported numbers as a DataFrame.

    ``kind = "metrics"`` tables give a long table with columns ``paper, table, method, dataset, protocol,
    metric, value, printed`` (+ any extra columns the file defines): ``value`` is a fraction in [0, 1]
    (``printed / scale``, the table's ``scale`` or a row's own ``scale`` column: 1 for fractions, 100 for
    percent), ``printed`` is the number as it appears in the paper; ``NaN`` where the paper
    prints ``-`` or N/A. ``kind = "confusion"`` tables give the matrix (rows = true class, columns =
    predicted class) divided by ``scale``. The table's ``title``, ``source`` and ``notes`` are in
    ``DataFrame.attrs``. The file format is documented in ``.dev/API_evaluation.md``.
    """
    data = _load_table_file(paper)
    tid = str(table_id)
    if tid not in data["tables"]:
        raise KeyError(f"{paper}.json has no table {tid!r}; it has {sorted(data['tables'])}.")
    t = data["tables"][tid]
    kind = t.get("kind", "metrics")
    scale = float(t.get("scale", 1))
    where = f"{paper}.json table {tid!r}"
    if kind == "confusion":
        labels, matrix = t.get("labels"), t.get("matrix")
        if not labels or not matrix or len(matrix) != len(labels) or any(len(r) != len(labels) for r in matrix):
            raise ValueError(f"{where}: a confusion table needs 'labels' (C names) and 'matrix' (C x C).")
        df = pd.DataFrame(np.asarray(matrix, dtype=float) / scale, index=pd.Index(labels, name="true"),
                          columns=pd.Index(labels, name="pred"))
    elif kind == "metrics":
        columns, rows = t.get("columns"), t.get("rows")
        if not columns or rows is None:
            raise ValueError(f"{where}: a metrics table needs 'columns' and 'rows'.")
        records = []
        for i, r in enumerate(rows):
            rec = dict(zip(columns, r)) if isinstance(r, list) else dict(r)
            if isinstance(r, list) and len(r) != len(columns):
                raise ValueError(f"{where}: row {i} has {len(r)} values for {len(columns)} columns {columns}.")
            rec = {**t.get("defaults", {}), **rec}
            missing = [c for c in ("method", "dataset", "protocol", "metric", "value") if c not in rec]
            if missing:
                raise ValueError(f"{where}: row {i} lacks {missing} (give them in 'columns' or 'defaults').")
            rec["metric"] = _norm_metric(rec["metric"], f"{where} row {i}")
            records.append(rec)
        df = pd.DataFrame(records)
        df["printed"] = pd.to_numeric(df["value"], errors="coerce")
        row_scale = pd.to_numeric(df["scale"], errors="coerce").fillna(scale) if "scale" in df else scale
        df["value"] = df["printed"] / row_scale
        df = df.drop(columns=["scale"], errors="ignore")
        df.insert(0, "table", tid)
        df.insert(0, "paper", paper)
        first = ["paper", "table", "method", "dataset", "protocol", "metric", "value", "printed"]
        df = df[first + [c for c in df.columns if c not in first]]
    else:
        raise ValueError(f"{where}: kind={kind!r}; expected 'metrics' or 'confusion'.")
    df.attrs.update({"paper": paper, "table": tid, "title": t.get("title", ""),
                     "source": t.get("source", data.get("citation", "")), "notes": t.get("notes", "")})
    return df


def _norm_metric(name: str, where: str) -> str:
    key = str(name).strip().lower()
    std = key.endswith("_std")
    base = key[:-4] if std else key
    if base not in _METRIC_ALIASES:
        raise ValueError(f"{where}: metric {name!r}; expected one of {TABLE_METRICS} "
                         "(or 'accuracy'; add '_std' for a standard deviation).")
    return _METRIC_ALIASES[base] + ("_std" if std else "")


def paper_tables(papers: Iterable[str] | None = None) -> pd.DataFrame:
    """All ``metrics`` tables of the given papers (default: every file) concatenated into one long table."""
    names = list(papers) if papers is not None else sorted(p.stem for p in TABLES_DIR.glob("*.json"))
    frames = []
    for paper in names:
        for tid, t in _load_table_file(paper)["tables"].items():
            if t.get("kind", "metrics") == "metrics":
                frames.append(paper_table(paper, tid))
    if not frames:
        return pd.DataFrame(columns=["paper", "table", "method", "dataset", "protocol", "metric", "value", "printed"])
    return pd.concat(frames, ignore_index=True)


def run_value(summary: Mapping[str, Any], dataset: str, metric: str) -> float | None:
    """Look up ``metric`` for ``dataset`` in a :func:`mer_utils.evaluation.summarize` dict.

    ``dataset = "composite"`` (or the only dataset of a single-dataset run) -> the pooled score; a dataset
    inside a composite -> its per-dataset score. ``f1`` (F1 as printed when a paper does not say which)
    is compared with UF1. ``None`` when the run has no such score.
    """
    metric = {"f1": "uf1"}.get(metric, metric)
    per_ds = summary.get("per_dataset") or {}
    if dataset == COMPOSITE or (len(per_ds) <= 1 and (not per_ds or dataset in per_ds)):
        scope = summary.get("pooled", {})
    else:
        scope = per_ds.get(dataset, {})
    value = scope.get(metric)
    return None if value is None else float(value)


def compare_to_paper(paper_rows: pd.DataFrame, summary: Mapping[str, Any], label: str = "this run") -> pd.DataFrame:
    """Paper numbers beside this run's: one row per paper row, columns ``method, dataset, protocol,
    metric, paper, <label>``. ``paper_rows`` comes from :func:`paper_table` (filter it to the methods
    you compare); ``summary`` from :func:`mer_utils.evaluation.summarize` or ``CVResult.metrics``."""
    need = ["method", "dataset", "protocol", "metric", "value"]
    missing = [c for c in need if c not in paper_rows.columns]
    if missing:
        raise KeyError(f"paper_rows lacks {missing}; pass a metrics table from paper_table().")
    out = paper_rows[["method", "dataset", "protocol", "metric"]].copy()
    out["paper"] = paper_rows["value"].to_numpy()
    out[label] = [run_value(summary, d, m) for d, m in zip(paper_rows["dataset"], paper_rows["metric"])]
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------------------- comparison
#: Paper-table columns that describe *where* a score was obtained; any other filled column (aggregation,
#: kernel, branch, ablation, ...) marks a variant that :func:`comparison_table` leaves out by default.
CORE_TABLE_COLUMNS = ("paper", "table", "method", "dataset", "protocol", "metric", "value", "printed", "split",
                      "task", "notes")
#: Suffix of result-store protocols that are demonstrations (notebook 02's shuffled labels), not methods.
DEMO_SUFFIXES = ("-shuffled",)


def split_protocol(name: str) -> tuple[str, str | None]:
    """``"reddy2019_smic-loso"`` -> ``("reddy2019_smic", "loso")``; a name without ``-`` -> ``(name, None)``.

    Protocol names of :mod:`mer_utils.data.protocols` use underscores, so a ``-`` separates a split or
    variant that a notebook appended.
    """
    base, _, rest = str(name).partition("-")
    return base, (rest or None)


def comparison_table(runs: pd.DataFrame | None = None, papers: pd.DataFrame | None = None,
                     metrics: Iterable[str] = ("war", "uar", "uf1"), latest_only: bool = True,
                     main_only: bool = True, f1_as_uf1: bool = True) -> pd.DataFrame:
    """One table of every method of this course (from the result store) and every paper number, per protocol
    and dataset.

    Columns: ``protocol, dataset, split, method, source`` (``"this course"`` or ``"paper"``), ``reference``
    (notebook, or paper + table), ``data`` (what the run read; ``"published (licensed data)"`` for papers),
    ``profile``, the ``metrics`` and ``note``. Course runs come from :func:`load_results` (complete runs only;
    demonstrations such as notebook 02's shuffled labels left out; with ``latest_only`` the newest run per
    notebook, dataset, protocol, method and profile); a composite run gives a ``composite`` row plus one row
    per dataset inside it. Paper rows come from :func:`paper_tables`; with ``main_only`` rows describing
    variants (a filled column outside :data:`CORE_TABLE_COLUMNS`) are left out, and a baseline cited by
    several papers with the same numbers appears once. ``f1_as_uf1``: a paper's F1 whose average is not
    stated fills the UF1 column, said in ``note``.
    """
    metrics = list(metrics)
    cols = ["protocol", "dataset", "split", "method", "source", "reference", "data", "profile", *metrics, "note"]
    runs = load_results(per_dataset=True, include_incomplete=False) if runs is None else runs
    frames = []
    if len(runs):
        r = runs[runs["complete"].astype(bool)].copy()
        r = r[~r["protocol"].astype(str).str.endswith(DEMO_SUFFIXES)]
        if latest_only and len(r):
            keys = ["notebook", "dataset", "protocol", "method", "profile"]
            newest = r[r["scope"] == "pooled"].sort_values("created").groupby(keys, dropna=False)["run"].last()
            r = r[r["run"].isin(set(newest))]
        if len(r):
            base = r["protocol"].map(lambda p: split_protocol(p)[0])
            split = r["protocol"].map(lambda p: split_protocol(p)[1])
            multi = r["datasets"].fillna("").str.contains(",")
            scope_ds = np.where(r["scope"] != "pooled", r["scope"],
                                np.where(multi, COMPOSITE, r["datasets"].replace("", np.nan).fillna(r["dataset"])))
            ours = pd.DataFrame({"protocol": base.to_numpy(), "dataset": scope_ds, "split": split.to_numpy(),
                                 "method": r["method"].to_numpy(), "source": "this course",
                                 "reference": r["notebook"].to_numpy(), "data": r["data"].to_numpy(),
                                 "profile": r["profile"].to_numpy(), "note": ""})
            for m in metrics:
                ours[m] = r[m].to_numpy() if m in r.columns else np.nan
            frames.append(ours)
    papers = paper_tables() if papers is None else papers
    if len(papers):
        p = papers.copy()
        if main_only:
            extra = [c for c in p.columns if c not in CORE_TABLE_COLUMNS]
            if extra:
                p = p[p[extra].isna().all(axis=1)]
        p["split"] = p["split"] if "split" in p.columns else None
        p["note"] = ""
        if f1_as_uf1 and "uf1" in metrics:
            key = ["paper", "table", "method", "protocol", "dataset"]
            has_uf1 = set(map(tuple, p.loc[p["metric"] == "uf1", key].astype(str).to_numpy()))
            f1 = (p["metric"] == "f1") & ~p[key].astype(str).apply(tuple, axis=1).isin(has_uf1)
            p.loc[f1, "note"] = "paper's F1 (average not stated) shown as UF1"
            p.loc[f1, "metric"] = "uf1"
        p = p[p["metric"].isin(metrics)]
        p["reference"] = p["paper"] + " " + p["table"].astype(str)
        index = ["protocol", "dataset", "split", "method", "reference"]
        p["split"] = p["split"].fillna("")
        wide = p.pivot_table(index=index, columns="metric", values="value", aggfunc="first").reset_index()
        wide.columns.name = None
        notes = p[(p["note"] != "") & p["value"].notna()].groupby(index)["note"].first()
        wide["note"] = [notes.get(tuple(k), "") for k in wide[index].itertuples(index=False)]
        present = [m for m in metrics if m in wide.columns]
        wide = wide.dropna(subset=present, how="all")
        # a baseline cited by several papers (LBP-TOP...) appears once: same place, same numbers, same name stem;
        # the citing paper's own file wins over the collected baselines file
        wide = wide.sort_values("reference", key=lambda r: r.str.startswith("lbptop_baseline"), kind="stable")
        stem = wide["method"].str.lower().str.replace(r"[^a-z0-9]", "", regex=True).str[:4]
        wide = wide[~pd.concat([wide[["protocol", "dataset", *present]].round(4), stem.rename("stem")],
                               axis=1).duplicated()]
        wide["split"] = wide["split"].replace("", None)
        wide["source"], wide["data"], wide["profile"] = "paper", "published (licensed data)", None
        for m in metrics:
            if m not in wide.columns:
                wide[m] = np.nan
        frames.append(wide)
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat([f[cols] for f in frames], ignore_index=True)
    order = {"this course": 0, "paper": 1}
    out = out.sort_values(["protocol", "dataset", "source", "method"], key=lambda s: s.map(order) if s.name == "source" else s)
    return out.reset_index(drop=True)


def data_source(table: pd.DataFrame) -> str:
    """What a clip table was read from, for ``cross_validate(data_source=...)``: ``"synthetic (quick)"``,
    ``"licensed"``, or ``"licensed + synthetic"`` for a mixed composite (from the loaders' ``attrs``)."""
    attrs = getattr(table, "attrs", {}) or {}
    sources = attrs.get("sources")
    kinds = sorted({v.get("source", "?") for v in sources.values()}) if isinstance(sources, Mapping) and sources \
        else [attrs.get("source", "unknown")]
    roots = [str(v.get("root", "")) for v in (sources.values() if isinstance(sources, Mapping) else [attrs])]
    size = next((part for r in roots for part in ("quick", "paper") if f"synthetic/{part}" in r.replace("\\", "/")), None)
    text = " + ".join(kinds)
    return f"{text} ({size})" if size and "synthetic" in kinds else text


def comparison_selection(table: pd.DataFrame, metric: str = "uf1", papers_per_place: int = 3) -> pd.DataFrame:
    """The rows of :func:`comparison_table` worth plotting for ``metric``, with a ``where`` label
    (``protocol / dataset``).

    Where this course has results: those places only, with every course row, the LBP-TOP baseline and the
    ``papers_per_place`` best paper rows. Without any course results: the same selection of paper rows for
    every place. Rows lacking ``metric`` are dropped.
    """
    t = table.dropna(subset=[metric]).copy()
    t["where"] = t["protocol"].astype(str) + " / " + t["dataset"].astype(str)
    ours = t[t["source"] == "this course"]
    if len(ours):
        t = t[t["where"].isin(set(ours["where"]))]
    paper = t[t["source"] == "paper"]
    lbp = paper[paper["method"].str.contains("LBP-TOP", case=False, regex=False)]
    best = paper.sort_values(metric, ascending=False).groupby("where").head(papers_per_place)
    keep = pd.concat([t[t["source"] == "this course"], lbp, best])
    return keep[~keep.index.duplicated()].sort_values(["where", "source", metric], ascending=[True, False, False])


def course_status(root: str | os.PathLike | None = None, run_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per course notebook: whether its metrics were recorded (``mer_utils.record``; in ``run_dir``
    or the default metrics folder) and how many complete / unfinished runs it has in the result store."""
    from .course import list_notebooks

    recorded = load_notebook_metrics(run_dir)
    runs = load_results(root)
    rows = []
    for nb in list_notebooks():
        mine = runs[runs["notebook"] == nb.stem]
        rec = recorded[recorded["notebook"] == nb.stem]
        rows.append({"notebook": nb.stem, "metrics recorded": not rec.empty,
                     "recorded at": rec["recorded_at"].iloc[0] if len(rec) else None,
                     "complete runs": int(mine["complete"].sum()), "unfinished runs": int((~mine["complete"]).sum())})
    return pd.DataFrame(rows, columns=["notebook", "metrics recorded", "recorded at", "complete runs",
                                       "unfinished runs"])
