"""Benchmark of the fold executors: the same leave-one-subject-out run with the local runner and with Ray
(``MER_EXECUTOR=ray``, N local workers), wall time, speed-up and whether the predictions are identical.

Run from the repository root::

    .venv/bin/python benchmarks/executor.py                        # 2 Ray workers (CPU), CASME II quick LOSO
    .venv/bin/python benchmarks/executor.py --workers 4 --epochs 20
    .venv/bin/python benchmarks/executor.py --size paper           # the paper-size synthetic CASME II

The run: the ``casme2_5class`` protocol on the synthetic CASME II (quick: 8 subjects, 45 clips -> 8 LOSO folds),
each fold training a small CNN (``TorchMethod``, SGD) on seeded class-dependent 3 x 48 x 48 inputs — the
executor, not the features, is measured, so no preprocessing cache is needed. Each executor writes into its own
fresh result store. Ray's start (a one-off per process) is timed separately. Results are printed and written as
JSON (``--out``, default ``runs/benchmarks/executor-<size>.json``), with the machine's load average.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mer_utils.paths import repo_path  # noqa: E402


def small_cnn(num_classes: int):
    import torch.nn as nn

    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 12 * 12, num_classes))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="quick", choices=("quick", "paper"))
    p.add_argument("--workers", type=int, default=2, help="Ray workers (CPU cores of the local instance)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--executor", default="ray", help="ray (a local instance, the default) or auto (one you "
                   "started with `ray start --head --num-cpus N ...`; --workers is then informative only)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["MER_RAY_NUM_CPUS"] = str(args.workers)
    # Ray runs its workers at nice 15 by default; the local runner runs at this process's niceness. Compare like
    # with like (on a machine shared with other jobs the default makes every fold yield to them).
    os.environ.setdefault("RAY_worker_niceness", "0")
    import pandas as pd
    import torch

    from mer_utils import executor as E
    from mer_utils.data import leave_one_subject_out, load_protocol
    from mer_utils.data.synthetic import ensure_synthetic
    from mer_utils.training import ClipDataset, TorchMethod, TrainConfig, cross_validate

    torch.set_num_threads(1)  # as each Ray worker (one CPU): same arithmetic, a fair comparison
    root = ensure_synthetic(args.size)
    table = load_protocol("casme2_5class", Path(root))[0].reset_index(drop=True)
    rng = np.random.default_rng(0)
    labels = table["label"].to_numpy()
    X = (rng.normal(0, 1, (len(table), 3, 48, 48)) + labels[:, None, None, None] * 0.2).astype(np.float32)
    data = ClipDataset(table, X)
    folds = leave_one_subject_out(table)
    cfg = TrainConfig(epochs=args.epochs, batch_size=8, lr=0.01, optimizer="sgd")
    out = {"size": args.size, "n_clips": len(table), "n_folds": len(folds), "epochs": args.epochs,
           "workers": args.workers, "executor": args.executor,
           "ray_worker_niceness": os.environ["RAY_worker_niceness"], "cpus": os.cpu_count(), "platform": platform.platform(),
           "load_before": os.getloadavg()}
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("local", "ray"):
            if name == "ray":
                t0 = time.perf_counter()
                E.connect(args.executor)
                out["ray_start_seconds"] = round(time.perf_counter() - t0, 2)
            t0 = time.perf_counter()
            runs[name] = cross_validate(TorchMethod(small_cnn, cfg), data, folds, notebook="bench", dataset="casme2",
                                        protocol="casme2_5class-loso", method_name="small CNN", device="cpu",
                                        root=Path(tmp) / name, progress=False,
                                        executor=args.executor if name == "ray" else "local")
            out[f"{name}_seconds"] = round(time.perf_counter() - t0, 2)
            out[f"{name}_sum_of_fold_seconds"] = round(runs[name].timings["total_seconds"], 2)
            print(f"{name}: {out[f'{name}_seconds']} s wall for {len(folds)} folds", flush=True)
    out["load_after"] = os.getloadavg()
    out["speedup"] = round(out["local_seconds"] / out["ray_seconds"], 2)
    out["speedup_with_ray_start"] = round(out["local_seconds"] / (out["ray_seconds"] + out["ray_start_seconds"]), 2)
    try:
        pd.testing.assert_frame_equal(runs["local"].predictions, runs["ray"].predictions)
        out["identical_predictions"] = True
    except AssertionError as err:
        out["identical_predictions"] = False
        out["difference"] = str(err)[:500]
    print(json.dumps(out, indent=1))
    path = Path(args.out) if args.out else repo_path("runs", "benchmarks", f"executor-{args.size}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
