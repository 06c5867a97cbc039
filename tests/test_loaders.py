"""Format tests: a tiny tree per dataset, built by hand in the real naming with the real quirks (REFERENCE.md §1)."""
from __future__ import annotations

import sys
import types
import warnings
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pandas as pd
import pytest

from mer_utils.data import (CLIP_COLUMNS, Clip, load_casme, load_casme2, load_casme_sq, load_ckplus, load_clip,
                            load_dataset, load_fer2013, load_frames, load_image, load_samm, load_smic,
                            load_smic_hs_e, load_tensor)
from mer_utils.data.naming import DataWarning, LicensedDataWarning, frame_number, normalise_clip, normalise_subject, parse_aus


# ----------------------------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------------------------
def write_frames(folder: Path, names, grey: bool = False, size: int = 8) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        value = (10 * i) % 250
        image = np.full((size, size) if grey else (size, size, 3), value, np.uint8)
        if not grey:
            image[..., 2] = 200  # red in BGR: checks the RGB conversion
        assert cv2.imwrite(str(folder / name), image)


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


CASME2_HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
                 "Estimated Emotion"]


def build_casme2(root: Path) -> Path:
    base = root / "CASME2"
    raw = base / "CASME2_RAW_selected"
    write_frames(raw / "sub01" / "EP02_01f", [f"img{n}.jpg" for n in range(96, 103) if n != 99])  # img99 missing
    write_frames(raw / "sub04" / "EP12_01f", [f"img{n}.jpg" for n in range(10, 17)])
    write_frames(raw / "sub05" / "EP09_05f", [f"img{n}.jpg" for n in range(1, 6)])
    write_frames(raw / "sub01" / "EP99_99", ["img1.jpg", "img2.jpg"])               # folder without a coding row
    write_frames(base / "Cropped" / "sub01" / "EP02_01f", [f"reg_img{n}.jpg" for n in range(96, 103)])
    write_frames(base / "Cropped" / "sub04" / "EP12_01f", [f"reg_img{n}.jpg" for n in range(10, 17)])
    write_frames(base / "Cropped" / "sub05" / "EP09_05f", [f"reg_img{n}.jpg" for n in range(1, 6)])
    write_xlsx(base / "CASME2-coding-20140508.xlsx", {"Sheet1": [
        CASME2_HEADER + [None, None],
        ["01", "EP02_01f", None, 96, 98, 102, None, "4+L10", "disgust"],   # subject as text
        [4, "EP12_01f", None, 10, "/", 16, None, 12, "happiness"],         # subject as int, apex '/'
        ["05", "EP09_05f", None, 1, 1, 5, None, "?", "others"],            # apex == onset
        ["02", "EP01_11f", None, 5, 7, 9, None, "R6 or R12", "surprise"],  # coding row without a folder
    ], "Sheet2": [[None]]})
    write_xlsx(base / "CASME2-ObjectiveClasses.xlsx", {"Sheet1": [
        ["Subject", "Filename", "Objective Class"], ["01", "EP02_01f", 4], ["04", "EP12_01f", 1],
        ["05", "EP09_05f", 7], ["02", "EP01_11f", 6]]})
    return base


SAMM_PREAMBLE = [["SAMM Dataset - Master FACS Codes", None, None, None, "(Note to the users ...)"], [None],
                 ["9/9/17 - New updates with Emotional and Objective Classes."], [None, None, None, None, "(Note ...)"],
                 [None], ["Symbol Key:"], ['"/" = or'], ['"?" = some AU\'s continue'], [None], ["AU Help:"],
                 ['"L2 or R2" = Unilateral AU 2'], ['"A2" = Asymmetric AU 2'], [None]]
SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
               "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]


def build_samm(root: Path) -> Path:
    base = root / "SAMM"
    write_frames(base / "SAMM" / "006" / "006_1_2", [f"006_{n:05d}.jpg" for n in range(5562, 5568)], grey=True)
    write_frames(base / "SAMM" / "007" / "007_5_1", [f"007_{n}.jpg" for n in range(998, 1004)], grey=True)
    assert len(SAMM_PREAMBLE) == 13
    write_xlsx(base / "SAMM_Micro_FACS_Codes_v2.xlsx", {"MICRO_ONLY": SAMM_PREAMBLE + [SAMM_HEADER,
        ["006", "006_1_2", 1, 5562, 5564, 5567, "=SUM(F15-D15)+1", "Micro - 1/2", "4+7", "Anger", 3, None],
        ["007", "007_5_1", 5, 998, 1010, 1003, None, "Micro - 1/2", "(R6 or R12)+R15", "Other", 7, "blink"],  # apex out
    ]})
    return base


def build_smic(root: Path) -> Path:
    base = root / "SMIC" / "SMIC_all_raw"
    hs = base / "HS"
    write_frames(hs / "s1" / "micro" / "negative" / "s1_ne_01", [f"image{n:06d}.bmp" for n in range(98, 104)])
    write_frames(hs / "s1" / "micro" / "surprise" / "s1_sur_01", [f"image{n:06d}.bmp" for n in range(7, 10)])
    write_frames(hs / "s12" / "micro" / "positive" / "s12_po_01", [f"image{n:06d}.bmp" for n in range(1, 5)])
    write_frames(base / "VIS" / "s1" / "micro" / "negative" / "s1_ne_01", [f"image{n:06d}.bmp" for n in range(1, 4)])
    write_frames(base / "NIR" / "s1" / "micro" / "positive" / "s1_po_01", [f"image{n:06d}.bmp" for n in range(1, 4)])
    return root / "SMIC"


def build_smic_hs_e(root: Path) -> Path:
    base = root / "SMIC"
    write_frames(base / "SMIC_HS_E" / "s01" / "s1_ne_01", [f"image{n:06d}.jpg" for n in range(100, 112)])
    write_frames(base / "SMIC_HS_E" / "s20" / "s20_po_02", [f"image{n:06d}.jpg" for n in range(50, 60)])
    header = ["Subject", "Filename", None, "OnsetF", "OffsetF", "Onset2F", "Offset2F", None, "FirstF", "LastF",
              "TotalMF1", "TotalMF2", "TotalVL", "Emotion"]
    write_xlsx(base / "SMIC-HS-E_annotation.xlsx", {"HS": [header,
        [1, "s1_ne_01", None, 102, 106, None, None, None, 100, 111, 5, None, 12, "negative"],
        [20, "s20_po_02", None, 52, None, None, None, None, 50, 59, 4, None, 10, "positive"],  # formula w/o value
    ], "VIS": [header]})
    return base


def build_casme(root: Path) -> Path:
    base = root / "CASME"
    write_frames(base / "CASME_raw_selected" / "sub01" / "EP01_5", [f"EP01_5-{n}.jpg" for n in range(19, 25)])
    write_frames(base / "CASME_raw_selected" / "sub12" / "EP03_2", [f"EP03_2-{n}.jpg" for n in range(8, 13)])
    write_xlsx(base / "CASME_coding.xlsx", {"Sheet1": [
        ["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", "Duration", "Action Units", "Emotion"],
        [1, "EP01_5", None, 19, 21, 22, 24, 6, "4+9", "disgust"],
        [12, "EP03_2", None, 8, "/", None, 12, 5, "L14", "comtempt"],
    ]})
    return base


def build_casme_sq(root: Path) -> Path:
    base = root / "CASME_sq"
    write_frames(base / "rawpic" / "s15" / "15_0101disgustingteeth", [f"img{n}.jpg" for n in range(1, 41)])
    write_frames(base / "rawpic" / "s16" / "16_0502climbingthewall", [f"img{n}.jpg" for n in range(1, 21)])
    write_xlsx(base / "CAS(ME)^2code_final.xlsx", {
        "CASFEcode_final": [
            [1, "disgust1_1", 5, 8, 12, "4+7", "negative", "micro-expression", "disgust"],
            [1, "disgust1_2", 20, 25, 0, "L4", "negative", "macro-expression", "disgust"],   # offset 0 = unknown
            [2, "happy1_1", 3, 0, 9, 12, "positive", "micro-expression", "happyiness"],       # apex 0 = unknown
        ],
        "naming rule1": [["s15", 15, 1], ["s16", 16, 2]],
        "naming rule2": [["0101", "disgust1"], ["0502", "happy1"]],
    })
    return base


def build_fer2013(root: Path) -> Path:
    base = root / "FER2013"
    base.mkdir(parents=True)
    pixels = " ".join(str(v) for v in range(48 * 48 % 256) for _ in range(1))
    rows = ["emotion,pixels,Usage"]
    for label, usage in [(3, "Training"), (0, "PublicTest"), (6, "PrivateTest")]:
        rows.append(f"{label}," + " ".join(str((i + label) % 256) for i in range(48 * 48)) + f",{usage}")
    (base / "fer2013.csv").write_text("\n".join(rows) + "\n")
    return base


def build_ckplus(root: Path) -> Path:
    base = root / "CK+"
    write_frames(base / "cohn-kanade-images" / "S005" / "001", [f"S005_001_{n:08d}.png" for n in range(1, 12)], grey=True)
    write_frames(base / "cohn-kanade-images" / "S010" / "002", [f"S010_002_{n:08d}.png" for n in range(1, 6)])
    write_frames(base / "cohn-kanade-images" / "S010" / "003", [f"S010_003_{n:08d}.png" for n in range(1, 6)])  # no label
    for subject, seq, last, label in [("S005", "001", 11, 3), ("S010", "002", 5, 5)]:
        folder = base / "Emotion" / subject / seq
        folder.mkdir(parents=True)
        (folder / f"{subject}_{seq}_{last:08d}_emotion.txt").write_text(f"   {label:.7e}\n")
    return base


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return fn(*args, **kwargs)


# ----------------------------------------------------------------------------------------------------------------
# Naming helpers
# ----------------------------------------------------------------------------------------------------------------
def test_subject_and_clip_normalisation():
    assert [normalise_subject("casme2", v) for v in ("01", 1, "sub01", "sub1", 1.0)] == ["sub01"] * 5
    assert [normalise_subject("samm", v) for v in ("006", 6, "6")] == ["006"] * 3
    assert [normalise_subject("smic_hs", v) for v in ("s1", "s01", 1)] == ["s01"] * 3
    assert normalise_clip("smic_hs", "s01_ne_01") == normalise_clip("smic_hs", "s1_ne_01") == "s1_ne_01"
    assert normalise_clip("casme2", " EP02_01f ") == "EP02_01f"
    with pytest.raises(ValueError, match="subject id"):
        normalise_subject("casme2", "abc")


def test_frame_numbers_and_aus():
    names = ["img100.jpg", "img46.jpg", "img9.jpg"]
    assert sorted(names, key=frame_number) == ["img9.jpg", "img46.jpg", "img100.jpg"]
    assert parse_aus("4+L10") == ["4", "L10"]
    assert parse_aus(12) == ["12"] and parse_aus(12.0) == ["12"]
    assert parse_aus("R6 or R12") == ["R6", "R12"]
    assert parse_aus("12A+ref(24)") == ["12A", "ref(24)"]
    assert parse_aus("10A/B") == ["10A"]
    assert parse_aus("?") == [] and parse_aus(None) == []


# ----------------------------------------------------------------------------------------------------------------
# One format test per dataset
# ----------------------------------------------------------------------------------------------------------------
def test_casme2_raw_layout_and_quirks(tmp_path):
    root = build_casme2(tmp_path)
    with pytest.warns(DataWarning) as record:
        table = load_casme2(root)
    messages = " | ".join(str(w.message) for w in record)
    assert "sub04/EP12_01f" in messages and "'/'" in messages                 # apex '/' named
    assert "sub02/EP01_11f" in messages                                      # coding row without folder
    assert "sub01/EP99_99" in messages                                       # folder without coding row
    assert "casme2/sub01/EP02_01f (99)" in messages                          # missing frame named
    assert list(table.columns[:len(CLIP_COLUMNS)]) == CLIP_COLUMNS
    assert table["clip_uid"].tolist() == ["casme2/sub01/EP02_01f", "casme2/sub04/EP12_01f", "casme2/sub05/EP09_05f"]
    assert table["subject_uid"].tolist() == ["casme2/sub01", "casme2/sub04", "casme2/sub05"]
    first = table.iloc[0]
    assert first["frame_numbers"] == [96, 97, 98, 100, 101, 102]            # numeric order, 99 missing
    assert first["missing_frames"] == [99] and first["fps"] == 200.0 and first["aus"] == ["4", "L10"]
    quirky = table.set_index("clip").loc["EP12_01f"]
    assert quirky["apex"] == 13 and bool(quirky["apex_estimated"])          # middle of 10..16
    assert table["objective_class"].tolist() == [4, 1, 7]
    assert [s["clip_uid"] for s in table.attrs["skipped"]] == ["casme2/sub02/EP01_11f"]
    assert "no subject folder for sub02" in table.attrs["skipped"][0]["reason"]
    assert table.attrs["unannotated"] == ["sub01/EP99_99"]
    # frames: 99 is filled with 98, RGB order, resize
    frames = quiet(load_frames, first, start=98, stop=100)
    assert frames.shape == (3, 8, 8, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames[1], frames[0]) and frames[0, 0, 0, 0] > 150  # red channel first
    grey = quiet(load_frames, first, color=False, size=(4, 6))
    assert grey.shape == (7, 4, 6)
    clip = quiet(load_clip, first, start=first["onset"], stop=first["offset"])
    assert isinstance(clip, Clip) and clip.frame_numbers.tolist() == list(range(96, 103))
    assert clip.apex_index == 2 and clip.to_tensor().shape == (7, 3, 8, 8)
    tensor = quiet(load_tensor, first, color=False)
    assert tensor.shape == (7, 1, 8, 8) and float(tensor.max()) <= 1.0


def test_casme2_cropped_release_and_require_frames(tmp_path):
    root = build_casme2(tmp_path)
    cropped = quiet(load_casme2, root, release="cropped")
    assert cropped.iloc[0]["frame_paths"][0].endswith("reg_img96.jpg")
    kept = quiet(load_casme2, root, require_frames=False)
    assert "casme2/sub02/EP01_11f" in kept["clip_uid"].tolist()
    assert kept.set_index("clip").loc["EP01_11f", "n_frames"] == 0
    with pytest.raises(ValueError, match="release"):
        load_casme2(root, release="other")


def test_samm_layout(tmp_path):
    root = build_samm(tmp_path)
    with pytest.warns(DataWarning, match="007/007_5_1"):                     # apex outside onset..offset
        table = load_samm(root)
    assert table["subject"].tolist() == ["006", "007"]
    assert table["clip"].tolist() == ["006_1_2", "007_5_1"]
    assert table["emotion"].tolist() == ["Anger", "Other"]
    assert table["aus"].tolist() == [["4", "7"], ["R6", "R12", "R15"]]
    assert table["objective_class"].tolist() == [3, 7]
    assert table.iloc[1]["frame_numbers"] == list(range(998, 1004))         # padding varies, numbers absolute
    frames = load_frames(table.iloc[0])
    assert frames.shape == (6, 8, 8, 3)                                       # grey files read as RGB
    assert load_frames(table.iloc[0], color=False).shape == (6, 8, 8)
    assert table["fps"].unique().tolist() == [200.0]


def test_smic_layouts(tmp_path):
    root = build_smic(tmp_path)
    hs = load_smic(root)
    assert hs["dataset"].unique().tolist() == ["smic_hs"]
    assert sorted(hs["clip_uid"]) == ["smic_hs/s01/s1_ne_01", "smic_hs/s01/s1_sur_01", "smic_hs/s12/s12_po_01"]
    row = hs.set_index("clip").loc["s1_ne_01"]
    assert row["emotion"] == "negative" and row["subject_uid"] == "smic/s01"
    assert (row["onset"], row["apex"], row["offset"]) == (98, 101, 103) and bool(row["apex_estimated"])
    assert hs["fps"].unique().tolist() == [100.0]
    vis = load_smic(root, modality="VIS")
    nir = load_smic(root, modality="nir")
    assert vis["dataset"].tolist() == ["smic_vis"] and nir["emotion"].tolist() == ["positive"]
    assert vis["fps"].tolist() == [25.0]
    with pytest.raises(ValueError, match="modality"):
        load_smic(root, modality="IR")


def test_smic_hs_e_layout(tmp_path):
    root = build_smic_hs_e(tmp_path)
    with pytest.warns(DataWarning, match="TotalMF1"):
        table = load_smic_hs_e(root)
    assert table["clip_uid"].tolist() == ["smic_hs_e/s01/s1_ne_01", "smic_hs_e/s20/s20_po_02"]
    second = table.iloc[1]
    assert (second["onset"], second["offset"]) == (52, 55) and second["apex"] == 53
    assert len(second["frame_paths"]) == 10
    assert load_frames(second, start=second["onset"], stop=second["offset"]).shape[0] == 4


def test_casme_layout(tmp_path):
    root = build_casme(tmp_path)
    with pytest.warns(DataWarning, match="sub12/EP03_2"):
        table = load_casme(root)
    assert table["subject"].tolist() == ["sub01", "sub12"]
    assert table["emotion"].tolist() == ["disgust", "comtempt"]
    assert table.iloc[0]["frame_numbers"] == list(range(19, 25)) and table.iloc[0]["apex2"] == 22
    assert table.iloc[1]["apex"] == 10 and table["fps"].unique().tolist() == [60.0]
    (root / "other.xlsx").write_bytes((root / "CASME_coding.xlsx").read_bytes())
    with pytest.raises(ValueError, match="CASME_coding.xlsx.*other.xlsx|other.xlsx.*CASME_coding.xlsx"):
        load_casme(root)


def test_casme_sq_layout(tmp_path):
    root = build_casme_sq(tmp_path)
    with pytest.warns(DataWarning):
        micro = load_casme_sq(root)
    assert micro["clip_uid"].tolist() == ["casme_sq/s15/disgust1_1", "casme_sq/s16/happy1_1"]
    assert micro["video"].tolist() == ["15_0101disgustingteeth", "16_0502climbingthewall"]
    assert micro.iloc[0]["frame_numbers"] == list(range(5, 13))              # onset..offset of the long video
    assert micro.iloc[1]["apex"] == 6 and bool(micro.iloc[1]["apex_estimated"])
    assert micro["stimulus"].tolist() == ["disgust", "happy"] and micro["fps"].unique().tolist() == [30.0]
    every = quiet(load_casme_sq, root, include_macro=True)
    macro = every.set_index("clip").loc["disgust1_2"]
    assert macro["expression_type"] == "macro" and macro["offset"] == 25     # offset 0 -> apex


def test_fer2013_and_ckplus(tmp_path):
    fer = load_fer2013(build_fer2013(tmp_path))
    assert fer["emotion"].tolist() == ["happy", "angry", "neutral"] and fer["label"].tolist() == [3, 0, 6]
    assert load_image(fer.iloc[0]).shape == (48, 48)
    assert load_image(fer.iloc[0], color=True, size=24).shape == (24, 24, 3)
    assert len(load_fer2013(tmp_path / "FER2013", usage="Training")) == 1
    ck = load_ckplus(build_ckplus(tmp_path), last_k=3, include_neutral=True)
    assert ck["emotion"].tolist() == ["neutral", "disgust", "disgust", "disgust", "neutral", "happy", "happy", "happy"]
    assert ck["subject"].unique().tolist() == ["S005", "S010"]
    assert load_image(ck.iloc[1]).shape == (8, 8)


# ----------------------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------------------
def test_missing_root_and_spreadsheet(tmp_path):
    with pytest.raises(FileNotFoundError, match="CASME II folder not found"):
        load_casme2(tmp_path / "nowhere")
    root = build_casme2(tmp_path)
    (root / "CASME2-coding-20140508.xlsx").unlink()
    with pytest.raises(FileNotFoundError, match=r"CASME2-coding"):
        load_casme2(root)


def test_wrong_sheet_and_renamed_column(tmp_path):
    root = build_casme2(tmp_path)
    from mer_utils.data.spreadsheets import read_casme2_coding

    with pytest.raises(ValueError, match="no sheet 'Coding'.*Sheet1"):
        read_casme2_coding(root / "CASME2-coding-20140508.xlsx", sheet="Coding")
    with pytest.raises(ValueError, match="no header row"):
        read_casme2_coding(root / "CASME2-coding-20140508.xlsx", sheet="Sheet2")
    header = list(CASME2_HEADER)
    header[4] = "Peak"
    write_xlsx(root / "CASME2-coding-20140508.xlsx", {"Sheet1": [header, ["01", "EP02_01f", None, 96, 98, 102, None, 4, "disgust"]]})
    with pytest.raises(ValueError, match="lacks apex"):
        load_casme2(root)


def test_samm_header_found_below_any_preamble(tmp_path):
    root = build_samm(tmp_path)
    book = openpyxl.load_workbook(root / "SAMM_Micro_FACS_Codes_v2.xlsx")
    book["MICRO_ONLY"].insert_rows(1, 3)                                      # a copy with 16 preamble rows
    book.save(root / "SAMM_Micro_FACS_Codes_v2.xlsx")
    table = quiet(load_samm, root)
    assert len(table) == 2 and table["source_row"].tolist() == [18, 19]


def test_empty_clip_folder_and_unreadable_image(tmp_path):
    root = build_casme2(tmp_path)
    folder = root / "CASME2_RAW_selected" / "sub05" / "EP09_05f"
    for f in folder.iterdir():
        f.unlink()
    with pytest.warns(DataWarning) as record:
        table = load_casme2(root)
    assert any("sub05/EP09_05f" in str(w.message) and "holds no frames" in str(w.message) for w in record)
    assert "casme2/sub05/EP09_05f" not in table["clip_uid"].tolist()
    assert "casme2/sub05/EP09_05f" in [s["clip_uid"] for s in table.attrs["skipped"]]
    bad = root / "CASME2_RAW_selected" / "sub04" / "EP12_01f" / "img12.jpg"
    bad.write_bytes(b"not a jpeg")
    row = table.set_index("clip").loc["EP12_01f"].copy()
    row["clip_uid"] = "casme2/sub04/EP12_01f"
    with pytest.raises(ValueError, match=r"img12\.jpg.*casme2/sub04/EP12_01f.*cannot be decoded"):
        load_frames(row)


def test_frame_range_errors(tmp_path):
    table = quiet(load_samm, build_samm(tmp_path))
    with pytest.raises(ValueError, match="no frame between"):
        load_frames(table.iloc[0], start=1, stop=5)
    with pytest.raises(ValueError, match="after stop"):
        load_frames(table.iloc[0], start=5567, stop=5562)


# ----------------------------------------------------------------------------------------------------------------
# load_dataset: licensed copy or synthetic fallback
# ----------------------------------------------------------------------------------------------------------------
def test_load_dataset_prefers_licensed(tmp_path, capsys):
    build_samm(tmp_path / "licensed")
    table = quiet(load_dataset, "samm", data_root=tmp_path / "licensed")
    assert table.attrs["source"] == "licensed" and len(table) == 2
    both = pd.concat([table, table.iloc[:1]])                                # attrs hold plain values only
    assert both.attrs["source"] == "licensed"
    assert "Using the licensed SAMM" in capsys.readouterr().out


def test_load_dataset_falls_back_to_synthetic(tmp_path, capsys, monkeypatch):
    synthetic = tmp_path / "synthetic"
    build_smic(synthetic / "quick")
    monkeypatch.setenv("MER_SYNTHETIC_ROOT", str(synthetic))
    (tmp_path / "empty").mkdir()   # a DATA_ROOT that does not exist is an error (tests/test_faults.py)
    with pytest.warns(LicensedDataWarning, match="using the synthetic set at"):   # DATA_ROOT given: warned
        table = load_dataset("smic", data_root=tmp_path / "empty")
    out = capsys.readouterr().out
    assert "Licensed SMIC not found under" in out and "SMIC_all_raw/HS" in out and "using the synthetic set" in out
    assert table.attrs["source"] == "synthetic" and table.attrs["root"].endswith("SMIC")
    with pytest.raises(FileNotFoundError, match="Licensed SMIC not found"):
        load_dataset("smic", data_root=tmp_path / "empty", require_licensed=True)


def test_load_dataset_generates_missing_synthetic_set(tmp_path, capsys, monkeypatch):
    synthetic = tmp_path / "synthetic"
    monkeypatch.setenv("MER_SYNTHETIC_ROOT", str(synthetic))
    calls = []
    fake = types.ModuleType("mer_utils.data.synthetic")
    fake.MARKER = "_synthetic.json"
    fake.ensure_synthetic = lambda size: (calls.append(size), build_casme(synthetic / size))
    monkeypatch.setitem(sys.modules, "mer_utils.data.synthetic", fake)
    (tmp_path / "empty").mkdir()
    table = quiet(load_dataset, "casme", data_root=tmp_path / "empty", synthetic_size="tiny")
    assert calls == ["tiny"] and len(table) == 2 and table.attrs["source"] == "synthetic"
    (tmp_path / "partial" / "CASME").mkdir(parents=True)
    quiet(load_dataset, "casme", data_root=tmp_path / "partial", synthetic_size="tiny")
    assert "incomplete (missing CASME_raw_selected/" in capsys.readouterr().out
    with pytest.raises(ValueError, match="Unknown dataset"):
        load_dataset("casme3")
