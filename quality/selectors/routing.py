"""Judge-first routing, measured on gold: how much the judge could keep at what accuracy, and the
bar it must reach (docs/triage.md, section 2; the maths: agreement.threshold_choose).

The bar is the human-human agreement: the share of pairs of people who rated the same item
(under the project's rubric version) and agree on every criterion. "Correct" for the judge is
the same event against gold: its verdict equals gold on every criterion gold has, so the two
numbers compare like with like. The judge's confidence is ``Rating.confidence`` (the least sure
criterion's probability of the value given, judges/uncertainty.py).

With a slice key (``ApprovalPolicy.slice_by``), the same gold is first audited per slice
(``agreement.slice_audit``, as the posterior fit does: services/posterior.py); the slices where
the judge is confidently wrong are left out of the curve and the choice, and the approval rule
never lets the judge decide their items alone (``routing_slice_excluded``).
"""

from itertools import combinations
from typing import Any

import numpy as np
from django.db.models import Count

import agreement
from annotation.models import Gold, Item, Project, Rater, RaterKind, Rating
from quality.models import ApprovalPolicy, RaterTrust
from quality.stopping import in_flagged_slice, item_slice, slices_flag


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


def _slice_check(
    *, ids: list[int], conf: list[float], hit: list[bool], key: str, bar: float | None
) -> tuple[list[float], list[bool], list[dict], list]:
    """``conf`` and ``hit`` of the gold items ``ids`` outside the slices (under ``key``) where
    ``agreement.slice_audit`` finds the judge overconfident; also the audit per slice and the
    flagged slices. Without a key, everything is kept and nothing audited."""
    if not key or not ids:
        return conf, hit, [], []
    metadata = dict(Item.objects.filter(pk__in=ids).values_list("id", "metadata"))
    keep, report, flagged = slices_flag([item_slice(metadata.get(i), key) for i in ids], hit, conf, target=bar)
    return [conf[n] for n in keep], [hit[n] for n in keep], report, flagged


def routing_slice_excluded(*, item: Item, policy: ApprovalPolicy) -> bool:
    """Whether ``item`` is in a slice flagged when the routing threshold was chosen (by the key
    stored with it, ``ApprovalPolicy.routing_slices``): there the judge's confidence was not borne
    out on gold, so reaching the threshold says nothing and people decide the item."""
    stored = policy.routing_slices or {}
    return in_flagged_slice(item, stored.get("slice_by"), stored.get("excluded_slices"))


def routing_tradeoff(*, project: Project, policy: ApprovalPolicy, judge: Rater | None = None) -> dict[str, Any]:
    """The judge's verdicts on held-out gold (not its few-shot examples): for each candidate
    threshold, the share of gold it keeps and its accuracy there, and the threshold
    ``agreement.threshold_choose`` picks for the human-human bar. With ``policy.slice_by``, also
    ``slices`` (each slice's accuracy on that gold against its mean confidence) and
    ``excluded_slices`` (the overconfident ones, left out of the curve; ``gold_items`` counts the
    gold the curve is drawn on). JSON-safe."""
    judge = judge or routing_judge(project=project, policy=policy)
    bar, pairs = human_agreement(project=project)
    answer: dict[str, Any] = {
        "judge": None if judge is None else {"rater": judge.pk, "name": judge.name},
        "bar": bar,
        "bar_pairs": pairs,
        "gold_items": 0,
        "gold_source": None,
        "slice_by": policy.slice_by,
        "slices": [],
        "excluded_slices": [],
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
    ids, conf, hit = [], [], []
    for item_id, values, confidence in Rating.objects.filter(
        rater=judge, rubric_version=version, item_id__in=list(golds), confidence__isnull=False
    ).values_list("item_id", "values", "confidence"):
        if item_id in shown:
            continue
        gold = golds[item_id]
        ids.append(item_id)
        conf.append(confidence)
        hit.append(_same(values, gold, [k for k in keys if gold.get(k) is not None]))
    conf, hit, answer["slices"], answer["excluded_slices"] = _slice_check(
        ids=ids, conf=conf, hit=hit, key=policy.slice_by, bar=bar
    )
    answer["gold_items"] = len(conf)
    if bar is None:
        answer["reason"] = "no item has two human ratings yet: no human-human agreement to match"
    elif not ids:
        answer["reason"] = "no gold item has a verdict of this judge"
    elif not conf:
        answer["reason"] = "every gold item is in a slice the judge is confidently wrong on"
    elif bar >= 1.0:
        # No finite gold shows an accuracy of 1 with confidence: the judge keeps nothing (and the
        # dashboard must not fail on a project whose few pairs of people all agree).
        answer["reason"] = "the people agree on every pair so far: no judge can be shown on finite gold to match that"
    else:
        answer["choice"] = agreement.threshold_choose(conf, hit, target=bar).as_dict()
    return answer
