"""PostgreSQL restarted in the middle of an items import: it applied fully or not at all, the
client is told so, and the same import run again succeeds. Short version of
benchmarks/chaos_import.py (``make chaos``: 200,000 rows).

The cluster is our own (initdb into tmp_path, a free port; as root it runs as ``postgres``) and
is restarted with ``pg_ctl restart -m immediate`` (every backend killed, crash recovery) once the
import's first COPY has started. Each client gets its own project in the cluster's database.
"""

import json
import os
import pwd

import httpx
import psycopg
import pytest

from testbed.chaos import call_cut_by_restart, import_rows, items_count
from testbed.django_proc import django_env, manage, manage_migrate, project_setup
from testbed.gunicorn import gunicorn
from testbed.servers import PostgresServer, postgres_binaries

ROWS = 20_000


def _can_run_postgres() -> str | None:
    if postgres_binaries() is None:
        return "initdb / pg_ctl / postgres are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres account to run a cluster as"
    return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = _can_run_postgres()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("chaos-pg")
    with PostgresServer() as pg:
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE accord_h5_chaos_import")
        database = pg.url("accord_h5_chaos_import")
        manage_migrate(django_env(database_url=database, var_dir=folder))
        yield pg, database, folder


def _during_restart(pg, database, call):
    """``call()`` in a thread; restart the cluster once the import's transaction has begun writing."""
    cut = call_cut_by_restart(call, pg=pg, database=database, wait=120)
    assert cut.copy_seen_after is not None, f"the import's COPY was never seen running: {cut.result}"
    return cut.result


def test_an_api_import_cut_by_a_postgres_restart_applies_nothing_and_says_so(cluster):
    pg, database, folder = cluster
    env = django_env(database_url=database, var_dir=folder, debug=False)  # what production answers
    token, project_id = project_setup(env, migrate=False)
    body = json.dumps(import_rows(ROWS)).encode()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "X-Forwarded-Proto": "https"}
    with gunicorn(env) as (url, _server):
        endpoint = f"{url}/api/v1/projects/{project_id}/items/"
        response = _during_restart(
            pg, database, lambda: httpx.post(endpoint, content=body, headers=headers, timeout=300)
        )
        assert response.status_code == 503, response.text[:500]
        assert response.headers["Retry-After"] == "5"
        assert "retry" in response.json()["detail"]
        assert items_count(database, project_id) == 0

        # The same gunicorn worker, whose pooled connection died with the restart, takes the retry.
        again = httpx.post(endpoint, content=body, headers=headers, timeout=300)
        assert again.status_code == 201, again.text[:500]
        assert again.json() == {"created": ROWS, "updated": 0, "unchanged": 0}
    assert items_count(database, project_id) == ROWS


def test_a_command_import_cut_by_a_postgres_restart_applies_nothing_and_says_so(cluster):
    pg, database, folder = cluster
    env = django_env(database_url=database, var_dir=folder)
    _token, project_id = project_setup(env, migrate=False)
    path = folder / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in import_rows(ROWS)))

    def run():
        return manage(env, "import_items", str(project_id), str(path), check=False, timeout=300)

    failed = _during_restart(pg, database, run)
    assert failed.returncode == 1
    assert "nothing was imported (an import applies fully or not at all). Run the same command again." in failed.stderr
    assert "Traceback" not in failed.stderr
    assert items_count(database, project_id) == 0

    retried = run()
    assert retried.returncode == 0, retried.stderr[-2000:]
    assert f"created {ROWS}, updated 0, unchanged 0" in retried.stdout
    assert items_count(database, project_id) == ROWS
