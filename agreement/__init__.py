"""Accord's agreement engine: pure Python + numpy, no Django.

The agreement statistics take long-format ratings (``units``, ``raters``, ``values``:
equal-length 1-D arrays, one row per rating) because that is how rows come out of the database.
Undefined statistics are returned as ``None`` with a human-readable reason, never NaN.

Judge-first triage (docs/triage.md) works per item: ``uncertainty`` (a verdict's distribution
and confidence, calibration on gold), ``triage`` (the confidence threshold a judge may decide
above, the human queue's order, slices where the judge is confidently wrong), ``overlap``
(adaptive overlap: one more rating or settled) and ``ppi`` (the audit sample and
prediction-powered estimates of a dataset's mean label).
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
from agreement.overlap import ConsensusRule, OverlapDecision, overlap_combine, overlap_next
from agreement.pairwise import Measure, cohen_kappa, pair_ratings, percent_agreement, spearman
from agreement.ppi import MeanEstimate, MeanEstimates, audit_keys, audit_prefix, audit_sample, mean_estimates
from agreement.raters import RaterAgreement, RaterReport, rater_agreement
from agreement.triage import (
    Proportion,
    SliceAudit,
    ThresholdChoice,
    TradeoffPoint,
    gold_accuracy,
    proportion,
    queue_order,
    slice_audit,
    threshold_choose,
)
from agreement.uncertainty import Calibration, ReliabilityBin, VerdictUncertainty, calibration, verdict_uncertainty

__all__ = [
    "LEVELS",
    "AlphaResult",
    "Calibration",
    "ConfusionMatrix",
    "ConsensusRule",
    "JudgeAgreement",
    "JudgeSubstitution",
    "Level",
    "MeanEstimate",
    "MeanEstimates",
    "Measure",
    "OverlapDecision",
    "Proportion",
    "RaterAgreement",
    "RaterReport",
    "ReliabilityBin",
    "SliceAudit",
    "ThresholdChoice",
    "TradeoffPoint",
    "TrustDecision",
    "VerdictUncertainty",
    "alpha",
    "audit_keys",
    "audit_prefix",
    "audit_sample",
    "calibration",
    "cohen_kappa",
    "gold_accuracy",
    "item_disagreement",
    "judge_as_rater",
    "judge_trusted",
    "judge_vs_humans",
    "mean_estimates",
    "overlap_combine",
    "overlap_next",
    "pair_ratings",
    "percent_agreement",
    "proportion",
    "queue_order",
    "rater_agreement",
    "reliability_matrix_to_long",
    "slice_audit",
    "spearman",
    "threshold_choose",
    "verdict_uncertainty",
]
