"""The whole job of a project manager in Chromium, as a fresh non-staff user with the permissions
to write rubrics and create projects, by keyboard and mouse: write a rubric (ordinal, yes/no and
choice criteria) → publish it → create a project → import 1,000 items from a file → invite two
annotators (they accept) → add a judge on the loopback fake LLM → test it → run it → set the
approval policy after its preview → the two annotators rate → export and download the file,
whose records are checked.

Every step goes through a page. Celery runs eagerly, in the live server's thread, so the import
and the export finish within their request; the pages' progress polling is covered by their own
tests.
"""

import hashlib
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from annotation.models import Item, ItemStatus, Membership, Project, Rating
from config.celery import app as celery_app
from exports.models import ExportSnapshot
from judges.models import Judge
from rubrics.models import RubricVersion
from testbed import FakeLLMServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ITEMS = 1_000
KEY_ENV = "ACCORD_TEST_LLM_KEY"


@pytest.fixture
def fake_llm(settings, monkeypatch):
    settings.JUDGE_KEYS = {**settings.JUDGE_KEYS, KEY_ENV: [("127.0.0.1", "*")]}
    settings.JUDGES_REQUEST_TIMEOUT = 5
    settings.JUDGES_BACKOFF_BASE_SECONDS = 0.01
    settings.JUDGES_BACKOFF_MAX_SECONDS = 0.05
    settings.JUDGES_CHUNK_SIZE = 100
    settings.JUDGES_CONCURRENCY = 8
    settings.JUDGES_RATE_LIMIT_REDIS_URL = ""
    monkeypatch.setenv(KEY_ENV, "test-key")
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def eager_celery(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def manager(make_user):
    user = make_user("maya")
    user.user_permissions.add(
        Permission.objects.get(codename="add_rubric"), Permission.objects.get(codename="add_project")
    )
    assert not user.is_staff
    return user


def fill_card(card, *, title: str, kind: str) -> None:
    card.locator('[data-role="title"]').fill(title)
    card.locator('[data-role="kind"]').select_option(kind)


def write_and_publish_rubric(page) -> RubricVersion:
    page.goto("/rubrics/new/")
    page.fill("#name", "Answers")
    page.fill("#instructions", "Rate the assistant's answer.")
    cards = page.locator("#criteria [data-card]")
    page.get_by_role("button", name="Add a criterion").click()
    page.get_by_role("button", name="Add a criterion").click()
    assert cards.count() == 3
    helpful, correct, tone = cards.nth(0), cards.nth(1), cards.nth(2)
    fill_card(helpful, title="Helpful", kind="ordinal")
    helpful.locator('[data-role="min"]').fill("1")
    helpful.locator('[data-role="max"]').fill("3")
    for point, text in (("1", "Useless"), ("2", "Partly helpful"), ("3", "Fully helpful")):
        helpful.locator(f'[data-point="{point}"]').fill(text)
    fill_card(correct, title="Correct", kind="binary")
    fill_card(tone, title="Tone", kind="categorical")
    tone.locator('textarea[name$="-choices"]').fill("polite\nneutral\nrude")
    for card in (helpful, correct, tone):
        card.locator('input[name$="-required"]').check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save draft").click()
    version = RubricVersion.objects.get(rubric__name="Answers")
    assert [c.key for c in version.criteria.all()] == ["helpful", "correct", "tone"]
    page.locator("#publish").click()
    with page.expect_navigation():
        page.locator("#publish-confirm").click()
    version.refresh_from_db()
    assert version.published_at is not None
    return version


def create_project(page, version: RubricVersion) -> Project:
    page.goto("/projects/new/")
    page.fill("#name", "Answers, December")
    page.select_option("#rubric_version", str(version.pk))
    page.fill("#annotations_per_item", "2")
    with page.expect_navigation():
        page.get_by_role("button", name="Create project").click()
    project = Project.objects.get(name="Answers, December")
    assert project.rubric_version_id == version.pk and project.annotations_per_item == 2
    return project


def import_items(page, project: Project, tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text(
        "".join(
            json.dumps({"external_id": f"a{i:04d}", "data": {"prompt": f"Question {i}?", "response": f"Answer {i}."}})
            + "\n"
            for i in range(ITEMS)
        )
    )
    page.goto(f"/projects/{project.pk}/import/")
    section = page.locator('[data-import][data-kind="items"]')
    section.locator('[data-role="file"]').set_input_files(str(path))
    section.locator('[data-role="preview"]').wait_for()
    section.locator('[data-role="check"]').click()
    section.get_by_text("Every row is fine").wait_for()
    section.locator('[data-role="run"]').click()
    section.get_by_text("Imported.").wait_for(timeout=60_000)
    assert Item.objects.filter(project=project).count() == ITEMS


def invite(page, project: Project, username: str) -> None:
    page.goto(f"/projects/{project.pk}/members/")
    page.fill("#invitee", username)
    page.select_option("#invite-role", "annotator")
    with page.expect_navigation():
        page.get_by_role("button", name="Send invitation").click()
    assert page.get_by_text(f"Invited {username} as annotator").is_visible()


def accept(open_page, user, project: Project):
    page = open_page(user)
    page.goto("/invitations/")
    with page.expect_navigation():
        page.get_by_role("button", name=f"Accept the invitation to {project.name}").click()
    assert Membership.objects.filter(project=project, user=user, role="annotator").exists()
    return page


def rate_by_keyboard(page, helpful: int) -> None:
    """A value per criterion by its number key; each choice moves the focus on; Enter submits."""
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'value-helpful'")
    page.keyboard.press(str(helpful))
    page.keyboard.press("1")  # correct: yes
    page.keyboard.press("1")  # tone: polite
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_manager_runs_the_whole_job(open_page, manager, make_user, fake_llm, eager_celery, tmp_path, screenshots):
    page = open_page(manager)
    version = write_and_publish_rubric(page)
    project = create_project(page, version)
    import_items(page, project, tmp_path)

    annotators = [make_user("ann"), make_user("ben")]
    for user in annotators:
        invite(page, project, user.username)
    annotator_pages = [accept(open_page, user, project) for user in annotators]

    # The judge form (the OpenAI SDK against the loopback fake server), then one real test call.
    page.goto(f"/projects/{project.pk}/judges/")
    with page.expect_navigation():
        page.get_by_role("link", name="Add a judge").first.click()
    page.fill("#name", "Fake GPT")
    page.select_option("#provider", "openai")
    page.fill("#model", "openai-judge")
    page.fill("#base_url", fake_llm.openai_base_url)
    page.select_option("#api_key_env", KEY_ENV)
    with page.expect_navigation():
        page.locator('[data-role="save"]').click()
    judge = Judge.objects.get(project=project)
    with page.expect_navigation():
        page.locator('[data-role="test-button"]').click()
    result = page.locator('[data-role="test-result"]')
    assert "Verdict" in result.inner_text() and "helpful" in result.inner_text(), result.inner_text()
    page.goto(f"/projects/{project.pk}/judges/")
    # The run executes inside this request (eager Celery): the click waits for its navigation too.
    with page.expect_navigation(timeout=120_000):
        page.locator(f'tr[data-judge="{judge.pk}"]').get_by_role("button", name="Run").click(timeout=120_000)
    run = Judge.objects.get(pk=judge.pk).current_version().runs.get()
    run.refresh_from_db()
    assert run.status == "succeeded", run.status
    assert Rating.objects.filter(item__project=project, rater__kind="judge").count() == ITEMS

    # The policy: a wider tolerance for "helpful", previewed first (nothing rated by people yet).
    page.goto(f"/projects/{project.pk}/settings/policy/")
    page.fill("#id_own-helpful", "0.5")
    with page.expect_navigation():
        page.get_by_role("button", name="Preview").click()
    assert "0 items would be approved" in page.locator("#preview-sentence").inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name="Save policy").click()
    assert page.get_by_text("Policy saved").is_visible()

    # Two annotators rate the same three items: helpful 3 and 2 (one point apart on a 1-3 scale,
    # within the criterion's own tolerance of half the range), correct yes, tone polite.
    for annotator_page, helpful in zip(annotator_pages, (3, 2), strict=True):
        annotator_page.goto(f"/projects/{project.pk}/annotate/")
        for _ in range(3):
            rate_by_keyboard(annotator_page, helpful)
    approved = list(project.items.filter(status=ItemStatus.APPROVED).order_by("external_id"))
    assert len(approved) == 3 and all(item.consensus["helpful"] == 2 for item in approved)

    page.goto(f"/projects/{project.pk}/export/")
    page.check("input[name=include][value=ratings]")
    with page.expect_navigation():
        page.get_by_role("button", name="Start export").click()
    row = page.locator("#snapshots tbody tr").first
    assert row.get_attribute("data-status") == "succeeded"
    with page.expect_download() as info:
        row.get_by_role("link", name="Download").click()
    body = Path(info.value.path()).read_bytes()
    assert hashlib.sha256(body).hexdigest() == ExportSnapshot.objects.get().sha256
    records = [json.loads(line) for line in body.splitlines()]
    assert [r["external_id"] for r in records] == [item.external_id for item in approved]
    for record in records:
        assert record["status"] == "approved" and record["consensus"] == {
            "helpful": 2,
            "correct": True,
            "tone": "polite",
        }
        assert sorted(r["values"]["helpful"] for r in record["ratings"]) == [2, 3]
