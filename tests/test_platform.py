"""Settings, health, schema, admin: the parts every other capability stands on."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from annotation.models import Project
from demo.agentic import TASKS_PROJECT, TRACES_PROJECT
from demo.summaries import DEMO_PROJECT, demo_seed
from quality.selectors.failure_modes import failure_mode_report


def test_it_reports_health_of_database_and_broker(db, client_for):
    response = client_for().get("/api/v1/health/")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_it_reports_a_broken_broker_with_503(db, client_for, monkeypatch):
    from config.celery import app

    # As mapping items: setattr's undo left broker_write_url pointing at the dead broker, so every
    # later health check in the process answered 503.
    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    response = client_for().get("/api/v1/health/")
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
    assert response.json()["database"] == "ok"


def test_it_serves_the_openapi_schema_and_swagger_ui(client_for, staff):
    schema = client_for().get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/projects/{project_id}/items/", "/api/v1/items/{item_id}/ratings/", "/api/v1/rubrics/"):
        assert path in text
    docs = client_for().get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def run_settings(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "ALLOWED_HOSTS"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "0", "ALLOWED_HOSTS": "x"}, "SECRET_KEY must be set"),
        ({"DEBUG": "0", "SECRET_KEY": "changeme", "ALLOWED_HOSTS": "x"}, "SECRET_KEY must be set"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "1", "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL must point at PostgreSQL or SQLite"),
        ({"DEBUG": "1", "DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"DEBUG": "1", "CELERY_BROKER_URL": "amqp://x"}, "CELERY_BROKER_URL"),
        ({"DEBUG": "0", "SECRET_KEY": "k" * 50}, "ALLOWED_HOSTS must list"),
    ],
)
def test_it_refuses_to_start_on_bad_settings_with_a_clear_message(env, message):
    result = run_settings(env)
    assert result.returncode != 0
    assert message in result.stderr


def test_it_starts_with_production_settings():
    result = run_settings({"DEBUG": "0", "SECRET_KEY": "k" * 50, "ALLOWED_HOSTS": "accord.example.org"})
    assert result.returncode == 0, result.stderr


def test_an_idle_worker_and_the_web_app_do_not_load_the_provider_sdks():
    # The openai and anthropic SDKs cost about 90 MB per process; make run's memory budget counts
    # on only a worker that actually runs a judge loading them.
    code = (
        "import sys, django; django.setup();"
        "from config.celery import app; app.loader.import_default_modules();"
        "import config.urls;"
        "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))"
    )
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env = {**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=settings.BASE_DIR
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_it_renders_the_admin_with_an_annotator_preview(admin_client, rubric_version):
    client = admin_client
    page = client.get(f"/admin/rubrics/rubricversion/{rubric_version.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "What an annotator will see" in html
    assert 'name="value-helpfulness"' in html
    assert "Useless." in html
    for url in ("/admin/rubrics/rubric/", "/admin/annotation/item/?q=x", "/admin/annotation/project/"):
        assert client.get(url).status_code == 200


def test_it_saves_criteria_from_the_admin_editor_as_validated_scales(admin_client, rubric_version):
    from rubrics.models import Criterion

    client = admin_client
    url = f"/admin/rubrics/rubricversion/{rubric_version.pk}/change/"
    form = {
        "instructions": "Edited",
        "criteria-TOTAL_FORMS": "1",
        "criteria-INITIAL_FORMS": "0",
        "criteria-MIN_NUM_FORMS": "0",
        "criteria-MAX_NUM_FORMS": "1000",
        "criteria-0-position": "9",
        "criteria-0-key": "clarity",
        "criteria-0-title": "Clarity",
        "criteria-0-kind": "ordinal",
        "criteria-0-minimum": "1",
        "criteria-0-maximum": "3",
        "criteria-0-anchors": "1: Muddled\n3: Crystal clear",
        "criteria-0-required": "on",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    clarity = Criterion.objects.get(version=rubric_version, key="clarity")
    assert clarity.scale == {"kind": "ordinal", "min": 1, "max": 3, "labels": {"1": "Muddled", "3": "Crystal clear"}}

    form["criteria-0-key"] = "clarity2"
    form["criteria-0-maximum"] = "0"
    response = client.post(url, form)
    assert response.status_code == 200
    assert "min must be less than max" in response.content.decode()
    assert not Criterion.objects.filter(key="clarity2").exists()


def test_it_seeds_the_demo_once(db, staff, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    created = demo_seed()
    assert {u for u, _ in created} == {"alice", "bob", "carol", "rita"}
    assert demo_seed() == []
    project = Project.objects.get(name=DEMO_PROJECT)
    assert project.items.count() == 13
    assert project.items.filter(status="in_progress").count() == 6
    # The agentic demo: 50 tasks with acceptance ratings, 200 traces linked to them, loaded once.
    tasks, traces = Project.objects.get(name=TASKS_PROJECT), Project.objects.get(name=TRACES_PROJECT)
    assert Project.objects.count() == 3
    assert (tasks.items.count(), traces.items.count()) == (50, 200)
    assert traces.tasks_project == tasks
    report = failure_mode_report(project=traces)
    assert report["buckets"]["accepted"]["tasks"] > 0 and report["buckets"]["rejected"]["tasks"] > 0
    assert report["traces"]["counted"] > 100
    assert tasks.items.filter(status="needs_review").exists(), "the review page has tasks to show"


def test_it_generates_a_valid_openapi_schema_without_warnings(tmp_path):
    from django.core.management import call_command

    # Name clashes between serializers silently merge two request bodies into one component.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/api/v1/items/{item_id}/ratings/" in (tmp_path / "schema.yml").read_text()
