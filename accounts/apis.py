from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.models import ApiToken
from accounts.services import (
    api_token_create,
    api_token_expiry,
    api_token_revoke,
    api_tokens_live,
    user_create,
    user_credentials_revoke,
    user_deactivate,
    user_reactivate,
)
from accounts.throttle import locked_out_message
from config.serializers import InputSerializer


class TokenOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prefix = serializers.CharField(help_text="The key's first characters, to tell tokens apart.")
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)


class TokenObtainApi(APIView):
    """Exchange a username and password for a new API token (``Authorization: Token <key>``).

    The key is in this answer only: Accord keeps its SHA-256, never the key. Each call issues
    another token; list and revoke them at ``/api/v1/users/me/tokens/`` or on the account page."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    class TokenInputSerializer(InputSerializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=4096, trim_whitespace=False)
        name = serializers.CharField(max_length=100, required=False, default="", help_text="What it is for.")
        expires_in_days = serializers.IntegerField(
            min_value=1, max_value=3650, required=False, help_text="Default: ACCORD_API_TOKEN_DAYS (0: never)."
        )

    @extend_schema(
        request=TokenInputSerializer,
        responses=inline_serializer(
            "TokenIssued",
            {
                "token": serializers.CharField(help_text="The key; shown this once."),
                "id": serializers.IntegerField(),
                "prefix": serializers.CharField(),
                "expires_at": serializers.DateTimeField(allow_null=True),
            },
        ),
    )
    def post(self, request):
        data = self.TokenInputSerializer.parse(request.data)
        user = authenticate(request, username=data["username"], password=data["password"])
        if getattr(request, "axes_locked_out", False):  # django-axes: too many failures (accounts/throttle.py)
            raise Throttled(wait=settings.LOGIN_FAILURE_WINDOW_SECONDS, detail=locked_out_message())
        if user is None:
            raise serializers.ValidationError({"non_field_errors": ["Unable to log in with these credentials."]})
        expires_at = api_token_expiry(days=data.get("expires_in_days"))
        token, key = api_token_create(user=user, name=data["name"], expires_at=expires_at)
        return Response({"token": key, "id": token.pk, "prefix": token.prefix, "expires_at": token.expires_at})


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    is_staff = serializers.BooleanField()
    is_active = serializers.BooleanField()


class UserCreateApi(APIView):
    permission_classes = [IsAdminUser]

    class UserCreateInputSerializer(InputSerializer):
        username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
        password = serializers.CharField(max_length=4096, trim_whitespace=False)
        email = serializers.EmailField(required=False, allow_blank=True)
        is_staff = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=UserCreateInputSerializer, responses={201: UserOutputSerializer})
    def post(self, request):
        data = self.UserCreateInputSerializer.parse(request.data)
        user = user_create(**data)
        return Response(UserOutputSerializer(user).data, status=201)


class MeApi(APIView):
    @extend_schema(responses=UserOutputSerializer)
    def get(self, request):
        return Response(UserOutputSerializer(request.user).data)


class MyTokensApi(APIView):
    """Your API tokens that still work (by prefix; keys are never stored)."""

    @extend_schema(responses=TokenOutputSerializer(many=True))
    def get(self, request):
        return Response(TokenOutputSerializer(api_tokens_live(user=request.user), many=True).data)


class MyTokenRevokeApi(APIView):
    """Revoke one of your tokens."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, token_id: int):
        try:
            api_token_revoke(user=request.user, token_id=token_id)
        except ApiToken.DoesNotExist:
            return Response({"detail": "Not found."}, status=404)
        return Response(status=204)


Revoked = inline_serializer(
    "CredentialsRevoked", {"tokens": serializers.IntegerField(), "sessions": serializers.IntegerField()}
)


class MyCredentialsRevokeApi(APIView):
    """Sign out everywhere: end every API token and every session of your account, this one too."""

    @extend_schema(request=None, responses=Revoked)
    def post(self, request):
        return Response(user_credentials_revoke(user=request.user))


def _user(user_id: int):
    return get_object_or_404(get_user_model(), pk=user_id)


class UserDeactivateApi(APIView):
    """Staff: deactivate an account and end every token and session it has (as the admin does)."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses=UserOutputSerializer)
    def post(self, request, user_id: int):
        return Response(UserOutputSerializer(user_deactivate(user=_user(user_id))).data)


class UserReactivateApi(APIView):
    """Staff: let a deactivated account sign in again. It issues nothing: no token, no session."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses=UserOutputSerializer)
    def post(self, request, user_id: int):
        return Response(UserOutputSerializer(user_reactivate(user=_user(user_id))).data)
