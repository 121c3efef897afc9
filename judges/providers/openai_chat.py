"""OpenAI chat completions with strict JSON-schema output; also vLLM, Ollama and LM Studio, which
speak the same API (``openai_compatible``: ``max_tokens`` instead of ``max_completion_tokens``).

Through the real ``openai`` SDK, with two choices made for CPU (a run keeps tens of calls in
flight per process, and the SDK's own request path used to be most of a verdict's cost):

- its aiohttp transport (``DefaultAioHttpClient``, the ``openai[aiohttp]`` extra) instead of the
  default pure-Python httpx2/httpcore/h11 stack;
- ``client.post("/chat/completions", content=...)``, the SDK's documented way to send a body it
  does not type-check: the SDK still builds the request, authenticates, sets its headers and
  turns non-2xx answers into ``APIStatusError``, but skips walking our (large, deeply nested)
  JSON schema through its typed-parameter transform, which alone was ~40 % of a call's CPU. The
  body is the chat-completions body, field for field, that ``chat.completions.create`` sends.

The response is parsed from its JSON for the few fields needed (no pydantic models).
"""

from __future__ import annotations

import json

import openai

from judges.providers.base import Answer, BodyTemplates, Prompt, endpoint_url, post_json, sdk_timeout


class OpenAIChat:
    def __init__(self, *, base_url: str | None, api_key: str, timeout: float, compatible: bool = False) -> None:
        self.compatible = compatible
        self.budget_field = "max_tokens" if compatible else "max_completion_tokens"
        self.bodies = BodyTemplates()
        # No SDK retries: the executor retries with backoff, jitter, retry-after and a shared rate limit.
        self.client = openai.AsyncOpenAI(
            base_url=base_url or None,
            api_key=api_key or "unused",
            max_retries=0,
            timeout=sdk_timeout(timeout),
            # No redirects: an allowed host must not be able to send the worker elsewhere (SSRF).
            http_client=openai.DefaultAioHttpClient(timeout=sdk_timeout(timeout), follow_redirects=False),
        )
        self.url = endpoint_url(self.client, "/chat/completions")

    def request_body(self, *, prompt: Prompt, model: str, temperature: float, max_output_tokens: int) -> bytes:
        def build(user: str) -> dict:
            return {
                "model": model,
                "messages": [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}],
                "temperature": temperature,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": prompt.schema_name, "strict": True, "schema": prompt.schema},
                },
                self.budget_field: max_output_tokens,
            }

        key = (prompt.system, prompt.schema_name, model, temperature, max_output_tokens)
        return self.bodies.body(key=key, schema=prompt.schema, user=prompt.user, build=build)

    async def answer(self, *, prompt: Prompt, model: str, temperature: float, max_output_tokens: int) -> Answer:
        payload = self.request_body(
            prompt=prompt, model=model, temperature=temperature, max_output_tokens=max_output_tokens
        )
        body = await post_json(self.client, self.url, payload)
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
            return Answer(
                "max_tokens",
                None,
                content or "",
                detail=f"output hit max_output_tokens ({max_output_tokens})",
                **tokens,
            )
        if not isinstance(content, str):
            return Answer("complete", None, json.dumps(message)[:20_000], detail="no message content", **tokens)
        try:
            data = json.loads(content)
        except ValueError:
            return Answer("complete", None, content, detail="the output is not JSON", **tokens)
        return Answer("complete", data, content, **tokens)

    async def aclose(self) -> None:
        await self.client.close()
