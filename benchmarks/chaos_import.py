"""Chaos: PostgreSQL restarted in the middle of an items import. It applies fully or not at all.

A PostgreSQL cluster of our own (initdb into a temporary folder, a free port; as root it runs as
the ``postgres`` account) is restarted (``pg_ctl restart -m immediate``: every backend killed,
crash recovery from the WAL) as soon as the import's COPY is running. Two clients:

- ``api``: POST /api/v1/projects/{id}/items/ with a JSON array, to gunicorn with DEBUG off;
- ``command``: ``manage.py import_items <project> rows.jsonl``.

Reported per client: rows sent, rows in the project after the failed import (must be 0), what
the client saw (status and body, or exit code and last line), then the same import again (must
create every row) and the rows after it.

    .venv/bin/python benchmarks/chaos_import.py [--rows 200000] [--clients api,command] [--mode immediate]
"""

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import _django  # first: puts the checkout on sys.path

from testbed.chaos import call_cut_by_restart, import_rows, items_count
from testbed.django_proc import django_env, manage, project_setup
from testbed.gunicorn import gunicorn
from testbed.servers import PostgresServer, postgres_binaries


def import_via_api(*, url: str, token: str, project_id: int, body: bytes, restart) -> dict:
    import httpx

    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "X-Forwarded-Proto": "https"}
    return _with_restart(
        lambda: httpx.post(f"{url}/api/v1/projects/{project_id}/items/", content=body, headers=headers, timeout=900),
        restart,
        describe=lambda r: {"status": r.status_code, "body": r.text[:300]},
    )


def import_via_command(*, env: dict, project_id: int, path: Path, restart) -> dict:
    def call():
        return manage(env, "import_items", str(project_id), str(path), check=False, timeout=900)

    def describe(p):
        lines = [line for line in (p.stderr + p.stdout).splitlines() if line.strip() and "%|" not in line]
        return {"exit_code": p.returncode, "last_line": lines[-1][:300] if lines else ""}

    return _with_restart(call, restart, describe=describe)


def _with_restart(call, restart, *, describe) -> dict:
    """Run ``call`` in a thread; ``restart`` (if given: the cluster, its database, the pg_ctl restart
    mode) restarts the cluster once the COPY runs."""
    pg, database, mode = restart or (None, "", "immediate")
    cut = call_cut_by_restart(call, pg=pg, database=database, mode=mode)
    figures: dict = {}
    if restart is not None:
        figures["copy_seen_after_s"] = None if cut.copy_seen_after is None else round(cut.copy_seen_after, 2)
        figures["restart_s"] = round(cut.restart_took, 2)
    figures["client_s"] = round(cut.took, 2)
    figures.update(describe(cut.result))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--clients", default="api,command")
    parser.add_argument("--mode", default="immediate", choices=["immediate", "fast"], help="pg_ctl restart -m")
    args = parser.parse_args()
    if postgres_binaries() is None:
        raise SystemExit("initdb / pg_ctl / postgres are not installed")

    tmp = Path(tempfile.mkdtemp(prefix="accord-chaos-import-"))
    rows = import_rows(args.rows)
    body = json.dumps(rows).encode()
    jsonl = tmp / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_avg_before": [round(x, 2) for x in os.getloadavg()],
        "rows": args.rows,
        "json_mb": round(len(body) / 1e6, 1),
        "restart_mode": args.mode,
        "clients": {},
    }
    ok = True
    with PostgresServer() as pg:
        database = _django.database_recreate(pg.url("accord_h5_chaos_import"))
        restart = (pg, database, args.mode)
        for n, client in enumerate(args.clients.split(",")):
            env = django_env(database_url=database, var_dir=tmp, debug=client != "api")
            token, project_id = project_setup(env, migrate=n == 0)
            if client == "api":
                with gunicorn(env) as (url, _server):
                    failed = import_via_api(url=url, token=token, project_id=project_id, body=body, restart=restart)
                    after_failure = items_count(database, project_id)
                    retry = import_via_api(url=url, token=token, project_id=project_id, body=body, restart=None)
            else:
                failed = import_via_command(env=env, project_id=project_id, path=jsonl, restart=restart)
                after_failure = items_count(database, project_id)
                retry = import_via_command(env=env, project_id=project_id, path=jsonl, restart=None)
            after_retry = items_count(database, project_id)
            outcome = (
                "all or nothing held" if after_failure in (0, args.rows) and after_retry == args.rows else "BROKEN"
            )
            ok &= outcome == "all or nothing held"
            report["clients"][client] = {
                "import_during_restart": failed,
                "rows_after_it": after_failure,
                "retry": retry,
                "rows_after_retry": after_retry,
                "outcome": outcome,
            }
    report["pg_restarts"] = pg.restarts
    report["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
