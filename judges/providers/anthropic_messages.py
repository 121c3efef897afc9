"""Anthropic messages with a forced tool call whose input schema is the rubric's verdict schema."""

from __future__ import annotations

import json

import anthropic
import httpx2

from judges.providers.base import Answer, Prompt


class AnthropicMessages:
    def __init__(self, *, base_url: str | None, api_key: str, timeout: float) -> None:
        self.client = anthropic.AsyncAnthropic(
            base_url=base_url or None,
            api_key=api_key,
            max_retries=0,
            timeout=httpx2.Timeout(timeout, connect=min(10.0, timeout)),
        )

    async def answer(self, *, prompt: Prompt, model: str, temperature: float, max_output_tokens: int) -> Answer:
        name = prompt.schema_name
        # anthropic 2.10's messages.create() has no `temperature` keyword: it goes in the body.
        response = await self.client.messages.with_raw_response.create(
            model=model,
            system=prompt.system,
            messages=[{"role": "user", "content": prompt.user}],
            max_tokens=max_output_tokens,
            tools=[{"name": name, "description": "Record the verdict for the item.", "input_schema": prompt.schema}],
            tool_choice={"type": "tool", "name": name},
            extra_body={"temperature": temperature},
        )
        body = json.loads(response.http_response.content)
        usage = body.get("usage") or {}
        tokens = {"input_tokens": usage.get("input_tokens") or 0, "output_tokens": usage.get("output_tokens") or 0}
        blocks = body.get("content") or []
        tool_input = next(
            (b.get("input") for b in blocks if b.get("type") == "tool_use" and b.get("name") == name), None
        )
        text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
        raw = json.dumps(tool_input) if tool_input is not None else text
        stop = body.get("stop_reason")
        if stop == "refusal":
            details = body.get("stop_details") or {}
            return Answer(
                "refusal", None, raw or str(details.get("explanation") or ""), detail="the model refused", **tokens
            )
        if stop == "max_tokens":
            return Answer("truncated", None, raw, detail="output hit max_output_tokens", **tokens)
        if tool_input is None:
            return Answer("complete", None, raw, detail="the model did not call the verdict tool", **tokens)
        return Answer("complete", tool_input, raw, **tokens)

    async def aclose(self) -> None:
        await self.client.close()
