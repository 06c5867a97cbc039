"""Writers: synthetic clips laid out exactly as the licensed datasets are shipped (REFERENCE.md §1).

Each ``write_<layout>`` function plans the clips of one layout (:mod:`mer_utils.data.synthetic.plan`), renders
them (:mod:`mer_utils.data.synthetic.render`) and writes frames and annotation files under the layout's folder
of :data:`mer_utils.paths.DATASET_FOLDERS`, with the real file names, sheets, preambles, column names and
quirks:

======================  ==========================================================================================
``CASME2/``             ``CASME2_RAW_selected/subXX/EPxx_yy[f]/imgN.jpg`` (N = frame number, onset..offset),
                        ``Cropped/subXX/EPxx_yy/reg_imgN.jpg``, ``CASME2-coding-20140508.xlsx`` (subject as text,
                        mixed int / string AU cells, apex ``/`` for sub04/EP12_01f, apex = onset for
                        sub05/EP09_05f, a missing frame, clip folders without a coding row),
                        ``CASME2-ObjectiveClasses.xlsx`` (subject as int)
``SAMM/``               ``006/006_1_2/006_05562.jpg`` (grey, absolute frame numbers, zero-padding 4 or 5),
                        ``SAMM_Micro_FACS_Codes_v2.xlsx`` (sheet ``MICRO_ONLY``, 13 preamble rows, one apex
                        outside onset..offset; two at paper size, as in the real file)
``SMIC/``               ``SMIC_all_raw/{HS,VIS,NIR}/s1/micro/{negative,positive,surprise}/s1_ne_01/imageN.bmp``
                        (unpadded subject folders, label from the folder), ``SMIC_HS_E/s01/s1_ne_01/imageN.jpg``
                        and ``SMIC-HS-E_annotation.xlsx`` (sheets ``HS``, ``VIS``)
``CASME/``              ``CASME_raw_selected/subXX/EP01_5/EP01_5-19.jpg``, ``CASME_coding.xlsx`` (``comtempt``)
``CASME_sq/``           ``rawpic/s15/15_0101disgustingteeth/imgN.jpg`` (long videos, several expressions),
                        ``CAS(ME)^2code_final.xlsx`` (header-less sheet 0, naming sheets 1 and 2, offset 0);
                        at paper size 206 expressions (57 micro, 149 macro) in 87 videos, see
                        :mod:`~mer_utils.data.synthetic.plan`
``MEGC2019/``           ``combined_3_class_gt.csv`` (``data,subject,clip,label``)
``FER2013/``            ``fer2013.csv`` (``emotion,pixels,Usage``, 48x48 grey)
``CK+/``                ``cohn-kanade-images/S005/001/S005_001_00000001.png``,
                        ``Emotion/S005/001/S005_001_000000NN_emotion.txt``
======================  ==========================================================================================

Ground truth goes to ``<layout folder>/_synthetic_gt/`` (an ``index.csv`` plus one JSON per clip), outside the
providers' layout, so a loader reading the real structure never sees it.
"""
from __future__ import annotations

import csv
import json
from collections import OrderedDict, defaultdict
from pathlib import Path

import cv2
import numpy as np

from ...paths import DATASET_FOLDERS
from . import aus as A
from . import faces as F
from . import plan as P
from .render import ClipRenderer, Event, draw_nuisance

#: Version of the generator; part of the completion marker (a change regenerates cached sets).
GENERATOR_VERSION = "1.2"
#: Name of the ground-truth folder inside each layout folder.
GT_FOLDER = "_synthetic_gt"


#: Every AU token the emotion tables can produce (plus unilateral forms and the blink), precomputed per subject.
ALL_TOKENS = sorted({t for table in (A.EMOTION_VARIANTS, A.MACRO_VARIANTS, A.OBJECTIVE_EXTRA_VARIANTS)
                     for vs in table.values() for v in vs for t in v[0]}
                    | {f"{s}{n}" for s in "LR" for n in (2, 10, 12, 14)} | {"45"})


# ----------------------------------------------------------------------------------------------------- context
class Context:
    """Shared state of one generation run: root, size, seed, subject cache, ground-truth index rows."""

    def __init__(self, root: Path, size: str, seed: int, progress: bool = True, photo_folder: str | None = None,
                 check_faces: bool | None = None):
        self.root = Path(root)
        self.size = size
        self.sizes = P.size_table(size)
        self.seed = int(seed)
        self.progress = progress
        self.photo_folder = photo_folder
        self.check_faces = (size != "tiny") if check_faces is None else check_faces
        self._subjects: OrderedDict = OrderedDict()
        self._styles: dict = {}
        self.gt_rows: dict = defaultdict(list)
        self.stats: dict = defaultdict(int)
        self.plans: dict = {}

    def folder(self, layout: str) -> Path:
        return self.root / DATASET_FOLDERS[layout]

    def style(self, identity: str) -> F.Style:
        if identity not in self._styles:
            self._styles[identity] = F.draw_style(P.rng_for(self.seed, "style", identity))
        return self._styles[identity]

    def subject(self, identity: str, index: int, frame: tuple, face: tuple, grey: bool = False) -> F.Subject:
        """The synthetic identity ``identity`` at a frame size (LRU-cached; regenerated when dlib misses it)."""
        key = (identity, tuple(frame), tuple(face), grey)
        if key in self._subjects:
            self._subjects.move_to_end(key)
            return self._subjects[key]
        rng = P.rng_for(self.seed, "identity", identity)
        for attempt in range(8):
            subj = F.make_subject(identity, rng, frame[0], frame[1], face, grey=grey, photo_folder=self.photo_folder,
                                  source_index=index + attempt, style=self.style(identity))
            if not self.check_faces or F.detect_faces(subj.neutral()):
                break
            self.stats["identities_redrawn"] += 1
        subj.fields(ALL_TOKENS)  # one interpolation for every AU token the plans can use
        self._subjects[key] = subj
        while len(self._subjects) > 4:
            self._subjects.popitem(last=False)
        return subj

    def bar(self, total: int, desc: str):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, disable=not self.progress, leave=False)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _imwrite(path: Path, frame: np.ndarray, quality: int | None = None) -> None:
    img = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if quality is not None and path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), img, params):
        raise OSError(f"Could not write frame {path}; is the disk full or the folder read-only?")


def _write_xlsx(path: Path, sheets: list) -> None:
    """Write ``[(sheet_name, rows)]`` with openpyxl, cell types as given (text stays text, ints stay ints)."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets:
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(list(row))
    _mkdir(path.parent)
    wb.save(path)


def _r(x, nd=3):
    return [round(float(v), nd) for v in x]


def _gt_record(ctx: Context, plan: P.ClipPlan, renderer: ClipRenderer, extra: dict | None = None) -> dict:
    """The ground-truth sidecar of one clip (see module docstring of :mod:`mer_utils.data.synthetic`)."""
    first = plan.first_frame
    ev = plan.events[0]
    on_i, ap_i, off_i = (int(np.clip(round(t * plan.fps), 0, plan.n_frames - 1)) for t in (ev.onset, ev.apex, ev.offset))
    rec = {
        "generator": "mer_utils.data.synthetic", "version": GENERATOR_VERSION, "size": ctx.size, "seed": ctx.seed,
        "dataset": plan.dataset, "subject": plan.subject, "subject_folder": plan.folder_subject, "clip": plan.clip,
        "clip_uid": f"{plan.dataset}/{plan.subject}/{plan.clip}", "identity": plan.identity,
        "emotion": plan.emotion, "canonical_emotion": plan.canonical, "objective_class": plan.objective_class,
        "micro": plan.micro, "aus": [{"token": t, "intensity": round(float(a), 5)}
                                     for t, a in zip(plan.tokens, plan.intensities)],
        "fps": plan.fps, "first_frame": first, "last_frame": plan.last_frame, "n_frames": plan.n_frames,
        "onset": plan.onset, "apex": plan.apex, "offset": plan.offset,  # as annotated (written in the files)
        "true_onset": first + on_i, "true_apex": first + ap_i, "true_offset": first + off_i,
        # events[0] is the labelled expression; any later event is a label-independent distractor movement
        "events": [{"tokens": e.tokens, "intensities": _r(e.intensities, 5), "onset_s": round(e.onset, 5),
                    "apex_s": round(e.apex, 5), "offset_s": round(e.offset, 5), "hold_s": round(e.hold, 5)}
                   for e in plan.events],
        "intensity": _r(renderer.expression, 4), "blink": _r(renderer.blink, 3),
        "nuisance": plan.nuisance.to_dict(), "clip_seed": plan.seed,
        "subject_params": renderer.subject.params,
        "landmarks": {"onset": np.round(renderer.landmarks(on_i), 2).tolist(),
                      "apex": np.round(renderer.landmarks(ap_i), 2).tolist()},
    }
    rec.update(plan.extra.get("gt", {}))
    if extra:
        rec.update(extra)
    return rec


def _save_gt(ctx: Context, layout: str, rec: dict, index_extra: dict | None = None) -> None:
    folder = ctx.folder(layout) / GT_FOLDER / rec["dataset"] / rec["subject"]
    _mkdir(folder)
    name = rec["clip"].replace("/", "_")
    (folder / f"{name}.json").write_text(json.dumps(rec, separators=(",", ":")))
    row = {k: rec[k] for k in ("dataset", "subject", "subject_folder", "clip", "clip_uid", "emotion",
                               "canonical_emotion", "objective_class", "micro", "fps", "onset", "apex", "offset",
                               "true_onset", "true_apex", "true_offset", "first_frame", "last_frame")}
    row["aus"] = "+".join(a["token"] for a in rec["aus"])
    row["intensity"] = max([a["intensity"] for a in rec["aus"]], default=0.0)
    row["json"] = str((folder / f"{name}.json").relative_to(ctx.folder(layout)))
    row.update(index_extra or {})
    ctx.gt_rows[layout].append(row)


def _write_gt_index(ctx: Context, layout: str) -> None:
    rows = ctx.gt_rows.get(layout, [])
    if not rows:
        return
    path = _mkdir(ctx.folder(layout) / GT_FOLDER) / "index.csv"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def _micro_event(rng, ctx: Context, identity: str, canonical: str, fps: float, objective=None, macro=False,
                 max_s=None, start_s: float = 0.0, exact_objective: bool = False):
    """(tokens, intensities, objective class, event, onset->offset frames, apex offset) of one expression.

    ``exact_objective``: draw the AUs among the combinations of objective class ``objective``
    (:func:`~mer_utils.data.synthetic.plan.choose_objective_variant`, paper size) instead of the variants
    tagged with that class (:func:`~mer_utils.data.synthetic.plan.choose_variant`, quick and tiny sizes).
    """
    style = ctx.style(identity)
    if exact_objective:
        tokens, cls = P.choose_objective_variant(rng, canonical, objective, style)
    else:
        tokens, cls = P.choose_variant(rng, canonical, style, objective, macro=macro)
    if not macro:
        tokens = P.unilateralise(rng, tokens, style)
    intens = P.draw_intensities(rng, len(tokens), style, macro=macro)
    n, apex_off = P.draw_timing(rng, fps, style, macro=macro, max_s=max_s)
    ev = Event(tokens, intens, onset=start_s, apex=start_s + apex_off / fps, offset=start_s + (n - 1) / fps,
               hold=0.0)
    return tokens, intens, cls, ev, n, apex_off


#: AUs that also move in clips for reasons unrelated to the label (fidgeting, speech-like lip movements).
DISTRACTOR_TOKENS = ("1", "2", "4", "7", "10", "12", "14", "17", "24", "L12", "R10")


def distractor(rng, ctx: Context, identity: str, ev: Event, tokens: list, prob: float = 0.5):
    """A label-independent low-intensity movement overlapping the clip (or ``None``), as a second event."""
    if rng.random() >= prob:
        return None
    choices = [t for t in DISTRACTOR_TOKENS if t not in tokens]
    tok = str(rng.choice(choices))
    level = float(np.mean(ev.intensities)) * float(rng.uniform(0.3, 0.8))
    span = ev.offset - ev.onset
    start = ev.onset + float(rng.uniform(-0.3, 0.8)) * span
    dur = span * float(rng.uniform(0.6, 1.4))
    apex = start + dur * float(rng.uniform(0.3, 0.7))
    return Event([tok], [level], onset=start, apex=apex, offset=start + dur)


def _ep_names(rng, n: int, forced: list, suffix_f: float = 0.5) -> list:
    """``n`` unique CASME II style clip names (``EP02_01f``), ``forced`` ones first."""
    names = list(forced)
    while len(names) < n:
        name = f"EP{int(rng.integers(1, 20)):02d}_{int(rng.integers(1, 16)):02d}" + ("f" if rng.random() < suffix_f else "")
        if name not in names and name.rstrip("f") not in [x.rstrip("f") for x in names]:
            names.append(name)
    return names[:n]


def _crop_box(subj: F.Subject) -> tuple:
    lm = subj.landmarks
    x0, x1 = lm[:, 0].min(), lm[:, 0].max()
    y0, y1 = lm[17:27, 1].min() - 0.3 * subj.iod, lm[:, 1].max()
    w, h = subj.size
    return (int(max(0, x0 - 2)), int(max(0, y0)), int(min(w, x1 + 2)), int(min(h, y1 + 2)))


# ======================================================================================================= CASME II
CASME2_CORE = [("happiness", "happiness", 1), ("surprise", "surprise", 2), ("disgust", "disgust", 4),
               ("repression", "repression", 5), ("others", "others", 3)]
CASME2_EXTRA = [("sadness", "sadness", None), ("fear", "fear", None), ("others", "others", None),
                ("repression", "repression", None), ("disgust", "disgust", None), ("happiness", "happiness", None),
                ("surprise", "surprise", None)]


def _coded_labels(rng, coding: dict, subjects: list, canonical, forced: dict | None = None) -> dict:
    """Per-subject ``[(label, canonical emotion, objective class), ...]`` from a per-subject coding table of
    :mod:`~mer_utils.data.synthetic.plan` (``CASME2_CODING``, ``SAMM_CODING``), shuffled per subject;
    ``forced[subject] = (label, class)`` is moved to the front (the clip a quirk is attached to)."""
    coding = P.parse_coding(coding)
    out = {}
    for s in subjects:
        items = list(coding[s])
        order = rng.permutation(len(items))
        items = [items[i] for i in order]
        if forced and s in forced:
            if forced[s] not in items:
                raise ValueError(f"Subject {s}: the coding has no {forced[s]} clip to put first.")
            items.insert(0, items.pop(items.index(forced[s])))
        out[s] = [(label, canonical(label), cls) for label, cls in items]
    return out


def plan_casme2(ctx: Context) -> list:
    """Clip plans of the CASME II layout (200 fps; frames onset..offset on disk)."""
    spec = ctx.sizes["casme2"]
    fps = 200.0
    rng0 = P.rng_for(ctx.seed, "casme2", "labels")
    subjects = list(spec.subjects)
    if spec.clips:
        labels = {s: P.balanced_labels(i, spec.clips, CASME2_CORE, CASME2_EXTRA) for i, s in enumerate(subjects)}
    else:  # each subject's real (emotion, objective class) counts, in a random order
        labels = _coded_labels(rng0, P.CASME2_CODING, subjects, lambda e: e,
                               {s: (e, c) for s, (_, e, c) in P.CASME2_FORCED.items()})
    exact = not spec.clips  # paper size: AUs drawn among the combinations of the planned objective class
    plans = []
    n_extra = int(spec.extra.get("extra_folders", 0))
    for si, s in enumerate(subjects):
        sub = f"sub{s:02d}"
        forced = ["EP12_01f"] if s == 4 else (["EP09_05f"] if s == 5 else [])
        extra_here = 1 if n_extra and si in (0, 2 % len(subjects))[:n_extra] else 0
        names = _ep_names(P.rng_for(ctx.seed, "casme2", sub, "names"), len(labels[s]) + extra_here, forced)
        items = list(labels[s]) + [("others", "others", None)] * extra_here
        for ci, ((emotion, canonical, objective), clip) in enumerate(zip(items, names)):
            rng = P.rng_for(ctx.seed, "casme2", sub, clip)
            identity = f"casme2/{sub}"
            jit = P.annotation_jitter(rng, fps)
            tokens, intens, cls, ev, n, apex_off = _micro_event(rng, ctx, identity, canonical, fps, objective,
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
        raw = _mkdir(base / "CASME2_RAW_selected" / p.subject / p.clip)
        crop = _mkdir(base / "Cropped" / p.subject / p.clip)
        x0, y0, x1, y1 = _crop_box(subj)
        missing = set(p.extra.get("missing_frames", []))
        for i, frame in r.frames():
            n = p.first_frame + i
            if n in missing:
                continue
            _imwrite(raw / f"img{n}.jpg", frame, p.nuisance.jpeg_quality)
            _imwrite(crop / f"reg_img{n}.jpg", frame[y0:y1, x0:x1], p.nuisance.jpeg_quality)
        _save_gt(ctx, "casme2", _gt_record(ctx, p, r, {"missing_frames": sorted(missing),
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
    _write_xlsx(base / "CASME2-coding-20140508.xlsx", [("Sheet1", rows), ("Sheet2", []), ("Sheet3", [])])
    obj = [["Subject", "Filename", "Objective Class"]] + [[int(p.subject[3:]), p.clip, p.objective_class]
                                                           for p in coded]
    _write_xlsx(base / "CASME2-ObjectiveClasses.xlsx", [("Sheet1", obj), ("Sheet2", [])])
    _write_gt_index(ctx, "casme2")
    ctx.plans["casme2"] = plans
    return plans


# ======================================================================================================= SAMM
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
        labels = {s: P.balanced_labels(i, spec.clips, SAMM_CORE, SAMM_EXTRA) for i, s in enumerate(subjects)}
    else:  # each subject's real (emotion, objective class) counts, in a random order
        labels = _coded_labels(P.rng_for(ctx.seed, "samm", "labels"), P.SAMM_CODING, subjects, SAMM_CANONICAL.get)
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
            tokens, intens, cls, _, n, apex_off = _micro_event(rng, ctx, identity, canonical, fps, objective,
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
        out = _mkdir(base / p.subject / p.clip)
        for i, frame in r.frames():
            _imwrite(out / f"{p.subject}_{p.first_frame + i:0{p.extra['pad']}d}.jpg", frame, p.nuisance.jpeg_quality)
        _save_gt(ctx, "samm", _gt_record(ctx, p, r, {"annotated_apex": p.extra["apex_cell"]}))
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
    _write_xlsx(base / "SAMM_Micro_FACS_Codes_v2.xlsx", [("MICRO_ONLY", rows)])
    _write_gt_index(ctx, "samm")
    ctx.plans["samm"] = plans
    return plans


# ======================================================================================================= SMIC
SMIC_SHORT = {"negative": "ne", "positive": "po", "surprise": "sur"}
SMIC_NEGATIVE = (["disgust", "anger", "fear", "sadness"], [0.35, 0.25, 0.2, 0.2])


def plan_smic(ctx: Context) -> dict:
    """Plans of SMIC-HS (100 fps, and its long-video version HS-E) and VIS / NIR (25 fps, same events)."""
    spec = ctx.sizes["smic"]
    subjects = list(spec.subjects)
    fps = 100.0
    core = [("negative",), ("positive",), ("surprise",)]
    if spec.clips:
        labels = {s: [c[0] for c in P.balanced_labels(i, spec.clips, core, core)] for i, s in enumerate(subjects)}
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
            tokens, intens, cls, _, n, apex_off = _micro_event(rng, ctx, identity, canonical, fps,
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
        out_e = _mkdir(base / "SMIC_HS_E" / pe.subject / pe.clip)
        out_r = _mkdir(base / "SMIC_all_raw" / "HS" / ph.folder_subject / "micro" / ph.emotion / ph.clip)
        for i, frame in r.frames():
            n = pe.first_frame + i
            _imwrite(out_e / f"image{n:06d}.jpg", frame, pe.nuisance.jpeg_quality)
            if ph.first_frame <= n <= ph.last_frame:
                _imwrite(out_r / f"image{n:06d}.bmp", frame)
        _save_gt(ctx, "smic", _gt_record(ctx, pe, r))
        # the raw clip's ground truth: same events, frames re-indexed to its window
        rec = _gt_record(ctx, pe, r)
        k0 = ph.first_frame - pe.first_frame
        rec.update(dataset="smic_hs", subject_folder=ph.folder_subject, first_frame=ph.first_frame,
                   last_frame=ph.last_frame, n_frames=ph.n_frames, clip_uid=f"smic_hs/{ph.subject}/{ph.clip}",
                   intensity=rec["intensity"][k0:k0 + ph.n_frames], blink=rec["blink"][k0:k0 + ph.n_frames])
        _save_gt(ctx, "smic", rec)
        ctx.stats["frames"] += pe.n_frames
        bar.update()
    for name, folder in (("smic_vis", "VIS"), ("smic_nir", "NIR")):
        for p in plans[name]:
            subj = ctx.subject(p.identity, p.extra["subject_index"], spec.frame, spec.face)
            if name == "smic_nir":
                subj = _nir_subject(subj)
            r = ClipRenderer(subj, p.events, p.nuisance, p.fps, p.n_frames, p.seed)
            out = _mkdir(base / "SMIC_all_raw" / folder / p.folder_subject / "micro" / p.emotion / p.clip)
            for i, frame in r.frames():
                _imwrite(out / f"image{p.first_frame + i:06d}.bmp", frame)
            _save_gt(ctx, "smic", _gt_record(ctx, p, r))
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
    _write_xlsx(base / "SMIC-HS-E_annotation.xlsx", [("HS", hs_rows), ("VIS", vis_rows), ("Sheet2", []),
                                                     ("Sheet3", [])])
    _write_gt_index(ctx, "smic")
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


# ======================================================================================================= CASME
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
        labels = {s: P.balanced_labels(i, spec.clips, CASME_CORE, CASME_EXTRA) for i, s in enumerate(subjects)}
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
            tokens, intens, cls, ev, n, apex_off = _micro_event(rng, ctx, identity, canonical, fps, objective,
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
        out = _mkdir(base / "CASME_raw_selected" / p.subject / p.clip)
        for i, frame in r.frames():
            _imwrite(out / f"{p.clip}-{p.first_frame + i}.jpg", frame, p.nuisance.jpeg_quality)
        _save_gt(ctx, "casme", _gt_record(ctx, p, r))
        ctx.stats["frames"] += p.n_frames
        bar.update()
        rows.append([int(p.subject[3:]), p.clip, None, p.onset, p.apex, p.extra["apex2"], p.offset,
                     p.offset - p.onset + 1, A.format_aus(p.tokens, "casme"), p.emotion])
    bar.close()
    _write_xlsx(base / "CASME_coding.xlsx", [("Sheet1", rows)])
    _write_gt_index(ctx, "casme")
    ctx.plans["casme"] = plans
    return plans


# ======================================================================================================= CAS(ME)²
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
                tokens, intens, cls, ev, n, apex_off = _micro_event(rng, ctx, identity, canonical, fps,
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
        out = _mkdir(base / "rawpic" / f"s{vid['subject']}" / vid["folder"])
        for i, frame in r.frames():
            _imwrite(out / f"img{i + 1}.jpg", frame, vid["nuisance"].jpeg_quality)
        ctx.stats["frames"] += vid["n_frames"]
        for k, e in enumerate(sorted(vid["expressions"], key=lambda e: e["onset"]), start=1):
            clip = f"{vid['video']}_{k}"
            e["clip"] = clip
            p = P.ClipPlan("casme_sq", f"s{vid['subject']:02d}", f"s{vid['subject']}", clip, vid["category"],
                           vid["canonical"], e["tokens"], e["intensities"], e["objective_class"], vid["fps"], 1,
                           vid["n_frames"], e["onset"], e["apex"], e["offset"], [e["event"]], vid["nuisance"],
                           vid["seed"], vid["identity"], micro=(e["kind"] == "micro"))
            rec = _gt_record(ctx, p, r, {"video": vid["video"], "video_folder": f"rawpic/s{vid['subject']}/{vid['folder']}",
                                         "self_report": e["self_report"], "stimulus": vid["video"].rstrip("0123456789"),
                                         "annotated_offset": e.get("offset_cell", e["offset"])})
            _save_gt(ctx, "casme_sq", rec, {"video_folder": rec["video_folder"], "stimulus": rec["stimulus"]})
            code_rows.append([vid["participant"], clip, e["onset"], e["apex"], e.get("offset_cell", e["offset"]),
                              A.format_aus(e["tokens"], "casme_sq"), vid["category"],
                              "micro-expression" if e["kind"] == "micro" else "macro-expression", e["self_report"]])
        bar.update()
    bar.close()
    subjects = sorted({(v["participant"], v["subject"]) for v in videos})
    rule1 = [[s, f"s{s}", part] for part, s in subjects]
    rule2 = [[code, name, title] for name, (code, title) in P.CASME_SQ_VIDEOS.items()]
    _write_xlsx(base / "CAS(ME)^2code_final.xlsx", [("CASFEcode_final", code_rows), ("naming rule1", rule1),
                                                     ("naming rule2", rule2)])
    _write_gt_index(ctx, "casme_sq")
    ctx.plans["casme_sq"] = videos
    return videos


# ======================================================================================================= MEGC 2019
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
    path = _mkdir(ctx.folder("megc2019")) / "combined_3_class_gt.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["data", "subject", "clip", "label"])
        w.writerows(rows)
    return rows


# ======================================================================================================= macro sets
FER_CANONICAL = {"Angry": "anger", "Disgust": "disgust", "Fear": "fear", "Happy": "happiness", "Sad": "sadness",
                 "Surprise": "surprise", "Neutral": "neutral"}


def identity_pool(ctx: Context, n: int) -> list:
    """``n`` identity keys, the micro-expression sets' subjects first ("the same synthetic subjects")."""
    pool = [f"casme2/sub{s:02d}" for s in ctx.sizes["casme2"].subjects]
    pool += [f"samm/{s:03d}" for s in ctx.sizes["samm"].subjects]
    pool += [f"smic/s{s:02d}" for s in ctx.sizes["smic"].subjects]
    pool += [f"casme/sub{s:02d}" for s in ctx.sizes["casme"].subjects]
    pool += [f"casme_sq/s{s:02d}" for s in ctx.sizes["casme_sq"].subjects]
    k = 0
    while len(pool) < n:
        pool.append(f"macro/{k:03d}")
        k += 1
    return pool[:n]


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
    base = _mkdir(ctx.folder("fer2013"))
    with open(base / "fer2013.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["emotion", "pixels", "Usage"])
        for j in range(n):
            w.writerow([int(labels[j]), pixels[j], usage[j]])
    gdir = _mkdir(base / GT_FOLDER)
    with open(gdir / "fer2013.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(gt[0]))
        w.writeheader()
        w.writerows(gt)
    ctx.stats["fer_rows"] = n
    return n


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
    base = _mkdir(ctx.folder("ckplus"))
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
            out = _mkdir(base / "cohn-kanade-images" / subject / seq)
            for i, frame in r.frames():
                _imwrite(out / f"{subject}_{seq}_{i + 1:08d}.png", frame)
            has_label = g in labelled
            if has_label:
                edir = _mkdir(base / "Emotion" / subject / seq)
                (edir / f"{subject}_{seq}_{n:08d}_emotion.txt").write_text(f"   {float(P.CKPLUS_CODES[emotion]):.7e}\n")
            p = P.ClipPlan("ckplus", subject, subject, seq, emotion, canonical, tokens, intens, cls, fps, 1, n, 1, n,
                           n, [ev], nz, 0, pool[si], micro=False)
            _save_gt(ctx, "ckplus", _gt_record(ctx, p, r, {"labelled": has_label,
                                                           "code": P.CKPLUS_CODES[emotion] if has_label else None}),
                     {"labelled": has_label})
            ctx.stats["frames"] += n
            g += 1
            bar.update()
    bar.close()
    _write_gt_index(ctx, "ckplus")
    return n_total


WRITERS = {"casme2": write_casme2, "samm": write_samm, "smic": write_smic, "casme": write_casme,
           "casme_sq": write_casme_sq, "megc2019": write_megc2019, "fer2013": write_fer2013, "ckplus": write_ckplus}
