"""The MEGC 2019 composite: ``MEGC2019/combined_3_class_gt.csv`` from the CASME II, SAMM and SMIC-HS plans."""
from __future__ import annotations

import csv

from .casme2 import plan_casme2
from .common import Context, mkdir
from .samm import plan_samm
from .smic import plan_smic


MEGC_CASME2 = {"disgust": 0, "repression": 0, "happiness": 1, "surprise": 2}
MEGC_SAMM = {"Anger": 0, "Contempt": 0, "Disgust": 0, "Fear": 0, "Sadness": 0, "Happiness": 1, "Surprise": 2}
MEGC_SMIC = {"negative": 0, "positive": 1, "surprise": 2}
MEGC_EXCLUDED = {("sub04", "EP12_01f"), ("sub05", "EP09_05f")}


def write_megc2019(ctx: Context) -> list:
    """``MEGC2019/combined_3_class_gt.csv`` from the CASME II, SAMM and SMIC-HS plans (REFERENCE.md §2):
    negative = disgust + repression (CASME II) / anger, contempt, disgust, fear, sadness (SAMM); CASME II
    others / fear / sadness, SAMM Other, sub04/EP12_01f and sub05/EP09_05f dropped. Subjects are written as
    in the real file: ``sub01``, SAMM ``6`` (unpadded), SMIC ``s01`` with clip ``s01_ne_01``."""
    rows = []
    for p in sorted(ctx.plans.get("casme2") or plan_casme2(ctx), key=lambda p: (p.subject, p.clip)):
        if p.extra.get("in_coding", True) and p.emotion in MEGC_CASME2 and (p.subject, p.clip) not in MEGC_EXCLUDED:
            rows.append(["casme2", p.subject, p.clip, MEGC_CASME2[p.emotion]])
    for p in ctx.plans.get("samm") or plan_samm(ctx):
        if p.emotion in MEGC_SAMM:
            rows.append(["samm", str(int(p.subject)), p.clip, MEGC_SAMM[p.emotion]])
    smic = ctx.plans.get("smic_hs") or plan_smic(ctx)["smic_hs"]
    for p in smic:
        num = p.extra["subject_number"]
        short, idx = p.clip.split("_")[1:]
        rows.append(["smic", f"s{num:02d}", f"s{num:02d}_{short}_{idx}", MEGC_SMIC[p.emotion]])
    path = mkdir(ctx.folder("megc2019")) / "combined_3_class_gt.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["data", "subject", "clip", "label"])
        w.writerows(rows)
    return rows
