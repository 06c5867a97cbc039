"""She et al. 2020, "Micro-expression recognition based on multiple aggregation networks" (APSIPA ASC 2020;
notebook 10): one frame network over the face and three RoIs, frame features aggregated over the clip, an SVM.

===========================================  =================================================================
paper                                        here
===========================================  =================================================================
Sec. III-A preprocessing (Haar face, TIM     :class:`~.recipe.She2020` (recipe ``she2020``),
to 64 frames, 120x140 faces)                 :class:`~.recipe.She2020Params`
(quick: onset optical flow as frames)        :func:`~.pipeline.onset_flow_frames`, :func:`~.pipeline.network_inputs`
Sec. III-B RoIs on the 12x14 grid            :func:`~.pipeline.she_roi_boxes` (grid: :mod:`mer_utils.preprocess.roi`)
Fig. 1 part 1, eq. (1) residual branches     :class:`~.model.ResidualBranch`, :class:`~.model.ResidualBlock`,
                                             :class:`~.model.IdentityShortcut`, :data:`~.model.BRANCHES`
Fig. 1 part 2, eq. (2) fusion, FC-64, FC-4   :class:`~.model.MultipleAggregationNetwork`
Fig. 1 part 3, eq. (3)-(4) aggregation       :func:`~.pipeline.aggregate_frame_features`,
(mean, std, median over frames)              :func:`~.pipeline.aggregate_clips`, :data:`~.pipeline.STATISTICS`
Sec. IV-B LIBSVM on the video feature        :func:`~.pipeline.fit_video_svm`, :data:`~.pipeline.DEFAULT_SVM_GRID`
the whole method per fold                    :class:`~.pipeline.MultipleAggregationPipeline`,
                                             :class:`~.pipeline.She2020Settings`, :func:`~.pipeline.run_multiple_aggregation`
Table IV (7 aggregation choices)             :func:`~.pipeline.aggregation_choices`, :func:`~.pipeline.aggregation_results`
Fig. 4 (global, local and fused features)    :func:`~.pipeline.plot_branch_comparison`
the paper's claims, paired intervals         :func:`~.pipeline.claims_table`, :func:`~.pipeline.aggregation_predictions`
reported numbers (Tables IV, V; Fig. 4)      ``tables.json`` (:func:`mer_utils.paper_tables.paper_table`)
===========================================  =================================================================
"""
from .._exports import lazy_exports

#: Public names by module; ``from mer_utils.papers.she2020 import X`` imports X's module on first use.
_EXPORTS = {
    "model": ("BRANCHES", "IdentityShortcut", "ResidualBlock", "ResidualBranch", "MultipleAggregationNetwork"),
    "recipe": ("She2020Params", "She2020"),
    "pipeline": ("STATISTICS", "aggregation_choices", "aggregate_frame_features", "aggregate_clips",
        "DEFAULT_SVM_GRID", "fit_video_svm", "she_roi_boxes", "resize_faces", "frame_table", "frame_indices",
        "She2020Settings", "MultipleAggregationPipeline", "run_multiple_aggregation", "aggregation_results",
        "load_frame_features", "SMALL_SVM_GRID", "PROFILES", "SPLITS", "TINY_SVM_GRID", "svm_grid", "select_datasets",
        "make_folds", "plot_branch_comparison", "PAPER_SETTINGS", "settings_table", "INPUTS", "FLOW_GAIN",
        "onset_flow_frames", "network_inputs", "aggregation_predictions", "claims_table", "SVM_FEATURES"),
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
