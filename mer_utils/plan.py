"""Cost plan of a course run: GPU-hours on one H100, peak GPU memory, peak host memory and disk written, per
notebook and in total, **computed** from each notebook's profile table (read from its source by
:func:`mer_utils.validate.profile_tables`), the paper-size data plan (:func:`mer_utils.data.synthetic.gt.planned_table`
+ the protocols), the recipes' output shapes and the papers' models (FLOPs counted on the ``meta`` device with
:class:`torch.utils.flop_counter.FlopCounterMode`, one sample at the paper's input shape). Nothing is trained.

Command line (``scripts/course.sh plan ...`` calls it too)::

    python -m mer_utils.course plan --profile full                 # the table
    python -m mer_utils.course plan --profile full --notebook 50 --json
    python -m mer_utils.course plan --profile full -p EPOCHS 10    # a parameter changes the estimate

The model of time (each term is a named constant below, with its reasoning):

- a training step of batch B costs ``max(3 * B * F / EFFECTIVE_FLOP_PER_S, 3 * ops * OP_OVERHEAD_S)`` — the
  forward's FLOPs F (backward = 2x forward) at a sustained throughput, or the per-op launch cost of eager PyTorch
  when the net is too small to fill the GPU, whichever is larger; an inference step the same with factor 1;
- plus, per sample, ``SAMPLE_OVERHEAD_S + input_bytes / HOST_BYTES_PER_S`` (the data loaders run in the main
  process, ``num_workers=0``: Python indexing, dtype conversion, collate and the copy to the GPU are serial;
  inputs resident on the GPU, :meth:`mer_utils.training.ClipDataset.resident`, pay no host bytes);
- plus preprocessing on the CPU (frames read and aligned, detectors, flows, magnification) split over
  ``PREP_WORKERS`` processes — counted in the GPU-hours because the GPU is held meanwhile.

Memory: GPU = CUDA context + weights and optimiser state (4 bytes x (parameters + 3 x trainable)) + batch x
the forward's saved outputs (float32); host = the arrays a notebook holds at its largest stage. Disk = the
preprocessing caches as the cache writes them today (one uncompressed ``.npz`` per clip, plus a memory-mapped
``.npy`` stack of the whole set when it exceeds :data:`mer_utils.preprocess.prepare.MEMMAP_BYTES`), the
checkpoints as each pipeline saves them (``state_dict`` per fold: frozen parts included) and the result store.
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

GB = 1e9
#: H100 SXM dense bf16/fp16 tensor-core peak (NVIDIA datasheet, without sparsity), FLOP/s.
H100_BF16_DENSE_PEAK = 989e12
#: Sustained fraction of that peak. The course's nets are small convnets (0.2-6 GFLOP per sample, batch 4-64)
#: trained with autocast (``TrainConfig.amp``) in eager PyTorch: small kernels, BatchNorm and element-wise ops
#: that are memory-bound, no ``torch.compile``. 5 % is the conservative end of the 5-15 % such models reach.
UTILISATION = 0.05
#: The throughput the plan assumes: ~49 TFLOP/s.
EFFECTIVE_FLOP_PER_S = UTILISATION * H100_BF16_DENSE_PEAK
#: Forward + backward = 3 forwards (the backward computes gradients of inputs and weights: 2x the forward).
TRAIN_FLOP_FACTOR = 3
#: CPU cost of one eager aten op (dispatch + kernel launch), seconds: the floor of a step for tiny nets.
OP_OVERHEAD_S = 10e-6
#: Python cost of one dataset item (``ClipDataset.__getitem__`` through a lambda, collate): issue 20 measured
#: 50-125 us per frame for She et al.'s frame loader; the low end.
SAMPLE_OVERHEAD_S = 50e-6
#: The same for in-memory array inputs sliced a batch at a time (``ClipDataset`` over an array or tensor: one
#: gather per batch, no per-item Python), per sample: an estimate (a batch gather of 64 items costs ~100 us).
SLICED_SAMPLE_OVERHEAD_S = 2e-6
#: Effective single-threaded rate of host copies per input byte (float conversion, ``torch.stack``, pageable
#: host-to-device copy), bytes/s.
HOST_BYTES_PER_S = 4e9
#: Preprocessing, per source frame read: JPEG decode of a 640x480 frame + landmark alignment warp (seconds).
FRAME_READ_S = 4e-3
#: Face detection once per clip (REFERENCE.md §5: dlib HOG 11-50 ms per image; Haar about 20 ms) + 68 landmarks.
DETECT_S = 0.05
#: TV-L1 flow per 128x128 pair (REFERENCE.md §5: about 110 ms; Farneback about 2 ms), scaled with the area.
TVL1_S_128 = 0.110
FARNEBACK_S_128 = 0.002
#: Eulerian magnification (Laplacian pyramid + IIR band-pass) per 224x224 frame per factor (estimate).
MAGNIFY_S_224 = 2e-3
#: Processes ``prepare`` runs on the GPU machine (16 cores there).
PREP_WORKERS = 8
#: GPU memory of the H100 the plan prices (GB): what :func:`mer_utils.training.place_inputs` is asked about.
H100_MEMORY_GB = 80.0
#: CUDA context and allocator slack on the GPU; the notebook kernel with torch imported on the host (GB).
CUDA_CONTEXT_GB = 0.6
PROCESS_HOST_GB = 1.5
#: Result store per fold (predictions, history, fold.json), bytes.
RESULT_BYTES_PER_FOLD = 64e3
#: Bytes per pixel of the synthetic set's JPEG frames, measured on the quick CASME II set (10.3 KB per
#: 256x192 colour frame); SMIC's raw frames are BMP (3 bytes per pixel).
JPEG_BYTES_PER_PIXEL = 0.21
#: FER2013 "Training" share (28,709 of 35,887 images), used by AMAN's pretraining.
FER_TRAIN_FRACTION = 28709 / 35887

#: Notebook parameters of the standard cell that are no profile setting.
_STANDARD = ("DATA_ROOT", "PROFILE", "SEED", "DEVICE")


# ================================================================================================ model profiles
@dataclass(frozen=True)
class ModelProfile:
    """One sample through a model: forward FLOPs, aten ops, bytes of the forward's outputs (what autograd keeps,
    float32), parameters (all / trainable) and the bytes of its ``state_dict`` (float32 parameters + buffers)."""

    flops: float
    ops: int
    activation_bytes: float
    params: int
    trainable: int
    state_bytes: int
    saved_bytes: int = 0  # what a checkpoint holds: the state without the frozen sub-modules (trained_state_dict)


def profile_model(build: Callable[[], Any], shape: tuple, dtype: Any = None) -> ModelProfile:
    """Build the model on the ``meta`` device and run one sample of ``shape`` (batch dimension included, 1)
    through it under :class:`~torch.utils.flop_counter.FlopCounterMode` (FLOPs = 2 x multiply-adds) and an op
    counter. No memory is allocated and nothing is computed, so a 100-GFLOP model costs milliseconds."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    class Counter(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops, self.bytes = 0, 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if not getattr(func, "is_view", False):
                self.ops += 1
                for t in (out if isinstance(out, (tuple, list)) else (out,)):
                    if isinstance(t, torch.Tensor):
                        self.bytes += t.numel() * 4
            return out

    with torch.device("meta"):
        model = build()
    model.eval()
    x = torch.empty(shape, device="meta", dtype=dtype or torch.float32)
    counter = Counter()
    with torch.no_grad(), FlopCounterMode(display=False) as flops, counter:
        model(x)
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    state = sum(t.numel() * 4 for t in model.state_dict().values())
    from .training.checkpoints import trained_state_dict

    saved = sum(t.numel() * 4 for t in trained_state_dict(model).values())
    return ModelProfile(float(flops.get_total_flops()), counter.ops, float(counter.bytes), params, trainable, state,
                        saved)


# ================================================================================================ stages, costs
@dataclass
class Stage:
    """One step of a notebook: seconds on the GPU machine, peak GPU / host bytes while it runs, bytes written."""

    name: str
    seconds: float = 0.0
    gpu_bytes: float = 0.0
    host_bytes: float = 0.0
    disk_bytes: float = 0.0
    detail: str = ""

    def absorb(self, other: "Stage", detail: str = "") -> "Stage":
        """Add the run ``other`` to this group of runs made one after another: seconds and disk summed, GPU and
        host memory the peak of one run; ``detail`` (one run's line) appended to this stage's, ``"; "``-separated.
        Returns this stage."""
        self.seconds += other.seconds
        self.gpu_bytes = max(self.gpu_bytes, other.gpu_bytes)
        self.host_bytes = max(self.host_bytes, other.host_bytes)
        self.disk_bytes += other.disk_bytes
        if detail:
            self.detail = (self.detail + "; " if self.detail else "") + detail
        return self


@dataclass
class NotebookPlan:
    notebook: str
    stages: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    kind: str = "notebook"

    def row(self) -> dict:
        """The JSON object of this notebook: ``notebook``, ``gpu_hours``, ``gpu_gb``, ``host_gb``, ``disk_gb``
        (GPU-hours and disk summed over the stages; memory the peak of one stage), plus ``kind`` and ``stages``."""
        gpu = max([s.gpu_bytes for s in self.stages] + [0.0])
        return {"notebook": self.notebook, "kind": self.kind,
                "gpu_hours": round(sum(s.seconds for s in self.stages) / 3600, 3),
                "gpu_gb": round((gpu + CUDA_CONTEXT_GB * GB) / GB, 2) if gpu else 0.0,
                "host_gb": round((max([s.host_bytes for s in self.stages] + [0.0]) + PROCESS_HOST_GB * GB) / GB, 2),
                "disk_gb": round(sum(s.disk_bytes for s in self.stages) / GB, 2),
                "stages": [{**asdict(s), "hours": round(s.seconds / 3600, 3)} for s in self.stages],
                "notes": list(self.notes)}


def train_stage(name: str, model: ModelProfile, *, epochs: int, batch: int, train_samples: float,
                eval_samples: float = 0.0, input_bytes: float = 0.0, folds: int = 1, checkpoint: bool = False,
                optimizer_states: int = 2, per_sample_extra_s: float = 0.0, host_bytes: float = 0.0,
                extra_disk: float = 0.0, sliced: bool = False, resident_bytes: float = 0.0) -> Stage:
    """A training run: ``train_samples`` = samples trained per epoch **summed over the folds** (LOSO: N x (S - 1)),
    ``eval_samples`` = samples predicted over the whole run (test sets, per-epoch tracking, feature extraction).

    seconds = epochs x (train_samples / batch) x max(3 B F / EFFECTIVE_FLOP_PER_S, 3 ops OP_OVERHEAD_S)
            + (eval_samples / batch) x max(B F / EFFECTIVE_FLOP_PER_S, ops OP_OVERHEAD_S)
            + (epochs x train_samples + eval_samples) x (SAMPLE_OVERHEAD_S (SLICED_SAMPLE_OVERHEAD_S when
              ``sliced``: array inputs gathered a batch at a time) + input_bytes / HOST_BYTES_PER_S (0 when the
              inputs are resident on the GPU: gathered and converted there, at its memory bandwidth)
              + per_sample_extra_s)
    GPU bytes = 4 (parameters + (1 + optimizer_states) trainable) + batch x activation bytes + ``resident_bytes``
    (inputs kept on the GPU, :meth:`mer_utils.training.ClipDataset.resident`; they imply ``sliced``);
    disk = folds x (checkpoint bytes, the trained parameters only, if the pipeline saves each fold's model)
           + result store + ``extra_disk``.
    """
    step_train = max(TRAIN_FLOP_FACTOR * batch * model.flops / EFFECTIVE_FLOP_PER_S,
                     TRAIN_FLOP_FACTOR * model.ops * OP_OVERHEAD_S)
    step_eval = max(batch * model.flops / EFFECTIVE_FLOP_PER_S, model.ops * OP_OVERHEAD_S)
    sliced = sliced or resident_bytes > 0
    host_copy = 0.0 if resident_bytes > 0 else input_bytes / HOST_BYTES_PER_S
    per_sample = (SLICED_SAMPLE_OVERHEAD_S if sliced else SAMPLE_OVERHEAD_S) + host_copy + per_sample_extra_s
    seconds = (epochs * train_samples / batch * step_train + eval_samples / batch * step_eval
               + (epochs * train_samples + eval_samples) * per_sample)
    gpu = 4 * (model.params + (1 + optimizer_states) * model.trainable) + batch * model.activation_bytes + resident_bytes
    saved = (model.saved_bytes or model.state_bytes) if checkpoint else 0  # trained parameters only
    disk = folds * (saved + RESULT_BYTES_PER_FOLD) + extra_disk
    flop = TRAIN_FLOP_FACTOR * epochs * train_samples * model.flops + eval_samples * model.flops
    return Stage(name, seconds, gpu, host_bytes, disk,
                 f"{folds} fold(s), {epochs} epochs x {train_samples:,.0f} samples, batch {batch}, "
                 f"{model.flops / 1e9:.3g} GFLOP/sample, {flop:.2e} FLOP"
                 + (f", checkpoints {saved / 1e6:.0f} MB/fold" if checkpoint else "")
                 + (f", inputs resident on the GPU ({resident_bytes / 1e9:.2f} GB)" if resident_bytes else ""))


def _nbytes(shape, dtype) -> int:
    import numpy as np

    return int(np.prod(shape)) * np.dtype(dtype).itemsize


def cache_stage(name: str, recipe: str, params: Mapping, clips: int, seconds_per_clip: float,
                host: bool = True) -> Stage:
    """``prepare(recipe, ...)`` over ``clips`` clips: per-clip ``.npz`` entries (uncompressed), or, when the set
    exceeds ``MEMMAP_BYTES``, the memory-mapped stack with slim entries pointing into it (one copy on disk, the
    stack only while it is written twice); in memory when it does not."""
    from .papers import get_recipe
    from .preprocess.prepare import MEMMAP_BYTES

    rec = get_recipe(recipe)
    per_clip = sum(_nbytes(s, d) for s, d in rec.outputs(rec.params(dict(params), profile="full")).values())
    total = per_clip * clips
    mm = total > MEMMAP_BYTES
    return Stage(name, clips * seconds_per_clip / PREP_WORKERS, 0.0, 0.0 if mm or not host else total,
                 total,
                 f"{clips} clips x {per_clip / 1e6:.2f} MB ({'memory-mapped stack, slim npz' if mm else 'npz'})")


# ================================================================================================ data
@functools.lru_cache(maxsize=None)
def planned() -> Any:
    from .data.synthetic.gt import planned_table

    return planned_table("paper")


@functools.lru_cache(maxsize=None)
def protocol_table(name: str):
    """The paper-size clip table of protocol ``name`` (planned, not generated)."""
    from .data.protocols import apply_protocol

    return apply_protocol(name, planned(), warn=False)[0]


def loso_train(table) -> tuple[int, int]:
    """(folds, training samples summed over the LOSO folds = N x (S - 1))."""
    n, s = len(table), table["subject_uid"].nunique()
    return s, n * (s - 1)


def source_frames(table) -> float:
    return float(table["n_frames"].sum())


# ================================================================================================ settings
def notebook_settings(notebook: str | Path, profile: str = "full", params: Mapping | None = None) -> dict:
    """The profile's settings of ``notebook`` (read from its source), with notebook ``params`` (``{"EPOCHS": 10}``)
    applied through the ``resolve_profile`` call's keywords (``K`` -> ``ceiling``); ``None`` keeps the profile's."""
    from .validate import profile_tables

    tables = profile_tables(notebook)
    if not tables:
        return {}
    table, mapping = tables[0]
    if profile not in table:
        raise ValueError(f"{Path(notebook).name} defines no settings for profile {profile!r}.")
    settings = dict(table[profile])
    for name, value in (params or {}).items():
        if name in _STANDARD or value is None:
            continue
        if name not in mapping:
            raise ValueError(f"{Path(notebook).name}: parameter {name!r} sets no profile setting; the plan reads "
                             f"{sorted(mapping)}.")
        settings[mapping[name]] = value
    return settings


def plan(profile: str = "full", notebooks: list | None = None, params: Mapping | None = None,
         include_data: bool | None = None) -> list[dict]:
    """The plan: one object per notebook (``notebook``, ``gpu_hours``, ``gpu_gb``, ``host_gb``, ``disk_gb``,
    ``kind``, ``stages``, ``notes``), the synthetic data generation (``kind="data"``; when the whole course is
    planned), and a last object ``notebook="total"`` (``kind="total"``): GPU-hours and disk summed over the rows,
    GPU and host memory their maximum (notebooks run one after another)."""
    from .config import check_profile
    from .course import resolve_notebooks
    from .plan_notebooks import ESTIMATORS, synthetic_data

    check_profile(profile)
    if profile != "full":
        raise ValueError(f"plan: profile {profile!r} — the cost plan models PROFILE='full' on the paper-size data "
                         "(what needs a GPU machine); the 'ci' and 'quick' profiles run the small CPU data in minutes "
                         "(README: 'Two commands'). Use --profile full.")
    chosen = resolve_notebooks(notebooks)
    # as `course run`: with several notebooks a parameter goes to those that declare it (an error when none does)
    from .course import plan_parameters

    routed = plan_parameters(chosen, dict(params or {}), profile) if params else {nb: {} for nb in chosen}
    rows = []
    if include_data if include_data is not None else not notebooks:
        rows.append(synthetic_data(profile).row())
    for nb in chosen:
        slug = nb.stem
        estimator = ESTIMATORS.get(slug.split("_", 1)[0])
        settings = notebook_settings(nb, profile, {k: v for k, v in routed[nb].items() if k != "PROFILE"})
        plan_ = estimator(slug, settings) if estimator else NotebookPlan(slug, notes=["no estimator: no cost"])
        rows.append(plan_.row())
    rows.append(total_row(rows))
    return rows


def total_row(rows: list[dict]) -> dict:
    """Sum of GPU-hours and disk, maximum of the memories."""
    rows = [r for r in rows if r.get("kind") != "total"]
    return {"notebook": "total", "kind": "total",
            "gpu_hours": round(sum(r["gpu_hours"] for r in rows), 3),
            "gpu_gb": max([r["gpu_gb"] for r in rows] + [0.0]),
            "host_gb": max([r["host_gb"] for r in rows] + [0.0]),
            "disk_gb": round(sum(r["disk_gb"] for r in rows), 2)}


#: The issue 20 targets for the whole ``full`` course on paper-size data.
TARGETS = {"gpu_hours": 24.0, "gpu_gb": 70.0, "host_gb": 64.0, "disk_gb": 40.0}


def format_table(rows: list[dict], markdown: bool = True) -> str:
    """The plan as a Markdown table (``!`` marks a total over its target)."""
    head = "| notebook | GPU-hours (H100) | GPU GB | host GB | disk GB |\n|---|---:|---:|---:|---:|"
    lines = [head]
    for r in rows:
        cells = []
        for key in ("gpu_hours", "gpu_gb", "host_gb", "disk_gb"):
            v = r[key]
            text = f"{v:.1f}" if key != "gpu_hours" else f"{v:.2f}"
            if r["kind"] == "total" and v > TARGETS[key]:
                text += f" ! (target {TARGETS[key]:g})"
            cells.append(f"**{text}**" if r["kind"] == "total" else text)
        name = f"**{r['notebook']}**" if r["kind"] == "total" else r["notebook"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    out = "\n".join(lines)
    return out if markdown else out.replace("**", "")


def format_stages(rows: list[dict]) -> str:
    """Each notebook's stages (hours, GPU / host GB, disk GB and how they were computed)."""
    lines = []
    for r in rows:
        if r["kind"] == "total":
            continue
        lines.append(f"{r['notebook']}:")
        for s in r.get("stages", []):
            lines.append(f"  {s['name']:<28} {s['hours']:8.2f} h  gpu {s['gpu_bytes'] / GB:6.2f} GB  host "
                         f"{s['host_bytes'] / GB:6.2f} GB  disk {s['disk_bytes'] / GB:7.2f} GB  {s['detail']}")
        for n in r.get("notes", []):
            lines.append(f"  note: {n}")
    return "\n".join(lines)


README_START, README_END = "<!-- plan-table:start -->", "<!-- plan-table:end -->"


def update_readme(path: str | Path | None = None, profile: str = "full") -> str:
    """Regenerate the plan's table in the README (between :data:`README_START` and :data:`README_END`):
    ``python -m mer_utils.plan --update-readme``. Returns the table."""
    from .paths import repo_path

    path = Path(path) if path else repo_path("README.md")
    text = path.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{path} has no {README_START} ... {README_END} block to fill.")
    table = format_table(plan(profile))
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    path.write_text(f"{head}{README_START}\n{table}\n{README_END}{tail}")
    return table


def plan_line(notebook: str, profile: str, params: Mapping | None = None) -> str:
    """The notebook's own line of the plan, printed before it trains (one call in a code cell:
    ``plan.print_plan(NOTEBOOK, PROFILE, globals())``). ``params``: the notebook's namespace or parameters;
    only the UPPER_CASE names its ``resolve_profile`` call maps to settings are applied. The plan models the
    ``full`` profile on the paper-size data; for the CPU profiles the line says so and costs nothing."""
    from .config import check_profile
    from .course import resolve_notebooks
    from .validate import profile_tables

    check_profile(profile)
    nb = resolve_notebooks([notebook])[0]
    if profile != "full":
        return (f"plan: PROFILE={profile!r} runs on the CPU-sized data (the plan covers PROFILE='full': "
                f"python -m mer_utils.course plan --profile full --notebook {nb.stem.split('_', 1)[0]})")
    tables = profile_tables(nb)
    mapping = tables[0][1] if tables else {}
    chosen = {k: v for k, v in (params or {}).items() if k in mapping and v is not None}
    row = plan(profile, [nb.stem], chosen, include_data=False)[0]
    return (f"plan ({nb.stem}, PROFILE='full', one H100, paper-size data): {row['gpu_hours']:.2f} GPU-hours, "
            f"GPU {row['gpu_gb']:.1f} GB, host {row['host_gb']:.1f} GB, disk {row['disk_gb']:.1f} GB "
            f"(targets for the whole course: {TARGETS['gpu_hours']:g} h, {TARGETS['gpu_gb']:g} / "
            f"{TARGETS['host_gb']:g} / {TARGETS['disk_gb']:g} GB)"
            + "".join(f"; note: {n}" for n in row.get("notes", [])))


def print_plan(notebook: str, profile: str, params: Mapping | None = None) -> str:
    """Print (and return) :func:`plan_line`."""
    line = plan_line(notebook, profile, params)
    print(line)
    return line


__all__ = ["plan_line", "print_plan", "ModelProfile", "profile_model", "Stage", "NotebookPlan", "train_stage", "cache_stage", "plan",
           "total_row", "format_table", "format_stages", "notebook_settings", "protocol_table", "loso_train",
           "TARGETS", "EFFECTIVE_FLOP_PER_S", "H100_BF16_DENSE_PEAK", "UTILISATION", "update_readme"]


if __name__ == "__main__":  # pragma: no cover
    import sys

    if sys.argv[1:] != ["--update-readme"]:
        sys.exit("usage: python -m mer_utils.plan --update-readme   (the table: python -m mer_utils.course plan)")
    print(update_readme())
