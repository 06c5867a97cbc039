"""The CPU-profile pieces of Zhao et al. 2021 (notebook 40): registration before the residual sums, the shallower
ReXNet, the head's pooling size, per-pixel input standardisation, flip augmentation, resized inputs, claims."""
import numpy as np
import pandas as pd
import pytest
import torch

from mer_utils.evaluation import claim_columns
from mer_utils.papers import zhao2021 as zhao
from mer_utils.papers.zhao2021.model import PixelStandardize, SubImageHead, rexnet_feature_extractor


def _textured(shift=(0.0, 0.0), size=64, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 2.0)
    m = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(base, m, (size, size), borderMode=cv2.BORDER_REFLECT).astype(np.uint8)


def test_register_to_first_removes_a_rigid_shift():
    frames = np.stack([_textured(), _textured((1.5, -1.0))])
    before = np.abs(frames[1].astype(int) - frames[0])[8:-8, 8:-8].mean()
    out = zhao.register_to_first(frames)
    after = np.abs(out[1].astype(int) - out[0])[8:-8, 8:-8].mean()
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert np.array_equal(out[0], frames[0])
    assert after < 0.3 * before


def test_register_to_first_rejects_float_frames():
    with pytest.raises(ValueError, match="uint8"):
        zhao.register_to_first(np.zeros((2, 8, 8), np.float32))


@pytest.mark.parametrize("stride, channels", [(4, None), (8, None), (32, None)])
def test_truncated_extractor_output_stride(stride, channels):
    net, info = rexnet_feature_extractor(width_mult=0.25, depth_mult=0.35, pretrained=False, max_reduction=stride)
    y = net.eval()(torch.zeros(1, 3, 32, 32))
    assert y.shape[-1] == 32 // stride and y.shape[1] == info.num_features


def test_truncated_extractor_rejects_other_strides():
    with pytest.raises(ValueError, match="max_reduction"):
        rexnet_feature_extractor(width_mult=0.25, depth_mult=0.35, pretrained=False, max_reduction=3)


def test_head_pool_size_keeps_a_layout():
    head = SubImageHead(8, head_channels=4, feature_dim=6, pool_size=2)
    assert head.fc.in_features == 16
    assert head.eval()(torch.zeros(3, 8, 4, 4)).shape == (3, 6)


def test_pixel_standardize_uses_training_statistics_only():
    norm = PixelStandardize(eps=0.0)
    a = torch.tensor([[[[0.0, 2.0]]], [[[2.0, 6.0]]]])  # (2, 1, 1, 2)
    norm.train()(a)
    assert torch.allclose(norm.mean, torch.tensor([[[1.0, 4.0]]]))
    out = norm.eval()(torch.tensor([[[[1.0, 6.0]]]]))
    assert torch.allclose(out, torch.tensor([[[[0.0, 1.0]]]]))
    norm.eval()(torch.full((1, 1, 1, 2), 100.0))
    assert torch.allclose(norm.mean, torch.tensor([[[1.0, 4.0]]]))  # evaluation does not update


def test_pixel_standardize_needs_training_and_reloads():
    with pytest.raises(RuntimeError, match="training"):
        PixelStandardize().eval()(torch.zeros(1, 3, 4, 4))
    a = PixelStandardize()
    a.train()(torch.rand(4, 3, 4, 4))
    b = PixelStandardize()
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.mean, b.mean) and b.count == 4


def test_quick_cropnet_trains_and_predicts():
    factory = zhao.CropNetFactory(width_mult=0.25, depth_mult=0.35, head_channels=8, bn_momentum=None,
                                  max_reduction=4, pool_size=2, input_norm="pixel", dropout=0.2)
    for cgpo in (True, False):
        model = zhao.CropNetFactory(**{**factory.__dict__, "cgpo": cgpo})(3)
        x = torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8)
        model.train()(x).sum().backward()
        assert model.eval()(x).shape == (4, 3)


def test_flip_augmentation():
    x = torch.arange(2 * 1 * 2 * 3, dtype=torch.float32).view(2, 1, 2, 3)
    assert torch.equal(zhao.FlipAugmentation(p=1.0)(x), x.flip(-1))
    assert torch.equal(zhao.FlipAugmentation(p=0.0)(x), x)
    with pytest.raises(ValueError):
        zhao.FlipAugmentation()(torch.zeros(3, 4))


def test_cropnet_config_augment_choices():
    assert isinstance(zhao.cropnet_config(epochs=1, augment="flip").augment, zhao.FlipAugmentation)
    assert isinstance(zhao.cropnet_config(epochs=1, augment=True).augment, zhao.AugmentationModule)
    assert zhao.cropnet_config(epochs=1, augment=None).augment is None
    with pytest.raises(ValueError, match="augment"):
        zhao.cropnet_config(epochs=1, augment="colour")


def test_input_images_resizes_by_area():
    a = np.zeros((2, 8, 8, 3), np.uint8)
    a[:, :4, :4] = 200
    out = zhao.input_images({"ars": a}, "ars", size=2)
    assert out.shape == (2, 3, 2, 2) and out[0, 0, 0, 0] == 200 and out[0, 0, 1, 1] == 0
    assert zhao.input_images({"key_frame": a}, "frame").shape == (2, 3, 8, 8)


def test_claims_table_verdicts():
    n = 40
    base = pd.DataFrame({"true": np.arange(n) % 2, "subject_uid": [f"s{i // 4}" for i in range(n)],
                         "clip_uid": [f"c{i}" for i in range(n)]})
    good = base.assign(pred=base["true"])
    bad = base.assign(pred=1 - base["true"])
    t = zhao.claims_table([("good beats bad", "test", good, bad, 1), ("bad beats good", "test", bad, good, 1),
                           ("same", "test", good, good, 1)], 2)
    assert list(t["verdict"]) == ["reproduced", "reversed", "not resolved at this size"]
    assert list(t.columns) == ["paper"] + claim_columns()[1:] and t.index.name == "claim"
    # expected_sign = -1: the paper claims the method loses; "good" beating "bad" then reverses it
    flipped = zhao.claims_table([("bad loses to good", "test", bad, good, -1),
                                 ("good loses", "test", good, bad, -1)], 2)
    assert list(flipped["verdict"]) == ["reproduced", "reversed"]
