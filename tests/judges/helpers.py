"""Judges and runs for tests that never reach a model provider."""

from annotation.services.items import items_import
from judges.models import Judge, JudgeRun
from judges.services.judges import judge_create
from judges.services.runs import judge_run_start

# Port 9 (discard): nothing listens on loopback, so any call fails at once.
UNREACHABLE_BASE_URL = "http://127.0.0.1:9/v1"


def judge_unreachable(*, staff, project, name: str = "J", provider: str = "openai_compatible", **fields) -> Judge:
    """A judge (OpenAI-compatible unless ``provider`` says otherwise) on ``project`` whose server
    never answers: for tests that start runs without calling the provider, or want every call to fail."""
    return judge_create(
        actor=staff, project=project, name=name, provider=provider, model="m", base_url=UNREACHABLE_BASE_URL, **fields
    )


def run_unreachable(*, staff, project, items: int) -> JudgeRun:
    """``items`` new items (``i0``, ``i1``...) and a run of an unreachable judge over all of them."""
    items_import(project=project, rows=[{"external_id": f"i{i}", "data": {"prompt": f"p{i}"}} for i in range(items)])
    judge = judge_unreachable(staff=staff, project=project)
    return judge_run_start(actor=staff, project=project, judge=judge, items="all")
