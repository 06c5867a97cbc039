"""Training, shared by every notebook: one module per idea.

* :mod:`~.dataset` — :class:`ClipDataset`, a prepared dataset: the clip table (``clip_uid``, ``subject_uid``,
  ``dataset``, ``label``) plus the inputs (an array, a tuple of arrays for multi-input models, or an index ->
  tensor callable), kept on the training GPU when they fit (:meth:`ClipDataset.resident`, rule :func:`place_inputs`);
  the subject-wise checks of a fold (:func:`check_fold`, :func:`inner_split`, :func:`fold_seed`).
* :mod:`~.loop` — :func:`fit`, plain PyTorch training: optimiser, scheduler, loss, epochs, batch size,
  class-balanced sampling or oversampling, batch augmentations, mixed precision on CUDA only, tqdm progress and a
  per-epoch history. Model selection / early stopping use an **inner validation split of training subjects**
  (:func:`inner_split`) and nothing else. :class:`TrainConfig`, :func:`predict`.
* :mod:`~.checkpoints` — :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`fit_or_load`,
  :func:`load_state_replacing_head`, :func:`unwrap_state_dict`
  (checkpoint-if-present, else train).
* :mod:`~.adapters` — the methods the runner takes: :class:`TorchMethod` (a model factory + :class:`TrainConfig`),
  :class:`SklearnMethod` (a scikit-learn estimator on feature vectors, e.g. LBP-TOP + linear SVM, She et al.'s
  SVM on aggregated features), or any callable ``fit_predict(fold, train_idx, test_idx, fold_dir)``
  (:class:`CallableMethod`) for multi-stage methods.
* :mod:`~.crossval` — :func:`cross_validate` runs a method over the folds of a subject-wise split (LOSO, k-fold
  by subject, holdout-database). Per-fold predictions and checkpoints are written as it goes into the result
  store (:mod:`mer_utils.results`); a re-run skips finished folds; changed parameters give a fresh folder.
* :mod:`~.leakage` — the leakage demonstration of notebook 02 (:func:`leakage_experiment`, :class:`FeatureMLP`).

Leakage this package refuses (REFERENCE.md §2): selecting epochs on the test fold, validating on the
training set, and folds whose train and test sets share a subject (unless explicitly allowed to
reproduce a paper's subject-overlapping split, which is then recorded in the parameters).
"""
from .adapters import CallableMethod, FoldOutput, SklearnMethod, TorchMethod, as_fold_output, as_method
from .checkpoints import (fit_or_load, load_checkpoint, load_state_replacing_head, save_checkpoint,
                          trained_state_dict, unwrap_state_dict)
from .crossval import FULL_HASH_BYTES, CVResult, DamagedRunWarning, cross_validate, inputs_fingerprint, load_fold_tables
from .dataset import REQUIRED_COLUMNS, RESIDENT_FRACTION, ClipDataset, Placement, as_table, check_fold, check_table, \
    class_names_from, cuda_available_bytes, fold_seed, inner_split, place_inputs
from .leakage import LEAKAGE_PROTOCOLS, FeatureMLP, LeakageResult, leakage_experiment
from .loop import BALANCE_CHOICES, SELECT_CHOICES, FitResult, TrainConfig, balanced_indices, epoch_order, fit, \
    make_optimizer, predict

__all__ = [
    "CallableMethod", "FoldOutput", "SklearnMethod", "TorchMethod", "as_fold_output", "as_method", "fit_or_load",
    "load_checkpoint", "load_state_replacing_head", "save_checkpoint", "trained_state_dict", "unwrap_state_dict",
    "FULL_HASH_BYTES", "CVResult", "cross_validate", "inputs_fingerprint",
    "load_fold_tables", "REQUIRED_COLUMNS", "ClipDataset", "as_table", "check_fold", "check_table",
    "class_names_from", "fold_seed", "inner_split", "RESIDENT_FRACTION", "Placement", "cuda_available_bytes",
    "place_inputs", "LEAKAGE_PROTOCOLS", "FeatureMLP", "LeakageResult",
    "leakage_experiment", "DamagedRunWarning", "BALANCE_CHOICES", "SELECT_CHOICES", "FitResult", "TrainConfig", "balanced_indices",
    "epoch_order", "fit", "make_optimizer", "predict",
]
