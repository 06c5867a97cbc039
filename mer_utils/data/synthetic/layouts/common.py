"""What every layout writer shares: the run :class:`Context` (sizes, seed, subject cache, ground-truth rows), file
writing, the ground-truth sidecars and the drawing of one expression event."""
from __future__ import annotations

import csv
import json
from collections import OrderedDict, defaultdict
from pathlib import Path

import cv2
import numpy as np

from ....paths import DATASET_FOLDERS
from .. import aus as A
from .. import faces as F
from .. import plan as P
from ..render import ClipRenderer, Event


#: Version of the generator; part of the completion marker (a change regenerates cached sets). 2.0: neutral base
#: faces, EMFACS macro prototypes, furrows, morph identities, skewed per-subject label mixes (issue 18); 2.1: two
#: more real people (public-domain portraits in the face_recognition sdist, :mod:`..photos`), so six photos.
GENERATOR_VERSION = "2.1"
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


def mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def imwrite(path: Path, frame: np.ndarray, quality: int | None = None) -> None:
    img = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if quality is not None and path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), img, params):
        raise OSError(f"Could not write frame {path}; is the disk full or the folder read-only?")


def write_xlsx(path: Path, sheets: list) -> None:
    """Write ``[(sheet_name, rows)]`` with openpyxl, cell types as given (text stays text, ints stay ints)."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets:
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(list(row))
    mkdir(path.parent)
    wb.save(path)


def _r(x, nd=3):
    return [round(float(v), nd) for v in x]


def gt_record(ctx: Context, plan: P.ClipPlan, renderer: ClipRenderer, extra: dict | None = None) -> dict:
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


def save_gt(ctx: Context, layout: str, rec: dict, index_extra: dict | None = None) -> None:
    folder = ctx.folder(layout) / GT_FOLDER / rec["dataset"] / rec["subject"]
    mkdir(folder)
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


def write_gt_index(ctx: Context, layout: str) -> None:
    rows = ctx.gt_rows.get(layout, [])
    if not rows:
        return
    path = mkdir(ctx.folder(layout) / GT_FOLDER) / "index.csv"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def micro_event(rng, ctx: Context, identity: str, canonical: str, fps: float, objective=None, macro=False,
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


def ep_names(rng, n: int, forced: list, suffix_f: float = 0.5) -> list:
    """``n`` unique CASME II style clip names (``EP02_01f``), ``forced`` ones first."""
    names = list(forced)
    while len(names) < n:
        name = f"EP{int(rng.integers(1, 20)):02d}_{int(rng.integers(1, 16)):02d}" + ("f" if rng.random() < suffix_f else "")
        if name not in names and name.rstrip("f") not in [x.rstrip("f") for x in names]:
            names.append(name)
    return names[:n]


def crop_box(subj: F.Subject) -> tuple:
    lm = subj.landmarks
    x0, x1 = lm[:, 0].min(), lm[:, 0].max()
    y0, y1 = lm[17:27, 1].min() - 0.3 * subj.iod, lm[:, 1].max()
    w, h = subj.size
    return (int(max(0, x0 - 2)), int(max(0, y0)), int(min(w, x1 + 2)), int(min(h, y1 + 2)))


def coded_labels(rng, coding: dict, subjects: list, canonical, forced: dict | None = None) -> dict:
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
