"""CropNet (Zhao, Chen & Luo 2021, *Front. Neurorobot.* 15:746985), §3.2.

CropNet classifies a residual-sum image (ARS / RRS, §3.1) after the Cropped Gaussian Pyramid with
Overlapping (CGPO, §3.2.2) has cut it into 10 sub-images: sub-image 0 is the 320x320 input down-sampled to
160x160 and sub-images 1..9 are a 3x3 grid of crops of the full-resolution image overlapping by the factor
alpha = 0.3, each resized to 160x160 (the grid is documented in :mod:`mer_utils.preprocess.cgpo`). The CGPO step
itself lives in :mod:`mer_utils.preprocess.cgpo`; :class:`CropNet` calls its torch version on a batch of whole
320x320 images (so that the augmentation of §3.2.1 acts on the whole image first) or takes sub-images
``(B, 10, 3, 160, 160)`` already cut.

Per sub-image (§3.2.3–3.2.4, Fig. 3):

1. a **ReXNet feature extractor** (Han et al. 2020; timm's ``rexnet_100`` without its pooling and
   classifier), shared by all sub-images, ImageNet weights when they are on this machine (§3.2.3 uses
   transfer learning from ImageNet), random initialisation otherwise;
2. **Conv -> BN -> adaptive pooling -> FC** to a feature vector ``z_i`` in R^24.

Then (eq. 8) a trainable **position embedding** ``p_i`` (same size as ``z_i``, initialised from a normal
distribution with mean 0 and variance 0.2 as §3.2.4 states) is added to ``z_1..z_9`` (not to ``z_0``, the
down-sampled whole face), the ten vectors are concatenated ("splicing") and a linear classifier predicts the
class.

Fig. 3's caption says the numbers on its Conv and MB6 blocks are output channels; those are the extractor's
(ReXNet's own progressively increasing widths, which timm's ``rexnet_100`` reproduces) — the text gives no
kernel size, width or pooling size for the classifier head of §3.2.4, and our plain-text copy of the paper does
not carry the figure's numbers. Choices where the paper is silent:

- the fusion conv is 3x3 with ``head_channels`` outputs (default 320) and is followed by a ReLU, as every
  Conv+BN pair inside ReXNet is followed by an activation;
- the conv/BN/pool/FC head is shared by the sub-images, like the extractor; the position embeddings are what
  tells the sub-images apart;
- ``⊕`` in eq. (8) is read as element-wise addition (``p_i`` "has the same dimension as ``z_i``").

With these choices the full model has about 7.2M parameters (the paper reports "approximately 7.6M", §3.2.1).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

#: Parameter count the paper reports for CropNet (§3.2.1: "approximately 7.6M").
PAPER_PARAMETER_COUNT = 7_600_000
#: Number of CGPO sub-images (§3.2.2): one down-sampled whole image + 3x3 overlapping crops.
NUM_SUBIMAGES = 10
#: Size of each sub-image feature vector z_i (§3.2.4).
FEATURE_DIM = 24
#: Variance of the position-embedding initialisation (§3.2.4: "mean 0 and variance 0.2").
POS_EMBED_VARIANCE = 0.2
#: ImageNet normalisation used by timm's ReXNet weights.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneInfo:
    """What :func:`rexnet_feature_extractor` built: name, width and depth multipliers, whether ImageNet weights
    were loaded and from where, and the number of output channels."""

    name: str
    width_mult: float
    depth_mult: float
    pretrained: bool
    weights: str  # where the weights came from: a file path, or "random initialisation"
    num_features: int


#: Where a user puts timm's ImageNet weights by hand: ``<weights_root>/imagenet/<name>.safetensors`` (or
#: ``.pth`` / ``.bin``), e.g. ``data/weights/imagenet/rexnet_100.safetensors``.
IMAGENET_WEIGHTS_FOLDER = "imagenet"
_WEIGHT_SUFFIXES = (".safetensors", ".pth", ".bin", ".pt")


def imagenet_weights_file(name: str) -> str | None:
    """timm's ImageNet weights for ``name`` placed under ``data/weights/imagenet/`` (``$MER_WEIGHTS_ROOT``), or
    else in the local Hugging Face cache; ``None`` when neither has them. Never touches the network."""
    from ... import paths

    for suffix in _WEIGHT_SUFFIXES:
        hit = paths.weights_root() / IMAGENET_WEIGHTS_FOLDER / f"{name}{suffix}"
        if hit.is_file():
            return str(hit)
    return _cached_timm_weights(name)


def _cached_timm_weights(name: str) -> str | None:
    """Path of timm's ImageNet weights for ``name`` if they are already on disk (HF cache), else ``None``.

    Only looks in the local Hugging Face cache: never touches the network (timm's ``pretrained=True`` retries
    for about 46 s when offline, REFERENCE.md §5).
    """
    import timm

    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except Exception:  # unknown name: let create_model raise the informative error later
        return None
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not hub_id:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub ships with timm
        return None
    for filename in ("model.safetensors", "pytorch_model.bin"):
        hit = try_to_load_from_cache(hub_id, filename)
        if isinstance(hit, str) and Path(hit).is_file():
            return hit
    return None


def rexnet_feature_extractor(name: str = "rexnet_100", width_mult: float | None = None,
                             pretrained: bool | str = "auto", weights_path: str | Path | None = None,
                             depth_mult: float | None = None, max_reduction: int | None = None
                             ) -> tuple[nn.Module, BackboneInfo]:
    """The ReXNet feature extractor of §3.2.3: timm's ReXNet without global pooling and classifier.

    Returns ``(module, info)``; the module maps ``(N, 3, H, W)`` to ``(N, info.num_features, H/32, W/32)``.

    - ``name``: a timm ReXNet (``rexnet_100`` is the paper's ReXNet-1.0x).
    - ``width_mult`` / ``depth_mult``: build ``timm.models.rexnet.RexNet(width_mult=..., depth_mult=...)``
      instead, a narrower / shallower ReXNet for CPU runs (no ImageNet weights exist for these, so it is always
      randomly initialised).
    - ``max_reduction``: keep only the stem and the stages up to that output stride (2, 4, 8, 16 or 32; ``None``
      = all, the paper's), a shallower extractor whose feature map keeps more of the face's layout on small CPU
      inputs (a 32x32 sub-image gives a 4x4 map at stride 8 instead of 1x1 at stride 32).
    - ``pretrained``: ``"auto"`` loads ImageNet weights when a local copy exists (``weights_path``,
      ``data/weights/imagenet/<name>.safetensors`` or the Hugging Face cache: :func:`imagenet_weights_file`) and falls back to random initialisation; ``True`` requires them (raises otherwise);
      ``False`` never loads them. Nothing is ever downloaded.
    """
    if max_reduction is not None and max_reduction not in (2, 4, 8, 16, 32):
        raise ValueError(f"max_reduction should be None or one of 2, 4, 8, 16, 32 (the stages' output strides), "
                         f"got {max_reduction!r}.")
    model, info = _build_rexnet(name, width_mult, pretrained, weights_path, depth_mult)
    if max_reduction is None or max_reduction == 32:
        return model, info
    return _truncate(model, info, int(max_reduction))


def _truncate(model: nn.Module, info: BackboneInfo, max_reduction: int) -> tuple[nn.Module, BackboneInfo]:
    """The stem and the blocks of ``model`` up to the last one whose output stride is ``max_reduction``."""
    stages = [f for f in model.feature_info if f["reduction"] <= max_reduction]
    last = int(stages[-1]["module"].split(".")[1])
    trunk = nn.Sequential(model.stem, *list(model.features.children())[:last + 1])
    name = f"{info.name} up to stride {max_reduction}"
    return trunk, BackboneInfo(name, info.width_mult, info.depth_mult, info.pretrained, info.weights,
                               int(stages[-1]["num_chs"]))


def _build_rexnet(name, width_mult, pretrained, weights_path, depth_mult) -> tuple[nn.Module, BackboneInfo]:
    import timm
    from timm.models.rexnet import RexNet

    if pretrained not in (True, False, "auto"):
        raise ValueError(f"pretrained should be True, False or 'auto', got {pretrained!r}.")
    w = 1.0 if width_mult is None else float(width_mult)
    d = 1.0 if depth_mult is None else float(depth_mult)
    if w <= 0 or d <= 0:
        raise ValueError(f"width_mult and depth_mult should be > 0, got {width_mult}, {depth_mult}.")
    if (w, d) != (1.0, 1.0):
        if pretrained is True or weights_path is not None:
            raise ValueError(f"No ImageNet weights exist for ReXNet width_mult={w}, depth_mult={d}; leave both None "
                             "(the paper's rexnet_100) to load weights, or use pretrained='auto'/False.")
        model = RexNet(width_mult=w, depth_mult=d, num_classes=0, global_pool="")
        info = BackboneInfo(f"rexnet(width_mult={w:g}, depth_mult={d:g})", w, d, False, "random initialisation",
                            model.num_features)
        return model, info
    if not name.startswith("rexnet"):
        raise ValueError(f"CropNet uses a ReXNet feature extractor (§3.2.3); got backbone {name!r}. "
                         "Use e.g. 'rexnet_100' (the paper's) or pass width_mult for a narrower one.")
    path = None
    if pretrained is not False:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: nothing below may reach the network
        if weights_path is not None:
            path = Path(weights_path).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"weights_path {path} does not exist; give timm's {name} weights "
                                        "(model.safetensors or pytorch_model.bin) or leave it None.")
        else:
            hit = imagenet_weights_file(name)
            path = Path(hit) if hit else None
        if path is None and pretrained is True:
            raise FileNotFoundError(f"pretrained=True but no ImageNet weights for {name} are on this machine "
                                    "(Hugging Face cache or weights_path); pass weights_path=... or use "
                                    "pretrained='auto' to fall back to random initialisation.")
    if path is not None:
        model = timm.create_model(name, pretrained=True, num_classes=0, global_pool="",
                                  pretrained_cfg_overlay={"file": str(path)})
        info = BackboneInfo(name, 1.0, 1.0, True, str(path), model.num_features)
    else:
        model = timm.create_model(name, pretrained=False, num_classes=0, global_pool="")
        info = BackboneInfo(name, 1.0, 1.0, False, "random initialisation", model.num_features)
    return model, info


class SubImageHead(nn.Module):
    """Conv -> BN -> (ReLU) -> adaptive average pooling -> FC: a feature map to z_i in R^24 (§3.2.4, Fig. 3).

    ``pool_size``: the output side of the adaptive pooling (neither §3.2.4 nor our copy of Fig. 3 gives one): 1 = global pooling; 2 or more
    keeps a coarse layout of the (sub-)image, i.e. *where* on the face the residual is, for the FC layer."""

    def __init__(self, in_channels: int, head_channels: int = 320, feature_dim: int = FEATURE_DIM,
                 kernel_size: int = 3, pool_size: int = 1):
        super().__init__()
        if int(pool_size) < 1:
            raise ValueError(f"pool_size should be >= 1, got {pool_size}.")
        self.conv = nn.Conv2d(in_channels, head_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(head_channels)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(int(pool_size))
        self.fc = nn.Linear(head_channels * int(pool_size) ** 2, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.act(self.bn(self.conv(x)))).flatten(1))


def _check_images(x: torch.Tensor, ndims: tuple, what: str) -> None:
    if not torch.is_tensor(x) or x.ndim not in ndims or x.shape[-3] != 3:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        expected = " or ".join({4: "(B, 3, H, W)", 5: "(B, K, 3, H, W)"}[n] for n in ndims)
        raise ValueError(f"{what}: expected RGB images {expected}, got {shape}.")


def _memory_format(x: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """Channels-last input when the model's weights are channels-last (:func:`use_channels_last`)."""
    return x.contiguous(memory_format=torch.channels_last) if getattr(model, "channels_last", False) else x


def use_channels_last(model: nn.Module) -> nn.Module:
    """Store ``model``'s convolution weights (and feed its inputs) channels-last; about 1.5x faster training of
    the depthwise ReXNet on CPU. Numerically the same network."""
    model.to(memory_format=torch.channels_last)
    model.channels_last = True
    return model


def _as_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images are ImageNet-normalised here; float images are taken as already normalised."""
    return CropNet.normalize(x) if x.dtype == torch.uint8 else x


class PixelStandardize(nn.Module):
    """Per-pixel input standardisation with statistics of the **training** images: ``(x - mean) / (std + eps)``
    where mean and std are per position and channel, accumulated over every training batch seen (a cumulative
    average, like BatchNorm with ``momentum=None``, without affine parameters) and frozen in evaluation mode.

    The ImageNet normalisation of §3.2.3 serves ImageNet weights; for a randomly initialised extractor on
    residual-sum images it leaves the face's mean residual pattern (and one clip's overall motion energy) in the
    input. Standardising each pixel by the training clips' statistics leaves what differs between clips. The
    statistics come from the training fold only (they are buffers of the model trained on it). ``eps`` is in
    grey levels (inputs on the 0..255 scale). Buffers are sized on the first training batch.
    """

    def __init__(self, eps: float = 1.0):
        super().__init__()
        self.eps = float(eps)
        self.register_buffer("count", torch.zeros(()))
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("sq_mean", torch.zeros(0))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("mean", "sq_mean"):  # buffers are sized by the data: take the saved shape
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if self.training:
            with torch.no_grad():
                if self.mean.shape != x.shape[1:]:
                    if self.count > 0:
                        raise ValueError(f"PixelStandardize: images of shape {tuple(x.shape[1:])} after training on "
                                         f"{tuple(self.mean.shape)}; use one input size.")
                    self.mean = torch.zeros(x.shape[1:], device=x.device)
                    self.sq_mean = torch.zeros(x.shape[1:], device=x.device)
                n, b = self.count, x.shape[0]
                self.mean.mul_(n / (n + b)).add_(x.sum(0) / (n + b))
                self.sq_mean.mul_(n / (n + b)).add_((x * x).sum(0) / (n + b))
                self.count += b
        elif self.count == 0:
            raise RuntimeError("PixelStandardize: no training batch seen yet; train the model (or call it in training "
                               "mode) before evaluating.")
        if self.mean.shape != x.shape[1:]:
            raise ValueError(f"PixelStandardize: trained on images {tuple(self.mean.shape)}, got {tuple(x.shape[1:])}.")
        std = (self.sq_mean - self.mean ** 2).clamp_min(0).sqrt()
        return (x - self.mean) / (std + self.eps)


INPUT_NORMS = ("imagenet", "pixel")


def _input_norm(kind: str) -> nn.Module | None:
    if kind not in INPUT_NORMS:
        raise ValueError(f"input_norm should be one of {INPUT_NORMS}, got {kind!r}.")
    return PixelStandardize() if kind == "pixel" else None


class CropNet(nn.Module):
    """CropNet (§3.2, Fig. 3): CGPO sub-images -> shared ReXNet extractor + head -> z_i, position embeddings
    (eq. 8), concatenation and a linear classifier.

    Input, either

    - whole square images ``(B, 3, S, S)`` (320x320 in the paper): CGPO is applied here with
      :func:`mer_utils.preprocess.cgpo.cgpo_tensor` (``grid`` x ``grid`` crops with overlap factor ``overlap``,
      sub-images of ``S/2``), so augmentation can act on the whole image before the crops, as in the paper; or
    - sub-images already cut ``(B, K, 3, h, w)``, ``K = 1 + grid**2`` (sub-image 0 = the down-sampled whole image).

    uint8 inputs (0..255, RGB) are ImageNet-normalised by the model (:meth:`normalize`); float inputs are taken as
    normalised already. Output: logits ``(B, num_classes)``. :meth:`features` gives the fused vector
    ``(B, K * feature_dim)`` before the classifier (for t-SNE).
    """

    def __init__(self, num_classes: int, grid: int = 3, overlap: float = 0.3, feature_dim: int = FEATURE_DIM,
                 backbone: str = "rexnet_100", width_mult: float | None = None, depth_mult: float | None = None,
                 pretrained: bool | str = "auto", weights_path: str | Path | None = None, head_channels: int = 320,
                 pos_embed_variance: float = POS_EMBED_VARIANCE, dropout: float = 0.0,
                 max_reduction: int | None = None, pool_size: int = 1, input_norm: str = "imagenet"):
        super().__init__()
        self.input_norm = _input_norm(input_norm)
        if num_classes < 2:
            raise ValueError(f"num_classes should be >= 2, got {num_classes}.")
        if grid < 1 or not 0 <= overlap < 1:
            raise ValueError(f"CGPO needs grid >= 1 and 0 <= overlap < 1 (paper: 3 and 0.3), got {grid}, {overlap}.")
        if pos_embed_variance < 0:
            raise ValueError(f"pos_embed_variance should be >= 0, got {pos_embed_variance}.")
        self.num_classes = num_classes
        self.grid, self.overlap = int(grid), float(overlap)
        self.num_subimages = 1 + self.grid ** 2
        self.feature_dim = feature_dim
        self.extractor, self.backbone_info = rexnet_feature_extractor(backbone, width_mult, pretrained, weights_path,
                                                                      depth_mult, max_reduction)
        self.head = SubImageHead(self.backbone_info.num_features, head_channels, feature_dim, pool_size=pool_size)
        # eq. (8): p_1..p_9, one per cropped sub-image; sub-image 0 (the whole down-sampled face) has none.
        self.pos_embed = nn.Parameter(torch.empty(self.num_subimages - 1, feature_dim))
        self.pos_embed_std = math.sqrt(pos_embed_variance)
        nn.init.normal_(self.pos_embed, mean=0.0, std=self.pos_embed_std)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.num_subimages * feature_dim, num_classes)

    @staticmethod
    def normalize(images: torch.Tensor) -> torch.Tensor:
        """uint8 (or 0..255 float) RGB images ``(..., 3, H, W)`` -> ImageNet-normalised float tensor."""
        if images.ndim < 3 or images.shape[-3] != 3:
            raise ValueError(f"normalize: expected RGB images with channels at dim -3, got shape {tuple(images.shape)}.")
        x = images.float() / 255.0
        mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=x.device).view(3, 1, 1)
        return (x - mean) / std

    def subimages(self, x: torch.Tensor) -> torch.Tensor:
        """The CGPO sub-images ``(B, K, 3, h, w)`` of whole images ``(B, 3, S, S)`` (normalised float)."""
        from mer_utils.preprocess.cgpo import cgpo_tensor

        _check_images(x, (4,), "CropNet.subimages")
        return cgpo_tensor(self._as_input(x), grid=self.grid, overlap=self.overlap)

    def _as_input(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet normalisation of uint8 input (float taken as normalised), or the per-pixel standardisation."""
        return _as_float(x) if self.input_norm is None else self.input_norm(x)

    def subimage_features(self, x: torch.Tensor) -> torch.Tensor:
        """z_0..z_{K-1} with position embeddings added to z_1..z_{K-1}: ``(B, K, feature_dim)`` (eq. 8)."""
        _check_images(x, (4, 5), "CropNet")
        x = self.subimages(x) if x.ndim == 4 else self._as_input(x)
        b, k = x.shape[:2]
        if k != self.num_subimages:
            raise ValueError(f"CropNet was built for {self.num_subimages} sub-images per sample (grid {self.grid}), "
                             f"got {k} (input shape {tuple(x.shape)}); CGPO gives 1 + grid**2.")
        z = self.head(self.extractor(_memory_format(x.flatten(0, 1), self))).view(b, k, self.feature_dim)
        if k > 1:
            z = torch.cat([z[:, :1], z[:, 1:] + self.pos_embed], dim=1)
        return z

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The spliced vector [z_0, z_1', ..., z_9'] ``(B, K * feature_dim)`` the classifier sees."""
        return self.subimage_features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(x)))


class CropNetWithoutCGPO(nn.Module):
    """The "CropNet without CGPO" ablation of Table 4: the whole image goes once through the same extractor and
    head (to z in R^24, no position embedding) and the classifier.

    Input: ``(B, 3, H, W)`` images (320x320 in the paper), uint8 (normalised here) or ImageNet-normalised float.
    Output: logits ``(B, num_classes)``.
    """

    def __init__(self, num_classes: int, feature_dim: int = FEATURE_DIM, backbone: str = "rexnet_100",
                 width_mult: float | None = None, depth_mult: float | None = None, pretrained: bool | str = "auto",
                 weights_path: str | Path | None = None, head_channels: int = 320, dropout: float = 0.0,
                 max_reduction: int | None = None, pool_size: int = 1, input_norm: str = "imagenet"):
        super().__init__()
        self.input_norm = _input_norm(input_norm)
        if num_classes < 2:
            raise ValueError(f"num_classes should be >= 2, got {num_classes}.")
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.extractor, self.backbone_info = rexnet_feature_extractor(backbone, width_mult, pretrained, weights_path,
                                                                      depth_mult, max_reduction)
        self.head = SubImageHead(self.backbone_info.num_features, head_channels, feature_dim, pool_size=pool_size)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(feature_dim, num_classes)

    normalize = staticmethod(CropNet.normalize)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """z for the whole image ``(B, feature_dim)``."""
        if torch.is_tensor(x) and x.ndim == 5 and x.shape[1] == 1:
            x = x[:, 0]
        _check_images(x, (4,), "CropNetWithoutCGPO")
        x = _as_float(x) if self.input_norm is None else self.input_norm(x)
        return self.head(self.extractor(_memory_format(x, self)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(x)))


def set_batchnorm_momentum(model: nn.Module, momentum: float | None) -> nn.Module:
    """Set the running-statistics momentum of every BatchNorm layer of ``model``; ``None`` makes the running
    mean / variance a plain average over all training batches (PyTorch's cumulative mode).

    With only a few dozen optimiser steps (the CPU profiles), the default exponential average (0.1) still
    carries much of its initial value (variance 1) and a randomly initialised ReXNet then gives almost the same
    logits for every test image in evaluation mode; the cumulative average removes that bias.
    """
    if momentum is not None and not 0 < momentum <= 1:
        raise ValueError(f"BatchNorm momentum should be in (0, 1] or None (cumulative average), got {momentum}.")
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum
    return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def build_cropnet(num_classes: int, cgpo: bool = True, **kwargs) -> nn.Module:
    """CropNet (``cgpo=True``) or its "without CGPO" ablation (Table 4); both take ``(B, 3, 320, 320)`` images;
    ``kwargs`` go to the class (``width_mult``, ``depth_mult``, ``pretrained``, ``head_channels``...)."""
    if cgpo:
        return CropNet(num_classes, **kwargs)
    dropped = {"grid", "overlap", "pos_embed_variance"} & set(kwargs)
    if dropped:
        raise ValueError(f"CropNet without CGPO has no {sorted(dropped)}; remove them or use cgpo=True.")
    return CropNetWithoutCGPO(num_classes, **kwargs)
