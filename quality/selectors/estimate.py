"""How good is the dataset: the share of items that meet the rubric and each criterion's mean,
with 95 % intervals, from a judge's verdicts on every item and people's labels on the audit
sample (prediction-powered inference; the maths is agreement/ppi.py, the policy docs/triage.md).

Four estimates per quantity, side by side: PPI++ (the one to quote), PPI, human-only (the
audit alone) and judge-only (naive: as if the judge were right, which nothing checks).

What counts as a human label on an audited item: the values people decided it with, a
reviewer's gold or the consensus of agreeing raters (audited items are never decided by a
judge); an explicit rejection counts as "not accepted". Only the longest labelled prefix of the
audit's draw order is used, because a prefix is a uniform sample and "whichever audited items
happen to be done" is not (hard items take longer).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Count

import agreement
from annotation.models import ApprovedBy, Item, ItemStatus, Project, Rater, RaterKind, Rating
from quality.selectors import predictions
from rubrics.gates import gates_of
from rubrics.scales import ScaleKind, value_code

_NUMERIC = (ScaleKind.ORDINAL, ScaleKind.INTERVAL, ScaleKind.RATIO)


@dataclass(frozen=True)
class Quantity:
    """One mean to estimate: ``value(values)`` codes a label or a verdict as a number."""

    key: str
    title: str
    kind: str  # "share" (a mean of 0/1) or "mean"
    low: float  # the axis a chart draws it on
    high: float
    value: Callable[[dict], float | None]
    fallback: float  # the prediction for an item without a verdict: fixed, never left out
    # The judge's prediction on a verdict (alias ``r``) as SQL, per database vendor
    # (quality/selectors/predictions.py): soft where the verdict has a distribution.
    prediction: Callable[[str], predictions.SqlPart]
    # The smallest difference two labels can show (agreement.mean_estimates' ``resolution``):
    # 1 for a share or an ordinal score, an interval scale's step; None where labels are continuous.
    resolution: float | None = 1.0


def _share(test: Callable[[Any], bool], key: str) -> Callable[[dict], float | None]:
    def value(values: dict) -> float | None:
        v = values.get(key)
        return None if v is None else float(test(v))

    return value


def quantities_for(*, project: Project, at_least: tuple[str, float] | None = None) -> list[Quantity]:
    """What the estimate covers: the share accepted (rubrics with acceptance gates), each binary
    criterion's share of yes, each numeric criterion's mean, and optionally the share of items
    whose ``criterion`` is at or above ``level``. Raises KeyError for an unknown criterion."""
    criteria = list(project.rubric_version.criteria.all())
    gates = gates_of(project.rubric_version)
    out: list[Quantity] = []
    if gates:

        def accepted(values: dict) -> float | None:
            if values.get("_rejected"):
                return 0.0
            found = [values.get(k) for k in gates.keys]
            return None if any(v is None for v in found) else float(all(v is True for v in found))

        out.append(
            Quantity(
                "accepted",
                "Share accepted",
                "share",
                0.0,
                1.0,
                accepted,
                0.5,
                lambda vendor: predictions.hard_all_true(gates.keys, vendor),
            )
        )
    for c in criteria:
        scale = c.scale
        if c.kind == ScaleKind.BINARY:

            def p_yes(vendor: str, key: str = c.key, scale: dict = scale) -> predictions.SqlPart:
                return predictions.either(predictions.soft_yes(key, vendor), predictions.hard(scale, key, vendor))

            out.append(Quantity(c.key, f"{c.title}: share yes", "share", 0.0, 1.0, _share(bool, c.key), 0.5, p_yes))
        elif c.kind in _NUMERIC and "max" in scale:
            low, high = float(scale.get("min", 0)), float(scale["max"])

            def mean(values: dict, key: str = c.key, scale: dict = scale) -> float | None:
                return value_code(scale, values.get(key))

            def expected(vendor: str, key: str = c.key, scale: dict = scale) -> predictions.SqlPart:
                return predictions.either(predictions.soft_sum(key, vendor), predictions.hard(scale, key, vendor))

            step = 1.0 if c.kind == ScaleKind.ORDINAL else scale.get("step")
            out.append(Quantity(c.key, f"{c.title}: mean", "mean", low, high, mean, (low + high) / 2, expected, step))
    if at_least is not None:
        key, level = at_least
        criterion = next((c for c in criteria if c.key == key and c.kind in _NUMERIC), None)
        if criterion is None:
            raise KeyError(key)
        out.append(
            Quantity(
                f"{key}>={level:g}",
                f"{criterion.title} at or above {level:g}",
                "share",
                0.0,
                1.0,
                _share(lambda v, level=level: float(v) >= level, key),
                0.5,
                lambda vendor, scale=criterion.scale: predictions.either(
                    predictions.soft_sum(key, vendor, at_least=level),
                    predictions.hard_at_least(scale, key, level, vendor),
                ),
            )
        )
    return out


def judges_of(*, project: Project) -> list[dict]:
    """The machine raters with verdicts under the project's rubric version, most verdicts first."""
    rows = (
        Rating.objects.filter(item__project=project, rubric_version=project.rubric_version, rater__kind=RaterKind.JUDGE)
        .values("rater_id", "rater__name")
        .annotate(n=Count("id"))
        .order_by("-n", "rater_id")
    )
    return [{"rater": r["rater_id"], "name": r["rater__name"], "verdicts": r["n"]} for r in rows]


def _human_label(status: str, approved_by: str, consensus: dict) -> dict | None:
    if status == ItemStatus.APPROVED and approved_by in (ApprovedBy.CONSENSUS, ApprovedBy.REVIEWER):
        return consensus or {}
    if status == ItemStatus.REJECTED and approved_by == "":
        return {**(consensus or {}), "_rejected": True}
    return None


def project_estimate(
    *, project: Project, judge: Rater | None = None, at_least: tuple[str, float] | None = None
) -> dict[str, Any]:
    """The estimates of every quantity (``quantities_for``) for ``project``, as JSON-safe data.

    ``judge``: whose verdicts make the predictions (default: the judge version with the most
    verdicts). The audit is recomputed from the stored seed and size over the items the project
    has now; ``audit.outdated`` says that items were imported (or deleted) since it was drawn,
    so it no longer matches the queue's audit: draw it again (same size) to put the new items
    in the queue.
    """
    version = project.rubric_version
    quantities = quantities_for(project=project, at_least=at_least)
    judges = judges_of(project=project)
    if judge is None and judges:
        judge = Rater.objects.get(pk=judges[0]["rater"])
    vendor = connection.vendor
    ids, predicted = predictions.predictions_read(
        project_id=project.pk,
        rater_id=judge.pk if judge is not None else 0,  # no judge: every prediction is the fallback
        rubric_version_id=version.pk,
        parts=[q.prediction(vendor) for q in quantities],
    )
    size = min(project.audit_size, ids.size)
    order = (
        agreement.audit_sample(ids, size=size, seed=project.audit_seed)
        if project.audit_seed is not None and size
        else np.empty(0, dtype=np.int64)
    )
    audited = Item.objects.filter(project=project, audit_rank__isnull=False).order_by("audit_rank")
    stored = list(audited.values_list("id", flat=True))
    labels: dict[int, dict] = {}
    for item_id, status, approved_by, consensus in Item.objects.filter(pk__in=[int(i) for i in order]).values_list(
        "id", "status", "approved_by", "consensus"
    ):
        label = _human_label(status, approved_by, consensus)
        if label is not None:
            labels[item_id] = label
    rows = []
    for n, q in enumerate(quantities):
        column = predicted[:, n]
        known = ~np.isnan(column)
        f = np.where(known, column, q.fallback)
        labelled = {i for i, v in labels.items() if q.value(v) is not None}
        prefix = agreement.audit_prefix(order, labelled)
        y = np.array([q.value(labels[int(i)]) for i in prefix], dtype=np.float64)
        row: dict[str, Any] = {"key": q.key, "title": q.title, "kind": q.kind, "axis": [q.low, q.high]}
        row["verdicts"] = int(known.sum())
        if ids.size:
            result = agreement.mean_estimates(
                item_ids=ids,
                predictions=f,
                audit_ids=prefix,
                audit_labels=y,
                resolution=q.resolution,
                bounds=(q.low, q.high),
            )
            row.update(result.as_dict())
            if judge is None:
                row["estimates"] = [e for e in row["estimates"] if e["method"] == "human"]
        else:
            row.update({"items": 0, "audited": 0, "estimates": []})
        rows.append(row)
    return {
        "project": project.pk,
        "judge": None if judge is None else {"rater": judge.pk, "name": judge.name},
        "judges": judges,
        "items": int(ids.size),
        "audit": {
            "size": project.audit_size,
            "seed_fixed": project.audit_seed is not None,
            "labelled": len(labels),
            "outdated": [int(i) for i in order] != stored,
        },
        "quantities": rows,
    }
