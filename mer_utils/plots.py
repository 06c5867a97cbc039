"""Plots shared by the notebooks: confusion matrices, per-subject accuracy, learning curves, t-SNE,
saliency maps, frame strips, pictures of the folds and the method comparison.

Every function draws into ``ax``/``axes`` when given (else a new figure) and returns the Axes, so a
notebook cell stays one line. Nothing here computes a metric itself: it calls :mod:`mer_utils.evaluation`.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import evaluation


def _axes(ax=None, figsize=(5, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


# ----------------------------------------------------------------------------------------- confusion
def plot_confusion(data: pd.DataFrame | np.ndarray, class_names: Sequence[str], normalize: str | None = "true",
                   ax=None, title: str | None = None, cmap: str = "Blues", fmt: str | None = None):
    """Seaborn heatmap of a confusion matrix (rows = true, columns = predicted).

    ``data`` is a predictions table (pooled over its folds, full class list) or a ``C x C`` matrix of
    counts. ``normalize="true"`` shows row percentages (as Peng et al. Tables II–III); ``None`` counts.
    """
    import seaborn as sns

    C = len(class_names)
    if isinstance(data, pd.DataFrame):
        evaluation._check_predictions(data)
        cm = evaluation.confusion(data["true"], data["pred"], list(range(C)), normalize=normalize)
    else:
        cm = np.asarray(data, dtype=float)
        if cm.shape != (C, C):
            raise ValueError(f"confusion matrix of shape {cm.shape} for {C} class names.")
        if normalize:
            sums = cm.sum(axis=1 if normalize == "true" else 0, keepdims=True)
            cm = np.divide(cm, sums, out=np.zeros_like(cm), where=sums > 0)
    values = cm * 100 if normalize else cm
    ax = _axes(ax, (1.1 * C + 2, 0.9 * C + 1.5))
    sns.heatmap(values, annot=True, fmt=fmt or (".0f" if normalize else "g"), cmap=cmap, cbar=False, square=True,
                xticklabels=class_names, yticklabels=class_names, ax=ax, vmin=0, vmax=100 if normalize else None)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or ("confusion matrix (row %)" if normalize else "confusion matrix (counts)"))
    return ax


# ----------------------------------------------------------------------------------------- per subject
def plot_per_subject_accuracy(predictions: pd.DataFrame, ax=None, chance: float | None = None, title: str | None = None):
    """Bar per test subject: accuracy on that subject's clips (bar label = clip count); dataset by colour."""
    import seaborn as sns

    acc = evaluation.per_subject_accuracy(predictions)
    ax = _axes(ax, (max(6, 0.28 * len(acc) + 2), 3.2))
    hue = "dataset" if "dataset" in acc.columns and acc["dataset"].nunique() > 1 else None
    sns.barplot(data=acc, x="subject_uid", y="accuracy", hue=hue, dodge=False, ax=ax)
    for patch, n in zip(ax.patches, acc["n"]):
        ax.annotate(str(n), (patch.get_x() + patch.get_width() / 2, patch.get_height()), ha="center",
                    va="bottom", fontsize=6)
    if chance is not None:
        ax.axhline(chance, color="k", ls="--", lw=1, label="chance")
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("test subject")
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    ax.set_title(title or "accuracy per test subject (numbers: clips)")
    return ax


# ----------------------------------------------------------------------------------------- learning curves
def plot_learning_curves(history: pd.DataFrame | Mapping[str, pd.DataFrame], metrics: Sequence[str] = ("loss", "acc"),
                         axes=None, title: str | None = None):
    """Per-epoch curves from :func:`mer_utils.training.fit` histories.

    One history: one line per set (``train``, ``val``, tracked sets such as ``test``). A dict of histories
    (one per fold): the mean over folds with a band of ±1 standard deviation. The selected epoch is marked.
    """
    import matplotlib.pyplot as plt

    hists = history if isinstance(history, Mapping) else {"run": history}
    hists = {k: v for k, v in hists.items() if v is not None and len(v)}
    if not hists:
        raise ValueError("plot_learning_curves: no history to plot.")
    if axes is None:
        _, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
        axes = axes[0]
    allh = pd.concat([h.assign(_fold=k) for k, h in hists.items()], ignore_index=True)
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        cols = [c for c in allh.columns if c.endswith(f"_{metric}")]
        for col in cols:
            g = allh.groupby("epoch")[col]
            mean, std = g.mean(), g.std().fillna(0)
            line, = ax.plot(mean.index, mean.values, label=col.rsplit("_", 1)[0])
            if len(hists) > 1:
                ax.fill_between(mean.index, mean - std, mean + std, alpha=0.15, color=line.get_color())
        if len(hists) == 1 and "selected" in allh.columns and allh["selected"].any():
            ax.axvline(int(allh.loc[allh["selected"].astype(bool), "epoch"].iloc[0]), color="grey", ls=":", lw=1,
                       label="selected epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend(fontsize=8)
    if title:
        np.atleast_1d(axes)[0].figure.suptitle(title)
    return axes


# ----------------------------------------------------------------------------------------- t-SNE
def tsne_embedding(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE (scikit-learn) of ``(N, D)`` features; perplexity capped below N for small sets."""
    from sklearn.manifold import TSNE

    X = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    if len(X) < 4:
        raise ValueError(f"t-SNE needs at least 4 samples, got {len(X)}.")
    perp = float(min(perplexity, max(2.0, (len(X) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed).fit_transform(X)


def plot_tsne(features: np.ndarray, labels: Sequence[int], class_names: Sequence[str] | None = None, seed: int = 0,
              perplexity: float = 30.0, ax=None, title: str | None = None, style: Sequence[Any] | None = None):
    """Scatter of the t-SNE embedding of ``features`` coloured by class (marker by ``style``, e.g. dataset)."""
    import seaborn as sns

    emb = tsne_embedding(features, seed, perplexity)
    labels = np.asarray(labels)
    names = [class_names[i] for i in labels] if class_names is not None else labels
    ax = _axes(ax, (5, 4.2))
    sns.scatterplot(x=emb[:, 0], y=emb[:, 1], hue=names, style=style, ax=ax, s=22,
                    hue_order=list(class_names) if class_names is not None else None)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or "t-SNE of features")
    ax.legend(fontsize=7, loc="best")
    return ax


# ----------------------------------------------------------------------------------------- saliency
def saliency_map(model, x, target: int | None = None, device: Any = "cpu"):
    """Gradient saliency (Simonyan et al. 2014; Reddy et al. 2019 Fig. 4): ``|d score_target / d input|``.

    ``x`` is one clip without the batch axis (a tensor, or a tuple for multi-input models); ``target``
    defaults to the predicted class. Returns a NumPy array of ``x``'s shape (a tuple for tuple inputs) and
    the target class.
    """
    import torch

    model = model.to(device).eval()
    xs = x if isinstance(x, (tuple, list)) else (x,)
    inputs = [torch.as_tensor(np.asarray(t) if not isinstance(t, torch.Tensor) else t).float().unsqueeze(0)
              .to(device).requires_grad_(True) for t in xs]
    out = model(*inputs)
    out = out[0] if isinstance(out, (tuple, list)) else out
    cls = int(out.argmax(1)) if target is None else int(target)
    model.zero_grad(set_to_none=True)
    out[0, cls].backward()
    sal = [t.grad.detach().abs()[0].cpu().numpy() for t in inputs]
    return (tuple(sal) if isinstance(x, (tuple, list)) else sal[0]), cls


def plot_saliency(frames: np.ndarray, saliency: np.ndarray, n: int = 6, axes=None, title: str | None = None,
                  alpha: float = 0.5):
    """Overlay saliency on ``n`` evenly spaced frames. ``frames`` ``(T, H, W)``; ``saliency`` the same
    shape (channel axes of size 1 or 3 are reduced by max). Colour scale shared over the frames."""
    import matplotlib.pyplot as plt

    frames, sal = np.squeeze(np.asarray(frames, dtype=float)), np.squeeze(np.asarray(saliency, dtype=float))
    if frames.shape != sal.shape:
        raise ValueError(f"frames {frames.shape} and saliency {sal.shape} must have the same (T, H, W) shape; "
                         "move the time axis first and drop channel axes.")
    if frames.ndim == 2:
        frames, sal = frames[None], sal[None]
    idx = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
    if axes is None:
        _, axes = plt.subplots(1, len(idx), figsize=(1.8 * len(idx), 2.1), squeeze=False)
        axes = axes[0]
    vmax = sal.max() or 1.0
    for ax, t in zip(axes, idx):
        ax.imshow(frames[t], cmap="gray")
        ax.imshow(sal[t], cmap="jet", alpha=alpha, vmin=0, vmax=vmax)
        ax.set_title(f"t={t}", fontsize=8)
        ax.axis("off")
    if title:
        axes[0].figure.suptitle(title)
    return axes


# ----------------------------------------------------------------------------------------- frames
def plot_frame_strip(frames: np.ndarray, n: int = 8, axes=None, titles: Sequence[str] | None = None,
                     title: str | None = None):
    """``n`` evenly spaced frames of a clip ``(T, H, W)`` or ``(T, H, W, 3)`` side by side."""
    import matplotlib.pyplot as plt

    frames = np.asarray(frames)
    if frames.ndim not in (3, 4):
        raise ValueError(f"frames: expected (T, H, W) or (T, H, W, 3), got {frames.shape}.")
    idx = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
    if axes is None:
        _, axes = plt.subplots(1, len(idx), figsize=(1.7 * len(idx), 2.0), squeeze=False)
        axes = axes[0]
    for k, (ax, t) in enumerate(zip(axes, idx)):
        ax.imshow(frames[t], cmap="gray" if frames.ndim == 3 else None)
        ax.set_title(titles[k] if titles else f"frame {t}", fontsize=8)
        ax.axis("off")
    if title:
        axes[0].figure.suptitle(title)
    return axes


# ----------------------------------------------------------------------------------------- folds
def plot_folds(table: pd.DataFrame, folds: Sequence[Any], ax=None, title: str | None = None, max_folds: int = 40):
    """Picture of a split: one row per fold, one column per subject; train / test / unused by colour.

    Subjects (``subject_uid``) are grouped by dataset, so a holdout-database split shows as two blocks and
    LOSO as a diagonal; a subject on both sides of a fold (a subject-overlapping split) shows in red.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    folds = list(folds)[:max_folds]
    order = table[["dataset", "subject_uid"]].drop_duplicates().sort_values(["dataset", "subject_uid"])
    subjects = order["subject_uid"].tolist()
    col = {s: i for i, s in enumerate(subjects)}
    grid = np.zeros((len(folds), len(subjects)), dtype=int)  # 0 unused, 1 train, 2 test, 3 both (leak)
    sub = table["subject_uid"].to_numpy()
    for r, f in enumerate(folds):
        for part, bit in ((f.train, 1), (f.test, 2)):
            cols = [col[s] for s in np.unique(sub[np.asarray(part, dtype=int)])]
            grid[r, cols] |= bit
    ax = _axes(ax, (max(6, 0.22 * len(subjects) + 2), max(2.5, 0.22 * len(folds) + 1.2)))
    cmap = ListedColormap(["#eeeeee", "#4c72b0", "#dd8452", "#c44e52"])
    ax.imshow(grid, aspect="auto", cmap=cmap, vmin=0, vmax=3, interpolation="nearest")
    ax.set_yticks(range(len(folds)))
    ax.set_yticklabels([str(f.name) for f in folds], fontsize=6)
    bounds = np.flatnonzero(order["dataset"].to_numpy()[1:] != order["dataset"].to_numpy()[:-1]) + 0.5
    for b in bounds:
        ax.axvline(b, color="k", lw=1)
    ticks = [np.mean(np.flatnonzero(order["dataset"].to_numpy() == d)) for d in order["dataset"].unique()]
    ax.set_xticks(ticks)
    ax.set_xticklabels(order["dataset"].unique(), fontsize=8)
    ax.set_xlabel(f"subjects ({len(subjects)}), grouped by dataset")
    ax.set_ylabel("fold")
    ax.legend(handles=[Patch(color="#4c72b0", label="train"), Patch(color="#dd8452", label="test"),
                       Patch(color="#eeeeee", label="unused")]
              + ([Patch(color="#c44e52", label="train AND test (leak)")] if (grid == 3).any() else []),
              loc="upper left", fontsize=7, bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title(title or "", loc="left")
    return ax


# ----------------------------------------------------------------------------------------- comparison
def plot_comparison(table: pd.DataFrame, metric: str = "uf1", ax=None, title: str | None = None):
    """Horizontal bars of ``metric`` per method (this course's runs) with the papers' numbers as markers.

    ``table`` has columns ``method``, ``where`` (protocol/dataset label), ``source`` (``"this course"`` or
    ``"paper"``), ``metric``'s column and optionally ``split`` (shown after the method); it is what ``90_comparison`` builds from
    :func:`mer_utils.results.load_results` and :func:`mer_utils.paper_tables.paper_tables`.
    """
    import seaborn as sns

    need = {"method", "where", "source", metric}
    if not need <= set(table.columns):
        raise KeyError(f"plot_comparison needs columns {sorted(need)}; got {list(table.columns)}.")
    t = table.dropna(subset=[metric]).copy()
    if t.empty:
        raise ValueError(f"plot_comparison: no values of {metric!r} to plot.")
    split = t["split"].fillna("").astype(str) if "split" in t.columns else pd.Series("", index=t.index)
    t["label"] = t["method"] + np.where(split != "", " (" + split + ")", "") + "  [" + t["where"] + "]"
    order = t.sort_values(["where", "method"])["label"].unique()
    ax = _axes(ax, (7, 0.32 * len(order) + 1.5))
    ours = t[t["source"] != "paper"]
    paper = t[t["source"] == "paper"]
    if len(ours):
        sns.barplot(data=ours, y="label", x=metric, order=order, color="#4c72b0", ax=ax, label="this course")
    if len(paper):
        sns.scatterplot(data=paper, y="label", x=metric, color="#dd8452", marker="D", s=40, ax=ax, label="paper",
                        zorder=3)
    ax.set_ylabel("")
    ax.set_xlim(0, 1)
    ax.set_xlabel(evaluation.METRIC_NAMES.get(metric, metric))
    ax.set_title(title or f"{evaluation.METRIC_NAMES.get(metric, metric)}: this course vs the papers")
    ax.legend(fontsize=8, loc="lower right")
    return ax


# ----------------------------------------------------------------------------------------- LBP-TOP
def plot_lbp_top(clip: np.ndarray, blocks: int = 5, axes=None, title: str | None = None):
    """The three orthogonal planes of LBP-TOP for one grey clip ``(T, H, W)``: the XY codes of the middle
    frame, the XT codes of the middle row, the YT codes of the middle column (each a 59-code
    ``nri_uniform`` image), and the clip's concatenated histogram (blocks x 59 bins per plane)."""
    import matplotlib.pyplot as plt

    from . import features

    clip = np.asarray(clip)
    codes = features.lbp_top_codes(clip)
    T, H, W = codes.shape[1:]
    if axes is None:
        fig = plt.figure(figsize=(12, 3.0))
        grid = fig.add_gridspec(1, 5, width_ratios=[1, 1, 1, 0.1, 2.6])
        axes = [fig.add_subplot(grid[0, i]) for i in (0, 1, 2, 4)]
    views = [(codes[0, T // 2], f"XY (frame {T // 2})", "x", "y"),
             (codes[1, :, H // 2, :], f"XT (row {H // 2})", "x", "t"),
             (codes[2, :, :, W // 2], f"YT (column {W // 2})", "y", "t")]
    for ax, (img, name, xl, yl) in zip(axes[:3], views):
        ax.imshow(img, cmap="nipy_spectral", vmin=0, vmax=features.n_bins() - 1, aspect="auto",
                  interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.set_xticks([])
        ax.set_yticks([])
    hist = features.lbp_top(clip, blocks=(blocks, blocks))
    n = len(hist) // 3
    for k, plane in enumerate(features.PLANES):
        axes[3].plot(np.arange(k * n, (k + 1) * n), hist[k * n:(k + 1) * n], lw=0.6, label=plane)
    axes[3].set_xlabel(f"feature index ({blocks}x{blocks} blocks x 59 codes per plane)")
    axes[3].set_ylabel("share of pixels")
    axes[3].legend(fontsize=8)
    if title:
        axes[0].figure.suptitle(title, fontsize=10, y=1.04)
    return axes


def plot_leakage(table: pd.DataFrame, metric: str = "uar", chance: float | None = None, ax=None,
                 title: str | None = None):
    """Bars (mean over label shuffles) and dots (each shuffle) of ``metric`` per protocol, from
    :class:`mer_utils.training.LeakageResult`'s ``table``, with the chance level as a dashed line."""
    import seaborn as sns

    ax = _axes(ax, (7.5, 2.8))
    order = list(dict.fromkeys(table["protocol"]))
    sns.barplot(data=table, y="protocol", x=metric, order=order, errorbar=None, color="#c8d6e8", ax=ax)
    sns.stripplot(data=table, y="protocol", x=metric, order=order, color="#4c72b0", size=5, ax=ax)
    if chance is not None:
        ax.axvline(chance, color="k", ls="--", lw=1)
        ax.annotate("chance", (chance, -0.45), fontsize=8, ha="left")
    ax.set_ylabel("")
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"{evaluation.METRIC_NAMES.get(metric, metric)}, pooled over folds (shuffled labels)")
    ax.set_title(title or "Shuffled labels: the same runs, three ways of picking the epoch")
    return ax


def plot_main_results(table, ax=None, title: str = "Each paper's main model, committed quick run (UAR, 95% CI)"):
    """Bars: each notebook's main UAR with its subject-bootstrap interval; short lines: chance (grey) and the
    majority baseline (black, dotted); dots: the flow + SVM positive control on the same folds
    (a :func:`mer_utils.paper_tables.course_main_results` table)."""
    import matplotlib.pyplot as plt

    t = table[table["UAR"].notna()].reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * max(len(t), 2) + 2, 3.4))
    if t.empty:
        ax.text(0.5, 0.5, "no notebook has recorded metrics['main'] yet", ha="center", va="center")
        ax.set_axis_off()
        return ax
    x = np.arange(len(t))
    uar = t["UAR"].astype(float).to_numpy()
    lo = np.array([c[0] for c in t["UAR 95% CI"]], float)
    hi = np.array([c[1] for c in t["UAR 95% CI"]], float)
    ax.bar(x, uar, color="C0", width=0.6, label="main model (UAR)")
    ax.errorbar(x, uar, yerr=[uar - lo, hi - uar], fmt="none", ecolor="k", capsize=4, label="95% CI (subjects)")
    for i, row in t.iterrows():
        ax.hlines(row["chance"], i - 0.4, i + 0.4, colors="grey", label="chance" if i == 0 else None)
        ax.hlines(row["majority"], i - 0.4, i + 0.4, colors="k", linestyles=":", label="majority" if i == 0 else None)
        if row["control (flow + SVM)"] is not None and not pd.isna(row["control (flow + SVM)"]):
            ax.plot(i, row["control (flow + SVM)"], "o", color="C3", label="flow + SVM control" if i == 0 else None)
    ax.set_xticks(x, [f"{n[:2]} {p}\n{pr}" for n, p, pr in zip(t["notebook"], t["paper"], t["protocol"])], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("UAR")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    return ax
