"""Metrics of micro-expression recognition: WAR, UAR, UF1, weighted F1 and confusion matrices.

Definitions (REFERENCE.md §2; Zhao et al. 2021, 003_*.txt, eq. 9–11; MEGC 2019 baseline practice):

* **WAR** (weighted average recall) = accuracy = ``sum_c TP_c / N``.
* **UAR** (unweighted average recall) = ``1/C * sum_c TP_c / N_c``.
* **UF1** (unweighted, i.e. macro F1) = ``1/C * sum_c 2 TP_c / (2 TP_c + FP_c + FN_c)``.
* **WF1** (weighted F1) = ``sum_c (N_c / N) * F1_c``.

Every function takes the **full list of class labels** so that a class absent from a fold (or from the
whole prediction set) still counts in the average as a zero instead of silently dropping out.

Pooling: under leave-one-subject-out (LOSO) the predictions of all folds are **pooled** and each metric is
computed once (:func:`pooled_metrics`). The mean of per-fold scores (:func:`per_fold_metrics`) is a
different, non-standard number — on LOSO most test subjects lack most classes — and is labelled as such.
Inside a composite (MEGC 2019) the per-dataset scores are computed from the same composite run
(:func:`per_dataset_metrics`).

A *predictions table* is the output of :func:`mer_utils.training.cross_validate`: one row per test clip
with at least the columns ``true`` and ``pred`` (integer labels), and ``fold``, ``dataset``,
``subject_uid`` for the grouped views.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

#: The metric names every function here returns, in display order.
METRICS = ("war", "uar", "uf1", "wf1")
#: Long names, for tables and plots.
METRIC_NAMES = {"war": "WAR (accuracy)", "uar": "UAR", "uf1": "UF1 (macro F1)", "wf1": "weighted F1"}
#: Label of the pooled scope in metric tables.
POOLED = "pooled"
#: Label of the per-fold mean, which is not the MEGC number.
PER_FOLD_MEAN = "per-fold mean (non-standard)"


def _as_labels(labels: Sequence[int] | int | None, *arrays: np.ndarray) -> np.ndarray:
    """The full label list: ``labels`` (a sequence, or a class count ``C`` -> ``0..C-1``), else the union seen."""
    if labels is None:
        seen = np.unique(np.concatenate([np.asarray(a).ravel() for a in arrays]))
        return seen
    if isinstance(labels, (int, np.integer)):
        if labels < 1:
            raise ValueError(f"labels: a class count must be >= 1, got {labels}.")
        return np.arange(int(labels))
    out = np.asarray(list(labels))
    if out.ndim != 1 or len(out) == 0:
        raise ValueError("labels: expected a non-empty 1-D list of class labels (e.g. [0, 1, 2]) or a class count.")
    if len(np.unique(out)) != len(out):
        raise ValueError(f"labels: duplicated class labels in {list(out)}.")
    return out


def _check_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length ({len(y_true)} vs {len(y_pred)}); "
                         "pass one prediction per clip.")
    return y_true, y_pred


def confusion(y_true, y_pred, labels: Sequence[int] | int | None = None, normalize: str | None = None) -> np.ndarray:
    """Confusion matrix ``M[i, j]`` = clips of true class ``labels[i]`` predicted as ``labels[j]``.

    Uses :func:`sklearn.metrics.confusion_matrix` with the full ``labels`` list, so the matrix is always
    ``C x C`` even when a class is absent. ``normalize`` = ``None`` (counts), ``"true"`` (rows sum to 1,
    as in Peng et al. Tables II–III when multiplied by 100), ``"pred"`` or ``"all"``; a row or column with
    no clips stays zero.
    """
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = _check_pair(y_true, y_pred)
    labs = _as_labels(labels, y_true, y_pred)
    cm = confusion_matrix(y_true, y_pred, labels=labs)
    if normalize is None:
        return cm
    if normalize not in ("true", "pred", "all"):
        raise ValueError(f"normalize={normalize!r}: expected None, 'true', 'pred' or 'all'.")
    cm = cm.astype(float)
    if normalize == "all":
        total = cm.sum()
        return cm / total if total else cm
    axis = 1 if normalize == "true" else 0
    sums = cm.sum(axis=axis, keepdims=True)
    return np.divide(cm, sums, out=np.zeros_like(cm), where=sums > 0)


def compute_metrics(y_true, y_pred, labels: Sequence[int] | int | None = None,
                    other_predictions: bool = False) -> dict[str, float]:
    """WAR, UAR, UF1 and weighted F1 of one set of predictions (plus ``n``, the number of clips).

    ``labels`` is the full class list (or the class count); classes missing from ``y_true`` still count
    (their recall and F1 are 0, scikit-learn's ``zero_division=0``), as MEGC requires. With
    ``labels=None`` only the classes seen in ``y_true`` or ``y_pred`` are used — avoid that for folds.
    ``other_predictions=True`` allows predicted labels outside ``labels`` (a dataset scored against its own
    classes inside a composite with more): such a prediction is an error for its true class and no class's
    false positive.

    >>> m = compute_metrics([0, 0, 1, 1], [0, 1, 1, 1], labels=[0, 1, 2])
    >>> round(m["war"], 3), round(m["uar"], 3), round(m["uf1"], 3)
    (0.75, 0.5, 0.489)
    """
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    y_true, y_pred = _check_pair(y_true, y_pred)
    labs = _as_labels(labels, y_true, y_pred)
    extra = np.setdiff1d(np.unique(np.concatenate([y_true, y_pred]) if not other_predictions else y_true), labs)
    if len(extra):
        raise ValueError(f"Predictions or truths contain labels {list(extra)} not in labels={list(labs)}; "
                         "pass the protocol's full class list.")
    if len(y_true) == 0:
        return {"war": float("nan"), "uar": float("nan"), "uf1": float("nan"), "wf1": float("nan"), "n": 0}
    return {
        "war": float(accuracy_score(y_true, y_pred)),
        "uar": float(recall_score(y_true, y_pred, labels=labs, average="macro", zero_division=0)),
        "uf1": float(f1_score(y_true, y_pred, labels=labs, average="macro", zero_division=0)),
        "wf1": float(f1_score(y_true, y_pred, labels=labs, average="weighted", zero_division=0)),
        "n": int(len(y_true)),
    }


def quick_scores(y_true, y_pred, num_classes: int) -> dict[str, float]:
    """WAR, UAR and UF1 from a NumPy confusion matrix (``bincount``) — the same numbers as
    :func:`compute_metrics` without scikit-learn's input validation, for per-epoch monitoring in loops."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    C = int(num_classes)
    if len(y_true) == 0:
        return {"war": float("nan"), "uar": float("nan"), "uf1": float("nan")}
    cm = np.bincount(y_true.astype(int) * C + y_pred.astype(int), minlength=C * C).reshape(C, C).astype(float)
    return {k: float(v) for k, v in _scores_from_confusions(cm).items()}


def _check_predictions(predictions: pd.DataFrame, needed: Iterable[str] = ("true", "pred")) -> None:
    if not isinstance(predictions, pd.DataFrame):
        raise TypeError(f"predictions: expected a pandas DataFrame (from cross_validate), got {type(predictions).__name__}.")
    missing = [c for c in needed if c not in predictions.columns]
    if missing:
        raise KeyError(f"predictions table lacks column(s) {missing}; it has {list(predictions.columns)}. "
                       "Use the table returned by mer_utils.training.cross_validate.")


def pooled_metrics(predictions: pd.DataFrame, labels: Sequence[int] | int | None = None) -> dict[str, float]:
    """Metrics of all folds' predictions pooled together (the MEGC / LOSO convention)."""
    _check_predictions(predictions)
    return compute_metrics(predictions["true"].to_numpy(), predictions["pred"].to_numpy(), labels)


def per_dataset_metrics(predictions: pd.DataFrame, labels: Sequence[int] | int | None = None,
                        dataset_labels: Mapping[str, Sequence[int]] | None = None) -> dict[str, dict]:
    """Metrics per dataset of a composite run (each dataset's clips pooled over all folds).

    As in MEGC 2019: the scores for SMIC, CASME II and SAMM come from the one composite run, not from
    separate runs. Every dataset is scored against the full class list, except those ``dataset_labels``
    names (``{dataset: labels it can have}``, e.g. :attr:`mer_utils.data.Protocol.dataset_labels`): SMIC in
    She et al.'s four classes has no "others", so its UAR / UF1 average over its three classes (against four,
    its UAR could not exceed 0.75). A prediction of a class the dataset cannot have is an error.
    """
    _check_predictions(predictions, ("true", "pred", "dataset"))
    labs = _as_labels(labels, predictions["true"], predictions["pred"])
    own = {str(k): np.asarray(v) for k, v in (dataset_labels or {}).items()}
    out = {}
    for ds, g in predictions.groupby("dataset", sort=True):
        ds_labs = own.get(str(ds), labs)
        out[str(ds)] = compute_metrics(g["true"].to_numpy(), g["pred"].to_numpy(), ds_labs,
                                       other_predictions=str(ds) in own)
    return out


def per_fold_metrics(predictions: pd.DataFrame, labels: Sequence[int] | int | None = None) -> pd.DataFrame:
    """One row of metrics per fold (each computed on that fold's test clips only, full class list).

    Their mean is **not** the pooled MEGC number: see :func:`fold_mean`. Folds keep their order of first
    appearance in ``predictions``.
    """
    _check_predictions(predictions, ("true", "pred", "fold"))
    labs = _as_labels(labels, predictions["true"], predictions["pred"])
    rows = []
    for fold, g in predictions.groupby("fold", sort=False):
        rows.append({"fold": fold, **compute_metrics(g["true"].to_numpy(), g["pred"].to_numpy(), labs)})
    return pd.DataFrame(rows, columns=["fold", *METRICS, "n"])


def fold_mean(per_fold: pd.DataFrame) -> dict[str, float]:
    """Unweighted mean of per-fold metrics (non-standard under LOSO; label it when shown)."""
    return {m: float(per_fold[m].mean()) for m in METRICS} | {"n_folds": int(len(per_fold))}


def summarize(predictions: pd.DataFrame, labels: Sequence[int] | int | None = None,
              per_fold: bool = True, dataset_labels: Mapping[str, Sequence[int]] | None = None) -> dict:
    """Everything a run reports, as a JSON-ready dict.

    ``{"pooled": {...}, "per_dataset": {ds: {...}}, "per_fold": [{fold, war, ...}, ...],
    "per_fold_mean": {...}, "labels": [...]}``; the per-fold entries are present only with ``per_fold=True``.
    ``per_dataset`` is filled when the table has a ``dataset`` column (one entry even for one dataset);
    ``dataset_labels``: see :func:`per_dataset_metrics`.
    """
    _check_predictions(predictions)
    labs = _as_labels(labels, predictions["true"], predictions["pred"])
    out: dict = {"labels": [int(x) if np.issubdtype(type(x), np.integer) else x for x in labs.tolist()],
                 "pooled": pooled_metrics(predictions, labs)}
    if "dataset" in predictions.columns:
        out["per_dataset"] = per_dataset_metrics(predictions, labs, dataset_labels)
        if dataset_labels:
            out["per_dataset_labels"] = {str(k): [int(x) for x in v] for k, v in dataset_labels.items()}
    if per_fold and "fold" in predictions.columns:
        pf = per_fold_metrics(predictions, labs)
        out["per_fold"] = pf.to_dict(orient="records")
        out["per_fold_mean"] = fold_mean(pf)
    return out


def metrics_table(predictions: pd.DataFrame, labels: Sequence[int] | int | None = None,
                  per_fold: bool = False, dataset_labels: Mapping[str, Sequence[int]] | None = None) -> pd.DataFrame:
    """A tidy table with one row per scope: ``pooled``, each dataset, and (optionally) the per-fold mean.

    The per-fold row is labelled ``"per-fold mean (non-standard)"`` so it is never mistaken for the
    pooled MEGC score.
    """
    s = summarize(predictions, labels, per_fold=per_fold, dataset_labels=dataset_labels)
    rows = [{"scope": POOLED, **s["pooled"]}]
    datasets = s.get("per_dataset", {})
    if len(datasets) > 1:
        own = s.get("per_dataset_labels", {})
        n_all = len(s["labels"])
        rows += [{"scope": ds if len(own.get(ds, s["labels"])) == n_all else f"{ds} ({len(own[ds])} classes)", **m}
                 for ds, m in datasets.items()]
    if per_fold and "per_fold_mean" in s:
        rows.append({"scope": PER_FOLD_MEAN, **{m: s["per_fold_mean"][m] for m in METRICS},
                     "n": int(len(predictions))})
    return pd.DataFrame(rows, columns=["scope", *METRICS, "n"]).set_index("scope")


def per_subject_accuracy(predictions: pd.DataFrame) -> pd.DataFrame:
    """Accuracy and clip count per test subject (``subject_uid``), sorted by subject."""
    _check_predictions(predictions, ("true", "pred", "subject_uid"))
    correct = predictions["true"].to_numpy() == predictions["pred"].to_numpy()
    g = pd.DataFrame({"subject_uid": predictions["subject_uid"].to_numpy(), "correct": correct})
    if "dataset" in predictions.columns:
        g["dataset"] = predictions["dataset"].to_numpy()
        out = g.groupby(["subject_uid", "dataset"], sort=True)["correct"].agg(["mean", "size"]).reset_index()
    else:
        out = g.groupby("subject_uid", sort=True)["correct"].agg(["mean", "size"]).reset_index()
    return out.rename(columns={"mean": "accuracy", "size": "n"})


def chance_level(y_true, labels: Sequence[int] | int | None = None) -> dict[str, float]:
    """Scores of a predictor that always answers the majority class: WAR, UAR, UF1 of that baseline.

    The honest floor to read metrics against on imbalanced data (UAR of any constant predictor is 1/C).
    """
    y_true = np.asarray(y_true).ravel()
    labs = _as_labels(labels, y_true)
    values, counts = np.unique(y_true, return_counts=True)
    majority = values[np.argmax(counts)]
    return compute_metrics(y_true, np.full_like(y_true, majority), labs)


def best_epoch_on_test(epoch_predictions: Mapping[str, pd.DataFrame], labels: Sequence[int] | int | None = None,
                       metric: str = "war") -> tuple[pd.DataFrame, pd.Series]:
    """**The leak, on purpose**: per fold, keep the epoch whose *test* score is best, then pool.

    ``epoch_predictions`` maps fold name -> a table with columns ``epoch``, ``true``, ``pred`` (the test
    subject's predictions after every epoch). Public code for AMAN and the 3D-CNN selects epochs this way
    (REFERENCE.md §2); the result is optimistic even when the labels carry no information. Returns the
    pooled predictions of the chosen epochs (with ``fold``) and the chosen epoch per fold. Use it only to
    show the bias next to an honest protocol (last epoch, or selection on training subjects).
    """
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r}: expected one of {METRICS}.")
    chosen, epochs = [], {}
    for fold, table in epoch_predictions.items():
        _check_predictions(table, ("epoch", "true", "pred"))
        labs = _as_labels(labels, table["true"], table["pred"])
        scores = {e: compute_metrics(g["true"], g["pred"], labs)[metric] for e, g in table.groupby("epoch")}
        best = max(scores, key=lambda e: (scores[e], -e))  # earliest among ties
        epochs[fold] = best
        chosen.append(table[table["epoch"] == best].assign(fold=fold))
    return pd.concat(chosen, ignore_index=True), pd.Series(epochs, name="chosen_epoch")


# --------------------------------------------------------------------------------------------------
# Results a reader can trust: pooled scores with their yardsticks and a subject-bootstrap interval
# --------------------------------------------------------------------------------------------------
def _subject_confusions(predictions: pd.DataFrame, labs: np.ndarray) -> np.ndarray:
    """One confusion matrix per subject (``subject_uid``, in sorted order), shape (S, C, C)."""
    C = len(labs)
    index = {int(l): i for i, l in enumerate(labs)}
    y_true = np.array([index[int(v)] for v in predictions["true"]], dtype=np.int64)
    y_pred = np.array([index[int(v)] for v in predictions["pred"]], dtype=np.int64)
    names, gi = np.unique(predictions["subject_uid"].astype(str).to_numpy(), return_inverse=True)
    flat = np.bincount(gi * C * C + y_true * C + y_pred, minlength=len(names) * C * C)
    return flat.reshape(len(names), C, C).astype(float)


def _subject_resamples(n_subjects: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, S)`` counts of each subject in each bootstrap replicate (S draws with replacement)."""
    S = int(n_subjects)
    return np.random.default_rng(seed).multinomial(S, np.full(S, 1.0 / S), size=int(n_boot)).astype(float)


def _scores_from_confusions(cm: np.ndarray) -> dict[str, np.ndarray]:
    """WAR, UAR, UF1 of a stack of confusion matrices (..., C, C): the formulas of the module docstring."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    n_true, n_pred = cm.sum(-1), cm.sum(-2)
    n = n_true.sum(-1)
    rec = np.divide(tp, n_true, out=np.zeros_like(tp), where=n_true > 0)
    denom = n_true + n_pred
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    war = np.divide(tp.sum(-1), n, out=np.full_like(n, np.nan), where=n > 0)
    return {"war": war, "uar": rec.mean(-1), "uf1": f1.mean(-1)}


def subject_bootstrap(predictions: pd.DataFrame, labels: Sequence[int] | int, n_boot: int = 2000,
                      seed: int = 0, level: float = 0.95) -> dict[str, list[float]]:
    """Percentile intervals of pooled WAR/UAR/UF1 when the **subjects** are resampled with replacement.

    Clips of one person are not independent (identity, recording session), so the unit of resampling is
    the subject (``subject_uid``), as in cluster bootstrap: each replicate draws S subjects from the S
    tested ones and pools all their clips. Vectorised: one confusion matrix per subject, replicates as
    multinomial subject counts times those matrices. Returns ``{"war": [lo, hi], "uar": ..., "uf1": ...}``.
    """
    _check_predictions(predictions, ("true", "pred", "subject_uid"))
    cms = _subject_confusions(predictions, _as_labels(labels))
    boot = np.einsum("bs,sij->bij", _subject_resamples(len(cms), n_boot, seed), cms)
    scores = _scores_from_confusions(boot)
    alpha = (1.0 - level) / 2.0
    return {k: [float(np.nanquantile(v, alpha)), float(np.nanquantile(v, 1.0 - alpha))] for k, v in scores.items()}


def majority_baseline(predictions: pd.DataFrame, labels: Sequence[int] | int) -> pd.DataFrame:
    """The majority-class baseline on the same folds: each fold predicts the most frequent label among the
    clips **not** in that fold (its training clips under cross-validation, where every clip is tested once).

    Returns a copy of ``predictions`` with ``pred`` replaced. Without a ``fold`` column the whole table's
    majority is used (say so: it then peeks at the test labels' distribution).
    """
    _check_predictions(predictions)
    labs = _as_labels(labels)
    out = predictions.copy()
    y = out["true"].to_numpy()
    if "fold" not in out.columns or out["fold"].nunique() < 2:
        values, counts = np.unique(y, return_counts=True)
        out["pred"] = values[np.argmax(counts)]
        return out
    folds = out["fold"].to_numpy()
    pred = np.empty_like(y)
    for f in np.unique(folds):
        train = y[folds != f]
        counts = np.array([(train == l).sum() for l in labs])
        pred[folds == f] = labs[int(np.argmax(counts))]
    out["pred"] = pred
    return out


def result_summary(predictions: pd.DataFrame, labels: Sequence[int] | int,
                   control: pd.DataFrame | None = None, n_boot: int = 2000, seed: int = 0,
                   protocol: str | None = None) -> dict:
    """Everything a results table needs for one pooled prediction set (MEGC practice: folds pooled).

    Keys: ``uar``, ``uf1``, ``war`` (pooled), ``uar_ci95``/``uf1_ci95``/``war_ci95`` (subject bootstrap,
    :func:`subject_bootstrap`), ``chance_uar`` (1/C: the UAR of any constant or random guess),
    ``majority_uar``/``majority_war`` (:func:`majority_baseline` on the same folds), ``control_uar`` and
    ``control_uar_ci95`` when ``control`` (a positive control's predictions on the same clips, e.g. flow +
    SVM) is given, ``n`` clips, ``n_subjects``, ``above_chance`` (the UAR interval's low end > chance), and
    ``protocol`` when given.
    """
    labs = _as_labels(labels)
    pooled = compute_metrics(predictions["true"], predictions["pred"], labs)
    ci = subject_bootstrap(predictions, labs, n_boot=n_boot, seed=seed)
    maj = majority_baseline(predictions, labs)
    maj_m = compute_metrics(maj["true"], maj["pred"], labs)
    out = {"uar": pooled["uar"], "uf1": pooled["uf1"], "war": pooled["war"],
           "uar_ci95": ci["uar"], "uf1_ci95": ci["uf1"], "war_ci95": ci["war"],
           "chance_uar": 1.0 / len(labs), "majority_uar": maj_m["uar"], "majority_war": maj_m["war"],
           "n": int(pooled["n"]), "n_subjects": int(predictions["subject_uid"].nunique())}
    if control is not None:
        missing = set(predictions["clip_uid"]) - set(control["clip_uid"]) if "clip_uid" in predictions and \
            "clip_uid" in control else set()
        if missing:
            raise ValueError(f"the control's predictions lack {len(missing)} of the clips (e.g. "
                             f"{sorted(missing)[:3]}); compute the control on the same protocol and folds.")
        ctrl = control[control["clip_uid"].isin(predictions["clip_uid"])] if "clip_uid" in control else control
        out["control_uar"] = compute_metrics(ctrl["true"], ctrl["pred"], labs)["uar"]
        out["control_uar_ci95"] = subject_bootstrap(ctrl, labs, n_boot=n_boot, seed=seed)["uar"]
    out["above_chance"] = bool(out["uar_ci95"][0] > out["chance_uar"])
    if protocol is not None:
        out = {"protocol": protocol, **out}
    return out


def summary_table(summaries: Mapping[str, dict]) -> pd.DataFrame:
    """One row per model: UAR [95% CI], UF1, WAR, chance, majority, control — the yardsticks side by side."""
    rows = []
    for name, s in summaries.items():
        rows.append({"model": name, "UAR": round(s["uar"], 3),
                     "UAR 95% CI (subjects)": f"[{s['uar_ci95'][0]:.3f}, {s['uar_ci95'][1]:.3f}]",
                     "UF1": round(s["uf1"], 3), "WAR": round(s["war"], 3),
                     "chance UAR": round(s["chance_uar"], 3), "majority UAR": round(s["majority_uar"], 3),
                     "majority WAR": round(s["majority_war"], 3),
                     "control UAR": round(s["control_uar"], 3) if "control_uar" in s else None,
                     "CI above chance": s["above_chance"]})
    return pd.DataFrame(rows).set_index("model")


def claim_verdict(effect_ci: Sequence[float], expected_sign: int = 1) -> str:
    """'reproduced' / 'reversed' / 'not resolved at this size' for a paper's claim, from the 95% interval of
    the effect (e.g. the paired subject-bootstrap interval of UAR(method) - UAR(ablation)): the interval
    excludes 0 on the claimed side, on the other side, or contains 0."""
    lo, hi = float(effect_ci[0]), float(effect_ci[1])
    if expected_sign < 0:
        lo, hi = -hi, -lo
    if lo > 0:
        return "reproduced"
    if hi < 0:
        return "reversed"
    return "not resolved at this size"


def paired_difference_ci(a: pd.DataFrame, b: pd.DataFrame, labels: Sequence[int] | int, metric: str = "uar",
                         n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> list[float]:
    """Interval of ``metric(a) - metric(b)`` for two prediction sets on the **same clips**, resampling
    subjects jointly (the same replicate for both), so the subject-to-subject spread cancels."""
    for t in (a, b):
        _check_predictions(t, ("true", "pred", "subject_uid", "clip_uid"))
    if set(a["clip_uid"]) != set(b["clip_uid"]):
        raise ValueError("paired_difference_ci needs predictions of the same clips (clip_uid) in both tables.")
    b = b.set_index("clip_uid").loc[a["clip_uid"]].reset_index()
    labs = _as_labels(labels)
    cm_a, cm_b = _subject_confusions(a, labs), _subject_confusions(b, labs)  # same subjects, same order
    counts = _subject_resamples(len(cm_a), n_boot, seed)  # one replicate for both
    diff = _scores_from_confusions(np.einsum("bs,sij->bij", counts, cm_a))[metric] \
        - _scores_from_confusions(np.einsum("bs,sij->bij", counts, cm_b))[metric]
    alpha = (1.0 - level) / 2.0
    return [float(np.nanquantile(diff, alpha)), float(np.nanquantile(diff, 1.0 - alpha))]


#: The key under which :func:`claim_row` keeps the interval as numbers (``keep_interval=True``), for records.
CLAIM_INTERVAL = "ci95"


def claim_columns(metric: str = "uar") -> list[str]:
    """The columns every claims table shows, after its description columns: ``claim``, the metric of the method
    and of its ablation (``"UAR (method)"``, ``"UAR (ablation)"``; the metric's name in capitals), their
    ``difference``, the ``"95% CI (paired, subjects)"`` of that difference and the ``verdict``."""
    name = metric.upper()
    return ["claim", f"{name} (method)", f"{name} (ablation)", "difference", "95% CI (paired, subjects)", "verdict"]


def claim_row(claim: str, a, b, labels: Sequence[int] | int, expected_sign: int = 1, metric: str = "uar",
              n_boot: int = 2000, seed: int = 0, keep_interval: bool = False, **extra) -> dict:
    """One row of a claims table (the one builder every notebook's claims table uses): the paper's ``claim``
    that the method's predictions ``a`` beat the ablation's ``b`` (or lose to them, ``expected_sign=-1``) on
    the same clips, with ``metric`` of each, the paired subject-bootstrap 95% interval of ``metric(a) -
    metric(b)`` (:func:`paired_difference_ci`) and the verdict (:func:`claim_verdict`: reproduced / reversed /
    not resolved at this size).

    ``a`` and ``b`` are prediction tables or objects with a ``predictions`` table (``CVResult``). ``b`` may
    instead be a number, a constant score such as chance (1/C): the interval is then ``a``'s own
    subject-bootstrap interval (:func:`subject_bootstrap`) minus that number.

    Keys: ``extra`` description columns first (e.g. ``protocol=...``, ``method=...``), then
    :func:`claim_columns` (scores and difference rounded to 3 decimals, the interval as text), and with
    ``keep_interval=True`` the unrounded interval ``[lo, hi]`` under :data:`CLAIM_INTERVAL` (``"ci95"``) for
    a notebook's record (drop it before showing the table)."""
    labs = _as_labels(labels)
    a = getattr(a, "predictions", a)
    if isinstance(b, (int, float, np.number)):
        lo, hi = (v - float(b) for v in subject_bootstrap(a, labs, n_boot=n_boot, seed=seed)[metric])
        score_b = float(b)
    else:
        b = getattr(b, "predictions", b)
        lo, hi = paired_difference_ci(a, b, labs, metric=metric, n_boot=n_boot, seed=seed)
        score_b = compute_metrics(b["true"], b["pred"], labs)[metric]
    score_a = compute_metrics(a["true"], a["pred"], labs)[metric]
    values = [claim, round(score_a, 3), round(score_b, 3), round(score_a - score_b, 3), f"[{lo:+.3f}, {hi:+.3f}]",
              claim_verdict([lo, hi], expected_sign)]
    row = {**extra, **dict(zip(claim_columns(metric), values))}
    if keep_interval:
        row[CLAIM_INTERVAL] = [float(lo), float(hi)]
    return row
