"""Unit tests for Peng et al. 2018's pipeline glue (mer_utils.methods.peng2018)."""
import numpy as np
import pytest

from mer_utils.methods.peng2018 import (HDE_AUGMENT, MACRO_AUGMENT, PengAugment, balanced_resample, center_crop,
                                        random_corner_crop)


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
