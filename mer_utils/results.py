"""The result store: one folder per (notebook, dataset, protocol, parameters hash) under
:func:`mer_utils.paths.results_root`::

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

The papers' reported numbers, and the comparison of these runs with them, are in :mod:`mer_utils.paper_tables`.
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
    text = f"{text} ({size})" if size and "synthetic" in kinds else text
    fallbacks = [v.get("fallback") for v in sources.values()] if isinstance(sources, Mapping) and sources \
        else [attrs.get("fallback")]
    if any(fallbacks):
        text += " — fallback: licensed data not found"
    return text


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
