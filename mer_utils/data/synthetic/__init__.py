"""Synthetic facial micro-expression clips, with ground truth, in the licensed datasets' on-disk layouts.

The licensed datasets (CASME II, SAMM, SMIC, CASME, CAS(ME)²) cannot ship with the course, so every notebook
runs out of the box on synthetic data written **exactly** in their layouts (REFERENCE.md §1): the loaders of
:mod:`mer_utils.data` read a synthetic root like a licensed ``DATA_ROOT``.

How a clip is made (see the modules):

- :mod:`.faces`: real face photos that ship inside packages (``skimage.data.astronaut()``, matplotlib's
  ``grace_hopper.jpg``, and the hash-pinned package photos of :mod:`.photos`), relaxed to a neutral expression,
  dlib's 68 landmarks, and per-subject identities (a shape + texture morph between two photos, geometry, skin tone,
  lighting, position, background, expression style);
- :mod:`.aus`: action units as landmark displacements; emotions as AU combinations (000 She et al. Table I,
  CASME II / SAMM codings) with their objective classes;
- :mod:`.render`: a smooth dense warp (thin-plate radial basis interpolation of the landmark displacements,
  applied with ``cv2.remap``), onset -> apex -> offset intensity profile, nuisances (head motion, blinks,
  flicker, noise, JPEG);
- :mod:`.plan` / :mod:`.layouts`: sizes, per-dataset clip plans and the writers of each layout;
- :mod:`.sets`: :func:`generate` and :func:`ensure_synthetic` (completion marker, lock, atomic rename);
- :mod:`.judges`: networks trained on real faces judge the result (FER2013 mini-Xception, dlib face recognition).

Public API::

    root = ensure_synthetic("quick")          # generate once (locked, atomic), then reuse
    root = generate("quick", root=tmp_dir)    # always write
    gt = ground_truth_table(root, "casme2")   # one row per clip: emotion, AUs, onset/apex/offset, ...
    rec = load_ground_truth(root, "casme2/sub01/EP02_01f")   # the full sidecar (intensity curve, landmarks)
"""
from __future__ import annotations

from .sets import MARKER, SyntheticSetNewerError, SyntheticSetWarning, ensure_synthetic, generate, read_marker
from .gt import GT_FOLDER, ground_truth_table, load_ground_truth
from .layouts import GENERATOR_VERSION
from .plan import LAYOUTS, MACRO_INTENSITY, MICRO_INTENSITY, SIZES

__all__ = ["generate", "ensure_synthetic", "read_marker", "MARKER", "SyntheticSetWarning", "SyntheticSetNewerError", "GENERATOR_VERSION", "SIZES", "LAYOUTS",
           "MICRO_INTENSITY", "MACRO_INTENSITY", "ground_truth_table", "load_ground_truth", "GT_FOLDER"]
