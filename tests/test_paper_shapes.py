"""Issue 20, item 5: the ``full`` path at the paper's shapes, end to end on the CPU — each paper's full-profile
preprocessing (image sizes, T, factors), network (widths, depths, the paper's backbones) and cross-validation
runner, with 1 epoch, 2 folds and a few clips, for all five papers: She 2020 (notebook 10), Peng 2018 (20: macro
stage -> HDE -> the three CDE experiments, 224 px faces and 240 -> 224 px crops, the paper's batch sizes and
schedules; the macro set is a few synthetic CK+ / FER2013 images and the resampled class sizes are cut to 2),
Reddy 2019 (30: MicroExpSTCNN and both MicroExpFuseNet fusions at T = 96 on CAS(ME)² and T = 18 on SMIC, LOSO
with 2 folds and the 80/20 split), Zhao 2021 (40) and Wei 2022 / AMAN (50). Not in the default run (minutes of
CPU): run it with

    scripts/test.sh -m paper_shapes tests/test_paper_shapes.py

Clips come from the quick synthetic set (the datasets' layouts; the paper-size set is 17.5 GB), so the source
frames are smaller than the paper-size ones, but every tensor after preprocessing has the full profile's shape.
Pretrained weights are substituted (random initialisation, also for Peng's ImageNet ResNet-10; a random 8-class
"FER+" checkpoint for AMAN), as ``ALLOW_SUBSTITUTES=True`` would.
"""
import numpy as np
import pandas as pd
import pytest
import torch

pytestmark = [pytest.mark.paper_shapes, pytest.mark.slow]


@pytest.fixture
def stores(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_RESULTS_ROOT", str(tmp_path / "results"))
    monkeypatch.setenv("MER_CACHE_ROOT", str(tmp_path / "cache"))
    torch.set_num_threads(2)
    return tmp_path


def few_clips(protocol: str, per_subject: int = 2, subjects: int = 3) -> pd.DataFrame:
    """``per_subject`` clips of each of the first ``subjects`` subjects (2 LOSO folds are run)."""
    from mer_utils.data import load_protocol

    table, _ = load_protocol(protocol, None, synthetic_size="quick", verbose=False)
    keep = table["subject_uid"].drop_duplicates().iloc[:subjects]
    out = table[table["subject_uid"].isin(keep)].groupby("subject_uid").head(per_subject).reset_index(drop=True)
    out.attrs.update(table.attrs)
    return out


def test_zhao_full_shapes(stores):
    from mer_utils.papers import zhao2021 as zhao

    s = zhao.PROFILES["full"]
    table = few_clips("casme2_5class")
    prep = zhao.prepare_inputs(table, s["compute_size"], flows=s["flows"], register=s["register"], progress=False,
                               workers=1)
    images = zhao.input_images(prep, "ars", s["image_size"])
    assert images.shape == (len(table), 3, 320, 320)
    factory = zhao.CropNetFactory(pretrained=False, head_channels=s["head_channels"], input_norm=s["input_norm"],
                                  bn_momentum=s["bn_momentum"], pool_size=s["pool_size"], dropout=s["dropout"])
    cfg = zhao.cropnet_config(epochs=1, batch_size=s["batch_size"], lr=s["lr"], augment=s["augment"])
    cv = zhao.cropnet_loso(table, images, factory, cfg, notebook="40_paper_shapes", dataset="casme2",
                           protocol="casme2_5class", method_name="ARS+CropNet", params={"profile": "full"},
                           device="cpu", progress=False, max_folds=2)
    assert len(cv.computed) == 2 and len(cv.predictions) == 4


def test_wei_full_shapes(stores):
    from torchvision.models import resnet18

    from mer_utils.preprocess import prepare
    from mer_utils.papers import wei2022 as aman

    table = few_clips("casme2_5class")
    factors = tuple(float(f) for f in range(1, 12))
    prep = prepare("wei2022", table, params=dict(n_frames=11, interval=1, factors=factors, k=11, size=(224, 224),
                                                 tim_length=20), progress=False, workers=1)
    assert prep.arrays["magnified"].shape == (len(table), 11, 11, 224, 224, 3)
    ckpt = stores / "ferplus.pth"
    torch.save(resnet18(weights=None, num_classes=8).state_dict(), ckpt)
    backbone, report = aman.load_backbone("resnet18", checkpoint=ckpt)
    assert "replaced" in report["checkpoint_head"]
    bank = aman.feature_bank(backbone, prep.arrays["magnified"], level="trunk", progress=False, size=224, grey=True)
    assert tuple(bank.shape) == (len(table), 11, 11, 256, 14, 14)
    cv = aman.run_aman(table, bank, backbone, notebook="50_paper_shapes", dataset="casme2", protocol="casme2_5class",
                       level="trunk", config=aman.aman_config(epochs=1, batch_size=4), n_frames=11,
                       k=9, class_names=table.attrs["classes"], device="cpu", progress=False, max_folds=2)
    assert len(cv.computed) == 2
    ckpts = sorted(cv.run_dir.rglob("model.pt"))
    assert ckpts and not [k for k in torch.load(ckpts[0], weights_only=False)["state_dict"] if k.startswith("trunk.")]


def test_she_full_shapes(stores):
    from mer_utils.papers.she2020 import pipeline as M
    from mer_utils.preprocess import prepare

    s = M.PROFILES["full"]
    table = few_clips("she2020_4class")
    prep = prepare("she2020", table, params={"n_frames": s["n_frames"]}, progress=False, workers=1)
    faces = M.network_inputs(prep.arrays["face"], type("S", (), s))
    assert faces.shape[:3] == (len(table), 64, 140)
    folds = M.make_folds(prep.table, "loso")[:2]
    settings = M.She2020Settings(width=s["width"], blocks_per_stage=s["blocks_per_stage"], epochs=1,
                                 batch_size=s["batch_size"], lr=s["lr"], scale=s["scale"],
                                 svm_grid=({"svc__kernel": ["linear"], "svc__C": [1.0]},), inner_folds=2)
    cv = M.run_multiple_aggregation(prep.table, faces, folds, settings, notebook="10_paper_shapes", dataset="casme2",
                                    protocol="she2020_4class", class_names=list("abcd"), device="cpu",
                                    progress=False)
    assert len(cv.computed) == 2 and np.isfinite(cv.metrics["pooled"]["war"])


def few_clips_per_dataset(protocol: str, per_subject: int = 2, subjects: int = 2) -> pd.DataFrame:
    """:func:`few_clips` from each database of a multi-database protocol (``megc2018_objective``: CASME II and
    SAMM, so that both holdout-database directions and each CDE experiment have folds)."""
    from mer_utils.data import load_protocol

    table, _ = load_protocol(protocol, None, synthetic_size="quick", verbose=False)
    keep = table.groupby("dataset")["subject_uid"].apply(lambda s: list(s.drop_duplicates().iloc[:subjects]))
    keep = [uid for uids in keep for uid in uids]
    out = table[table["subject_uid"].isin(keep)].groupby("subject_uid").head(per_subject).reset_index(drop=True)
    out.attrs.update(table.attrs)
    return out


def test_peng_full_shapes(stores):
    """Notebook 20's chain at the full profile: 224 px apex faces, the ResNet-10 from random init (ImageNet
    substituted), macro stage -> HDE (both directions) -> CDE (each of the three separate experiments, 240 px
    faces cut to 224 px crops), with the paper's batch sizes and schedules; few images per class, 1 epoch."""
    from dataclasses import replace

    from mer_utils.data import holdout_database
    from mer_utils.papers import peng2018 as P
    from mer_utils.preprocess import prepare
    from mer_utils.training import ClipDataset

    s = dict(P.PROFILES["full"])
    s.update(macro_epochs=1, hde_epochs=1, cde_epochs=1)
    size = s["image_size"]
    sources = P.paper_inputs("full", None, None, None, None, allow_substitutes=True, synthetic_size="quick")
    assert sources.settings["macro_sets"] == ["ckplus", "fer2013"]
    macro, _ = P.load_macro_table(sources.settings["macro_sets"], None, "quick", verbose=False)
    macro = macro.groupby(["dataset", "label"]).head(3).reset_index(drop=True)  # a few images of each set and class
    lab = few_clips_per_dataset("megc2018_objective")
    macro, _ = P.exclude_identities(macro, P.micro_identities(lab))
    macro_images = P.prepare_macro_images(macro, size, progress=False)
    assert macro_images.shape == (len(macro), 224, 224)
    macro_data = ClipDataset(macro, P.ImageInputs(macro_images), list(P.OBJECTIVE_CLASSES))
    macro_fold = P.random_test_split(macro_data.labels, test_fraction=0.4, seed=0)
    macro_stage = replace(P.make_stage("macro", s, init="imagenet", init_path=None), per_class=2)
    assert macro_stage.batch_size == 50 and macro_stage.step_size == 20
    cv_macro = P.run_stage(macro_stage, macro_data, [macro_fold], notebook="20_paper_shapes", dataset="macro",
                           protocol="peng2018_macro5", method_name="ResNet-10 macro stage",
                           params={"profile": "full"}, device="cpu", progress=False, subject_wise=False)
    ckpt = P.stage_checkpoint(cv_macro)

    prep = prepare("peng2018", lab, params={"size": (size, size), "crop": "landmarks", "onset": True},
                   progress=False, workers=1)
    micro = P.micro_images(prep.arrays, s["micro_input"])
    assert micro.shape == (len(lab), 224, 224)
    micro_data = ClipDataset(prep.table, P.ImageInputs(micro), list(P.OBJECTIVE_CLASSES))
    hde_folds = holdout_database(prep.table)
    hde_stage = replace(P.make_stage("hde", s, init="checkpoint", init_path=ckpt), per_class=2)
    hde = P.run_stage(hde_stage, micro_data, hde_folds, notebook="20_paper_shapes", dataset="casme2+samm",
                      protocol="megc2018_objective", method_name="ResNet-10 HDE", params={"profile": "full"},
                      device="cpu", progress=False)
    assert len(hde.computed) == 2 and len(hde.predictions) == len(lab)
    assert P.hde_scores(hde).shape[0] >= 2

    side = P.cde_resize(size)
    assert side == 240
    prep_cde = prepare("peng2018", lab, params={"size": (side, side), "crop": "landmarks", "onset": True},
                       progress=False, workers=1)
    cde_images = P.micro_images(prep_cde.arrays, s["micro_input"])
    test_images = np.ascontiguousarray(P.center_crop(cde_images, size))
    assert cde_images.shape[1:] == (240, 240) and test_images.shape[1:] == (224, 224)
    cde_train = ClipDataset(prep_cde.table, P.ImageInputs(cde_images), list(P.OBJECTIVE_CLASSES))
    cde_test = ClipDataset(prep_cde.table, P.ImageInputs(test_images), list(P.OBJECTIVE_CLASSES))
    cde_folds = {e: P.cde_folds(prep_cde.table, e, 1) for e in P.cde_experiments(s["cde_design"])}
    assert sorted(cde_folds) == ["casme2", "composite", "samm"]
    assert [len(f) for f in cde_folds.values()] == [1, 1, 2]
    cde_stage = P.make_stage("cde", s, init="checkpoint", init_path=ckpt)
    assert cde_stage.crop == 224 and cde_stage.batch_size == 10
    runs = P.run_cde_experiments(cde_stage, cde_train, cde_folds, test_data=cde_test, notebook="20_paper_shapes",
                                 protocol="megc2018_objective", method_name="ResNet-10 CDE",
                                 params={"profile": "full"}, seed=0, device="cpu", progress=False)
    assert {e: len(r.computed) for e, r in runs.items()} == {"samm": 1, "casme2": 1, "composite": 2}
    assert np.isfinite(P.cde_scores(runs, s["cde_design"]).select_dtypes("number").to_numpy(float)).any()


@pytest.mark.parametrize("dataset,protocol,key,window", [("casme_sq", "reddy2019_casme_sq", "casme_sq_frames", "apex"),
                                                         ("smic_hs", "reddy2019_smic", "smic_frames", "start")])
def test_reddy_full_shapes(stores, dataset, protocol, key, window):
    """Notebook 30 at the full profile: grey frames (no registration, no onset difference), T = 96 on CAS(ME)²
    and 18 on SMIC, 64 px faces and 32 px eye / nose-mouth regions, the three models (44M parameters for
    MicroExpSTCNN at T = 96), the authors' SGD settings, under LOSO (2 folds) and the 80/20 split; 1 epoch."""
    from mer_utils.papers import reddy2019 as R

    s = R.PROFILES["full"]
    frames = s[key]
    assert dataset in s["datasets"] and frames == {"casme_sq": 96, "smic_hs": 18}[dataset]
    stcnn = R.ModelFactory("MicroExpSTCNN", frames)(3)
    assert R.count_parameters(stcnn) == {96: 44_241_667, 18: 1_643_267}[frames]
    del stcnn
    table = few_clips(protocol, per_subject=3, subjects=3)
    prep = R.prepare_reddy(table, frames, window, input=s["input"], register=s["register"], progress=False)
    n = len(prep.table)
    assert R.model_inputs(prep, "MicroExpSTCNN").shape == (n, 1, frames, 64, 64)
    assert R.model_inputs(prep, "MicroExpFuseNet-late").shape == (n, 2, frames, 32, 32)
    for model in R.MODEL_NAMES:
        for split in R.SPLITS:
            res = R.run_experiment(prep, model, split, dataset=dataset, protocol=protocol, frames=frames, epochs=1,
                                   batch_size=s["batch_size"], lr=s["lr"], device="cpu", notebook="30_paper_shapes",
                                   max_folds=2 if split == "loso" else None, extra_params={"profile": "full"},
                                   progress=False, train_overrides={"momentum": s["momentum"]})
            assert len(res.computed) == (2 if split == "loso" else 1), (model, split)
            assert len(res.predictions) > 0 and set(res.predictions["pred"]) <= {0, 1, 2}
            summary = R.run_summary(res, s["last_epochs"])
            assert 0.0 <= summary["acc"] <= 1.0
