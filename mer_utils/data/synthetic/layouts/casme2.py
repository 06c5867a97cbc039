"""The CASME II layout: ``CASME2_RAW_selected/subXX/EPxx_yy[f]/imgN.jpg``, ``Cropped/``, the coding and the
objective-classes spreadsheets (quirks in :mod:`mer_utils.data.synthetic.layouts`)."""
from __future__ import annotations

from .. import aus as A
from .. import plan as P
from ..render import ClipRenderer, draw_nuisance
from .common import Context, coded_labels, crop_box, distractor, ep_names, gt_record, imwrite, micro_event, mkdir, \
    save_gt, write_gt_index, write_xlsx


CASME2_CORE = [("happiness", "happiness", 1), ("surprise", "surprise", 2), ("disgust", "disgust", 4),
               ("repression", "repression", 5), ("others", "others", 3)]
CASME2_EXTRA = [("sadness", "sadness", None), ("fear", "fear", None), ("others", "others", None),
                ("repression", "repression", None), ("disgust", "disgust", None), ("happiness", "happiness", None),
                ("surprise", "surprise", None)]


def plan_casme2(ctx: Context) -> list:
    """Clip plans of the CASME II layout (200 fps; frames onset..offset on disk)."""
    spec = ctx.sizes["casme2"]
    fps = 200.0
    rng0 = P.rng_for(ctx.seed, "casme2", "labels")
    subjects = list(spec.subjects)
    if spec.clips:
        labels = {s: P.skewed_labels(P.rng_for(ctx.seed, "casme2", "mix", s), i, spec.clips, CASME2_CORE,
                                      CASME2_EXTRA, P.CASME2_EMOTIONS) for i, s in enumerate(subjects)}
    else:  # each subject's real (emotion, objective class) counts, in a random order
        labels = coded_labels(rng0, P.CASME2_CODING, subjects, lambda e: e,
                               {s: (e, c) for s, (_, e, c) in P.CASME2_FORCED.items()})
    exact = not spec.clips  # paper size: AUs drawn among the combinations of the planned objective class
    plans = []
    n_extra = int(spec.extra.get("extra_folders", 0))
    for si, s in enumerate(subjects):
        sub = f"sub{s:02d}"
        forced = ["EP12_01f"] if s == 4 else (["EP09_05f"] if s == 5 else [])
        extra_here = 1 if n_extra and si in (0, 2 % len(subjects))[:n_extra] else 0
        names = ep_names(P.rng_for(ctx.seed, "casme2", sub, "names"), len(labels[s]) + extra_here, forced)
        items = list(labels[s]) + [("others", "others", None)] * extra_here
        for ci, ((emotion, canonical, objective), clip) in enumerate(zip(items, names)):
            rng = P.rng_for(ctx.seed, "casme2", sub, clip)
            identity = f"casme2/{sub}"
            jit = P.annotation_jitter(rng, fps)
            tokens, intens, cls, ev, n, apex_off = micro_event(rng, ctx, identity, canonical, fps, objective,
                                                                max_s=spec.extra.get("max_s"), start_s=jit[0] / fps,
                                                                exact_objective=exact and objective is not None)
            first = int(rng.integers(10, 200))  # frames on disk: the annotated onset .. offset
            n_frames = jit[0] + n + jit[2]
            true = (first + jit[0], first + jit[0] + apex_off, first + jit[0] + n - 1)
            on, ap, off = P.annotate(true, jit, first, first + n_frames - 1)
            nz = draw_nuisance(rng, n_frames / fps)
            in_coding = ci < len(labels[s])
            events = [ev] + [e for e in [distractor(rng, ctx, identity, ev, tokens)] if e is not None]
            p = P.ClipPlan("casme2", sub, sub, clip, emotion, canonical, tokens, intens, cls, fps, first, n_frames,
                           on, ap, off, events, nz, int(rng.integers(2**31)), identity,
                           extra={"in_coding": in_coding, "subject_index": si})
            plans.append(p)
    # Quirks: apex '/' (sub04/EP12_01f), apex == onset (sub05/EP09_05f), one missing frame.
    for p in plans:
        p.extra["apex_cell"] = p.apex
        if p.subject == "sub04" and p.clip == "EP12_01f":
            p.extra["apex_cell"] = "/"
        if p.subject == "sub05" and p.clip == "EP09_05f":
            p.extra["apex_cell"] = p.onset
    coded = [p for p in plans if p.extra["in_coding"]]
    victim = coded[min(len(coded) - 1, spec.clips + 1 if spec.clips else 10)]
    cand = [f for f in range(victim.onset + 1, victim.offset) if f != victim.apex]
    victim.extra["missing_frames"] = [cand[len(cand) // 3]] if cand else []
    return plans


def write_casme2(ctx: Context) -> list:
    """CASME II: ``CASME2_RAW_selected``, ``Cropped``, the coding and objective-class spreadsheets."""
    spec = ctx.sizes["casme2"]
    plans = plan_casme2(ctx)
    base = ctx.folder("casme2")
    bar = ctx.bar(len(plans), "CASME II")
    for p in plans:
        subj = ctx.subject(p.identity, p.extra["subject_index"], spec.frame, spec.face)
        r = ClipRenderer(subj, p.events, p.nuisance, p.fps, p.n_frames, p.seed)
        raw = mkdir(base / "CASME2_RAW_selected" / p.subject / p.clip)
        crop = mkdir(base / "Cropped" / p.subject / p.clip)
        x0, y0, x1, y1 = crop_box(subj)
        missing = set(p.extra.get("missing_frames", []))
        for i, frame in r.frames():
            n = p.first_frame + i
            if n in missing:
                continue
            imwrite(raw / f"img{n}.jpg", frame, p.nuisance.jpeg_quality)
            imwrite(crop / f"reg_img{n}.jpg", frame[y0:y1, x0:x1], p.nuisance.jpeg_quality)
        save_gt(ctx, "casme2", gt_record(ctx, p, r, {"missing_frames": sorted(missing),
                                                         "in_coding": p.extra["in_coding"],
                                                         "annotated_apex": p.extra["apex_cell"],
                                                         "crop_box": [x0, y0, x1, y1]}),
                 {"in_coding": p.extra["in_coding"]})
        ctx.stats["frames"] += p.n_frames
        bar.update()
    bar.close()
    coded = sorted([p for p in plans if p.extra["in_coding"]], key=lambda p: (p.subject, p.clip))
    rows = [["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
             "Estimated Emotion"]]
    for p in coded:
        rows.append([p.subject[3:], p.clip, None, p.onset, p.extra["apex_cell"], p.offset, None,
                     A.format_aus(p.tokens, "casme2"), p.emotion])
    write_xlsx(base / "CASME2-coding-20140508.xlsx", [("Sheet1", rows), ("Sheet2", []), ("Sheet3", [])])
    obj = [["Subject", "Filename", "Objective Class"]] + [[int(p.subject[3:]), p.clip, p.objective_class]
                                                           for p in coded]
    write_xlsx(base / "CASME2-ObjectiveClasses.xlsx", [("Sheet1", obj), ("Sheet2", [])])
    write_gt_index(ctx, "casme2")
    ctx.plans["casme2"] = plans
    return plans
