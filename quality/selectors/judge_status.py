"""Judges a project has that agreement cannot measure: versions with no rating under the project's
rubric version. Without this a judge whose run failed simply vanished from the agreement report
("judges": []); now it is listed with the judges app's note on why (its run's failure reason and
a pointer to the Test action), from JudgeRaterStatus, which judges writes: quality never imports
judges."""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from annotation.models import Project, Rating
from quality.models import JudgeRaterStatus


def judges_without_ratings(*, project: Project) -> list[dict]:
    """``[{rater, name, status}]`` for the project's judge versions that have something to say
    (a note) and no rating under the current rubric version."""
    rated = Rating.objects.filter(rater=OuterRef("rater_id"), rubric_version_id=project.rubric_version_id)
    rows = (
        JudgeRaterStatus.objects.filter(project=project)
        .exclude(note="")
        .exclude(Exists(rated))
        .select_related("rater")
        .order_by("rater__name")
    )
    return [{"rater": r.rater_id, "name": r.rater.name, "status": r.note} for r in rows]
