"""Judge-first routing, measured on gold: how much the judge could keep at what accuracy, and the
bar it must reach (docs/triage.md, section 2; the maths: agreement.threshold_choose).

The bar is the human-human agreement: the share of pairs of people who rated the same item
(under the project's rubric version) and agree on every criterion. "Correct" for the judge is
the same event against gold: its verdict equals gold on every criterion gold has, so the two
numbers compare like with like. The judge's confidence is ``Rating.confidence`` (the least sure
criterion's probability of the value given, judges/uncertainty.py).
"""

from itertools import combinations
from typing import Any

import numpy as np
from django.db.models import Count

import agreement
from annotation.models import Gold, Item, Project, Rater, RaterKind, Rating
from quality.models import ApprovalPolicy, RaterTrust


def _same(a: dict, b: dict, keys: list[str]) -> bool:
    return all(a.get(k) == b.get(k) for k in keys)


def human_agreement(*, project: Project) -> tuple[float | None, int]:
    """Share of pairs of human ratings of one item that agree on every criterion, and the pairs."""
    version = project.rubric_version
    keys = [c.key for c in version.criteria.all() if c.agreement_level is not None]
    by_item: dict[int, list[dict]] = {}
    for item_id, values in Rating.objects.filter(
        item__project=project, rubric_version=version, rater__kind=RaterKind.HUMAN
    ).values_list("item_id", "values"):
        by_item.setdefault(item_id, []).append(values)
    pairs = agree = 0
    for ratings in by_item.values():
        for a, b in combinations(ratings, 2):
            pairs += 1
            agree += _same(a, b, keys)
    return (agree / pairs if pairs else None), pairs


def routing_judge(*, project: Project, policy: ApprovalPolicy) -> Rater | None:
    """The judge version routing uses: the policy's, else the trusted one with the most verdicts,
    else the one with the most verdicts carrying a confidence."""
    if policy.routing_rater_id is not None:
        return policy.routing_rater
    version = project.rubric_version
    rated = (
        Rating.objects.filter(
            item__project=project, rubric_version=version, rater__kind=RaterKind.JUDGE, confidence__isnull=False
        )
        .values("rater_id")
        .annotate(n=Count("id"))
        .order_by("-n", "rater_id")
    )
    counts = [(r["rater_id"], r["n"]) for r in rated]
    trusted = set(
        RaterTrust.objects.filter(project=project, rubric_version=version, trusted=True).values_list(
            "rater_id", flat=True
        )
    )
    best = next((r for r, _ in counts if r in trusted), counts[0][0] if counts else None)
    return None if best is None else Rater.objects.get(pk=best)


def _gold_sample(project: Project) -> tuple[dict[int, dict], str]:
    """The gold the threshold is chosen on, and where it comes from. The guarantee of
    threshold_choose needs a uniform random sample of the items: the longest prefix of the audit
    (in draw order) whose items all have gold ("audit"). Without one, every gold item ("all"),
    which is mostly the items people disagreed on: harder than the rest, so the choice is then
    only indicative (the page and the API say so)."""
    golds = Gold.objects.filter(item__project=project, rubric_version=project.rubric_version)
    audited = list(
        Item.objects.filter(project=project, audit_rank__isnull=False)
        .order_by("audit_rank")
        .values_list("id", flat=True)
    )
    audited_gold = dict(golds.filter(item_id__in=audited).values_list("item_id", "values"))
    prefix = list(agreement.audit_prefix(np.asarray(audited, dtype=np.int64), audited_gold))
    if prefix:
        return {int(i): audited_gold[int(i)] for i in prefix}, "audit"
    return dict(golds.values_list("item_id", "values")), "all"


def routing_tradeoff(*, project: Project, policy: ApprovalPolicy, judge: Rater | None = None) -> dict[str, Any]:
    """The judge's verdicts on held-out gold (not its few-shot examples): for each candidate
    threshold, the share of gold it keeps and its accuracy there, and the threshold
    ``agreement.threshold_choose`` picks for the human-human bar. JSON-safe."""
    judge = judge or routing_judge(project=project, policy=policy)
    bar, pairs = human_agreement(project=project)
    answer: dict[str, Any] = {
        "judge": None if judge is None else {"rater": judge.pk, "name": judge.name},
        "bar": bar,
        "bar_pairs": pairs,
        "gold_items": 0,
        "gold_source": None,
        "choice": None,
        "reason": None,
    }
    if judge is None:
        answer["reason"] = "no judge verdict with a confidence yet"
        return answer
    version = project.rubric_version
    keys = [c.key for c in version.criteria.all() if c.agreement_level is not None]
    golds, answer["gold_source"] = _gold_sample(project)
    shown = set(judge.shown_item_ids or ())
    conf, hit = [], []
    for item_id, values, confidence in Rating.objects.filter(
        rater=judge, rubric_version=version, item_id__in=list(golds), confidence__isnull=False
    ).values_list("item_id", "values", "confidence"):
        if item_id in shown:
            continue
        gold = golds[item_id]
        conf.append(confidence)
        hit.append(_same(values, gold, [k for k in keys if gold.get(k) is not None]))
    answer["gold_items"] = len(conf)
    if bar is None:
        answer["reason"] = "no item has two human ratings yet: no human-human agreement to match"
    elif not conf:
        answer["reason"] = "no gold item has a verdict of this judge"
    elif bar >= 1.0:
        # No finite gold shows an accuracy of 1 with confidence: the judge keeps nothing (and the
        # dashboard must not fail on a project whose few pairs of people all agree).
        answer["reason"] = "the people agree on every pair so far: no judge can be shown on finite gold to match that"
    else:
        answer["choice"] = agreement.threshold_choose(conf, hit, target=bar).as_dict()
    return answer
