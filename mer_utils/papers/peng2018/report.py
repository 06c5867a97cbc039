"""Peng et al. 2018's scores and tables beside a run: HDE and CDE scores, Table I (:func:`table_i`), Table IV
(:func:`compare_hde`), Tables V-VII (:func:`compare_cde`), the confusion matrices of Tables II-III
(:func:`plot_confusions_vs_paper`), the ablation (:func:`ablation_table`) and the notebook's figures."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .augment import MACRO_AUGMENT, PengAugment
from .macro import OBJECTIVE_CLASSES
from .pipeline import PROFILES


def confusion_percent(predictions, classes: Sequence[str] = OBJECTIVE_CLASSES, fold: str | None = None):
    """Row-normalised confusion matrix in percent (the paper's Tables II-III) as a DataFrame (rows = true)."""
    import pandas as pd

    from ...evaluation import confusion

    p = predictions if fold is None else predictions[predictions["fold"] == fold]
    if len(p) == 0:
        raise ValueError(f"confusion_percent: no predictions for fold {fold!r}.")
    m = confusion(p["true"].to_numpy(), p["pred"].to_numpy(), list(range(len(classes))), normalize="true") * 100
    return pd.DataFrame(m, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="pred"))


def hde_scores(cv) -> "pd.DataFrame":
    """WAR and UAR of each HDE fold and their mean (the paper's Table IV averages the two folds), plus the
    pooled score of both folds for reference."""
    import pandas as pd

    from ...evaluation import compute_metrics, per_fold_metrics

    k = len(cv.class_names)
    pf = per_fold_metrics(cv.predictions, k)[["fold", "war", "uar", "uf1", "n"]]
    mean = {"fold": "mean of the two folds (Table IV)", **pf[["war", "uar", "uf1"]].mean().to_dict(), "n": pf["n"].sum()}
    pooled = {"fold": "pooled (both folds)", **compute_metrics(cv.predictions["true"], cv.predictions["pred"],
                                                               list(range(k)))}
    return pd.concat([pf, pd.DataFrame([mean, pooled])[pf.columns]], ignore_index=True)


def _cde_design(runs, design):
    from collections.abc import Mapping

    if design is not None:
        return design
    return "separate" if isinstance(runs, Mapping) and ({"samm", "casme2"} & set(runs)) else "composite"


def cde_scores(runs, design: str | None = None) -> "pd.DataFrame":
    """Accuracy (WAR) and F1 (UF1) behind Tables V (SAMM), VI (CASME II) and VII (composite).

    ``runs``: ``{experiment: CVResult}`` of the three separate LOSO experiments (``design="separate"``, the
    paper's; :mod:`~.cde`), or the composite ``CVResult`` whose per-database scores stand in for Tables V-VI
    (``design="composite"``, MEGC 2019 practice). ``design=None`` infers it from ``runs``."""
    from .cde import cde_scores as scores

    return scores(runs, _cde_design(runs, design))


PAPER_METHOD = "ResNet-10 (ImageNet -> macro -> micro)"


def table_i(table) -> "pd.DataFrame":
    """Clips per objective class and dataset of this run beside the paper's Table I (from
    :data:`mer_utils.data.published.PROTOCOL_COUNTS`)."""
    import pandas as pd

    from ...data.published import PROTOCOL_COUNTS

    rows = []
    for ds in ("casme2", "samm"):
        part = table[table["dataset"] == ds]
        counts = part["label_name"].value_counts()
        paper = PROTOCOL_COUNTS["megc2018_objective"][ds]
        rows.append({"dataset": ds, "source": "paper (Table I)", **paper["classes"], "total": paper["clips"],
                     "subjects": paper["subjects"]})
        rows.append({"dataset": ds, "source": "this run", **{c: int(counts.get(c, 0)) for c in OBJECTIVE_CLASSES},
                     "total": len(part), "subjects": part["subject_uid"].nunique()})
    return pd.DataFrame(rows).set_index(["dataset", "source"])


def compare_hde(runs) -> "pd.DataFrame":
    """Table IV: mean WAR / UAR of the two HDE folds for the paper's rows and for each run in ``runs``
    (``{label: CVResult}``), plus each fold's WAR / UAR (the paper's Sec. IV-A text)."""
    import pandas as pd

    from ...paper_tables import paper_table

    paper = paper_table("peng2018", "IV").pivot_table(index="method", columns="metric", values="value", sort=False)
    folds = paper_table("peng2018", "hde_folds").pivot_table(index="dataset", columns="metric", values="value")
    rows = [{"method": m, "source": "paper", "WAR": r["war"], "UAR": r["uar"]} for m, r in paper.iterrows()]
    for m in rows:
        if m["method"] == PAPER_METHOD:
            for d, key in (("casme2->samm", "CASME II -> SAMM"), ("samm->casme2", "SAMM -> CASME II")):
                m[f"WAR {key}"], m[f"UAR {key}"] = folds.loc[d, "war"], folds.loc[d, "uar"]
    for label, cv in runs.items():
        sc = hde_scores(cv).set_index("fold")
        row = {"method": label, "source": "this run", "WAR": sc.loc["mean of the two folds (Table IV)", "war"],
               "UAR": sc.loc["mean of the two folds (Table IV)", "uar"]}
        for fold in sc.index[:2]:
            key = "CASME II -> SAMM" if fold.startswith("train casme2") else "SAMM -> CASME II"
            row[f"WAR {key}"], row[f"UAR {key}"] = sc.loc[fold, "war"], sc.loc[fold, "uar"]
        rows.append(row)
    return pd.DataFrame(rows).set_index(["method", "source"])


def compare_cde(runs, design: str | None = None) -> "pd.DataFrame":
    """Tables V (SAMM), VI (CASME II) and VII (composite): accuracy and F1 of the paper's rows and of each
    run in ``runs`` (``{label: {experiment: CVResult}}`` or ``{label: composite CVResult}``, see
    :func:`cde_scores`), with the clips and folds each score comes from; this run's F1 is UF1 (macro F1), the
    paper does not say which."""
    import pandas as pd

    from ...paper_tables import paper_table
    from .cde import CDE_TABLES, PAPER_CDE_FOLDS, PAPER_CDE_FRACTIONS

    rows = []
    for tid, ds in CDE_TABLES.items():
        p = paper_table("peng2018", tid).pivot_table(index="method", columns="metric", values="value", sort=False)
        for m, r in p.iterrows():
            k, n = PAPER_CDE_FRACTIONS[ds] if m == PAPER_METHOD else (None, None)
            rows.append({"table": tid, "dataset": ds, "method": m, "source": "paper", "accuracy": r["war"],
                         "F1": r["f1"], "clips": n, "folds": PAPER_CDE_FOLDS[ds] if m == PAPER_METHOD else None,
                         "scored on": f"{k}/{n} clips, its own LOSO run" if k else None})
        for label, run in runs.items():
            sc = cde_scores(run, design).set_index("dataset")
            if ds in sc.index:
                rows.append({"table": tid, "dataset": ds, "method": label, "source": "this run",
                             "accuracy": sc.loc[ds, "war"], "F1": sc.loc[ds, "uf1"], "clips": int(sc.loc[ds, "n"]),
                             "folds": sc.loc[ds, "folds"], "scored on": sc.loc[ds, "scored on"]})
    return pd.DataFrame(rows).set_index(["table", "dataset", "method", "source"])


def settings_vs_paper(settings) -> "pd.DataFrame":
    """This run's settings beside the paper's (``PROFILES['full']``), with a flag where they differ."""
    import pandas as pd

    s = settings if isinstance(settings, dict) else vars(settings)
    full = PROFILES["full"]
    return pd.DataFrame([{"setting": k, "paper (full)": repr(full[k]), "this run": repr(s[k]),
                          "differs": s[k] != full[k]} for k in full]).set_index("setting")


def upright_labels(ax):
    """Horizontal y tick labels (roman class names read badly when rotated); returns ``ax``."""
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    return ax


def plot_confusions_vs_paper(runs, axes=None):
    """Tables II and III as heatmaps: the paper's row-% confusion of each HDE fold above this run's."""
    import matplotlib.pyplot as plt

    from ...plots import plot_confusion
    from ...paper_tables import paper_table

    labels = list(runs)
    if axes is None:
        _, axes = plt.subplots(1 + len(labels), 2, figsize=(9, 4 * (1 + len(labels))))
    axes = np.atleast_2d(axes)
    for j, (tid, fold_prefix) in enumerate((("II", "train casme2"), ("III", "train samm"))):
        upright_labels(plot_confusion(paper_table("peng2018", tid).to_numpy() * 100, list(OBJECTIVE_CLASSES),
                                      normalize="true", ax=axes[0, j], fmt=".0f", title=f"paper, Table {tid}"))
        for i, label in enumerate(labels, start=1):
            p = runs[label].predictions
            p = p[p["fold"].str.startswith(fold_prefix)]
            upright_labels(plot_confusion(p, list(OBJECTIVE_CLASSES), normalize="true", ax=axes[i, j],
                                          title=f"{label}: {p['fold'].iloc[0]}"))
    plt.tight_layout()
    return axes


def plot_examples(images: np.ndarray, labels: Sequence[int], classes: Sequence[str] = OBJECTIVE_CLASSES,
                  per_class: int = 6, title: str | None = None):
    """A grid of the first ``per_class`` grey images of each class (one row per class)."""
    import matplotlib.pyplot as plt

    labels = np.asarray(labels)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.3 * per_class, 1.4 * len(classes)), squeeze=False)
    for r, name in enumerate(classes):
        idx = np.flatnonzero(labels == r)[:per_class]
        for c in range(per_class):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(idx):
                ax.imshow(images[idx[c]], cmap="gray", vmin=0, vmax=255)
        axes[r, 0].set_title(f"class {name}", fontsize=8, loc="left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes


def augmentation_examples(image: np.ndarray, n: int = 5, seed: int = 0, crop: int | None = None) -> dict:
    """``{name: image}``: the original, ``n`` draws of the macro-stage augmentation (Sec. III-B), one of each
    transformation alone at its maximum probability, and (``crop``) the four CDE corner crops of the image."""
    rng = np.random.default_rng(seed)
    out = {"original": image}
    for k in range(n):
        out[f"macro aug. {k + 1}"] = MACRO_AUGMENT(image, rng=rng, batch=False)
    out["colour shift only"] = PengAugment(20, 0, 0, 1.0)(image, rng=rng, batch=False)
    out["rotation only"] = PengAugment(0, 10, 0, 1.0)(image, rng=rng, batch=False)
    out["smoothing only"] = PengAugment(0, 0, 6, 1.0)(image, rng=rng, batch=False)
    if crop is not None:
        h, w = image.shape[:2]
        for name, (t, l) in {"crop top-left": (0, 0), "crop top-right": (0, w - crop),
                             "crop bottom-left": (h - crop, 0), "crop bottom-right": (h - crop, w - crop)}.items():
            out[name] = image[t:t + crop, l:l + crop]
    return out


def plot_image_row(images: dict, size: float = 1.6, title: str | None = None):
    """Show ``{name: grey image}`` side by side (images may differ in size), names as titles."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size + 0.4), squeeze=False)
    for ax, (name, img) in zip(axes[0], images.items()):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(name, fontsize=7)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return axes[0]


def _fold_key(fold: str) -> str:
    """``'train casme2 / test samm'`` -> ``'casme2_to_samm'``."""
    parts = fold.replace("train ", "").replace("test ", "").split(" / ")
    return "_to_".join(p.strip() for p in parts)


def hde_metrics(cv) -> dict:
    """HDE numbers to record: mean WAR / UAR / UF1 of the two folds and each fold's WAR / UAR."""
    sc = hde_scores(cv)
    out = {k: float(sc[k].iloc[2]) for k in ("war", "uar", "uf1")}
    for _, r in sc.iloc[:2].iterrows():
        key = _fold_key(r["fold"])
        out[f"war_{key}"], out[f"uar_{key}"] = float(r["war"]), float(r["uar"])
    return out


def cde_metrics(runs, design: str | None = None) -> dict:
    """CDE numbers to record: accuracy, F1 (UF1), clips and folds per dataset and for the composite (``runs`` as in
    :func:`cde_scores`)."""
    return {r["dataset"]: {"accuracy": float(r["war"]), "f1": float(r["uf1"]), "n": int(r["n"]),
                           "folds": None if r["folds"] is None else int(r["folds"])}
            for _, r in cde_scores(runs, design).iterrows()}


def ablation_table(hde: dict, cde: dict) -> "pd.DataFrame":
    """WAR / UAR / UF1 of every HDE run (mean of the two folds) and CDE run (composite), one row per training."""
    import pandas as pd

    rows = [{"task": "HDE (mean of the two folds)", "training": k, **{m.upper(): v for m, v in hde_metrics(cv).items()
                                                                      if m in ("war", "uar", "uf1")}}
            for k, cv in hde.items()]
    rows += [{"task": "CDE (composite, pooled)", "training": k,
              **{m.upper(): cv.metrics["pooled"][m] for m in ("war", "uar", "uf1")}} for k, cv in cde.items()]
    return pd.DataFrame(rows).set_index(["task", "training"])


# ==================================================================================================
# Results with their yardsticks, and the paper's claims (issue 17)
# ==================================================================================================
def run_summaries(runs, control, protocol: str, labels=5) -> dict:
    """:func:`mer_utils.evaluation.result_summary` of every run (``{name: CVResult}``) with the positive
    control's predictions on the same folds; ``{name: summary}`` for :func:`~mer_utils.evaluation.summary_table`."""
    from ...evaluation import result_summary

    return {name: result_summary(cv.predictions, labels, control=control, protocol=protocol)
            for name, cv in runs.items()}


#: The paper's claims the notebook tests: (claim, task, method run, ablation run), each "method beats ablation".
CLAIMS = (("transfer (macro -> micro) beats training from scratch", "HDE", "macro -> micro", "micro only (scratch)"),
          ("transfer (macro -> micro) beats training from scratch", "CDE", "macro -> micro", "micro only (scratch)"))


def claims_table(runs_by_task, labels=5, claims=CLAIMS) -> "pd.DataFrame":
    """One :func:`~mer_utils.evaluation.claim_row` per claim: the task, both runs' pooled UAR, their difference,
    its paired subject-bootstrap 95% interval and the verdict (reproduced / reversed / not resolved at this size);
    ``ci95`` keeps the interval as numbers (drop it to show the table). ``runs_by_task`` =
    ``{"HDE": {name: CVResult}, ...}``; claims whose runs are missing are skipped."""
    import pandas as pd

    from ...evaluation import claim_row

    rows = [claim_row(claim, runs_by_task[task][a], runs_by_task[task][b], labels, keep_interval=True, task=task)
            for claim, task, a, b in claims if {a, b} <= set(runs_by_task.get(task, {}))]
    return pd.DataFrame(rows)
