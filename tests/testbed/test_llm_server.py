"""The fake LLM server, exercised through the real openai / anthropic SDKs (no patching): its default,
schema-derived answers, what it records, concurrency, and the standalone process. Scripted replies:
test_llm_replies.py.
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
from typing import Any

import anthropic
import jsonschema
import openai

from testbed import REPO, FakeLLMServer
from tests.testbed.conftest import (
    NESTED_SCHEMA,
    SCHEMA,
    an_verdict,
    chat_messages,
    oa_verdict,
    response_format,
    tool_kwargs,
)

# -- default, schema-derived answers ----------------------------------------------------------------


def test_it_answers_openai_structured_output_matching_the_schema(oa: openai.OpenAI) -> None:
    completion = oa_verdict(oa)
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
                model="m", messages=chat_messages("async"), max_tokens=50, response_format=response_format()
            )

    completion = asyncio.run(go())
    jsonschema.validate(json.loads(completion.choices[0].message.content), SCHEMA)


def test_it_answers_anthropic_forced_tool_use_matching_the_schema(an: anthropic.Anthropic) -> None:
    message = an_verdict(an)
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
                **tool_kwargs(NESTED_SCHEMA),
            )

    message = asyncio.run(go())
    jsonschema.validate(message.content[0].input, NESTED_SCHEMA)


def test_it_handles_nested_schemas_with_refs(oa: openai.OpenAI) -> None:
    for i in range(20):
        verdict = json.loads(
            oa_verdict(oa, f"item {i}", response_format=response_format(NESTED_SCHEMA)).choices[0].message.content
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
    first = json.loads(oa_verdict(oa, "same prompt").choices[0].message.content)
    with FakeLLMServer() as other:
        client = openai.OpenAI(base_url=other.openai_base_url, api_key="t", max_retries=0, timeout=5.0)
        again = json.loads(oa_verdict(client, "same prompt").choices[0].message.content)
    assert first == again
    assert an_verdict(an, "same prompt").content[0].input == first  # same seed, same schema
    others = [json.loads(oa_verdict(oa, f"prompt {i}").choices[0].message.content) for i in range(8)]
    assert any(o != first for o in others)
    scores = {o["helpfulness"] for o in others}
    assert len(scores) > 1


# -- recording & concurrency ------------------------------------------------------------------------


def test_it_records_requests(server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic) -> None:
    oa_verdict(oa, "first item")
    an_verdict(an, "second item")
    assert server.count() == 2
    assert server.count("openai") == server.count("anthropic") == 1
    openai_req, anthropic_req = server.requests
    assert openai_req.provider == "openai" and openai_req.path == "/v1/chat/completions"
    assert openai_req.json["messages"] == chat_messages("first item")
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
            await client.chat.completions.create(model="m", messages=chat_messages("warm-up"))
            started = time.perf_counter()
            results = await asyncio.gather(
                *(
                    client.chat.completions.create(
                        model="m", messages=chat_messages(f"item {i}"), response_format=response_format()
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
        [sys.executable, "-m", "testbed.llm_server", "--port", "0", "--latency-ms", "10"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
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
