"""The one small interface every provider module implements, and the error vocabulary shared by them.

A provider turns a prompt and a JSON schema into an ``Answer``: the parsed object (or None), the raw
text exactly as received, why generation stopped, and token usage. It never retries, never
validates scores and never touches the database; the executor does those.
"""

from __future__ import annotations

import email.utils
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anthropic
import httpx2
import openai

# "max_tokens": the provider says generation stopped at the output budget (OpenAI finish_reason
# "length", Anthropic stop_reason "max_tokens"). Output cut off without that stop is just invalid.
Stop = Literal["complete", "max_tokens", "refusal", "content_filter"]


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str
    schema: dict
    schema_name: str = "record_verdict"
    # Follow-up turns after an invalid answer: (the model's answer, what was wrong with it).
    repair: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Answer:
    stop: Stop
    data: Any  # the parsed JSON object, or None when the text was not JSON
    raw: str
    input_tokens: int = 0
    output_tokens: int = 0
    detail: str = ""
    # OpenAI-shaped ``choices[0].logprobs.content`` (token, logprob, top_logprobs), when returned.
    token_logprobs: list | None = None


def json_body(body: dict) -> bytes:
    """The request body as the SDKs would encode it (compact UTF-8 JSON)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


_SLOT = f"accord-user-message-{secrets.token_hex(8)}"
_SLOT_JSON = json.dumps(_SLOT).encode()


class BodyTemplates:
    """Request bodies whose only varying part is the user message, encoded once per template.

    The calls of a chunk share the model, settings, system prompt and verdict schema (several
    kilobytes of JSON); only the item's user message differs. Encoding the whole body per call
    was a few percent of a verdict's CPU; here the rest is encoded once, split around a random
    placeholder, and each call only encodes its user message between the two halves.

    ``key`` holds what the body depends on besides ``schema`` and the user message; ``schema`` is
    compared by identity (a chunk builds it once) and kept alive by the entry, so its id is not
    reused while cached.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._entries: dict[tuple, tuple[dict, bytes, bytes]] = {}

    def body(self, *, key: tuple, schema: dict, user: str, build: Callable[[str], dict]) -> bytes:
        entry = self._entries.get((id(schema), *key))
        if entry is None or entry[0] is not schema:
            prefix, slot, suffix = json_body(build(_SLOT)).partition(_SLOT_JSON)
            if not slot:  # unreachable unless build() dropped the user message: encode it whole
                return json_body(build(user))
            if len(self._entries) >= self.size:
                self._entries.clear()
            entry = self._entries[(id(schema), *key)] = (schema, prefix, suffix)
        return entry[1] + json.dumps(user, ensure_ascii=False).encode() + entry[2]


async def post_json(client: openai.AsyncOpenAI | anthropic.AsyncAnthropic, url: str, payload: bytes) -> dict:
    """POST a prebuilt JSON body through the SDK's own client (its auth headers, retries and
    error types) and decode the answer; the body is never rebuilt by the SDK's model layer."""
    response = await client.post(url, cast_to=httpx2.Response, content=payload)
    return json.loads(response.content)


def endpoint_url(client: openai.AsyncOpenAI | anthropic.AsyncAnthropic, path: str) -> str:
    """``path`` joined to the client's ``base_url`` exactly as the SDKs join a relative path, done
    once per client: handed a relative path, the SDK parses and rebuilds the URL on every call
    (about 4 % of a verdict's CPU in the judge-run benchmark); an absolute one it takes as is."""
    base = client.base_url
    return str(base.copy_with(raw_path=base.raw_path + path.lstrip("/").encode()))


def sdk_timeout(seconds: float) -> httpx2.Timeout:
    return httpx2.Timeout(seconds, connect=min(10.0, seconds))


class JudgeProvider(Protocol):
    # The output modes this provider can send, best first (judges.models.OutputMode).
    modes: tuple[str, ...]

    async def answer(
        self,
        *,
        prompt: Prompt,
        model: str,
        temperature: float,
        max_output_tokens: int,
        mode: str,
        logprobs: bool = False,
    ) -> Answer: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class CallError:
    """What went wrong with one HTTP call, and whether trying again can help."""

    retryable: bool
    reason: str
    retry_after: float | None = None
    # The provider will refuse every request the same way (bad key, unknown model): stop the chunk.
    fatal: bool = False
    raw: str = ""
    # The server refused a request parameter (a mode's response_format, tools, logprobs): asking
    # the same way again cannot help; ``param`` is the one its message names, if any.
    refused: bool = False
    param: str = ""


RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
FATAL_STATUSES = frozenset({401, 402, 403, 404})
_STATUS_ERRORS = (openai.APIStatusError, anthropic.APIStatusError)
_CONNECTION_ERRORS = (openai.APIConnectionError, anthropic.APIConnectionError, httpx2.TransportError, TimeoutError)


def retry_after_seconds(headers: Any) -> float | None:
    """``retry-after-ms`` (OpenAI, Anthropic) wins over ``retry-after`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


# Request parameters a mode or an option adds, most specific first: a 4xx, or a 5xx (llama.cpp's
# server answers 500 to an unsupported response_format), whose message names one is a refusal.
REFUSABLE_PARAMS = (
    "top_logprobs",
    "logprobs",
    "json_schema",
    "json_object",
    "response_format",
    "tool_choice",
    "tools",
    "schema",
)


def refused_param(text: str) -> str:
    lowered = text.lower()
    return next((p for p in REFUSABLE_PARAMS if p in lowered), "")


def call_error(exc: BaseException) -> CallError:
    if isinstance(exc, _STATUS_ERRORS):
        status = exc.status_code
        body = ""
        try:
            body = exc.response.text[:2000]
        except Exception:  # a streamed or closed response has no text; the status says enough
            body = ""
        reason = f"HTTP {status} from the provider: {getattr(exc, 'message', '') or body}"[:500]
        param = refused_param(body or reason)
        if param and status in (400, 422, 500):
            return CallError(False, reason, raw=body, refused=True, param=param)
        if status in RETRYABLE_STATUSES:
            return CallError(True, reason, retry_after_seconds(exc.response.headers), raw=body)
        return CallError(False, reason, fatal=status in FATAL_STATUSES, raw=body)
    if isinstance(exc, openai.APITimeoutError | anthropic.APITimeoutError | httpx2.TimeoutException | TimeoutError):
        return CallError(True, "the request timed out")
    if isinstance(exc, _CONNECTION_ERRORS):
        return CallError(True, f"connection error: {exc.__class__.__name__}")
    raise exc
