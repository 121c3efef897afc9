from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from rubrics.models import Rubric, RubricVersion


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
