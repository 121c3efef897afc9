"""What the rating and review forms post, turned into the values the services take.

A posted string becomes the scale's value; what cannot be parsed goes through unchanged, so that
the service words the error exactly as the API would.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from annotation.models import Project
from annotation.selectors import project_require
from rubrics.scales import ScaleKind


def project_get(request: HttpRequest, project_id: int, roles: frozenset[str]) -> tuple[Project, str]:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    role = project_require(user=request.user, project=project, roles=roles)
    return project, role


def criteria_of(project: Project) -> list:
    return list(project.rubric_version.criteria.all())


def _form_value(kind: str, raw: str) -> Any:
    """A posted string as the scale's value; unparseable text goes through unchanged so that
    ``values_clean`` words the error, exactly as the API would."""
    if kind == ScaleKind.TEXT:
        return raw
    raw = raw.strip()
    if raw == "":
        return None
    if kind == ScaleKind.BINARY:
        return {"true": True, "false": False}.get(raw, raw)
    if kind == ScaleKind.CATEGORICAL:
        return raw
    try:
        number = float(raw)
    except ValueError:
        return raw
    if kind == ScaleKind.ORDINAL or number.is_integer():
        return int(number) if number.is_integer() else number
    return number


@dataclass(frozen=True)
class Entered:
    """What a rater has entered on an item so far: a posted form (a Draft has the same fields)."""

    values: dict[str, Any] = field(default_factory=dict)
    rationales: dict[str, str] = field(default_factory=dict)
    seconds_spent: float | None = None


def rating_from_post(criteria: list, post) -> Entered:
    """The values, rationales and seconds spent that a rating or gold form posted."""
    values: dict[str, Any] = {}
    rationales: dict[str, str] = {}
    for criterion in criteria:
        value = _form_value(criterion.kind, post.get(f"value-{criterion.key}", ""))
        if value is not None and value != "":
            values[criterion.key] = value
        rationale = post.get(f"rationale-{criterion.key}", "").strip()
        if rationale:
            rationales[criterion.key] = rationale
    return Entered(values, rationales, seconds_from_post(post))


def seconds_from_post(post) -> float | None:
    try:
        seconds = float(post.get("seconds_spent", ""))
    except ValueError:
        return None
    return round(seconds, 1) if math.isfinite(seconds) and seconds >= 0 else None
