"""The judge form pages for a non-staff manager: add, edit, test, enable/disable, field errors
inline, only the key names the operator offers."""

from judges.models import Judge
from tests.judges.conftest import KEY_ENV


def _form(llm, **changes):
    return {
        "name": "Local", "provider": "openai_compatible", "model": "qwen", "base_url": llm.openai_base_url,
        "api_key_env": "", "temperature": "0", "max_output_tokens": "512", "samples": "1", "few_shot": "0",
        "output_mode": "auto", "max_concurrency": "", "requests_per_minute": "", "tokens_per_minute": "",
        "system_prompt": "", **changes,
    }  # fmt: skip


def test_a_manager_adds_tests_and_disables_a_judge_without_the_admin(llm, client, project, items, members):
    manager = members["manager"]
    assert not manager.is_staff
    client.force_login(manager)
    page = client.get(f"/projects/{project.pk}/judges/").content.decode()
    assert f"/projects/{project.pk}/judges/new/" in page and "/admin/" not in page

    form = client.get(f"/projects/{project.pk}/judges/new/").content.decode()
    assert f'<option value="{KEY_ENV}">' in form and '<option value="SECRET_KEY">' not in form
    response = client.post(f"/projects/{project.pk}/judges/new/", _form(llm))
    judge = Judge.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/judges/{judge.pk}/edit/"

    tested = client.post(f"/projects/{project.pk}/judges/{judge.pk}/test/").content.decode()
    assert 'data-role="test-result"' in tested and "Verdict" in tested and "helpfulness" in tested
    assert llm.count() == 1

    client.post(f"/projects/{project.pk}/judges/{judge.pk}/toggle/")
    judge.refresh_from_db()
    assert not judge.enabled
    page = client.get(f"/projects/{project.pk}/judges/").content.decode()
    assert "disabled" in page
    response = client.post(f"/projects/{project.pk}/judges/{judge.pk}/run/", {"items": "all"}, follow=True)
    assert "this judge is disabled" in response.content.decode() and llm.count() == 1


def test_the_form_shows_the_services_errors_inline_and_saves_nothing(llm, client, project, members):
    client.force_login(members["manager"])
    bad = _form(llm, api_key_env="SECRET_KEY", temperature="9", samples="x", base_url="http://169.254.169.254/")
    response = client.post(f"/projects/{project.pk}/judges/new/", bad)
    html = response.content.decode()
    assert response.status_code == 400 and not Judge.objects.exists()
    assert 'id="samples-errors"' in html and "must be a number" in html
    response = client.post(f"/projects/{project.pk}/judges/new/", _form(llm, temperature="9", api_key_env="SECRET_KEY"))
    html = response.content.decode()
    assert 'id="temperature-errors"' in html and "from 0 to 2" in html
    response = client.post(f"/projects/{project.pk}/judges/new/", _form(llm, api_key_env="SECRET_KEY"))
    assert 'id="api_key_env-errors"' in response.content.decode() and not Judge.objects.exists()


def test_the_form_pages_are_for_managers_only(llm, client, project, members, make_judge):
    judge = make_judge("openai_compatible")
    for role in ("reviewer", "annotator"):
        client.force_login(members[role])
        assert client.get(f"/projects/{project.pk}/judges/new/").status_code == 403
        assert client.get(f"/projects/{project.pk}/judges/{judge.pk}/edit/").status_code == 403
        assert client.post(f"/projects/{project.pk}/judges/{judge.pk}/test/").status_code == 403
    assert llm.count() == 0
