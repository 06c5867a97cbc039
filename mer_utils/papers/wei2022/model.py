"""AMAN: Attention-based Magnification-Adaptive Network (Wei et al., ICASSP 2022; 004_*.txt).

A video is given as ``n`` frames, each magnified against the onset frame with ``k`` amplification factors
(§2.1, eq. 1–3). A backbone ``g`` pretrained on facial expressions (eq. 4) turns every magnified image into a
feature; its early blocks are frozen, so their output (the *trunk* maps) can be computed once and cached, and
only the last block is trained (§3.1.1). The **MA module** (eq. 5–7) weighs the ``k`` magnification levels
of a frame with ``alpha_i = sigmoid(F_i^T q0)`` and takes the alpha-weighted mean; the **FA module**
(eq. 8–10) weighs the ``n`` frames the same way with ``beta_j = sigmoid(F_mj^T p0)``; a linear layer
classifies the video representation ``F_v``.

Two backbones, split by :func:`split_backbone` into a frozen trunk and a last block:

- the paper's torchvision ResNet-18: trunk conv1..layer3 -> (256, H/16, W/16), last block layer4 + average
  pool -> 512-d;
- the FER2013 mini-Xception of :mod:`mer_utils.pretrained` (grey 64x64 faces): trunk = the two stem
  convolutions and residual blocks 1–3 -> (64, H/8, W/8) (8x8 at 64 px), last block = residual block 4 +
  global average pool -> 128-d.

Instead of fine-tuning the backbone's last block (``head="pretrained"``, the paper), ``head="small"`` trains a
new :class:`MapHead` on the frozen trunk maps (the CPU profile). ``onset_difference=True`` feeds the head the
trunk maps of each magnified frame **minus those of the onset frame** (frame 0 at factor 1), so the trained
layers see the facial change, not the face (not in the paper; the notebook says when it is on).
"""
from __future__ import annotations

import contextlib

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

#: Channels and stride of ResNet-18's frozen trunk (layer3) and the dimension of its final feature (layer4).
TRUNK_CHANNELS, TRUNK_STRIDE, FEATURE_DIM = 256, 16, 512


class AttentionPool(nn.Module):
    """Sigmoid attention over one axis (eq. 5–7, 8–10): gates ``a_i = sigmoid(F_i q)``, output
    ``sum(a_i F_i) / sum(a_i)``.

    The normalised weights ``w_i = a_i / sum(a)`` are computed in log space, ``softmax(log sigmoid(s))``,
    from fp32 scores: the same ratio as eq. (7), but finite and exact when every gate is close to 0 (scores
    drift to large negative values during training, where ``sum(a)`` underflows). ``forward`` returns the
    pooled features and ``w`` (they sum to 1 over the axis). ``enabled=False`` gives the plain mean
    (``w = 1/L``; the ablations of Table 3).
    """

    def __init__(self, dim: int = FEATURE_DIM, enabled: bool = True):
        super().__init__()
        self.enabled = enabled
        self.score = nn.Linear(dim, 1)

    def _check(self, feats: torch.Tensor) -> None:
        if feats.dim() < 2 or feats.shape[-1] != self.score.in_features:
            raise ValueError(f"AttentionPool expects features (..., L, {self.score.in_features}); got "
                             f"{tuple(feats.shape)}")

    def scores(self, feats: torch.Tensor) -> torch.Tensor:
        """``F q`` in fp32 (also under autocast), shape ``feats.shape[:-1]``."""
        self._check(feats)
        kind = feats.device.type
        guard = torch.autocast(device_type=kind, enabled=False) if kind in ("cpu", "cuda", "mps", "xpu") \
            else contextlib.nullcontext()  # e.g. the meta device of the cost plan's FLOP counts
        with guard:
            return F.linear(feats.float(), self.score.weight.float(), self.score.bias.float()).squeeze(-1)

    def gates(self, feats: torch.Tensor) -> torch.Tensor:
        """The sigmoid gates ``alpha_i`` of eq. (5) / ``beta_j`` of eq. (8), fp32."""
        return torch.sigmoid(self.scores(feats))

    def forward(self, feats: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``feats`` (..., L, D) pooled over axis ``dim`` (the L axis); returns (pooled, weights (..., L))."""
        self._check(feats)
        feats = feats.float()
        if self.enabled:
            w = torch.softmax(F.logsigmoid(self.scores(feats)), dim=dim)  # eq. (5)-(7) / (8)-(10), log space
        else:
            w = torch.full(feats.shape[:-1], 1.0 / feats.shape[dim], dtype=feats.dtype, device=feats.device)
        return (w.unsqueeze(-1) * feats).sum(dim), w


class MapHead(nn.Module):
    """A small trainable block on frozen trunk maps: batch norm, a 1x1 convolution to ``channels`` maps (no
    non-linearity), average pooling to ``grid`` x ``grid`` cells, flatten, dropout. The feature keeps *where*
    on the face a channel responds (``out_dim = channels * grid**2``), which the global pool of the
    backbone's own last block throws away."""

    def __init__(self, in_channels: int, channels: int = 8, grid: int = 8, dropout: float = 0.5):
        super().__init__()
        self.grid = grid
        self.norm = nn.BatchNorm2d(in_channels)
        self.reduce = nn.Conv2d(in_channels, channels, 1)
        self.drop = nn.Dropout(dropout)
        self.out_dim = channels * grid * grid

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        x = self.reduce(self.norm(maps))
        if x.shape[-2:] != (self.grid, self.grid):
            x = F.adaptive_avg_pool2d(x, self.grid)
        return self.drop(x.flatten(1))


def _is_mini_xception(net: nn.Module) -> bool:
    return all(hasattr(net, n) for n in ("conv1", "bn1", "conv2", "bn2", "blocks", "classifier"))


def backbone_dims(net: nn.Module) -> tuple[int, int]:
    """``(trunk_channels, feature_dim)`` of a ResNet-18 (256, 512) or the FER2013 mini-Xception (64, 128)."""
    if _is_mini_xception(net):
        last = net.blocks[-1]
        return last.shortcut.in_channels, last.shortcut.out_channels
    return net.layer4[0].conv1.in_channels, net.layer4[-1].conv2.out_channels


def split_backbone(backbone: nn.Module | None = None) -> tuple[nn.Sequential, nn.Sequential, int, int]:
    """``(trunk, last_block, trunk_channels, feature_dim)`` of a backbone (deep copies; it is left unchanged).

    A torchvision ResNet-18 (random initialisation when ``backbone`` is None): trunk conv1..layer3, last
    block layer4 + average pool (256 channels, 512-d). The FER2013 mini-Xception
    (:class:`mer_utils.pretrained.MiniXception`): trunk = stem and residual blocks 1–3, last block = block 4
    + global average pool (64 channels, 128-d).
    """
    net = backbone if backbone is not None else resnet18(weights=None)
    if _is_mini_xception(net):
        relu = nn.ReLU()
        trunk = nn.Sequential(copy.deepcopy(net.conv1), copy.deepcopy(net.bn1), relu, copy.deepcopy(net.conv2),
                              copy.deepcopy(net.bn2), relu, *(copy.deepcopy(b) for b in net.blocks[:-1]))
        head = nn.Sequential(copy.deepcopy(net.blocks[-1]), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        return trunk, head, *backbone_dims(net)
    for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
        if not hasattr(net, name):
            raise ValueError(f"backbone must be a torchvision ResNet-18 or the FER2013 MiniXception of "
                             f"mer_utils.pretrained (missing {name!r})")
    trunk = nn.Sequential(*(copy.deepcopy(getattr(net, n)) for n in
                            ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3")))
    head = nn.Sequential(copy.deepcopy(net.layer4), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return trunk, head, *backbone_dims(net)


def resnet18_trunk_and_head(backbone: nn.Module | None = None) -> tuple[nn.Sequential, nn.Sequential]:
    """Split a torchvision ResNet-18 into the frozen trunk (conv1..layer3) and the trainable head (layer4 + pool)."""
    trunk, head, _, _ = split_backbone(backbone)
    return trunk, head


class AMAN(nn.Module):
    """The whole network. Output: class logits ``(B, C)``. Input, by ``inputs`` (or per call ``features=``):

    - ``"images"``: magnified images ``(B, n, k, C, H, W)`` in the backbone's input convention;
    - ``"trunk"``: cached frozen-trunk maps ``(B, n, k, trunk_channels, h, w)``;
    - ``"pooled"``: cached features ``(B, n, k, D)`` of a backbone whose last block is frozen too (only MA,
      FA and the classifier are learnt; ``feature_dim`` = D, default the backbone's, else 512).

    ``head``: ``"pretrained"`` fine-tunes the backbone's last block on the trunk maps (§3.1.1);
    ``"small"`` trains a new :class:`MapHead` (``map_head`` = its keyword arguments) instead.
    ``onset_difference``: subtract the onset's trunk maps (or pooled features) — frame 0 at factor 1, which
    the ``wei2022`` recipe puts first — from every magnified frame's before the trained layers.
    Inputs are cast to fp32. ``forward(x, return_attention=True)`` also returns the normalised weights
    ``alpha`` (B, n, k; sum 1 over the factors of a frame) and ``beta`` (B, n; sum 1 over the frames).
    """

    INPUTS = ("images", "trunk", "pooled")
    HEADS = ("pretrained", "small")

    def __init__(self, num_classes: int, backbone: nn.Module | None = None, use_ma: bool = True,
                 use_fa: bool = True, inputs: str = "images", head: str = "pretrained",
                 onset_difference: bool = False, feature_dim: int | None = None, map_head: dict | None = None):
        super().__init__()
        if inputs not in self.INPUTS:
            raise ValueError(f"AMAN inputs={inputs!r}: expected one of {self.INPUTS}.")
        if head not in self.HEADS:
            raise ValueError(f"AMAN head={head!r}: expected one of {self.HEADS}.")
        self.inputs, self.onset_difference = inputs, bool(onset_difference)
        if inputs == "pooled":  # the backbone ran beforehand; only MA, FA and the classifier are learnt
            self.trunk = self.head = None
            self.trunk_channels = None
            dim = feature_dim or (backbone_dims(backbone)[1] if backbone is not None else FEATURE_DIM)
        else:
            self.trunk, self.head, self.trunk_channels, dim = split_backbone(backbone)
            for p in self.trunk.parameters():
                p.requires_grad_(False)
            self.trunk.eval()
            self.frozen_modules = ("trunk",)  # rebuilt from the backbone: left out of checkpoints (issue 20)
            if head == "small":
                self.head = MapHead(self.trunk_channels, **(map_head or {}))
                dim = self.head.out_dim
        self.feature_dim = dim
        self.ma = AttentionPool(dim, enabled=use_ma)
        self.fa = AttentionPool(dim, enabled=use_fa)
        self.classifier = nn.Linear(dim, num_classes)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.trunk is not None:
            self.trunk.eval()  # frozen: BatchNorm statistics stay those of the pretrained backbone
        return self

    @torch.no_grad()
    def trunk_features(self, images: torch.Tensor) -> torch.Tensor:
        """Frozen trunk maps of images ``(N, C, H, W)`` -> ``(N, trunk_channels, h, w)`` (cache these)."""
        if self.trunk is None:
            raise RuntimeError("This AMAN was built with inputs='pooled' and holds no backbone.")
        in_channels = self.trunk[0].in_channels
        if images.dim() != 4 or images.shape[1] != in_channels:
            raise ValueError(f"trunk_features expects (N, {in_channels}, H, W) images; got {tuple(images.shape)}")
        return self.trunk(images.float())

    @torch.no_grad()
    def pooled_features(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``g(I)`` of images ``(N, C, H, W)`` with trunk and last block as they are now."""
        was = self.head.training
        self.head.eval()
        out = self.head(self.trunk_features(images))
        self.head.train(was)
        return out

    def forward(self, x: torch.Tensor, features: bool | str | None = None, return_attention: bool = False):
        kind = self.inputs if features is None else {False: "images", True: "trunk"}.get(features, features)
        if kind not in self.INPUTS:
            raise ValueError(f"AMAN features={features!r}: expected one of {self.INPUTS}.")
        want = 4 if kind == "pooled" else 6
        if x.dim() != want:
            shape = f"(B, n, k, {self.feature_dim})" if kind == "pooled" else "(B, n, k, C, H, W)"
            raise ValueError(f"AMAN with {kind!r} inputs expects {shape} input; got {tuple(x.shape)}")
        x = x.float()
        b, n, k = x.shape[:3]
        if kind == "pooled":
            if x.shape[-1] != self.feature_dim:
                raise ValueError(f"pooled features must be {self.feature_dim}-d; got {x.shape[-1]}")
            f = x - x[:, :1, :1] if self.onset_difference else x
        else:
            if self.head is None:
                raise RuntimeError(f"This AMAN was built with inputs='pooled': pass (B, n, k, {self.feature_dim}) "
                                   "features.")
            flat = x.reshape(b * n * k, *x.shape[3:])
            if kind == "trunk":
                if flat.shape[1] != self.trunk_channels:
                    raise ValueError(f"cached trunk maps must have {self.trunk_channels} channels (the backbone's "
                                     f"trunk output); got {flat.shape[1]}")
            else:
                flat = self.trunk_features(flat)
            if self.onset_difference:
                maps = flat.reshape(b, n, k, *flat.shape[1:])
                flat = (maps - maps[:, :1, :1]).reshape(flat.shape)
            f = self.head(flat).reshape(b, n, k, self.feature_dim)  # F_i (eq. 4)
        fm, alpha = self.ma(f, dim=2)                           # (B, n, D), (B, n, k)
        fv, beta = self.fa(fm, dim=1)                           # (B, D), (B, n)
        logits = self.classifier(fv)
        if return_attention:
            return logits, alpha, beta
        return logits
