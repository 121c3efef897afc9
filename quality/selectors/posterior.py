"""What the posterior stopping rule's stored fit says, for a manager to read on the policy page:
when it was fitted, on how much, how accurate it found the raters, and the target it chose
(quality/services/posterior.py writes the fit; docs/triage.md, section 3b)."""

from datetime import datetime
from statistics import median
from typing import Any

from annotation.models import Rater
from quality.models import ApprovalPolicy
from quality.services.posterior import posterior_fit_state, posterior_refit_at
from quality.stopping import posterior_fit_pending, posterior_in_force


def posterior_fit_summary(*, policy: ApprovalPolicy) -> dict[str, Any] | None:
    """The stored fit in words and numbers, or None before the first fit. Per criterion: the
    gold items the judge was calibrated on, the ratings the raters were measured on, the lowest,
    median and highest rater accuracy, the target in force (the manager's, else the fitted one), and
    how much of where the judge's errors land is the judge's own distribution (the rest: the raters')."""
    model = policy.posterior_model or {}
    if not model.get("fitted_at"):
        return None
    judge = Rater.objects.filter(pk=model.get("judge")).first() if model.get("judge") else None
    criteria = []
    for key, fit in (model.get("criteria") or {}).items():
        accuracies = sorted(float(a) for a in (fit.get("accuracy") or {}).values())
        criteria.append(
            {
                "key": key,
                "calibration_items": fit.get("calibration_items", 0),
                "calibrated": bool(fit.get("calibration")),
                "ratings": fit.get("ratings"),
                "raters": len(accuracies),
                "accuracy_low": accuracies[0] if accuracies else None,
                "accuracy_median": median(accuracies) if accuracies else None,
                "accuracy_high": accuracies[-1] if accuracies else None,
                "pooled": fit.get("pooled"),
                "fitted_target": fit.get("target"),
                "target_without_judge": fit.get("target_without_judge"),
                "expected_accuracy": fit.get("expected_accuracy"),
                "difficulty_slope": fit.get("difficulty_slope"),
                "judge_alone_from": fit.get("judge_alone_from"),
                "judge_own_weight": fit.get("judge_own_weight"),
                "reopen_below": fit.get("reopen_below"),
                # Fits stored before the expected accuracy have none: the page then omits it.
                "excluded_slices": [
                    {"expected_accuracy": None, **s} for s in fit.get("slices") or () if s.get("overconfident")
                ],
            }
        )
    return {
        "fitted_at": datetime.fromisoformat(model["fitted_at"]),
        "judge": judge,
        "gold_items": model.get("gold_items"),
        "human_ratings": model.get("human_ratings"),
        "stale": model.get("rubric_version") != policy.project.rubric_version_id,
        "target": policy.stopping_target,
        "slice_by": model.get("slice_by") or "",
        "criteria": criteria,
        "refit_at": posterior_refit_at(model),
    }


def posterior_fit_status(*, policy: ApprovalPolicy) -> dict[str, Any]:
    """Which stopping rule decides the items now and whether a fit is on its way, for the policy's
    JSON and page: ``stopping_rule_in_force`` is "agreement" while the posterior rule is chosen but
    not fitted yet (``fit_pending``; a large project's first fit runs on a worker);
    ``fit_running``: a fit queued on a worker has not finished; ``fit_failed``: why the last
    queued fit failed ("" when it did not)."""
    queued_at, failed = posterior_fit_state(project_id=policy.project_id)
    return {
        "stopping_rule_in_force": "posterior" if posterior_in_force(policy) else "agreement",
        "fit_pending": posterior_fit_pending(policy=policy),
        "fit_running": queued_at is not None,
        "fit_queued_at": queued_at,
        "fit_failed": failed,
    }
