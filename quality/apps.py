from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quality import receivers  # noqa: F401  connects to annotation's signals
