"""Zhao, Chen & Luo 2021, "Micro-Expression Recognition Based on Pixel Residual Sum and Cropped Gaussian Pyramid"
(Front. Neurorobot. 15:746985; notebook 40): residual-sum images and CropNet.

===========================================  =================================================================
paper                                        here
===========================================  =================================================================
§3.1 eq. (1)-(2) segment, eq. (3)-(4) key    :class:`~.recipe.Zhao2021` (recipe ``zhao2021``), built on
frames, eq. (5) ARS, eq. (6)-(7) RRS         :mod:`mer_utils.preprocess.temporal` and :mod:`mer_utils.preprocess.residual`
§3.2.1 augmentation (Fig. 2)                 :class:`~.pipeline.AugmentationModule`
§3.2.2 CGPO                                  :mod:`mer_utils.preprocess.cgpo` (shared), applied inside :class:`~.model.CropNet`
§3.2.3 ReXNet feature extractor              :func:`~.model.rexnet_feature_extractor`
§3.2.4, eq. (8) head, position embedding,    :class:`~.model.SubImageHead`, :class:`~.model.CropNet`,
splicing                                     :class:`~.model.CropNetWithoutCGPO` (ablation), :func:`~.model.build_cropnet`
§4.2 training (AdamP, label smoothing)       :class:`~.pipeline.AdamPFactory`, :func:`~.pipeline.cropnet_config`,
                                             :class:`~.pipeline.CropNetFactory`, :func:`~.pipeline.cropnet_loso`
§3.2.3 ImageNet weights (loud when missing)  :func:`~.inputs.paper_inputs`
Tables 2-4 beside a run                      :func:`~.pipeline.compare_runs`; reported numbers in ``tables.json``
===========================================  =================================================================
"""
from .._exports import lazy_exports

#: Public names by module; ``from mer_utils.papers.zhao2021 import X`` imports X's module on first use.
_EXPORTS = {
    "model": ("PAPER_PARAMETER_COUNT", "NUM_SUBIMAGES", "FEATURE_DIM", "POS_EMBED_VARIANCE", "IMAGENET_MEAN",
        "IMAGENET_STD", "BackboneInfo", "rexnet_feature_extractor", "SubImageHead", "use_channels_last", "CropNet",
        "CropNetWithoutCGPO", "set_batchnorm_momentum", "count_parameters", "build_cropnet", "PixelStandardize",
        "INPUT_NORMS", "imagenet_weights_file"),
    "inputs": ("paper_inputs",),
    "recipe": ("Zhao2021Params", "Zhao2021", "REGISTER_CHOICES", "register_to_first"),
    "pipeline": ("INPUT_ARRAYS", "PROFILES", "AugmentationModule", "FlipAugmentation", "AUGMENTATIONS", "AdamPFactory",
        "CropNetFactory", "cropnet_config", "input_images", "prepare_inputs", "cropnet_loso", "compare_runs",
        "claims_table"),
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
