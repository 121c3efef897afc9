"""The members page (a project's members, their roles, pending invitations, invite) and my
invitations page (accept or decline). Every action calls the service the REST API calls
(annotation/services/members.py), so the page and the API refuse the same things."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.models import Invitation, InvitationStatus, Membership, Rater, Role
from annotation.selectors import MANAGE
from annotation.services.members import (
    invitation_cancel,
    invitation_create,
    invitation_respond,
    invitations_for_user,
    member_remove,
    membership_add,
    membership_role_change,
)
from annotation.views.forms import project_get
from config.errors import Conflict, validation_errors


def _int(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def _members_render(request, project, *, errors=None, posted=None, status=200) -> HttpResponse:
    context = {
        "project": project,
        "members": Membership.objects.filter(project=project).select_related("user").order_by("role", "user__username"),
        "invitations": Invitation.objects.filter(project=project, status=InvitationStatus.PENDING)
        .select_related("user", "invited_by")
        .order_by("-created_at"),
        # People named in imported ratings who have no account here (services/rating_imports.py).
        "external": Rater.objects.filter(project=project).annotate(rated=Count("ratings")).order_by("name"),
        "roles": Role.choices,
        "errors": errors or {},
        "posted": posted or {},
    }
    return render(request, "annotation/members.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def project_members(request: HttpRequest, project_id: int) -> HttpResponse:
    """GET: the page. POST ``action``: invite, add (staff), role, remove, cancel."""
    project, _ = project_get(request, project_id, MANAGE)
    if request.method == "GET":
        return _members_render(request, project)
    post = request.POST
    action = post.get("action", "")
    try:
        if action == "invite":
            invitation = invitation_create(
                project=project, actor=request.user, invitee=post.get("invitee", ""), role=post.get("role", "")
            )
            messages.success(request, f"Invited {invitation.user or invitation.email} as {invitation.role}.")
        elif action == "add":
            if not request.user.is_staff:
                raise PermissionDenied("Only staff add an account directly; invite them instead.")
            membership = membership_add(
                project=project, actor=request.user, user=post.get("username", "").strip(), role=post.get("role", "")
            )
            messages.success(request, f"Added {membership.user} as {membership.role}.")
        elif action == "role":
            membership = membership_role_change(
                project=project, user_id=_int(post.get("user")), role=post.get("role", "")
            )
            messages.success(request, f"{membership.user} is now {membership.role}.")
        elif action == "remove":
            member_remove(project=project, user_id=_int(post.get("user")))
            messages.success(request, "Member removed; their ratings stay.")
        elif action == "cancel":
            invitation_cancel(project=project, invitation_id=_int(post.get("invitation")))
            messages.success(request, "Invitation withdrawn.")
        else:
            return _members_render(request, project, errors={"non_field_errors": ["unknown action."]}, status=400)
    except ValidationError as exc:
        found = validation_errors(exc)
        if action in {"invite", "add"}:  # beside the form's fields
            return _members_render(request, project, errors={action: found}, posted=post, status=400)
        banner = [m for messages_ in found.values() for m in messages_]
        return _members_render(request, project, errors={"non_field_errors": banner}, status=400)
    except Conflict as exc:
        return _members_render(request, project, errors={"non_field_errors": [exc.message]}, status=409)
    return redirect("project-members", project_id=project.pk)


@login_required
@require_GET
def my_invitations(request: HttpRequest) -> HttpResponse:
    return render(request, "annotation/invitations.html", {"invitations": invitations_for_user(user=request.user)})


@login_required
@require_POST
def invitation_answer(request: HttpRequest, invitation_id: int) -> HttpResponse:
    accept = request.POST.get("answer") == "accept"
    try:
        invitation = invitation_respond(invitation_id=invitation_id, user=request.user, accept=accept)
    except Invitation.DoesNotExist:
        messages.error(request, "That invitation is no longer waiting for your answer.")
        return redirect("my-invitations")
    if accept:
        messages.success(request, f"You joined {invitation.project.name} as {invitation.role}.")
        return redirect("home")
    messages.info(request, f"You declined the invitation to {invitation.project.name}.")
    return redirect("my-invitations")
