"""Accord's agreement engine: pure Python + numpy, no Django.

The agreement statistics take long-format ratings (``units``, ``raters``, ``values``:
equal-length 1-D arrays, one row per rating) because that is how rows come out of the database.
Undefined statistics are returned as ``None`` with a human-readable reason, never NaN.

Judge-first triage (docs/triage.md) works per item: ``uncertainty`` (a verdict's distribution
and confidence, calibration on gold), ``triage`` (the confidence threshold a judge may decide
above, the human queue's order, slices where the judge is confidently wrong), ``overlap``
(adaptive overlap: one more rating or settled) and ``ppi`` (the audit sample and
prediction-powered estimates of a dataset's mean label); ``posterior`` (the posterior stopping
rule), with ``calibration_map`` (a judge's confidence calibrated on gold) and ``rater_model``
(raters' accuracies from gold and agreement, with an item-difficulty covariate).
"""

from agreement._data import LEVELS, Level, reliability_matrix_to_long
from agreement.alpha import AlphaResult, alpha
from agreement.calibration_map import (
    CalibrationMap,
    calibrate_distribution,
    calibration_map_fit,
    judge_landing,
    own_weight_fit,
)
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
from agreement.posterior import (
    PosteriorDecision,
    error_weights,
    label_posterior,
    majority_accuracy,
    overlap_next_posterior,
    rating_likelihood,
)
from agreement.posterior_target import (
    JudgeAloneChoice,
    TargetChoice,
    judge_alone_choose,
    posterior_target_choose,
    reopen_below,
)
from agreement.ppi import MeanEstimate, MeanEstimates, audit_keys, audit_prefix, audit_sample, mean_estimates
from agreement.rater_model import RaterModel, difficulty_covariate, rater_model_fit, shifted_accuracy
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
    "CalibrationMap",
    "ConfusionMatrix",
    "ConsensusRule",
    "JudgeAgreement",
    "JudgeAloneChoice",
    "JudgeSubstitution",
    "Level",
    "MeanEstimate",
    "MeanEstimates",
    "Measure",
    "OverlapDecision",
    "PosteriorDecision",
    "Proportion",
    "RaterAgreement",
    "RaterModel",
    "RaterReport",
    "ReliabilityBin",
    "SliceAudit",
    "TargetChoice",
    "ThresholdChoice",
    "TradeoffPoint",
    "TrustDecision",
    "VerdictUncertainty",
    "alpha",
    "audit_keys",
    "audit_prefix",
    "audit_sample",
    "calibrate_distribution",
    "calibration",
    "calibration_map_fit",
    "cohen_kappa",
    "difficulty_covariate",
    "error_weights",
    "gold_accuracy",
    "item_disagreement",
    "judge_alone_choose",
    "judge_as_rater",
    "judge_landing",
    "judge_trusted",
    "judge_vs_humans",
    "label_posterior",
    "majority_accuracy",
    "mean_estimates",
    "overlap_combine",
    "overlap_next",
    "overlap_next_posterior",
    "own_weight_fit",
    "pair_ratings",
    "percent_agreement",
    "posterior_target_choose",
    "proportion",
    "queue_order",
    "rater_agreement",
    "rater_model_fit",
    "rating_likelihood",
    "reliability_matrix_to_long",
    "reopen_below",
    "shifted_accuracy",
    "slice_audit",
    "spearman",
    "threshold_choose",
    "verdict_uncertainty",
]
