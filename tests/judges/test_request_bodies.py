"""Request bodies are built from a template per chunk (only the user message varies): every body
must still be exactly the JSON the provider's API expects for that prompt."""

import json

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
