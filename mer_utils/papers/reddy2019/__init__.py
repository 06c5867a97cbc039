"""Reddy et al. 2019, "Spontaneous Facial Micro-Expression Recognition using 3D Spatiotemporal Convolutional Neural
Networks" (IJCNN 2019; notebook 30): MicroExpSTCNN and MicroExpFuseNet.

===========================================  =================================================================
paper                                        here
===========================================  =================================================================
Sec. III preprocessing (grey 64x64 face,     :class:`~.recipe.Reddy2019` (recipe ``reddy2019``),
32x32 eyes / nose-mouth, T frames)           :func:`~.pipeline.apex_window`, :func:`~.pipeline.prepare_reddy`
Sec. III-A, Table I MicroExpSTCNN            :class:`~.model.MicroExpSTCNN`, :class:`~.model.SpatioTemporalStem`
Sec. III-B, Table II MicroExpFuseNet         :class:`~.model.MicroExpFuseNet` (intermediate and late fusion),
(intermediate / late fusion)                 :func:`~.model.build_model`, :data:`~.model.MODEL_NAMES`
the authors' normalisation, per fold         :class:`~.pipeline.GlobalMeanMaxNormaliser`, :class:`~.pipeline.ReddyTorchMethod`
Sec. IV-B training (SGD, 100 epochs)         :func:`~.pipeline.authors_config`
the 80/20 split vs LOSO                      :func:`~.pipeline.make_folds`, :func:`~.pipeline.run_experiment`,
                                             :func:`~.pipeline.subject_overlap`; CAS(ME)² windows sharing frames:
                                             :func:`~.pipeline.window_overlaps`, :func:`~.pipeline.split_overlap`
Table IV class counts (paper vs authors'     :func:`~.pipeline.class_counts`
code vs the data)
Table V, Table VIII (last 10 epochs)         :func:`~.pipeline.table_v`, :func:`~.pipeline.table_viii`,
                                             :func:`~.pipeline.last_epochs_summary`
Table IX kernel sizes                        :data:`~.model.TABLE_IX_KERNEL_SIZES`, :func:`~.pipeline.parse_kernel`
Sec. V-D, Fig. 4 saliency                    :func:`~.pipeline.saliency_region_shares`, :func:`~.pipeline.face_roi_boxes`
reported numbers (Tables V-IX)               ``tables.json`` (:func:`mer_utils.paper_tables.paper_table`)
===========================================  =================================================================
"""
from .._exports import lazy_exports

#: Public names by module; ``from mer_utils.papers.reddy2019 import X`` imports X's module on first use.
_EXPORTS = {
    "model": ("MODEL_NAMES", "PAPER_KERNEL_SIZE", "count_parameters", "SpatioTemporalStem", "MicroExpSTCNN", "MicroExpFuseNet",
        "build_model"),
    "recipe": ("Reddy2019Params", "Reddy2019", "onset_difference"),
    "pipeline": ("apex_window", "prepare_reddy", "model_inputs", "ModelFactory", "kernel_label", "parse_kernel",
        "GlobalMeanMaxNormaliser", "ReddyTorchMethod", "authors_config", "epoch_accuracy", "last_epochs_summary",
        "subject_overlap", "face_roi_boxes", "saliency_region_shares", "SPLITS", "PROFILES", "make_folds",
        "run_experiment", "run_summary", "table_v", "table_viii", "subject_majority_baseline", "load_trained",
        "plot_face_rois", "INPUTS", "claims_table", "SPLIT_GROUPS", "window_overlaps", "split_overlap",
        "class_counts"),
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
