"""Faults and bad inputs a user meets with real copies of the datasets (issue 19).

Every test asserts one exact kind of outcome:

- **error**: the exception type *and* a message naming the file / parameter / column and the fix;
- **warning**: the warning category, its message *and* the correct result;
- **handled**: the correct result (and, where it matters, that nothing was warned or deleted).

Fixture layouts are tiny and built in ``tmp_path`` (8x8 JPEGs, spreadsheets of a few rows).
"""
from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pandas as pd
import pytest

from mer_utils import config, course, device, validate
from mer_utils.data import load_dataset, load_frames, load_protocol
from mer_utils.data.frames import CorruptFrameError, read_image, scan_frames
from mer_utils.data.loaders import AmbiguousFileError, load_casme2, load_samm
from mer_utils.data.naming import FRAME_PATTERNS, DataWarning, LicensedDataWarning
from mer_utils.data.protocols import _megc2019_csv_near
from mer_utils.data.spreadsheets import read_casme2_coding
from mer_utils.preprocess import cache as cache_mod
from mer_utils.validate import ParameterError


# ----------------------------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------------------------
def write_frames(folder: Path, names, value0: int = 0, ext_kwargs=None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, name in enumerate(names):
        image = np.full((8, 8, 3), (value0 + 20 * i) % 250, np.uint8)
        assert cv2.imwrite(str(folder / name), image)
        out.append(folder / name)
    return out


def write_xlsx(path: Path, rows, sheet: str = "Sheet1") -> Path:
    book = openpyxl.Workbook()
    book.active.title = sheet
    for row in rows:
        book.active.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


CASME2_HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
                 "Estimated Emotion"]
CASME2_ROWS = [["01", "EP02_01f", None, 1, 3, 5, None, "4+L10", "disgust"],
               ["02", "EP03_02", None, 1, 2, 4, None, "12", "happiness"]]


def build_casme2(base: Path, raw: bool = True, cropped: bool = True, coding_name="CASME2-coding-20140508.xlsx",
                 header=CASME2_HEADER) -> Path:
    """``base/CASME2`` with two clips in the raw and / or cropped release and the coding spreadsheet."""
    root = base / "CASME2"
    for subject, clip, n in (("sub01", "EP02_01f", 5), ("sub02", "EP03_02", 4)):
        if raw:
            write_frames(root / "CASME2_RAW_selected" / subject / clip, [f"img{k}.jpg" for k in range(1, n + 1)])
        if cropped:
            write_frames(root / "Cropped" / subject / clip, [f"reg_img{k}.jpg" for k in range(1, n + 1)], value0=100)
    write_xlsx(root / coding_name, [header] + CASME2_ROWS)
    return root


SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
               "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]


def build_samm(base: Path) -> Path:
    root = base / "SAMM"
    write_frames(root / "SAMM" / "006" / "006_1_2", [f"006_{n:05d}.jpg" for n in range(5562, 5566)])
    write_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", [["preamble"]] * 13 + [SAMM_HEADER,
               ["006", "006_1_2", 1, 5562, 5563, 5565, 4, "Micro - 1/2", "4+7", "Anger", 3, None]], sheet="MICRO_ONLY")
    return root


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return fn(*args, **kwargs)


def names(paths) -> list[str]:
    return [Path(p).name for p in paths]


@pytest.fixture
def synthetic_root(tmp_path, monkeypatch):
    """``$MER_SYNTHETIC_ROOT`` in tmp_path with a hand-made (marker-less, so never regenerated) 'quick' set."""
    base = tmp_path / "synthetic"
    build_samm(base / "quick")
    build_casme2(base / "quick")
    monkeypatch.setenv("MER_SYNTHETIC_ROOT", str(base))
    monkeypatch.delenv("MER_DATA_ROOT", raising=False)
    return base / "quick"


# ----------------------------------------------------------------------------------------------------------------
# 1. Frame scanning
# ----------------------------------------------------------------------------------------------------------------
def test_macos_companion_files_are_ignored(tmp_path):                          # handled
    folder = tmp_path / "EP02_01f"
    write_frames(folder, [f"img{n}.jpg" for n in (46, 47, 48)])
    (folder / "._img47.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")     # not an image
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                         # nothing to warn about
        numbers, paths = scan_frames(folder, FRAME_PATTERNS["casme2"])
    assert numbers == [46, 47, 48] and names(paths) == ["img46.jpg", "img47.jpg", "img48.jpg"]


def test_copy_beside_a_frame_loses_to_the_dataset_naming(tmp_path):          # warning + correct result
    folder = tmp_path / "EP02_01f"
    write_frames(folder, [f"img{n}.jpg" for n in range(38, 43)])
    write_frames(folder, ["img40 (copy).jpg"], value0=200)
    with pytest.warns(DataWarning, match=r"frame 40: using 'img40\.jpg', skipped \['img40 \(copy\)\.jpg'\]"):
        numbers, paths = scan_frames(folder, FRAME_PATTERNS["casme2"])
    assert numbers == list(range(38, 43)) and names(paths)[2] == "img40.jpg"


def test_zero_padded_duplicate_loses_to_the_unpadded_frame(tmp_path):        # warning + correct result
    folder = tmp_path / "EP02_01f"
    write_frames(folder, ["img036.jpg"], value0=200)                           # sorts first by name
    write_frames(folder, [f"img{n}.jpg" for n in range(35, 39)])
    with pytest.warns(DataWarning, match=r"using 'img36\.jpg', skipped \['img036\.jpg'\]"):
        numbers, paths = scan_frames(folder, FRAME_PATTERNS["casme2"])
    assert names(paths) == ["img35.jpg", "img36.jpg", "img37.jpg", "img38.jpg"]


def test_duplicate_without_a_dataset_pattern_uses_the_folder_naming(tmp_path):  # warning + correct result
    folder = tmp_path / "006_1_2"
    write_frames(folder, [f"006_{n:05d}.jpg" for n in range(5562, 5566)])
    write_frames(folder, ["006_5563.jpg"], value0=200)                        # unpadded twin of 006_05563
    with pytest.warns(DataWarning, match=r"using '006_05563\.jpg', skipped \['006_5563\.jpg'\]"):
        numbers, paths = scan_frames(folder)                                   # no pattern: the folder's padding
    assert numbers == [5562, 5563, 5564, 5565] and names(paths)[1] == "006_05563.jpg"


def test_same_frame_in_two_formats_keeps_the_dataset_format(tmp_path):       # warning + correct result
    folder = tmp_path / "s1_ne_01"
    write_frames(folder, [f"image{n:06d}.bmp" for n in range(1, 4)])
    write_frames(folder, ["image000002.png"], value0=200)
    with pytest.warns(DataWarning, match=r"using 'image000002\.bmp', skipped \['image000002\.png'\]"):
        _, paths = scan_frames(folder, FRAME_PATTERNS["smic_hs"])
    assert names(paths) == ["image000001.bmp", "image000002.bmp", "image000003.bmp"]


def test_unnumbered_image_is_named(tmp_path):                                 # warning + correct result
    folder = tmp_path / "clip"
    write_frames(folder, ["img1.jpg", "img2.jpg", "cover.jpg"])
    with pytest.warns(DataWarning, match=r"without a frame number.*cover\.jpg"):
        numbers, _ = scan_frames(folder)
    assert numbers == [1, 2]


def test_loader_ignores_companions_and_hidden_clip_folders(tmp_path):        # handled
    root = build_casme2(tmp_path, cropped=False)
    clip = root / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    (clip / "._img3.jpg").write_bytes(b"\x00\x05\x16\x07")
    (root / "CASME2_RAW_selected" / "sub01" / ".AppleDouble").mkdir()
    (root / "CASME2_RAW_selected" / "__MACOSX").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        table = load_casme2(root)
    row = table.set_index("clip").loc["EP02_01f"]
    assert row["frame_numbers"] == [1, 2, 3, 4, 5] and "._img3.jpg" not in names(row["frame_paths"])
    assert table.attrs["unannotated"] == []
    assert load_frames(row).shape == (5, 8, 8, 3)


# ----------------------------------------------------------------------------------------------------------------
# 2. Decoding damaged frames
# ----------------------------------------------------------------------------------------------------------------
def _row(paths, uid="casme2/sub01/EP02_01f"):
    return pd.Series({"clip_uid": uid, "frame_numbers": list(range(1, len(paths) + 1)),
                      "frame_paths": [str(p) for p in paths]})


def test_half_copied_jpeg_is_an_error_naming_file_and_clip(tmp_path):        # error
    paths = write_frames(tmp_path / "clip", [f"img{n}.jpg" for n in range(1, 4)])
    big = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    cv2.imwrite(str(paths[1]), big)
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFrameError, match=r"img2\.jpg \(clip casme2/sub01/EP02_01f\) is truncated.*FF D9.*"
                                                r"Re-copy the file from the dataset archive"):
        load_frames(_row(paths))


def test_empty_frame_file_is_an_error(tmp_path):                              # error
    paths = write_frames(tmp_path / "clip", ["img1.jpg", "img2.jpg"])
    paths[0].write_bytes(b"")
    with pytest.raises(CorruptFrameError, match=r"img1\.jpg \(clip casme2/sub01/EP02_01f\) is empty \(0 bytes\)"):
        load_frames(_row(paths))


def test_text_file_named_jpg_is_an_error(tmp_path):                           # error
    paths = write_frames(tmp_path / "clip", ["img1.jpg"])
    paths[0].write_text("<html>404 not found</html>")
    with pytest.raises(CorruptFrameError, match=r"img1\.jpg.*cannot be decoded: it is not a JPEG image"):
        read_image(paths[0], clip="casme2/sub01/EP02_01f")


def test_truncated_png_is_an_error(tmp_path):                                 # error
    path = tmp_path / "S005_001_00000001.png"
    cv2.imwrite(str(path), np.random.default_rng(1).integers(0, 255, (32, 32), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(CorruptFrameError, match=r"S005_001_00000001\.png.*truncated.*IEND"):
        read_image(path, color=False)


def test_truncated_bmp_is_an_error(tmp_path):                                 # error
    path = tmp_path / "image000001.bmp"
    cv2.imwrite(str(path), np.full((16, 16, 3), 90, np.uint8))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CorruptFrameError, match=r"image000001\.bmp.*BMP header announces \d+ bytes but the file holds 300"):
        read_image(path)


def test_frame_deleted_after_the_table_was_built(tmp_path):                   # error
    paths = write_frames(tmp_path / "clip", ["img1.jpg", "img2.jpg"])
    row = _row(paths)
    paths[1].unlink()
    with pytest.raises(FileNotFoundError, match=r"img2\.jpg \(clip casme2/sub01/EP02_01f\) does not exist.*"
                                                r"Rebuild the table"):
        load_frames(row)


def test_preprocessing_decoder_rejects_a_truncated_jpeg(tmp_path):            # error
    from mer_utils.preprocess.clips import decode

    path = write_frames(tmp_path / "clip", ["img1.jpg"])[0]
    cv2.imwrite(str(path), np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(CorruptFrameError, match=r"img1\.jpg \(clip c1\) is truncated"):
        decode(str(path), clip="c1")


def test_jpeg_with_bytes_after_its_end_marker_still_loads(tmp_path):         # handled
    path = write_frames(tmp_path / "clip", ["img1.jpg"])[0]
    path.write_bytes(path.read_bytes() + b"\x00" * 16)                        # padding some cameras add
    assert read_image(path).shape == (8, 8, 3)


# ----------------------------------------------------------------------------------------------------------------
# 3. Licensed-data discovery
# ----------------------------------------------------------------------------------------------------------------
def test_casme2_shipped_with_cropped_only_is_licensed(tmp_path, synthetic_root, capsys):  # handled
    build_casme2(tmp_path / "data", raw=False)
    table = quiet(load_dataset, "casme2", data_root=tmp_path / "data")
    assert table.attrs["source"] == "licensed" and table.attrs["release"] == "cropped"
    assert all(Path(p).name.startswith("reg_img") for p in table["frame_paths"].iloc[0])
    assert "Using the licensed CASME II" in capsys.readouterr().out


def test_bad_release_option_is_named(tmp_path, synthetic_root):              # error
    build_casme2(tmp_path / "data")
    with pytest.raises(ValueError, match=r"release='croped': expected 'raw'.*'cropped'"):
        load_dataset("casme2", data_root=tmp_path / "data", release="croped")


def test_second_download_of_the_spreadsheet_uses_the_original(tmp_path, synthetic_root):  # warning + result
    root = build_samm(tmp_path / "data")
    (root / "SAMM_Micro_FACS_Codes_v2 (1).xlsx").write_bytes((root / "SAMM_Micro_FACS_Codes_v2.xlsx").read_bytes())
    with pytest.warns(DataWarning, match=r"\['SAMM_Micro_FACS_Codes_v2 \(1\)\.xlsx'\] look like extra downloads or "
                                         r"copies of 'SAMM_Micro_FACS_Codes_v2\.xlsx'"):
        table = load_dataset("samm", data_root=tmp_path / "data", verbose=False)
    assert table.attrs["source"] == "licensed" and table.attrs["coding"].endswith("SAMM_Micro_FACS_Codes_v2.xlsx")
    assert len(table) == 1


def test_two_coding_versions_ask_for_coding_not_missing(tmp_path, synthetic_root):  # error
    root = build_casme2(tmp_path / "data")
    write_xlsx(root / "CASME2-coding-20190701.xlsx", [CASME2_HEADER] + CASME2_ROWS[:1])
    with pytest.raises(AmbiguousFileError, match=r"Several candidates.*CASME2-coding-20140508\.xlsx.*"
                                                 r"CASME2-coding-20190701\.xlsx.*coding=") as info:
        load_dataset("casme2", data_root=tmp_path / "data")
    assert "missing" not in str(info.value)


def test_coding_option_passes_through_load_dataset(tmp_path, synthetic_root):  # handled
    root = build_casme2(tmp_path / "data")
    other = write_xlsx(root / "CASME2-coding-20190701.xlsx", [CASME2_HEADER] + CASME2_ROWS[:1])
    table = quiet(load_dataset, "casme2", data_root=tmp_path / "data", coding=other, verbose=False)
    assert table.attrs["source"] == "licensed" and len(table) == 1 and table.attrs["coding"] == str(other)


def test_coding_option_that_does_not_exist(tmp_path, synthetic_root):       # error
    build_casme2(tmp_path / "data")
    with pytest.raises(FileNotFoundError, match=r"coding='.*nope\.xlsx' does not exist.*leave coding=None"):
        load_dataset("casme2", data_root=tmp_path / "data", coding=tmp_path / "nope.xlsx")


def test_unknown_loader_option_is_named(tmp_path, synthetic_root):          # error
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['releas'\].*accepts \['release', 'coding'"):
        load_dataset("casme2", releas="raw")


def test_mistyped_data_root_is_an_error_not_a_fallback(tmp_path, synthetic_root):  # error
    with pytest.raises(FileNotFoundError, match=r"DATA_ROOT='.*/dtaa' does not exist.*fix the path"):
        load_dataset("samm", data_root=tmp_path / "dtaa")


def test_mistyped_data_root_environment_variable(tmp_path, synthetic_root, monkeypatch):  # error
    monkeypatch.setenv("MER_DATA_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"\$MER_DATA_ROOT='.*nowhere' does not exist"):
        load_dataset("samm")


def test_data_root_that_is_a_file(tmp_path, synthetic_root):                # error
    (tmp_path / "datasets.zip").write_bytes(b"PK")
    with pytest.raises(NotADirectoryError, match=r"DATA_ROOT='.*datasets\.zip' is a file, not a folder"):
        load_dataset("samm", data_root=tmp_path / "datasets.zip")


def test_data_root_pointing_at_the_dataset_folder_itself(tmp_path, synthetic_root):  # error
    root = build_samm(tmp_path / "data")
    with pytest.raises(FileNotFoundError, match=r"looks like the SAMM/ folder itself: point DATA_ROOT at the folder "
                                                r"that holds it"):
        load_dataset("samm", data_root=root, require_licensed=True)


def test_incomplete_licensed_folder_falls_back_loudly_and_records_it(tmp_path, synthetic_root, capsys):  # warning
    root = build_samm(tmp_path / "data")
    (root / "SAMM_Micro_FACS_Codes_v2.xlsx").unlink()
    with pytest.warns(LicensedDataWarning, match=r"Licensed SAMM incomplete \(missing SAMM_Micro_FACS_Codes_v2\.xlsx\)"
                                                 r".*using the synthetic set at .*synthetic/quick/SAMM"):
        table = quiet(load_dataset, "samm", data_root=tmp_path / "data")
    assert not issubclass(LicensedDataWarning, DataWarning)                    # notebooks silence DataWarning only
    assert table.attrs["source"] == "synthetic" and "missing SAMM_Micro_FACS_Codes_v2.xlsx" in table.attrs["fallback"]
    assert table.attrs["licensed_folder"] == str(root) and len(table) == 1
    assert "using the synthetic set at" in capsys.readouterr().out


def test_require_licensed_through_load_protocol(tmp_path, synthetic_root):  # error
    (tmp_path / "data").mkdir()
    with pytest.raises(FileNotFoundError, match=r"Licensed CASME II not found under .*CASME2.*require_licensed=True"):
        load_protocol("casme2_5class", tmp_path / "data", require_licensed=True, verbose=False)


def test_require_licensed_from_the_environment(tmp_path, synthetic_root, monkeypatch):  # error
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("MER_REQUIRE_LICENSED", "1")
    with pytest.raises(FileNotFoundError, match=r"Licensed CASME II not found under .*no synthetic fallback"):
        load_protocol("casme2_5class", tmp_path / "data", verbose=False)
    # the notebook's explicit REQUIRE_LICENSED=False wins over the environment
    table, _ = quiet(load_protocol, "casme2_5class", tmp_path / "data", verbose=False, require_licensed=False)
    assert table.attrs["sources"]["casme2"]["source"] == "synthetic"


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_require_licensed_environment_value_checked(tmp_path, monkeypatch, value):  # error
    monkeypatch.setenv("MER_REQUIRE_LICENSED", value)
    with pytest.raises(ValueError, match=rf"\$MER_REQUIRE_LICENSED='{value}': expected 1/true/yes"):
        load_dataset("samm", data_root=tmp_path)


@pytest.mark.parametrize("raw, expected", [(None, False), ("", False), (" 1 ", True), ("TRUE", True), ("yes", True),
                                           ("on", True), ("0", False), ("False", False), ("no", False),
                                           ("off", False)])
def test_env_flag_reads_on_and_off(monkeypatch, raw, expected):
    from mer_utils.paths import env_flag

    if raw is None:
        monkeypatch.delenv("MER_TEST_FLAG", raising=False)
    else:
        monkeypatch.setenv("MER_TEST_FLAG", raw)
    assert env_flag("MER_TEST_FLAG") is expected
    assert env_flag("MER_TEST_FLAG", default=True) is (True if not (raw or "").strip() else expected)


def test_env_flag_names_the_variable_of_a_malformed_value(monkeypatch):  # error
    from mer_utils.paths import env_flag

    monkeypatch.setenv("MER_TEST_FLAG", "maybe")
    with pytest.raises(ValueError, match=r"\$MER_TEST_FLAG='maybe': expected 1/true/yes \(go\) or 0/false/no; fix"):
        env_flag("MER_TEST_FLAG", yes="go")


def test_require_licensed_parameter_type_checked(tmp_path):  # error
    with pytest.raises(TypeError, match=r"require_licensed='yes': expected True, False or None"):
        load_dataset("samm", data_root=tmp_path, require_licensed="yes")


def test_release_and_coding_pass_through_load_protocol(tmp_path, synthetic_root):  # handled
    root = build_casme2(tmp_path / "data")
    other = write_xlsx(root / "CASME2-coding-20190701.xlsx", [CASME2_HEADER] + CASME2_ROWS[:1])
    table, _ = quiet(load_protocol, "casme2_5class", tmp_path / "data", verbose=False, release="cropped",
                     coding=other)
    assert table.attrs["sources"]["casme2"]["source"] == "licensed" and len(table) == 1
    assert Path(table["frame_paths"].iloc[0][0]).name == "reg_img1.jpg"


def test_ambiguous_coding_for_a_composite_protocol(tmp_path, synthetic_root):  # error
    with pytest.raises(ValueError, match=r"coding='x\.xlsx' is ambiguous: protocol 'megc2018_objective' reads the "
                                         r"coded datasets \['casme2', 'samm'\]; pass coding=\{dataset: path\}"):
        load_protocol("megc2018_objective", coding="x.xlsx", verbose=False)


def test_fallback_is_recorded_in_the_protocol_sources(tmp_path, synthetic_root):  # warning + result
    (tmp_path / "data" / "CASME2").mkdir(parents=True)                        # the folder exists, empty
    with pytest.warns(LicensedDataWarning, match=r"Licensed CASME II incomplete"):
        table, _ = quiet(load_protocol, "casme2_5class", tmp_path / "data", verbose=False)
    source = table.attrs["sources"]["casme2"]
    assert source["source"] == "synthetic" and "incomplete" in source["fallback"] and table.attrs["source"] == "synthetic"


def test_megc2019_csv_at_the_data_root_is_found(tmp_path):                  # handled
    (tmp_path / "CASME2").mkdir()
    (tmp_path / "combined_3_class_gt.csv").write_text("data,subject,clip,label\n")
    found = _megc2019_csv_near({"casme2": {"source": "licensed", "root": str(tmp_path / "CASME2")}})
    assert found == tmp_path / "combined_3_class_gt.csv"
    (tmp_path / "MEGC2019").mkdir()
    (tmp_path / "MEGC2019" / "combined_3class_gt.csv").write_text("casme2,01,EP02_01f,0\n")
    assert _megc2019_csv_near({"casme2": {"root": str(tmp_path / "CASME2")}}).parent.name == "MEGC2019"


def test_renamed_action_units_column_is_reported(tmp_path):                 # warning + result
    header = [("Action Codes" if c == "Action Units" else c) for c in CASME2_HEADER]   # renamed by a user
    path = write_xlsx(tmp_path / "CASME2-coding-20140508.xlsx", [header] + CASME2_ROWS)
    with pytest.warns(DataWarning, match=r"no 'Action Units' / 'AUs' / 'AU' column.*'au_string' is left empty.*"
                                         r"rename it back"):
        table = read_casme2_coding(path)
    assert len(table) == 2 and table["aus"].map(len).sum() == 0


def test_missing_required_column_names_it(tmp_path):                         # error
    header = [("Onset" if c == "OnsetFrame" else c) for c in CASME2_HEADER]
    header[3] = "Start"
    path = write_xlsx(tmp_path / "CASME2-coding-20140508.xlsx", [header] + CASME2_ROWS)
    with pytest.raises(ValueError, match=r"CASME2-coding-20140508\.xlsx.*lacks onset \(OnsetFrame.*rename the column back"):
        read_casme2_coding(path)


# ----------------------------------------------------------------------------------------------------------------
# 4. The synthetic set never deletes user files
# ----------------------------------------------------------------------------------------------------------------
synthetic = pytest.importorskip("mer_utils.data.synthetic")


@pytest.fixture
def fast_generator(monkeypatch):
    """generate() writes only the tiny MEGC 2019 layout (the marker and folder logic is what is tested)."""
    from mer_utils.data.synthetic import sets as G

    original = G.generate

    def fake(size, root, seed, progress=True, **kw):
        return original(size=size, root=root, seed=seed, datasets=["megc2019"], progress=False)

    monkeypatch.setattr(G, "generate", fake)
    monkeypatch.setattr(G, "LAYOUTS", ("megc2019",))
    return G


def test_stale_set_is_moved_aside_with_the_users_files(tmp_path, fast_generator):  # warning + result
    G = fast_generator
    root = tmp_path / "quick"
    G.ensure_synthetic("tiny", root=root, seed=0, progress=False)
    (root / "MEGC2019" / "my_notes.txt").write_text("precious")
    marker = json.loads((root / G.MARKER).read_text())
    marker["version"] = "0.0-old"                                             # a generator version bump
    (root / G.MARKER).write_text(json.dumps(marker))
    with pytest.warns(G.SyntheticSetWarning, match=r"was stale \(version '0\.0-old'.*moved to .*quick\.old-v0\.0-old-"):
        G.ensure_synthetic("tiny", root=root, seed=0, progress=False)
    aside = list(tmp_path.glob("quick.old-v0.0-old-*"))
    assert len(aside) == 1 and (aside[0] / "MEGC2019" / "my_notes.txt").read_text() == "precious"
    assert G.read_marker(root)["version"] == G.L.GENERATOR_VERSION


def test_a_set_from_a_newer_generator_is_never_replaced_by_older_code(tmp_path, fast_generator):  # error
    """A kernel started before `git pull` (older generator) must not move the newer set aside and write an older one
    (the newer code would then do the same back, each time leaving a copy of the data behind)."""
    G = fast_generator
    root = tmp_path / "quick"
    G.ensure_synthetic("tiny", root=root, seed=0, progress=False)
    marker = json.loads((root / G.MARKER).read_text())
    marker["version"] = "99.0"
    (root / G.MARKER).write_text(json.dumps(marker))
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(G.SyntheticSetNewerError, match=r"quick was written by generator 99\.0, newer than this "
                                                          r"code's .*restart the kernel.*MER_SYNTHETIC_ROOT"):
        G.ensure_synthetic("tiny", root=root, seed=0, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == before and G.read_marker(root)["version"] == "99.0"
    assert G._version_tuple("2.10") > G._version_tuple("2.9") and G._version_tuple("0.0-old") is None


def test_synthetic_root_that_is_a_file(tmp_path):                           # error
    target = tmp_path / "quick"
    target.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match=r"synthetic-data folder .*quick is a file.*Move that file away"):
        synthetic.ensure_synthetic("tiny", root=target, progress=False)
    assert target.read_text() == "not a folder"


def test_symlinked_layout_folder_is_moved_aside_not_followed(tmp_path):    # warning + result
    from mer_utils.data.synthetic import sets as G

    root = G.generate("tiny", root=tmp_path / "set", datasets=["megc2019"], progress=False)
    mine = tmp_path / "my_megc"
    mine.mkdir()
    (mine / "mine.csv").write_text("keep")
    import shutil

    shutil.rmtree(root / "MEGC2019")
    (root / "MEGC2019").symlink_to(mine, target_is_directory=True)
    with pytest.warns(G.SyntheticSetWarning, match=r"MEGC2019 \(a link to .*my_megc\) was not written by the generator"):
        G.generate("tiny", root=root, datasets=["megc2019"], progress=False)
    assert (mine / "mine.csv").read_text() == "keep" and not (root / "MEGC2019").is_symlink()
    assert (root / "MEGC2019" / "combined_3_class_gt.csv").is_file()
    assert [p for p in root.iterdir() if p.name.startswith("MEGC2019.user-")]


def test_generate_refuses_a_folder_it_did_not_make(tmp_path):              # error
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    with pytest.raises(FileExistsError, match=r"not written by the synthetic-data generator.*move that folder away"):
        synthetic.generate("tiny", root=tmp_path / "mine", datasets=["megc2019"], progress=False)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "x"


# ----------------------------------------------------------------------------------------------------------------
# 5. Parameter values
# ----------------------------------------------------------------------------------------------------------------
def _notebook(folder: Path, params: str, body: str = "x = 1") -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Demo"), cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "30_demo.ipynb"
    nbformat.write(nb, str(path))
    return path


PARAMS = 'DATA_ROOT = None\nPROFILE = "quick"\nSEED = 0\nDEVICE = "auto"\nEPOCHS = None\nLR = None\nGRID = None'
BODY = ('from mer_utils import config\nS = config.resolve_profile(PROFILE, {"ci": dict(epochs=1, lr=0.1, grid=[1]), '
        '"quick": dict(epochs=5, lr=0.01, grid=[1, 2]), "full": dict(epochs=100, lr=0.01, grid=[1, 2, 3])}, '
        'epochs=EPOCHS, lr=LR, grid=GRID)')


@pytest.mark.parametrize("name, value, message", [
    ("SEED", "abc", r"SEED='abc': expected an int >= 0 \(e\.g\. 0\), got str"),
    ("SEED", 1.5, r"SEED=1\.5: expected an int >= 0 \(e\.g\. 0\), got float"),
    ("SEED", None, r"SEED=None: expected an int \(e\.g\. 0\); None is not accepted"),
    ("SEED", -3, r"SEED=-3: expected an int >= 0"),
    ("EPOCHS", 2.5, r"EPOCHS=2\.5: expected an int >= 1, got float"),
    ("EPOCHS", "3", r"EPOCHS='3': expected an int >= 1, got str"),
    ("EPOCHS", 0, r"EPOCHS=0: expected an int >= 1"),
    ("LR", -1, r"LR=-1: expected a number > 0"),
    ("DEVICE", "gpu", r"DEVICE='gpu': expected 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"),
    ("GRID", 5, r"GRID=5: expected a list, got int"),
])
def test_runner_rejects_bad_values_before_running(tmp_path, name, value, message):  # error
    nb = _notebook(tmp_path, PARAMS, BODY)
    with pytest.raises(course.CourseError, match=r"30_demo\.ipynb: bad parameter value\(s\):\n  " + message):
        course.plan_parameters([nb], {name: value}, "ci")


def test_runner_accepts_good_values_and_none_defaults(tmp_path):           # handled
    nb = _notebook(tmp_path, PARAMS, BODY)
    plan = course.plan_parameters([nb], {"SEED": 3, "EPOCHS": 2, "LR": 1, "DEVICE": "cuda:1", "GRID": [4],
                                         "DATA_ROOT": "/data"}, "ci")
    assert plan[nb] == {"PROFILE": "ci", "SEED": 3, "EPOCHS": 2, "LR": 1, "DEVICE": "cuda:1", "GRID": [4],
                        "DATA_ROOT": "/data"}
    assert course.plan_parameters([nb], {"EPOCHS": None}, "ci")[nb]["EPOCHS"] is None


def test_cli_stops_before_running_on_a_bad_value(tmp_path, capsys, monkeypatch):  # error
    nb = _notebook(tmp_path, PARAMS, BODY)
    monkeypatch.setattr(course, "NOTEBOOK_DIR", tmp_path)
    monkeypatch.setattr(course, "resolve_notebooks", lambda names, folder=tmp_path: [nb])
    out = tmp_path / "run"
    assert course.main(["run", "-p", "SEED", "abc", "--no-data", "--out", str(out)]) == 2
    assert "SEED='abc': expected an int" in capsys.readouterr().err and not out.exists()


def test_profile_types_come_from_the_notebooks_table(tmp_path):            # handled
    nb = _notebook(tmp_path, PARAMS, BODY)
    assert validate.profile_types(nb) == {"EPOCHS": (int,), "LR": (float,), "GRID": (list,)}
    assert validate.parameter_defaults(nb)["SEED"] == 0


def test_a_parameter_passed_through_a_module_function_is_checked_by_it_before_running(tmp_path):  # error
    """`setting=alias.f(PARAM)` (notebook 50's `n_grid=aman.n_grid(N_GRID)`): the function checks the value before
    anything runs, in place of the profile table's type; `int(EPOCHS)` or another expression maps nothing."""
    body = ('from mer_utils import config\nfrom mer_utils.papers import wei2022 as aman\n'
            'S = config.resolve_profile(PROFILE, {"ci": dict(epochs=1, grid=[1]), "quick": dict(epochs=5, grid=[1, 2]), '
            '"full": dict(epochs=100, grid="main")}, epochs=int(EPOCHS or 1), grid=aman.n_grid(GRID))')
    nb = _notebook(tmp_path, PARAMS, body)
    assert validate.profile_tables(nb)[0][1] == {"GRID": "grid"}
    assert set(validate.profile_converters(nb)) == {"GRID"} and validate.profile_types(nb) == {}
    for good in ("paper", "main", [1, 5], None):
        assert course.plan_parameters([nb], {"GRID": good}, "full")[nb]["GRID"] == good
    for bad, message in (("pape", "GRID='pape'"), (11, "N_GRID=11"), ([0], "0 is not a frame count"),
                         ([True], "True is not a frame count")):
        with pytest.raises(course.CourseError, match=r"30_demo\.ipynb: bad parameter value\(s\):\n  (.|\n)*"
                           + re.escape(message) + r"(.|\n)*Nothing was run"):
            course.plan_parameters([nb], {"GRID": bad}, "full")


def test_resolve_profile_names_the_bad_override():                          # error
    table = {p: {"epochs": 5, "lr": 0.01} for p in ("ci", "quick", "full")}
    with pytest.raises(ParameterError, match=r"EPOCHS='3': expected an int >= 1 \(e\.g\. 5\), got str"):
        config.resolve_profile("quick", table, verbose=False, epochs="3")
    with pytest.raises(ParameterError, match=r"LR=0: expected a number > 0"):
        config.resolve_profile("quick", table, verbose=False, lr=0)
    assert config.resolve_profile("quick", table, verbose=False, lr=1).lr == 1


def test_resolve_profile_rejects_a_non_string_profile():                    # error
    with pytest.raises(ParameterError, match=r"PROFILE=None: expected a string, one of \('ci', 'quick', 'full'\)"):
        config.resolve_profile(None, {"ci": {}}, verbose=False)


@pytest.mark.parametrize("args, error, message", [
    (("gpu", 0), ParameterError, r"Unknown DEVICE 'gpu': expected one of \('auto', 'cpu', 'cuda', 'mps'\) or 'cuda:N'"),
    (("cpu", "1"), ParameterError, r"SEED='1': expected an int >= 0"),
    (("cpu", 1.5), ParameterError, r"SEED=1\.5: expected an int >= 0"),
    (("cpu", True), ParameterError, r"SEED=True: expected an int >= 0.*got bool"),
    ((3, 0), ParameterError, r"DEVICE=3: expected a string"),
])
def test_device_setup_names_bad_arguments(args, error, message):           # error
    with pytest.raises(error, match=message):
        device.setup(*args, verbose=False)


@dataclass
class _Config:                                                               # the fields of training.TrainConfig
    epochs: object = 10
    batch_size: object = 16
    optimizer: object = "adam"
    lr: object = 1e-3
    weight_decay: object = 0.0
    momentum: object = 0.9
    val_fraction: object = 0.0
    patience: object = None


@pytest.mark.parametrize("field, value, message", [
    ("epochs", "3", r"_Config\.epochs='3': expected an int >= 1, got str"),
    ("epochs", 2.5, r"_Config\.epochs=2\.5: expected an int >= 1, got float"),
    ("lr", -1, r"_Config\.lr=-1: expected a number > 0"),
    ("optimizer", "adamm", r"_Config\.optimizer='adamm': expected one of \('sgd', 'adam', 'adamw', 'rmsprop'\)"),
    ("val_fraction", 1.0, r"_Config\.val_fraction=1\.0: expected a number >= 0 and < 1"),
])
def test_train_config_check_names_the_field(field, value, message):        # error
    with pytest.raises(ParameterError, match=message):
        validate.check_train_config(_Config(**{field: value}))
    validate.check_train_config(_Config())                                   # the defaults pass


# ----------------------------------------------------------------------------------------------------------------
# 6. Caches
# ----------------------------------------------------------------------------------------------------------------
def test_cache_entry_with_zeroed_content_is_detected(tmp_path):              # warning + result
    path = tmp_path / "entry.npz"
    arrays = {"face": np.arange(64, dtype=np.uint8).reshape(8, 8)}
    cache_mod.atomic_save_npz(path, arrays, {"n": 1})
    with np.load(path) as z:                                                  # a valid file, zeroed data
        payload = {k: (np.zeros_like(z[k]) if k == "face" else z[k]) for k in z.files}
    with open(path, "wb") as f:
        np.savez(f, **payload)
    with pytest.warns(cache_mod.CacheWarning, match=r"entry\.npz: its content does not match its checksum.*recomputed"):
        assert cache_mod.load_npz(path) is None
    assert not path.exists()
    cache_mod.atomic_save_npz(path, arrays, {"n": 1})
    got, meta = cache_mod.load_npz(path)
    assert np.array_equal(got["face"], arrays["face"]) and meta == {"n": 1}


def test_truncated_cache_entry_is_named(tmp_path):                          # warning + result
    path = tmp_path / "entry.npz"
    cache_mod.atomic_save_npz(path, {"a": np.ones((32, 32))})
    path.write_bytes(path.read_bytes()[:200])
    problems = []
    with pytest.warns(cache_mod.CacheWarning, match=r"entry\.npz: it cannot be read"):
        assert cache_mod.load_npz(path, problems=problems) is None
    assert problems and "cannot be read" in problems[0]


def test_truncated_stack_is_detected(tmp_path):                             # handled (the check)
    path = tmp_path / "stack.npy"
    np.save(path, np.ones((4, 16, 16), np.uint8))
    assert cache_mod.npy_problem(path, (4, 16, 16), np.uint8) is None
    path.write_bytes(path.read_bytes()[:-100])
    assert "truncated" in cache_mod.npy_problem(path, (4, 16, 16), np.uint8)
    assert "expected uint8 (5, 16, 16)" in cache_mod.npy_problem(path, (5, 16, 16), np.uint8)


@pytest.fixture
def clip_table(tmp_path, monkeypatch):
    skdata = pytest.importorskip("skimage.data")
    monkeypatch.setenv("MER_CACHE_ROOT", str(tmp_path / "cache"))
    face = cv2.resize(skdata.astronaut()[20:340, 90:410], (160, 160), interpolation=cv2.INTER_AREA)
    rows = []
    for subject, clip, n in (("sub01", "EP01_01", 8), ("sub02", "EP01_02", 9)):
        folder = tmp_path / "frames" / subject / clip
        folder.mkdir(parents=True)
        paths = []
        for t in range(n):
            m = np.float32([[1, 0, t % 3], [0, 1, 0]])
            frame = cv2.warpAffine(face, m, (160, 160), borderMode=cv2.BORDER_REFLECT)
            cv2.imwrite(str(folder / f"img{t + 1}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            paths.append(str(folder / f"img{t + 1}.jpg"))
        rows.append({"dataset": "casme2", "subject": subject, "subject_uid": f"casme2/{subject}", "clip": clip,
                     "clip_uid": f"casme2/{subject}/{clip}", "emotion": "happiness", "onset": 1, "apex": n // 2,
                     "offset": n, "apex_estimated": False, "frame_numbers": list(range(1, n + 1)),
                     "frame_paths": paths, "fps": 200})
    return pd.DataFrame(rows)


def test_prepare_recomputes_a_zeroed_entry_and_counts_it(clip_table):      # warning + result
    from mer_utils.preprocess import prepare

    first = prepare("peng2018", clip_table, profile="ci", workers=1, progress=False)
    entry = next(first.cache_dir.rglob("*EP01_02-*.npz"))
    with np.load(entry) as z:
        payload = {k: (np.zeros_like(z[k]) if not k.startswith("__") else z[k]) for k in z.files}
    with open(entry, "wb") as f:
        np.savez(f, **payload)
    with pytest.warns(cache_mod.CacheWarning, match=r"EP01_02-.*\.npz: its content does not match its checksum"):
        again = prepare("peng2018", clip_table, profile="ci", workers=1, progress=False)
    assert again.report.cached == 1 and again.report.computed == 1
    assert [r["clip_uid"] for r in again.report.recomputed] == ["casme2/sub02/EP01_02"]
    assert "damaged in the cache and recomputed" in str(again.report)
    assert np.array_equal(again.arrays["apex"], first.arrays["apex"]) and again.arrays["apex"][1].any()


def test_prepare_rebuilds_a_truncated_memory_mapped_stack(clip_table):     # warning + result
    from mer_utils.preprocess import prepare

    first = prepare("peng2018", clip_table, profile="ci", workers=1, progress=False, memmap=True)
    expected = np.array(first.arrays["apex"])
    del first
    stack = next((cache_mod.preprocess_root() / "peng2018").rglob("stacks/*-apex.npy"))
    stack.write_bytes(stack.read_bytes()[:-500])
    with pytest.warns(cache_mod.CacheWarning, match=r"Memory-mapped stack .*-apex\.npy: it is \d+ bytes, expected "
                                                    r"\d+ \(truncated\); deleted, it is rebuilt"):
        again = prepare("peng2018", clip_table, profile="ci", workers=1, progress=False, memmap=True)
    assert np.array_equal(np.asarray(again.arrays["apex"]), expected)
    # one copy (issue 20): the clips' entries pointed into the damaged stack, so they are recomputed, not trusted
    assert again.report.stacks_rebuilt and len(again.report.recomputed) == 2
    assert cache_mod.npy_problem(stack, expected.shape, expected.dtype) is None


def test_fallback_is_recorded_in_the_data_source(tmp_path, synthetic_root):  # warning + recorded result
    from mer_utils.results import data_source

    (tmp_path / "data" / "CASME2").mkdir(parents=True)
    with pytest.warns(LicensedDataWarning):
        table, _ = quiet(load_protocol, "casme2_5class", tmp_path / "data", verbose=False)
    assert "fallback: licensed data not found" in data_source(table)
    default, _ = quiet(load_protocol, "casme2_5class", None, verbose=False)  # no licensed folder at all
    assert "fallback" not in default.attrs and "fallback" not in data_source(default)
