"""Who belongs to a project: invitations the invited person accepts, role changes, removal.

Consent (issue 16, point 9): a manager cannot make someone a member, or attribute imported
ratings to them, without their knowledge. Managers invite (by username or e-mail) and the
invited person accepts; only staff add an existing account directly (``membership_add``).
Access checks that depend on the request (is the actor a manager here?) are the callers'; what
depends on who the actor is (staff or not) is decided here, so the API and the pages agree.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from annotation.models import Invitation, InvitationStatus, Membership, Project, Role
from annotation.services.projects import membership_set
from config.errors import Conflict


def _role_clean(role: str) -> str:
    if role not in Role.values:
        raise ValidationError({"role": [f"role must be one of {', '.join(Role.values)}."]})
    return role


@transaction.atomic
def membership_add(*, project: Project, actor: AbstractBaseUser, user: object, role: str) -> Membership:
    """Set the role of ``user`` in ``project``. Adding someone who is not yet a member is for staff
    only (anyone else invites them: ``invitation_create``); changing a member's role is for any
    manager (the caller checks that ``actor`` manages the project)."""
    _role_clean(role)
    users = get_user_model().objects
    if isinstance(user, AbstractBaseUser):
        target = user
    else:
        lookup = {"pk": user} if isinstance(user, int) and not isinstance(user, bool) else {"username": user}
        if not isinstance(user, int | str) or isinstance(user, bool) or user == "":
            raise ValidationError({"user": ["user must be a user id or a username."]})
        target = users.filter(**lookup).first()
        if target is None:
            raise ValidationError({"user": [f"no user {user!r}."]})
    if not actor.is_staff and not Membership.objects.filter(project=project, user=target).exists():
        raise PermissionDenied("Only staff add an account directly; invite them instead (they accept the invitation).")
    return membership_set(project=project, user=target, role=role)


@transaction.atomic
def membership_role_change(*, project: Project, user_id: int, role: str) -> Membership:
    """Change a member's role. The last manager cannot stop being one (the project would have nobody
    left to manage it but staff)."""
    _role_clean(role)
    membership = Membership.objects.select_for_update().filter(project=project, user_id=user_id).first()
    if membership is None:
        raise ValidationError({"user": ["this person is not a member of the project."]})
    if membership.role == Role.MANAGER and role != Role.MANAGER:
        _keep_a_manager(project=project, leaving=user_id)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def _keep_a_manager(*, project: Project, leaving: int) -> None:
    managers = Membership.objects.select_for_update().filter(project=project, role=Role.MANAGER)
    if not managers.exclude(user_id=leaving).exists():
        raise ValidationError({"role": ["a project keeps at least one manager: make someone else manager first."]})


@transaction.atomic
def member_remove(*, project: Project, user_id: int) -> None:
    """Remove a member (their ratings stay, attributed to them). Refuses to remove the last manager."""
    membership = Membership.objects.select_for_update().filter(project=project, user_id=user_id).first()
    if membership is None:
        raise ValidationError({"user": ["this person is not a member of the project."]})
    if membership.role == Role.MANAGER:
        _keep_a_manager(project=project, leaving=user_id)
    membership.delete()


@transaction.atomic
def invitation_create(*, project: Project, actor: AbstractBaseUser, invitee: str, role: str) -> Invitation:
    """Invite an account (``invitee`` a username) or an e-mail address (``invitee`` contains "@")
    to ``project`` with ``role``. Nothing changes for the invitee until they accept."""
    _role_clean(role)
    if not isinstance(invitee, str) or not invitee.strip():
        raise ValidationError({"invitee": ["give a username or an e-mail address."]})
    invitee = invitee.strip()
    users = get_user_model().objects
    user = None
    email = ""
    if "@" in invitee:
        try:
            validate_email(invitee)
        except ValidationError:
            raise ValidationError({"invitee": [f"{invitee!r} is not an e-mail address."]}) from None
        email = invitee.lower()
    else:
        user = users.filter(username=invitee, is_active=True).first()
        if user is None:
            raise ValidationError({"invitee": [f"no user {invitee!r}; invite them by e-mail address instead."]})
        if Membership.objects.filter(project=project, user=user).exists():
            raise ValidationError({"invitee": [f"{invitee} is already a member of this project."]})
    try:
        with transaction.atomic():
            return Invitation.objects.create(project=project, user=user, email=email, role=role, invited_by=actor)
    except IntegrityError:
        raise ValidationError({"invitee": [f"{invitee} already has a pending invitation to this project."]}) from None


def invitations_for_user(*, user: AbstractBaseUser) -> QuerySet[Invitation]:
    """The pending invitations ``user`` may answer: addressed to their account or their e-mail."""
    addressed = Q(user=user)
    if getattr(user, "email", ""):
        addressed |= Q(user__isnull=True, email__iexact=user.email)
    return (
        Invitation.objects.filter(addressed, status=InvitationStatus.PENDING)
        .select_related("project", "invited_by")
        .order_by("-created_at", "-id")
    )


@transaction.atomic
def invitation_respond(*, invitation_id: int, user: AbstractBaseUser, accept: bool) -> Invitation:
    """Accept (become a member with the invited role) or decline one's own pending invitation.
    Someone else's invitation is refused exactly like one that does not exist."""
    invitation = invitations_for_user(user=user).select_for_update(of=("self",)).filter(pk=invitation_id).first()
    if invitation is None:
        raise Invitation.DoesNotExist("no pending invitation of yours with this id.")
    invitation.status = InvitationStatus.ACCEPTED if accept else InvitationStatus.DECLINED
    invitation.user = user
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "user", "responded_at"])
    if accept:
        # A member already (staff added them meanwhile): their role is left as it is.
        Membership.objects.get_or_create(project=invitation.project, user=user, defaults={"role": invitation.role})
    return invitation


@transaction.atomic
def invitation_cancel(*, project: Project, invitation_id: int) -> None:
    """Withdraw a pending invitation of ``project``."""
    updated = Invitation.objects.filter(project=project, pk=invitation_id, status=InvitationStatus.PENDING).update(
        status=InvitationStatus.CANCELLED, responded_at=timezone.now()
    )
    if not updated:
        raise Conflict("no pending invitation with this id in this project.")
