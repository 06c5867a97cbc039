"""Tests of the recipes, prepare() and the cache on a tiny hand-made clip table in a temp dir."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pandas as pd
import pytest

import mer_utils.preprocess.cache as cache_mod
from mer_utils.papers import get_recipe, recipe_params
from mer_utils.preprocess import prepare


def _write_clip(root, subject, clip, n, face, blank=False):
    folder = root / "CASME2" / "CASME2_RAW_selected" / subject / clip
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in range(n):
        amp = 1.5 * np.sin(np.pi * t / max(n - 1, 1))
        m = np.float32([[1, 0, amp], [0, 1, 0.5 * amp]])
        frame = cv2.warpAffine(face, m, face.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
        if blank:
            frame = np.full_like(frame, 120)
        path = folder / f"img{t + 1}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        paths.append(str(path))
    return {"dataset": "casme2", "subject": subject, "subject_uid": f"casme2/{subject}", "clip": clip,
            "clip_uid": f"casme2/{subject}/{clip}", "emotion": "happiness", "onset": 1, "apex": n // 2,
            "offset": n, "apex_estimated": False, "frame_numbers": list(range(1, n + 1)), "frame_paths": paths,
            "fps": 200}


@pytest.fixture(scope="module")
def face_image():
    skdata = pytest.importorskip("skimage.data")
    return cv2.resize(skdata.astronaut()[20:340, 90:410], (160, 160), interpolation=cv2.INTER_AREA)


@pytest.fixture
def table(tmp_path, face_image, monkeypatch):
    monkeypatch.setenv("MER_CACHE_ROOT", str(tmp_path / "cache"))
    rows = [_write_clip(tmp_path, "sub01", "EP01_01", 12, face_image),
            _write_clip(tmp_path, "sub01", "EP02_01", 9, face_image, blank=True),
            _write_clip(tmp_path, "sub02", "EP01_02", 14, face_image)]
    return pd.DataFrame(rows, index=[10, 11, 12])


EXPECTED = {
    "she2020": {"face": (8, 140, 120, 3), "left_eye": (8, 50, 60, 3), "mouth": (8, 40, 80, 3)},
    "peng2018": {"apex": (64, 64)},
    "reddy2019": {"face": (18, 64, 64), "eyes": (18, 32, 32), "nose_mouth": (18, 32, 32)},
    "zhao2021": {"ars": (96, 96, 3), "rrs": (96, 96, 3), "flow_farneback": (96, 96, 3)},
    "wei2022": {"magnified": (2, 2, 112, 112, 3)},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recipes_produce_the_papers_arrays(table, name):
    prep = prepare(name, table, profile="ci", workers=1, progress=False)
    assert list(prep.table.index) == [10, 11, 12] and list(prep.table["clip_uid"]) == list(table["clip_uid"])
    for key, shape in EXPECTED[name].items():
        assert prep.arrays[key].shape == (3,) + shape, key
        assert prep.arrays[key].dtype == np.uint8
    assert prep.table["prep_ok"].all()
    assert prep.report.faces_detected == 2 and prep.report.faces_previous == 1
    assert prep.table["face_source"].tolist()[1] == "previous:casme2/sub01/EP01_01"
    assert prep.landmarks.shape == (3, 68, 2) and prep.transforms.shape == (3, 2, 3)
    assert np.array_equal(prep.landmarks[1], prep.landmarks[0])
    assert prep.arrays[next(iter(EXPECTED[name]))][0].std() > 1  # not blank


def test_paper_defaults():
    assert recipe_params("she2020").n_frames == 64 and recipe_params("she2020").detector == "haar"
    assert get_recipe("she2020").outputs(recipe_params("she2020"))["face"][0] == (64, 140, 120, 3)
    assert get_recipe("wei2022").outputs(recipe_params("wei2022"))["magnified"][0] == (11, 9, 224, 224, 3)
    assert get_recipe("zhao2021").outputs(recipe_params("zhao2021"))["ars"][0] == (320, 320, 3)
    casme_sq = pd.DataFrame({"dataset": ["casme_sq", "casme_sq"]})
    assert recipe_params("reddy2019", table=casme_sq).n_frames == 96
    assert recipe_params("reddy2019", table=pd.DataFrame({"dataset": ["smic_hs"]})).n_frames == 18
    assert recipe_params("peng2018").size == (224, 224)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="n_framez"):
        recipe_params("she2020", n_framez=3)
    with pytest.raises(ValueError, match="detector"):
        recipe_params("she2020", detector="mtcnn")
    with pytest.raises(ValueError, match="checkpoint"):
        recipe_params("wei2022", magnifier="oh2018")
    with pytest.raises(ValueError, match="Unknown recipe"):
        get_recipe("nope")
    with pytest.raises(ValueError, match="frame_paths"):
        prepare("peng2018", pd.DataFrame({"clip_uid": ["a"]}), progress=False)


def test_cache_hits_and_invalidates_on_a_parameter_change(table):
    first = prepare("she2020", table, profile="ci", workers=1, progress=False)
    assert first.report.computed == 3 and first.report.cached == 0
    again = prepare("she2020", table, profile="ci", workers=1, progress=False)
    assert again.report.cached == 3 and again.report.computed == 0
    assert np.array_equal(again.arrays["face"], first.arrays["face"])
    changed = prepare("she2020", table, params={"n_frames": 8, "temporal": "uniform"}, workers=1, progress=False)
    assert changed.report.cached == 0 and changed.report.params_key != first.report.params_key
    assert not np.array_equal(changed.arrays["face"], first.arrays["face"])
    # the prepared table names what made it (the cross-validation key includes it: issue 20)
    assert first.table.attrs["preprocessing"]["params_key"] == first.report.params_key
    assert changed.table.attrs["preprocessing"]["params_key"] == changed.report.params_key
    # regenerated data (new frame files) is not mistaken for the old
    path = table.iloc[0]["frame_paths"][3]
    img = cv2.imread(path)
    cv2.imwrite(path, 255 - img)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    third = prepare("she2020", table, profile="ci", workers=1, progress=False)
    assert third.report.computed >= 1


def test_crash_leaves_no_half_written_entry(table, monkeypatch):
    real = np.savez

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt("simulated crash while writing")

    monkeypatch.setattr(cache_mod.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        prepare("peng2018", table, profile="ci", workers=1, progress=False)
    root = cache_mod.preprocess_root() / "peng2018"
    assert not list(root.rglob("*.npz")) and not list(root.rglob("*.tmp"))
    monkeypatch.setattr(cache_mod.np, "savez", real)
    prep = prepare("peng2018", table, profile="ci", workers=1, progress=False)
    assert prep.report.computed == 3 and prep.table["prep_ok"].all()
    # an unreadable cached entry is recomputed rather than trusted
    entry = next(root.rglob("*.npz"))
    entry.write_bytes(b"garbage")
    again = prepare("peng2018", table, profile="ci", workers=1, progress=False)
    assert again.table["prep_ok"].all() and np.array_equal(again.arrays["apex"], prep.arrays["apex"])


def test_bad_clip_is_reported_not_fatal(table, face_image, tmp_path):
    broken = _write_clip(tmp_path, "sub03", "EP09_09", 6, face_image)
    for path in broken["frame_paths"]:  # truncated files: nothing can be decoded
        with open(path, "wb") as f:
            f.write(b"not a jpeg")
    lonely = _write_clip(tmp_path, "sub04", "EP01_01", 6, face_image, blank=True)
    first_blank = _write_clip(tmp_path, "sub05", "EP01_01", 6, face_image, blank=True)
    second = _write_clip(tmp_path, "sub05", "EP02_01", 6, face_image)
    t = pd.concat([table, pd.DataFrame([broken, lonely, first_blank, second])], ignore_index=True)
    prep = prepare("peng2018", t, profile="ci", workers=1, progress=False)
    assert prep.table["prep_ok"].tolist() == [True, True, True, False, True, True, True]
    assert prep.report.n_failed == 1 and "sub03" in prep.report.failed[0]["clip_uid"]
    sources = prep.table["face_source"].tolist()
    assert sources[3] == sources[4] == "whole_frame" and prep.report.faces_whole_frame == 2
    assert sources[5] == "next:casme2/sub05/EP02_01" and prep.report.faces_next == 1
    assert not prep.arrays["apex"][3].any()
    assert "FAILED" in str(prep.report)


def test_memory_mapped_stacks(table):
    prep = prepare("reddy2019", table, workers=1, progress=False, memmap=True)
    assert isinstance(prep.arrays["face"], np.memmap) and prep.arrays["face"].shape == (3, 18, 64, 64)
    again = prepare("reddy2019", table, workers=1, progress=False, memmap=True)
    assert again.report.cached == 3 and np.array_equal(np.asarray(again.arrays["eyes"]), np.asarray(prep.arrays["eyes"]))
    assert list((prep.cache_dir / "stacks").glob("*.npy"))


def test_memory_mapped_stacks_are_the_only_copy(table):
    """Issue 20: once the stack is complete, each clip's entry keeps its metadata and a pointer to its stack row,
    not a second copy of the arrays; another table of the same clips is built from those rows."""
    prep = prepare("reddy2019", table, workers=1, progress=False, memmap=True)
    entries = sorted(p for p in prep.cache_dir.rglob("*.npz"))
    assert len(entries) == 3
    for e in entries:
        with np.load(e) as z:
            assert set(z.files) == {"__meta__", "__checksum__", "__stack__"}
    sub = prepare("reddy2019", table.iloc[[2, 0]].reset_index(drop=True), workers=1, progress=False, memmap=True)
    assert sub.report.cached == 2 and not sub.report.recomputed
    assert np.array_equal(np.asarray(sub.arrays["face"]), np.asarray(prep.arrays["face"])[[2, 0]])
    small = prepare("reddy2019", table.iloc[[1]].reset_index(drop=True), workers=1, progress=False, memmap=False)
    assert np.array_equal(small.arrays["face"][0], np.asarray(prep.arrays["face"])[1])


def test_no_cache_mode_writes_nothing(table):
    prep = prepare("peng2018", table, profile="ci", cache=False, workers=1, progress=False)
    assert prep.arrays["apex"].shape == (3, 64, 64) and prep.cache_dir is None
    assert not (cache_mod.preprocess_root() / "peng2018").exists()


@pytest.mark.slow
def test_process_pool_gives_the_same_arrays(table):
    one = prepare("reddy2019", table, workers=1, cache=False, progress=False)
    two = prepare("reddy2019", table, workers=2, progress=False)
    assert two.report.workers == 2
    for k in one.arrays:
        assert np.array_equal(one.arrays[k], two.arrays[k])


def _cache_files(root):
    """Relative path -> content of every cache file: bytes of the entries and params, the landmark files without
    their timing (``seconds``)."""
    import json

    def content(p):
        return {k: v for k, v in json.loads(p.read_text()).items() if k != "seconds"} \
            if p.parent.parts[-3:-2] and "landmarks" in p.parts else p.read_bytes()

    return {str(p.relative_to(root)): content(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_prepare_many_writes_exactly_the_single_recipe_caches(table, tmp_path, monkeypatch):
    """Issue 22: one decode per clip for all five recipes; every cache file (key and bytes) as prepare() alone."""
    from mer_utils.preprocess import prepare_many

    names = sorted(EXPECTED)
    monkeypatch.setenv("MER_CACHE_ROOT", str(tmp_path / "single"))
    single = {n: prepare(n, table, profile="ci", workers=1, progress=False) for n in names}
    monkeypatch.setenv("MER_CACHE_ROOT", str(tmp_path / "many"))
    import mer_utils.preprocess.clips as clips_mod
    import sys

    prepare_mod = sys.modules["mer_utils.preprocess.prepare"]  # the package exports the function under this name

    decodes, stage = [], []
    real_decode, real_task = clips_mod._decode, prepare_mod._clip_outputs_task
    monkeypatch.setattr(clips_mod, "_decode", lambda *a: (stage and decodes.append(a[:3])) or real_decode(*a))
    monkeypatch.setattr(prepare_mod, "_clip_outputs_task", lambda *a: stage.append(1) or real_task(*a))
    many = prepare_many(names, table, profile="ci", workers=1, progress=False)
    assert list(many) == names
    a, b = _cache_files(tmp_path / "single" / "preprocess"), _cache_files(tmp_path / "many" / "preprocess")
    assert a.keys() == b.keys() and len(a) > 3 * len(names)
    assert [k for k in a if a[k] != b[k]] == []
    for n in names:
        assert many[n].report.computed == len(table) and many[n].report.shared_with == [m for m in names if m != n]
        for k, v in single[n].arrays.items():
            np.testing.assert_array_equal(many[n].arrays[k], v)
        pd.testing.assert_frame_equal(many[n].table, single[n].table)
    # in the output stage each frame file is decoded at most once per (colour, JPEG reduction) for all five
    assert len(decodes) == len(set(decodes)) > 20
    # a second run reads everything from the cache; the no-cache mode gives the same arrays
    again = prepare_many(names, table, profile="ci", workers=1, progress=False)
    assert all(again[n].report.cached == len(table) for n in names)
    fresh = prepare_many(names[:2], table, profile="ci", cache=False, workers=1, progress=False)
    for n in names[:2]:
        for k, v in single[n].arrays.items():
            np.testing.assert_array_equal(fresh[n].arrays[k], v)


def test_prepare_many_rejects_bad_arguments(table):
    from mer_utils.preprocess import prepare_many

    with pytest.raises(ValueError, match="named twice"):
        prepare_many(["she2020", "she2020"], table, progress=False)
    with pytest.raises(ValueError, match="not prepared here"):
        prepare_many(["she2020"], table, params={"wei2022": {"k": 2}}, progress=False)


def test_decoding_memo_lives_for_one_shared_decoding_block():
    from mer_utils.preprocess import clips

    clips.decoding_memo()["x"] = 1
    assert clips.decoding_memo() == {}  # outside a block: nothing is kept
    with clips.shared_decoding():
        clips.decoding_memo()["x"] = 1
        with clips.shared_decoding():
            assert clips.decoding_memo() == {"x": 1}  # nested blocks share the outer one's frames
    assert clips.decoding_memo() == {}


def test_tensor_path_matches_the_reference_and_is_cached_apart(table):
    """Issue 22: the GPU path (torch ops, here on the CPU) gives the reference arrays within the stated
    tolerances, under its own cache key; 'auto' on a machine without CUDA is the reference path itself."""
    pytest.importorskip("torch")
    from mer_utils.preprocess import prepare_many

    names = ["she2020", "zhao2021", "wei2022", "peng2018"]
    ref = prepare_many(names, table, profile="ci", workers=1, progress=False, tensor_device=None)
    ten = prepare_many(names, table, profile="ci", workers=1, progress=False, tensor_device="cpu")
    for n in names:
        assert ten[n].report.params_key != ref[n].report.params_key and ten[n].report.computed == len(table)
        for k, v in ref[n].arrays.items():
            if k.startswith("flow_"):
                continue  # optical flow stays on OpenCV; its inputs differ by the warp's rounding
            d = np.abs(ten[n].arrays[k].astype(np.int16) - v.astype(np.int16))
            # warp <= 4 grey levels, then TIM / magnification (gains up to k) and residual sums of warped frames
            assert d.mean() < (2.0 if k in ("ars", "rrs") else 0.6), (n, k, d.mean(), d.max())
    import torch

    if not torch.cuda.is_available():
        auto = prepare_many(names, table, profile="ci", workers=1, progress=False)
        assert all(auto[n].report.params_key == ref[n].report.params_key and auto[n].report.cached == len(table)
                   for n in names)
