"""Checkpoints: :func:`save_checkpoint` (atomic; the trained parameters only, :func:`trained_state_dict`),
:func:`load_checkpoint`, :func:`fit_or_load` (checkpoint-if-present, else train and save),
:func:`unwrap_state_dict` (the state dict inside someone else's checkpoint) and
:func:`load_state_replacing_head` (a pretrained checkpoint whose classifier has another size)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import results
from .dataset import ClipDataset
from .loop import FitResult, TrainConfig, atomic_torch_save, fit


def frozen_prefixes(model) -> tuple:
    """The sub-modules ``model`` declares frozen and rebuilt by its factory (attribute ``frozen_modules``, e.g.
    AMAN's pretrained trunk): their entries are left out of its checkpoints."""
    return tuple(f"{m}." for m in (getattr(model, "frozen_modules", None) or ()))


def trained_state_dict(model) -> dict:
    """``model.state_dict()`` without the entries of its frozen sub-modules (:func:`frozen_prefixes`): what
    training changed, the only part a checkpoint needs (issue 20: a fold's AMAN checkpoint without the
    ResNet-18 trunk)."""
    skip = frozen_prefixes(model)
    return {k: v for k, v in model.state_dict().items() if not (skip and k.startswith(skip))}


def save_checkpoint(model, path: str | os.PathLike, **extra) -> Path:
    """Save the trained parameters (:func:`trained_state_dict`; frozen sub-modules are rebuilt on load) and
    ``extra`` atomically with ``torch.save``."""
    path = Path(path)
    frozen = [p[:-1] for p in frozen_prefixes(model)]
    atomic_torch_save(path, {"state_dict": trained_state_dict(model), **({"frozen": frozen} if frozen else {}),
                             **extra})
    return path


def load_checkpoint(model, path: str | os.PathLike, device: Any = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model``; return the extra entries.

    A checkpoint without the model's frozen sub-modules (the current format) keeps the ones the model was built
    with; an older one holding the whole ``state_dict`` loads as well. Any other difference is an error."""
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    try:
        payload = torch.load(path, map_location=device, weights_only=False)
    except (RuntimeError, EOFError, OSError, ValueError) as err:  # truncated or not a torch file
        raise RuntimeError(f"The checkpoint {path} is damaged or not a checkpoint ({type(err).__name__}: "
                           f"{str(err)[:160]}). Move it away (or delete it) to retrain that model.") from err
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise RuntimeError(f"The checkpoint {path} holds no 'state_dict' (written by something else?). Move it "
                           "away to retrain that model.")
    state = payload.pop("state_dict")
    skip = tuple(f"{m}." for m in payload.pop("frozen", ()))
    if not skip:
        model.load_state_dict(state)
        return payload
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(skip)]
    if missing or result.unexpected_keys:
        raise RuntimeError(f"The checkpoint {path} does not fit {type(model).__name__}: missing {missing[:6]}, "
                           f"unexpected {list(result.unexpected_keys)[:6]} (its frozen modules {list(skip)} are "
                           "rebuilt by the model). Move it away to retrain that model.")
    return payload


def fit_or_load(model, data: ClipDataset, train_idx, config: TrainConfig, checkpoint: str | os.PathLike,
                **fit_kwargs) -> FitResult:
    """Checkpoint-if-present, else train (and save): :func:`fit` wrapped with :func:`save_checkpoint`.

    The checkpoint stores the history and the config's hash; loading one saved with a different config
    raises instead of silently reusing it.
    """
    chash = results.params_hash({"config": config, "train_idx": np.asarray(train_idx).tolist()})
    path = Path(checkpoint)
    if path.exists():
        extra = load_checkpoint(model, path)
        if extra.get("config_hash") != chash:
            raise RuntimeError(f"{path} was trained with other settings (hash {extra.get('config_hash')} != {chash}); "
                               "delete it or choose another checkpoint path.")
        empty = np.zeros(0, dtype=int)
        return FitResult(model, pd.DataFrame(extra.get("history", [])), int(extra.get("best_epoch", 0)),
                         np.asarray(train_idx), empty)
    res = fit(model, data, train_idx, config, **fit_kwargs)
    save_checkpoint(res.model, path, history=res.history.to_dict(orient="records"), best_epoch=res.best_epoch,
                    config_hash=chash)
    return res


#: Keys under which other people's checkpoints wrap their state dict (tried in this order, nested ones too).
STATE_DICT_KEYS = ("state_dict", "model", "model_state_dict")


def unwrap_state_dict(state) -> dict:
    """The state dict (parameter name -> tensor) inside a loaded checkpoint: descends into the first of
    :data:`STATE_DICT_KEYS` that holds a dict, as long as there is one, and removes DataParallel's ``module.``
    prefixes. Anything but a dict is a ``TypeError``."""
    while isinstance(state, dict):
        inner = next((state[k] for k in STATE_DICT_KEYS if isinstance(state.get(k), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict):
        raise TypeError(f"Expected a state dict (parameter name -> tensor), got {type(state).__name__}.")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def load_state_replacing_head(model, state: dict, head: str = "fc") -> str:
    """Load a pretrained ``state`` (a state dict, or a checkpoint holding one; :func:`unwrap_state_dict`)
    into ``model`` whose classifier ``head`` may differ in size
    (e.g. a FER+ checkpoint with 8 classes into a 7-class network): the head's entries of another shape are
    left out, so the model keeps its own freshly initialised head. Returns a sentence saying what was done;
    any other mismatch raises an error naming the keys."""
    state = unwrap_state_dict(state)
    own = model.state_dict()
    replaced = sorted(k for k, v in state.items() if k.startswith(head + ".") and k in own
                      and tuple(v.shape) != tuple(own[k].shape))
    result = model.load_state_dict({k: v for k, v in state.items() if k not in replaced}, strict=False)
    bad_missing = [k for k in result.missing_keys if k not in replaced]
    if bad_missing or result.unexpected_keys:
        raise RuntimeError(f"The checkpoint does not fit {type(model).__name__} apart from its head {head!r}: "
                           f"missing {bad_missing[:8]}, unexpected {list(result.unexpected_keys)[:8]}.")
    if not replaced:
        return "loaded as it is"
    size = tuple(state[replaced[0]].shape)[0]
    return (f"loaded; the checkpoint's {size}-class head {head!r} does not fit the model's "
            f"{tuple(own[replaced[0]].shape)[0]} classes and was replaced by a freshly initialised one")
