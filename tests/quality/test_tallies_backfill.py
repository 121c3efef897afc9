"""Ratings stored before live agreement existed are counted after `migrate` (quality/apps.py)."""

import pytest
from django.core.management import call_command

from quality.models import AgreementTally
from tests.quality.test_approval import rate
from tests.quality.test_live_agreement import _assert_live_equals_full, _stored_cells


@pytest.mark.django_db(transaction=True)
def test_migrate_counts_the_ratings_of_a_project_without_tallies(project, members, items):
    rate(items[0], members["annotator"], helpfulness=5)
    rate(items[0], members["annotator2"], helpfulness=4)
    rate(items[1], members["annotator"], helpfulness=2)
    rate(items[1], members["annotator2"], helpfulness=1)
    kept = _stored_cells(project)
    AgreementTally.objects.filter(project=project).delete()  # as a database from before the tallies
    assert _stored_cells(project) == {}
    call_command("migrate", verbosity=0)
    assert _stored_cells(project) == kept
    _assert_live_equals_full(project)
