"""quality's answers to annotation's signals (annotation/signals.py): decide again, count into live agreement."""

from django.dispatch import receiver

from annotation.signals import project_rules_changed, ratings_changed, ratings_written
from quality.services.approval import items_decide, project_decide
from quality.services.tallies import tallies_record


@receiver(ratings_changed, dispatch_uid="quality.items_decide")
def _ratings_changed(sender, *, project, item_ids, **kwargs) -> None:
    items_decide(project=project, item_ids=item_ids)


@receiver(project_rules_changed, dispatch_uid="quality.project_decide")
def _project_rules_changed(sender, *, project, **kwargs) -> None:
    project_decide(project=project)  # in a Celery task for a large project


@receiver(ratings_written, dispatch_uid="quality.tallies_record")
def _ratings_written(sender, *, rubric_version_id, changes, **kwargs) -> None:
    tallies_record(rubric_version_id=rubric_version_id, changes=changes)
