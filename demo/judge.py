"""An offline judge for the demo project, so a newcomer can start a judge run, watch its progress
and see machine ratings on the agreement page without an API key or a model server.

It points at the loopback fake OpenAI-compatible server that the tests and benchmarks use too
(``python -m testbed.llm_server``), which ``make run`` starts beside the web server and the
worker. Its answers are made up (valid on the rubric, derived from the item's text, not from
reading it), so it agrees poorly with the humans and is never trusted: that is the point of the
trust gate, shown on real data.
"""

from __future__ import annotations

from annotation.models import Project
from demo.summaries import DEMO_PROJECT
from judges.models import Judge
from judges.services.judges import judge_create

DEMO_JUDGE = "Demo judge (offline fake server, made-up answers)"
DEMO_LLM_URL = "http://127.0.0.1:8765/v1"


def demo_judge_seed(*, base_url: str = DEMO_LLM_URL) -> Judge | None:
    """Add the demo judge to the demo project; None when there is no demo project or it exists."""
    project = Project.objects.filter(name=DEMO_PROJECT).first()
    if project is None or Judge.objects.filter(project=project, name=DEMO_JUDGE).exists():
        return None
    return judge_create(
        actor=None,
        project=project,
        name=DEMO_JUDGE,
        provider="openai_compatible",
        model="accord-demo-fake",
        base_url=base_url,
        api_key_env="",
    )
