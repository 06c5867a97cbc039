"""Benchmark of the shared preprocessing: frames per second of each step and clips per second of each recipe,
and (``--clips``) the decode-floor ratios of issue 22.

Run from the repository root::

    # issue 22, one run on the same clips: the decode floor (every frame of each clip's onset..offset decoded once
    # with cv2.imread), a per-frame baseline (detection + 68 landmarks + alignment on every frame), the five
    # recipes with prepare_many (one decode per clip, cold cache) and with five separate prepare calls, as CPU
    # seconds and ratios; then prepare_many's cost for 64 / 128 / 255 clips
    python -m mer_utils.data.synthetic --size paper --root /tmp/mer-paper --datasets casme2
    .venv/bin/python benchmarks/preprocess.py --root /tmp/mer-paper --clips 64,128,255 --steps none

    .venv/bin/python benchmarks/preprocess.py --size quick                 # quick synthetic CASME II layout
    .venv/bin/python benchmarks/preprocess.py --size paper --workers 2     # 255 clips, every recipe
    .venv/bin/python benchmarks/preprocess.py --size paper --recipes she2020,zhao2021 --steps none
    .venv/bin/python benchmarks/preprocess.py --size paper --root /path/to/root   # a DATA_ROOT with CASME2/

Steps are timed on frames of the chosen set (one clip's onset..offset frames); recipes run ``prepare`` into a
fresh temporary cache (cold: every clip computed), then once more (warm: every clip read from the cache). The
paper-size run uses the recipes' paper settings (``--profile full``); ``--profile quick`` uses the notebooks'
quick settings. Results are printed and written as JSON (``--out``, default
``runs/benchmarks/preprocess-<size>.json``).
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

from mer_utils.papers import RECIPES  # noqa: E402
from mer_utils.paths import repo_path  # noqa: E402

ALL_RECIPES = tuple(RECIPES)


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children (the pool workers): unlike wall time
    it does not grow when other programs share the cores."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _rate(fn, frames: int, repeat: int = 3) -> tuple[float, float]:
    """(seconds per call, frames per second), best of ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best, frames / best if best > 0 else float("nan")


def bench_steps(row) -> list[dict]:
    """Per-step throughput on the onset..offset frames of one clip (single core)."""
    import cv2

    from mer_utils.preprocess import faces, flow, magnify, residual, temporal
    from mer_utils.preprocess.align import alignment_transform, warp_frames
    from mer_utils.preprocess.cgpo import cgpo
    from mer_utils.preprocess.clips import clip_segment, read_positions, reduce_factor

    cv2.setNumThreads(1)
    seg = clip_segment(row)
    n = len(seg)
    frames = read_positions(seg, range(n), color=True)
    grey = read_positions(seg, [seg.onset], color=False)[0]
    face = faces.detect_landmarks(grey) or faces.whole_frame_landmarks(grey.shape)
    h, w = frames.shape[1:3]
    out = []

    def add(step, fn, n_frames, note=""):
        sec, fps = _rate(fn, n_frames)
        out.append({"step": step, "frames": n_frames, "seconds": sec, "frames_per_s": fps, "note": note})

    add("decode (full size, colour)", lambda: read_positions(seg, range(n), color=True), n, f"{w}x{h} JPEG")
    m64 = alignment_transform(face.landmarks, 64, "landmarks")
    r = reduce_factor(float(np.linalg.svd(m64[:, :2], compute_uv=False).max()), str(seg.paths[0]))
    add(f"decode (JPEG 1/{r}, grey, for 64 px faces)", lambda: read_positions(seg, range(n), color=False, reduce=r), n)
    add("detect face: haar", lambda: faces.detect_faces(grey, "haar"), 1)
    add("detect face: hog", lambda: faces.detect_faces(grey, "hog"), 1)
    add("68 landmarks (dlib)", lambda: faces.predict_landmarks(grey, face.box), 1)
    m224 = alignment_transform(face.landmarks, 224, "eyes")
    add("align + crop 224 colour", lambda: warp_frames(frames, m224, 224), n)
    aligned = warp_frames(frames, alignment_transform(face.landmarks, (120, 140), "landmarks"), (120, 140))
    add("TIM 120x140x3 -> 64 frames", lambda: temporal.temporal_interpolate(aligned, 64, dtype=np.uint8), 64)
    g128 = [cv2.resize(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), (128, 128)) for a in aligned[:2]]
    add("flow farneback 128x128", lambda: flow.optical_flow(g128[0], g128[1], "farneback"), 1)
    add("flow tvl1 128x128", lambda: flow.optical_flow(g128[0], g128[1], "tvl1"), 1)
    f320 = warp_frames(frames[:6], alignment_transform(face.landmarks, 320, "landmarks"), 320)
    add("ARS + RRS 320x320 (5 key frames)", lambda: (residual.absolute_residual_sum(f320[0], f320[1:]),
                                                      residual.relative_residual_sum(f320[0], f320[1:])), 5)
    add("CGPO 320 -> 10 x 160", lambda: cgpo(f320[0]), 1)
    f224 = warp_frames(frames[:2], m224, 224)
    add("magnify pair 224 (9 factors)", lambda: magnify.magnify_pair(f224[0], f224[1], range(1, 10)), 9)
    return out


def bench_recipes(table, recipes, workers, profile) -> list[dict]:
    from mer_utils.preprocess import prepare
    from mer_utils.preprocess.cache import cache_size

    rows = []
    with tempfile.TemporaryDirectory(prefix="mer-bench-cache-") as tmp:
        os.environ["MER_CACHE_ROOT"] = tmp
        for name in recipes:
            t0, c0 = time.perf_counter(), cpu_seconds()
            cold = prepare(name, table, workers=workers, profile=profile, progress=True)
            t_cold, c_cold = time.perf_counter() - t0, cpu_seconds() - c0
            t0 = time.perf_counter()
            warm = prepare(name, table, workers=workers, profile=profile, progress=False)
            t_warm = time.perf_counter() - t0
            shapes = {k: list(v.shape[1:]) for k, v in cold.arrays.items()}
            rows.append({"recipe": name, "clips": len(table), "workers": cold.report.workers,
                         "cold_seconds": t_cold, "cold_clips_per_s": len(table) / t_cold, "cold_cpu_seconds": c_cold,
                         "warm_seconds": t_warm, "warm_clips_per_s": len(table) / t_warm,
                         "cache_mb": cache_size(name) / 2**20, "faces_detected": cold.report.faces_detected,
                         "fallbacks": len(cold.report.fallbacks), "failed": cold.report.n_failed,
                         "shapes": shapes, "steps": cold.report.step_table().to_dict("records")})
            print(cold.report)
            print(f"  cold {t_cold:.1f} s ({len(table) / t_cold:.2f} clips/s; {c_cold:.1f} CPU s), warm {t_warm:.2f} s, "
                  f"cache {rows[-1]['cache_mb']:.0f} MB\n", flush=True)
        os.environ.pop("MER_CACHE_ROOT", None)
    return rows


def _frames(table) -> list[list[str]]:
    """The frame files each clip's recipes read: its onset..offset segment (the recipes' default)."""
    from mer_utils.preprocess.clips import clip_segment

    return [list(dict.fromkeys(str(p) for p in clip_segment(row).paths)) for _, row in table.iterrows()]


def decode_floor(table) -> tuple[float, int]:
    """(CPU seconds, frames): every frame of every clip's segment decoded once (``cv2.imread``, colour)."""
    import cv2

    cv2.setNumThreads(1)
    files = [p for clip in _frames(table) for p in clip]
    c0 = cpu_seconds()
    for p in files:
        if cv2.imread(p, cv2.IMREAD_COLOR) is None:
            raise RuntimeError(f"cannot decode {p}")
    return cpu_seconds() - c0, len(files)


def per_frame_baseline(table) -> tuple[float, int]:
    """(CPU seconds, frames) of one recipe's worth of a per-frame pipeline as public MER scripts do it: every
    frame decoded, its face detected (dlib HOG) and its 68 landmarks predicted, and the frame aligned and cropped
    (224x224 colour) by its own landmarks."""
    import cv2

    from mer_utils.preprocess import faces
    from mer_utils.preprocess.align import alignment_transform, warp_frames

    cv2.setNumThreads(1)
    files = [p for clip in _frames(table) for p in clip]
    c0 = cpu_seconds()
    for p in files:
        rgb = cv2.cvtColor(cv2.imread(p, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        face = faces.detect_landmarks(grey, method="hog") or faces.whole_frame_landmarks(grey.shape)
        warp_frames(rgb[None], alignment_transform(face.landmarks, 224, "eyes"), 224)
    return cpu_seconds() - c0, len(files)


TENSOR_DEVICE = "auto"  # --tensor-device: the torch path on CUDA when present, else the OpenCV / NumPy reference


def project_cost(table, recipes, profile, workers, together: bool = True, steps: dict | None = None) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of preparing every recipe for ``table`` into a fresh (cold) cache, landmarks
    included: one ``prepare_many`` (``together``) or one ``prepare`` per recipe. ``steps``: filled with the
    reports' seconds per recipe and step."""
    from mer_utils.preprocess import prepare, prepare_many

    with tempfile.TemporaryDirectory(prefix="mer-bench-cache-") as tmp:
        saved = os.environ.get("MER_CACHE_ROOT")
        os.environ["MER_CACHE_ROOT"] = tmp
        try:
            t0, c0 = time.perf_counter(), cpu_seconds()
            if together:
                preps = prepare_many(recipes, table, profile=profile, workers=workers, progress=False,
                                     tensor_device=TENSOR_DEVICE)
            else:
                preps = {name: prepare(name, table, profile=profile, workers=workers, progress=False,
                                       tensor_device=TENSOR_DEVICE) for name in recipes}
            cost = cpu_seconds() - c0, time.perf_counter() - t0
            if steps is not None:
                for name, prep in preps.items():
                    for step, sec in prep.report.seconds.items():
                        steps[f"{name}: {step}"] = steps.get(f"{name}: {step}", 0.0) + sec
            return cost
        finally:
            if saved is None:
                os.environ.pop("MER_CACHE_ROOT", None)
            else:
                os.environ["MER_CACHE_ROOT"] = saved


def bench_ratios(table, sizes, recipes, profile, workers, baseline_clips, separate: bool) -> dict:
    """Issue 22's ratios on the first ``sizes[0]`` clips, then prepare_many's cost for each size."""
    n0 = sizes[0]
    first = table.iloc[:n0]
    out = {"clips": n0, "recipes": list(recipes), "load_average_start": load_average()}
    project_cost(table.iloc[n0:n0 + 1], recipes, profile, workers)  # warm-up: imports and models, not counted
    floor, frames = decode_floor(first)
    base_table = first.iloc[:baseline_clips] if baseline_clips else first
    base, base_frames = per_frame_baseline(base_table)
    base_all = base / base_frames * frames  # per frame, scaled to the clips' frames when measured on fewer clips
    steps: dict = {}
    many, many_wall = project_cost(first, recipes, profile, workers, together=True, steps=steps)
    out["prepare_many_steps_s"] = steps
    out.update(floor_cpu_s=floor, frames=frames, per_frame_baseline_cpu_s=base_all, baseline_frames_measured=base_frames,
               five_per_frame_cpu_s=len(recipes) * base_all, prepare_many_cpu_s=many, prepare_many_wall_s=many_wall)
    if separate:
        sep, sep_wall = project_cost(first, recipes, profile, workers, together=False)
        out.update(separate_prepare_cpu_s=sep, separate_prepare_wall_s=sep_wall)
    out["load_average_end"] = load_average()
    scaling = []
    for n in sizes:
        sub = table.iloc[:n]
        fl, fr = (floor, frames) if n == n0 else decode_floor(sub)  # the first size was measured above
        cpu, wall = (many, many_wall) if n == n0 else project_cost(sub, recipes, profile, workers, together=True)
        scaling.append({"clips": len(sub), "frames": fr, "floor_cpu_s": fl, "prepare_many_cpu_s": cpu,
                        "prepare_many_wall_s": wall, "per_clip_cpu_s": cpu / len(sub), "ratio_to_floor": cpu / fl,
                        "load_average": load_average()})
        print(f"  {len(sub):4d} clips: prepare_many {cpu:7.1f} CPU s ({cpu / len(sub):.2f} per clip, {wall:.0f} s wall), "
              f"decode floor {fl:6.1f} CPU s -> {cpu / fl:.2f}x; load average {load_average()}", flush=True)
    out["scaling"] = scaling
    return out


def print_ratios(r: dict) -> None:
    fl, many = r["floor_cpu_s"], r["prepare_many_cpu_s"]
    k = len(r["recipes"])
    print(f"\n{r['clips']} clips, {r['frames']} frames (onset..offset), CPU seconds "
          f"(load average {r['load_average_start']} -> {r['load_average_end']}):")
    rows = [("decode floor (cv2.imread every frame once)", fl),
            (f"per-frame baseline, one recipe (detect + 68 landmarks + align every frame; measured on "
             f"{r['baseline_frames_measured']} frames)", r["per_frame_baseline_cpu_s"]),
            (f"{k} per-frame pipelines", r["five_per_frame_cpu_s"]),
            (f"{k} recipes, prepare_many (one decode per clip), cold cache", many)]
    if "separate_prepare_cpu_s" in r:
        rows.append((f"{k} recipes, {k} separate prepare calls, cold cache", r["separate_prepare_cpu_s"]))
    for name, v in rows:
        print(f"  {name:100s} {v:8.1f}  {v / fl:6.2f}x floor")
    steps = r.get("prepare_many_steps_s", {})
    total = sum(steps.values()) or 1.0
    print("  prepare_many's steps (share of their summed wall time, from the reports; the decode is 'read' of the "
          "first recipe that reads a clip):")
    for name, sec in sorted(steps.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {name:32s} {100 * sec / total:5.1f}%")
    print(f"  -> {k} recipes together: {many / fl:.2f}x the decode floor; {r['five_per_frame_cpu_s'] / many:.1f}x faster "
          f"than {k} per-frame pipelines" + (f"; {r['separate_prepare_cpu_s'] / many:.2f}x faster than {k} separate "
                                             "prepare calls" if "separate_prepare_cpu_s" in r else ""))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=("quick", "paper"), default="quick", help="synthetic set size")
    ap.add_argument("--dataset", default="casme2", help="dataset layout to load (default casme2)")
    ap.add_argument("--recipes", default=",".join(ALL_RECIPES), help="comma-separated recipes, or 'none'")
    ap.add_argument("--steps", choices=("all", "none"), default="all", help="time the individual steps")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: the cores)")
    ap.add_argument("--profile", choices=("ci", "quick", "full"), default=None,
                    help="recipe settings (default: full for --size paper, quick for --size quick)")
    ap.add_argument("--root", default=None,
                    help="a DATA_ROOT holding the dataset folder (licensed, or a synthetic root made with "
                         "`python -m mer_utils.data.synthetic --size paper --root DIR --datasets casme2`)")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N clips")
    ap.add_argument("--out", default=None, help="JSON output file")
    ap.add_argument("--clips", default=None,
                    help="issue 22's ratios: comma-separated clip counts, e.g. 64,128,255 (the first is compared "
                         "with the decode floor and the per-frame baseline; each is timed for the scaling)")
    ap.add_argument("--baseline-clips", type=int, default=16,
                    help="clips the per-frame baseline is measured on (its cost per frame is scaled to all the "
                         "compared clips; 0 = all of them)")
    ap.add_argument("--no-separate", action="store_true", help="skip the five separate prepare calls")
    ap.add_argument("--tensor-device", default="auto",
                    help="prepare's tensor_device for --clips: 'auto' (CUDA when present, else the reference path), "
                         "'none' (the OpenCV / NumPy reference), 'cuda', 'cpu'")
    args = ap.parse_args(argv)
    global TENSOR_DEVICE
    TENSOR_DEVICE = None if args.tensor_device == "none" else args.tensor_device

    from mer_utils.data import load_dataset

    recipes = [] if args.recipes == "none" else [r.strip() for r in args.recipes.split(",") if r.strip()]
    unknown = sorted(set(recipes) - set(ALL_RECIPES))
    if unknown:
        ap.error(f"unknown recipe(s) {unknown}; expected some of {ALL_RECIPES}")
    profile = args.profile or ("full" if args.size == "paper" else "quick")
    t0 = time.perf_counter()
    if args.root:
        table = load_dataset(args.dataset, data_root=args.root, require_licensed=True)
    else:
        table = load_dataset(args.dataset, synthetic_size=args.size, require_licensed=False)
    if args.limit:
        table = table.iloc[: args.limit]
    print(f"{args.dataset} ({args.size}): {len(table)} clips, {table.attrs.get('source', '?')} data, loaded in "
          f"{time.perf_counter() - t0:.1f} s; {cores()} core(s) available; recipe settings: {profile}\n", flush=True)
    from mer_utils.preprocess.tensor_ops import resolve_tensor_device

    dev = resolve_tensor_device(TENSOR_DEVICE)
    gpu = None
    if dev is not None and dev.type == "cuda":
        import torch

        gpu = torch.cuda.get_device_name(dev)
    print(f"preprocessing path: {'tensor ops on ' + str(dev) + (f' ({gpu})' if gpu else '') if dev else 'OpenCV / NumPy reference (no CUDA)'}")
    result = {"size": args.size, "dataset": args.dataset, "clips": len(table), "cores": cores(),
              "tensor_device": str(dev) if dev else None, "gpu": gpu,
              "load_average_start": load_average(),
              "workers": args.workers, "profile": profile, "machine": platform.platform(),
              "python": platform.python_version()}
    if args.steps == "all":
        steps = bench_steps(table.iloc[0])
        result["steps"] = steps
        print(f"{'step':45s} {'s/call':>9s} {'frames/s':>10s}")
        for s in steps:
            print(f"{s['step']:45s} {s['seconds']:9.4f} {s['frames_per_s']:10.1f}  {s['note']}")
        print(flush=True)
    if args.clips:
        sizes = [min(int(c), len(table)) for c in args.clips.split(",") if c.strip()]
        ratios = bench_ratios(table, sizes, recipes, profile, args.workers if args.workers else 1,
                              args.baseline_clips, not args.no_separate)
        result["ratios"] = ratios
        print_ratios(ratios)
        recipes = []
    if recipes:
        rows = bench_recipes(table, recipes, args.workers, profile)
        result["recipes"] = rows
        print(f"{'recipe':10s} {'clips':>6s} {'workers':>7s} {'cold s':>8s} {'clips/s':>8s} {'CPU s':>8s} "
              f"{'warm s':>7s} {'MB':>7s}")
        for r in rows:
            print(f"{r['recipe']:10s} {r['clips']:6d} {r['workers']:7d} {r['cold_seconds']:8.1f} "
                  f"{r['cold_clips_per_s']:8.2f} {r['cold_cpu_seconds']:8.1f} {r['warm_seconds']:7.2f} "
                  f"{r['cache_mb']:7.0f}")
        total = sum(r["cold_seconds"] for r in rows)
        cpu = sum(r["cold_cpu_seconds"] for r in rows)
        result["total_cold_seconds"], result["total_cold_cpu_seconds"] = total, cpu
        result["load_average_end"] = load_average()
        print(f"\nall recipes, cold: {total:.0f} s wall ({total / 60:.1f} min) for {len(table)} clips; "
              f"{cpu:.0f} CPU s, i.e. about {cpu / cores() / 60:.1f} min on {cores()} idle core(s); "
              f"load average now {load_average()}")
    out = Path(args.out) if args.out else repo_path("runs", "benchmarks", f"preprocess-{args.size}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
