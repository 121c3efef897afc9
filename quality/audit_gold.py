"""The audit sample gets gold: once people have decided an audited item, a reviewer is asked for
its gold (a ReviewRequest), instead of the item being approved on the raters' consensus; with
``audit_labelled_by = "minimum"``, as soon as the project's minimum overlap of people has rated it
(one person under adaptive overlap 1-N: the raters are still measured against gold, at about half
the cost); or, when the policy says a reviewer labels the audit alone (``"reviewer"``), at once.

Why: everything the audit is for needs gold on a uniform sample (the judge-first threshold and
the judge's calibration, the raters' accuracies of the posterior rule, the estimate's interval),
and people's consensus is not gold. People still rate audited items first (the queue's audit
pass), so the audit also measures the raters against gold; the consensus they reached is kept on
the item for the reviewer. Used by the approval service (services/approval.py), whose preview
runs the same rule, and undone by the audit draw for items that leave the audit.
"""

from collections.abc import Callable, Iterable
from typing import Any

from annotation.models import ApprovedBy, Item, ItemStatus
from quality.models import ReviewRequest

AUDIT_REASON = "audit sample: a reviewer's gold is needed"
AUDIT_LABELLERS = ("people", "minimum", "reviewer")  # ApprovalPolicy.audit_labelled_by


def audit_decide(item: Item, decide: Callable[..., bool]) -> Callable[..., bool]:
    """``decide`` for ``item``, except that an audited item the raters' consensus would approve
    goes to review instead (with that consensus). Call only for items without gold."""
    if item.audit_rank is None:
        return decide

    def held(target: Item, *, status: str, approved_by: str = "", **kwargs: Any) -> bool:
        if status == ItemStatus.APPROVED and approved_by == ApprovedBy.CONSENSUS:
            return decide(target, status=ItemStatus.NEEDS_REVIEW, consensus=kwargs.get("consensus"),
                          disagreement=kwargs.get("disagreement"), reason=AUDIT_REASON)  # fmt: skip
        return decide(target, status=status, approved_by=approved_by, **kwargs)

    return held


def audit_to_reviewer_only(item: Item, policy: Any) -> bool:
    """Whether ``item`` is audited under a policy whose audit a reviewer labels alone: it then goes
    to review at once, without people's ratings."""
    return item.audit_rank is not None and getattr(policy, "audit_labelled_by", "people") == "reviewer"


def audit_minimum_reached(item: Item, policy: Any, human_ratings: int) -> bool:
    """Whether ``item`` is audited under a policy whose audit people label only up to the project's
    minimum overlap, and that many have rated it: it then goes to review, whatever the stopping rule."""
    if item.audit_rank is None or getattr(policy, "audit_labelled_by", "people") != "minimum":
        return False
    project = item.project
    return human_ratings >= (project.overlap_min or project.annotations_per_item)


def audit_review_requests_make(*, items: Iterable[Item]) -> int:
    """A review request for each audited item held for gold that has none yet; returns how many."""
    wanted = [i for i in items if i.audit_rank is not None and i.decision_reason == AUDIT_REASON]
    if not wanted:
        return 0  # the common case, after every rating: no queryset to build
    have = set(ReviewRequest.objects.filter(item__in=wanted).values_list("item_id", flat=True))
    made = ReviewRequest.objects.bulk_create(
        [ReviewRequest(item=i, reason=AUDIT_REASON) for i in wanted if i.pk not in have]
    )
    return len(made)


def audit_review_requests_drop(*, item_ids: Iterable[int]) -> int:
    """Withdraw the audit's review requests of items that left the audit (other requests stay)."""
    return ReviewRequest.objects.filter(item_id__in=list(item_ids), reason=AUDIT_REASON).delete()[0]
