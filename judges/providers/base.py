"""The one small interface every provider module implements, and the error vocabulary shared by them.

A provider turns a prompt and a JSON schema into an ``Answer``: the parsed object (or None), the raw
text exactly as received, why generation stopped, and token usage. It never retries, never
validates scores and never touches the database; the executor does those.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anthropic
import httpx2
import openai

Stop = Literal["complete", "truncated", "refusal", "content_filter"]


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str
    schema: dict
    schema_name: str = "record_verdict"


@dataclass(frozen=True)
class Answer:
    stop: Stop
    data: Any  # the parsed JSON object, or None when the text was not JSON
    raw: str
    input_tokens: int = 0
    output_tokens: int = 0
    detail: str = ""


class JudgeProvider(Protocol):
    async def answer(self, *, prompt: Prompt, model: str, temperature: float, max_output_tokens: int) -> Answer: ...

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


def call_error(exc: BaseException) -> CallError:
    if isinstance(exc, _STATUS_ERRORS):
        status = exc.status_code
        body = ""
        try:
            body = exc.response.text[:2000]
        except Exception:  # a streamed or closed response has no text; the status says enough
            body = ""
        reason = f"HTTP {status} from the provider: {getattr(exc, 'message', '') or body}"[:500]
        if status in RETRYABLE_STATUSES:
            return CallError(True, reason, retry_after_seconds(exc.response.headers), raw=body)
        return CallError(False, reason, fatal=status in FATAL_STATUSES, raw=body)
    if isinstance(exc, openai.APITimeoutError | anthropic.APITimeoutError | httpx2.TimeoutException | TimeoutError):
        return CallError(True, "the request timed out")
    if isinstance(exc, _CONNECTION_ERRORS):
        return CallError(True, f"connection error: {exc.__class__.__name__}")
    raise exc
