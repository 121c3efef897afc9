"""Anthropic messages with a forced tool call whose input schema is the rubric's verdict schema.

Through the real ``anthropic`` SDK, on its aiohttp transport (``DefaultAioHttpClient``, the
``anthropic[aiohttp]`` extra), sending the messages body with ``client.post("/v1/messages",
content=...)``: the SDK builds, authenticates and versions the request and raises its
``APIStatusError`` on non-2xx answers, without walking the verdict schema through its
typed-parameter transform (see openai_chat.py for the figures).
"""

from __future__ import annotations

import json

import anthropic

from judges.providers.base import Answer, BodyTemplates, Prompt, endpoint_url, json_body, post_json, sdk_timeout


class MessagesBodies:
    """The messages request body and the reading of its answer, without a client: live calls
    (``AnthropicMessages``) and batch requests (judges/providers/batches_anthropic.py) share them."""

    modes = ("tools",)

    def __init__(self) -> None:
        self.bodies = BodyTemplates()

    def request_body(
        self, *, prompt: Prompt, model: str, temperature: float, max_output_tokens: int, **_: object
    ) -> bytes:
        name = prompt.schema_name

        def build(user: str) -> dict:
            messages = [{"role": "user", "content": user}]
            for answer, problem in prompt.repair:
                messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": problem}]
            return {
                "model": model,
                "system": prompt.system,
                "messages": messages,
                "max_tokens": max_output_tokens,
                "temperature": temperature,
                "tools": [
                    {"name": name, "description": "Record the verdict for the item.", "input_schema": prompt.schema}
                ],
                "tool_choice": {"type": "tool", "name": name},
            }

        if prompt.repair:  # rare (an invalid answer): not worth a template
            return json_body(build(prompt.user))
        key = (prompt.system, name, model, temperature, max_output_tokens)
        return self.bodies.body(key=key, schema=prompt.schema, user=prompt.user, build=build)

    def answer_read(self, body: dict, *, prompt: Prompt, max_output_tokens: int, **_: object) -> Answer:
        """The Answer in a messages response body."""
        name = prompt.schema_name
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
            return Answer(
                "max_tokens", None, raw, detail=f"output hit max_output_tokens ({max_output_tokens})", **tokens
            )
        if tool_input is None:
            return Answer("complete", None, raw, detail="the model did not call the verdict tool", **tokens)
        return Answer("complete", tool_input, raw, **tokens)


class AnthropicMessages(MessagesBodies):
    def __init__(self, *, base_url: str | None, api_key: str, timeout: float) -> None:
        super().__init__()
        self.client = anthropic.AsyncAnthropic(
            base_url=base_url or None,
            api_key=api_key,
            max_retries=0,
            timeout=sdk_timeout(timeout),
            # No redirects: an allowed host must not be able to send the worker elsewhere (SSRF).
            http_client=anthropic.DefaultAioHttpClient(timeout=sdk_timeout(timeout), follow_redirects=False),
        )
        self.url = endpoint_url(self.client, "/v1/messages")

    async def answer(
        self, *, prompt: Prompt, model: str, temperature: float, max_output_tokens: int, **_: object
    ) -> Answer:
        payload = self.request_body(
            prompt=prompt, model=model, temperature=temperature, max_output_tokens=max_output_tokens
        )
        body = await post_json(self.client, self.url, payload)
        return self.answer_read(body, prompt=prompt, max_output_tokens=max_output_tokens)

    async def aclose(self) -> None:
        await self.client.close()
