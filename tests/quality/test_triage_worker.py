"""A judge run on a real Celery worker (Redis broker, PostgreSQL) stores each verdict's
distribution and confidence with its rating, through the real OpenAI SDK against the loopback
fake server; the estimate then uses the verdicts.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/<n> .venv/bin/pytest tests/quality/test_triage_worker.py
"""

import re
import threading

import pytest

from annotation.models import Rating
from annotation.services.items import items_import
from judges.models import RunStatus
from judges.services.judges import judge_create
from judges.services.runs import judge_run_start
from quality.selectors.estimate import project_estimate
from testbed import FakeLLMServer
from testbed.llm_replies import Reply
from tests.judges.conftest import KEY_ENV, _judge_settings  # noqa: F401 (autouse fixture: the key may go to loopback)
from tests.workers import run_finished_wait, worker_env, worker_kill, worker_services_or_skip, worker_start

ITEMS = 12


def _varying_answers():
    """Each item's third answer says "not correct": every verdict's three samples split 2 to 1."""
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def respond(request):
        with lock:
            item = re.findall(r'"prompt": "(w\d+)"', request.last_user_text)[-1]  # the item's own data
            n = seen[item] = seen.get(item, -1) + 1
        return Reply.json(
            {
                "helpfulness": {"rationale": "fine", "value": 4},
                "correct": {"rationale": "checked", "value": n % 3 != 2},
                "tone": {"rationale": "polite", "value": "ok"},
                "notes": {"rationale": "", "value": None},
            }
        )

    return respond


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_run_stores_confidence_on_every_verdict(staff, project, settings, tmp_path):
    broker = worker_services_or_skip()
    settings.JUDGES_CHUNK_SIZE = 4
    items_import(project=project, rows=[{"external_id": f"w{i}", "data": {"prompt": f"w{i}"}} for i in range(ITEMS)])
    log = tmp_path / "worker.log"
    with FakeLLMServer(responder=_varying_answers()) as llm:
        judge = judge_create(
            actor=staff, project=project, name="W", provider="openai", model="m",
            base_url=llm.openai_base_url, api_key_env=KEY_ENV, samples=3,
        )  # fmt: skip
        env = worker_env(broker, judge_key_env=KEY_ENV, JUDGES_CONCURRENCY="1")
        worker = worker_start(env, log)
        try:
            run = judge_run_start(actor=staff, project=project, judge=judge, items="all")
            run_finished_wait(run, log=log)
        finally:
            worker_kill(worker)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, log.read_text()[-3000:]
    ratings = list(Rating.objects.filter(rater=judge.current_version().rater))
    assert len(ratings) == ITEMS
    for rating in ratings:  # scripted answers come without log-probabilities: the samples decide
        assert rating.distribution["helpfulness"]["4"] == 1.0
        assert rating.distribution["correct"] == {"false": round(1 / 3, 6), "true": round(2 / 3, 6)}
        assert rating.confidence == round(2 / 3, 6), "the verdict's value had two of the three samples"
    estimate = project_estimate(project=project)
    assert estimate["judge"]["rater"] == judge.current_version().rater_id
    correct = next(q for q in estimate["quantities"] if q["key"] == "correct")
    assert correct["verdicts"] == ITEMS
