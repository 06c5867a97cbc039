"""Peng et al.'s macro stage keeps the micro-expression subjects out of the macro set: the helpers live in
:mod:`mer_utils.data.identities` (shared with Wei et al.'s backbone pretraining) and are exported here under the
paper's name as well."""
from ...data.identities import exclude_identities, micro_identities, synthetic_identities

__all__ = ["exclude_identities", "micro_identities", "synthetic_identities"]
