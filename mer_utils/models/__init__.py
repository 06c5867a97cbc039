"""The five papers' networks, one module per paper (import from the module, e.g.
``from mer_utils.models.reddy2019 import MicroExpSTCNN``)."""
