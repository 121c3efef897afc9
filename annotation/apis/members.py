"""REST API for members and invitations: a manager invites, the invited person accepts; only
staff add an account directly (annotation/services/members.py)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.models import Invitation, InvitationStatus, Membership, Role
from annotation.selectors import MANAGE
from annotation.services.members import (
    invitation_cancel,
    invitation_create,
    invitation_respond,
    invitations_for_user,
    member_remove,
    membership_add,
)
from config.serializers import InputSerializer


class MemberSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user_id")
    username = serializers.CharField(source="user.username")
    role = serializers.CharField()


class ProjectMembersApi(APIView):
    class MemberInputSerializer(InputSerializer):
        user = serializers.JSONField(help_text="User id or username.")
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        members = Membership.objects.filter(project=project).select_related("user").order_by("id")
        return Response(MemberSerializer(members, many=True).data)

    @extend_schema(
        request=MemberInputSerializer,
        responses={201: MemberSerializer},
        description="Change a member's role. Adding an account that is not a member is for staff only; "
        "managers invite instead (POST /projects/{id}/invitations/) and the person accepts.",
    )
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        data = self.MemberInputSerializer.parse(request.data)
        membership = membership_add(project=project, actor=request.user, **data)
        return Response(MemberSerializer(membership).data, status=201)


class MemberRemoveApi(APIView):
    @extend_schema(request=None, responses={204: None}, description="Remove a member (not the last manager).")
    def post(self, request, project_id: int, user_id: int):
        project = project_get(request, project_id, MANAGE)
        member_remove(project=project, user_id=user_id)
        return Response(status=204)


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    project_name = serializers.CharField(source="project.name")
    username = serializers.CharField(source="user.username", allow_null=True, default=None)
    email = serializers.CharField()
    role = serializers.CharField()
    status = serializers.ChoiceField(choices=InvitationStatus.choices)
    invited_by = serializers.CharField(source="invited_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


class ProjectInvitationsApi(APIView):
    class InvitationInputSerializer(InputSerializer):
        invitee = serializers.CharField(max_length=254, help_text="A username, or an e-mail address.")
        role = serializers.ChoiceField(choices=Role.choices, default=Role.ANNOTATOR)

    @extend_schema(responses=InvitationSerializer(many=True), description="The project's pending invitations.")
    def get(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        pending = Invitation.objects.filter(project=project, status=InvitationStatus.PENDING)
        return Response(InvitationSerializer(pending.select_related("project", "user", "invited_by"), many=True).data)

    @extend_schema(request=InvitationInputSerializer, responses={201: InvitationSerializer})
    def post(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        data = self.InvitationInputSerializer.parse(request.data)
        invitation = invitation_create(project=project, actor=request.user, **data)
        return Response(InvitationSerializer(invitation).data, status=201)


class InvitationCancelApi(APIView):
    @extend_schema(request=None, responses={204: None}, description="Withdraw a pending invitation.")
    def post(self, request, project_id: int, invitation_id: int):
        project = project_get(request, project_id, MANAGE)
        invitation_cancel(project=project, invitation_id=invitation_id)
        return Response(status=204)


class MyInvitationsApi(APIView):
    @extend_schema(responses=InvitationSerializer(many=True), description="Invitations waiting for your answer.")
    def get(self, request):
        return Response(InvitationSerializer(invitations_for_user(user=request.user), many=True).data)


class InvitationAnswerApi(APIView):
    """Accept or decline one of your pending invitations (404 for anyone else's)."""

    accept = True

    @extend_schema(request=None, responses=InvitationSerializer)
    def post(self, request, invitation_id: int):
        try:
            invitation = invitation_respond(invitation_id=invitation_id, user=request.user, accept=self.accept)
        except Invitation.DoesNotExist:
            get_object_or_404(Invitation.objects.none())
        return Response(InvitationSerializer(invitation).data)


class InvitationAcceptApi(InvitationAnswerApi):
    accept = True


class InvitationDeclineApi(InvitationAnswerApi):
    accept = False
