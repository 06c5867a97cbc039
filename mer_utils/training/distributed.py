"""The folds of :func:`~mer_utils.training.cross_validate` as Ray tasks (``executor="ray"``, ``"auto"`` or
``"ray://HOST:PORT"``; :mod:`mer_utils.executor`).

Each unfinished fold is one task (one GPU when the cluster has GPUs, else one CPU core) that runs
:func:`~mer_utils.training.crossval.compute_fold` — the code the local runner runs — and writes the fold's files
into the same fold folder, ``fold.json`` last. So the folder, the resume and the predictions are those of the
local runner: finished folds are read back, a fold whose worker was killed is retried by Ray (and, if the whole
run was killed, recomputed by the next call), and every fold uses its own seed whichever worker runs it. The
driver's deterministic settings (``torch.use_deterministic_algorithms``, cuDNN flags) are applied in the task.
"""
from __future__ import annotations

import os
import socket
import sys
import warnings
from pathlib import Path


def _torch_flags() -> dict:
    import torch

    return {"deterministic": torch.are_deterministic_algorithms_enabled(),
            "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
            "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
            "cublas": os.environ.get("CUBLAS_WORKSPACE_CONFIG")}


def _apply_torch_flags(flags: dict) -> None:
    import torch

    if flags["cublas"]:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", flags["cublas"])
    torch.use_deterministic_algorithms(flags["deterministic"], warn_only=flags["warn_only"])
    torch.backends.cudnn.deterministic = flags["cudnn_deterministic"]
    torch.backends.cudnn.benchmark = flags["cudnn_benchmark"]


def _task_device(device):
    """The device inside a task: Ray shows a task only its own GPU (``cuda`` = that one), so ``cuda:N`` becomes
    ``cuda``; ``auto`` is resolved on the worker (its node may have GPUs the driver lacks)."""
    kind = getattr(device, "type", None) or str(device).split(":")[0].strip().lower()
    return "cuda" if kind == "cuda" else ("auto" if kind == "auto" else kind)


def _fold_task(sys_path, refs, seed):
    """One fold inside a Ray worker. ``refs`` (the shared payload, this fold's job) is a list so that Ray hands
    over the references unresolved: the driver's import path is in place before the method, the fold and the
    data are unpickled (code from the driver's modules, e.g. a notebook's or a test's, resolves)."""
    import ray

    from ..device import resolve_device
    from ..executor import ExecutorError, extend_sys_path
    from .crossval import compute_fold

    extend_sys_path(sys_path)
    # Ray hands arrays over as read-only shared memory; the runner only reads them (batches are copies)
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    (meth, data, table, class_names, device, flags), (i, fold, train_idx, test_idx, fdir) = ray.get(list(refs))
    fdir = Path(fdir)
    if not (fdir.parent.parent / "params.json").exists():
        raise ExecutorError(f"the Ray worker on {socket.gethostname()} cannot see the run folder {fdir.parent.parent}: "
                            "put the result store (MER_RESULTS_ROOT) and the data on a filesystem every node mounts "
                            "at the same path, or use MER_EXECUTOR=ray (this machine only).")
    _apply_torch_flags(flags)
    dev = resolve_device(_task_device(device))
    return compute_fold(meth, data, table, i, fold, train_idx, test_idx, fdir, dev, seed, class_names, False)


def run_folds_on_ray(executor: str, meth, data, table, todo, seed: int, device, class_names, finished, folder):
    """Run ``todo`` (``(index, fold, train_idx, test_idx, fold_dir)``) as Ray tasks; call
    ``finished(name, predictions, history, seconds)`` as each completes. Folds that fail do not stop the others;
    afterwards a ``RuntimeError`` names them (the finished ones are stored and reused by the next call)."""
    from ..executor import connect, task_options

    ray = connect(executor)
    payload = ray.put((meth, data, table, list(class_names), device, _torch_flags()))
    task = ray.remote(**task_options(ray))(_fold_task)
    pending = {task.remote(list(sys.path), [payload, ray.put((i, fold, train_idx, test_idx, str(fdir)))], seed): fold.name
               for i, fold, train_idx, test_idx, fdir in todo}
    failed = []
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                name = pending.pop(ref)
                try:
                    finished(name, *ray.get(ref))
                except ray.exceptions.RayError as err:
                    failed.append((name, err))
    except BaseException:  # interrupted: stop the folds still running (the finished ones stay stored)
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    if failed:
        name, err = failed[0]
        cause = getattr(err, "cause", None) or err
        raise RuntimeError(f"{len(failed)} of {len(todo)} fold(s) failed on Ray ({', '.join(n for n, _ in failed)}); "
                           f"first, fold {name!r}: {type(cause).__name__}: {str(cause).splitlines()[0][:500] if str(cause) else ''}. "
                           f"The other folds are stored in {folder}; a re-run reuses them and computes only the "
                           "failed ones.") from cause
