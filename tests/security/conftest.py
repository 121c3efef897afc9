import hashlib
import json

import pytest
from django.apps import apps
from django.db import connection

from tests.security.world import world_build

# The tables a request could change. Sessions and the admin log are left out on purpose: no API
# request writes them.
# Figures the security tests record ({"fuzzing": {...}, ...}), printed at the end of the run.
REPORTS: dict[str, dict] = {}

FINGERPRINT_APPS = {"auth", "accounts", "rubrics", "annotation", "judges", "exports"}
# Written by reading requests (a token's use is recorded, at most once a minute): not a change.
FINGERPRINT_SKIPPED = {("accounts.ApiToken", "last_used_at")}


def db_fingerprint() -> str:
    """A hash of every row of every table an API request could write (ids, values, timestamps)."""
    digest = hashlib.sha256()
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        if model._meta.app_label not in FINGERPRINT_APPS or model._meta.proxy:
            continue
        digest.update(model._meta.label.encode())
        names = [f.attname for f in model._meta.concrete_fields]
        names = [n for n in names if (model._meta.label, n) not in FINGERPRINT_SKIPPED]
        for row in model._base_manager.order_by("pk").values_list(*names):
            digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture
def world(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    built = world_build()
    assert connection.in_atomic_block
    return built


def pytest_terminal_summary(terminalreporter):
    for name, figures in REPORTS.items():
        terminalreporter.write_line(f"{name}: {json.dumps(figures)}")
