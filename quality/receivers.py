"""quality's answers to annotation's signals (annotation/signals.py): decide again."""

from django.dispatch import receiver

from annotation.signals import project_rules_changed, ratings_changed
from quality.services.approval import items_decide, project_decide


@receiver(ratings_changed, dispatch_uid="quality.items_decide")
def _ratings_changed(sender, *, project, item_ids, **kwargs) -> None:
    items_decide(project=project, item_ids=item_ids)


@receiver(project_rules_changed, dispatch_uid="quality.project_decide")
def _project_rules_changed(sender, *, project, **kwargs) -> None:
    project_decide(project=project)  # in a Celery task for a large project
