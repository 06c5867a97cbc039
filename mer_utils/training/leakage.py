"""The leakage demonstration of notebook 02 (REFERENCE.md §2): shuffled labels, and the epoch picked three ways
(:func:`leakage_experiment`), with a small MLP on feature vectors (:class:`FeatureMLP`)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .. import evaluation
from .adapters import TorchMethod
from .crossval import cross_validate, load_fold_tables
from .dataset import ClipDataset
from .loop import TrainConfig


class FeatureMLP:
    """Factory of a small multilayer perceptron on feature vectors: ``[BatchNorm1d(D)] - Linear(D, hidden) -
    ReLU - Dropout - Linear(hidden, C)``. Used by notebook 02 as a fast model for the leakage demonstration.
    The input BatchNorm standardises the features with statistics of the training clips only (running
    statistics at test time), so no test statistic leaks in.

    ``FeatureMLP(in_features, hidden, dropout)(num_classes)`` returns the ``nn.Module`` (the shape a
    :class:`TorchMethod` factory takes); its ``repr`` lists the settings for the parameters hash.
    """

    def __init__(self, in_features: int, hidden: int = 64, dropout: float = 0.2, input_norm: bool = True):
        self.in_features, self.hidden, self.dropout = int(in_features), int(hidden), float(dropout)
        self.input_norm = bool(input_norm)

    def __call__(self, num_classes: int):
        import torch

        layers = [torch.nn.BatchNorm1d(self.in_features)] if self.input_norm else []
        layers += [torch.nn.Linear(self.in_features, self.hidden), torch.nn.ReLU(), torch.nn.Dropout(self.dropout),
                   torch.nn.Linear(self.hidden, num_classes)]
        return torch.nn.Sequential(*layers)

    def __repr__(self) -> str:
        return (f"FeatureMLP(in_features={self.in_features}, hidden={self.hidden}, dropout={self.dropout}, "
                f"input_norm={self.input_norm})")


#: Names of the three protocols compared by :func:`leakage_experiment`.
LEAKAGE_PROTOCOLS = ("last epoch (honest)", "best epoch on inner validation subjects (honest)",
                     "best epoch on the test subject (LEAK)")


@dataclass
class LeakageResult:
    """What :func:`leakage_experiment` returns: one row per (shuffle, protocol) in ``table``, the per-fold
    histories of the first shuffle's fixed-epoch run (with the test subject's curve) and the epochs the leaky
    protocol chose per fold (first shuffle)."""

    table: pd.DataFrame
    histories: dict
    chosen_epochs: pd.Series

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation over shuffles of WAR / UAR / UF1 per protocol (in protocol order)."""
        g = self.table.groupby("protocol", sort=False)[["war", "uar", "uf1"]]
        out = g.mean().join(g.std().fillna(0.0), rsuffix="_std")
        return out[["war", "war_std", "uar", "uar_std", "uf1", "uf1_std"]]


def leakage_experiment(data: ClipDataset, folds: Sequence[Any], model_factory: Callable[[int], Any],
                       config: TrainConfig, *, n_shuffles: int = 3, seed: int = 0, notebook: str, dataset: str,
                       protocol: str, val_fraction: float = 0.25, data_source: str | None = None,
                       root: str | os.PathLike | None = None, device: Any = "auto", progress: bool = True) -> LeakageResult:
    """Shuffled labels, three ways of picking the epoch (REFERENCE.md §2, "Leakage seen in public code").

    For each of ``n_shuffles`` random permutations of the labels (no information left in the inputs) the
    model is trained under ``folds`` and scored three ways:

    1. the **last epoch** of a fixed budget (honest: nothing is chosen);
    2. the epoch with the best accuracy on an **inner validation split of the training subjects**
       (honest model selection, :func:`inner_split`);
    3. the epoch with the best accuracy **on the test subject itself**, per fold — what the public AMAN
       and 3D-CNN code does. The predictions of that epoch are pooled like an honest run.

    Honest protocols stay at chance; the third reports well above chance from noise alone. Every run goes
    through :func:`cross_validate` (result store, resume; protocol ``<protocol>-shuffled``, which the
    comparison notebook leaves out). Returns a :class:`LeakageResult`.
    """
    if config.select != "last":
        raise ValueError("leakage_experiment: pass a config with select='last'; the function sets up the selections.")
    rows, histories, first_chosen = [], {}, pd.Series(dtype=float)
    for r in range(int(n_shuffles)):
        rng = np.random.default_rng(int(seed) * 7919 + r)
        shuffled = data.with_labels(rng.permutation(data.labels))
        common = dict(notebook=notebook, dataset=dataset, data_source=data_source, root=root, device=device,
                      progress=progress, seed=seed + r, class_names=data.class_names)
        run = cross_validate(TorchMethod(model_factory, config, track_test=True), shuffled, folds,
                             protocol=f"{protocol}-shuffled", method_name="shuffled labels, fixed epochs",
                             params={"shuffle": r}, **common)
        inner = dataclasses.replace(config, val_fraction=val_fraction, select="val_acc")
        sel = cross_validate(TorchMethod(model_factory, inner), shuffled, folds, protocol=f"{protocol}-shuffled",
                             method_name="shuffled labels, inner validation", params={"shuffle": r}, **common)
        leaky, chosen = evaluation.best_epoch_on_test(load_fold_tables(run), data.num_classes)
        if r == 0:
            histories, first_chosen = run.histories, chosen
        last_epoch = config.epochs
        for name, preds, epoch in ((LEAKAGE_PROTOCOLS[0], run.predictions, float(last_epoch)),
                                   (LEAKAGE_PROTOCOLS[1], sel.predictions,
                                    float(np.mean([h.loc[h["selected"].astype(bool), "epoch"].iloc[0]
                                                   for h in sel.histories.values()]))),
                                   (LEAKAGE_PROTOCOLS[2], leaky, float(chosen.mean()))):
            m = evaluation.pooled_metrics(preds, data.num_classes)
            rows.append({"shuffle": r, "protocol": name, "war": m["war"], "uar": m["uar"], "uf1": m["uf1"],
                         "mean_chosen_epoch": epoch})
    return LeakageResult(pd.DataFrame(rows), histories, first_chosen)
