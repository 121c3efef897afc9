"""Test doubles. ``from tests.fakes import FakeLLMServer, Reply, FakeRequest``.

Exports resolve lazily so ``python -m tests.fakes.llm_server`` does not import the module twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.llm_replies import FakeRequest, Reply
    from tests.fakes.llm_server import FakeLLMServer

__all__ = ["FakeLLMServer", "FakeRequest", "Reply"]


def __getattr__(name: str) -> Any:
    if name == "FakeLLMServer":
        from tests.fakes.llm_server import FakeLLMServer

        return FakeLLMServer
    if name in ("FakeRequest", "Reply"):
        from tests.fakes import llm_replies

        return getattr(llm_replies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
