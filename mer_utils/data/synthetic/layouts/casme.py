"""The CASME layout: ``CASME_raw_selected/subXX/EP01_5/EP01_5-19.jpg`` and ``CASME_coding.xlsx``."""
from __future__ import annotations

import numpy as np

from .. import aus as A
from .. import plan as P
from ..render import ClipRenderer, draw_nuisance
from .common import Context, distractor, gt_record, imwrite, micro_event, mkdir, save_gt, write_gt_index, write_xlsx


CASME_CANONICAL = {"tense": "tense", "disgust": "disgust", "happiness": "happiness", "comtempt": "contempt",
                   "repression": "repression", "surprise": "surprise", "sadness": "sadness", "fear": "fear"}
CASME_CORE = [("happiness", "happiness", None), ("surprise", "surprise", None), ("disgust", "disgust", None),
              ("repression", "repression", None), ("tense", "tense", None)]
CASME_EXTRA = [("sadness", "sadness", None), ("fear", "fear", None), ("comtempt", "contempt", None),
               ("disgust", "disgust", None), ("tense", "tense", None)]


def plan_casme(ctx: Context) -> list:
    """Clip plans of the CASME (first version) layout (60 fps; frames onset..offset on disk)."""
    spec = ctx.sizes["casme"]
    fps = 60.0
    subjects = list(spec.subjects)
    if spec.clips:
        labels = {s: P.skewed_labels(P.rng_for(ctx.seed, "casme", "mix", s), i, spec.clips, CASME_CORE, CASME_EXTRA,
                                      P.CASME_EMOTIONS) for i, s in enumerate(subjects)}
    else:
        rng0 = P.rng_for(ctx.seed, "casme", "labels")
        total = int(spec.extra.get("total", 195))
        # at least 2 clips per subject, the rest spread unevenly (195 clips of 35 subjects at paper size)
        counts = 2 + rng0.multinomial(total - 2 * len(subjects), rng0.dirichlet(np.full(len(subjects), 1.5)))
        dealt = P.deal(rng0, dict(zip(subjects, counts.tolist())), P.CASME_EMOTIONS)
        labels = {s: [(e, CASME_CANONICAL[e], None) for e in v] for s, v in dealt.items()}
    plans = []
    for si, s in enumerate(subjects):
        sub = f"sub{s:02d}"
        rn = P.rng_for(ctx.seed, "casme", sub, "names")
        names = []
        while len(names) < len(labels[s]):
            name = f"EP{int(rn.integers(1, 20)):02d}_{int(rn.integers(1, 13))}"
            if name not in names:
                names.append(name)
        for (emotion, canonical, objective), clip in zip(labels[s], names):
            rng = P.rng_for(ctx.seed, "casme", sub, clip)
            identity = f"casme/{sub}"
            jit = P.annotation_jitter(rng, fps)
            tokens, intens, cls, ev, n, apex_off = micro_event(rng, ctx, identity, canonical, fps, objective,
                                                                start_s=jit[0] / fps)
            first = int(rng.integers(1, 120))
            n_frames = jit[0] + n + jit[2]
            true = (first + jit[0], first + jit[0] + apex_off, first + jit[0] + n - 1)
            on, ap, off = P.annotate(true, jit, first, first + n_frames - 1)
            events = [ev] + [e for e in [distractor(rng, ctx, identity, ev, tokens)] if e is not None]
            p = P.ClipPlan("casme", sub, sub, clip, emotion, canonical, tokens, intens, cls, fps, first, n_frames, on,
                           ap, off, events, draw_nuisance(rng, n_frames / fps), int(rng.integers(2**31)), identity,
                           extra={"subject_index": si, "apex2": min(ap + 2, off) if rng.random() < 0.1 else None})
            plans.append(p)
    return plans


def write_casme(ctx: Context) -> list:
    """CASME: ``CASME_raw_selected/subXX/EPxx_y/EPxx_y-N.jpg`` and ``CASME_coding.xlsx``."""
    spec = ctx.sizes["casme"]
    plans = plan_casme(ctx)
    base = ctx.folder("casme")
    bar = ctx.bar(len(plans), "CASME")
    rows = [["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", "Duration", "Action Units",
             "Emotion"]]
    for p in plans:
        subj = ctx.subject(p.identity, p.extra["subject_index"], spec.frame, spec.face)
        r = ClipRenderer(subj, p.events, p.nuisance, p.fps, p.n_frames, p.seed)
        out = mkdir(base / "CASME_raw_selected" / p.subject / p.clip)
        for i, frame in r.frames():
            imwrite(out / f"{p.clip}-{p.first_frame + i}.jpg", frame, p.nuisance.jpeg_quality)
        save_gt(ctx, "casme", gt_record(ctx, p, r))
        ctx.stats["frames"] += p.n_frames
        bar.update()
        rows.append([int(p.subject[3:]), p.clip, None, p.onset, p.apex, p.extra["apex2"], p.offset,
                     p.offset - p.onset + 1, A.format_aus(p.tokens, "casme"), p.emotion])
    bar.close()
    write_xlsx(base / "CASME_coding.xlsx", [("Sheet1", rows)])
    write_gt_index(ctx, "casme")
    ctx.plans["casme"] = plans
    return plans
