"""OpenAI chat completions; also vLLM, Ollama, llama.cpp, LM Studio and TGI, which speak the same
API (``openai_compatible``: ``max_tokens`` instead of ``max_completion_tokens``).

Four output modes (docs/judges.md), because servers differ in what they accept:
``json_schema`` (strict structured output), ``json_object`` (the schema in the prompt, plus
llama.cpp's own ``response_format.schema`` on compatible servers), ``tools`` (a forced function
call whose parameters are the schema) and ``prompt`` (plain text; the JSON is taken from the
answer). The executor chooses the mode; this module only builds and reads the bodies.

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

from judges.providers.base import Answer, BodyTemplates, Prompt, endpoint_url, json_body, post_json, sdk_timeout


class ChatBodies:
    """The chat-completions request body and the reading of its answer, without a client: live
    calls (``OpenAIChat``) and batch lines (judges/providers/batches_openai.py) share them, so a
    batch sends exactly what a live call would and its answers are read the same way."""

    modes = ("json_schema", "json_object", "tools", "prompt")

    def __init__(self, *, compatible: bool = False) -> None:
        self.compatible = compatible
        self.budget_field = "max_tokens" if compatible else "max_completion_tokens"
        self.bodies = BodyTemplates()

    def request_body(
        self,
        *,
        prompt: Prompt,
        model: str,
        temperature: float,
        max_output_tokens: int,
        mode: str = "json_schema",
        logprobs: bool = False,
    ) -> bytes:
        system = prompt.system + schema_instructions(mode=mode, schema=prompt.schema)

        def build(user: str) -> dict:
            messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
            for answer, problem in prompt.repair:
                messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": problem}]
            body: dict = {"model": model, "messages": messages, "temperature": temperature}
            if mode == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": prompt.schema_name, "strict": True, "schema": prompt.schema},
                }
            elif mode == "json_object":
                # llama.cpp's server (and llama-cpp-python) constrain the output to ``schema`` here.
                extension = {"schema": grammar_schema(prompt.schema)} if self.compatible else {}
                body["response_format"] = {"type": "json_object", **extension}
            elif mode == "tools":
                body["tools"] = [
                    {
                        "type": "function",
                        "function": {
                            "name": prompt.schema_name,
                            "description": "Record the verdict for the item.",
                            "parameters": prompt.schema,
                        },
                    }
                ]
                body["tool_choice"] = {"type": "function", "function": {"name": prompt.schema_name}}
            if logprobs and mode != "tools":
                body["logprobs"], body["top_logprobs"] = True, TOP_LOGPROBS
            body[self.budget_field] = max_output_tokens
            return body

        if prompt.repair:  # rare (an invalid answer): not worth a template
            return json_body(build(prompt.user))
        key = (system, prompt.schema_name, model, temperature, max_output_tokens, mode, logprobs)
        return self.bodies.body(key=key, schema=prompt.schema, user=prompt.user, build=build)

    def answer_read(self, body: dict, *, prompt: Prompt, mode: str, max_output_tokens: int) -> Answer:
        """The Answer in a chat-completions response body."""
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
        if mode == "tools":
            calls = message.get("tool_calls") or []
            arguments = next(
                (
                    (c.get("function") or {}).get("arguments")
                    for c in calls
                    if (c.get("function") or {}).get("name") == prompt.schema_name
                ),
                None,
            )
            if isinstance(arguments, str):
                content = arguments
            elif isinstance(arguments, dict):
                content = json.dumps(arguments)
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
        logprob_tokens = choice.get("logprobs")
        logprob_tokens = logprob_tokens.get("content") if isinstance(logprob_tokens, dict) else None
        try:
            data = json.loads(content)
        except ValueError:
            data = json_in_text(content) if mode in ("prompt", "json_object", "tools") else None
            if data is None:
                return Answer("complete", None, content, detail="the output is not JSON", **tokens)
        return Answer("complete", data, content, token_logprobs=logprob_tokens, **tokens)


class OpenAIChat(ChatBodies):
    def __init__(self, *, base_url: str | None, api_key: str, timeout: float, compatible: bool = False) -> None:
        super().__init__(compatible=compatible)
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

    async def answer(
        self,
        *,
        prompt: Prompt,
        model: str,
        temperature: float,
        max_output_tokens: int,
        mode: str = "json_schema",
        logprobs: bool = False,
    ) -> Answer:
        payload = self.request_body(
            prompt=prompt,
            model=model,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
            mode=mode,
            logprobs=logprobs,
        )
        body = await post_json(self.client, self.url, payload)
        return self.answer_read(body, prompt=prompt, mode=mode, max_output_tokens=max_output_tokens)

    async def aclose(self) -> None:
        await self.client.close()


TOP_LOGPROBS = 5


def schema_instructions(*, mode: str, schema: dict) -> str:
    """What the system prompt adds when the server does not enforce the schema by itself."""
    if mode not in ("json_object", "prompt"):
        return ""
    return (
        "\n\nAnswer with one JSON object and nothing else (no prose, no code fence). It must match this "
        "JSON schema exactly, including the allowed values and ranges:\n" + json.dumps(schema, ensure_ascii=False)
    )


def json_in_text(text: str):
    """The first JSON object in ``text`` (a fenced block, or prose around it), else None."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def grammar_schema(schema):
    """The schema for llama.cpp's grammar: its JSON-schema converter ignores integer ``minimum`` /
    ``maximum`` (a model then answers 10 on a 1..5 scale) but honours ``enum``, so a bounded
    integer with at most 100 points also lists them."""
    if isinstance(schema, list):
        return [grammar_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: grammar_schema(v) for k, v in schema.items()}
    types = out.get("type") if isinstance(out.get("type"), list) else [out.get("type")]
    low, high = out.get("minimum"), out.get("maximum")
    if "integer" in types and isinstance(low, int) and isinstance(high, int) and 0 <= high - low < 100:
        out["enum"] = [*range(low, high + 1), *([None] if "null" in types else [])]
    return out
