"""Part B's pages under the Content-Security-Policy in headless Chromium: each renders, its script
runs (builder.js draws the anchor rows and redraws the preview; import.js previews a file), and
nothing is blocked."""

import pytest
from django.contrib.auth.models import Permission

from tests.browser.test_csp import csp_violations, render_and_collect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_rubric_builder_runs_under_the_policy(open_page, make_user):
    author = make_user("author")
    author.user_permissions.add(Permission.objects.get(codename="add_rubric"))
    page = open_page(author)
    messages = render_and_collect(page, "/rubrics/new/")
    page.locator('[data-role="title"]').fill("Clarity")
    page.locator('[data-role="max"]').fill("3")
    assert page.locator("input[data-point]").count() == 3
    page.locator('#preview input[name="value-clarity"]').first.wait_for(state="attached")
    assert csp_violations(messages) == [], messages


def test_the_import_and_members_pages_run_under_the_policy(open_page, project, members, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    page = open_page(members["manager"])
    messages = render_and_collect(page, f"/projects/{project.pk}/import/")
    path = tmp_path / "items.jsonl"
    path.write_text('{"external_id": "a", "data": {"p": 1}}\n')
    page.locator('[data-kind="items"] input[type="file"]').set_input_files(str(path))
    page.locator('[data-kind="items"] [data-role="preview"]').wait_for()
    messages += render_and_collect(page, f"/projects/{project.pk}/members/")
    messages += render_and_collect(page, "/invitations/")
    messages += render_and_collect(page, f"/projects/{project.pk}/rubric/")
    assert csp_violations(messages) == [], messages
