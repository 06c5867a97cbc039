"""Peng et al. 2018, "From Macro to Micro Expression Recognition: Deep Learning on Small Datasets Using Transfer
Learning" (IEEE FG 2018, MEGC 2018; notebook 20): ImageNet ResNet-10 -> macro-expressions -> micro-expressions.

===========================================  =================================================================
paper                                        here
===========================================  =================================================================
Sec. III-A ResNet-10 (cvgj, pre-activation)  :class:`~.model.ResNet10`, :func:`~.model.load_imagenet_weights`,
                                             :func:`~.model.replace_classifier`
apex frame, face crop, 224x224               :class:`~.recipe.Peng2018` (recipe ``peng2018``)
Sec. III-B macro set, objective classes      :mod:`~.macro`: :data:`~.macro.MACRO_TO_OBJECTIVE`,
I-V, random 9:1 split                        :func:`~.macro.load_macro_table`, :func:`~.macro.random_test_split`
(no micro subject in the macro set)          :mod:`~.identities`: :func:`~.identities.exclude_identities`
(quick: apex - onset input)                  :func:`~.pipeline.difference_image`, :func:`~.pipeline.micro_images`
Sec. III-B/C resampling and augmentation     :mod:`~.augment`: :func:`~.augment.balanced_resample`,
(colour shift, rotation, smoothing;          :class:`~.augment.PengAugment`, :func:`~.augment.random_corner_crop`,
CDE 240 -> 224 corner crops)                 :class:`~.augment.BatchAugment`
Sec. III-B/C fine-tuning stages (SGD,        :mod:`~.pipeline`: :class:`~.pipeline.PengStage`, :data:`~.pipeline.PROFILES`,
StepLR), the transfer chain                  :func:`~.pipeline.make_stage`, :func:`~.pipeline.run_stage`
Table I (clips per objective class)          :func:`~.report.table_i`
Tables II-III (HDE confusion matrices)       :func:`~.report.confusion_percent`, :func:`~.report.plot_confusions_vs_paper`
Table IV (HDE), Tables V-VII (CDE)           :func:`~.report.hde_scores`, :func:`~.report.compare_hde`,
                                             :func:`~.report.cde_scores`, :func:`~.report.compare_cde`
Sec. IV-B CDE: Tables V-VII as three LOSO    :mod:`~.cde`: :func:`~.cde.cde_folds`, :func:`~.cde.cde_experiments`,
experiments (20 / 26 / 46 processes)         :func:`~.cde.run_cde_experiments`, :func:`~.cde.cde_folds_table`
the ablation of the notebook                 :func:`~.report.ablation_table`
paper-critical inputs (loud when missing)    :func:`~.inputs.paper_inputs`, :func:`~.inputs.default_macro_sets`
reported numbers                             ``tables.json`` (:func:`mer_utils.paper_tables.paper_table`)
===========================================  =================================================================
"""
from .._exports import lazy_exports

#: Public names by module; ``from mer_utils.papers.peng2018 import X`` imports X's module on first use.
_EXPORTS = {
    "model": ("FirstBasicBlock", "PreActBasicBlock", "ResNet10", "count_parameters", "resnet10_parameter_count",
        "RESNET10_PARAMETERS_IMAGENET", "replace_classifier", "WeightLoadReport", "load_imagenet_weights"),
    "recipe": ("Peng2018Params", "Peng2018"),
    "augment": ("balanced_resample", "PengAugment", "MACRO_AUGMENT", "HDE_AUGMENT", "CDE_AUGMENT",
        "random_corner_crop", "center_crop", "BatchAugment"),
    "macro": ("OBJECTIVE_CLASSES", "MACRO_TO_OBJECTIVE", "IMAGE_EXTENSIONS", "load_emotion_folder",
        "load_macro_table", "prepare_macro_images", "random_test_split"),
    "inputs": ("QUICK_MACRO_SETS", "default_macro_sets", "paper_inputs"),
    "identities": ("synthetic_identities", "micro_identities", "exclude_identities"),
    "pipeline": ("MICRO_INPUTS", "DIFFERENCE_GAIN", "HDE_DIFFERENCE_AUGMENT", "difference_image", "micro_images",
        "ImageInputs", "INITS", "PengStage", "PROFILES", "cde_resize", "make_stage", "show_progress",
        "run_stage", "stage_checkpoint", "select_folds"),
    "report": ("confusion_percent", "hde_scores", "cde_scores", "PAPER_METHOD", "table_i", "compare_hde",
        "compare_cde", "settings_vs_paper", "upright_labels", "plot_confusions_vs_paper", "plot_examples",
        "augmentation_examples", "plot_image_row", "hde_metrics", "cde_metrics", "ablation_table", "run_summaries",
        "CLAIMS", "claims_table"),
    "cde": ("CDE_TABLES", "CDE_DESIGNS", "PAPER_CDE_FOLDS", "PAPER_CDE_FRACTIONS", "cde_experiments", "cde_folds",
        "cde_fold_counts", "cde_folds_table", "run_cde_experiments"),
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
