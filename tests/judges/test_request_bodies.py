"""Request bodies are built from a template per chunk (only the user message varies): every body
must still be exactly the JSON the provider's API expects for that prompt."""

import asyncio
import contextlib
import json

import anthropic
import httpx2
import openai
import pytest

from judges.providers import AnthropicMessages, OpenAIChat, Prompt

SCHEMA = {"type": "object", "properties": {"score": {"type": "integer", "minimum": 1}}, "required": ["score"]}
USERS = ['<item_data id="1">\n{"prompt": "Say \\"hi\\""}\n</item_data id="1">', "Ünïcode — 日本語 \u2028 tab\t", ""]


def _expected(provider: str, prompt: Prompt, *, compatible=False) -> dict:
    if provider == "anthropic":
        return {
            "model": "m",
            "system": prompt.system,
            "messages": [{"role": "user", "content": prompt.user}],
            "max_tokens": 300,
            "temperature": 0.5,
            "tools": [
                {
                    "name": "record_verdict",
                    "description": "Record the verdict for the item.",
                    "input_schema": prompt.schema,
                }
            ],
            "tool_choice": {"type": "tool", "name": "record_verdict"},
        }
    return {
        "model": "m",
        "messages": [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}],
        "temperature": 0.5,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "record_verdict", "strict": True, "schema": prompt.schema},
        },
        "max_tokens" if compatible else "max_completion_tokens": 300,
    }


@pytest.mark.parametrize(("provider", "compatible"), [("openai", False), ("openai", True), ("anthropic", False)])
def test_every_body_is_the_full_request_for_its_prompt(provider, compatible):
    if provider == "anthropic":
        client = AnthropicMessages(base_url="http://127.0.0.1:9", api_key="k", timeout=5)
    else:
        client = OpenAIChat(base_url="http://127.0.0.1:9/v1", api_key="k", timeout=5, compatible=compatible)
    other_schema = json.loads(json.dumps(SCHEMA))  # equal, but another chunk's object
    other_schema["properties"]["score"]["maximum"] = 5
    prompts = [Prompt(system="Rate it. «strict»", user=u, schema=SCHEMA) for u in USERS]
    prompts += [Prompt(system="Rate it. «strict»", user=USERS[0], schema=other_schema)]
    prompts += [Prompt(system="Another rubric.", user=USERS[1], schema=SCHEMA)]
    for prompt in prompts * 2:  # the second round comes from the templates
        body = client.request_body(prompt=prompt, model="m", temperature=0.5, max_output_tokens=300)
        assert json.loads(body) == _expected(provider, prompt, compatible=compatible)


@pytest.mark.parametrize(
    ("provider", "suffix", "path"),
    [
        ("openai", "/v1", "/chat/completions"),
        ("openai", "/v1/", "/chat/completions"),
        ("openai", "/proxy/openai/v1", "/chat/completions"),
        ("anthropic", "", "/v1/messages"),
        ("anthropic", "/", "/v1/messages"),
        ("anthropic", "/proxy/anthropic", "/v1/messages"),
    ],
)
def test_calls_go_where_the_sdk_itself_would_send_them(llm, provider, suffix, path):
    """The endpoint URL is joined to base_url once per client; it must be the URL the SDK builds
    from the relative path on every call, whatever shape base_url has."""
    cls = AnthropicMessages if provider == "anthropic" else OpenAIChat
    prompt = Prompt(system="Rate it.", user="item", schema=SCHEMA)

    async def both() -> None:
        client = cls(base_url=llm.url + suffix, api_key="k", timeout=5)
        body = client.request_body(prompt=prompt, model="m", temperature=0.0, max_output_tokens=300)
        for target in (path, client.url):  # the SDK's own join, then ours
            # The fake routes only the standard paths (404 otherwise): what matters is the path it saw.
            with contextlib.suppress(openai.NotFoundError, anthropic.NotFoundError):
                await client.client.post(target, cast_to=httpx2.Response, content=body)
        await client.aclose()

    asyncio.run(both())
    seen = [r.path for r in llm.requests]
    assert len(seen) == 2 and seen[0] == seen[1]
    assert seen[0].endswith(path) and seen[0].startswith(suffix.rstrip("/") + "/")
