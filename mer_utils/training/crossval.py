"""The cross-validation runner: :func:`cross_validate` runs a method over the folds of a subject-wise split and
stores per-fold predictions, checkpoints and metrics in the result store as it goes (a re-run resumes finished
folds; changed parameters give a fresh folder); :func:`load_fold_tables` reads a run's per-fold tables back."""
from __future__ import annotations

import hashlib
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import evaluation, results
from .adapters import FoldOutput, as_fold_output, as_method
from .dataset import ClipDataset, as_table, check_fold, class_names_from, fold_seed


@dataclass
class CVResult:
    """What :func:`cross_validate` returns."""

    predictions: pd.DataFrame
    metrics: dict
    run_dir: Path
    class_names: list
    histories: dict
    timings: dict
    computed: list
    resumed: list

    def table(self, per_fold: bool = True) -> pd.DataFrame:
        """Pooled, per-dataset and (labelled) per-fold-mean metrics as a table (each dataset scored against the
        classes it can have under the protocol, ``metrics["per_dataset_labels"]``)."""
        return evaluation.metrics_table(self.predictions, len(self.class_names), per_fold=per_fold,
                                        dataset_labels=self.metrics.get("per_dataset_labels"))

    def __repr__(self) -> str:
        p = self.metrics.get("pooled", {})
        return (f"CVResult({len(self.predictions)} clips, {len(self.computed) + len(self.resumed)} folds "
                f"[{len(self.resumed)} resumed], pooled UF1={p.get('uf1', float('nan')):.3f} "
                f"UAR={p.get('uar', float('nan')):.3f} WAR={p.get('war', float('nan')):.3f}, {self.run_dir})")


def protocol_dataset_labels(protocol: str, class_names: Sequence[str] | None) -> dict[str, tuple[int, ...]] | None:
    """The datasets of a registered protocol that cannot have every class, with the labels they can have
    (:attr:`mer_utils.data.Protocol.dataset_labels`; e.g. SMIC in ``she2020_4class`` has no "others"), for
    per-dataset scores; ``None`` when the protocol is not registered, its classes differ from ``class_names``,
    or every dataset can have every class."""
    from ..data.protocols import PROTOCOLS

    proto = PROTOCOLS.get(str(protocol).split()[0]) if protocol else None
    if proto is None or (class_names is not None and list(class_names) != list(proto.classes)):
        return None
    own = {ds: labs for ds, labs in proto.dataset_labels.items() if len(labs) < len(proto.classes)}
    return own or None


def _fold_dirname(i: int, name: str) -> str:
    return f"{i:03d}_{re.sub(r'[^A-Za-z0-9._-]+', '_', str(name))[:60]}"


def _sha1(values) -> str:
    return hashlib.sha1("\n".join(map(str, values)).encode()).hexdigest()[:16]


#: Arrays up to this size are hashed in full for the run's identity; larger ones by a strided sample of rows.
FULL_HASH_BYTES = 256 * 2**20


def inputs_fingerprint(data: Any) -> str | None:
    """A hash of a :class:`ClipDataset`'s in-memory inputs (shape, dtype and bytes), so that other features
    give another result folder even when the parameters forget to say so. Arrays over
    :data:`FULL_HASH_BYTES` are hashed by shape, dtype and every k-th row (k chosen to read about that
    much). Lazily loaded inputs (a callable) and bare tables give ``None``: describe them in ``params``."""
    if not isinstance(data, ClipDataset) or data._arrays is None:
        return None
    h = hashlib.sha1()
    for a in data._arrays:
        a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
        h.update(f"{a.shape}|{a.dtype}|".encode())
        step = max(1, int(np.ceil(a.nbytes / FULL_HASH_BYTES))) if a.nbytes > FULL_HASH_BYTES else 1
        for row in range(0, len(a), step):
            h.update(np.ascontiguousarray(a[row]).tobytes())
    return h.hexdigest()[:16]


def cross_validate(method: Any, data: ClipDataset | pd.DataFrame, folds: Sequence[Any], *, notebook: str,
                   dataset: str, protocol: str, method_name: str, params: Mapping[str, Any] | None = None,
                   class_names: Sequence[str] | None = None, seed: int = 0, device: Any = "auto",
                   data_source: str | None = None, subject_wise: bool = True, root: str | os.PathLike | None = None,
                   progress: bool = True, max_folds: int | None = None, executor: str | None = None) -> CVResult:
    """Run ``method`` on every fold; return pooled predictions and metrics; store everything as it goes.

    Parameters
    ----------
    method : TorchMethod | SklearnMethod | sklearn estimator | callable ``fit_predict(fold, train_idx, test_idx, fold_dir)``
    data : ClipDataset, or the prepared table alone for a callable method (``clip_uid, subject_uid, dataset, label``).
    folds : ``Fold(name, train, test)`` objects from ``mer_utils.data`` splits (positional indices into the table).
    notebook, dataset, protocol : keys of the result folder (``dataset`` names the composite, e.g. ``megc2019``).
    method_name : display name (``"LBP-TOP + linear SVM"``) used in tables and plots.
    params : further settings that change the result (profile values, preprocessing...); everything that
        identifies the run — these, the method's description, the data (clip ids, labels and a hash of
        in-memory inputs, :func:`inputs_fingerprint`), the folds, ``seed``, ``data_source`` — is hashed into
        the folder name, so changed settings start a fresh folder. Lazily loaded inputs cannot be hashed:
        describe them (recipe, parameters) in ``params``.
    class_names : the protocol's full class list (metrics count every class); default from the table.
    data_source : what the run read (``"synthetic/quick"``, a ``DATA_ROOT``), shown by the comparison notebook.
    subject_wise : check that no subject is on both sides of a fold (set False only to reproduce a paper's
        subject-overlapping split such as Reddy et al.'s 80/20; it is recorded).
    max_folds : run only the first ``max_folds`` folds (tiny profiles); the folder records which.

    executor : where the folds run (:mod:`mer_utils.executor`): ``"local"`` (one after another here), ``"ray"``
        (Ray tasks on this machine: one GPU each, or one CPU core without CUDA), ``"auto"`` / ``"ray://HOST:PORT"``
        (an existing Ray cluster); default ``$MER_EXECUTOR``, else local. The folder, the fold files, the resume
        and the predictions are the same whatever the executor (each fold has its own seed).

    Resume: a fold whose ``fold.json`` exists is read back instead of recomputed (its test clips are
    checked). Each fold runs with its own seed (:func:`fold_seed`). Returns a :class:`CVResult`.
    """
    import torch
    from tqdm.auto import tqdm

    from ..device import resolve_device
    from ..executor import is_ray, resolve_executor

    executor = resolve_executor(executor)
    if is_ray(executor):  # fail before anything is written: Ray missing, cluster address unreachable
        from ..executor import preflight

        preflight(executor)
    meth = as_method(method)
    table = as_table(data)
    groups = table["subject_uid"].to_numpy()
    folds = list(folds)[: max_folds] if max_folds else list(folds)
    if not folds:
        raise ValueError("cross_validate: no folds given.")
    names = [str(f.name) for f in folds]
    if len(set(names)) != len(names):
        raise ValueError("cross_validate: fold names must be unique.")
    checked = [check_fold(f, groups, len(table), subject_wise) for f in folds]
    if class_names is None:
        class_names = data.class_names if isinstance(data, ClipDataset) else class_names_from(table)
    class_names = [str(c) for c in class_names]
    C = len(class_names)
    if table["label"].max() >= C or table["label"].min() < 0:
        raise ValueError(f"labels must be 0..{C - 1} for class_names={class_names}; table has "
                         f"{sorted(table['label'].unique())}.")
    dev = device if isinstance(device, torch.device) else resolve_device(device)

    identity = {
        "notebook": notebook, "dataset": dataset, "protocol": protocol, "method": method_name,
        "method_spec": meth.describe(), "params": dict(params or {}), "seed": int(seed),
        "class_names": class_names, "subject_wise": bool(subject_wise), "data_source": data_source,
        "data": {"n_clips": len(table), "clips_labels_sha1": _sha1(table["clip_uid"] + "=" + table["label"].astype(str)),
                 "inputs_sha1": inputs_fingerprint(data)},
        # the recipe, its version and its parameters' key when the table comes from preprocess.prepare
        # (or a notebook passed them): changing any of them gives a fresh run folder
        "preprocessing": _preprocessing_key(table, params),
        "folds": [{"name": n, "n_train": len(tr), "n_test": len(te), "test_sha1": _sha1(table["clip_uid"].to_numpy()[te])}
                  for n, (tr, te) in zip(names, checked)],
    }
    folder = results.run_dir(notebook, dataset, protocol, identity, root)
    pfile = folder / "params.json"
    if pfile.exists():
        stored = results.read_json(pfile)
        stored_id = {k: v for k, v in stored.items() if k not in ("created", "hash")}
        if results.canonical_json(stored_id) != results.canonical_json(identity):
            raise RuntimeError(f"{pfile} holds other parameters than this run (hash collision or edited file); "
                               "refusing to mix results. Move that folder away to recompute.")
    else:
        results.atomic_write_json(pfile, {**identity, "hash": folder.name, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
    if not (folder / "environment.json").exists():
        results.atomic_write_json(folder / "environment.json", results.environment_info(dev))

    preds, histories, seconds, computed, resumed = {}, {}, {}, [], []
    t_start = time.perf_counter()
    todo = []
    for i, (fold, (train_idx, test_idx)) in enumerate(zip(folds, checked)):
        fdir = folder / "folds" / _fold_dirname(i, fold.name)
        done = fdir / "fold.json"
        if done.exists():
            info, fp, problem = _read_finished_fold(fdir, table["clip_uid"].to_numpy()[test_idx], C)
            if problem is not None:
                aside = _set_aside(fdir)
                warnings.warn(f"{problem}: that fold is recomputed (the damaged files were kept in {aside}); the "
                              "other finished folds are reused.", DamagedRunWarning, stacklevel=2)
        if done.exists():
            seconds[fold.name] = info.get("seconds")
            if (fdir / "history.csv").exists():
                histories[fold.name] = pd.read_csv(fdir / "history.csv")
            resumed.append(fold.name)
            preds[fold.name] = fp
        else:
            todo.append((i, fold, train_idx, test_idx, fdir))
    bar = tqdm(total=len(folds), initial=len(resumed), desc=f"{method_name} | {protocol}", disable=not progress)

    def finished(name, fp, history, elapsed):
        preds[name], seconds[name] = fp, elapsed
        if history is not None and len(history):
            histories[name] = history
        computed.append(name)
        bar.update(1)
        if progress:
            allp = pd.concat(preds.values())
            bar.set_postfix(acc=f"{np.mean(allp['true'] == allp['pred']):.3f}")

    if is_ray(executor) and todo:
        from .distributed import run_folds_on_ray

        run_folds_on_ray(executor, meth, data, table, todo, seed, device, class_names, finished, folder)
    else:
        for i, fold, train_idx, test_idx, fdir in todo:
            finished(fold.name, *compute_fold(meth, data, table, i, fold, train_idx, test_idx, fdir, dev, seed,
                                              class_names, progress))
    bar.close()
    preds = [preds[f.name] for f in folds]  # fold order, whatever order they finished in
    computed = [f.name for f in folds if f.name in computed]
    histories = {f.name: histories[f.name] for f in folds if f.name in histories}
    seconds = {f.name: seconds[f.name] for f in folds}
    predictions = pd.concat(preds, ignore_index=True)
    metrics = evaluation.summarize(predictions, list(range(C)), per_fold=True,
                                   dataset_labels=protocol_dataset_labels(protocol, class_names))
    metrics["class_names"] = class_names
    timings = {"folds": seconds, "total_seconds": float(sum(v or 0 for v in seconds.values())),
               "this_call_seconds": time.perf_counter() - t_start, "computed": computed, "resumed": resumed}
    results.atomic_write_csv(folder / "predictions.csv", predictions)
    results.atomic_write_json(folder / "metrics.json", metrics)
    results.atomic_write_json(folder / "timings.json", timings)
    return CVResult(predictions, metrics, folder, class_names, histories, timings, computed, resumed)


def compute_fold(meth, data, table: pd.DataFrame, i: int, fold, train_idx, test_idx, fdir: Path, dev, seed: int,
                 class_names, progress: bool = False):
    """Run one fold (its own seed, :func:`fold_seed`) and write its files into ``fdir``, ``fold.json`` last;
    return ``(predictions, history, seconds)``. The same code runs here and inside a Ray task."""
    from ..device import seed_everything

    fdir.mkdir(parents=True, exist_ok=True)
    s = fold_seed(seed, fold.name)
    seed_everything(s)
    t0 = time.perf_counter()
    out = as_fold_output(meth.run_fold(data, fold, train_idx, test_idx, fdir, dev, s, progress), len(test_idx))
    elapsed = time.perf_counter() - t0
    fp = _fold_predictions(table, fold.name, test_idx, out, class_names)
    results.atomic_write_csv(fdir / "predictions.csv", fp)
    if out.history is not None and len(out.history):
        results.atomic_write_csv(fdir / "history.csv", out.history)
    for tname, t in out.tables.items():
        results.atomic_write_csv(fdir / f"{tname}.csv", t)
    results.atomic_write_json(fdir / "fold.json", {"name": fold.name, "index": i, "seed": s, "n_train": len(train_idx),
                                                   "n_test": len(test_idx), "seconds": elapsed, "device": str(dev),
                                                   "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return fp, out.history, elapsed


def _preprocessing_key(table: pd.DataFrame, params: Mapping | None):
    """The preprocessing that made the inputs: ``table.attrs["preprocessing"]`` (set by ``prepare``), else a
    ``"preprocessing"`` entry of ``params``; ``None`` when neither says (inputs given directly)."""
    found = (table.attrs or {}).get("preprocessing")
    if found is None and isinstance(params, Mapping):
        found = params.get("preprocessing")
    return found


class DamagedRunWarning(UserWarning):
    """A finished fold's files were damaged (truncated, empty, unreadable): the fold is recomputed."""


def _read_finished_fold(fdir: Path, test_uids, n_classes: int):
    """``(info, predictions, problem)`` of a finished fold; ``problem`` names the damaged file, else ``None``.

    A fold whose predictions are readable but hold **other clips** (the same number, different ids) is not
    damage but a different run in this folder: that raises instead of being overwritten.
    """
    done, pfile = fdir / "fold.json", fdir / "predictions.csv"
    try:
        info = results.read_json(done)
        if not isinstance(info, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as err:
        return None, None, f"{done} is damaged ({err})"
    try:
        fp = results.read_predictions(pfile)
    except FileNotFoundError:
        return info, None, f"{pfile} is missing beside {done.name}"
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        return info, None, f"{pfile} is unreadable ({type(err).__name__}: {str(err)[:120]})"
    needed = {"clip_uid", "true", "pred"}
    if not needed <= set(fp.columns):
        return info, None, f"{pfile} lacks the columns {sorted(needed - set(fp.columns))} (truncated?)"
    got, want = [str(u) for u in fp["clip_uid"]], [str(u) for u in test_uids]
    if got != want:
        if len(got) < len(want) and got == want[:len(got)]:
            return info, None, f"{pfile} is truncated ({len(got)} of {len(want)} test clips)"
        if len(got) == len(want) and set(got) != set(want):
            raise RuntimeError(f"{pfile}: this finished fold holds predictions for other clips than the fold "
                               f"expects (e.g. {got[0]!r} instead of {want[0]!r}): another run's files in this "
                               f"folder? Refusing to overwrite them; move {fdir} away to recompute that fold.")
        return info, None, f"{pfile} does not match the fold's test clips ({len(got)} rows for {len(want)} clips)"
    pred = pd.to_numeric(fp["pred"], errors="coerce")
    if pred.isna().any() or (pred < 0).any() or (pred >= n_classes).any():
        return info, None, f"{pfile} holds unreadable or out-of-range predictions"
    return info, fp, None


def _set_aside(fdir: Path) -> Path:
    """Move a damaged fold folder to ``<run>/damaged/<fold>-<stamp>`` (outside ``folds/``, so nothing reads it
    as a fold; never delete what a run wrote)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = fdir.parent.parent / "damaged"
    base.mkdir(exist_ok=True)
    aside, k = base / f"{fdir.name}-{stamp}", 1
    while aside.exists():
        aside, k = base / f"{fdir.name}-{stamp}-{k}", k + 1
    fdir.rename(aside)
    return aside


def _fold_predictions(table: pd.DataFrame, fold_name: str, test_idx, out: FoldOutput, class_names) -> pd.DataFrame:
    rows = table.iloc[test_idx]
    C = len(class_names)
    pred = out.pred.astype(int)
    if pred.min(initial=0) < 0 or pred.max(initial=0) >= C:
        raise ValueError(f"fold {fold_name!r}: predicted labels outside 0..{C - 1}.")
    fp = pd.DataFrame({"clip_uid": rows["clip_uid"].to_numpy(), "subject_uid": rows["subject_uid"].to_numpy()})
    if "subject" in rows.columns:
        fp["subject"] = rows["subject"].to_numpy()
    fp["dataset"] = rows["dataset"].to_numpy()
    fp["fold"] = str(fold_name)
    fp["true"] = rows["label"].to_numpy().astype(int)
    fp["pred"] = pred
    fp["true_name"] = [class_names[i] for i in fp["true"]]
    fp["pred_name"] = [class_names[i] for i in pred]
    if out.scores is not None:
        if out.scores.shape[1] != C:
            raise ValueError(f"fold {fold_name!r}: scores have {out.scores.shape[1]} columns for {C} classes.")
        for k in range(C):
            fp[f"score_{k}"] = out.scores[:, k]
    return fp


def load_fold_tables(run: CVResult | str | os.PathLike, name: str = "test_epochs") -> dict[str, pd.DataFrame]:
    """Per-fold extra tables of a run (e.g. ``test_epochs`` written by ``TorchMethod(track_test=True)``),
    keyed by fold name."""
    folder = run.run_dir if isinstance(run, CVResult) else Path(run)
    out = {}
    for fdir in sorted((folder / "folds").glob("*")):
        f, info = fdir / f"{name}.csv", fdir / "fold.json"
        if f.exists() and info.exists():
            out[results.read_json(info)["name"]] = pd.read_csv(f)
    return out
