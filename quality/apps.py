from django.apps import AppConfig
from django.db.models.signals import post_migrate


class QualityConfig(AppConfig):
    name = "quality"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quality import receivers  # noqa: F401  connects to annotation's signals

        post_migrate.connect(_tallies_backfill, sender=self)


def _tallies_backfill(*, using: str = "default", **_) -> None:
    """Count the ratings of projects that have no live tallies yet (stored before live agreement
    existed). After migrate rather than in a migration: the count runs the current services on the
    current models, which need every app's tables as they are now."""
    from annotation.models import Project
    from quality.services.tallies import tallies_rebuild

    pending = Project.objects.using(using).filter(items__ratings__isnull=False, agreement_tallies__isnull=True)
    for project in pending.distinct().select_related("rubric_version"):
        tallies_rebuild(project=project)
