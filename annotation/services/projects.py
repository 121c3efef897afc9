from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import Membership, Project, Role
from annotation.services.item_loads import item_load_recount
from annotation.signals import project_rules_changed
from rubrics.models import Rubric, RubricVersion


def _rubric_version_resolve(rubric: Any) -> RubricVersion:
    """A project pins a version: given a rubric id it takes the latest; ``{"rubric": id, "version": n}`` pins n."""
    try:
        if isinstance(rubric, RubricVersion):
            return rubric
        if isinstance(rubric, Rubric):
            return rubric.latest_version()
        if isinstance(rubric, dict):
            return RubricVersion.objects.get(rubric_id=int(rubric["id"]), number=int(rubric["version"]))
        version = Rubric.objects.get(pk=int(rubric)).latest_version()
        if version is None:
            raise RubricVersion.DoesNotExist
        return version
    except (Rubric.DoesNotExist, RubricVersion.DoesNotExist, KeyError, TypeError, ValueError):
        raise ValidationError({"rubric": [f"no rubric (version) {rubric!r}."]}) from None


def _settings_clean(*, annotations_per_item: Any, lease_minutes: Any, overlap_min: Any = None) -> None:
    errors = {}
    if overlap_min is not None and (
        not isinstance(overlap_min, int) or isinstance(overlap_min, bool) or not 1 <= overlap_min <= 50
    ):
        errors["overlap_min"] = ["must be empty (fixed overlap) or an integer from 1 to annotations_per_item."]
    elif overlap_min is not None and isinstance(annotations_per_item, int) and overlap_min > annotations_per_item:
        errors["overlap_min"] = [f"must be at most annotations_per_item ({annotations_per_item}), the maximum."]
    if (
        not isinstance(annotations_per_item, int)
        or isinstance(annotations_per_item, bool)
        or not (1 <= annotations_per_item <= 50)
    ):
        errors["annotations_per_item"] = ["must be an integer from 1 to 50."]
    if not isinstance(lease_minutes, int) or isinstance(lease_minutes, bool) or not 1 <= lease_minutes <= 24 * 60:
        errors["lease_minutes"] = ["must be an integer from 1 to 1440."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def project_create(
    *,
    actor: AbstractBaseUser,
    name: str,
    rubric: Any,
    guidelines: str = "",
    annotations_per_item: int = 3,
    lease_minutes: int = 30,
    tasks_project: Project | None = None,
    overlap_min: int | None = None,
) -> Project:
    """Create a project pinned to a rubric version; the creator becomes its manager.

    ``tasks_project``: for a project of agent traces, the project holding the tasks they ran.
    ``overlap_min``: adaptive overlap (docs/triage.md): items start needing this many human
    ratings and get one more while raters disagree, up to ``annotations_per_item``.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": ["name is required."]})
    _settings_clean(annotations_per_item=annotations_per_item, lease_minutes=lease_minutes, overlap_min=overlap_min)
    project = Project.objects.create(
        overlap_min=overlap_min,
        name=name.strip(),
        guidelines=guidelines or "",
        rubric_version=_rubric_version_resolve(rubric),
        annotations_per_item=annotations_per_item,
        lease_minutes=lease_minutes,
        tasks_project=tasks_project,
        created_by=actor,
    )
    Membership.objects.create(project=project, user=actor, role=Role.MANAGER)
    return project


@transaction.atomic
def project_update(*, project: Project, **changes: Any) -> Project:
    """Change a project's name, guidelines, overlap, lease, or (explicitly) its rubric version."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    old_version, old_overlap = project.rubric_version_id, (project.annotations_per_item, project.overlap_min)
    if "name" in changes:
        if not isinstance(changes["name"], str) or not changes["name"].strip():
            raise ValidationError({"name": ["name cannot be empty."]})
        project.name = changes["name"].strip()
    if "guidelines" in changes:
        project.guidelines = changes["guidelines"] or ""
    if "rubric" in changes:
        project.rubric_version = _rubric_version_resolve(changes["rubric"])
    if "tasks_project" in changes:
        if changes["tasks_project"] is not None and changes["tasks_project"].pk == project.pk:
            raise ValidationError({"tasks_project": ["a project cannot hold its own tasks."]})
        project.tasks_project = changes["tasks_project"]
    _settings_clean(
        annotations_per_item=changes.get("annotations_per_item", project.annotations_per_item),
        lease_minutes=changes.get("lease_minutes", project.lease_minutes),
        overlap_min=changes.get("overlap_min", project.overlap_min),
    )
    project.overlap_min = changes.get("overlap_min", project.overlap_min)
    project.annotations_per_item = changes.get("annotations_per_item", project.annotations_per_item)
    project.lease_minutes = changes.get("lease_minutes", project.lease_minutes)
    project.save()
    if (project.annotations_per_item, project.overlap_min) != old_overlap:
        # Targets adaptive overlap raised stay within the (new) maximum.
        project.items.filter(overlap_target__gt=project.annotations_per_item).update(
            overlap_target=project.annotations_per_item
        )
    if project.rubric_version_id != old_version or (project.annotations_per_item, project.overlap_min) != old_overlap:
        # Overlap counts and decisions are per rubric version: recount, then re-decide every item.
        item_load_recount(project=project)
        project_rules_changed.send(sender=Project, project=project)
    return project


@transaction.atomic
def membership_set(*, project: Project, user: Any, role: str) -> Membership:
    """Add a user to a project or change their role (idempotent)."""
    if role not in Role.values:
        raise ValidationError({"role": [f"role must be one of {', '.join(Role.values)}."]})
    users = get_user_model().objects
    try:
        if isinstance(user, AbstractBaseUser):
            member = user
        elif isinstance(user, int) and not isinstance(user, bool):
            member = users.get(pk=user)
        elif isinstance(user, str) and user:
            member = users.get(username=user)
        else:
            raise ValidationError({"user": ["user must be a user id or a username."]})
    except users.model.DoesNotExist:
        raise ValidationError({"user": [f"no user {user!r}."]}) from None
    membership, _ = Membership.objects.update_or_create(project=project, user=member, defaults={"role": role})
    return membership


def membership_remove(*, project: Project, user_id: int) -> None:
    Membership.objects.filter(project=project, user_id=user_id).delete()
