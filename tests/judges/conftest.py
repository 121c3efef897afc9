import pytest

from annotation.models import Item
from judges.models import JudgeRun
from judges.services.judges import judge_create
from judges.services.runs import judge_run_start
from judges.tasks import judge_chunk_run
from testbed import FakeLLMServer

KEY_ENV = "ACCORD_TEST_LLM_KEY"


@pytest.fixture(scope="session")
def llm_server():
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def llm(llm_server):
    llm_server.reset()
    yield llm_server
    llm_server.reset()


@pytest.fixture(autouse=True)
def _judge_settings(settings, monkeypatch):
    # The tests' key may be sent to the loopback fake server only, whatever port it listens on.
    settings.JUDGE_KEYS = {**settings.JUDGE_KEYS, KEY_ENV: [("127.0.0.1", "*")]}
    settings.JUDGES_REQUEST_TIMEOUT = 5
    settings.JUDGES_BACKOFF_BASE_SECONDS = 0.01
    settings.JUDGES_BACKOFF_MAX_SECONDS = 0.05
    settings.JUDGES_CHUNK_SIZE = 3
    settings.JUDGES_CONCURRENCY = 8
    settings.JUDGES_RATE_LIMIT_REDIS_URL = ""
    monkeypatch.setenv(KEY_ENV, "test-key")


@pytest.fixture
def make_judge(llm, staff, project):
    def make(provider: str = "openai", *, name: str | None = None, **fields):
        base_url = llm.anthropic_base_url if provider == "anthropic" else llm.openai_base_url
        defaults = {"model": f"{provider}-judge", "base_url": base_url, "api_key_env": KEY_ENV}
        return judge_create(
            actor=staff, project=project, name=name or f"{provider} judge", provider=provider, **{**defaults, **fields}
        )

    return make


def run_now(*, project, judge, items="all", actor=None) -> JudgeRun:
    """Start a run and execute its chunk tasks in this process, in order."""
    run = judge_run_start(actor=actor, project=project, judge=judge, items=items)
    run_chunks(run)
    run.refresh_from_db()
    return run


def run_chunks(run: JudgeRun) -> None:
    for chunk_id in run.chunks.order_by("index").values_list("id", flat=True):
        judge_chunk_run.apply(args=[chunk_id])


def item_by_prompt(request) -> Item | None:
    """The item a recorded request was about (items' data carry a unique "prompt")."""
    for item in Item.objects.all():
        if f'"prompt": "{item.data["prompt"]}"' in request.last_user_text.split("<item_data")[-1]:
            return item
    return None
