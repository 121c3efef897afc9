"""Is a judge's confidence what it says? Per judge version, on the project's gold items it was not
shown as examples: expected calibration error, Brier score and the reliability diagram's bins
(the maths: agreement.calibration; the confidences: Rating.confidence and Rating.distribution,
written with a judge's verdicts by judges/uncertainty.py).

"Correct" is the event the confidence is the probability of: per criterion, the judge's value
equals gold's; for the verdict as a whole (``Rating.confidence``), every criterion gold has
equals the judge's.
"""

from typing import Any

import agreement
from annotation.models import Gold, Project, RaterKind, Rating
from rubrics.scales import point_label

MIN_ITEMS = 20  # below this, ECE says more about the sample than about the judge (docs/triage.md)


def _criterion_rows(criteria, values: dict, gold: dict, distribution: dict) -> dict[str, tuple[float, bool]]:
    out = {}
    for c in criteria:
        value, truth, probs = values.get(c.key), gold.get(c.key), distribution.get(c.key)
        if value is None or truth is None or not probs:
            continue
        out[c.key] = (float(probs.get(point_label(c.scale, value), 0.0)), value == truth)
    return out


def judge_calibration(*, project: Project, bins: int = 10) -> list[dict[str, Any]]:
    """One entry per judge version with confidences on held-out gold: the verdict's calibration
    (``overall``) and each criterion's, JSON-safe. Items the judge saw as few-shot examples are
    left out: it would be graded on its own answer key."""
    version = project.rubric_version
    criteria = [c for c in version.criteria.all() if c.agreement_level is not None]
    golds = dict(Gold.objects.filter(item__project=project, rubric_version=version).values_list("item_id", "values"))
    if not golds:
        return []
    rows = (
        Rating.objects.filter(
            item_id__in=list(golds), rubric_version=version, rater__kind=RaterKind.JUDGE, confidence__isnull=False
        )
        .values_list(
            "rater_id", "rater__name", "rater__shown_item_ids", "item_id", "values", "distribution", "confidence"
        )
        .order_by("rater_id", "item_id")
    )
    judges: dict[int, dict] = {}
    for rater_id, name, shown, item_id, values, distribution, confidence in rows:
        if item_id in set(shown or ()):
            continue
        entry = judges.setdefault(rater_id, {"rater": rater_id, "name": name, "overall": ([], []), "criteria": {}})
        gold = golds[item_id]
        keys = [c.key for c in criteria if gold.get(c.key) is not None]
        entry["overall"][0].append(float(confidence))
        entry["overall"][1].append(all(values.get(k) == gold[k] for k in keys))
        for key, (conf, hit) in _criterion_rows(criteria, values, gold, distribution or {}).items():
            pair = entry["criteria"].setdefault(key, ([], []))
            pair[0].append(conf)
            pair[1].append(hit)
    out = []
    for entry in judges.values():
        conf, hit = entry["overall"]
        result = {
            "rater": entry["rater"],
            "name": entry["name"],
            "enough_items": len(conf) >= MIN_ITEMS,
            "overall": agreement.calibration(conf, hit, bins=bins).as_dict(),
            "criteria": {
                key: agreement.calibration(c, h, bins=bins).as_dict() for key, (c, h) in entry["criteria"].items()
            },
        }
        out.append(result)
    return out
