"""Accord's agreement engine: pure Python + numpy, no Django.

Everything takes long-format ratings (``units``, ``raters``, ``values``: equal-length
1-D arrays, one row per rating) because that is how rows come out of the database.
Undefined statistics are returned as ``None`` with a human-readable reason, never NaN.
"""

from agreement._data import LEVELS, Level, reliability_matrix_to_long
from agreement.alpha import AlphaResult, alpha
from agreement.items import item_disagreement
from agreement.judge import (
    ConfusionMatrix,
    JudgeAgreement,
    JudgeSubstitution,
    TrustDecision,
    judge_as_rater,
    judge_trusted,
    judge_vs_humans,
)
from agreement.pairwise import Measure, cohen_kappa, pair_ratings, percent_agreement, spearman
from agreement.raters import RaterAgreement, RaterReport, rater_agreement

__all__ = [
    "LEVELS",
    "AlphaResult",
    "ConfusionMatrix",
    "JudgeAgreement",
    "JudgeSubstitution",
    "Level",
    "Measure",
    "RaterAgreement",
    "RaterReport",
    "TrustDecision",
    "alpha",
    "cohen_kappa",
    "item_disagreement",
    "judge_as_rater",
    "judge_trusted",
    "judge_vs_humans",
    "pair_ratings",
    "percent_agreement",
    "rater_agreement",
    "reliability_matrix_to_long",
    "spearman",
]
