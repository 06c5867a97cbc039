"""The macro-expression set of Peng et al. 2018's first fine-tuning stage (Sec. III-B): emotions mapped onto the
MEGC 2018 objective classes (:data:`MACRO_TO_OBJECTIVE`), :func:`load_macro_table`, :func:`prepare_macro_images`
and the paper's random 9:1 split (:func:`random_test_split`)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .identities import synthetic_identities
from .pipeline import show_progress


# ==================================================================================================
# Macro-expression data (Sec. III-B)
# ==================================================================================================
#: The MEGC 2018 objective classes I-V (Davison et al. 2017, the paper's Table I) in label order.
OBJECTIVE_CLASSES = ("I", "II", "III", "IV", "V")

#: Macro-expression emotion names (FER2013, CK+, Oulu-CASIA, JAFFE, MUG spellings) -> objective class.
#: Davison et al.'s classes I-V are the AU groups of happiness (I: AU6/AU12), surprise (II: AU1+2, AU5, AU25),
#: anger (III: AU4, AU7, AU23), disgust (IV: AU9, AU10) and sadness (V: AU1, AU15); the paper keeps the macro
#: images "belonging to 5 types of facial expressions in MEGC 2018" (Sec. III-B). Fear, contempt and neutral
#: have no class among I-V and are dropped (listed by :func:`load_macro_table`).
MACRO_TO_OBJECTIVE = {
    "happy": "I", "happiness": "I", "ha": "I",
    "surprise": "II", "surprised": "II", "su": "II",
    "angry": "III", "anger": "III", "an": "III",
    "disgust": "IV", "disgusted": "IV", "di": "IV",
    "sad": "V", "sadness": "V", "sa": "V",
}

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm")


def load_emotion_folder(root, dataset: str = "macro_folder") -> "pd.DataFrame":
    """An image table (the loaders' FER2013 / CK+ format) from ``root/<emotion>/**/<image>`` folders.

    For the macro-expression sets the course has no loader for (Oulu-CASIA, JAFFE, MUG, Sec. III-B): export
    the chosen frames into one sub-folder per emotion (``happy/``, ``surprise/``, ``anger/``, ``disgust/``,
    ``sadness/``; other folders such as ``fear/`` are read and then dropped by :func:`load_macro_table`). The
    first path component below ``<emotion>`` is taken as the subject when present.
    """
    import pandas as pd
    from pathlib import Path

    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Macro-expression folder {root} not found; expected {root}/<emotion>/<images> "
                                "(e.g. happy/S01_001.png).")
    rows = []
    for emo_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(emo_dir.rglob("*")):
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                rel = path.relative_to(emo_dir)
                subject = rel.parts[0] if len(rel.parts) > 1 else None
                rows.append({"dataset": dataset, "image_id": f"{dataset}/{emo_dir.name}/{rel.as_posix()}",
                             "subject": subject, "path": str(path), "pixels": None, "label": -1,
                             "emotion": emo_dir.name.lower(), "usage": "all"})
    if not rows:
        raise ValueError(f"{root}: no images ({', '.join(IMAGE_EXTENSIONS)}) in emotion sub-folders.")
    return pd.DataFrame(rows)


def load_macro_table(sets: Sequence[str] = ("fer2013", "ckplus"), data_root=None, synthetic_size: str = "quick",
                     ck_last_k: int = 3, folder=None, verbose: bool = True):
    """The macro-expression training set of Sec. III-B as one image table labelled with objective classes I-V.

    ``sets`` names loaders of :func:`mer_utils.data.load_dataset` (``fer2013``, ``ckplus``: licensed copies
    under ``DATA_ROOT`` when present, else the synthetic sets in their formats); ``folder`` adds a folder of
    :func:`load_emotion_folder` (Oulu-CASIA / JAFFE / MUG exports). CK+ contributes the last ``ck_last_k``
    frames of each labelled sequence (the paper takes three). Returns ``(table, dropped)``: ``table`` has the
    image columns plus ``clip_uid`` (image id), ``subject_uid``, ``label`` (0..4), ``label_name`` (I..V),
    ``source`` (licensed / synthetic / folder) and ``identity`` (the synthetic identity of each image, ``None``
    for licensed images: :mod:`~.identities`), ``dropped`` the images whose emotion has no class among I-V
    (with the reason).
    """
    import pandas as pd

    from ...data import load_dataset

    if isinstance(sets, str):
        sets = (sets,)
    parts = []
    for name in sets:
        if name not in ("fer2013", "ckplus"):
            raise ValueError(f"load_macro_table: unknown macro set {name!r}; expected 'fer2013' or 'ckplus' "
                             "(other sets: export them to emotion folders and pass folder=...).")
        opts = {"last_k": ck_last_k} if name == "ckplus" else {}
        part = load_dataset(name, data_root=data_root, synthetic_size=synthetic_size, verbose=verbose, **opts)
        source = part.attrs.get("source", "licensed")
        part = part.assign(source=source, identity=synthetic_identities(part, source, part.attrs.get("root")))
        parts.append(part)
    if folder is not None:
        parts.append(load_emotion_folder(folder).assign(source="folder", identity=None))
    if not parts:
        raise ValueError("load_macro_table: no macro set given (sets=() and folder=None).")
    table = pd.concat(parts, ignore_index=True)
    emo = table["emotion"].astype(str).str.lower()
    cls = emo.map(MACRO_TO_OBJECTIVE)
    keep = cls.notna().to_numpy()
    dropped = table.loc[~keep, ["dataset", "image_id", "emotion"]].copy()
    dropped["reason"] = "emotion without an objective class among I-V (Sec. III-B keeps 5 types)"
    table = table.loc[keep].reset_index(drop=True)
    table["label_name"] = cls[keep].to_numpy()
    table["label"] = table["label_name"].map({c: i for i, c in enumerate(OBJECTIVE_CLASSES)}).astype("int64")
    table["clip_uid"] = table["image_id"].astype(str)
    subj = table["subject"].where(table["subject"].notna(), None)
    table["subject_uid"] = [f"{d}/{s}" if s is not None else f"{i}" for d, s, i in
                            zip(table["dataset"], subj, table["image_id"])]
    return table, dropped.reset_index(drop=True)


def prepare_macro_images(table, size: int, detector: str = "hog", crop: str = "landmarks", margin: float = 0.05,
                         cache: bool = True, progress: bool | None = None) -> np.ndarray:
    """Face crops of the macro images, grey uint8 ``(N, size, size)`` (Sec. III-B: face segmented and normalised
    to 224x224; the paper used AAM, here dlib's 68 landmarks through :func:`mer_utils.preprocess.align_image`).

    FER2013 images are already 48x48 face crops and are only resized; images read from files (CK+, emotion
    folders) are detected, aligned and cropped like the micro apex frames. Results are cached under
    ``cache_root()/peng2018/macro/`` keyed by the images and these parameters.
    """
    from tqdm.auto import tqdm

    from ...data import load_image
    from ...paths import cache_root
    from ...preprocess import align_image
    from ...results import params_hash

    progress = show_progress() if progress is None else progress
    size = int(size)
    if size < 32:
        raise ValueError(f"prepare_macro_images: size={size}; the ResNet-10 needs at least 32 pixels.")
    key = params_hash({"version": 1, "size": size, "detector": detector, "crop": crop, "margin": margin,
                       "ids": table["image_id"].astype(str).tolist(),
                       "paths": [str(p) if isinstance(p, str) else "" for p in table["path"]]})
    path = cache_root() / "peng2018" / "macro" / f"{key}.npz"
    if cache and path.exists():
        return np.load(path)["images"]
    out = np.zeros((len(table), size, size), np.uint8)
    found = 0
    for i, (_, row) in enumerate(tqdm(table.iterrows(), total=len(table), desc="macro faces", disable=not progress)):
        pixels = row.get("pixels")
        if isinstance(pixels, str) and pixels:
            out[i] = load_image(row, color=False, size=size)
            found += 1
        else:
            img = load_image(row, color=False)
            out[i], _, ok = align_image(img, (size, size), detector=detector, crop=crop, margin=margin)
            found += int(ok)
    if cache:
        import os

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, images=out)
        os.replace(tmp, path)
    return out


def random_test_split(labels: Sequence[int], test_fraction: float = 0.1, seed: int = 0, name: str = "random 90/10"):
    """The macro stage's split (Sec. III-B: "randomly selected 1/10 of the new dataset as test set"),
    stratified by class. Not subject-wise (FER2013 has no subject ids; the paper's split mixes subjects), so
    the macro test accuracy is optimistic; it only checks the first transfer step.
    """
    from sklearn.model_selection import train_test_split

    from ...data import Fold

    labels = np.asarray(labels)
    if not 0 < test_fraction < 1:
        raise ValueError(f"random_test_split: test_fraction={test_fraction}; expected 0 < value < 1.")
    idx = np.arange(labels.size)
    train, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)
    return Fold(name, np.sort(train), np.sort(test), subject_disjoint=False)
