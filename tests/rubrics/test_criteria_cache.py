"""Criteria are cached per process only for versions that can no longer change."""

import pytest

from annotation.models import Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from annotation.services.ratings import rating_submit
from rubrics.selectors import criteria_cached, criteria_of
from rubrics.services import rubric_create, rubric_update, rubric_version_publish

CRITERIA = [{"key": "ok", "title": "OK", "scale": {"kind": "binary"}}]


@pytest.mark.django_db(transaction=True)
def test_a_version_is_cached_once_published_or_rated_and_an_editable_one_never(staff, make_user):
    draft = rubric_create(actor=staff, name="Draft", criteria=CRITERIA)
    assert [c.key for c in criteria_of(version=draft)] == ["ok"]
    assert criteria_cached(version_id=draft.pk) is None  # still editable in place
    edited = rubric_update(actor=staff, rubric=draft.rubric, criteria=[{**CRITERIA[0], "key": "fine"}])
    assert edited.pk == draft.pk and [c.key for c in criteria_of(version=edited)] == ["fine"]

    published = rubric_version_publish(actor=staff, version=rubric_create(actor=staff, name="P", criteria=CRITERIA))
    criteria_of(version=published)
    assert [c.key for c in criteria_cached(version_id=published.pk)] == ["ok"]

    project = project_create(actor=staff, name="Rated", rubric=edited, annotations_per_item=1)
    items_import(project=project, rows=[{"external_id": "a", "data": {}}])
    person = make_user("annotator")
    membership_set(project=project, user=person, role=Role.ANNOTATOR)
    rating_submit(item=project.items.get(), rater=rater_for_user(user=person), values={"fine": True})
    assert [c.key for c in criteria_cached(version_id=edited.pk)] == ["fine"]  # rated: frozen
    # Changing a rated rubric makes a new version; the cached one is still the rated version's.
    newer = rubric_update(actor=staff, rubric=edited.rubric, criteria=CRITERIA)
    assert newer.pk != edited.pk
    assert [c.key for c in criteria_of(version=edited)] == ["fine"]
