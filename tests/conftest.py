import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from annotation.models import Role
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from rubrics.services import rubric_create
from tests.criteria import CORRECT, HELPFULNESS, NOTES, TONE

CRITERIA = [HELPFULNESS, CORRECT, TONE, NOTES]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs a third of a second per user; tests don't need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache(request, django_db_blocker):
    """Every test starts with no throttle counts. The cache is a table of the test database unless
    CACHE_URL names Redis, so the test database is set up first, whether the test uses it or not."""
    from django.core.cache import cache

    request.getfixturevalue("django_db_setup")
    with django_db_blocker.unblock():
        cache.clear()


@pytest.fixture(autouse=True)
def _no_cached_criteria():
    """Each test starts with no criteria cached per rubric version (rubrics/selectors.py): a test
    database rolled back may give a new version the id of an earlier test's."""
    from rubrics.selectors import _FROZEN_CRITERIA

    _FROZEN_CRITERIA.clear()


@pytest.fixture
def make_user(db):
    def make(username: str, *, is_staff: bool = False, password: str = "correct-horse-battery"):
        return get_user_model().objects.create_user(username=username, password=password, is_staff=is_staff)

    return make


@pytest.fixture
def staff(make_user):
    return make_user("staff", is_staff=True)


@pytest.fixture
def rubric_version(staff):
    return rubric_create(actor=staff, name="Quality", instructions="Rate it.", criteria=CRITERIA)


@pytest.fixture
def project(staff, rubric_version):
    return project_create(actor=staff, name="Project A", rubric=rubric_version, annotations_per_item=2)


@pytest.fixture
def members(project, make_user):
    """One user per role in project A, plus an outsider who belongs to no project."""
    people = {}
    for role in (Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR):
        people[role] = make_user(role)
        membership_set(project=project, user=people[role], role=role)
    people["annotator2"] = make_user("annotator2")
    membership_set(project=project, user=people["annotator2"], role=Role.ANNOTATOR)
    people["outsider"] = make_user("outsider")
    return people


@pytest.fixture
def items(project):
    items_import(
        project=project,
        rows=[{"external_id": f"x{i}", "data": {"prompt": f"p{i}", "response": f"r{i}"}} for i in range(5)],
    )
    return list(project.items.order_by("id"))


@pytest.fixture
def client_for():
    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


GOOD_VALUES = {"helpfulness": 4, "correct": True, "tone": "ok"}
GOOD_RATIONALES = {"helpfulness": "Answers the question."}
