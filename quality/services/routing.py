"""Judge-first routing: choose the confidence threshold on gold, and switch a project to it."""

from django.db import transaction

from annotation.models import Project
from quality.models import ApprovalPolicy
from quality.selectors.policy import policy_for
from quality.selectors.routing import routing_judge, routing_tradeoff
from quality.services.approval import JUDGE_FIRST, ProjectDecision, project_decide


def routing_threshold_choose(*, project: Project) -> tuple[ApprovalPolicy, dict, ProjectDecision]:
    """Choose the routing judge and the threshold at which its accuracy on the gold items it keeps
    is at least the human-human agreement (with 95 % confidence: agreement.threshold_choose),
    store them on the policy and re-decide the project's items. Returns the policy, the trade-off
    (routing_tradeoff) and what project_decide did. A threshold of None keeps nothing for the judge.
    With ``policy.slice_by``, the slices where the judge is confidently wrong on that gold are left
    out of the choice and stored with it (``routing_slices``): the judge decides none of their items.
    """
    with transaction.atomic():
        policy = ApprovalPolicy.objects.select_for_update().get(pk=policy_for(project=project).pk)
        policy.routing_rater = None  # choose afresh: the best judge may have changed
        judge = routing_judge(project=project, policy=policy)
        tradeoff = routing_tradeoff(project=project, policy=policy, judge=judge)
        choice = tradeoff["choice"] or {}
        policy.routing_rater = judge
        policy.routing_threshold = choice.get("threshold")
        policy.routing_bar = tradeoff["bar"]
        # The key is stored with its flags: a later change of slice_by waits for the next choice.
        checked = {k: tradeoff[k] for k in ("slice_by", "slices", "excluded_slices")}
        policy.routing_slices = checked if tradeoff["slice_by"] else {}
        policy.save()
    return policy, tradeoff, project_decide(project=project)


def routing_set(*, policy: ApprovalPolicy) -> None:
    """For policy_update, inside its transaction: the queue orders by confidence under judge first."""
    project = policy.project
    wanted = policy.routing == JUDGE_FIRST
    if project.queue_by_confidence != wanted:
        project.queue_by_confidence = wanted
        Project.objects.filter(pk=project.pk).update(queue_by_confidence=wanted)
