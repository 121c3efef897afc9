"""The fake LLM server's scripted replies (errors, truncation, refusals, delays, disconnects), its
responder hook and seeded faults, as the real openai / anthropic SDKs see them."""

from __future__ import annotations

import json
import time

import anthropic
import jsonschema
import openai
import pytest

from testbed import FakeLLMServer, FakeRequest, Reply
from tests.testbed.conftest import (
    SCHEMA,
    an_verdict,
    oa_verdict,
)

# -- scripted replies -------------------------------------------------------------------------------


def test_it_surfaces_a_scripted_429_with_retry_after(server: FakeLLMServer, oa: openai.OpenAI) -> None:
    server.script(Reply.error(429, headers={"retry-after": "0.25"}))
    with pytest.raises(openai.RateLimitError) as info:
        oa_verdict(oa)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "0.25"
    assert info.value.body["code"] == "rate_limit_exceeded"
    assert server.count() == 1  # max_retries=0: no SDK retry
    oa_verdict(oa)  # script consumed; back to default answers


def test_it_surfaces_anthropic_529_overloaded(server: FakeLLMServer, an: anthropic.Anthropic) -> None:
    server.script(Reply.error(529))
    with pytest.raises(anthropic.APIStatusError) as info:
        an_verdict(an)
    assert info.value.status_code == 529
    assert isinstance(info.value, anthropic.InternalServerError)
    assert info.value.body["error"]["type"] == "overloaded_error"
    assert info.value.response.headers["retry-after"] == "1"


def test_it_surfaces_500_as_internal_server_error(
    server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic
) -> None:
    server.script(Reply.error(500), Reply.error(500))
    with pytest.raises(openai.InternalServerError):
        oa_verdict(oa)
    with pytest.raises(anthropic.InternalServerError) as info:
        an_verdict(an)
    assert info.value.body["error"]["type"] == "api_error"


def test_it_truncates(server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic) -> None:
    server.script(Reply.truncated(), Reply.truncated(), Reply.truncated(as_text=True))
    choice = oa_verdict(oa).choices[0]
    assert choice.finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(choice.message.content)
    message = an_verdict(an)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "tool_use"
    assert set(message.content[0].input) < set(SCHEMA["required"])
    text_message = an_verdict(an)
    assert text_message.stop_reason == "max_tokens"
    assert text_message.content[0].type == "text"


def test_it_refuses(server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic) -> None:
    server.script(Reply.refusal("No."), Reply.refusal())
    message = oa_verdict(oa).choices[0].message
    assert message.content is None
    assert message.refusal == "No."
    anthropic_message = an_verdict(an)
    assert anthropic_message.stop_reason == "refusal"
    assert anthropic_message.stop_details.type == "refusal"


def test_it_reports_content_filter(server: FakeLLMServer, oa: openai.OpenAI) -> None:
    server.script(Reply.content_filter())
    choice = oa_verdict(oa).choices[0]
    assert choice.finish_reason == "content_filter"
    assert choice.message.content is None


def test_it_returns_scripted_json_and_text_verbatim(
    server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic
) -> None:
    out_of_range = {"factual": "yes", "tone": "rude", "helpfulness": 99}
    server.script(Reply.json(out_of_range), Reply.text("Sure! The score is 4."), Reply.json(out_of_range))
    assert json.loads(oa_verdict(oa).choices[0].message.content) == out_of_range
    assert oa_verdict(oa).choices[0].message.content == "Sure! The score is 4."
    assert an_verdict(an).content[0].input == out_of_range


def test_it_times_out_a_delayed_reply(server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic) -> None:
    server.script(Reply.delay(3.0), Reply.delay(3.0, then=Reply.error(503)))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        oa_verdict(oa, timeout=0.3)
    with pytest.raises(anthropic.APITimeoutError):
        an_verdict(an, timeout=0.3)
    assert time.monotonic() - started < 2.0
    oa_verdict(oa)  # server still healthy while the abandoned replies sleep


def test_it_disconnects(server: FakeLLMServer, oa: openai.OpenAI) -> None:
    server.script(Reply.disconnect())
    with pytest.raises(openai.APIConnectionError):
        oa_verdict(oa)


def test_it_scripts_per_provider_and_uses_a_responder(
    server: FakeLLMServer, oa: openai.OpenAI, an: anthropic.Anthropic
) -> None:
    server.script(Reply.error(503), provider="anthropic")
    oa_verdict(oa)  # the anthropic-only script does not apply
    with pytest.raises(anthropic.InternalServerError):
        an_verdict(an)

    def responder(request: FakeRequest) -> Reply | None:
        return Reply.json({"echo": request.last_user_text}) if "echo" in request.last_user_text else None

    server.responder = responder
    assert json.loads(oa_verdict(oa, "echo me").choices[0].message.content) == {"echo": "echo me"}
    jsonschema.validate(json.loads(oa_verdict(oa, "plain").choices[0].message.content), SCHEMA)
    assert server.pending() == 0


def test_it_injects_seeded_faults(server: FakeLLMServer, oa: openai.OpenAI) -> None:
    def run() -> list[int]:
        server.reset()
        server.fault_rate(status=429, rate=0.3, retry_after=0.2, seed=7)
        statuses = []
        for i in range(40):
            try:
                oa_verdict(oa, f"p{i}")
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
