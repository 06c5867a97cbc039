"""Each synthetic writer produces the licensed dataset's real layout and spreadsheet format (REFERENCE.md §1)."""
from __future__ import annotations

import csv
import json
import re

import cv2
import numpy as np
import openpyxl
import pandas as pd
import pytest

from mer_utils.data import synthetic as S


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return S.generate("tiny", root=tmp_path_factory.mktemp("synthetic") / "tiny", seed=0, progress=False)


def _rows(path, sheet=0):
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[sheet] if isinstance(sheet, int) else wb[sheet]
    return wb.sheetnames, [list(r) for r in ws.iter_rows(values_only=True)]


def test_marker_and_ground_truth_index(root):
    marker = S.read_marker(root)
    assert marker["size"] == "tiny" and set(marker["datasets"]) == set(S.LAYOUTS)
    gt = S.ground_truth_table(root)
    assert {"casme2", "samm", "smic_hs", "smic_vis", "smic_nir", "smic_hs_e", "casme", "casme_sq",
            "ckplus"} <= set(gt["dataset"])
    rec = S.load_ground_truth(root, gt.loc[gt.dataset == "casme2", "clip_uid"].iloc[0])
    assert len(rec["intensity"]) == rec["n_frames"] and max(rec["intensity"]) == pytest.approx(1.0, abs=0.05)
    assert rec["true_onset"] <= rec["true_apex"] <= rec["true_offset"]
    assert np.asarray(rec["landmarks"]["apex"]).shape == (68, 2)
    with pytest.raises(ValueError, match="dataset/subject/clip"):
        S.load_ground_truth(root, "casme2")


def test_casme2_coding_and_quirks(root):
    base = root / "CASME2"
    sheets, rows = _rows(base / "CASME2-coding-20140508.xlsx")
    assert sheets == ["Sheet1", "Sheet2", "Sheet3"]
    assert rows[0] == ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
                       "Estimated Emotion"]
    body = {(r[0], r[1]): r for r in rows[1:]}
    assert all(isinstance(s, str) and re.fullmatch(r"\d\d", s) for s, _ in body), "subjects stored as text ('04')"
    assert body[("04", "EP12_01f")][4] == "/", "apex '/' for sub04/EP12_01f"
    r = body[("05", "EP09_05f")]
    assert r[4] == r[3], "apex == onset for sub05/EP09_05f"
    for r in body.values():
        assert isinstance(r[7], int) or re.fullmatch(r"[LR]?\d+(\+[LR]?\d+)*|\?", r[7]), r[7]
    _, obj = _rows(base / "CASME2-ObjectiveClasses.xlsx")
    assert obj[0] == ["Subject", "Filename", "Objective Class"]
    assert all(isinstance(r[0], int) and 1 <= r[2] <= 7 for r in obj[1:]), "subjects stored as int here"
    # frames: imgN.jpg with N = frame number, onset..offset, one frame missing, one folder without a coding row
    gt = S.ground_truth_table(root, "casme2")
    folders = {(p.parent.name, p.name) for p in (base / "CASME2_RAW_selected").glob("sub*/*")}
    coded = {(f"sub{s}", c) for s, c in body}
    assert coded < folders, "every coded clip has a folder, and some folder has no coding row"
    missing = 0
    for _, g in gt.iterrows():
        rec = S.load_ground_truth(root, g["clip_uid"])
        names = sorted(p.name for p in (base / "CASME2_RAW_selected" / g["subject"] / g["clip"]).glob("*.jpg"))
        numbers = sorted(int(n[3:-4]) for n in names)
        expected = set(range(rec["first_frame"], rec["last_frame"] + 1)) - set(rec["missing_frames"])
        assert set(numbers) == expected
        missing += len(rec["missing_frames"])
        crop = list((base / "Cropped" / g["subject"] / g["clip"]).glob("reg_img*.jpg"))
        assert len(crop) == len(names)
    assert missing == 1, "exactly one clip misses one frame"
    img = cv2.imread(str(next((base / "CASME2_RAW_selected").glob("sub*/*/img*.jpg"))), cv2.IMREAD_UNCHANGED)
    assert img.ndim == 3 and img.shape[:2] == (120, 160)


def test_samm_preamble_grey_frames_and_padding(root):
    base = root / "SAMM"
    sheets, rows = _rows(base / "SAMM_Micro_FACS_Codes_v2.xlsx")
    assert sheets == ["MICRO_ONLY"]
    table = pd.read_excel(base / "SAMM_Micro_FACS_Codes_v2.xlsx", sheet_name="MICRO_ONLY", skiprows=13, dtype=object)
    assert list(table.columns) == ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
                                   "Offset Frame", "Duration", "Micro", "Action Units", "Estimated Emotion",
                                   "Objective Classes", "Notes"]
    assert rows[0][0].startswith("SAMM Dataset") and rows[13][0] == "Subject", "13 preamble rows, header on row 14"
    assert all(isinstance(s, str) and len(s) == 3 for s in table["Subject"]), "subject as text '006'"
    assert set(table["Micro"]) == {"Micro - 1/2"}
    outside = [(a < o or a > f) for o, a, f in zip(table["Onset Frame"], table["Apex Frame"], table["Offset Frame"])]
    assert sum(outside) == 1, "one row with its apex outside onset..offset"
    assert "Other" not in set(table["Estimated Emotion"]) or True
    for _, r in table.iterrows():
        files = sorted((base / r["Subject"] / r["Filename"]).glob("*.jpg"))
        assert files and all(f.name.startswith(r["Subject"] + "_") for f in files)
        width = {len(f.stem.split("_")[1]) for f in files}
        assert len(width) == 1 and width <= {4, 5}
        numbers = [int(f.stem.split("_")[1]) for f in files]
        assert min(numbers) <= r["Onset Frame"] and r["Offset Frame"] <= max(numbers), "absolute frame numbers"
        assert r["Duration"] == r["Offset Frame"] - r["Onset Frame"] + 1
    img = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    assert img.ndim == 2, "SAMM frames are greyscale"


def test_smic_folders_and_annotation(root):
    base = root / "SMIC"
    hs = base / "SMIC_all_raw" / "HS"
    subjects = sorted(p.name for p in hs.iterdir())
    assert subjects == ["s1", "s2"], "subject folders are not zero-padded"
    clips = sorted(hs.glob("s*/micro/*/*"))
    assert {c.parent.name for c in clips} == {"negative", "positive", "surprise"}
    short = {"negative": "ne", "positive": "po", "surprise": "sur"}
    for c in clips:
        assert re.fullmatch(rf"{c.parents[2].name}_{short[c.parent.name]}_\d\d", c.name)
        assert list(c.glob("image*.bmp"))
    for cam in ("VIS", "NIR"):
        assert list((base / "SMIC_all_raw" / cam).glob("s2/micro/*/s2_*/image*.bmp"))
    nir = cv2.imread(str(next((base / "SMIC_all_raw" / "NIR").glob("s*/micro/*/*/*.bmp"))), cv2.IMREAD_UNCHANGED)
    assert nir.ndim == 2
    assert sorted(p.name for p in (base / "SMIC_HS_E").iterdir()) == ["s01", "s02"]
    assert list((base / "SMIC_HS_E" / "s01").glob("s1_*/image*.jpg"))
    sheets, rows = _rows(base / "SMIC-HS-E_annotation.xlsx", "HS")
    assert sheets == ["HS", "VIS", "Sheet2", "Sheet3"]
    head = [c for c in rows[0] if c is not None]
    assert head[:4] == ["Subject", "Filename", "OnsetF", "OffsetF"] and "FirstF" in head and "Emotion" in head
    first = dict(zip(rows[0], rows[1]))
    files = sorted((base / "SMIC_HS_E" / f"s{first['Subject']:02d}" / first["Filename"]).glob("*.jpg"))
    numbers = [int(f.stem[5:]) for f in files]
    assert numbers[0] == first["FirstF"] and numbers[-1] == first["LastF"]
    assert first["FirstF"] <= first["OnsetF"] <= first["OffsetF"] <= first["LastF"]


def test_casme_layout(root):
    base = root / "CASME"
    _, rows = _rows(base / "CASME_coding.xlsx")
    assert rows[0] == ["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", "Duration",
                       "Action Units", "Emotion"]
    for r in rows[1:]:
        assert isinstance(r[0], int)
        files = list((base / "CASME_raw_selected" / f"sub{r[0]:02d}" / r[1]).glob(f"{r[1]}-*.jpg"))
        numbers = sorted(int(f.stem.rsplit("-", 1)[1]) for f in files)
        assert numbers[0] == r[3] and numbers[-1] == r[6]
    assert {r[9] for r in rows[1:]} <= {"tense", "disgust", "happiness", "comtempt", "repression", "surprise",
                                        "sadness", "fear"}


def test_casme_sq_headerless_sheet_and_mappings(root):
    base = root / "CASME_sq"
    sheets, rows = _rows(base / "CAS(ME)^2code_final.xlsx", 0)
    assert len(sheets) == 3 and sheets[1:] == ["naming rule1", "naming rule2"]
    assert isinstance(rows[0][0], int), "sheet 0 has no header row"
    assert all(len(r) == 9 for r in rows)
    assert {r[7] for r in rows} == {"micro-expression", "macro-expression"}
    assert any(r[4] == 0 for r in rows), "an unknown offset written as 0"
    _, rule1 = _rows(base / "CAS(ME)^2code_final.xlsx", 1)
    _, rule2 = _rows(base / "CAS(ME)^2code_final.xlsx", 2)
    assert rule1[0] == [15, "s15", 1]
    codes = {r[1]: r for r in rule2}
    assert codes["disgust1"][0] == "0101" and isinstance(codes["disgust1"][0], str)
    for r in rows:
        video = r[1].split("_")[0]
        code, _, title = codes[video]
        folder = base / "rawpic" / "s15" / f"15_{code}{title}"
        assert (folder / f"img{r[2]}.jpg").exists() and (folder / "img1.jpg").exists()


def test_megc2019_csv(root):
    with open(root / "MEGC2019" / "combined_3_class_gt.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["data", "subject", "clip", "label"]
    body = rows[1:]
    assert {r[0] for r in body} == {"casme2", "samm", "smic"}
    for data, subject, clip, label in body:
        assert label in {"0", "1", "2"}
        if data == "samm":
            assert re.fullmatch(r"\d+", subject) and not subject.startswith("0") and clip.startswith(f"{int(subject):03d}_")
        if data == "smic":
            assert re.fullmatch(r"s\d\d", subject) and re.fullmatch(rf"{subject}_(ne|po|sur)_\d\d", clip)
        if data == "casme2":
            assert re.fullmatch(r"sub\d\d", subject)
            assert (subject, clip) not in {("sub04", "EP12_01f"), ("sub05", "EP09_05f")}


def test_fer2013_and_ckplus(root):
    with open(root / "FER2013" / "fer2013.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["emotion", "pixels", "Usage"]
    assert {r[2] for r in rows[1:]} <= {"Training", "PublicTest", "PrivateTest"}
    assert {int(r[0]) for r in rows[1:]} == set(range(7))
    px = np.array(rows[1][1].split(), dtype=int)
    assert px.size == 48 * 48 and 0 <= px.min() and px.max() <= 255
    base = root / "CK+"
    seqs = sorted((base / "cohn-kanade-images").glob("S*/*"))
    assert seqs
    labelled = 0
    for seq in seqs:
        subject, q = seq.parent.name, seq.name
        assert re.fullmatch(r"S\d{3}", subject) and re.fullmatch(r"\d{3}", q)
        frames = sorted(seq.glob("*.png"))
        assert frames[0].name == f"{subject}_{q}_00000001.png"
        emo = list((base / "Emotion" / subject / q).glob("*_emotion.txt"))
        if emo:
            labelled += 1
            assert emo[0].name == f"{subject}_{q}_{len(frames):08d}_emotion.txt", "named after the peak frame"
            code = float(emo[0].read_text())
            assert code == int(code) and 1 <= code <= 7
    assert labelled >= 1


def test_the_loaders_spreadsheet_readers_parse_every_layout(root):
    """Cross-check with the dataset loaders' own readers (skipped until that module exists)."""
    sp = pytest.importorskip("mer_utils.data.spreadsheets")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c2 = sp.read_casme2_coding(root / "CASME2" / "CASME2-coding-20140508.xlsx")
        samm = sp.read_samm_coding(root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx")
        smic = sp.read_smic_e_annotation(root / "SMIC" / "SMIC-HS-E_annotation.xlsx")
        casme = sp.read_casme_coding(root / "CASME" / "CASME_coding.xlsx")
        sq = sp.read_casme_sq_coding(root / "CASME_sq" / "CAS(ME)^2code_final.xlsx", include_macro=True)
        megc = sp.read_megc2019_csv(root / "MEGC2019" / "combined_3_class_gt.csv")
    gt = S.ground_truth_table(root)
    assert set(c2["clip_uid"]) <= set(gt["clip_uid"])
    assert set(samm["clip_uid"]) <= set(gt["clip_uid"])
    assert set(casme["clip_uid"]) <= set(gt["clip_uid"])
    assert set(sq["clip_uid"]) <= set(gt["clip_uid"])
    assert set(smic["clip"]) == set(gt.loc[gt.dataset == "smic_hs_e", "clip"])
    assert set(megc["clip_uid"]) <= set(gt["clip_uid"])
    row = c2[c2["clip"] == "EP12_01f"].iloc[0]
    assert row["apex_estimated"]
    merged = c2.merge(gt, on="clip_uid", suffixes=("", "_gt"))
    assert (merged["emotion"] == merged["emotion_gt"]).all()


def test_tour_helpers(root):
    import matplotlib

    matplotlib.use("Agg")
    from mer_utils.data.synthetic import tour

    text = tour.layout_tree(root / "SAMM", depth=2, max_entries=1)
    assert text.splitlines()[0] == "SAMM/" and "_synthetic_gt" not in text and "more)" in text
    with pytest.raises(FileNotFoundError):
        tour.layout_tree(root / "nowhere")
    raw = tour.raw_rows(root / "CASME2" / "CASME2-coding-20140508.xlsx", rows=3)
    assert raw.iloc[0, 0] == "Subject" and isinstance(raw.iloc[1, 0], str)
    gt = S.ground_truth_table(root, "casme2")
    rec = S.load_ground_truth(root, gt["clip_uid"].iloc[0])
    ax = tour.plot_intensity_curve(rec, measured=np.zeros(rec["n_frames"]))
    assert ax.get_xlabel() == "frame number"
    frames = np.zeros((4, 24, 32, 3), dtype=np.uint8)
    html = tour.clip_animation(frames, amplify=10, width=32)
    assert "<script" in html and len(html) < 200_000
    feats = tour.flow_features(np.zeros((120, 160), np.uint8), np.zeros((120, 160), np.uint8),
                               np.tile([[60.0, 50.0]], (68, 1)) + np.r_[np.zeros((36, 2)), [[0, 0]] * 6,
                                                                         [[30, 0]] * 6, np.zeros((20, 2))])
    assert feats.shape == (8 * 8 * 2,) and np.allclose(feats, 0)
