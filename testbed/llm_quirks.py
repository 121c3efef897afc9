"""Behaviours of real OpenAI-compatible servers that the fake LLM server can imitate.

``LLAMA_CPP`` is what llama-cpp-python 0.3.x's server (``python -m llama_cpp.server``) was seen
doing with SmolLM2-135M-Instruct (issue 21): it refuses ``response_format`` of type
``json_schema`` with an HTTP 500 whose body is a validation message naming the field; it takes
``json_object`` with its own ``schema`` field but its grammar ignores integer ``minimum`` /
``maximum`` (so a model can answer 10 on a 1..5 scale; an ``enum`` it honours); it serves one request at a time (the
rest wait in its queue); and it returns ``logprobs`` / ``top_logprobs`` on chat completions.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Quirks:
    refuse_json_schema: bool = False
    # Fraction of answers (by a hash of the prompt) whose bounded integers come out of bounds on
    # the first turn; an answer after a repair turn stays in bounds, as a model told so would.
    out_of_bounds: float = 0.0
    one_at_a_time: bool = False
    logprobs: bool = True  # answer logprobs when the request asks for them


LLAMA_CPP = Quirks(refuse_json_schema=True, out_of_bounds=0.4, one_at_a_time=True)

JSON_SCHEMA_REFUSAL = (
    "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n"
    "  Input should be 'text' or 'json_object' [type=literal_error, input_value='json_schema', input_type=str]"
)


def refuses(body: dict, quirks: Quirks | None) -> str | None:
    """The error message a server with ``quirks`` answers ``body`` with (HTTP 500), or None."""
    fmt = body.get("response_format")
    if quirks and quirks.refuse_json_schema and isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return JSON_SCHEMA_REFUSAL
    return None


def _fraction(seed: str) -> float:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") / 2**64


def unbounded(answer: Any, schema: Any, *, seed: str, repaired: bool, quirks: Quirks | None) -> Any:
    """``answer`` with its bounded integers pushed past their maximum, for some prompts."""
    if not quirks or repaired or _fraction(seed) >= quirks.out_of_bounds:
        return answer
    if isinstance(answer, dict) and isinstance(schema, dict):
        props = schema.get("properties") or {}
        return {k: unbounded(v, props.get(k), seed=seed, repaired=False, quirks=quirks) for k, v in answer.items()}
    # The grammar honours enum, not minimum/maximum.
    bounded = isinstance(schema, dict) and isinstance(schema.get("maximum"), int) and "enum" not in schema
    if bounded and isinstance(answer, int) and not isinstance(answer, bool):
        return schema["maximum"] * 2
    return answer


_TOKEN = re.compile(r'\s+|[A-Za-z_]+|\d+|"|.', re.DOTALL)


def token_logprobs(content: str) -> list[dict]:
    """OpenAI-shaped ``logprobs.content`` for ``content``: each integer token gets its neighbours
    as alternatives, each true/false the other, so scale points have a distribution to read."""
    tokens = []
    for match in _TOKEN.finditer(content):
        text = match.group()
        top = [{"token": text, "logprob": -0.2}]
        if text.isdigit():
            top += [{"token": str(int(text) + d), "logprob": -2.5 - abs(d)} for d in (-1, 1) if int(text) + d >= 0]
        elif text in ("true", "false"):
            top.append({"token": "false" if text == "true" else "true", "logprob": -3.0})
        spelled = list(text.encode("utf-8", "replace"))
        tokens.append({"token": text, "logprob": -0.2, "bytes": spelled, "top_logprobs": top})
    return tokens


def schema_in_prompt(system: str) -> dict | None:
    """The JSON schema a judge wrote into its system prompt (json_object without a schema field,
    or the plain-text mode), so the fake can answer it as a model following the prompt would."""
    marker = system.rfind("JSON schema")
    start = system.find("{", marker) if marker != -1 else -1
    if start == -1:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(system, start)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
