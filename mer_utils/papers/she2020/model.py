"""Multiple Aggregation Networks (She et al. 2020, "Micro-expression recognition based on multiple
aggregation networks", APSIPA ASC 2020).

Part 1 of the paper's Fig. 1: four residual-network branches read one frame each — the whole face
(``h``), the left eye + eyebrow (``l``), the right eye + eyebrow (``r``) and the mouth (``m``) RoIs cut
from the 12x14 grid of 10 px cells on the 120x140 face (Sec. III-B). Part 2: the branch features are
concatenated (eq. 2), then two fully connected layers with 64 and 4 units, each followed by dropout 0.5,
ReLU activations and a softmax (Sec. IV-B c). The activations of the first fully connected layer are
the *frame-level features* that Part 3 aggregates over a clip (eq. 3-4, see
:mod:`mer_utils.papers.she2020.pipeline`).

What the paper leaves open, and what this module chooses:

* **Branch depth and width.** The paper only says "residual network" with identity shortcuts (eq. 1)
  and cites He et al. 2016. We use He et al.'s CIFAR-style ResNet-(6n+2) (Sec. 4.2 of that paper): a
  3x3 stem, three stages of ``n`` basic blocks with widths ``w, 2w, 4w`` (strides 1, 2, 2), global
  average pooling. Its shortcuts are parameter-free identities ("option A": stride-2 subsampling and
  zero-padded channels where the shape changes), which is exactly eq. (1) with ``y = F(x) + x``.
  ``ResidualBranch(blocks_per_stage=3, width=16)`` is ResNet-20 (about 0.27 M parameters); the quick
  profile uses ``blocks_per_stage=1, width=8`` (ResNet-8, about 0.02 M parameters) so that it trains on
  a CPU in minutes.
* **RoI cropping inside the model.** The network takes the whole face ``(B, C, 140, 120)`` and slices the
  RoIs out with pixel boxes, so one tensor per frame feeds all four branches. The boxes come from the
  shared 12x14 grid (``mer_utils.preprocess``); this module does not hard-code them.
* **Dropout after the 4-unit layer.** Sec. IV-B c: "Each fully-connected layer is followed by a drop layer
  with a dropout ratio of 0.5", so by default dropout follows FC-64 *and* FC-4 (on the logits, before the
  softmax of the loss). Dropping logits is unusual, so the other reading — dropout after FC-64 only — is a
  switch (``logit_dropout=False``, the default before issue 21).
* **Frame-level feature** = the FC-64 output after its ReLU and before its dropout (in ``eval`` mode
  dropout is the identity anyway).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: The four branches of Fig. 1, in the order of eq. (2): whole face h, left eye l, right eye r, mouth m.
BRANCHES = ("face", "left_eye", "right_eye", "mouth")


class IdentityShortcut(nn.Module):
    """Parameter-free shortcut of eq. (1) (He et al. 2016, "option A").

    Where the block keeps the shape this is ``x``; where it halves the resolution and widens the channels
    it subsamples ``x`` with the block's stride and pads the new channels with zeros, so the shortcut
    stays an identity mapping with no weights.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"IdentityShortcut: out_channels ({out_channels}) must be >= in_channels "
                             f"({in_channels}); a parameter-free identity cannot drop channels.")
        self.stride = stride
        self.extra = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra))
        return x


class ResidualBlock(nn.Module):
    """Basic residual block ``y = F(x, {W_i}) + x`` (eq. 1): two 3x3 conv + BN layers, ReLU after the sum."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = IdentityShortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        # a stride-2 conv with padding 1 gives ceil(n/2) like the slice x[::2], so odd sizes agree
        return F.relu(out + self.shortcut(x))


class ResidualBranch(nn.Module):
    """One branch of Part 1 of Fig. 1: a CIFAR-style ResNet-(6n+2) mapping a frame (or RoI) to a feature.

    Parameters
    ----------
    in_channels : 1 for grey frames, 3 for colour.
    width : channels of the first stage (stages have ``width, 2*width, 4*width``).
    blocks_per_stage : ``n`` in ResNet-(6n+2); 1 -> ResNet-8, 3 -> ResNet-20.

    Input ``(B, in_channels, H, W)`` with any ``H, W >= 4``; output ``(B, 4*width)`` (global average pool),
    the per-frame feature ``h_j^i`` / ``l_j^i`` / ``r_j^i`` / ``m_j^i`` of Sec. III-C.
    """

    def __init__(self, in_channels: int = 1, width: int = 16, blocks_per_stage: int = 3) -> None:
        super().__init__()
        if in_channels < 1 or width < 1 or blocks_per_stage < 1:
            raise ValueError(f"ResidualBranch: in_channels, width and blocks_per_stage must be >= 1, got "
                             f"{in_channels}, {width}, {blocks_per_stage}.")
        self.in_channels = in_channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        channels = width
        for stage, out_channels in enumerate((width, 2 * width, 4 * width)):
            for block in range(blocks_per_stage):
                stride = 2 if (stage > 0 and block == 0) else 1
                layers.append(ResidualBlock(channels, out_channels, stride))
                channels = out_channels
        self.stages = nn.Sequential(*layers)
        self.out_features = channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResidualBranch expects frames of shape (B, {self.in_channels}, H, W); got "
                             f"{tuple(x.shape)}. Stack the frames of a clip along the batch axis.")
        return torch.flatten(F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1), 1)


def _check_box(name: str, box: Sequence[int]) -> tuple[int, int, int, int]:
    if len(box) != 4:
        raise ValueError(f"RoI {name!r}: expected a pixel box (top, bottom, left, right), got {box!r}.")
    top, bottom, left, right = (int(v) for v in box)
    if not (0 <= top < bottom and 0 <= left < right):
        raise ValueError(f"RoI {name!r}: box (top, bottom, left, right) = {box!r} is empty or negative.")
    return top, bottom, left, right


class MultipleAggregationNetwork(nn.Module):
    """The frame-level network of She et al. 2020 (Fig. 1, Parts 1-2).

    Parameters
    ----------
    rois : pixel boxes ``{name: (top, bottom, left, right)}`` (end-exclusive) on the face for the RoI
        branches used (``left_eye``, ``right_eye``, ``mouth``); e.g. from the shared 12x14 grid.
    branches : which of :data:`BRANCHES` to use, in eq. (2)'s order. All four is the paper's fusion
        model; a single name trains that branch alone (the whole face vs each RoI comparison of Fig. 4).
    num_classes : 4 in the paper (Positive, Negative, Surprise, Others).
    in_channels, width, blocks_per_stage : passed to every :class:`ResidualBranch`.
    hidden : units of the first fully connected layer (64); its activations are the frame features.
    dropout : ratio after each fully connected layer (0.5).
    logit_dropout : also apply dropout to the 4-unit layer's output, as the paper's text says (default);
        ``False`` = dropout after FC-64 only.

    ``forward(x)`` takes faces ``(B, C, H, W)`` and returns logits ``(B, num_classes)`` (the softmax is in
    the cross-entropy loss); :meth:`frame_features` returns the FC-64 activations ``(B, hidden)``;
    :meth:`branch_features` returns the concatenated vector L_j^i of eq. (2).
    """

    def __init__(self, rois: Mapping[str, Sequence[int]] | None = None,
                 branches: Sequence[str] = BRANCHES, num_classes: int = 4, in_channels: int = 1,
                 width: int = 16, blocks_per_stage: int = 3, hidden: int = 64, dropout: float = 0.5,
                 logit_dropout: bool = True) -> None:
        super().__init__()
        branches = tuple(branches)
        unknown = [b for b in branches if b not in BRANCHES]
        if not branches or unknown or len(set(branches)) != len(branches):
            raise ValueError(f"branches must be distinct names from {BRANCHES}; got {branches!r}.")
        rois = dict(rois or {})
        self.boxes: dict[str, tuple[int, int, int, int] | None] = {}
        for name in branches:
            if name == "face":
                self.boxes[name] = None
            elif name not in rois:
                raise ValueError(f"Branch {name!r} needs its pixel box in rois={{'{name}': (top, bottom, "
                                 f"left, right)}}; got boxes for {sorted(rois)}. Take them from the shared "
                                 "12x14 grid (mer_utils.preprocess).")
            else:
                self.boxes[name] = _check_box(name, rois[name])
        self.branch_names = branches
        self.in_channels = in_channels
        self.branches = nn.ModuleDict({name: ResidualBranch(in_channels, width, blocks_per_stage)
                                       for name in branches})
        concat = sum(b.out_features for b in self.branches.values())
        self.concat_features = concat
        self.hidden = hidden
        self.fc1 = nn.Linear(concat, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(dropout)
        self.logit_dropout = nn.Dropout(dropout) if logit_dropout else nn.Identity()
        self.num_classes = num_classes

    def crop(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """The input of branch ``name``: the whole face, or its RoI box sliced from ``x``."""
        box = self.boxes[name]
        if box is None:
            return x
        top, bottom, left, right = box
        if bottom > x.shape[-2] or right > x.shape[-1]:
            raise ValueError(f"RoI {name!r} box {box} lies outside the face of size "
                             f"{tuple(x.shape[-2:])} (H, W); the paper's faces are 140 x 120.")
        return x[..., top:bottom, left:right]

    def branch_features(self, x: torch.Tensor) -> torch.Tensor:
        """L_j^i = {h, l, r, m} of eq. (2): the branch features of each frame, concatenated."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"MultipleAggregationNetwork expects faces (B, {self.in_channels}, H, W); got "
                             f"{tuple(x.shape)}.")
        if x.dtype == torch.uint8:  # frames fed as uint8 (the pipeline's batches): scaled to [0, 1] on the device
            x = x.float().div_(255.0)
        return torch.cat([self.branches[n](self.crop(x, n)) for n in self.branch_names], dim=1)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """The frame-level feature: activations of the first fully connected layer (red box of Fig. 1)."""
        return F.relu(self.fc1(self.branch_features(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit_dropout(self.fc2(self.dropout(self.frame_features(x))))
