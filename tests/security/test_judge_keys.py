"""Judge credentials (issue 16, point 1): a judge names its key by the name of an environment
variable of the workers, and only the operator decides which names exist and where each may go
(``ACCORD_JUDGE_KEYS``). A loopback recorder (the fake LLM server, which keeps every request's
headers and body) proves that no other variable's value ever leaves the process.
"""

import json
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from annotation.models import Role
from annotation.services.items import items_import
from config.judge_keys import env_judge_keys
from judges.models import Judge, JudgeRun, JudgeVerdict, RunStatus
from judges.services.judges import judge_create
from judges.services.runs import judge_run_start
from judges.tasks import judge_chunk_run
from testbed import FakeLLMServer

ALLOWED = "ACCORD_TEST_JUDGE_KEY"
# Secrets a worker holds: each planted in the environment with a value nobody may ever see.
PLANTED = {
    "SECRET_KEY": "planted-secret-key-value-0001",
    "DATABASE_URL": "postgres://planted:planted-db-password-0002@db/accord",
    "DJANGO_SUPERUSER_PASSWORD": "planted-superuser-password-0003",
    "AWS_SECRET_ACCESS_KEY": "planted-aws-secret-0004",
    "OPENAI_API_KEY": "sk-planted-openai-key-0005",
}


@pytest.fixture
def recorder():
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def keys(settings, monkeypatch, recorder):
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(ALLOWED, "the-allowed-judge-key")
    settings.JUDGES_ALLOWED_HOSTS = ["api.openai.com", "api.anthropic.com"]
    settings.JUDGES_RATE_LIMIT_REDIS_URL = ""
    settings.JUDGES_BACKOFF_BASE_SECONDS = 0.01
    settings.JUDGE_KEYS = {
        "OPENAI_API_KEY": [("api.openai.com", None)],
        ALLOWED: [("127.0.0.1", recorder.port)],
    }
    return settings.JUDGE_KEYS


@pytest.fixture
def manager_client(members):
    client = APIClient()
    client.force_authenticate(members[Role.MANAGER])
    return client


def _create(client, project, **fields):
    body = {"project": project.pk, "name": "j", "provider": "openai_compatible", "model": "m", **fields}
    return client.post("/api/v1/judges/", body, format="json")


@pytest.mark.django_db
def test_a_manager_can_name_only_the_keys_the_operator_offers(keys, project, manager_client, recorder):
    url = recorder.openai_base_url
    for name in [*PLANTED.keys() - {"OPENAI_API_KEY"}, *sorted(os.environ)[:40], "PATH", "HOME"]:
        if name in keys:
            continue
        response = _create(manager_client, project, base_url=url, api_key_env=name)
        assert response.status_code == 400, (name, response.content)
        message = response.json()["errors"]["api_key_env"][0]
        assert "not a key this server offers" in message and ALLOWED in message, message
    assert Judge.objects.count() == 0
    assert _create(manager_client, project, base_url=url, api_key_env=ALLOWED).status_code == 201
    assert recorder.count() == 0


@pytest.mark.django_db
def test_a_key_goes_only_to_the_hosts_and_ports_its_entry_names(keys, settings, project, manager_client, recorder):
    # OPENAI_API_KEY is bound to api.openai.com: not to the recorder, not to another port.
    for url in (recorder.openai_base_url, "https://api.openai.com:8443/v1", "http://api.openai.com:443/v1"):
        response = _create(manager_client, project, provider="openai", base_url=url, api_key_env="OPENAI_API_KEY")
        assert response.status_code == 400, (url, response.content)
        assert "may only be sent to api.openai.com" in response.json()["errors"]["base_url"][0]
    # The recorder's key on another loopback port: refused (its entry names one port).
    other = f"http://127.0.0.1:{recorder.port + 1}/v1"
    settings.JUDGES_ALLOWED_HOSTS = ["127.0.0.1"]
    assert _create(manager_client, project, base_url=other, api_key_env=ALLOWED).status_code == 400
    # An openai judge with no base_url sends to api.openai.com: only the key bound there will do.
    response = _create(manager_client, project, provider="openai", api_key_env=ALLOWED)
    assert response.status_code == 400
    assert "may only be sent to 127.0.0.1" in response.json()["errors"]["api_key_env"][0]
    assert _create(manager_client, project, provider="openai", api_key_env="OPENAI_API_KEY").status_code == 201


@pytest.mark.django_db
def test_a_base_url_takes_no_userinfo_query_or_fragment(keys, project, manager_client, recorder):
    base = recorder.openai_base_url
    for url in (
        f"{base}?api-version=1",
        f"{base}#x",
        f"{base}?",
        base.replace("http://", "http://user:pw@"),
        base.replace("http://", "http://user@"),
    ):
        response = _create(manager_client, project, base_url=url, api_key_env=ALLOWED)
        assert response.status_code == 400 and "base_url" in response.json()["errors"], url


def test_a_malformed_setting_stops_the_server_at_start(monkeypatch):
    for bad in ("OPENAI_API_KEY", "=api.openai.com", "1KEY=h", "K=", "K=h:99999", "K=h:abc", "K-EY=h"):
        monkeypatch.setenv("ACCORD_JUDGE_KEYS", bad)
        with pytest.raises(ImproperlyConfigured, match="ACCORD_JUDGE_KEYS"):
            env_judge_keys("ACCORD_JUDGE_KEYS", "")
    monkeypatch.setenv("ACCORD_JUDGE_KEYS", "A=api.openai.com; B=vllm.internal:8000,[::1]:*;")
    assert env_judge_keys("ACCORD_JUDGE_KEYS", "") == {
        "A": [("api.openai.com", None)],
        "B": [("vllm.internal", 8000), ("::1", "*")],
    }


@pytest.mark.django_db
def test_no_other_variable_ever_leaves_the_process(keys, staff, project, recorder):
    items_import(project=project, rows=[{"external_id": f"i{i}", "data": {"prompt": f"p{i}"}} for i in range(4)])
    judge = judge_create(
        actor=staff, project=project, name="ok", provider="openai_compatible", model="m",
        base_url=recorder.openai_base_url, api_key_env=ALLOWED,
    )  # fmt: skip
    run = judge_run_start(actor=staff, project=project, judge=judge, items="all")
    for chunk_id in run.chunks.values_list("id", flat=True):
        judge_chunk_run.apply(args=[chunk_id])
    assert JudgeVerdict.objects.filter(run=run, outcome="ok").count() == 4

    # A judge stored before the operator's settings (or edited behind the services' back) that
    # names a server secret: it refuses to start, and a run queued earlier sends nothing.
    judge.api_key_env = "SECRET_KEY"
    judge.save()
    with pytest.raises(Exception, match="refuses to run"):
        judge_run_start(actor=staff, project=project, judge=judge, items="all")
    judge.api_key_env = ALLOWED
    judge.save()
    items_import(project=project, rows=[{"external_id": f"n{i}", "data": {"prompt": f"n{i}"}} for i in range(3)])
    queued = judge_run_start(actor=staff, project=project, judge=judge, items="unjudged")
    Judge.objects.filter(pk=judge.pk).update(api_key_env="DATABASE_URL")
    before = recorder.count()
    for chunk_id in queued.chunks.values_list("id", flat=True):
        judge_chunk_run.apply(args=[chunk_id])
    queued.refresh_from_db()
    assert recorder.count() == before
    assert queued.status == RunStatus.FAILED and "Refused to run, nothing was sent" in queued.error
    assert "'DATABASE_URL' is not a key this server offers" in queued.error

    sent = [json.dumps({"headers": r.headers, "body": r.json, "path": r.path}) for r in recorder.requests]
    assert sent and all("the-allowed-judge-key" in s for s in sent)
    secrets = {n: v for n, v in os.environ.items() if len(v) >= 12 and n != ALLOWED and v != "the-allowed-judge-key"}
    leaked = {name for name, value in secrets.items() for s in sent if value in s}
    assert leaked == set(), leaked


@pytest.mark.django_db
def test_the_run_page_says_why_a_judge_refused(keys, settings, staff, project, members, recorder, client):
    items_import(project=project, rows=[{"external_id": "i", "data": {"prompt": "p"}}])
    judge = judge_create(
        actor=staff, project=project, name="ok", provider="openai_compatible", model="m",
        base_url=recorder.openai_base_url, api_key_env=ALLOWED,
    )  # fmt: skip
    run = judge_run_start(actor=staff, project=project, judge=judge, items="all")
    settings.JUDGES_ALLOWED_HOSTS = [f"127.0.0.1:{recorder.port}"]  # the host stays allowed,
    keys.pop(ALLOWED)  # but the operator withdraws the key
    for chunk_id in run.chunks.values_list("id", flat=True):
        judge_chunk_run.apply(args=[chunk_id])
    client.force_login(members[Role.MANAGER])
    page = client.get(f"/judge-runs/{run.pk}/").content.decode()
    assert "Refused to run, nothing was sent" in page
    assert f"{ALLOWED!r} is not a key this server offers to judges".replace("'", "&#x27;") in page
    assert recorder.count() == 0
    assert JudgeRun.objects.get(pk=run.pk).status == RunStatus.FAILED


@pytest.mark.django_db
def test_the_admin_and_the_judges_page_offer_only_the_operators_keys(keys, staff, project, members, recorder, client):
    judge = judge_create(
        actor=staff, project=project, name="ok", provider="openai_compatible", model="m",
        base_url=recorder.openai_base_url, api_key_env=ALLOWED,
    )  # fmt: skip
    root = type(staff).objects.create_superuser("root", "root@example.org", "a-long-root-password-1")
    client.force_login(root)
    page = client.get(f"/admin/judges/judge/{judge.pk}/change/").content.decode()
    assert f'<option value="{ALLOWED}" selected>' in page and '<option value="SECRET_KEY"' not in page
    response = client.post(
        f"/admin/judges/judge/{judge.pk}/change/",
        {"api_key_env": "SECRET_KEY", "price_input_per_mtok": "0", "price_output_per_mtok": "0",
         "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 200 and Judge.objects.get(pk=judge.pk).api_key_env == ALLOWED

    Judge.objects.filter(pk=judge.pk).update(api_key_env="SECRET_KEY")  # edited behind the services' back
    client.force_login(members[Role.MANAGER])
    page = client.get(f"/projects/{project.pk}/judges/").content.decode()
    assert "Refuses to run" in page and "&#x27;SECRET_KEY&#x27; is not a key this server offers" in page
    assert recorder.count() == 0
