"""The CAS(ME)² layout: long videos ``rawpic/s15/15_0101disgustingteeth/imgN.jpg`` with several expressions
each, and ``CAS(ME)^2code_final.xlsx``."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from .. import aus as A
from .. import plan as P
from ..render import ClipRenderer, draw_nuisance
from .common import Context, distractor, gt_record, imwrite, micro_event, mkdir, save_gt, write_gt_index, write_xlsx


CASME_SQ_STIMULUS = {"disgust": ("disgust", "negative", ["disgust"]),
                     "anger": ("anger", "negative", ["anger", "angry"]),
                     "happy": ("happiness", "positive", ["happy", "happy", "happyiness"])}


def apportion(total: int, weights: dict) -> dict:
    """Split ``total`` into integer parts proportional to ``weights`` (largest-remainder method)."""
    keys = list(weights)
    w = np.array([float(weights[k]) for k in keys])
    exact = total * w / w.sum()
    parts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - parts), kind="stable")[:total - int(parts.sum())]:
        parts[i] += 1
    return dict(zip(keys, parts.tolist()))


def casme_sq_counts(rng, subjects: list, videos: list, clips: dict, micro_total: int, long_videos: int):
    """Micro- and macro-expression counts per (subject, eliciting video) for the paper-size CAS(ME)² set.

    ``clips[stimulus]`` expressions per stimulus (the 3D-CNN paper's 94 happy / 76 anger / 36 disgust), of which
    ``micro_total`` (57) are micro-expressions, split over the stimuli in proportion; they fall in
    ``long_videos`` (87) (subject, video) pairs, also split in proportion, each pair with at least one
    expression and every subject with at least one video. Returns ``(micro, macro)`` dicts keyed by
    ``(subject, video)`` (zero for the pairs without a video).
    """
    by_stim: dict = defaultdict(list)
    for v in videos:
        by_stim[v.rstrip("0123456789")].append(v)
    unknown = sorted(set(clips) - set(by_stim))
    if unknown:
        raise ValueError(f"CAS(ME)² clip totals for stimuli {unknown} without an eliciting video in {videos}.")
    if not len(subjects) <= long_videos <= sum(clips.values()):
        raise ValueError(f"CAS(ME)²: {long_videos} long videos cannot hold {sum(clips.values())} expressions of "
                         f"{len(subjects)} subjects; expected subjects <= long_videos <= expressions.")
    n_micro = apportion(micro_total, clips)
    n_pairs = apportion(long_videos, clips)
    chosen = {}
    for stim in clips:
        pool = [(s, v) for s in subjects for v in by_stim[stim]]
        k = min(n_pairs[stim], clips[stim], len(pool))
        chosen[stim] = [pool[i] for i in sorted(rng.choice(len(pool), size=k, replace=False))]
    for s in subjects:  # every subject watched something that made it move
        if any(p[0] == s for pairs in chosen.values() for p in pairs):
            continue
        per_subject = defaultdict(int)
        for pairs in chosen.values():
            for p in pairs:
                per_subject[p[0]] += 1
        stim = max(chosen, key=lambda k: len(chosen[k]))
        j = next(i for i, p in enumerate(chosen[stim]) if per_subject[p[0]] > 1)
        chosen[stim][j] = (s, by_stim[stim][int(rng.integers(len(by_stim[stim])))])
    micro = {(s, v): 0 for s in subjects for v in videos}
    macro = dict(micro)
    for stim, pairs in chosen.items():
        per_pair = 1 + rng.multinomial(clips[stim] - len(pairs), np.full(len(pairs), 1.0 / len(pairs)))
        slots = np.repeat(np.arange(len(pairs)), per_pair)
        is_micro = np.zeros(len(slots), dtype=bool)
        is_micro[rng.choice(len(slots), size=n_micro[stim], replace=False)] = True
        for i, pair in enumerate(pairs):
            micro[pair] = int(is_micro[slots == i].sum())
            macro[pair] = int((~is_micro[slots == i]).sum())
    return micro, macro


def plan_casme_sq(ctx: Context) -> list:
    """Video plans of CAS(ME)² (30 fps long videos ``rawpic/sNN/NN_CODEtitle``), each with several expressions."""
    spec = ctx.sizes["casme_sq"]
    fps = 30.0
    subjects = list(spec.subjects)
    videos = list(spec.extra["videos"])
    if "micro_per_video" in spec.extra:
        micro = {(s, v): int(spec.extra["micro_per_video"]) for s in subjects for v in videos}
        macro = {(s, v): int(spec.extra.get("macro_per_video", 1)) for s in subjects for v in videos}
    else:  # the paper's class totals by eliciting video, spread over subjects and long videos
        micro, macro = casme_sq_counts(P.rng_for(ctx.seed, "casme_sq", "counts"), subjects, videos,
                                       spec.extra["clips"], int(spec.extra["micro_total"]),
                                       int(spec.extra["long_videos"]))
    out = []
    for si, s in enumerate(subjects):
        for v in videos:
            if micro[(s, v)] + macro[(s, v)] == 0:
                continue  # this subject showed nothing while watching this video: no folder, no rows
            code, title = P.CASME_SQ_VIDEOS[v]
            stim = v.rstrip("0123456789")
            canonical, category, reports = CASME_SQ_STIMULUS[stim]
            rng = P.rng_for(ctx.seed, "casme_sq", s, v)
            identity = f"casme_sq/s{s:02d}"
            kinds = ["micro"] * micro[(s, v)] + ["macro"] * macro[(s, v)]
            rng.shuffle(kinds)
            t = spec.tails[0]
            exprs, distractors = [], []
            for kind in kinds:
                tokens, intens, cls, ev, n, apex_off = micro_event(rng, ctx, identity, canonical, fps,
                                                                    macro=(kind == "macro"), start_s=t)
                if kind == "macro":
                    ev.hold = float(rng.uniform(0.1, 0.5))
                    ev.offset += ev.hold
                    n += int(round(ev.hold * fps))
                if kind == "micro":
                    d = distractor(rng, ctx, identity, ev, tokens)
                    if d is not None:
                        distractors.append(d)
                true = tuple(1 + int(round(x * fps)) for x in (ev.onset, ev.apex, ev.offset))
                on, ap, off = P.annotate(true, P.annotation_jitter(rng, fps), 1, 10**9)
                exprs.append({"kind": kind, "tokens": tokens, "intensities": intens, "objective_class": cls,
                              "event": ev, "onset": on, "apex": ap, "offset": off,
                              "self_report": str(rng.choice(reports))})
                t = ev.offset + float(rng.uniform(0.6, 1.4))
            n_frames = int(round((t + 1.0) * fps))
            out.append({"subject": s, "participant": si + 1, "video": v, "code": code, "title": title,
                        "folder": f"{s}_{code}{title}", "canonical": canonical, "category": category,
                        "identity": identity, "subject_index": si, "fps": fps, "n_frames": n_frames,
                        "expressions": exprs, "distractors": distractors,
                        "nuisance": draw_nuisance(rng, n_frames / fps),
                        "seed": int(rng.integers(2**31))})
    # Quirk: an unknown offset written as 0 (one macro-expression row).
    for vid in out:
        macros = [e for e in vid["expressions"] if e["kind"] == "macro"]
        if macros:
            macros[0]["offset_cell"] = 0
            break
    return out


def write_casme_sq(ctx: Context) -> list:
    """CAS(ME)²: ``rawpic/sNN/NN_CODEtitle/imgN.jpg`` and ``CAS(ME)^2code_final.xlsx``."""
    spec = ctx.sizes["casme_sq"]
    videos = plan_casme_sq(ctx)
    base = ctx.folder("casme_sq")
    bar = ctx.bar(len(videos), "CAS(ME)^2")
    code_rows = []
    for vid in videos:
        subj = ctx.subject(vid["identity"], vid["subject_index"], spec.frame, spec.face)
        events = [e["event"] for e in vid["expressions"]] + vid["distractors"]
        r = ClipRenderer(subj, events, vid["nuisance"], vid["fps"], vid["n_frames"], vid["seed"])
        out = mkdir(base / "rawpic" / f"s{vid['subject']}" / vid["folder"])
        for i, frame in r.frames():
            imwrite(out / f"img{i + 1}.jpg", frame, vid["nuisance"].jpeg_quality)
        ctx.stats["frames"] += vid["n_frames"]
        for k, e in enumerate(sorted(vid["expressions"], key=lambda e: e["onset"]), start=1):
            clip = f"{vid['video']}_{k}"
            e["clip"] = clip
            p = P.ClipPlan("casme_sq", f"s{vid['subject']:02d}", f"s{vid['subject']}", clip, vid["category"],
                           vid["canonical"], e["tokens"], e["intensities"], e["objective_class"], vid["fps"], 1,
                           vid["n_frames"], e["onset"], e["apex"], e["offset"], [e["event"]], vid["nuisance"],
                           vid["seed"], vid["identity"], micro=(e["kind"] == "micro"))
            rec = gt_record(ctx, p, r, {"video": vid["video"], "video_folder": f"rawpic/s{vid['subject']}/{vid['folder']}",
                                         "self_report": e["self_report"], "stimulus": vid["video"].rstrip("0123456789"),
                                         "annotated_offset": e.get("offset_cell", e["offset"])})
            save_gt(ctx, "casme_sq", rec, {"video_folder": rec["video_folder"], "stimulus": rec["stimulus"]})
            code_rows.append([vid["participant"], clip, e["onset"], e["apex"], e.get("offset_cell", e["offset"]),
                              A.format_aus(e["tokens"], "casme_sq"), vid["category"],
                              "micro-expression" if e["kind"] == "micro" else "macro-expression", e["self_report"]])
        bar.update()
    bar.close()
    subjects = sorted({(v["participant"], v["subject"]) for v in videos})
    rule1 = [[s, f"s{s}", part] for part, s in subjects]
    rule2 = [[code, name, title] for name, (code, title) in P.CASME_SQ_VIDEOS.items()]
    write_xlsx(base / "CAS(ME)^2code_final.xlsx", [("CASFEcode_final", code_rows), ("naming rule1", rule1),
                                                     ("naming rule2", rule2)])
    write_gt_index(ctx, "casme_sq")
    ctx.plans["casme_sq"] = videos
    return videos
