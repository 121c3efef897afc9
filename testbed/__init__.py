"""Loopback fakes and harnesses shared by the tests, the benchmarks and ``make run``. Not a Django app,
and not part of the product: nothing under accounts/, annotation/, judges/... imports it.

- ``llm_server`` (with ``llm_http``, ``llm_replies``, ``llm_schema``): a fake OpenAI / Anthropic HTTP
  server that the real SDKs talk to through ``base_url``. In-process for tests
  (``from testbed import FakeLLMServer, Reply, FakeRequest``), or standalone for benchmarks and the
  demo judge of ``make run`` (``python -m testbed.llm_server --port 8765 --latency-ms 300``).
- ``servers``: a redis-server and a PostgreSQL cluster of our own on free ports, to restart or kill.
- ``workers``: real Celery worker processes to start and SIGKILL, alone or as a fleet.
- ``chaos``: kills on a timer while a judge run goes on, the per-item counts that say whether it
  lost or duplicated anything, and imports cut by a PostgreSQL restart (tests/chaos, ``make chaos``).
- ``django_proc``: Accord in child processes (``manage.py`` commands, their environment), and
  ``gunicorn``: the app served by gunicorn on a free port.

Exports resolve lazily so ``python -m testbed.llm_server`` does not import the module twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testbed.llm_replies import FakeRequest, Reply
    from testbed.llm_server import FakeLLMServer

__all__ = ["REPO", "FakeLLMServer", "FakeRequest", "Reply"]

REPO = Path(__file__).resolve().parents[1]  # the checkout: cwd for manage.py, celery and gunicorn


def __getattr__(name: str) -> Any:
    if name == "FakeLLMServer":
        from testbed.llm_server import FakeLLMServer

        return FakeLLMServer
    if name in ("FakeRequest", "Reply"):
        from testbed import llm_replies

        return getattr(llm_replies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
