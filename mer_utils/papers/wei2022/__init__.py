"""Wei et al. 2022, "A Novel Micro-Expression Recognition Approach Using Attention-Based Magnification-Adaptive
Networks" (ICASSP 2022; notebook 50): AMAN.

===========================================  =================================================================
paper                                        here
===========================================  =================================================================
§2.1 eq. (1)-(3) TIM, n frames magnified     :class:`~.recipe.Wei2022` (recipe ``wei2022``; magnification in
with factors 1..k                            :mod:`mer_utils.preprocess.magnify`)
eq. (4) backbone pretrained on a facial-     :func:`~.pipeline.load_backbone`: :func:`~.pipeline.fer_backbone`
expression set (ResNet-18); frozen part      (FER2013 mini-Xception) or :func:`~.pipeline.pretrain_backbone`
                                             (ResNet-18); :func:`~.model.split_backbone`,
                                             :func:`~.pipeline.feature_bank`, :class:`~.model.MapHead`
eq. (5)-(7) MA module, eq. (8)-(10) FA       :class:`~.model.AttentionPool`, :class:`~.model.AMAN`
module, classifier
§3.1.1 training (RMSprop, StepLR), LOSO      :func:`~.pipeline.aman_config`, :func:`~.pipeline.aman_factory`,
                                             :func:`~.pipeline.run_aman`
attention weights alpha and beta             :func:`~.pipeline.attention_table`, :func:`~.pipeline.plot_attention`
paper-critical inputs (loud when missing)    :func:`~.inputs.paper_inputs`
Tables 1-3 (k ceilings, comparison,          reported numbers in ``tables.json`` (:func:`mer_utils.paper_tables.paper_table`)
ablation)                                    Table 3's rows: :func:`~.pipeline.table3_settings` (without MA =
                                             one fixed factor, the paper's "single-magnification")
Fig. 3 (accuracy vs n = 1..20)               :data:`~.pipeline.PAPER_N_GRID`, :func:`~.pipeline.n_grid`
                                             (``N_GRID="paper"``; ``full`` runs n = 11 only by default)
===========================================  =================================================================
"""
from .._exports import lazy_exports

#: Public names by module; ``from mer_utils.papers.wei2022 import X`` imports X's module on first use.
_EXPORTS = {
    "model": ("TRUNK_CHANNELS", "TRUNK_STRIDE", "FEATURE_DIM", "AttentionPool", "MapHead", "split_backbone",
              "resnet18_trunk_and_head", "AMAN"),
    "recipe": ("Wei2022Params", "Wei2022"),
    "pipeline": ("IMAGENET_MEAN", "IMAGENET_STD", "LEVELS", "FER_BACKBONE", "BACKBONES", "fer_backbone",
        "load_backbone", "to_backbone_input", "backbone_input", "random_flip", "pretrain_backbone", "feature_bank",
        "aman_dataset", "aman_factory", "aman_config", "attention_table", "plot_attention", "plot_magnification_grid",
        "run_aman", "FER_CLASSES", "BackboneInputs", "WITHOUT_MA_CHOICES", "table3_settings",
        "pretraining_set", "PAPER_N_GRID", "n_grid"),
    "inputs": ("paper_inputs",),
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
