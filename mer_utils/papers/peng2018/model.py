"""The ResNet-10 of Peng et al. (2018), "From Macro to Micro Expression Recognition: Deep Learning on
Small Datasets Using Transfer Learning" (MEGC 2018), Sec. III-A.

The paper uses "ResNet10 [12]", reference [12] being Simon, Rodner & Denzler, "ImageNet pre-trained
models with batch normalization" (arXiv:1612.01452), whose Caffe model zoo (the "cvgj" models) holds the
ResNet-10 the authors fine-tuned. That network is **not** timm's ``resnet10t`` (a deep 3x3 stem) nor a
torchvision ResNet-18 cut in half: it is a *pre-activation* ResNet with one BasicBlock per stage.

Layer by layer (names follow the cvgj prototxt so converted weights load by name)::

    data_bn            BatchNorm(3)            input normalisation instead of mean subtraction
    conv1              Conv 7x7/2, 64, bias    (the only convolution with a bias)
    conv1_bn, ReLU     BatchNorm(64)
    pool1              MaxPool 3x3/2 (Caffe rounding = ceil_mode)           224 -> 112 -> 56
    layer_64_1         conv 3x3 -> BN -> ReLU -> conv 3x3, + identity (no BN before: conv1_bn did it)
    layer_128_1        BN -> ReLU -> [conv 3x3/2 -> BN -> ReLU -> conv 3x3] + [conv 1x1/2 "expand"]
    layer_256_1        same, 256 channels, stride 2                            -> 14
    layer_512_1        same, 512 channels, stride 2                            -> 7
    last_bn, ReLU      BatchNorm(512)
    global average pool -> fc (512 -> classes)

Stages 2-4 are pre-activation blocks: their BatchNorm + ReLU is applied to the block input and the 1x1
stride-2 projection shortcut reads that *pre-activated* input (cvgj ``layer_X_1_conv_expand`` takes
``layer_X_1_relu1``), so the residual sum itself is never normalised until the next block or ``last_bn``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

__all__ = ["ResNet10", "PreActBasicBlock", "FirstBasicBlock", "count_parameters",
           "RESNET10_PARAMETERS_IMAGENET", "resnet10_parameter_count", "WeightLoadReport",
           "load_imagenet_weights", "replace_classifier"]


def _bn(channels: int) -> nn.BatchNorm2d:
    # Caffe's BatchNorm uses eps 1e-5, like PyTorch's default.
    return nn.BatchNorm2d(channels, eps=1e-5)


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class FirstBasicBlock(nn.Module):
    """``layer_64_1`` of the cvgj ResNet-10: conv3x3 -> BN -> ReLU -> conv3x3, plus the identity.

    Its input is already batch-normalised and rectified by the stem (``conv1_bn`` + ReLU + pool), so the
    block has no leading BN (the cvgj prototxt has ``layer_64_1_bn2`` but no ``layer_64_1_bn1``).
    """

    def __init__(self, channels: int = 64):
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.bn2 = _bn(channels)
        self.conv2 = _conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.bn2(self.conv1(x)))) + x


class PreActBasicBlock(nn.Module):
    """A pre-activation BasicBlock with a 1x1 projection shortcut (``layer_{128,256,512}_1``; He et al. 2016,
    "Identity mappings in deep residual networks", Fig. 4e, as laid out in the cvgj ResNet-10).

    ``out = conv2(relu(bn2(conv1(a)))) + expand(a)`` with ``a = relu(bn1(x))``.
    """

    def __init__(self, cin: int, cout: int, stride: int = 2):
        super().__init__()
        self.bn1 = _bn(cin)
        self.conv1 = _conv3x3(cin, cout, stride)
        self.bn2 = _bn(cout)
        self.conv2 = _conv3x3(cout, cout)
        self.conv_expand = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.bn1(x))
        return self.conv2(F.relu(self.bn2(self.conv1(a)))) + self.conv_expand(a)


class ResNet10(nn.Module):
    """ResNet-10 (cvgj, pre-activation) used by Peng et al. 2018, Sec. III-A / III-B.

    Parameters
    ----------
    num_classes:
        Width of the final fully connected layer: 1000 for the ImageNet model, 5 for the macro stage and
        the MEGC 2018 objective classes I-V (Sec. III-B, III-C).
    in_channels:
        3 (colour; the ImageNet model) or 1 (grey). Apex frames of SAMM are grey; the notebook feeds
        3-channel images (grey replicated) so that ImageNet weights fit.

    Parameter count (trainable, with BatchNorm's weight and bias; running statistics are buffers):

    ===========================  ============
    data_bn (3)                          6
    conv1 7x7x3x64 + bias 64         9,472
    conv1_bn (64)                      128
    layer_64_1  2 x 3x3x64x64 + BN  73,856
    layer_128_1                    229,760   (bn1 128 + 73,728 + bn2 256 + 147,456 + expand 8,192)
    layer_256_1                    918,272   (256 + 294,912 + 512 + 589,824 + 32,768)
    layer_512_1                  3,671,552   (512 + 1,179,648 + 1,024 + 2,359,296 + 131,072)
    last_bn (512)                    1,024
    fc 512 x C + C               513 * C
    ===========================  ============

    The convolutional body has 4,904,070 parameters, so the ImageNet model (C = 1000) has
    **5,417,070** — the "about 5.4M" of REFERENCE.md §3 — and the 5-class network (C = 5) 4,906,635.
    With grey input (``in_channels=1``) the stem loses 6,276 and the 5-class net has 4,900,359.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        if int(num_classes) < 1:
            raise ValueError(f"ResNet10: num_classes must be >= 1, got {num_classes!r}.")
        if int(in_channels) < 1:
            raise ValueError(f"ResNet10: in_channels must be >= 1 (3 = colour, 1 = grey), got {in_channels!r}.")
        self.in_channels = int(in_channels)
        self.data_bn = _bn(self.in_channels)
        self.conv1 = nn.Conv2d(self.in_channels, 64, 7, stride=2, padding=3, bias=True)
        self.conv1_bn = _bn(64)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.layer_64_1 = FirstBasicBlock(64)
        self.layer_128_1 = PreActBasicBlock(64, 128)
        self.layer_256_1 = PreActBasicBlock(128, 256)
        self.layer_512_1 = PreActBasicBlock(256, 512)
        self.last_bn = _bn(512)
        self.fc = nn.Linear(512, int(num_classes))
        self._init_weights()

    @property
    def num_classes(self) -> int:
        return self.fc.out_features

    def _init_weights(self) -> None:
        # cvgj prototxt: "msra" (He) fillers for convolutions, BN scale 1 / shift 0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 512-d globally pooled feature (input of ``fc``) for a (B, C, H, W) batch."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResNet10 expects a (batch, {self.in_channels}, H, W) float tensor, "
                             f"got shape {tuple(x.shape)}; convert images with to_tensor / permute(0, 3, 1, 2).")
        if min(x.shape[-2:]) < 32:
            raise ValueError(f"ResNet10 needs images of at least 32x32 (five stride-2 steps), got "
                             f"{tuple(x.shape[-2:])}; the paper uses 224x224.")
        x = self.pool1(F.relu(self.conv1_bn(self.conv1(self.data_bn(x)))))
        x = self.layer_512_1(self.layer_256_1(self.layer_128_1(self.layer_64_1(x))))
        x = F.relu(self.last_bn(x))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (logits) of shape (B, num_classes)."""
        return self.fc(self.features(x))


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``; buffers such as BN running statistics excluded."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def resnet10_parameter_count(num_classes: int = 1000, in_channels: int = 3) -> int:
    """Closed form of :class:`ResNet10`'s parameter count (see the table in its docstring)."""
    c = in_channels
    stem = 2 * c + (7 * 7 * c * 64 + 64) + 2 * 64
    first = 2 * 9 * 64 * 64 + 2 * 64

    def preact(cin: int, cout: int) -> int:
        return 2 * cin + 9 * cin * cout + 2 * cout + 9 * cout * cout + cin * cout

    body = stem + first + preact(64, 128) + preact(128, 256) + preact(256, 512) + 2 * 512
    return body + 512 * num_classes + num_classes


#: Parameters of the ImageNet ResNet-10 (1000 classes, colour input).
RESNET10_PARAMETERS_IMAGENET = resnet10_parameter_count(1000, 3)


def replace_classifier(model: ResNet10, num_classes: int, seed: int | None = None) -> ResNet10:
    """Swap ``model.fc`` for a freshly initialised ``Linear(512, num_classes)`` (a new task's head, Sec. III-B/C).

    Returns the same model (changed in place). ``seed`` makes the new head reproducible.
    """
    if not isinstance(model, ResNet10):
        raise TypeError(f"replace_classifier expects a ResNet10, got {type(model).__name__}.")
    gen_state = torch.random.get_rng_state()
    if seed is not None:
        torch.manual_seed(seed)
    try:
        device = model.fc.weight.device
        model.fc = nn.Linear(model.fc.in_features, int(num_classes)).to(device)
    finally:
        if seed is not None:
            torch.random.set_rng_state(gen_state)
    return model


@dataclass
class WeightLoadReport:
    """What :func:`load_imagenet_weights` did: ``loaded`` is False when no weights could be used."""

    loaded: bool
    source: str
    message: str
    missing: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def _npy_to_state_dict(raw: dict) -> dict:
    """Convert a converted-Caffe ``{layer: {'weights', 'bias', 'scale', 'mean', 'var'}}`` dict to our names.

    Layer names are the cvgj prototxt's (``conv1``, ``layer_128_1_conv_expand``, ``last_bn``, ``fc``/``score``);
    module paths of :class:`ResNet10` are ``layer_128_1.conv_expand`` etc.
    """
    out = {}
    for name, blobs in raw.items():
        name = name.decode() if isinstance(name, bytes) else str(name)
        blobs = {(k.decode() if isinstance(k, bytes) else k): v for k, v in dict(blobs).items()}
        if name in ("score", "score_1", "fc1000"):
            name = "fc"
        for stage in ("layer_64_1", "layer_128_1", "layer_256_1", "layer_512_1"):
            if name.startswith(stage + "_"):
                name = stage + "." + name[len(stage) + 1:]
                break
        if "weights" in blobs:
            out[name + ".weight"] = torch.as_tensor(np.asarray(blobs["weights"]), dtype=torch.float32)
            if "bias" in blobs:
                out[name + ".bias"] = torch.as_tensor(np.asarray(blobs["bias"]), dtype=torch.float32)
        elif "mean" in blobs:
            out[name + ".running_mean"] = torch.as_tensor(np.asarray(blobs["mean"]), dtype=torch.float32)
            out[name + ".running_var"] = torch.as_tensor(np.asarray(blobs["var"]), dtype=torch.float32)
            if "scale" in blobs:
                out[name + ".weight"] = torch.as_tensor(np.asarray(blobs["scale"]), dtype=torch.float32)
            if "bias" in blobs:
                out[name + ".bias"] = torch.as_tensor(np.asarray(blobs["bias"]), dtype=torch.float32)
    return out


def load_imagenet_weights(model: ResNet10, path: str | os.PathLike | None) -> WeightLoadReport:
    """Initialise ``model`` from ImageNet-pretrained ResNet-10 weights (stage 1 of the transfer chain, Sec. III-B).

    ``path`` is a user-supplied file: a PyTorch state dict (``.pt``/``.pth``) with :class:`ResNet10`'s module
    names, or a ``.npy`` dict converted from the cvgj Caffe model (``{layer: {'weights', 'bias', 'scale',
    'mean', 'var'}}``). Nothing is downloaded (this course runs offline). Tensors whose shape differs (the
    1000-class ``fc`` when the model has 5 outputs) are skipped and listed.

    Returns a :class:`WeightLoadReport`; when ``path`` is ``None`` or does not exist, ``loaded`` is False and
    the message says plainly that the model stays randomly initialised — callers print it (no silent fallback).
    A file that exists but holds no usable ResNet-10 tensors raises ``ValueError``.
    """
    if path in (None, ""):
        return WeightLoadReport(False, "none", "No ImageNet weights given (IMAGENET_WEIGHTS = None): the "
                                "ResNet-10 starts from random initialisation, not from ImageNet as in the paper.")
    p = Path(path).expanduser()
    if not p.exists():
        return WeightLoadReport(False, str(p), f"ImageNet weights not found at {p}: the ResNet-10 starts from "
                                "random initialisation instead (the paper starts from the cvgj ImageNet model). "
                                "Point IMAGENET_WEIGHTS at a .pt/.pth state dict or a converted .npy file to use them.")
    if p.suffix == ".npy":
        raw = np.load(p, allow_pickle=True, encoding="bytes")
        raw = raw.item() if raw.dtype == object and raw.shape == () else raw
        if not isinstance(raw, dict):
            raise ValueError(f"{p}: expected a pickled dict {{layer: {{'weights', ...}}}} in the .npy file.")
        state = _npy_to_state_dict(raw)
    else:
        state = torch.load(p, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise ValueError(f"{p}: expected a state dict (name -> tensor), got {type(state).__name__}.")
    own = model.state_dict()
    usable, skipped = {}, []
    for k, v in state.items():
        if k in own and tuple(own[k].shape) == tuple(v.shape):
            usable[k] = v
        else:
            skipped.append(k)
    if not usable:
        raise ValueError(f"{p}: none of its {len(state)} tensors match ResNet10's names and shapes "
                         f"(e.g. {sorted(own)[:3]}); is it a cvgj ResNet-10 checkpoint?")
    model.load_state_dict(usable, strict=False)
    missing = [k for k in own if k not in usable and not k.endswith("num_batches_tracked")]
    msg = (f"Loaded {len(usable)} ImageNet tensors from {p}"
           + (f"; kept random init for {len(missing)} ({', '.join(missing[:4])}{'...' if len(missing) > 4 else ''})"
              if missing else "") + ".")
    return WeightLoadReport(True, str(p), msg, missing, skipped)
