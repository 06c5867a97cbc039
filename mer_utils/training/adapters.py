"""Method adapters: what :func:`mer_utils.training.cross_validate` runs on each fold. :class:`TorchMethod` (a
model factory + :class:`~mer_utils.training.TrainConfig`), :class:`SklearnMethod` (a scikit-learn estimator on
feature vectors), :class:`CallableMethod` (a ``fit_predict(fold, train_idx, test_idx, fold_dir)`` function for
multi-stage methods); each returns a :class:`FoldOutput`."""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from .. import results
from .checkpoints import load_checkpoint, save_checkpoint
from .dataset import ClipDataset
from .loop import TrainConfig, fit, predict


@dataclass
class FoldOutput:
    """What one fold of a method returns: predicted classes for the test clips (in ``test_idx`` order),
    optionally class scores ``(n_test, C)``, a training history and extra tables saved beside them."""

    pred: np.ndarray
    scores: np.ndarray | None = None
    history: pd.DataFrame | None = None
    tables: dict = field(default_factory=dict)


class TorchMethod:
    """A deep model trained per fold: ``model_factory(num_classes)`` -> fresh ``nn.Module`` (called after the
    fold's seed is set), trained by :func:`fit` with ``config`` on the fold's training clips only.

    The fold's checkpoint (``model.pt``) is saved in the fold folder; when it exists but the fold did not
    finish (crash between training and writing predictions) it is loaded instead of retraining.
    ``track_test=True`` records the test subject's loss/accuracy after every epoch (for learning curves and
    the leakage demonstration; never used for selection) in the fold's ``test_epochs.csv``.
    """

    def __init__(self, model_factory: Callable[[int], Any], config: TrainConfig, track_test: bool = False,
                 save_model: bool = True):
        if not callable(model_factory):
            raise TypeError("TorchMethod: model_factory must be a callable num_classes -> nn.Module.")
        self.model_factory, self.config = model_factory, config
        self.track_test, self.save_model = track_test, save_model

    def describe(self) -> dict:
        return {"kind": "torch", "model_factory": results.jsonable(self.model_factory),
                "config": results.jsonable(self.config), "track_test": self.track_test}

    def run_fold(self, data: ClipDataset, fold, train_idx, test_idx, fold_dir: Path, device, seed: int,
                 progress: bool = True) -> FoldOutput:
        if not isinstance(data, ClipDataset):
            raise TypeError("TorchMethod needs a ClipDataset (table + inputs), not a bare table.")
        model = self.model_factory(data.num_classes)
        ckpt = fold_dir / "model.pt"
        history, tables = None, {}
        if ckpt.exists():
            extra = load_checkpoint(model, ckpt, device="cpu")
            history = pd.DataFrame(extra.get("history", []))
            model = model.to(device)
        else:
            res = fit(model, data, train_idx, self.config, device=device, seed=seed, progress=progress,
                      track={"test": test_idx} if self.track_test else None, desc=f"fold {fold.name}",
                      resume=fold_dir / "resume.pt")  # a killed long fold continues mid-fold
            model, history = res.model, res.history
            if "test" in res.epoch_predictions:
                ep = res.epoch_predictions["test"]
                ep.insert(1, "clip_uid", data.table["clip_uid"].to_numpy()[ep["index"].to_numpy()])
                tables["test_epochs"] = ep.drop(columns="index")
            if self.save_model:
                save_checkpoint(model, ckpt, history=history.to_dict(orient="records"), best_epoch=res.best_epoch)
        pred, probs, _ = predict(model, data, test_idx, self.config.eval_batch_size or 64, device, self.config.amp)
        return FoldOutput(pred=pred, scores=probs, history=history, tables=tables)


class SklearnMethod:
    """A scikit-learn estimator (or pipeline) fitted per fold on ``data.features()`` (``(N, D)``).

    A fresh :func:`sklearn.base.clone` per fold; scores from ``predict_proba`` or ``decision_function``
    (mapped onto all classes; classes absent from a fold's training set get ``NaN``). ``groups=True``
    passes the training subjects as ``groups=`` to ``fit`` (for a ``GridSearchCV`` with a group splitter,
    i.e. hyper-parameters chosen on training subjects only). The fitted estimator is saved with joblib.
    """

    def __init__(self, estimator, groups: bool = False, save_model: bool = True):
        if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
            raise TypeError("SklearnMethod: expected a scikit-learn estimator with fit/predict.")
        self.estimator, self.groups, self.save_model = estimator, groups, save_model

    def describe(self) -> dict:
        return {"kind": "sklearn", "estimator": results.jsonable(self.estimator), "groups": self.groups}

    def run_fold(self, data: ClipDataset, fold, train_idx, test_idx, fold_dir: Path, device, seed: int,
                 progress: bool = True) -> FoldOutput:
        import joblib
        from sklearn.base import clone

        if not isinstance(data, ClipDataset):
            raise TypeError("SklearnMethod needs a ClipDataset(table, features).")
        X, y = data.features(), data.labels
        est = clone(self.estimator)
        kwargs = {"groups": data.groups[train_idx]} if self.groups else {}
        est.fit(X[train_idx], y[train_idx], **kwargs)
        pred = est.predict(X[test_idx])
        scores = _class_scores(est, X[test_idx], data.num_classes)
        if self.save_model:
            tmp = fold_dir / f".model.joblib.{os.getpid()}.tmp"
            joblib.dump(est, tmp)
            os.replace(tmp, fold_dir / "model.joblib")
        return FoldOutput(pred=np.asarray(pred), scores=scores)


def _class_scores(est, X, n_classes: int) -> np.ndarray | None:
    classes = getattr(est, "classes_", None)
    if classes is None:
        return None
    if hasattr(est, "predict_proba"):
        try:
            raw = est.predict_proba(X)
        except AttributeError:  # e.g. SVC(probability=False)
            raw = None
    else:
        raw = None
    if raw is None and hasattr(est, "decision_function"):
        raw = est.decision_function(X)
        if raw.ndim == 1:
            raw = np.stack([-raw, raw], axis=1)
    if raw is None:
        return None
    out = np.full((len(X), n_classes), np.nan)
    out[:, np.asarray(classes, dtype=int)] = raw
    return out


class CallableMethod:
    """Wraps a user function ``fit_predict(fold, train_idx, test_idx, fold_dir)`` returning predictions
    (array), ``(pred, scores)``, a dict with ``pred`` / ``scores`` / ``history`` or a :class:`FoldOutput`.

    The function may write its own checkpoints in ``fold_dir`` (and reuse them when present).
    """

    def __init__(self, fn: Callable, name: str | None = None):
        sig = inspect.signature(fn)
        if len(sig.parameters) < 4 and not any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values()):
            raise TypeError("fit_predict must accept (fold, train_idx, test_idx, fold_dir).")
        self.fn, self.name = fn, name

    def describe(self) -> dict:
        return {"kind": "callable", "fn": results.jsonable(self.fn)}

    def run_fold(self, data, fold, train_idx, test_idx, fold_dir, device, seed, progress=True) -> FoldOutput:
        return as_fold_output(self.fn(fold, train_idx, test_idx, fold_dir), len(test_idx))


def as_fold_output(out: Any, n: int) -> FoldOutput:
    if isinstance(out, FoldOutput):
        res = out
    elif isinstance(out, Mapping):
        if "pred" not in out:
            raise KeyError("fit_predict returned a dict without 'pred'.")
        res = FoldOutput(np.asarray(out["pred"]), out.get("scores"), out.get("history"), dict(out.get("tables", {})))
    elif isinstance(out, tuple):
        res = FoldOutput(np.asarray(out[0]), None if len(out) < 2 else out[1])
    else:
        res = FoldOutput(np.asarray(out))
    res.pred = np.asarray(res.pred).ravel()
    if len(res.pred) != n:
        raise ValueError(f"fit_predict returned {len(res.pred)} predictions for {n} test clips (one per test clip, "
                         "in test_idx order).")
    if res.scores is not None:
        res.scores = np.asarray(res.scores, dtype=float)
        if res.scores.ndim != 2 or len(res.scores) != n:
            raise ValueError(f"scores must have shape (n_test={n}, C), got {res.scores.shape}.")
    return res


def as_method(method: Any):
    """A :class:`TorchMethod`, :class:`SklearnMethod`, :class:`CallableMethod`, an sklearn estimator (wrapped
    in SklearnMethod) or a ``fit_predict`` callable (wrapped in CallableMethod)."""
    if isinstance(method, (TorchMethod, SklearnMethod, CallableMethod)):
        return method
    if hasattr(method, "fit") and hasattr(method, "predict"):
        return SklearnMethod(method)
    if callable(method):
        return CallableMethod(method)
    raise TypeError(f"method: expected TorchMethod, SklearnMethod, an sklearn estimator or a callable "
                    f"fit_predict(fold, train_idx, test_idx, fold_dir); got {type(method).__name__}.")
