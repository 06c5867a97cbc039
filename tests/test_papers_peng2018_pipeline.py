"""Unit tests for Peng et al. 2018's pipeline glue (mer_utils.papers.peng2018)."""
import numpy as np
import pandas as pd
import pytest
import torch

from mer_utils.papers.peng2018 import (HDE_AUGMENT, MACRO_AUGMENT, BatchAugment, ImageInputs, PengAugment, PengStage,
                                        balanced_resample, center_crop, compare_cde, compare_hde, load_emotion_folder,
                                        random_corner_crop, random_test_split, run_stage, stage_checkpoint)
from mer_utils.training import ClipDataset

torch.set_num_threads(1)


def test_balanced_resample_equal_counts_and_keeps_every_sample():
    labels = np.array([0] * 7 + [1] * 2 + [2] * 13 + [4] * 1)
    idx = balanced_resample(labels, per_class=20, seed=0)
    counts = np.bincount(labels[idx], minlength=5)
    assert counts.tolist() == [20, 20, 20, 0, 20]
    assert set(idx.tolist()) == set(range(labels.size))  # oversampling loses no sample
    # default: oversample to the largest class
    idx = balanced_resample(labels, seed=1)
    assert np.bincount(labels[idx]).tolist() == [13, 13, 13, 0, 13]


def test_balanced_resample_subsamples_without_replacement_and_is_seeded():
    labels = np.repeat([0, 1], [50, 30])
    a = balanced_resample(labels, per_class=10, seed=3)
    b = balanced_resample(labels, per_class=10, seed=3)
    assert np.array_equal(a, b) and np.bincount(labels[a]).tolist() == [10, 10]
    assert len(np.unique(a)) == 20


def test_balanced_resample_bad_input():
    with pytest.raises(ValueError, match="no sample"):
        balanced_resample([0, 0, 1], per_class=4, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="1-D"):
        balanced_resample([], per_class=4)


@pytest.mark.parametrize("aug", [MACRO_AUGMENT, HDE_AUGMENT, PengAugment(p=1.0)])
@pytest.mark.parametrize("shape", [(32, 40), (32, 40, 3), (5, 32, 40, 3), (5, 32, 40)])
def test_augment_keeps_shape_dtype_and_range(aug, shape):
    img = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    out = aug(img, rng=0, batch=len(shape) == 4 or shape == (5, 32, 40))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert out.min() >= 0 and out.max() <= 255


def test_augment_changes_image_when_p_is_one_and_not_when_zero():
    img = np.random.default_rng(1).integers(0, 256, size=(24, 24, 3), dtype=np.uint8)
    assert not np.array_equal(PengAugment(p=1.0)(img, rng=0), img)
    assert np.array_equal(PengAugment(p=0.0)(img, rng=0), img)


def test_color_shift_is_bounded():
    img = np.full((8, 8, 3), 128, np.uint8)
    aug = PengAugment(color_shift=20, max_rotation=0, max_smoothing=0, p=1.0)
    for s in range(20):
        d = aug(img, rng=s).astype(int) - 128
        assert np.abs(d).max() <= 20 and (d == d[0, 0]).all()  # one offset per channel


def test_augment_rejects_float_images():
    with pytest.raises(ValueError, match="uint8"):
        MACRO_AUGMENT(np.zeros((8, 8), np.float32))


def test_corner_crops_are_corners():
    batch = np.arange(4 * 6 * 6).reshape(4, 6, 6).astype(np.uint8)
    out = random_corner_crop(batch, 4, rng=0)
    assert out.shape == (4, 4, 4)
    corners = [batch[0, :4, :4], batch[0, :4, 2:], batch[0, 2:, :4], batch[0, 2:, 2:]]
    assert any(np.array_equal(out[0], c) for c in corners)
    assert center_crop(batch, 4).shape == (4, 4, 4)
    with pytest.raises(ValueError, match="larger than"):
        random_corner_crop(batch, 8)


# ---------------------------------------------------------------------------------------------- pipeline glue


def test_image_inputs_and_batch_augment_shapes():
    imgs = np.random.default_rng(0).integers(0, 256, size=(4, 40, 40), dtype=np.uint8)
    inputs = ImageInputs(imgs)
    x = inputs(1)
    assert x.shape == (3, 40, 40) and x.dtype == torch.float32 and float(x.max()) <= 255
    assert torch.equal(x[0], torch.from_numpy(imgs[1]).float())
    batch = torch.stack([inputs(i) for i in range(4)])
    torch.manual_seed(0)
    out = BatchAugment(PengAugment(p=1.0), crop=32)(batch)
    assert out.shape == (4, 3, 32, 32) and out.min() >= 0 and out.max() <= 255
    with pytest.raises(ValueError, match="grey uint8"):
        ImageInputs(imgs.astype(np.float32))


def test_random_test_split_is_stratified_and_seeded():
    labels = np.repeat(np.arange(5), 20)
    f = random_test_split(labels, 0.1, seed=0)
    assert len(f.test) == 10 and np.bincount(labels[f.test]).tolist() == [2] * 5
    assert np.array_equal(f.test, random_test_split(labels, 0.1, seed=0).test)
    assert not np.intersect1d(f.train, f.test).size


def test_load_emotion_folder_reads_emotion_subfolders(tmp_path):
    import cv2

    for emo, subj in (("happy", "S1"), ("fear", "S2")):
        (tmp_path / emo / subj).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / emo / subj / "a.png"), np.zeros((8, 8), np.uint8))
    t = load_emotion_folder(tmp_path, dataset="jaffe")
    assert sorted(t["emotion"]) == ["fear", "happy"] and set(t["subject"]) == {"S1", "S2"}
    with pytest.raises(FileNotFoundError, match="not found"):
        load_emotion_folder(tmp_path / "absent")


def _tiny_dataset(n_subjects=4, per_subject=5, size=32, datasets=("casme2", "samm")):
    rng = np.random.default_rng(0)
    rows, imgs = [], []
    for d in datasets:
        for s in range(n_subjects):
            for k in range(per_subject):
                lab = k % 5
                rows.append({"clip_uid": f"{d}/{s}/{k}", "subject_uid": f"{d}/{s}", "dataset": d, "label": lab,
                             "label_name": "I II III IV V".split()[lab]})
                img = rng.integers(0, 60, size=(size, size)).astype(np.uint8)
                img[: 6 * (lab + 1)] += 120  # a learnable cue
                imgs.append(img)
    table, imgs = pd.DataFrame(rows), np.stack(imgs)
    return table, imgs, ClipDataset(table, ImageInputs(imgs), ["I", "II", "III", "IV", "V"])


@pytest.mark.slow
def test_stage_checkpoint_if_present_and_transfer_init(tmp_path):
    table, _, data = _tiny_dataset()
    fold = random_test_split(data.labels, 0.2, seed=0)
    stage = PengStage(epochs=1, batch_size=10, lr=0.01, per_class=4, augment=PengAugment(), init="scratch")
    kw = dict(notebook="test_peng", dataset="tiny", protocol="p", method_name="m", seed=0, device="cpu",
              subject_wise=False, root=tmp_path, progress=False)
    cv1 = run_stage(stage, data, [fold], **kw)
    ckpt = stage_checkpoint(cv1)
    assert ckpt.exists() and cv1.computed == [fold.name]
    cv2 = run_stage(stage, data, [fold], **kw)  # same settings: the finished fold is reused, nothing retrained
    assert cv2.resumed == [fold.name] and cv2.run_dir == cv1.run_dir
    assert cv2.predictions["pred"].tolist() == cv1.predictions["pred"].tolist()
    # a changed setting trains in a fresh folder
    other = PengStage(epochs=1, batch_size=10, lr=0.02, per_class=4, init="scratch")
    assert run_stage(other, data, [fold], **kw).run_dir != cv1.run_dir
    # transfer: the next stage starts from the checkpoint's weights
    nxt = PengStage(epochs=1, batch_size=10, lr=0.01, init="checkpoint", init_path=str(ckpt))
    model, msg = nxt.build_model(5)
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    assert torch.equal(model.layer_512_1.conv2.weight, saved["layer_512_1.conv2.weight"]) and "initialised" in msg


@pytest.mark.slow
def test_micro_stage_with_corner_crops_and_paper_tables(tmp_path):
    from mer_utils.data import holdout_database, leave_one_subject_out

    table, imgs, data = _tiny_dataset(n_subjects=2, per_subject=5, size=36)
    test_view = ClipDataset(table, ImageInputs(np.ascontiguousarray(center_crop(imgs, 32))),
                            data.class_names)
    kw = dict(notebook="test_peng", dataset="tiny", protocol="p", seed=0, device="cpu", root=tmp_path, progress=False)
    hde = run_stage(PengStage(epochs=1, batch_size=10, lr=0.01, per_class=3, save_model=False), data,
                    holdout_database(table), method_name="hde", **kw)
    cde = run_stage(PengStage(epochs=1, batch_size=10, lr=0.01, crop=32, save_model=False), data,
                    leave_one_subject_out(table)[:2], test_data=test_view, method_name="cde", **kw)
    assert not list(hde.run_dir.glob("folds/*/model.pt"))
    t4 = compare_hde({"run": hde})
    assert t4.loc[("ResNet-10 (ImageNet -> macro -> micro)", "paper"), "WAR"] == pytest.approx(0.561)
    assert 0 <= t4.loc[("run", "this run"), "WAR"] <= 1
    t57 = compare_cde({"run": cde})
    assert t57.loc[("V", "samm", "ResNet-10 (ImageNet -> macro -> micro)", "paper"), "F1"] == pytest.approx(0.54)
    assert ("VII", "composite", "run", "this run") in t57.index


def test_load_macro_table_maps_emotions_to_objective_classes(tmp_path, monkeypatch):
    from mer_utils.papers.peng2018 import OBJECTIVE_CLASSES, load_macro_table, prepare_macro_images

    folder = tmp_path / "FER2013"
    folder.mkdir()
    pixels = " ".join(["128"] * 48 * 48)
    lines = ["emotion,pixels,Usage"] + [f"{e},{pixels},Training" for e in range(7) for _ in range(2)]
    (folder / "fer2013.csv").write_text("\n".join(lines) + "\n")
    table, dropped = load_macro_table(("fer2013",), data_root=tmp_path, verbose=False)
    # FER2013: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral
    assert table.groupby("label_name").size().to_dict() == {c: 2 for c in OBJECTIVE_CLASSES}
    assert table.loc[table["emotion"] == "happy", "label"].eq(0).all()
    assert table.loc[table["emotion"] == "angry", "label_name"].eq("III").all()
    assert sorted(dropped["emotion"].unique()) == ["fear", "neutral"] and len(dropped) == 4
    monkeypatch.setenv("MER_CACHE_ROOT", str(tmp_path / "cache"))
    imgs = prepare_macro_images(table, 40, progress=False)
    assert imgs.shape == (10, 40, 40) and imgs.dtype == np.uint8 and (imgs == 128).all()
    assert list((tmp_path / "cache" / "peng2018" / "macro").glob("*.npz"))  # cached
    with pytest.raises(ValueError, match="unknown macro set"):
        load_macro_table(("jaffe",), data_root=tmp_path, verbose=False)


def test_claims_table_uses_the_shared_claim_row_and_skips_missing_runs():
    from types import SimpleNamespace

    from mer_utils.evaluation import claim_columns, claim_row
    from mer_utils.papers.peng2018 import CLAIMS, claims_table

    rng = np.random.default_rng(0)
    n = 50
    base = pd.DataFrame({"true": rng.integers(0, 5, n), "subject_uid": [f"s{i % 10}" for i in range(n)],
                         "clip_uid": [f"c{i}" for i in range(n)]})
    transfer = SimpleNamespace(predictions=base.assign(pred=base["true"]))
    scratch = SimpleNamespace(predictions=base.assign(pred=(base["true"] + 1) % 5))
    runs = {"HDE": {"macro -> micro": transfer, "micro only (scratch)": scratch}, "CDE": {"macro -> micro": transfer}}
    t = claims_table(runs)
    assert len(t) == 1 and t["task"].tolist() == ["HDE"]  # CDE lacks its scratch run: skipped
    assert list(t.columns) == ["task"] + claim_columns() + ["ci95"]
    assert t["verdict"].tolist() == ["reproduced"] and t["ci95"].iloc[0][0] > 0
    assert t.iloc[0].to_dict() == claim_row(CLAIMS[0][0], transfer, scratch, 5, keep_interval=True, task="HDE")
