"""The per-notebook estimators of :mod:`mer_utils.plan`: ``ESTIMATORS[NN](slug, settings) -> NotebookPlan``.

Each one follows what its notebook runs today (read the notebook beside it): which preprocessing, which models
at which input shape, how many folds, epochs and runs (main runs, ablations, sweeps), what is held in memory and
what is written. ``settings`` are the notebook's profile settings (:func:`mer_utils.plan.notebook_settings`);
sizes come from the paper-size data plan. Formulas are in :func:`mer_utils.plan.train_stage` and
:func:`mer_utils.plan.cache_stage`; the constants in :mod:`mer_utils.plan`.
"""
from __future__ import annotations

import functools

import pandas as pd

from . import plan as P
from .plan import GB, NotebookPlan, Stage, cache_stage, loso_train, profile_model, protocol_table, train_stage


def _prep_seconds(table, extra_per_clip: float = 0.0, frames: float | None = None) -> float:
    """Seconds per clip of a recipe: detection + every source frame read and aligned + ``extra_per_clip``."""
    n = len(table)
    f = P.source_frames(table) / max(n, 1) if frames is None else frames
    return P.DETECT_S + f * P.FRAME_READ_S + extra_per_clip


# ================================================================================== 10 She et al. 2020
@functools.lru_cache(maxsize=None)
def she_model(scale: float, width: int, blocks: int, branches: tuple, classes: int = 4):
    from .papers.she2020.model import MultipleAggregationNetwork
    from .papers.she2020.pipeline import she_roi_boxes

    h, w = round(140 * scale), round(120 * scale)
    return profile_model(lambda: MultipleAggregationNetwork(she_roi_boxes(scale), branches=branches,
                                                            num_classes=classes, in_channels=3, width=width,
                                                            blocks_per_stage=blocks), (1, 3, h, w))


def she2020(slug: str, s: dict) -> NotebookPlan:
    """She et al.: the frame network is trained on every TIM frame of the training clips (k folds by subject:
    frames x N x (k - 1) per epoch summed over the folds), gathered a batch at a time from one uint8 tensor (a
    second copy of the faces; scaled on the device); the frame features of every clip are extracted in each fold
    (k x N x T inferences) from the same tensor; each fold's model is saved.
    Runs: the fusion, and each branch alone when ``branches_alone``.

    The frame tensor is placed by the pipeline's own rule (:func:`mer_utils.training.place_inputs`, asked here
    about an empty H100: ``H100_MEMORY_GB`` less the CUDA context). Resident on the GPU (the paper-size set,
    ~2 GB, is far under half of 80 GB), a sample costs no host bytes any more — no host gather, no float
    conversion, no copy over the bus — only the per-batch gather (``SLICED_SAMPLE_OVERHEAD_S``) and GPU memory
    for the tensor; the per-sample ``input_bytes / HOST_BYTES_PER_S`` (12.6 us for 140 x 120 x 3) is charged only
    when the tensor stays on the host (pinned batches)."""
    import torch

    from .papers.she2020.model import BRANCHES
    from .training import place_inputs

    table = protocol_table("she2020_4class")
    n, t, k = len(table), int(s["n_frames"]), 5
    if s.get("max_folds"):
        k_run = min(k, int(s["max_folds"]))
    else:
        k_run = k
    h, w = round(140 * s["scale"]), round(120 * s["scale"])
    out = NotebookPlan(slug)
    prep = cache_stage("preprocess she2020", "she2020", {"n_frames": t}, n, _prep_seconds(table))
    faces = n * t * h * w * 3
    prep.host_bytes = max(prep.host_bytes, faces)
    out.stages.append(prep)
    gpu = torch.device("cuda", 0)  # a device, not a name: no GPU is needed to plan
    resident = place_inputs(faces, gpu, available_bytes=(P.H100_MEMORY_GB - P.CUDA_CONTEXT_GB) * GB).resident
    runs = [("fusion", tuple(BRANCHES))] + ([(b, (b,)) for b in BRANCHES] if s["branches_alone"] else [])
    for name, branches in runs:
        m = she_model(float(s["scale"]), int(s["width"]), int(s["blocks_per_stage"]), branches)
        feats = k_run * (n // k + 1) * t * 64 * 4
        out.stages.append(train_stage(
            f"train {name}", m, epochs=int(s["epochs"]), batch=int(s["batch_size"]),
            train_samples=t * n * (k - 1) * k_run / k, eval_samples=k_run * n * t, input_bytes=h * w * 3,
            folds=k_run, checkpoint=True, host_bytes=2 * faces, extra_disk=feats, sliced=True,
            resident_bytes=faces if resident else 0.0))
    out.notes.append("SVM grid search on the clip features (CPU, seconds per fold) not counted")
    return out


# ================================================================================== 20 Peng et al. 2018
AUGMENT_S_224 = 1e-3
"""Per-image CPU augmentation of Peng's stages (rotation +-5 deg, mirror, colour shift) at 224x224 (estimate)."""


@functools.lru_cache(maxsize=None)
def peng_model(size: int):
    from .papers.peng2018.model import ResNet10

    return profile_model(lambda: ResNet10(5, in_channels=1), (1, 1, size, size))


def macro_image_count() -> int:
    """FER2013 images whose emotion maps to an objective class + the last 3 frames of CK+'s labelled sequences."""
    from .data.synthetic.plan import FER2013_COUNTS
    from .papers.peng2018.macro import MACRO_TO_OBJECTIVE

    fer = sum(c for e, c in FER2013_COUNTS.items() if e.lower() in MACRO_TO_OBJECTIVE)
    return fer + 327 * 3


def peng2018(slug: str, s: dict) -> NotebookPlan:
    """Peng et al.: macro stage (``macro_per_class`` x 5 resampled images per epoch, one split, checkpoint saved),
    HDE (2 folds, ``hde_per_class`` x 5 per epoch), CDE (LOSO over MEGC 2018's subjects, every class resampled to
    the largest: about 5 x the largest class per fold and epoch; ``cde_design="separate"`` adds the SAMM-alone and
    CASME II-alone experiments, as many folds again); the ablation repeats HDE and CDE from scratch."""
    from .papers.peng2018.pipeline import cde_resize

    table = protocol_table("megc2018_objective")
    size = int(s["image_size"])
    m = peng_model(size)
    n_macro = macro_image_count()
    out = NotebookPlan(slug)
    macro_host = n_macro * size * size
    out.stages.append(Stage("macro images", n_macro * P.FRAME_READ_S / 4 / P.PREP_WORKERS, 0, macro_host, macro_host,
                            f"{n_macro:,} grey images at {size}px (compressed npz: at most this)"))
    for side in (size, cde_resize(size)):
        out.stages.append(cache_stage(f"preprocess apex {side}px", "peng2018", {"size": (side, side), "crop": "landmarks"},
                                      len(table), _prep_seconds(table, frames=1)))
    common = dict(input_bytes=size * size * 4, per_sample_extra_s=AUGMENT_S_224 * (size / 224) ** 2,
                  host_bytes=macro_host, optimizer_states=1)
    out.stages.append(train_stage("macro stage", m, epochs=int(s["macro_epochs"]), batch=int(s["macro_batch"]),
                                  train_samples=5 * int(s["macro_per_class"]), eval_samples=n_macro // 10,
                                  checkpoint=True, **common))
    folds, _ = loso_train(table)
    largest = int(table["label"].value_counts().max())
    reps = 2 if s["ablation"] else 1
    for r in range(reps):
        tag = "" if r == 0 else " (ablation: scratch)"
        out.stages.append(train_stage("HDE" + tag, m, epochs=int(s["hde_epochs"]), batch=int(s["hde_batch"]),
                                      train_samples=2 * 5 * int(s["hde_per_class"]), eval_samples=len(table),
                                      folds=2, **common))
        per_fold = 5 * largest
        n_folds = folds if s["cde_folds_per_dataset"] is None else 2 * int(s["cde_folds_per_dataset"])
        if s.get("cde_design", "separate") == "separate":  # Tables V-VI: SAMM alone + CASME II alone, as many again
            n_folds *= 2
        out.stages.append(train_stage("CDE" + tag, m, epochs=int(s["cde_epochs"]), batch=int(s["cde_batch"]),
                                      train_samples=n_folds * per_fold, eval_samples=len(table), folds=n_folds,
                                      **common))
    return out


# ================================================================================== 30 Reddy et al. 2019
@functools.lru_cache(maxsize=None)
def reddy_model(name: str, frames: int, kernel: tuple):
    from .papers.reddy2019.model import build_model

    channels, side = (1, 64) if name == "MicroExpSTCNN" else (2, 32)
    return profile_model(lambda: build_model(name, 3, frames, kernel), (1, channels, frames, side, side))


def reddy2019(slug: str, s: dict) -> NotebookPlan:
    """Reddy et al.: Table V = 2 datasets x 3 models x 2 splits (80/20: one fold on 80 %; LOSO: N (S - 1) per
    epoch), the test set predicted after every epoch (Table VIII); Table IX = the kernel grid x ``grid_splits``
    on CAS(ME)² with MicroExpSTCNN (the paper's kernel is already in Table V). SGD with momentum; no checkpoints."""
    from .papers.reddy2019.model import MODEL_NAMES, PAPER_KERNEL_SIZE
    from .papers.reddy2019.pipeline import parse_kernel

    tables = {"smic_hs": protocol_table("reddy2019_smic"), "casme_sq": protocol_table("reddy2019_casme_sq")}
    frames = {"smic_hs": int(s["smic_frames"]), "casme_sq": int(s["casme_sq_frames"])}
    out = NotebookPlan(slug)
    for ds, t in tables.items():
        params = {"n_frames": frames[ds]} if ds == "smic_hs" else {
            "n_frames": frames[ds], "segment": "clip", "temporal": "fixed", "frame_start": 0}
        out.stages.append(cache_stage(f"preprocess {ds}", "reddy2019", params, len(t),
                                      _prep_seconds(t, frames=frames[ds])))
    runs = {(ds, m, sp, tuple(PAPER_KERNEL_SIZE)) for ds in tables for m in MODEL_NAMES for sp in ("random_80_20", "loso")}
    runs |= {("casme_sq", "MicroExpSTCNN", sp, tuple(parse_kernel(k))) for k in s["kernel_grid"] for sp in s["grid_splits"]}
    total = {}
    for ds, model, split, kernel in sorted(runs):
        t = tables[ds]
        m = reddy_model(model, frames[ds], kernel)
        n = len(t)
        if split == "loso":
            folds, train = loso_train(t)
            test = n
            if s.get("max_folds"):
                folds = min(folds, int(s["max_folds"]))
                train, test = train * folds / t["subject_uid"].nunique(), n * folds / t["subject_uid"].nunique()
        else:
            folds, train, test = 1, round(0.8 * n), n - round(0.8 * n)
        st = train_stage(f"{ds} {model} {split}", m, epochs=int(s["epochs"]), batch=int(s["batch_size"]),
                         train_samples=train, eval_samples=int(s["epochs"]) * test, folds=folds,
                         input_bytes=_input_bytes(model, frames[ds]), optimizer_states=1)
        key = "Table V" if kernel == tuple(PAPER_KERNEL_SIZE) else "Table IX"
        total.setdefault(key, Stage(key)).absorb(
            st, f"{ds}/{model}/{split}/{'x'.join(map(str, kernel))}: {st.seconds / 3600:.2f} h")
    out.stages += list(total.values())
    return out


def _input_bytes(model: str, frames: int) -> float:
    return frames * (64 * 64 if model == "MicroExpSTCNN" else 2 * 32 * 32) * 4


# ================================================================================== 40 Zhao et al. 2021
@functools.lru_cache(maxsize=None)
def zhao_model(size: int, cgpo: bool, width_mult, depth_mult, head_channels: int, classes: int):
    from .papers.zhao2021.pipeline import CropNetFactory

    f = CropNetFactory(cgpo=cgpo, width_mult=width_mult, depth_mult=depth_mult, head_channels=head_channels,
                       pretrained=False, channels_last=False)
    return profile_model(lambda: f(classes), (1, 3, size, size))


def zhao2021(slug: str, s: dict) -> NotebookPlan:
    """Zhao et al.: CASME II 5-class LOSO for ARS, RRS, Farneback, TV-L1 and ARS without CGPO (Tables 2, 4);
    MEGC 2019 composite LOSO for ``composite_inputs`` (Table 3) and ARS at every other N_key of ``n_key_grid``
    (Fig. 5); fold models are not kept (``cropnet_loso(save_model=False)``). Preprocessing with both flows for the two
    protocols (one cache entry per clip and parameters), without flows for the N_key variants."""
    casme2, comp = protocol_table("casme2_5class"), protocol_table("megc2019_composite")
    size = int(s["image_size"])
    flow = min(size, 160)
    per_flow = (P.TVL1_S_128 + P.FARNEBACK_S_128) * (flow / 128) ** 2
    out = NotebookPlan(slug)
    union = pd.concat([casme2, comp[~comp["clip_uid"].isin(casme2["clip_uid"])]])  # one cache entry per clip
    base = {"size": (size, size), "n_key": 5, "flows": ("farneback", "tvl1"), "flow_size": flow}
    prep = cache_stage("preprocess (ARS, RRS, flows)", "zhao2021", base, len(union), _prep_seconds(union, per_flow))
    prep.host_bytes = (len(casme2) + len(comp)) * 4 * size * size * 3
    out.stages.append(prep)
    others = [k for k in s["n_key_grid"] if int(k) != 5]
    for n_key in others:  # one prepare (and cache) per N_key, without flows
        out.stages.append(cache_stage(f"preprocess N_key={n_key}", "zhao2021", {**base, "n_key": int(n_key), "flows": ()},
                                      len(comp), _prep_seconds(comp)))
    common = dict(batch=int(s["batch_size"]), input_bytes=3 * size * size, checkpoint=False, sliced=True,
                  host_bytes=prep.host_bytes)
    wm, dm = s.get("width_mult"), s.get("depth_mult")
    for name, table, epochs, runs in (
            ("CASME II 5-class", casme2, int(s["epochs"]), [(True, "ars"), (True, "rrs"), (True, "farneback"),
                                                            (True, "tvl1"), (False, "ars")]),
            ("MEGC 2019 composite", comp, int(s["composite_epochs"]),
             [(True, k) for k in s["composite_inputs"]] + [(True, f"ars N_key={k}") for k in others])):
        classes = int(table["label"].nunique())
        folds, train = loso_train(table)
        if s.get("max_folds"):
            train, folds = train * int(s["max_folds"]) / folds, min(folds, int(s["max_folds"]))
        for cgpo, kind in runs:
            m = zhao_model(size, cgpo, wm, dm, int(s.get("head_channels", 320)), classes)
            out.stages.append(train_stage(f"{name} {kind}{'' if cgpo else ' without CGPO'}", m, epochs=epochs,
                                          train_samples=train, eval_samples=len(table), folds=folds, **common))
    return out


# ================================================================================== 50 Wei et al. 2022
@functools.lru_cache(maxsize=None)
def aman_model(level: str, n: int, k: int, size: int, classes: int):
    from .papers.wei2022.model import AMAN, FEATURE_DIM, TRUNK_CHANNELS, TRUNK_STRIDE

    side = size // TRUNK_STRIDE
    shape = (1, n, k, TRUNK_CHANNELS, side, side) if level == "trunk" else (1, n, k, FEATURE_DIM)
    return profile_model(lambda: AMAN(classes, inputs=level), shape)


@functools.lru_cache(maxsize=None)
def resnet18_model(size: int, what: str):
    from torchvision.models import resnet18

    from .papers.wei2022.model import AMAN

    if what == "trunk":
        return profile_model(lambda: AMAN(1, inputs="trunk").trunk, (1, 3, size, size))
    return profile_model(lambda: resnet18(weights=None, num_classes=7), (1, 3, size, size))


def wei2022(slug: str, s: dict) -> NotebookPlan:
    """Wei et al. (:func:`_wei2022`); ``n_grid`` read as the notebook reads ``N_GRID`` (``"main"``, ``"paper"`` or
    a list). When Fig. 3's n-sweep is not the paper's n = 1..20, a note gives what the paper's sweep would add
    (computed by planning the notebook with it) and what switching it on after this run costs: the bank then holds
    20 frames, so every AMAN run of the notebook is new."""
    from .papers.wei2022.pipeline import PAPER_N_GRID, n_grid

    s = dict(s, n_grid=n_grid(s["n_grid"], int(s["n_frames"])))
    out = _wei2022(slug, s)
    if not set(PAPER_N_GRID) <= set(s["n_grid"]):
        now, paper = out.row(), _wei2022(slug, dict(s, n_grid=list(PAPER_N_GRID))).row()
        swept = [p for p in s.get("n_grid_protocols", s["protocols"]) if p in s["protocols"]]
        main_only = s["n_grid"] == [int(s["n_frames"])]
        what = f"off (n = {s['n_frames']} only)" if main_only else f"partial (n = {s['n_grid']})"
        out.notes.append(f"Fig. 3's n-sweep is {what}; -p N_GRID paper (n = 1..20 on {len(swept)} protocol(s)) adds "
                         f"{paper['gpu_hours'] - now['gpu_hours']:.1f} GPU-h and "
                         f"{paper['disk_gb'] - now['disk_gb']:.1f} GB of disk to this plan; switched on after this run "
                         f"has finished, notebook 50 runs again in full ({paper['gpu_hours']:.1f} GPU-h: every run "
                         f"reads a bank of {max(PAPER_N_GRID)}-frame stacks, written beside this run's)")
    return out


def _wei2022(slug: str, s: dict) -> NotebookPlan:
    """Wei et al.: one magnified stack per protocol at the largest n and every factor; the ResNet-18 backbone
    pretrained on FER2013's training images (kept as 48 px uint8, converted batch by batch at ``pretrain_size``:
    :class:`~mer_utils.papers.wei2022.pipeline.BackboneInputs`); feature banks (float16) of every magnified image,
    all protocols held at once; AMAN runs = main + MA-only + FA-only per protocol, Table 1's ceilings on the
    first protocol, Fig. 3's n per protocol (identical runs counted once: the result store resumes them); the
    main run of the first protocol keeps each fold's trained parameters (the frozen trunk is rebuilt on load)
    for the attention read-out, the other runs keep no model."""
    from .data.synthetic.plan import FER2013_COUNTS

    tables = {p: protocol_table(p) for p in s["protocols"]}
    factors = [float(f) for f in s["factors"]]
    k_for = lambda c: sum(f <= c for f in factors)  # noqa: E731  (the notebook's own rule)
    n_max = max([int(s["n_frames"]), *map(int, s["n_grid"])])
    size, psize, level = int(s["image_size"]), int(s["pretrain_size"]), s["level"]
    out = NotebookPlan(slug)
    images = sum(len(t) for t in tables.values()) * n_max * len(factors)
    recipe = dict(n_frames=n_max, interval=int(s["interval"]), factors=tuple(factors), k=len(factors),
                  size=(size, size), tim_length=int(s["tim_length"]))
    for p, t in tables.items():
        magnify = max(int(s["tim_length"]), n_max) * len(factors) * P.MAGNIFY_S_224 * (size / 224) ** 2
        out.stages.append(cache_stage(f"magnified stacks {p}", "wei2022", recipe, len(t), _prep_seconds(t, magnify)))
    fer = sum(FER2013_COUNTS.values())
    n_train, n_test = round(fer * P.FER_TRAIN_FRACTION), fer - round(fer * P.FER_TRAIN_FRACTION)
    rn = resnet18_model(psize, "full")
    img = 3 * psize * psize * 4
    st = train_stage("pretrain ResNet-18 (FER2013)", rn, epochs=int(s["pretrain_epochs"]), batch=64,
                     train_samples=n_train, eval_samples=n_test, input_bytes=img, checkpoint=True,
                     host_bytes=(n_train + n_test) * 48 * 48 + 3 * 64 * img)  # uint8 set + streamed batches
    out.stages.append(st)
    trunk = resnet18_model(psize, "trunk")
    feat = (256 * (psize // 16) ** 2 if level == "trunk" else 512) * 2
    banks = images * feat
    out.stages.append(Stage("feature banks", images / 32 * max(32 * trunk.flops / P.EFFECTIVE_FLOP_PER_S,
                                                                trunk.ops * P.OP_OVERHEAD_S)
                            + images * (P.SAMPLE_OVERHEAD_S + img / P.HOST_BYTES_PER_S),
                            32 * trunk.activation_bytes + 4 * trunk.params, banks, 0.0,
                            f"{images:,} images through the frozen trunk; banks {banks / GB:.1f} GB float16 in memory"))
    first = s["protocols"][0]
    n0, k0 = int(s["n_frames"]), k_for(s["ceiling"])
    runs = set()
    for p in s["protocols"]:
        runs |= {(p, n0, k0, True, True), (p, n0, k0, True, False), (p, n0, k0, False, True)}
        if p in s.get("n_grid_protocols", s["protocols"]):
            runs |= {(p, int(n), k0, True, True) for n in s["n_grid"]}
    runs |= {(first, n0, k_for(c), True, True) for c in s["ceiling_grid"]}
    groups = {}
    for p, n, k, ma, fa in sorted(runs):
        t = tables[p]
        classes = int(t["label"].nunique())
        m = aman_model(level, n, k, psize, classes)
        folds, train = loso_train(t)
        st = train_stage(f"{p} n={n} k={k}", m, epochs=int(s["epochs"]), batch=int(s["batch_size"]),
                         train_samples=train, eval_samples=len(t), folds=folds,
                         checkpoint=(p, n, k, ma, fa) == (first, n0, k0, True, True),  # attention read-out
                         sliced=True,
                         input_bytes=n * k * feat * 2, optimizer_states=2, host_bytes=banks)
        if (ma, fa) != (True, True):
            group = "Table 3 ablation"
        elif n == n0 and k == k0:
            group = "main runs (Table 2)"
        elif n == n0:
            group = "Table 1 ceilings k"
        else:
            group = "Fig. 3 n-sweep"
        kept = st.disk_bytes > folds * P.RESULT_BYTES_PER_FOLD
        groups.setdefault(group, Stage(group)).absorb(
            st, f"{p} n={n} k={k}{'' if (ma and fa) else (' MA' if ma else ' FA')}: {st.seconds / 3600:.2f} h, "
            + (f"{folds} x {m.saved_bytes / 1e6:.0f} MB checkpoints" if kept else f"{folds} folds"))
    order = ["main runs (Table 2)", "Table 3 ablation", "Table 1 ceilings k", "Fig. 3 n-sweep"]
    out.stages += [groups[g] for g in order if g in groups]
    return out


# ================================================================================== 00, 01, 02, 90 and the data
def datasets(slug: str, s: dict) -> NotebookPlan:
    """Notebook 00 reads and shows clips; detection on the chosen dataset's clips (CPU)."""
    t = P.planned()
    t = t[t["dataset"] == "casme2"]
    return NotebookPlan(slug, [Stage("detection and plots", len(t) * P.DETECT_S / P.PREP_WORKERS,
                                     detail=f"{len(t)} clips, CPU")], ["CPU only"])


def preprocessing(slug: str, s: dict) -> NotebookPlan:
    """Notebook 01 runs every recipe of ``recipes`` with the recipes' ``full`` defaults on CASME II (their cache
    entries differ from the paper notebooks' parameters, so they are written again)."""
    t = P.planned()
    t = t[(t["dataset"] == "casme2")]
    if s.get("max_clips"):
        t = t.head(int(s["max_clips"]))
    out = NotebookPlan(slug, notes=["CPU only"])
    for r in s["recipes"]:
        extra = (P.TVL1_S_128 + P.FARNEBACK_S_128) * (160 / 128) ** 2 if r == "zhao2021" else \
            20 * 9 * P.MAGNIFY_S_224 if r == "wei2022" else 0.0
        out.stages.append(cache_stage(f"recipe {r}", r, {}, len(t), _prep_seconds(t, extra), host=True))
    return out


def evaluation(slug: str, s: dict) -> NotebookPlan:
    """Notebook 02: LBP-TOP features of the MEGC 2019 composite (frames read on the CPU) and a tiny leak demo."""
    t = protocol_table("megc2019_composite")
    return NotebookPlan(slug, [Stage("LBP-TOP + SVM", len(t) * _prep_seconds(t) / P.PREP_WORKERS,
                                     detail=f"{len(t)} clips, CPU")], ["CPU only; the leak demo's tiny net not counted"])


def comparison(slug: str, s: dict) -> NotebookPlan:
    return NotebookPlan(slug, notes=["reads the result store only"])


RENDER_S_PER_FRAME = 0.01
"""Synthetic generator: render + encode one frame (estimate)."""


def synthetic_data(profile: str) -> NotebookPlan:
    """The paper-size synthetic set ``course run --profile full`` writes before the notebooks (not written when
    the licensed data are used): every frame of every planned clip (CAS(ME)²'s long videos once), JPEG at
    :data:`~mer_utils.plan.JPEG_BYTES_PER_PIXEL`, SMIC's BMP at 3 bytes per pixel, FER2013's CSV, CK+'s PNGs."""
    from .data.synthetic.plan import FER2013_COUNTS, size_table

    if profile != "full":
        return NotebookPlan("data (synthetic quick set)", kind="data", notes=["small; not estimated"])
    sizes = size_table("paper")
    t = P.planned()
    from .data.synthetic.gt import DATASET_LAYOUT as layout
    total_bytes, frames = 0.0, 0
    for ds, g in t.groupby("dataset"):
        w, h = sizes[layout[ds]].frame
        per_pixel = 3.0 if ds in ("smic_hs", "smic_vis", "smic_nir") else P.JPEG_BYTES_PER_PIXEL
        n = g.drop_duplicates("video")["last_frame"].sum() if ds == "casme_sq" else g["n_frames"].sum()
        frames += int(n)
        total_bytes += n * w * h * per_pixel
    fer = sum(FER2013_COUNTS.values()) * 48 * 48 * 4
    ck = 593 * 18 * 640 * 490 * 3 * P.JPEG_BYTES_PER_PIXEL
    total_bytes += fer + ck
    return NotebookPlan("data (synthetic paper set)", [Stage(
        "generate", (frames + 593 * 18) * RENDER_S_PER_FRAME / P.PREP_WORKERS, 0, 0, total_bytes,
        f"{frames:,} clip frames + FER2013 CSV + CK+ PNGs; CPU")], ["CPU only; not written with licensed data"],
        kind="data")


ESTIMATORS = {"00": datasets, "01": preprocessing, "02": evaluation, "10": she2020, "20": peng2018,
              "30": reddy2019, "40": zhao2021, "50": wei2022, "90": comparison}
