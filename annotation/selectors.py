"""Reads, and who may do what. Every API queryset starts from one of these."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from annotation.models import Item, Membership, Project, Rater, RaterKind, Rating, Role

# What each role may do; staff may do everything.
MANAGE = frozenset({Role.MANAGER})
REVIEW = frozenset({Role.MANAGER, Role.REVIEWER})
RATE = frozenset({Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR})


def projects_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    projects = Project.objects.select_related("rubric_version__rubric").order_by("id")
    if user.is_staff:
        return projects
    return projects.filter(memberships__user=user)


def project_role(*, user: AbstractBaseUser, project: Project) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Role.MANAGER
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


def project_require(*, user: AbstractBaseUser, project: Project, roles: frozenset[str]) -> str:
    """Return the user's role in the project, or raise PermissionDenied if it is not among ``roles``."""
    role = project_role(user=user, project=project)
    if role is None:
        raise PermissionDenied("You are not a member of this project.")
    if role not in roles:
        raise PermissionDenied(f"This needs the {' or '.join(sorted(roles))} role in this project.")
    return role


def rater_for_user(*, user: AbstractBaseUser) -> Rater:
    rater, _ = Rater.objects.get_or_create(user=user, defaults={"kind": RaterKind.HUMAN, "name": user.get_username()})
    return rater


def items_for_project(*, project: Project, status: str | None = None) -> QuerySet[Item]:
    items = Item.objects.filter(project=project)
    if status:
        items = items.filter(status=status)
    return items


def ratings_visible(*, user: AbstractBaseUser, item: Item) -> QuerySet[Rating]:
    """Blind by default: annotators see only their own ratings; reviewers and managers see all."""
    ratings = Rating.objects.filter(item=item).select_related("rater", "rubric_version").order_by("id")
    role = project_role(user=user, project=item.project)
    if role in REVIEW:
        return ratings
    return ratings.filter(rater__user=user)
