"""Fixtures and helpers for the fake LLM server's tests: one server per test module, reset before
each test, the real openai / anthropic clients pointed at it, and a verdict request for each.

Run with: .venv/bin/pytest tests/testbed -q
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from testbed import FakeLLMServer

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "factual": {"type": "boolean"},
        "tone": {"type": "string", "enum": ["formal", "neutral", "casual"]},
        "helpfulness": {"type": "integer", "minimum": 1, "maximum": 5},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "rationale": {"type": "string"},
    },
    "required": ["factual", "tone", "helpfulness", "confidence", "rationale"],
    "additionalProperties": False,
}

NESTED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "Scores": {
            "type": "object",
            "properties": {
                "clarity": {"type": "integer", "minimum": 0, "maximum": 3},
                "grade": {"type": "string", "enum": ["A", "B", "C"]},
            },
            "required": ["clarity", "grade"],
            "additionalProperties": False,
        }
    },
    "properties": {
        "scores": {"$ref": "#/$defs/Scores"},
        "rationales": {
            "type": "object",
            "properties": {"clarity": {"type": "string"}, "grade": {"type": "string", "maxLength": 20}},
            "required": ["clarity", "grade"],
            "additionalProperties": False,
        },
        "flags": {"type": "array", "items": {"type": "string", "enum": ["pii", "none"]}, "minItems": 1},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["scores", "rationales", "flags", "note"],
    "additionalProperties": False,
}


def chat_messages(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You are a strict rubric judge."}, {"role": "user", "content": text}]


def response_format(schema: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "verdict", "strict": True, "schema": schema}}


def tool_kwargs(schema: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    return {
        "tools": [{"name": "record_verdict", "description": "Record the verdict.", "input_schema": schema}],
        "tool_choice": {"type": "tool", "name": "record_verdict"},
    }


def oa_verdict(client: openai.OpenAI, text: str = "Rate this answer.", **kw: Any) -> Any:
    kw.setdefault("response_format", response_format())
    return client.chat.completions.create(
        model="gpt-judge", messages=chat_messages(text), temperature=0, max_completion_tokens=300, n=1, **kw
    )


def an_verdict(client: anthropic.Anthropic, text: str = "Rate this answer.", **kw: Any) -> Any:
    kw = {**tool_kwargs(), **kw}
    # anthropic 2.10 Messages.create() has no `temperature` kwarg; it goes through extra_body.
    return client.messages.create(
        model="claude-judge",
        system="You are a strict rubric judge.",
        messages=[{"role": "user", "content": text}],
        max_tokens=300,
        extra_body={"temperature": 0},
        **kw,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset()


@pytest.fixture
def oa(server: FakeLLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0, timeout=5.0)


@pytest.fixture
def an(server: FakeLLMServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="test", max_retries=0, timeout=5.0)
