from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from config.errors import Conflict


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", is_staff: bool = False) -> AbstractBaseUser:
    """Create a user. Only staff reach this (the API checks), so only staff can make staff."""
    User = get_user_model()
    user = User(username=username, email=email or "", is_staff=is_staff)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    if User.objects.filter(username=username).exists():
        raise Conflict(f"A user named {username!r} already exists.", errors={"username": ["already taken."]})
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


def token_for_user(*, user: AbstractBaseUser) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
