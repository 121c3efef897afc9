"""The judges page's run estimates, kept in the cache until something they read changes.

Why: each estimate counts the items a run would take, draws a sample of them, builds their
prompts (few-shot pool included) and reads the version's past answers: about nine queries, two
selections per judge, on every view of the page, so the page grew by some eighteen queries per
judge (tests/judges/test_judges_queries.py). The cache key is a fingerprint of what they read,
taken in one query whatever the number of judges: the project's rubric version and guidelines,
its items' count and latest change (imports, decisions), the live tallies' write counter (every
rating, human or judge), gold's count and latest change (the few-shot pool), and the count and
latest id of the verdicts and samples of the project's runs (what "unjudged" leaves out, the
past output lengths). Each estimate is filed under its judge, version and prices, so adding or
changing one judge computes only that judge's. Writes that bypass those (a raw SQL update, a
draft rubric edited in place) show after ``TTL`` at the latest. As for quality/selectors/
triage_cache.py, the figures are an estimate from a random sample: a cached one is as good.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.core.cache import cache
from django.db.models import F, Func, OuterRef, QuerySet, Subquery

from annotation.models import Gold, Item, Project
from judges.models import Judge, JudgeSample, JudgeVerdict, JudgeVersion
from judges.services.estimates import RunEstimate, judge_run_estimate
from quality.models import AgreementTally

TTL = 600  # seconds: the longest a change the fingerprint misses stays unseen


def _scalar(queryset: QuerySet, function: str, field: str) -> Subquery:
    """``function(field)`` over the rows of ``queryset`` (filtered on the outer project), as a
    subquery: a plain Func is no aggregate to Django, so it adds no GROUP BY."""
    return Subquery(queryset.order_by().annotate(v=Func(F(field), function=function)).values("v")[:1])


def estimates_fingerprint(*, project: Project) -> str:
    """A short text that changes whenever an estimate of a run in ``project`` could. One query."""
    outer = OuterRef("pk")
    items = Item.objects.filter(project=outer)
    gold = Gold.objects.filter(item__project=outer)
    verdicts = JudgeVerdict.objects.filter(run__project=outer)
    samples = JudgeSample.objects.filter(run__project=outer)
    figures = {
        "fp_items": _scalar(items, "COUNT", "id"),
        "fp_items_last": _scalar(items, "MAX", "updated_at"),
        "fp_writes": _scalar(AgreementTally.objects.filter(project=outer), "SUM", "writes"),
        "fp_gold": _scalar(gold, "COUNT", "id"),
        "fp_gold_last": _scalar(gold, "MAX", "updated_at"),
        "fp_verdicts": _scalar(verdicts, "COUNT", "id"),
        "fp_verdicts_last": _scalar(verdicts, "MAX", "id"),
        "fp_samples": _scalar(samples, "COUNT", "id"),
        "fp_samples_last": _scalar(samples, "MAX", "id"),
    }
    row = Project.objects.filter(pk=project.pk).values("rubric_version_id", "guidelines", **figures).get()
    return hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest()[:24]


def judges_run_estimates(
    *, project: Project, judges: Sequence[tuple[Judge, JudgeVersion]], selections: Sequence[str]
) -> dict[tuple[int, str], RunEstimate]:
    """``{(judge id, selection): estimate}`` of a run of each judge's current version (given with
    it) over each selection, from the cache when nothing they read changed since."""
    if not judges:  # nothing to estimate (a reviewer's page): not even the fingerprint
        return {}
    key = f"judge-estimates:{project.pk}:{estimates_fingerprint(project=project)}"
    stored: dict[tuple, RunEstimate] = cache.get(key) or {}

    def filed(judge: Judge, version: JudgeVersion, selection: str) -> tuple:
        return (judge.pk, version.pk, judge.price_input_per_mtok, judge.price_output_per_mtok, selection)

    missing = [(j, v, s) for j, v in judges for s in selections if filed(j, v, s) not in stored]
    for judge, version, selection in missing:
        estimate = judge_run_estimate(project=project, judge=judge, items=selection, version=version)
        stored[filed(judge, version, selection)] = estimate
    if missing:
        cache.set(key, stored, TTL)
    return {(j.pk, s): stored[filed(j, v, s)] for j, v in judges for s in selections}
