"""The paper-critical inputs of notebook 40 (§3.2.3: the ReXNet extractor is trained on ImageNet first), checked
before training by :func:`mer_utils.substitutes.check_paper_inputs` (issue 20: loud, not silent)."""
from __future__ import annotations

from ...substitutes import DataSources, PaperInput, check_paper_inputs, micro_clips

NOTEBOOK = "40_zhao2021_residual_sum_cropnet"


def paper_inputs(profile: str, data_source: str, *, width_mult: float | None = 1.0, depth_mult: float | None = 1.0,
                 allow_substitutes: bool = False, backbone: str = "rexnet_100") -> DataSources:
    """The ImageNet initialisation of the ReXNet extractor (§3.2.3) and the micro-expression clips.

    The weights are found where :func:`~.model.imagenet_weights_file` looks (``data/weights/imagenet/
    rexnet_100.safetensors`` or the Hugging Face cache); the narrower CPU extractors (``width_mult`` /
    ``depth_mult`` not 1) have no ImageNet weights and are always randomly initialised (the quick design).
    Raises :class:`~mer_utils.substitutes.MissingPaperInputError` in ``full`` without them unless
    ``allow_substitutes``."""
    from ... import paths
    from .model import IMAGENET_WEIGHTS_FOLDER, imagenet_weights_file

    w = 1.0 if width_mult is None else float(width_mult)
    d = 1.0 if depth_mult is None else float(depth_mult)
    paper = f"ImageNet-pretrained ReXNet-1.0x ({backbone})"
    where = (f"{paths.weights_root() / IMAGENET_WEIGHTS_FOLDER / (backbone + '.safetensors')} (timm's "
             f"{backbone} weights file) or the Hugging Face cache")
    if (w, d) != (1.0, 1.0):
        used = f"random initialisation (ReXNet width x{w:g}, depth x{d:g}: no ImageNet weights exist for it)"
        weights = PaperInput("feature extractor initialisation", paper, used, True, where)
    else:
        hit = imagenet_weights_file(backbone)
        weights = PaperInput("feature extractor initialisation", paper,
                             f"ImageNet weights {hit}" if hit else "random initialisation (no ImageNet weights found)",
                             hit is None, where)
    clips = micro_clips(data_source, "licensed CASME II, SAMM, SMIC (MEGC 2019 composite)")
    return check_paper_inputs(NOTEBOOK, profile, [weights, clips], allow_substitutes)
