"""The SAMM layout: ``006/006_1_2/006_05562.jpg`` (grey) and ``SAMM_Micro_FACS_Codes_v2.xlsx``."""
from __future__ import annotations

from .. import aus as A
from .. import plan as P
from ..render import ClipRenderer, Event, draw_nuisance
from .common import Context, coded_labels, distractor, gt_record, imwrite, micro_event, mkdir, save_gt, \
    write_gt_index, write_xlsx


SAMM_CANONICAL = {"Anger": "anger", "Other": "others", "Happiness": "happiness", "Surprise": "surprise",
                  "Contempt": "contempt", "Disgust": "disgust", "Fear": "fear", "Sadness": "sadness"}
SAMM_CORE = [("Happiness", "happiness", 1), ("Surprise", "surprise", 2), ("Anger", "anger", 3),
             ("Disgust", "disgust", 4), ("Sadness", "sadness", 5)]
SAMM_EXTRA = [("Contempt", "contempt", None), ("Other", "others", None), ("Fear", "fear", None)]
SAMM_PREAMBLE = [
    ["SAMM Dataset - Master FACS Codes (synthetic stand-in written by mer_utils.data.synthetic)", None, None, None,
     "(Note to the users: this file mimics the layout of the SAMM coding; cite Davison et al. 2016 for SAMM.)"],
    [],
    ["Emotional and Objective Classes as in Davison, Merghani & Yap (2018).", None, None, None, None, None, None,
     None, "arXiv:1708.07549"],
    [None, None, None, None, "(Objective classes I-VII are given as numbers 1-7.)"],
    [],
    ["Symbol Key:"],
    ['"/" = or'],
    ['"?" = some AU\'s continue for a while and have unclear offset'],
    [],
    ["AU Help:"],
    ['"L2 or R2" = Unilateral AU 2 on left side of face / right side of face'],
    ['"A2" = Asymmetric AU 2. Occurs on both sides of face but stronger on one side'],
    [],
]


def plan_samm(ctx: Context) -> list:
    """Clip plans of the SAMM layout (200 fps, grey, absolute frame numbers, short lead-in and tail)."""
    spec = ctx.sizes["samm"]
    fps = 200.0
    subjects = list(spec.subjects)
    if spec.clips:
        # every class of SAMM 5-class (contempt, other) and every objective class is shown by several subjects
        labels = {s: P.skewed_labels(P.rng_for(ctx.seed, "samm", "mix", s), i, spec.clips, SAMM_CORE + SAMM_EXTRA[:2],
                                      SAMM_EXTRA, P.SAMM_EMOTIONS, covered=4) for i, s in enumerate(subjects)}
    else:  # each subject's real (emotion, objective class) counts, in a random order
        labels = coded_labels(P.rng_for(ctx.seed, "samm", "labels"), P.SAMM_CODING, subjects, SAMM_CANONICAL.get)
    exact = not spec.clips
    plans = []
    for si, s in enumerate(subjects):
        sub = f"{s:03d}"
        rng_names = P.rng_for(ctx.seed, "samm", sub, "names")
        used, frames_used = set(), []
        for ci, (emotion, canonical, objective) in enumerate(labels[s]):
            while True:
                ind = int(rng_names.integers(1, 8))
                k = int(rng_names.integers(1, 13))
                if (ind, k) not in used:
                    used.add((ind, k))
                    break
            clip = f"{sub}_{ind}_{k}"
            identity = f"samm/{sub}"
            rng = P.rng_for(ctx.seed, "samm", sub, clip)
            tokens, intens, cls, _, n, apex_off = micro_event(rng, ctx, identity, canonical, fps, objective,
                                                               max_s=spec.extra.get("max_s"),
                                                               exact_objective=exact and objective is not None)
            lead = int(round(rng.uniform(*spec.tails) * fps))
            tail = int(round(rng.uniform(*spec.tails) * fps))
            onset = int(rng.integers(1000, 9000)) if rng.random() < 0.6 else int(rng.integers(10000, 20000))
            first = onset - lead
            ev = Event(tokens, intens, onset=lead / fps, apex=(lead + apex_off) / fps, offset=(lead + n - 1) / fps)
            events = [ev] + [e for e in [distractor(rng, ctx, identity, ev, tokens)] if e is not None]
            n_frames = lead + n + tail
            nz = draw_nuisance(rng, n_frames / fps)
            last = first + n_frames - 1
            pad = 5 if last >= 10000 or rng.random() < 0.6 else 4
            on, ap, off = P.annotate((onset, onset + apex_off, onset + n - 1), P.annotation_jitter(rng, fps), first,
                                     first + n_frames - 1)
            p = P.ClipPlan("samm", sub, sub, clip, emotion, canonical, tokens, intens, cls, fps, first, n_frames,
                           on, ap, off, events, nz, int(rng.integers(2**31)), identity,
                           extra={"inducement": ind, "pad": pad, "subject_index": si})
            plans.append(p)
    for p in plans:
        p.extra["apex_cell"] = p.apex
    # Quirk: rows whose apex lies outside onset..offset (annotation slips; two rows in the real file, one in the
    # small sizes). The second one, at paper size, has its apex before the onset.
    odd = plans[min(len(plans) - 1, (spec.clips or 11) + 1)]
    odd.extra["apex_cell"] = odd.offset + 4
    if int(spec.extra.get("odd_apex_rows", 1)) > 1:
        odd2 = plans[len(plans) // 2 + 7]
        odd2.extra["apex_cell"] = odd2.onset - 3
    return plans


def write_samm(ctx: Context) -> list:
    """SAMM: ``<subject>/<clip>/<subject>_<frame>.jpg`` (grey) and ``SAMM_Micro_FACS_Codes_v2.xlsx``."""
    spec = ctx.sizes["samm"]
    plans = plan_samm(ctx)
    base = ctx.folder("samm")
    bar = ctx.bar(len(plans), "SAMM")
    rows = [list(r) for r in SAMM_PREAMBLE]
    rows.append(["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
                 "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"])
    for p in plans:
        subj = ctx.subject(p.identity, p.extra["subject_index"], spec.frame, spec.face, grey=True)
        r = ClipRenderer(subj, p.events, p.nuisance, p.fps, p.n_frames, p.seed)
        out = mkdir(base / p.subject / p.clip)
        for i, frame in r.frames():
            imwrite(out / f"{p.subject}_{p.first_frame + i:0{p.extra['pad']}d}.jpg", frame, p.nuisance.jpeg_quality)
        save_gt(ctx, "samm", gt_record(ctx, p, r, {"annotated_apex": p.extra["apex_cell"]}))
        ctx.stats["frames"] += p.n_frames
        bar.update()
        blink_in = any(p.events[0].onset <= b0 + d / 2 <= p.events[0].offset for b0, d in p.nuisance.blinks)
        au_rng = P.rng_for(ctx.seed, "samm", p.clip, "au-string")
        au_cell = A.format_aus(p.tokens, "samm", p.intensities, au_rng)
        if p.canonical == "contempt" and au_rng.random() < 0.4:  # an annotator unsure of the AU
            au_cell = f"{p.tokens[0]} or {p.tokens[0][:-2]}14" if p.tokens[0].endswith("12") else au_cell
        rows.append([p.subject, p.clip, p.extra["inducement"], p.onset, p.extra["apex_cell"], p.offset,
                     p.offset - p.onset + 1, "Micro - 1/2", au_cell, p.emotion, p.objective_class,
                     "While blinking" if blink_in else None])
    bar.close()
    write_xlsx(base / "SAMM_Micro_FACS_Codes_v2.xlsx", [("MICRO_ONLY", rows)])
    write_gt_index(ctx, "samm")
    ctx.plans["samm"] = plans
    return plans
