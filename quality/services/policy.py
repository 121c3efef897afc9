"""A project's approval policy: read it, change it (which re-decides the project's items)."""

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import Project
from quality.audit_gold import AUDIT_LABELLERS, audit_review_requests_drop
from quality.models import ApprovalPolicy
from quality.selectors.policy import policy_for
from quality.services.approval import ProjectDecision, project_decide
from quality.services.posterior import (
    posterior_fit_queue,
    posterior_fit_size,
    posterior_fit_state,
    posterior_model_compute,
)
from quality.services.routing import routing_set
from quality.stopping import POSTERIOR, posterior_fit_pending

_SLICE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_POLICY_FIELDS = {
    "majority_threshold": (float, lambda v: 0.5 < v <= 1, "must be a number in (0.5, 1]."),
    "numeric_tolerance": (float, lambda v: 0 <= v <= 1e9, "must be a number ≥ 0."),
    "judge_may_approve": (bool, lambda v: True, "must be true or false."),
    "trust_margin": (float, lambda v: 0 <= v <= 2, "must be a number from 0 to 2."),
    "trust_min_items": (int, lambda v: 1 <= v <= 1_000_000, "must be an integer ≥ 1."),
    "routing": (str, lambda v: v in ("humans_first", "judge_first"), 'must be "humans_first" or "judge_first".'),
    "stopping_rule": (str, lambda v: v in ("agreement", POSTERIOR), 'must be "agreement" or "posterior".'),
    "audit_labelled_by": (str, lambda v: v in AUDIT_LABELLERS, 'must be "people", "minimum" or "reviewer".'),
    "stopping_target": (float, lambda v: 0.5 < v < 1, "must be a probability in (0.5, 1), or null for the fitted one."),
    "slice_by": (
        str,
        lambda v: v == "" or _SLICE_KEY.fullmatch(v) is not None,
        "must be a metadata key (letters, digits, _ and -, at most 64), or empty for no slice check.",
    ),
}


def _is_kind(value: Any, kind: type) -> bool:
    """True and False are not numbers here, and an integer field takes only whole numbers."""
    if kind is str:
        return isinstance(value, str)
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if not isinstance(value, int | float):
        return False
    return kind is float or float(value).is_integer()


@transaction.atomic
def policy_update(*, project: Project, **changes: Any) -> tuple[ApprovalPolicy, ProjectDecision]:
    """Change a project's approval policy, then re-decide its items under the new rules (in the
    background for a large project: see project_decide, whose answer this returns). A first switch
    to the posterior rule on a project too large to fit inside a request queues the fit on a worker
    (``posterior_fit_pending`` is then true of the returned policy until the fit is stored)."""
    policy = ApprovalPolicy.objects.select_for_update().get(pk=policy_for(project=project).pk)
    before = policy.audit_labelled_by
    policy_changes_apply(policy=policy, changes=changes)
    policy.save()
    if policy.audit_labelled_by != before:
        # The audit's requests were made under the other rule: re-deciding makes the ones still due.
        audit_review_requests_drop(item_ids=project.items.filter(audit_rank__isnull=False).values_list("id", flat=True))
    routing_set(policy=policy)
    if posterior_fit_pending(policy=policy) and posterior_fit_state(project_id=project.pk)[0] is None:
        posterior_fit_queue(project=project)  # a large project's first fit (policy_changes_apply)
    return policy, project_decide(project=project)


def policy_changes_apply(*, policy: ApprovalPolicy, changes: dict[str, Any]) -> ApprovalPolicy:
    """Set ``changes`` on ``policy`` in memory (not saved), or raise ValidationError naming every
    bad field and set nothing. Shared by the update and its preview, so both accept the same."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "per_criterion":
            own, own_errors = _per_criterion_clean(policy, value)
            errors.update(own_errors)
            clean[name] = own
            continue
        if name == "stopping_target" and value is None:
            clean[name] = None  # the fitted target
            continue
        if name not in _POLICY_FIELDS:
            errors[name] = ["unknown policy field."]
            continue
        kind, check, message = _POLICY_FIELDS[name]
        if not _is_kind(value, kind) or not check(value):
            errors[name] = [message]
            continue
        clean[name] = kind(value)
    if errors:
        raise ValidationError(errors)
    for name, value in clean.items():
        setattr(policy, name, value)
    # First switch to the posterior rule: a small project's model is fitted now, so the preview
    # shows what saving does. A large one's is fitted on a worker once saved (policy_update): until
    # it is stored the agreement rule decides (quality/stopping.py, posterior_in_force), which is
    # also what its preview shows; a preview never queues work.
    first_switch = policy.stopping_rule == POSTERIOR and not policy.posterior_model
    if first_switch and posterior_fit_size(project=policy.project)[0]:
        policy.posterior_model = posterior_model_compute(project=policy.project, policy=policy)
    return policy


def _per_criterion_clean(policy: ApprovalPolicy, value: Any) -> tuple[dict[str, float], dict[str, list[str]]]:
    """``{key: threshold}`` checked against the project's current rubric: each key a scored
    criterion, each value in the range of the project-wide field it stands in for. Returns the
    clean mapping and the errors, keyed ``per_criterion`` / ``per_criterion.<key>``."""
    if not isinstance(value, dict):
        return {}, {"per_criterion": ["must be an object: criterion key -> number."]}
    kinds = {c.key: c.agreement_level for c in policy.project.rubric_version.criteria.all()}
    errors: dict[str, list[str]] = {}
    clean: dict[str, float] = {}
    for key, number in value.items():
        level = kinds.get(key)
        if level is None:
            why = (
                "not a criterion of the project's rubric." if key not in kinds else "a text criterion has no threshold."
            )
            errors[f"per_criterion.{key}"] = [why]
            continue
        field = "majority_threshold" if level == "nominal" else "numeric_tolerance"
        _, check, message = _POLICY_FIELDS[field]
        if not _is_kind(number, float) or not check(number):
            errors[f"per_criterion.{key}"] = [message]
            continue
        clean[key] = float(number)
    return clean, errors
