"""The session engine (SESSION_ENGINE): Django's database sessions, kept in accounts.UserSession
with the signed-in user's id beside each, so that ending every session of a user is one DELETE
rather than a scan that decodes every session."""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

from accounts.models import UserSession


class SessionStore(DatabaseSessionStore):
    @classmethod
    def get_model_class(cls):
        return UserSession

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        user_id = data.get("_auth_user_id")
        session.user_id = int(user_id) if isinstance(user_id, str) and user_id.isdigit() else None
        return session
