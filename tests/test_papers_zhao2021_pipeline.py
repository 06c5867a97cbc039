"""CropNet training glue (Zhao et al. 2021, §3.2.1, §4.2): augmentation module, AdamP, factories, inputs."""
import numpy as np
import pytest
import torch

from mer_utils.papers.zhao2021.pipeline import (AdamPFactory, AugmentationModule, CropNetFactory, cropnet_config,
                                        input_images)
from mer_utils.papers.zhao2021.model import CropNet, CropNetWithoutCGPO
from mer_utils.results import jsonable


def _batch(b=4, s=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 3, s, s), generator=g, dtype=torch.uint8)


def test_augmentation_keeps_shape_dtype_and_is_seeded():
    aug = AugmentationModule()
    x = _batch()
    torch.manual_seed(0)
    a = aug(x)
    torch.manual_seed(0)
    b = aug(x)
    assert a.shape == x.shape and a.dtype == torch.uint8
    assert torch.equal(a, b)
    assert not torch.equal(a, x)


def test_augmentation_steps_follow_the_paper():
    names = [type(t).__name__ for t in AugmentationModule().transform().transforms]
    assert names == ["ColorJitter", "RandomGrayscale", "RandomHorizontalFlip", "RandomRotation"]
    jitter = AugmentationModule().transform().transforms[0]
    assert jitter.brightness == (0.2, 1.8) and jitter.contrast == (0.2, 1.8) and jitter.saturation == (0.2, 1.8)
    assert jitter.hue == (-0.5, 0.5)


def test_augmentation_each_image_drawn_independently():
    # grey p = 1, no colour / flip / rotation: every image becomes grey; flip p = 1 mirrors every image
    grey = AugmentationModule(brightness=(1, 1), contrast=(1, 1), saturation=(1, 1), hue=(0, 0), grayscale_p=1.0,
                              flip_p=0.0, degrees=0.0)
    out = grey(_batch())
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    flip = AugmentationModule(brightness=(1, 1), contrast=(1, 1), saturation=(1, 1), hue=(0, 0), grayscale_p=0.0,
                              flip_p=1.0, degrees=0.0)
    x = _batch()
    assert torch.equal(flip(x), x.flip(-1))
    # with flip p = 0.5 over many images, some are flipped and some are not (drawn per image, not per batch)
    half = AugmentationModule(brightness=(1, 1), contrast=(1, 1), saturation=(1, 1), hue=(0, 0), grayscale_p=0.0,
                              flip_p=0.5, degrees=0.0)
    torch.manual_seed(3)
    x = _batch(16)
    y = half(x)
    flipped = [torch.equal(y[i], x[i].flip(-1)) for i in range(16)]
    assert 0 < sum(flipped) < 16


def test_augmentation_rejects_bad_batch():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        AugmentationModule()(torch.zeros(2, 10, 3, 8, 8, dtype=torch.uint8))


def test_adamp_factory_and_config():
    from timm.optim import AdamP

    opt = AdamPFactory(lr=2e-3, weight_decay=0.0)([torch.nn.Parameter(torch.zeros(3))])
    assert isinstance(opt, AdamP) and opt.param_groups[0]["lr"] == 2e-3
    cfg = cropnet_config(epochs=2, batch_size=4, label_smoothing=0.1)
    assert isinstance(cfg.optimizer, AdamPFactory) and isinstance(cfg.augment, AugmentationModule)
    assert cfg.label_smoothing == 0.1 and cfg.select == "last"
    # settings are hashable by the result store (a changed setting -> a fresh result folder)
    assert jsonable(cfg) != jsonable(cropnet_config(epochs=3, batch_size=4))


def test_factory_builds_both_variants():
    m = CropNetFactory(width_mult=0.25, depth_mult=0.35, head_channels=8, pretrained=False)(3)
    assert isinstance(m, CropNet) and m.classifier.out_features == 3
    m2 = CropNetFactory(cgpo=False, width_mult=0.25, depth_mult=0.35, head_channels=8, pretrained=False)(4)
    assert isinstance(m2, CropNetWithoutCGPO)
    x = torch.randint(0, 256, (2, 3, 48, 48), dtype=torch.uint8)
    assert m.eval()(x).shape == (2, 3) and m2.eval()(x).shape == (2, 4)


def test_factory_batchnorm_momentum():
    m = CropNetFactory(width_mult=0.25, depth_mult=0.35, head_channels=8, pretrained=False, bn_momentum=None)(3)
    bns = [b for b in m.modules() if isinstance(b, torch.nn.modules.batchnorm._BatchNorm)]
    assert bns and all(b.momentum is None for b in bns)
    m = CropNetFactory(width_mult=0.25, depth_mult=0.35, head_channels=8, pretrained=False)(3)
    assert all(b.momentum == 0.1 for b in m.modules() if isinstance(b, torch.nn.modules.batchnorm._BatchNorm))
    with pytest.raises(ValueError, match="momentum"):
        CropNetFactory(width_mult=0.25, depth_mult=0.35, head_channels=8, pretrained=False, bn_momentum=2.0)(3)


def test_input_images_channels_first():
    arrays = {"ars": np.zeros((5, 8, 8, 3), np.uint8), "rrs": np.ones((5, 8, 8, 3), np.uint8)}
    assert input_images(arrays, "ars").shape == (5, 3, 8, 8)
    with pytest.raises(ValueError, match="Unknown input"):
        input_images(arrays, "lbp")
    with pytest.raises(KeyError, match="flow_tvl1"):
        input_images(arrays, "tvl1")
