"""The FER2013 macro-expression set: ``FER2013/fer2013.csv`` (48x48 grey apex faces)."""
from __future__ import annotations

import csv

import cv2
import numpy as np

from .. import faces as F
from .. import plan as P
from ..render import ClipRenderer, Event, draw_nuisance
from .common import Context, GT_FOLDER, identity_pool, mkdir


FER_CANONICAL = {"Angry": "anger", "Disgust": "disgust", "Fear": "fear", "Happy": "happiness", "Sad": "sadness",
                 "Surprise": "surprise", "Neutral": "neutral"}


def _macro_face(ctx: Context, subj: F.Subject, rng, canonical: str, roll_deg: float):
    """One apex frame of a macro-expression and its landmarks."""
    tokens, cls = P.choose_variant(rng, canonical, macro=True)
    intens = P.draw_intensities(rng, len(tokens), macro=True) if tokens else []
    ev = Event(tokens, intens, onset=-1.0, apex=0.0, offset=1.0)
    nz = draw_nuisance(rng, 0.1, blink_rate=0.0)
    r = ClipRenderer(subj, [ev], nz, fps=30.0, n_frames=1, seed=int(rng.integers(2**31)))
    r.head[0, 2] = roll_deg
    _, frame = next(r.frames())
    return frame, r.landmarks(0), tokens, intens, cls


def write_fer2013(ctx: Context) -> int:
    """``FER2013/fer2013.csv``: ``emotion,pixels,Usage`` rows of 48x48 grey apex faces at macro intensity.

    Labels 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral (Goodfellow et al. 2013);
    Usage Training / PublicTest / PrivateTest (80 / 10 / 10 %).
    """
    spec = ctx.sizes["fer2013"]
    rng0 = P.rng_for(ctx.seed, "fer2013", "rows")
    if spec.clips:
        labels = [c for c in range(7) for _ in range(spec.clips)]
    else:
        labels = [P.FER2013_CLASSES.index(k) for k, v in P.FER2013_COUNTS.items() for _ in range(v)]
    labels = np.array(labels)
    rng0.shuffle(labels)
    n = len(labels)
    n_train, n_pub = int(round(0.8 * n)), int(round(0.1 * n))
    usage = ["Training"] * n_train + ["PublicTest"] * n_pub + ["PrivateTest"] * (n - n_train - n_pub)
    pool = identity_pool(ctx, len(spec.subjects))
    who = rng0.integers(len(pool), size=n)
    order = np.argsort(who, kind="stable")  # render identity by identity (subject cache), write in row order
    pixels: list = [None] * n
    gt = [None] * n
    bar = ctx.bar(n, "FER2013")
    for j in order:
        rng = P.rng_for(ctx.seed, "fer2013", int(j))
        identity = pool[who[j]]
        subj = ctx.subject(identity, int(who[j]), spec.frame, spec.face)
        canonical = FER_CANONICAL[P.FER2013_CLASSES[labels[j]]]
        frame, lm, tokens, intens, cls = _macro_face(ctx, subj, rng, canonical, float(rng.uniform(-8, 8)))
        x0, y0 = lm[:, 0].min(), lm[17:27, 1].min() - 0.25 * subj.iod
        x1, y1 = lm[:, 0].max(), lm[:, 1].max()
        side = max(x1 - x0, y1 - y0) * float(rng.uniform(1.0, 1.15))
        cx, cy = 0.5 * (x0 + x1) + rng.normal(0, 2), 0.5 * (y0 + y1) + rng.normal(0, 2)
        M = np.array([[48.0 / side, 0, 24 - 48.0 / side * cx], [0, 48.0 / side, 24 - 48.0 / side * cy]])
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        face = cv2.warpAffine(cv2.GaussianBlur(grey, (0, 0), max(0.5, 0.4 * side / 48)), M, (48, 48),
                              flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        pixels[j] = " ".join(map(str, face.ravel().tolist()))
        gt[j] = {"row": int(j), "emotion": int(labels[j]), "label": P.FER2013_CLASSES[labels[j]],
                 "identity": identity, "aus": "+".join(tokens), "intensity": round(max(intens, default=0.0), 4),
                 "objective_class": cls, "usage": usage[j]}
        bar.update()
    bar.close()
    base = mkdir(ctx.folder("fer2013"))
    with open(base / "fer2013.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["emotion", "pixels", "Usage"])
        for j in range(n):
            w.writerow([int(labels[j]), pixels[j], usage[j]])
    gdir = mkdir(base / GT_FOLDER)
    with open(gdir / "fer2013.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(gt[0]))
        w.writeheader()
        w.writerows(gt)
    ctx.stats["fer_rows"] = n
    return n
