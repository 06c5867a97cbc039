"""The CK+ macro-expression set: ``cohn-kanade-images/`` sequences and ``Emotion/`` label files."""
from __future__ import annotations

import numpy as np

from .. import plan as P
from ..render import ClipRenderer, Event, draw_nuisance
from .common import Context, gt_record, identity_pool, imwrite, mkdir, save_gt, write_gt_index


def write_ckplus(ctx: Context) -> int:
    """CK+: ``cohn-kanade-images/S005/001/S005_001_00000001.png`` sequences (neutral -> peak, grey) and
    ``Emotion/S005/001/S005_001_000000NN_emotion.txt`` (float code, 1 anger .. 7 surprise; Lucey et al. 2010)
    for the labelled sequences (some sequences have no emotion file, as in CK+)."""
    spec = ctx.sizes["ckplus"]
    rng0 = P.rng_for(ctx.seed, "ckplus", "plan")
    n_subj = len(spec.subjects)
    ids, k = [], 5
    for _ in range(n_subj):
        ids.append(k)
        k += int(rng0.integers(1, 7))
    if spec.clips:
        seqs = [spec.clips] * n_subj
    else:
        total = int(spec.extra["sequences"])
        seqs = (1 + rng0.multinomial(total - n_subj, np.full(n_subj, 1.0 / n_subj))).tolist()
    n_total = sum(seqs)
    if "labelled_total" in spec.extra:
        labelled = set(rng0.choice(n_total, size=int(spec.extra["labelled_total"]), replace=False).tolist())
    else:
        labelled = set(np.flatnonzero(rng0.random(n_total) < spec.extra.get("labelled", 0.85)).tolist())
    emotions = [e for e in P.CKPLUS_CODES if e != "neutral"]
    pool = identity_pool(ctx, n_subj)
    base = mkdir(ctx.folder("ckplus"))
    bar = ctx.bar(n_total, "CK+")
    gt_rows, g = [], 0
    for si, (sid, ns) in enumerate(zip(ids, seqs)):
        subject = f"S{sid:03d}"
        subj = ctx.subject(pool[si], si, spec.frame, spec.face, grey=True)
        for q in range(1, ns + 1):
            rng = P.rng_for(ctx.seed, "ckplus", subject, q)
            emotion = emotions[(si * 3 + q) % len(emotions)] if spec.clips else str(rng.choice(emotions))
            canonical = "happiness" if emotion == "happiness" else emotion
            tokens, cls = P.choose_variant(rng, canonical, macro=True)
            intens = P.draw_intensities(rng, len(tokens), macro=True)
            n = int(rng.integers(8, 15)) if spec.clips else int(rng.integers(10, 31))
            fps = 30.0
            ev = Event(tokens, intens, onset=0.0, apex=(n - 1) / fps, offset=(n - 1) / fps + 1.0)
            nz = draw_nuisance(rng, n / fps, blink_rate=0.0)
            r = ClipRenderer(subj, [ev], nz, fps, n, int(rng.integers(2**31)))
            seq = f"{q:03d}"
            out = mkdir(base / "cohn-kanade-images" / subject / seq)
            for i, frame in r.frames():
                imwrite(out / f"{subject}_{seq}_{i + 1:08d}.png", frame)
            has_label = g in labelled
            if has_label:
                edir = mkdir(base / "Emotion" / subject / seq)
                (edir / f"{subject}_{seq}_{n:08d}_emotion.txt").write_text(f"   {float(P.CKPLUS_CODES[emotion]):.7e}\n")
            p = P.ClipPlan("ckplus", subject, subject, seq, emotion, canonical, tokens, intens, cls, fps, 1, n, 1, n,
                           n, [ev], nz, 0, pool[si], micro=False)
            save_gt(ctx, "ckplus", gt_record(ctx, p, r, {"labelled": has_label,
                                                           "code": P.CKPLUS_CODES[emotion] if has_label else None}),
                     {"labelled": has_label})
            ctx.stats["frames"] += n
            g += 1
            bar.update()
    bar.close()
    write_gt_index(ctx, "ckplus")
    return n_total
