"""AMAN: Attention-based Magnification-Adaptive Network (Wei et al., ICASSP 2022; 004_*.txt).

A video is given as ``n`` frames, each magnified against the onset frame with ``k`` amplification factors
(§2.1, eq. 1–3). A ResNet-18 backbone ``g`` (eq. 4) turns every magnified image into a 512-d feature; its
early blocks (conv1 .. layer3) are frozen, so their output can be computed once and cached, and only the
last residual block (layer4) is fine-tuned (§3.1.1). The **MA module** (eq. 5–7) weighs the ``k``
magnification levels of a frame with ``alpha_i = sigmoid(F_i^T q0)`` and takes the alpha-weighted mean;
the **FA module** (eq. 8–10) weighs the ``n`` frames the same way with ``beta_j = sigmoid(F_mj^T p0)``; a
linear layer classifies the video representation ``F_v``.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torchvision.models import resnet18

#: Channels and stride of the frozen trunk's output (ResNet-18 layer3) and of the final feature (layer4).
TRUNK_CHANNELS, TRUNK_STRIDE, FEATURE_DIM = 256, 16, 512


class AttentionPool(nn.Module):
    """Sigmoid attention over one axis: ``w = sigmoid(F q)``, output ``sum(w F) / sum(w)`` (eq. 5–7, 8–10).

    ``enabled=False`` gives the plain mean over the axis (the ablations of Table 3).
    """

    def __init__(self, dim: int = FEATURE_DIM, enabled: bool = True):
        super().__init__()
        self.enabled = enabled
        self.score = nn.Linear(dim, 1)

    def forward(self, feats: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``feats`` (..., L, D) pooled over axis ``dim`` (the L axis); returns (pooled, weights (..., L))."""
        if feats.dim() < 2 or feats.shape[-1] != self.score.in_features:
            raise ValueError(f"AttentionPool expects features (..., L, {self.score.in_features}); got "
                             f"{tuple(feats.shape)}")
        if self.enabled:
            w = torch.sigmoid(self.score(feats)).squeeze(-1)          # eq. (5) / (8)
        else:
            w = torch.ones(feats.shape[:-1], dtype=feats.dtype, device=feats.device)
        pooled = (w.unsqueeze(-1) * feats).sum(dim) / w.sum(dim).unsqueeze(-1)  # eq. (6)-(7) / (9)-(10)
        return pooled, w


def resnet18_trunk_and_head(backbone: nn.Module | None = None) -> tuple[nn.Sequential, nn.Sequential]:
    """Split a torchvision ResNet-18 into the frozen trunk (conv1..layer3) and the trainable head (layer4 + pool).

    ``backbone`` may be a ResNet-18 pretrained on a facial-expression set (see
    :mod:`mer_utils.papers.wei2022.pipeline`); the parts are deep copies, so it is left unchanged.
    """
    net = backbone if backbone is not None else resnet18(weights=None)
    for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
        if not hasattr(net, name):
            raise ValueError(f"backbone must be a torchvision ResNet-18 (missing {name!r})")
    trunk = nn.Sequential(*(copy.deepcopy(getattr(net, n)) for n in
                            ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3")))
    head = nn.Sequential(copy.deepcopy(net.layer4), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return trunk, head


class AMAN(nn.Module):
    """The whole network. Output: class logits ``(B, C)``. Input, by ``inputs`` (or per call ``features=``):

    - ``"images"``: magnified images ``(B, n, k, 3, H, W)`` (ImageNet-normalised);
    - ``"trunk"``: cached frozen-trunk features ``(B, n, k, 256, H/16, W/16)`` — the paper's set-up: layer4 is
      fine-tuned on top of them;
    - ``"pooled"``: cached 512-d features ``(B, n, k, 512)`` of a backbone whose last block is frozen too (a
      cheaper variant used by the quick CPU profile; only MA, FA and the classifier are trained).

    ``forward(x, return_attention=True)`` also returns ``alpha`` (B, n, k) and ``beta`` (B, n).
    """

    INPUTS = ("images", "trunk", "pooled")

    def __init__(self, num_classes: int, backbone: nn.Module | None = None, use_ma: bool = True,
                 use_fa: bool = True, inputs: str = "images"):
        super().__init__()
        if inputs not in self.INPUTS:
            raise ValueError(f"AMAN inputs={inputs!r}: expected one of {self.INPUTS}.")
        self.inputs = inputs
        if inputs == "pooled":  # the backbone ran beforehand; only MA, FA and the classifier are learnt
            self.trunk = self.head = None
        else:
            self.trunk, self.head = resnet18_trunk_and_head(backbone)
            for p in self.trunk.parameters():
                p.requires_grad_(False)
            self.trunk.eval()
        self.ma = AttentionPool(FEATURE_DIM, enabled=use_ma)
        self.fa = AttentionPool(FEATURE_DIM, enabled=use_fa)
        self.classifier = nn.Linear(FEATURE_DIM, num_classes)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.trunk is not None:
            self.trunk.eval()  # frozen: BatchNorm statistics stay those of the pretrained backbone
        return self

    @torch.no_grad()
    def trunk_features(self, images: torch.Tensor) -> torch.Tensor:
        """Frozen conv1..layer3 features of images ``(N, 3, H, W)`` -> ``(N, 256, H/16, W/16)`` (cache these)."""
        if self.trunk is None:
            raise RuntimeError("This AMAN was built with inputs='pooled' and holds no backbone.")
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"trunk_features expects (N, 3, H, W) images; got {tuple(images.shape)}")
        return self.trunk(images)

    @torch.no_grad()
    def pooled_features(self, images: torch.Tensor) -> torch.Tensor:
        """512-d features ``g(I)`` of images ``(N, 3, H, W)`` with trunk and last block as they are now."""
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
            shape = "(B, n, k, 512)" if kind == "pooled" else "(B, n, k, C, H, W)"
            raise ValueError(f"AMAN with {kind!r} inputs expects {shape} input; got {tuple(x.shape)}")
        b, n, k = x.shape[:3]
        if kind == "pooled":
            if x.shape[-1] != FEATURE_DIM:
                raise ValueError(f"pooled features must be {FEATURE_DIM}-d; got {x.shape[-1]}")
            f = x
        else:
            if self.head is None:
                raise RuntimeError("This AMAN was built with inputs='pooled': pass (B, n, k, 512) features.")
            flat = x.reshape(b * n * k, *x.shape[3:])
            if kind == "trunk":
                if flat.shape[1] != TRUNK_CHANNELS:
                    raise ValueError(f"cached features must have {TRUNK_CHANNELS} channels (ResNet-18 layer3); "
                                     f"got {flat.shape[1]}")
            else:
                flat = self.trunk_features(flat)
            f = self.head(flat).reshape(b, n, k, FEATURE_DIM)  # F_i (eq. 4)
        fm, alpha = self.ma(f, dim=2)                           # (B, n, 512), (B, n, k)
        fv, beta = self.fa(fm, dim=1)                           # (B, 512), (B, n)
        logits = self.classifier(fv)
        if return_attention:
            return logits, alpha, beta
        return logits
