"""The prepared GPU check of issues 20 and 22: measure, on a CUDA machine, what the cost plan only estimates.

For every model that the ``full`` profile trains (the stages that dominate ``course plan --profile full``), one
training epoch runs through the project's own :func:`mer_utils.training.fit` — the paper's batch size, the
optimiser, autocast on CUDA, inputs of the shape and dtype each pipeline feeds (random values: the speed of a
step does not depend on them) — after a warm-up epoch. Printed and written as JSON, per model:

- ``step_s``: measured seconds per training step; ``plan_step_s``: the plan's estimate of the same step
  (:func:`mer_utils.plan.train_stage` for one epoch, divided by its steps); ``plan_over_measured``: how far the
  plan is off (> 1: the plan is pessimistic);
- ``tflops`` and ``utilisation``: 3 x batch x forward FLOPs (the plan's count) per measured second, and that
  over the H100's dense bf16 peak — the number :data:`mer_utils.plan.UTILISATION` assumes (0.05);
- ``peak_gpu_gb`` (``torch.cuda.max_memory_allocated``) against ``plan_gpu_gb``; ``gpu_busy`` (mean of
  ``nvidia-smi`` utilisation samples during the timed epoch, when nvidia-smi is there).

On the device machine (one short call, well inside its 10-minute limit; ``benchmarks/gpu_check.sh`` wraps it
with the CUDA tests of the tensor path)::

    python3 benchmarks/gpu_check.py --out $OUT/gpu_check.json

Here, on CPU, ``--smoke`` runs each case with tiny shapes for one step (what ``tests/test_gpu_check.py`` does):
it proves the script runs, and its numbers mean nothing.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mer_utils import plan as P  # noqa: E402
from mer_utils.paths import repo_path  # noqa: E402


@dataclass
class Case:
    """One model of the full profile: how to build it, one sample's input shape and dtype, the batch, the
    optimiser, and the notebook stage it stands for."""

    name: str
    stage: str
    build: Callable
    shape: tuple
    dtype: str
    batch: int
    optimizer: str
    lr: float


def _settings(notebook: str) -> dict:
    return P.notebook_settings(repo_path("notebooks", notebook), "full")


def cases(smoke: bool = False) -> list[Case]:
    """The cases, read from the notebooks' ``full`` settings (``smoke``: tiny shapes for a CPU run)."""
    from torchvision.models import resnet18

    from mer_utils.papers.peng2018.model import ResNet10
    from mer_utils.papers.reddy2019.model import PAPER_KERNEL_SIZE, build_model
    from mer_utils.papers.she2020.model import BRANCHES, MultipleAggregationNetwork
    from mer_utils.papers.she2020.pipeline import she_roi_boxes
    from mer_utils.papers.wei2022.model import AMAN, TRUNK_CHANNELS, TRUNK_STRIDE
    from mer_utils.papers.wei2022.pipeline import PAPER_N_GRID, n_grid
    from mer_utils.papers.zhao2021.pipeline import CropNetFactory

    she, peng, reddy = _settings("10_she2020_multiple_aggregation.ipynb"), _settings(
        "20_peng2018_macro_to_micro.ipynb"), _settings("30_reddy2019_3d_cnn.ipynb")
    zhao, wei = _settings("40_zhao2021_residual_sum_cropnet.ipynb"), _settings("50_wei2022_aman.ipynb")
    factors = [float(f) for f in wei["factors"]]
    k = sum(f <= float(wei["ceiling"]) for f in factors)
    side = int(wei["pretrain_size"]) // TRUNK_STRIDE
    # Fig. 3's largest n: the paper's n = 20 (the sweep is opt-in in `full`, N_GRID="paper"), or the profile's if larger
    n_main = int(wei["n_frames"])
    n_max = max(max(PAPER_N_GRID), *n_grid(wei["n_grid"], n_main))
    if smoke:
        k, n_main, n_max = 2, 2, 3
    scale = float(she["scale"])
    h, w = round(140 * scale), round(120 * scale)
    reddy_frames = int(reddy["casme_sq_frames"]) if not smoke else 18
    zhao_size = int(zhao["image_size"]) if not smoke else 64
    size224 = 224 if not smoke else 64
    peng_size = int(peng["image_size"]) if not smoke else 64
    b = (lambda full: 2 if smoke else full)  # noqa: E731
    zhao_factory = CropNetFactory(cgpo=True, width_mult=zhao["width_mult"], depth_mult=zhao["depth_mult"],
                                  head_channels=int(zhao["head_channels"]), pretrained=False, channels_last=False)
    return [
        Case(f"AMAN n={n_main} k={k} (Table 2)", "50 main runs, Table 1, Table 3", lambda: AMAN(5, inputs="trunk"),
             (n_main, k, TRUNK_CHANNELS, side, side), "float16", b(int(wei["batch_size"])), "rmsprop", 1e-3),
        Case(f"AMAN n={n_max} k={k} (largest of Fig. 3)", "50 Fig. 3 n-sweep (N_GRID=paper)", lambda: AMAN(5, inputs="trunk"),
             (n_max, k, TRUNK_CHANNELS, side, side), "float16", b(int(wei["batch_size"])), "rmsprop", 1e-3),
        Case("ResNet-18 FER pretraining", "50 pretrain", lambda: resnet18(weights=None, num_classes=7),
             (3, size224, size224), "float32", b(64), "sgd", 1e-2),
        Case("She fusion network", "10 train fusion / branches",
             lambda: MultipleAggregationNetwork(she_roi_boxes(scale), branches=tuple(BRANCHES), num_classes=4,
                                                in_channels=3, width=int(she["width"]),
                                                blocks_per_stage=int(she["blocks_per_stage"])),
             (3, h, w), "uint8", b(int(she["batch_size"])), "adam", float(she["lr"])),
        Case("Peng ResNet-10 (macro stage)", "20 macro / HDE / CDE", lambda: ResNet10(5, in_channels=1),
             (1, peng_size, peng_size),
             "float32", b(int(peng["macro_batch"])), "sgd", float(peng["macro_lr"])),
        Case("Reddy MicroExpSTCNN (CAS(ME)^2)", "30 Table V / IX",
             lambda: build_model("MicroExpSTCNN", 3, reddy_frames, PAPER_KERNEL_SIZE),
             (1, reddy_frames, 64, 64), "float32", b(int(reddy["batch_size"])), "sgd", float(reddy["lr"])),
        Case("Zhao CropNet (ReXNet + CGPO)", "40 CASME II inputs, composite", lambda: zhao_factory(5),
             (3, zhao_size, zhao_size), "float32", b(int(zhao["batch_size"])), "adam", float(zhao["lr"])),
    ]


class _NvidiaSmi:
    """Samples ``nvidia-smi``'s GPU utilisation every 0.2 s in a thread (nothing when it is missing)."""

    def __init__(self):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        if shutil.which("nvidia-smi"):
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=5).stdout.split()
                self.samples.append(float(out[0]))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                return
            self._stop.wait(0.2)

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=6)

    def mean(self):
        return round(float(np.mean(self.samples)), 1) if self.samples else None


def measure(case: Case, device: str, steps: int, seed: int = 0) -> dict:
    """Warm-up epoch, then one timed epoch of ``steps`` steps through :func:`mer_utils.training.fit`."""
    import pandas as pd
    import torch

    from mer_utils.training import ClipDataset, TrainConfig, fit

    n = case.batch * steps
    gen = torch.Generator().manual_seed(seed)
    if case.dtype == "uint8":
        x = torch.randint(0, 256, (n, *case.shape), generator=gen, dtype=torch.uint8)
    else:
        x = torch.randn((n, *case.shape), generator=gen).to(getattr(torch, case.dtype))
    table = pd.DataFrame({"clip_uid": [f"c{i}" for i in range(n)], "subject_uid": [f"s{i % 8}" for i in range(n)],
                          "dataset": "gpu_check", "label": np.arange(n) % 3})
    data = ClipDataset(table, x)
    config = TrainConfig(epochs=1, batch_size=case.batch, optimizer=case.optimizer, lr=case.lr)
    idx = np.arange(n)
    profile = P.profile_model(case.build, (1, *case.shape), dtype=None)
    model = case.build()
    cuda = device.startswith("cuda")
    fit(model, data, idx, config, device=device, seed=seed, progress=False)  # warm-up: cuDNN autotuning, allocator
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with _NvidiaSmi() as smi:
        start = time.perf_counter()
        fit(model, data, idx, config, device=device, seed=seed + 1, progress=False)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    step = seconds / steps
    itemsize = np.dtype(case.dtype).itemsize
    planned = P.train_stage(case.name, profile, epochs=1, batch=case.batch, train_samples=n, sliced=True,
                            input_bytes=int(np.prod(case.shape)) * itemsize,
                            optimizer_states=1 if case.optimizer == "sgd" else 2)
    plan_step = planned.seconds / steps
    tflops = P.TRAIN_FLOP_FACTOR * case.batch * profile.flops / step / 1e12
    return {"case": case.name, "stage": case.stage, "batch": case.batch, "input": [case.dtype, *case.shape],
            "gflop_per_sample": round(profile.flops / 1e9, 3), "steps": steps,
            "step_s": round(step, 5), "plan_step_s": round(plan_step, 5),
            "plan_over_measured": round(plan_step / step, 2),
            "tflops": round(tflops, 2), "utilisation": round(tflops * 1e12 / P.H100_BF16_DENSE_PEAK, 4),
            "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if cuda else None,
            "plan_gpu_gb": round((planned.gpu_bytes + P.CUDA_CONTEXT_GB * 1e9) / 1e9, 2),
            "gpu_busy": smi.mean()}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shapes, one step: a CPU check that it runs")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per case (default 20; smoke 1)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cuda or cpu")
    parser.add_argument("--cases", default=None, help="comma-separated words a case name must contain")
    parser.add_argument("--out", default=None, help="JSON file (default runs/benchmarks/gpu_check.json)")
    args = parser.parse_args(argv)
    import torch

    from mer_utils.device import resolve_device

    device = str(resolve_device(args.device))
    if not args.smoke and not device.startswith("cuda"):
        parser.error("without CUDA only --smoke runs (the full shapes on a CPU take hours and measure nothing "
                     "the plan is about); run it on a GPU machine or add --smoke")
    steps = args.steps or (1 if args.smoke else 20)
    chosen = cases(args.smoke)
    if args.cases:
        words = [w.strip().lower() for w in args.cases.split(",") if w.strip()]
        chosen = [c for c in chosen if any(w in c.name.lower() for w in words)]
        if not chosen:
            parser.error(f"--cases {args.cases!r} matches none of: {[c.name for c in cases(args.smoke)]}")
    torch.backends.cudnn.benchmark = True
    rows = []
    for case in chosen:
        row = measure(case, device, steps)
        rows.append(row)
        print(f"{row['case']:<38} step {row['step_s'] * 1e3:9.2f} ms  plan {row['plan_step_s'] * 1e3:9.2f} ms  "
              f"plan/measured {row['plan_over_measured']:6.2f}  {row['tflops']:7.2f} TFLOP/s  "
              f"util {row['utilisation']:.3f}  GPU {row['peak_gpu_gb']} GB (plan {row['plan_gpu_gb']})", flush=True)
    meta = {"device": torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() or "cpu",
            "torch": torch.__version__, "smoke": args.smoke, "plan_utilisation": P.UTILISATION,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out = Path(args.out) if args.out else repo_path("runs", "benchmarks", "gpu_check.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "cases": rows}, indent=2))
    print(f"written {out}")
    return rows


if __name__ == "__main__":
    main()
