"""Helpers for tests that start real Celery worker processes beside pytest."""

from urllib.parse import quote

from django.db import connection


def database_url() -> str:
    """pytest-django's test database as a DATABASE_URL, so worker processes share it (PostgreSQL)."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "postgres") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
