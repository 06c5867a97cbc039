"""Shared preprocessing steps, the recipes' base and the runner of a recipe over a clip table.

Steps (one module each): :mod:`~.faces` (Haar / dlib HOG detection, 68 landmarks), :mod:`~.align` (one transform
per clip), :mod:`~.temporal` (TIM, resampling, key frames, apex), :mod:`~.roi` (She et al.'s grid, Reddy et al.'s
crops), :mod:`~.flow` (Farneback, TV-L1, strain, colour), :mod:`~.residual` (ARS / RRS), :mod:`~.cgpo` (Zhao et al.'s
cropped Gaussian pyramid), :mod:`~.magnify` (Eulerian and Oh et al.'s learning-based magnification);
:mod:`~.tensor_ops`: decoding, warping, TIM, magnification and residual sums as torch operations (the GPU path,
used when CUDA is present, tested against the reference functions above). Recipes: the base class and the helpers they share in :mod:`~.recipe`; each paper's recipe in its folder
(``mer_utils/papers/<paper>/recipe.py``), named in the registry :data:`mer_utils.papers.RECIPES` (``she2020``,
``peng2018``, ``reddy2019``, ``zhao2021``, ``wei2022``); :func:`prepare` runs one over a clip table with an on-disk
cache (:mod:`~.cache`) and a process pool, :func:`prepare_many` several at once (one decode per clip).
"""
from .align import REGISTER_CHOICES, align_image, alignment_transform, box_transform, register_to_first, template_eye_centres, transform_points, \
    warp_frames, warp_image
from .cache import cache_size, clear_cache
from .cgpo import cgpo, cgpo_boxes, cgpo_tensor, draw_cgpo_boxes
from .clips import ClipSegment, clip_segment, read_positions, shared_decoding
from .faces import FaceLandmarks, detect_faces, detect_landmarks, draw_landmarks, eye_centres, predict_landmarks, \
    shape_predictor_path
from .flow import clip_flows, flow_image, flow_magnitude, flow_to_colour, optical_flow, optical_strain
from .magnify import eulerian_magnify, load_magnification_network, magnify_against_onset, magnify_pair
from .prepare import Prepared, PrepareReport, clip_face, prepare, prepare_many
from .recipe import FaceParams, Recipe, StepTimer
from .residual import absolute_residual_sum, relative_residual_sum, residual_sum
from .roi import SHE_ROI_CELLS, draw_roi_grid, reddy_roi_box, she_roi_cells, she_rois
from .temporal import key_frames, resample_uniform, residual_segment, spot_apex, temporal_interpolate, tim_positions, \
    tim_svd, tim_weights, uniform_indices

__all__ = [
    "align_image", "alignment_transform", "box_transform", "template_eye_centres", "transform_points", "warp_frames",
    "warp_image", "cache_size", "clear_cache", "cgpo", "cgpo_boxes", "cgpo_tensor", "draw_cgpo_boxes", "ClipSegment",
    "clip_segment", "read_positions", "shared_decoding", "FaceLandmarks", "detect_faces", "detect_landmarks", "draw_landmarks",
    "eye_centres", "predict_landmarks", "shape_predictor_path", "clip_flows", "flow_image", "flow_magnitude",
    "flow_to_colour", "optical_flow", "optical_strain", "eulerian_magnify", "load_magnification_network",
    "magnify_against_onset", "magnify_pair", "Prepared", "PrepareReport", "clip_face", "prepare", "prepare_many", "FaceParams",
    "Recipe", "StepTimer", "absolute_residual_sum", "relative_residual_sum", "residual_sum",
    "SHE_ROI_CELLS", "draw_roi_grid", "reddy_roi_box", "she_roi_cells", "she_rois", "key_frames",
    "resample_uniform", "residual_segment", "spot_apex", "temporal_interpolate", "tim_positions", "tim_svd",
    "tim_weights", "uniform_indices",
]
