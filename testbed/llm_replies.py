"""Reply kinds, recorded requests and provider-shaped response bodies for the fake LLM server."""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from testbed.llm_quirks import Quirks, schema_in_prompt, token_logprobs, unbounded
from testbed.llm_schema import example_value

Provider = Literal["openai", "anthropic", "unknown"]

_DEFAULT = object()  # sentinel: "use the default retry-after header"

# OpenAI-style error (type, code) per status; Anthropic error.type per status.
_OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", None),
}
_ANTHROPIC_ERRORS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class FakeRequest:
    """One recorded HTTP request. ``json`` is the parsed body (None if it was not valid JSON)."""

    provider: Provider
    path: str
    headers: dict[str, str]
    json: Any
    received_at: float = field(default_factory=time.monotonic)

    @property
    def model(self) -> str | None:
        return self.json.get("model") if isinstance(self.json, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.json.get("messages") or []) if isinstance(self.json, dict) else []

    @property
    def system(self) -> str:
        """System prompt text (Anthropic ``system`` or OpenAI system/developer messages)."""
        if not isinstance(self.json, dict):
            return ""
        if self.provider == "anthropic":
            return _text_of(self.json.get("system"))
        return "\n".join(_text_of(m.get("content")) for m in self.messages if m.get("role") in ("system", "developer"))

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _text_of(message.get("content"))
        return ""

    @property
    def forced_function(self) -> dict[str, Any] | None:
        """OpenAI ``tools``: the function the request forces (``tool_choice``), else its first."""
        body = self.json if isinstance(self.json, dict) else {}
        functions = [t.get("function") for t in body.get("tools") or [] if isinstance(t, dict)]
        functions = [f for f in functions if isinstance(f, dict)]
        choice = ((body.get("tool_choice") or {}) if isinstance(body.get("tool_choice"), dict) else {}).get("function")
        for function in functions:
            if isinstance(choice, dict) and function.get("name") == choice.get("name"):
                return function
        return functions[0] if functions else None

    @property
    def repaired(self) -> bool:
        """The conversation already holds an answer of the model (a follow-up turn)."""
        return any(isinstance(m, dict) and m.get("role") == "assistant" for m in self.messages)

    @property
    def schema(self) -> dict[str, Any] | None:
        """The structured-output schema the caller asked for, if any."""
        body = self.json if isinstance(self.json, dict) else {}
        if self.provider == "openai":
            fmt = body.get("response_format") or {}
            if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
                return (fmt.get("json_schema") or {}).get("schema")
            if isinstance(fmt, dict) and fmt.get("type") == "json_object" and isinstance(fmt.get("schema"), dict):
                return fmt["schema"]  # llama.cpp's extension
            function = self.forced_function
            if function is not None:
                return function.get("parameters")
            return schema_in_prompt(self.system)  # json_object or plain text: the schema the prompt gives
        tool = forced_tool(body)
        if tool is not None:
            return tool.get("input_schema")
        fmt = (body.get("output_config") or {}).get("format") or {}
        return fmt.get("schema") if isinstance(fmt, dict) and fmt.get("type") == "json_schema" else None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The Anthropic tool the request forces (``tool_choice``), else its first tool."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    if not tools:
        return None
    choice = body.get("tool_choice") or {}
    if isinstance(choice, dict) and choice.get("type") == "tool":
        for tool in tools:
            if tool.get("name") == choice.get("name"):
                return tool
    return tools[0]


@dataclass(frozen=True)
class Reply:
    """What the server should do for one request. Build with the factory classmethods."""

    kind: Literal["default", "json", "text", "error", "truncated", "refusal", "content_filter", "disconnect"] = (
        "default"
    )
    value: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    sleep: float = 0.0  # seconds to wait before answering (on top of the server's global latency)

    @classmethod
    def default(cls) -> Reply:
        """The schema-derived deterministic answer (what you get with no scripting)."""
        return cls()

    @classmethod
    def json(cls, obj: Any) -> Reply:
        """Return ``obj`` as the structured answer verbatim, even if it violates the schema."""
        return cls(kind="json", value=obj)

    @classmethod
    def text(cls, raw: str) -> Reply:
        """Raw (typically non-JSON) assistant text; Anthropic gets a text block and no tool_use."""
        return cls(kind="text", value=raw)

    @classmethod
    def error(cls, status: int, body: Any = None, headers: Any = _DEFAULT, message: str | None = None) -> Reply:
        """HTTP error. ``body`` None -> provider-shaped error JSON; dict -> JSON; str/bytes -> raw.

        ``headers`` defaults to ``{"retry-after": "1"}``; pass ``{}`` for none.
        """
        hdrs = {"retry-after": "1"} if headers is _DEFAULT else dict(headers or {})
        return cls(kind="error", value=(body, message), status=status, headers=hdrs)

    @classmethod
    def truncated(cls, as_text: bool = False) -> Reply:
        """OpenAI: finish_reason "length" + half a JSON string. Anthropic: stop_reason "max_tokens" with a
        tool_use holding only the first half of the keys (``as_text=True``: a text block of half JSON)."""
        return cls(kind="truncated", value=as_text)

    @classmethod
    def refusal(cls, message: str = "I'm sorry, but I can't help with that request.") -> Reply:
        """OpenAI: content null + message.refusal. Anthropic: stop_reason "refusal" + stop_details."""
        return cls(kind="refusal", value=message)

    @classmethod
    def content_filter(cls) -> Reply:
        """OpenAI: finish_reason "content_filter", content null. Anthropic: same as ``refusal()``."""
        return cls(kind="content_filter")

    @classmethod
    def disconnect(cls) -> Reply:
        """Close the connection without any response (client sees a connection error)."""
        return cls(kind="disconnect")

    @classmethod
    def delay(cls, seconds: float, then: Reply | None = None) -> Reply:
        """Sleep ``seconds`` (on top of the global latency), then answer with ``then`` (default answer)."""
        base = then or cls()
        return cls(base.kind, base.value, base.status, base.headers, base.sleep + float(seconds))


@dataclass
class Rendered:
    status: int
    body: bytes
    headers: dict[str, str]


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _error_body(provider: Provider, status: int, message: str | None) -> dict[str, Any]:
    if provider == "anthropic":
        etype = _ANTHROPIC_ERRORS.get(status, "api_error")
        msg = message or ("Overloaded" if status == 529 else f"Fake {etype} ({status})")
        return {"type": "error", "error": {"type": etype, "message": msg}}
    etype, code = _OPENAI_ERRORS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    msg = message or f"Fake {etype} error (HTTP {status})"
    return {"error": {"message": msg, "type": etype, "param": None, "code": code}}


def default_answer(request: FakeRequest, vary_by_model: bool = False) -> Any:
    """The deterministic schema-derived answer for ``request`` (``{}`` when it has no schema)."""
    seed = request.last_user_text
    if vary_by_model:
        seed = f"{request.model}\x00{seed}"
    schema = request.schema
    return example_value(schema, seed) if isinstance(schema, dict) else {}


def render(request: FakeRequest, reply: Reply, vary_by_model: bool = False, quirks: Quirks | None = None) -> Rendered:
    """Turn ``reply`` into a provider-shaped HTTP response for ``request``."""
    request_id = "req_" + uuid.uuid4().hex[:24]
    headers = {"x-request-id": request_id, "request-id": request_id, **reply.headers}
    if reply.kind == "error":
        body, message = reply.value
        if body is None:
            body = _error_body(request.provider, reply.status, message)
        if isinstance(body, str):
            raw = body.encode()
        elif isinstance(body, bytes):
            raw = body
        else:
            raw = json.dumps(body).encode()
        return Rendered(reply.status, raw, headers)
    if request.provider == "anthropic":
        payload = _anthropic(request, reply, vary_by_model)
    else:
        payload = _openai(request, reply, vary_by_model, quirks)
    return Rendered(200, json.dumps(payload).encode(), headers)


def _answer(request: FakeRequest, reply: Reply, vary_by_model: bool) -> Any:
    return reply.value if reply.kind == "json" else default_answer(request, vary_by_model)


def _openai(request: FakeRequest, reply: Reply, vary_by_model: bool, quirks: Quirks | None = None) -> dict[str, Any]:
    body = request.json if isinstance(request.json, dict) else {}
    function = request.forced_function
    content: str | None
    refusal: str | None = None
    finish = "stop"
    if reply.kind == "text":
        content = str(reply.value)
    elif reply.kind == "truncated":
        full = json.dumps(default_answer(request, vary_by_model))
        content, finish = full[: max(1, len(full) // 2)], "length"
    elif reply.kind == "refusal":
        content, refusal = None, str(reply.value)
    elif reply.kind == "content_filter":
        content, finish = None, "content_filter"
    elif request.schema is None and not _wants_json_object(body):
        content = reply.value if reply.kind == "json" else "Fake completion."
        content = content if isinstance(content, str) else json.dumps(content)
    else:
        answer = _answer(request, reply, vary_by_model)
        if reply.kind != "json":
            seed = request.last_user_text
            answer = unbounded(answer, request.schema, seed=seed, repaired=request.repaired, quirks=quirks)
        content = json.dumps(answer)
        if function is None and request.json.get("response_format") is None and reply.kind != "json":
            content = f"Here is my verdict:\n```json\n{content}\n```"  # a model in plain-text mode
    tool_calls = None
    if function is not None and content is not None and finish == "stop":
        call = {"name": function.get("name"), "arguments": content}
        tool_calls = [{"id": "call_" + uuid.uuid4().hex[:24], "type": "function", "function": call}]
        content, finish = None, "tool_calls"
    n = body.get("n") if isinstance(body.get("n"), int) and body.get("n", 1) > 0 else 1
    message = {"role": "assistant", "content": content, "refusal": refusal, "annotations": []}
    if tool_calls:
        message["tool_calls"] = tool_calls
    logprobs = None
    # Scripted JSON is an answer verbatim: it comes without logprobs (tests that need them use the default).
    if body.get("logprobs") and content and reply.kind != "json" and (quirks is None or quirks.logprobs):
        logprobs = {"content": token_logprobs(content), "refusal": None}
    prompt_tokens = _tokens(json.dumps(body.get("messages") or []))
    completion_tokens = _tokens(content or refusal or json.dumps(tool_calls or "")) * n
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or "fake-model",
        "choices": [
            {"index": i, "message": dict(message), "logprobs": logprobs, "finish_reason": finish} for i in range(n)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fp_fake",
    }


def _wants_json_object(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") == "json_object"


def _anthropic(request: FakeRequest, reply: Reply, vary_by_model: bool) -> dict[str, Any]:
    body = request.json if isinstance(request.json, dict) else {}
    tool = forced_tool(body)
    tool_name = tool.get("name", "tool") if tool else None
    stop_details = None
    content: list[dict[str, Any]]

    def tool_use(data: Any) -> dict[str, Any]:
        return {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:24], "name": tool_name, "input": data}

    if reply.kind == "text":
        content, stop = [{"type": "text", "text": str(reply.value)}], "end_turn"
    elif reply.kind == "truncated":
        full = default_answer(request, vary_by_model)
        stop = "max_tokens"
        if reply.value or tool is None or not isinstance(full, dict):
            text = json.dumps(full)
            content = [{"type": "text", "text": text[: max(1, len(text) // 2)]}]
        else:
            keys = list(full)[: len(full) // 2]
            content = [tool_use({k: full[k] for k in keys})]
    elif reply.kind in ("refusal", "content_filter"):
        message = str(reply.value or "I can't help with that request.")
        content, stop = [], "refusal"
        stop_details = {"type": "refusal", "category": None, "explanation": message}
    elif tool is None and request.schema is not None:  # output_config.format structured output
        text = json.dumps(_answer(request, reply, vary_by_model))
        content, stop = [{"type": "text", "text": text}], "end_turn"
    elif tool is None:
        answer = reply.value if reply.kind == "json" else "Fake completion."
        text = answer if isinstance(answer, str) else json.dumps(answer)
        content, stop = [{"type": "text", "text": text}], "end_turn"
    else:
        content, stop = [tool_use(_answer(request, reply, vary_by_model))], "tool_use"
    prompt = json.dumps([body.get("system"), body.get("messages"), body.get("tools")])
    return {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": body.get("model") or "fake-model",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "stop_details": stop_details,
        "usage": {"input_tokens": _tokens(prompt), "output_tokens": _tokens(json.dumps(content))},
    }
