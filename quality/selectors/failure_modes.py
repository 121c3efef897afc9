"""The Quality Signal report: agent failure modes in accepted against rejected tasks.

A project of agent traces (rated with a failure-mode rubric) names the project of the tasks the
traces ran (``Project.tasks_project``); each trace's ``data["task"]`` is a task's external_id
there. A trace counts once its failure mode is decided (the approval gate approved it, so its
consensus holds the mode) and its task has a bucket (accepted or rejected, ``acceptance.py``).
If accepted tasks fail mostly for the agent's own reasons (meaningful failures) and rejected
ones mostly for the task's (degenerate failures: test mismatch, broken environment), the
acceptance criteria are separating signal from noise.

Intervals are 95 %: Wilson score intervals for shares, Newcombe's hybrid score interval for the
difference of two independent shares. The arithmetic is plain functions of counts at the top;
``failure_mode_report`` gathers the counts.
"""

import math
from collections import Counter
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.fields.json import KT

from annotation.models import ItemStatus, Project
from quality.selectors.acceptance import ACCEPTED, REJECTED, UNDECIDED, acceptance_of
from rubrics.gates import gates_of
from rubrics.scales import ScaleKind
from rubrics.templates import failure_class

Z95 = 1.959963984540054
FAILURE_MODE_KEY = "failure_mode"
METADATA_KEYS = ("pass_rate", "tool_calls", "output_tokens")
NO_REASON = "(no reason given)"


def wilson(count: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for count / total; None when total is 0."""
    if total <= 0:
        return None
    p = count / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def share(count: int, total: int) -> dict[str, Any]:
    ci = wilson(count, total)
    return {
        "count": count,
        "total": total,
        "share": count / total if total else None,
        "ci": list(ci) if ci else None,
    }


def difference(a: dict, b: dict) -> dict[str, Any]:
    """a's share minus b's, with Newcombe's hybrid score interval (his method 10)."""
    if a["share"] is None or b["share"] is None:
        return {"value": None, "ci": None}
    (la, ua), (lb, ub) = a["ci"], b["ci"]
    d = a["share"] - b["share"]
    lo = d - math.sqrt((a["share"] - la) ** 2 + (ub - b["share"]) ** 2)
    hi = d + math.sqrt((ua - a["share"]) ** 2 + (b["share"] - lb) ** 2)
    return {"value": d, "ci": [max(-1.0, lo), min(1.0, hi)]}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _metadata_row(bucket: str, metadata: list[dict]) -> dict[str, Any]:
    row: dict[str, Any] = {"bucket": bucket, "tasks": len(metadata)}
    for key in METADATA_KEYS:
        values = [v for m in metadata if (v := _number(m.get(key))) is not None]
        row[key] = {"mean": sum(values) / len(values) if values else None, "n": len(values)}
    return row


def _failure_mode_criterion(project: Project):
    criterion = project.rubric_version.criteria.filter(key=FAILURE_MODE_KEY).first()
    if criterion is None or criterion.kind != ScaleKind.CATEGORICAL:
        raise ValidationError(
            {"rubric": [f"the project's rubric has no categorical criterion {FAILURE_MODE_KEY!r} (load the "
                        "'agent-failure-mode' template)."]}
        )  # fmt: skip
    return criterion


def failure_mode_report(*, project: Project) -> dict[str, Any]:
    """The report for a project of traces. Raises ValidationError if the project is not one."""
    if project.tasks_project_id is None:
        raise ValidationError({"tasks_project": ["this project names no tasks project; set tasks_project first."]})
    modes = list(_failure_mode_criterion(project).scale["choices"])
    tasks_project = project.tasks_project
    gates = gates_of(tasks_project.rubric_version)
    if not gates:
        raise ValidationError({"tasks_project": ["the tasks project's rubric has no acceptance gates."]})

    buckets: dict[str, str] = {}
    reasons: Counter[str] = Counter()
    metadata: dict[str, list[dict]] = {ACCEPTED: [], REJECTED: [], UNDECIDED: []}
    task_rows = tasks_project.items.values_list("external_id", "status", "consensus", "metadata", "data__metadata")
    for external_id, status, consensus, item_metadata, data_metadata in task_rows.iterator(chunk_size=2000):
        acceptance = acceptance_of(gates=gates, status=status, consensus=consensus)
        bucket = acceptance["bucket"]
        buckets[external_id] = bucket
        merged = {**(data_metadata if isinstance(data_metadata, dict) else {}), **(item_metadata or {})}
        metadata[bucket].append(merged)
        if bucket == REJECTED:
            reasons[acceptance["reason"] or NO_REASON] += 1

    counts = {ACCEPTED: Counter(), REJECTED: Counter()}
    traces = Counter()
    trace_rows = project.items.annotate(task=KT("data__task")).values_list("task", "status", "consensus")
    for task, status, consensus in trace_rows.iterator(chunk_size=5000):
        traces["total"] += 1
        bucket = buckets.get(task) if isinstance(task, str) else None
        mode = (consensus or {}).get(FAILURE_MODE_KEY) if status == ItemStatus.APPROVED else None
        if bucket is None:
            traces["unlinked"] += 1
        elif mode is None:
            traces["undecided"] += 1
        elif bucket == UNDECIDED:
            traces["task_undecided"] += 1
        else:
            traces["counted"] += 1
            counts[bucket][mode] += 1

    totals = {b: sum(counts[b].values()) for b in counts}
    # Modes a later rubric version dropped still count, after the current ones.
    modes += sorted({m for b in counts for m in counts[b]} - set(modes))
    mode_rows = []
    for mode in modes:
        a, r = share(counts[ACCEPTED][mode], totals[ACCEPTED]), share(counts[REJECTED][mode], totals[REJECTED])
        mode_rows.append(
            {"mode": mode, "class": failure_class(mode), ACCEPTED: a, REJECTED: r, "difference": difference(a, r)}
        )
    class_rows = []
    for name in ("meaningful", "degenerate"):
        in_class = {b: sum(n for m, n in counts[b].items() if failure_class(m) == name) for b in counts}
        a, r = share(in_class[ACCEPTED], totals[ACCEPTED]), share(in_class[REJECTED], totals[REJECTED])
        class_rows.append({"class": name, ACCEPTED: a, REJECTED: r, "difference": difference(a, r)})
    rejected_tasks = sum(reasons.values())
    return {
        "project": project.pk,
        "tasks_project": tasks_project.pk,
        "traces": {k: traces[k] for k in ("total", "counted", "unlinked", "undecided", "task_undecided")},
        "buckets": {
            ACCEPTED: {"tasks": len(metadata[ACCEPTED]), "traces": totals[ACCEPTED]},
            REJECTED: {"tasks": len(metadata[REJECTED]), "traces": totals[REJECTED]},
            UNDECIDED: {"tasks": len(metadata[UNDECIDED]), "traces": traces["task_undecided"]},
        },
        "modes": mode_rows,
        "classes": class_rows,
        "metadata": [_metadata_row(b, metadata[b]) for b in (ACCEPTED, REJECTED, UNDECIDED)],
        "rejection_reasons": [
            {"reason": reason, "count": n, "share": n / rejected_tasks}
            for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    }
