"""The fake LLM server, exercised through the real openai / anthropic SDKs (no patching).

Run with: .venv/bin/pytest tests/fakes -p no:django -q
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import jsonschema
import openai
import pytest

from tests.fakes import FakeLLMServer, FakeRequest, Reply

REPO_ROOT = Path(__file__).resolve().parents[2]

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


def _messages(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You are a strict rubric judge."}, {"role": "user", "content": text}]


def _response_format(schema: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "verdict", "strict": True, "schema": schema}}


def _tool_kwargs(schema: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    return {
        "tools": [{"name": "record_verdict", "description": "Record the verdict.", "input_schema": schema}],
        "tool_choice": {"type": "tool", "name": "record_verdict"},
    }


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


def _oa_verdict(client: openai.OpenAI, text: str = "Rate this answer.", **kw: Any) -> Any:
    kw.setdefault("response_format", _response_format())
    return client.chat.completions.create(
        model="gpt-judge", messages=_messages(text), temperature=0, max_completion_tokens=300, n=1, **kw
    )


def _an_verdict(client: anthropic.Anthropic, text: str = "Rate this answer.", **kw: Any) -> Any:
    kw = {**_tool_kwargs(), **kw}
    # anthropic 2.10 Messages.create() has no `temperature` kwarg; it goes through extra_body.
    return client.messages.create(
        model="claude-judge",
        system="You are a strict rubric judge.",
        messages=[{"role": "user", "content": text}],
        max_tokens=300,
        extra_body={"temperature": 0},
        **kw,
    )


# -- default, schema-derived answers ----------------------------------------------------------------


def test_it_answers_openai_structured_output_matching_the_schema(oa: openai.OpenAI) -> None:
    completion = _oa_verdict(oa)
    choice = completion.choices[0]
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-judge"
    assert choice.finish_reason == "stop"
    assert choice.message.refusal is None
    verdict = json.loads(choice.message.content)
    jsonschema.validate(verdict, SCHEMA)
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert completion._request_id.startswith("req_")


def test_it_answers_async_openai_structured_output(server: FakeLLMServer) -> None:
    async def go() -> Any:
        async with openai.AsyncOpenAI(
            base_url=server.openai_base_url, api_key="test", max_retries=0, timeout=5.0
        ) as client:
            return await client.chat.completions.create(
                model="m", messages=_messages("async"), max_tokens=50, response_format=_response_format()
            )

    completion = asyncio.run(go())
    jsonschema.validate(json.loads(completion.choices[0].message.content), SCHEMA)


def test_it_answers_anthropic_forced_tool_use_matching_the_schema(an: anthropic.Anthropic) -> None:
    message = _an_verdict(an)
    assert message.type == "message"
    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert block.type == "tool_use"
    assert block.name == "record_verdict"
    jsonschema.validate(block.input, SCHEMA)
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_it_answers_async_anthropic_forced_tool_use(server: FakeLLMServer) -> None:
    async def go() -> Any:
        async with anthropic.AsyncAnthropic(
            base_url=server.anthropic_base_url, api_key="test", max_retries=0, timeout=5.0
        ) as client:
            return await client.messages.create(
                model="claude-judge",
                max_tokens=100,
                messages=[{"role": "user", "content": [{"type": "text", "text": "async"}]}],
                **_tool_kwargs(NESTED_SCHEMA),
            )

    message = asyncio.run(go())
    jsonschema.validate(message.content[0].input, NESTED_SCHEMA)


def test_it_handles_nested_schemas_with_refs(oa: openai.OpenAI) -> None:
    for i in range(20):
        verdict = json.loads(
            _oa_verdict(oa, f"item {i}", response_format=_response_format(NESTED_SCHEMA)).choices[0].message.content
        )
        jsonschema.validate(verdict, NESTED_SCHEMA)
        assert set(verdict["scores"]) == {"clarity", "grade"}


def test_it_answers_anthropic_output_config_json_schema(an: anthropic.Anthropic) -> None:
    message = an.messages.create(
        model="claude-judge",
        max_tokens=100,
        messages=[{"role": "user", "content": "x"}],
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
    )
    assert message.stop_reason == "end_turn"
    jsonschema.validate(json.loads(message.content[0].text), SCHEMA)


def test_it_is_deterministic_per_prompt(oa: openai.OpenAI, an: anthropic.Anthropic) -> None:
    first = json.loads(_oa_verdict(oa, "same prompt").choices[0].message.content)
    with FakeLLMServer() as other:
        client = openai.OpenAI(base_url=other.openai_base_url, api_key="t", max_retries=0, timeout=5.0)
        again = json.loads(_oa_verdict(client, "same prompt").choices[0].message.content)
    assert first == again
    assert _an_verdict(an, "same prompt").content[0].input == first  # same seed, same schema
    others = [json.loads(_oa_verdict(oa, f"prompt {i}").choices[0].message.content) for i in range(8)]
    assert any(o != first for o in others)
    scores = {o["helpfulness"] for o in others}
    assert len(scores) > 1


# -- scripted replies -------------------------------------------------------------------------------


def test_it_surfaces_a_scripted_429_with_retry_after(server: FakeLLMServer, oa: openai.OpenAI) -> None:
    server.script(Reply.error(429, headers={"retry-after": "0.25"}))
    with pytest.raises(openai.RateLimitError) as info:
        _oa_verdict(oa)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "0.25"
    assert info.value.body["code"] == "rate_limit_exceeded"
    assert server.count() == 1  # max_retries=0: no SDK retry
    _oa_verdict(oa)  # script consumed; back to default answers


def test_it_surfaces_anthropic_529_overloaded(server: FakeLLMServer, an: anthropic.Anthropic) -> None:
    server.script(Reply.error(529))
    with pytest.raises(anthropic.APIStatusError) as info:
        _an_verdict(an)
    assert info.value.status_code == 529
    assert isinstance(info.value, anthropic.InternalServerError)
    assert info.value.body["error"]["type"] == "overloaded_error"
    assert info.value.response.headers["retry-after"] == "1"


def test_it_surfaces_500_as_internal_server_error(
    server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic
) -> None:
    server.script(Reply.error(500), Reply.error(500))
    with pytest.raises(openai.InternalServerError):
        _oa_verdict(oa)
    with pytest.raises(anthropic.InternalServerError) as info:
        _an_verdict(an)
    assert info.value.body["error"]["type"] == "api_error"


def test_it_truncates(server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic) -> None:
    server.script(Reply.truncated(), Reply.truncated(), Reply.truncated(as_text=True))
    choice = _oa_verdict(oa).choices[0]
    assert choice.finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(choice.message.content)
    message = _an_verdict(an)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "tool_use"
    assert set(message.content[0].input) < set(SCHEMA["required"])
    text_message = _an_verdict(an)
    assert text_message.stop_reason == "max_tokens"
    assert text_message.content[0].type == "text"


def test_it_refuses(server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic) -> None:
    server.script(Reply.refusal("No."), Reply.refusal())
    message = _oa_verdict(oa).choices[0].message
    assert message.content is None
    assert message.refusal == "No."
    anthropic_message = _an_verdict(an)
    assert anthropic_message.stop_reason == "refusal"
    assert anthropic_message.stop_details.type == "refusal"


def test_it_reports_content_filter(server: FakeLLMServer, oa: openai.OpenAI) -> None:
    server.script(Reply.content_filter())
    choice = _oa_verdict(oa).choices[0]
    assert choice.finish_reason == "content_filter"
    assert choice.message.content is None


def test_it_returns_scripted_json_and_text_verbatim(
    server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic
) -> None:
    out_of_range = {"factual": "yes", "tone": "rude", "helpfulness": 99}
    server.script(Reply.json(out_of_range), Reply.text("Sure! The score is 4."), Reply.json(out_of_range))
    assert json.loads(_oa_verdict(oa).choices[0].message.content) == out_of_range
    assert _oa_verdict(oa).choices[0].message.content == "Sure! The score is 4."
    assert _an_verdict(an).content[0].input == out_of_range


def test_it_times_out_a_delayed_reply(server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic) -> None:
    server.script(Reply.delay(3.0), Reply.delay(3.0, then=Reply.error(503)))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        _oa_verdict(oa, timeout=0.3)
    with pytest.raises(anthropic.APITimeoutError):
        _an_verdict(an, timeout=0.3)
    assert time.monotonic() - started < 2.0
    _oa_verdict(oa)  # server still healthy while the abandoned replies sleep


def test_it_disconnects(server: FakeLLMServer, oa: openai.OpenAI) -> None:
    server.script(Reply.disconnect())
    with pytest.raises(openai.APIConnectionError):
        _oa_verdict(oa)


def test_it_scripts_per_provider_and_uses_a_responder(
    server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic
) -> None:
    server.script(Reply.error(503), provider="anthropic")
    _oa_verdict(oa)  # the anthropic-only script does not apply
    with pytest.raises(anthropic.InternalServerError):
        _an_verdict(an)

    def responder(request: FakeRequest) -> Reply | None:
        return Reply.json({"echo": request.last_user_text}) if "echo" in request.last_user_text else None

    server.responder = responder
    assert json.loads(_oa_verdict(oa, "echo me").choices[0].message.content) == {"echo": "echo me"}
    jsonschema.validate(json.loads(_oa_verdict(oa, "plain").choices[0].message.content), SCHEMA)
    assert server.pending() == 0


def test_it_injects_seeded_faults(server: FakeLLMServer, oa: openai.OpenAI) -> None:
    def run() -> list[int]:
        server.reset()
        server.fault_rate(status=429, rate=0.3, retry_after=0.2, seed=7)
        statuses = []
        for i in range(40):
            try:
                _oa_verdict(oa, f"p{i}")
                statuses.append(200)
            except openai.RateLimitError as exc:
                assert exc.response.headers["retry-after"] == "0.2"
                assert exc.response.headers["retry-after-ms"] == "200"
                statuses.append(429)
        return statuses

    first = run()
    assert 4 <= first.count(429) <= 20
    assert run() == first  # same seed, same fault sequence


def test_it_answers_404_for_unknown_routes(server: FakeLLMServer, oa: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        oa.embeddings.create(model="e", input="x")
    assert server.requests[-1].provider == "unknown"


# -- recording & concurrency ------------------------------------------------------------------------


def test_it_records_requests(server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic) -> None:
    _oa_verdict(oa, "first item")
    _an_verdict(an, "second item")
    assert server.count() == 2
    assert server.count("openai") == server.count("anthropic") == 1
    openai_req, anthropic_req = server.requests
    assert openai_req.provider == "openai" and openai_req.path == "/v1/chat/completions"
    assert openai_req.json["messages"] == _messages("first item")
    assert openai_req.json["temperature"] == 0
    assert openai_req.json["max_completion_tokens"] == 300
    assert openai_req.headers["authorization"] == "Bearer test"
    assert openai_req.schema == SCHEMA
    assert openai_req.system == "You are a strict rubric judge."
    assert anthropic_req.provider == "anthropic" and anthropic_req.path == "/v1/messages"
    assert anthropic_req.last_user_text == "second item"
    assert anthropic_req.system == "You are a strict rubric judge."
    assert anthropic_req.json["tool_choice"] == {"type": "tool", "name": "record_verdict"}
    assert "anthropic-version" in anthropic_req.headers
    # anthropic 2.10 sends the key as a bearer token (older SDKs used x-api-key).
    assert "test" in (anthropic_req.headers.get("x-api-key") or anthropic_req.headers["authorization"])


def test_it_serves_64_concurrent_requests_with_latency(server: FakeLLMServer) -> None:
    # Long enough that all 64 are in flight together even when a loaded machine sends them slowly.
    server.latency = 1.0

    async def go() -> float:
        client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="t", max_retries=0, timeout=5.0)
        async with client:
            await client.chat.completions.create(model="m", messages=_messages("warm-up"))
            started = time.perf_counter()
            results = await asyncio.gather(
                *(
                    client.chat.completions.create(
                        model="m", messages=_messages(f"item {i}"), response_format=_response_format()
                    )
                    for i in range(64)
                )
            )
            elapsed = time.perf_counter() - started
        assert len(results) == 64
        return elapsed

    elapsed = asyncio.run(go())
    # Served one at a time this would take 64 s; the ceiling leaves room for a loaded CI machine.
    assert 1.0 <= elapsed < 8.0
    assert server.peak_in_flight >= 64  # may also count abandoned delayed replies of earlier tests


# -- standalone process -----------------------------------------------------------------------------


def test_it_runs_standalone_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.llm_server", "--port", "0", "--latency-ms", "10"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("READY http://127.0.0.1:"), line
        url = line.split()[1]
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
        req = urllib.request.Request(f"{url}/v1/chat/completions", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=5) as response:
            assert json.load(response)["object"] == "chat.completion"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert "STOPPED" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
