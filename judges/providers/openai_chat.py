"""OpenAI chat completions with strict JSON-schema output; also vLLM, Ollama and LM Studio, which
speak the same API (``openai_compatible``: ``max_tokens`` instead of ``max_completion_tokens``)."""

from __future__ import annotations

import json

import httpx2
import openai

from judges.providers.base import Answer, Prompt


class OpenAIChat:
    def __init__(self, *, base_url: str | None, api_key: str, timeout: float, compatible: bool = False) -> None:
        self.compatible = compatible
        # No SDK retries: the executor retries with backoff, jitter, retry-after and a shared rate limit.
        self.client = openai.AsyncOpenAI(
            base_url=base_url or None,
            api_key=api_key or "unused",
            max_retries=0,
            timeout=httpx2.Timeout(timeout, connect=min(10.0, timeout)),
        )

    async def answer(self, *, prompt: Prompt, model: str, temperature: float, max_output_tokens: int) -> Answer:
        budget = {"max_tokens" if self.compatible else "max_completion_tokens": max_output_tokens}
        # with_raw_response: we parse the few fields we need from the JSON ourselves instead of
        # building the SDK's pydantic models (a large share of the per-call CPU at 64 in flight).
        response = await self.client.chat.completions.with_raw_response.create(
            model=model,
            messages=[{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}],
            temperature=temperature,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": prompt.schema_name, "strict": True, "schema": prompt.schema},
            },
            **budget,
        )
        body = json.loads(response.http_response.content)
        usage = body.get("usage") or {}
        tokens = {"input_tokens": usage.get("prompt_tokens") or 0, "output_tokens": usage.get("completion_tokens") or 0}
        choice = (body.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        content = message.get("content")
        finish = choice.get("finish_reason")
        if message.get("refusal"):
            return Answer("refusal", None, message["refusal"], detail="the model refused", **tokens)
        if finish == "content_filter":
            return Answer("content_filter", None, content or "", detail="stopped by the content filter", **tokens)
        if finish == "length":
            return Answer("truncated", None, content or "", detail="output hit max_output_tokens", **tokens)
        if not isinstance(content, str):
            return Answer("complete", None, json.dumps(message)[:20_000], detail="no message content", **tokens)
        try:
            data = json.loads(content)
        except ValueError:
            return Answer("complete", None, content, detail="the output is not JSON", **tokens)
        return Answer("complete", data, content, **tokens)

    async def aclose(self) -> None:
        await self.client.close()
