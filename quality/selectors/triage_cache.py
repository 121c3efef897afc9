"""The dashboard's triage numbers (the estimate, the judges' calibration, the judge-first
trade-off), kept in the cache until something they are computed from changes.

Why: on a 10,000-item project they cost about 0.5 s of the dashboard's 0.6 s (benchmarks/
triage_pages.py, docs/benchmarks.md), recomputed on every view though a dashboard is mostly
reloaded with nothing changed. The cache key is a fingerprint of everything they read, taken
in one cheap query: the live tallies' write counter (every rating, human or judge, written or
changed), the items' count and latest change (decisions, imports, rejections), the gold's count
and latest change, the policy's last save, the audit's size and seed and the rubric version.
Writes that bypass those (a raw SQL update) show after ``TTL`` at the latest.
"""

import hashlib
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Sum

from annotation.models import Gold, Project
from quality.models import AgreementTally, ApprovalPolicy
from quality.selectors.calibration import judge_calibration
from quality.selectors.estimate import project_estimate
from quality.selectors.routing import routing_tradeoff

TTL = 600  # seconds: the longest a change the fingerprint misses stays unseen


def triage_fingerprint(*, project: Project, policy: ApprovalPolicy) -> str:
    """A short text that changes whenever the triage numbers could."""
    items = project.items.aggregate(n=Count("id"), last=Max("updated_at"))
    gold = Gold.objects.filter(item__project=project).aggregate(n=Count("id"), last=Max("updated_at"))
    writes = AgreementTally.objects.filter(project=project).aggregate(w=Sum("writes"))["w"]
    parts = (
        project.rubric_version_id, project.audit_size, project.audit_seed, policy.updated_at,
        writes, items["n"], items["last"], gold["n"], gold["last"],
    )  # fmt: skip
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]


def triage_numbers(*, project: Project, policy: ApprovalPolicy) -> dict[str, Any]:
    """``{"estimate", "calibration", "tradeoff"}`` for the dashboard, from the cache when nothing
    changed since they were computed."""
    key = f"triage-numbers:{project.pk}:{triage_fingerprint(project=project, policy=policy)}"
    found = cache.get(key)
    if found is not None:
        return found
    numbers = {
        "estimate": project_estimate(project=project),
        "calibration": judge_calibration(project=project),
        "tradeoff": routing_tradeoff(project=project, policy=policy),
    }
    cache.set(key, numbers, TTL)
    return numbers
