"""The SMIC layout: ``SMIC_all_raw/{HS,VIS,NIR}/s1/micro/<class>/s1_ne_01/imageN.bmp``, ``SMIC_HS_E/`` and
``SMIC-HS-E_annotation.xlsx``."""
from __future__ import annotations

from collections import defaultdict

import cv2
import numpy as np

from .. import faces as F
from .. import plan as P
from ..render import ClipRenderer, Event, draw_nuisance
from .common import Context, distractor, gt_record, imwrite, micro_event, mkdir, save_gt, write_gt_index, write_xlsx


SMIC_SHORT = {"negative": "ne", "positive": "po", "surprise": "sur"}
SMIC_NEGATIVE = (["disgust", "anger", "fear", "sadness"], [0.35, 0.25, 0.2, 0.2])


def plan_smic(ctx: Context) -> dict:
    """Plans of SMIC-HS (100 fps, and its long-video version HS-E) and VIS / NIR (25 fps, same events)."""
    spec = ctx.sizes["smic"]
    subjects = list(spec.subjects)
    fps = 100.0
    core = [("negative",), ("positive",), ("surprise",)]
    if spec.clips:
        labels = {s: [c[0] for c in P.skewed_labels(P.rng_for(ctx.seed, "smic", "mix", s), i, spec.clips, core, core,
                                                     P.SMIC_HS_EMOTIONS, covered=2)]
                  for i, s in enumerate(subjects)}
    else:  # each subject's real class counts, in a random order
        rng0 = P.rng_for(ctx.seed, "smic", "labels")
        labels = {}
        for s in subjects:
            items = [e for e, n in P.SMIC_HS_CODING[s].items() for _ in range(n)]
            labels[s] = [items[i] for i in rng0.permutation(len(items))]
    # Clips shorter than 18 frames (paper size): SMIC_HS_SHORT[class] clips of that class, chosen at random.
    short = set()
    rng_short = P.rng_for(ctx.seed, "smic", "short")
    for emotion, k in dict(spec.extra.get("short", {})).items():
        pool = [(s, j) for s in subjects for j, e in enumerate(labels[s]) if e == emotion]
        short |= {pool[i] for i in rng_short.choice(len(pool), size=int(k), replace=False)}
    hs, hs_e = [], []
    for si, s in enumerate(subjects):
        counters = defaultdict(int)
        for j, emotion in enumerate(labels[s]):
            counters[emotion] += 1
            clip = f"s{s}_{SMIC_SHORT[emotion]}_{counters[emotion]:02d}"
            identity = f"smic/s{s:02d}"
            rng = P.rng_for(ctx.seed, "smic", clip)
            if emotion == "negative":
                canonical = str(rng.choice(SMIC_NEGATIVE[0], p=SMIC_NEGATIVE[1]))
            else:
                canonical = "happiness" if emotion == "positive" else "surprise"
            is_short = (s, j) in short
            tokens, intens, cls, _, n, apex_off = micro_event(rng, ctx, identity, canonical, fps,
                                                               max_s=spec.extra["short_max_s"] if is_short else None)
            tails = spec.extra["short_tails"] if is_short else spec.tails
            lead = int(round(rng.uniform(*tails) * fps))
            tail = int(round(rng.uniform(*tails) * fps))
            e_lead = int(round(rng.uniform(*spec.extra["e_tails"]) * fps))
            e_tail = int(round(rng.uniform(*spec.extra["e_tails"]) * fps))
            first_e = int(rng.integers(1000, 800000))
            onset = first_e + e_lead + lead
            n_e = e_lead + lead + n + tail + e_tail
            t_on = (e_lead + lead) / fps
            ev = Event(tokens, intens, onset=t_on, apex=t_on + apex_off / fps, offset=t_on + (n - 1) / fps)
            events = [ev] + [e for e in [distractor(rng, ctx, identity, ev, tokens)] if e is not None]
            nz = draw_nuisance(rng, n_e / fps)
            seed = int(rng.integers(2**31))
            on, ap, off = P.annotate((onset, onset + apex_off, onset + n - 1), P.annotation_jitter(rng, fps),
                                     first_e + e_lead, first_e + e_lead + lead + n + tail - 1)
            common = dict(canonical=canonical, tokens=tokens, intensities=intens, objective_class=cls, fps=fps,
                          onset=on, apex=ap, offset=off, nuisance=nz, seed=seed,
                          identity=identity)
            e_plan = P.ClipPlan("smic_hs_e", f"s{s:02d}", f"s{s:02d}", clip, emotion, first_frame=first_e,
                                n_frames=n_e, events=events, extra={"subject_index": si, "subject_number": s},
                                **common)
            raw = P.ClipPlan("smic_hs", f"s{s:02d}", f"s{s}", clip, emotion, first_frame=first_e + e_lead,
                             n_frames=lead + n + tail, events=events, extra={"subject_index": si, "subject_number": s,
                                                                          "e_offset": e_lead}, **common)
            hs_e.append(e_plan)
            hs.append(raw)
    # VIS / NIR: the same events seen by the 25 fps cameras, for a subset of subjects.
    vis_subjects = [s for s in spec.extra.get("vis_subjects", ()) if s in subjects]
    vis, nir = [], []
    for s in vis_subjects:
        mine = [p for p in hs if p.extra["subject_number"] == s]
        if spec.clips:
            want = spec.extra.get("vis_clips", 4)
            chosen, seen = [], set()
            for p in mine:  # one clip of each class first, then the others in order
                if p.emotion not in seen:
                    chosen.append(p)
                    seen.add(p.emotion)
            chosen += [p for p in mine if p not in chosen]
            chosen = sorted(chosen[:want], key=mine.index)
        else:
            n_vis = P.SMIC_VIS_COUNTS.get(s, 0)
            chosen = mine[:n_vis]
        for p in chosen:
            rng = P.rng_for(ctx.seed, "smic_vis", p.clip)
            vfps = 25.0
            t0 = p.extra["e_offset"] / p.fps  # the HS raw window's start, in HS-E seconds
            dur = p.n_frames / p.fps
            n_v = max(4, int(round(dur * vfps)))
            ev_v = [Event(e.tokens, e.intensities, e.onset - t0, e.apex - t0, e.offset - t0) for e in p.events]
            first_v = int(rng.integers(1000, 80000))
            on_v = first_v + int(round(ev_v[0].onset * vfps))
            for name, out in (("smic_vis", vis), ("smic_nir", nir)):
                out.append(P.ClipPlan(name, p.subject, p.folder_subject, p.clip, p.emotion, p.canonical, p.tokens,
                                      p.intensities, p.objective_class, vfps, first_v, n_v, on_v,
                                      first_v + int(round(ev_v[0].apex * vfps)),
                                      first_v + int(round(ev_v[0].offset * vfps)), ev_v,
                                      draw_nuisance(P.rng_for(ctx.seed, name, p.clip), n_v / vfps),
                                      int(rng.integers(2**31)), p.identity, extra=dict(p.extra)))
    return {"smic_hs": hs, "smic_hs_e": hs_e, "smic_vis": vis, "smic_nir": nir}


def write_smic(ctx: Context) -> dict:
    """SMIC: ``SMIC_all_raw/{HS,VIS,NIR}``, ``SMIC_HS_E`` and ``SMIC-HS-E_annotation.xlsx``."""
    spec = ctx.sizes["smic"]
    plans = plan_smic(ctx)
    base = ctx.folder("smic")
    total = len(plans["smic_hs_e"]) + len(plans["smic_vis"]) + len(plans["smic_nir"])
    bar = ctx.bar(total, "SMIC")
    for pe, ph in zip(plans["smic_hs_e"], plans["smic_hs"]):
        subj = ctx.subject(pe.identity, pe.extra["subject_index"], spec.frame, spec.face)
        r = ClipRenderer(subj, pe.events, pe.nuisance, pe.fps, pe.n_frames, pe.seed)
        out_e = mkdir(base / "SMIC_HS_E" / pe.subject / pe.clip)
        out_r = mkdir(base / "SMIC_all_raw" / "HS" / ph.folder_subject / "micro" / ph.emotion / ph.clip)
        for i, frame in r.frames():
            n = pe.first_frame + i
            imwrite(out_e / f"image{n:06d}.jpg", frame, pe.nuisance.jpeg_quality)
            if ph.first_frame <= n <= ph.last_frame:
                imwrite(out_r / f"image{n:06d}.bmp", frame)
        save_gt(ctx, "smic", gt_record(ctx, pe, r))
        # the raw clip's ground truth: same events, frames re-indexed to its window
        rec = gt_record(ctx, pe, r)
        k0 = ph.first_frame - pe.first_frame
        rec.update(dataset="smic_hs", subject_folder=ph.folder_subject, first_frame=ph.first_frame,
                   last_frame=ph.last_frame, n_frames=ph.n_frames, clip_uid=f"smic_hs/{ph.subject}/{ph.clip}",
                   intensity=rec["intensity"][k0:k0 + ph.n_frames], blink=rec["blink"][k0:k0 + ph.n_frames])
        save_gt(ctx, "smic", rec)
        ctx.stats["frames"] += pe.n_frames
        bar.update()
    for name, folder in (("smic_vis", "VIS"), ("smic_nir", "NIR")):
        for p in plans[name]:
            subj = ctx.subject(p.identity, p.extra["subject_index"], spec.frame, spec.face)
            if name == "smic_nir":
                subj = _nir_subject(subj)
            r = ClipRenderer(subj, p.events, p.nuisance, p.fps, p.n_frames, p.seed)
            out = mkdir(base / "SMIC_all_raw" / folder / p.folder_subject / "micro" / p.emotion / p.clip)
            for i, frame in r.frames():
                imwrite(out / f"image{p.first_frame + i:06d}.bmp", frame)
            save_gt(ctx, "smic", gt_record(ctx, p, r))
            ctx.stats["frames"] += p.n_frames
            bar.update()
    bar.close()
    hs_rows = [["Subject", "Filename", None, "OnsetF", "OffsetF", "Onset2F", "Offset2F", "Onset3F", "Offset3F", None,
                "FirstF", "LastF", "TotalMF1", "TotalMF2", "TotalMF3", "TotalVL", "Emotion"]]
    for p in plans["smic_hs_e"]:
        hs_rows.append([p.extra["subject_number"], p.clip, None, p.onset, p.offset, None, None, None, None, None,
                        p.first_frame, p.last_frame, p.offset - p.onset + 1, None, None, p.n_frames, p.emotion])
    vis_rows = [["Subject", "Filename", None, "OnsetF", "OffsetF", "Onset2F", "Offset2F", None, "FirstF", "TotalMF1",
                 "TotalMF2", "TotalVL", "Emotion"]]
    for p in plans["smic_vis"]:
        vis_rows.append([p.extra["subject_number"], p.clip, None, p.onset, p.offset, None, None, None, p.first_frame,
                         p.offset - p.onset + 1, None, p.n_frames, p.emotion])
    write_xlsx(base / "SMIC-HS-E_annotation.xlsx", [("HS", hs_rows), ("VIS", vis_rows), ("Sheet2", []),
                                                     ("Sheet3", [])])
    write_gt_index(ctx, "smic")
    ctx.plans.update(plans)
    return plans


def _nir_subject(subj: F.Subject) -> F.Subject:
    """The near-infrared camera's view of a subject: grey, flatter skin contrast, darker background."""
    import copy

    nir = copy.copy(subj)
    g = cv2.cvtColor(subj.head, cv2.COLOR_RGB2GRAY).astype(np.float32)
    g = 255.0 * (g / 255.0) ** 0.8
    nir.head = np.repeat(np.clip(g, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    nir.background = np.repeat((0.6 * subj.background.mean(axis=2, keepdims=True)), 3, axis=2).astype(np.float32)
    nir.grey = True
    nir._cache = {}
    return nir
