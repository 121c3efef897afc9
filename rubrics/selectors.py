from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet

from rubrics.models import Criterion, Rubric, RubricVersion


def rubrics_for_user(*, user: AbstractBaseUser) -> QuerySet[Rubric]:
    """Staff see every rubric; others the ones they wrote or that a project of theirs uses."""
    rubrics = Rubric.objects.order_by("id")
    if user.is_staff:
        return rubrics
    visible = Q(created_by=user) | Q(versions__projects__memberships__user=user)
    return rubrics.filter(pk__in=Rubric.objects.filter(visible).values("pk"))


def rubric_require_author(*, user: AbstractBaseUser, rubric: Rubric) -> None:
    if user.is_staff or rubric.created_by_id == user.pk or user.has_perm("rubrics.change_rubric"):
        return
    raise PermissionDenied("Only the rubric's author or staff may change it.")


def rubric_require_can_create(*, user: AbstractBaseUser) -> None:
    if user.is_staff or user.has_perm("rubrics.add_rubric"):
        return
    raise PermissionDenied("Creating rubrics needs staff status or the 'add rubric' permission.")


def rubric_versions(*, rubric: Rubric) -> QuerySet[RubricVersion]:
    return rubric.versions.order_by("number").prefetch_related("criteria")


_COMPARED = ("title", "description", "scale", "required", "rationale_required", "gate")


def rubric_versions_diff(*, old: RubricVersion, new: RubricVersion) -> dict:
    """What changed from ``old`` to ``new``: instructions, and each criterion by key (added,
    removed, changed with each field's before and after, or moved), in ``new``'s order."""
    before = {c.key: (i, c) for i, c in enumerate(old.criteria.all())}
    after = {c.key: (i, c) for i, c in enumerate(new.criteria.all())}
    rows = []
    for key, (position, criterion) in after.items():
        if key not in before:
            rows.append({"key": key, "change": "added", "title": criterion.title, "fields": []})
            continue
        old_position, previous = before[key]
        fields = [
            {"field": name, "before": getattr(previous, name), "after": getattr(criterion, name)}
            for name in _COMPARED
            if getattr(previous, name) != getattr(criterion, name)
        ]
        change = "changed" if fields else ("moved" if old_position != position else "same")
        rows.append({"key": key, "change": change, "title": criterion.title, "fields": fields})
    rows.extend(
        {"key": key, "change": "removed", "title": previous.title, "fields": []}
        for key, (_, previous) in before.items()
        if key not in after
    )
    return {
        "instructions": None
        if old.instructions == new.instructions
        else {"before": old.instructions, "after": new.instructions},
        "criteria": rows,
        "same": old.instructions == new.instructions and all(r["change"] == "same" for r in rows),
    }


# Criteria of frozen rubric versions, per process. A frozen version (published, or with ratings)
# never changes: edits make a new version (rubric_update). Only a version with neither is edited
# in place, so a version enters this cache when it is published, or once a rating of it has
# committed (criteria_remember, after commit); rubric_update's in-place edit forgets the version
# here too, for the one case where an unpublished version loses all its ratings and is edited.
_FROZEN_CRITERIA: dict[int, tuple[Criterion, ...]] = {}


def criteria_of(*, version: RubricVersion) -> list[Criterion]:
    """The version's criteria in order: from this process's cache when the version is frozen,
    else one query. Callers must not change the instances (they are shared)."""
    cached = _FROZEN_CRITERIA.get(version.pk)
    if cached is not None:
        return list(cached)
    criteria = list(Criterion.objects.filter(version_id=version.pk).order_by("position", "id"))
    if version.published_at is not None:
        _FROZEN_CRITERIA[version.pk] = tuple(criteria)
    return criteria


def criteria_cached(*, version_id: int) -> list[Criterion] | None:
    """The version's criteria if this process has them cached (see :func:`criteria_of`), else None."""
    cached = _FROZEN_CRITERIA.get(version_id)
    return None if cached is None else list(cached)


def criteria_remember(*, version_id: int, criteria: list[Criterion]) -> None:
    """After a rating of ``version_id`` committed (so the version is frozen): cache its criteria."""
    transaction.on_commit(lambda: _FROZEN_CRITERIA.setdefault(version_id, tuple(criteria)))


def criteria_forget(*, version_id: int) -> None:
    _FROZEN_CRITERIA.pop(version_id, None)
