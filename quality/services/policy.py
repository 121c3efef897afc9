"""A project's approval policy: read it, change it (which re-decides the project's items)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import Project
from quality.models import ApprovalPolicy
from quality.selectors.policy import policy_for
from quality.services.approval import ProjectDecision, project_decide
from quality.services.routing import routing_set

_POLICY_FIELDS = {
    "majority_threshold": (float, lambda v: 0.5 < v <= 1, "must be a number in (0.5, 1]."),
    "numeric_tolerance": (float, lambda v: 0 <= v <= 1e9, "must be a number ≥ 0."),
    "judge_may_approve": (bool, lambda v: True, "must be true or false."),
    "trust_margin": (float, lambda v: 0 <= v <= 2, "must be a number from 0 to 2."),
    "trust_min_items": (int, lambda v: 1 <= v <= 1_000_000, "must be an integer ≥ 1."),
    "routing": (str, lambda v: v in ("humans_first", "judge_first"), 'must be "humans_first" or "judge_first".'),
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
    background for a large project: see project_decide, whose answer this returns)."""
    policy = ApprovalPolicy.objects.select_for_update().get(pk=policy_for(project=project).pk)
    policy_changes_apply(policy=policy, changes=changes)
    policy.save()
    routing_set(policy=policy)
    return policy, project_decide(project=project)


def policy_changes_apply(*, policy: ApprovalPolicy, changes: dict[str, Any]) -> ApprovalPolicy:
    """Set ``changes`` on ``policy`` in memory (not saved), or raise ValidationError naming every
    bad field and set nothing. Shared by the update and its preview, so both accept the same."""
    errors = {}
    clean = {}
    for name, value in changes.items():
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
    return policy
