from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.celery import app as celery_app


def _database_ok() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure is the answer here, not a crash
        return f"error: {exc.__class__.__name__}"


def _broker_ok() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"


class HealthApi(APIView):
    """Liveness for load balancers: the database and the Celery broker both answer."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "database": serializers.CharField(),
                    "broker": serializers.CharField(),
                },
            ),
            503: None,
        }
    )
    def get(self, request):
        database, broker = _database_ok(), _broker_ok()
        healthy = database == "ok" and broker == "ok"
        body = {"status": "ok" if healthy else "error", "database": database, "broker": broker}
        return Response(body, status=200 if healthy else 503)
