"""Batch APIs for the fake LLM server: OpenAI files + batches and Anthropic message batches.

Enough of both protocols for the real ``openai`` and ``anthropic`` SDKs (``client.files.create``,
``client.files.content``, ``client.batches.create/retrieve/list/cancel``;
``client.messages.batches.create/retrieve/list/cancel/results``):

- OpenAI: ``POST /v1/files`` (multipart, purpose "batch"), ``GET /v1/files/{id}``,
  ``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches[/{id}]``,
  ``POST /v1/batches/{id}/cancel``. The output file holds one line per 200 answer
  (``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error": null}``), the
  error file the others (a non-200 ``response``, or ``"error": {"code": "batch_expired", ...}``).
- Anthropic: ``POST /v1/messages/batches``, ``GET /v1/messages/batches[/{id}]``,
  ``POST /v1/messages/batches/{id}/cancel``, ``GET /v1/messages/batches/{id}/results`` (JSONL of
  ``{"custom_id", "result": {"type": "succeeded", "message"} | {"type": "errored", "error"} |
  {"type": "expired"} | {"type": "canceled"}}``).

A batch ends ``delay`` seconds after it was created (settable any time, per server); each line is
then answered exactly as the live endpoint would answer that body (scripts, responder, faults and
the schema-derived default all apply). ``line_faults`` maps a custom_id to "errored" or
"expired" for configurable failed lines; an expired line makes an OpenAI batch "expired" (with the
other lines' output, as OpenAI does). Before the end, OpenAI reports ``completed`` growing with
time; Anthropic keeps every request "processing" until the end, as it documents. ``enabled =
False`` makes it a server without batch APIs (every batch route 404).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from testbed.llm_replies import FakeRequest, Rendered, render

OPENAI_PREFIXES = ("/v1/files", "/v1/batches")
ANTHROPIC_PREFIX = "/v1/messages/batches"
_EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."


@dataclass
class FakeBatch:
    provider: str  # "openai" | "anthropic"
    id: str
    lines: list[tuple[str, dict]]  # (custom_id, request body)
    created: float
    metadata: dict = field(default_factory=dict)
    input_file_id: str = ""
    status: str = "in_progress"  # openai statuses; anthropic: "in_progress" | "canceling" | "ended"
    results: dict[str, tuple[str, Any]] = field(default_factory=dict)  # custom_id -> (kind, body)
    ended: float | None = None
    cancelled: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None
    failure: str = ""  # why OpenAI refused the input file (status "failed")


def _rfc3339(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _json(status: int, payload: Any) -> Rendered:
    return Rendered(status, json.dumps(payload).encode(), {})


def _not_found(what: str, anthropic: bool = False) -> Rendered:
    if anthropic:
        return _json(404, {"type": "error", "error": {"type": "not_found_error", "message": f"{what} not found"}})
    return _json(404, {"error": {"message": f"No such {what}", "type": "invalid_request_error", "code": None}})


class FakeBatches:
    """The batch routes of one FakeLLMServer (``server.batches``). Thread-safe."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.delay = 0.0
        self.line_faults: dict[str, str] = {}
        # False: a server without batch APIs (plain vLLM, Ollama), which answers them 404; ``refused``
        # counts those answers.
        self.enabled = True
        self.refused = 0
        self._lock = threading.Lock()
        self.files: dict[str, tuple[dict, bytes]] = {}
        self.batches: dict[str, FakeBatch] = {}

    def reset(self) -> None:
        with self._lock:
            self.delay, self.line_faults, self.enabled, self.refused = 0.0, {}, True, 0
            self.files.clear()
            self.batches.clear()

    def created(self, provider: str | None = None) -> list[FakeBatch]:
        """Every batch created so far (of ``provider``), oldest first."""
        with self._lock:
            return [b for b in self.batches.values() if provider in (None, b.provider)]

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith(ANTHROPIC_PREFIX) or path.startswith(OPENAI_PREFIXES)

    async def respond(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Rendered:
        if not self.enabled:
            with self._lock:
                self.refused += 1
            return _json(404, {"detail": "Not Found"})  # FastAPI's answer for a route it does not have
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        segments = parts.path.strip("/").split("/")[1:]  # without "v1"
        if segments[:2] == ["messages", "batches"]:
            return await self._anthropic(method, segments[2:], query, raw)
        if segments[0] == "files":
            return self._files(method, segments[1:], headers, raw)
        return await self._openai(method, segments[1:], query, raw)

    # -- processing ------------------------------------------------------------------------------
    async def _advance(self, batch: FakeBatch) -> None:
        """End the batch once its delay has passed: answer every line as the live endpoint would."""
        if batch.ended is not None or batch.status == "failed" or time.time() < batch.created + self.delay:
            return
        path = "/v1/chat/completions" if batch.provider == "openai" else "/v1/messages"
        results: dict[str, tuple[str, Any]] = {}
        for custom_id, body in batch.lines:
            fault = self.line_faults.get(custom_id)
            if fault in ("errored", "expired"):
                results[custom_id] = (fault, None)
                continue
            request = FakeRequest(provider=batch.provider, path=path, headers={}, json=body)  # type: ignore[arg-type]
            reply = await self.server._choose(request)
            rendered = render(request, reply, self.server.vary_by_model, self.server.quirks)
            results[custom_id] = ("succeeded" if rendered.status == 200 else "errored", rendered)
        if batch.ended is not None:  # another request ended it meanwhile
            return
        batch.results, batch.ended = results, time.time()
        if batch.provider == "anthropic":
            batch.status = "ended"
            return
        batch.status = "expired" if any(kind == "expired" for kind, _ in results.values()) else "completed"
        out, errors = [], []
        for custom_id, (kind, rendered) in results.items():
            line: dict[str, Any] = {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": custom_id}
            if kind == "expired":
                errors.append(
                    {**line, "response": None, "error": {"code": "batch_expired", "message": _EXPIRED_MESSAGE}}
                )
                continue
            if rendered is None:  # a configured errored line: the provider's own failure
                rendered = Rendered(500, json.dumps({"error": {"message": "The server had an error processing "
                                    "your request.", "type": "server_error", "code": None}}).encode(), {})  # fmt: skip
            response = {"status_code": rendered.status, "request_id": f"req_{uuid.uuid4().hex[:24]}",
                        "body": json.loads(rendered.body)}  # fmt: skip
            (out if rendered.status == 200 else errors).append({**line, "response": response, "error": None})
        if out:
            batch.output_file_id = self._file_store("batch_output", f"{batch.id}_output.jsonl", out)
        if errors:
            batch.error_file_id = self._file_store("batch_output", f"{batch.id}_error.jsonl", errors)

    def _file_store(self, purpose: str, filename: str, lines: list[dict] | bytes) -> str:
        content = lines if isinstance(lines, bytes) else "".join(json.dumps(x) + "\n" for x in lines).encode()
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        meta = {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                "filename": filename, "purpose": purpose, "status": "processed", "expires_at": None,
                "status_details": None}  # fmt: skip
        with self._lock:
            self.files[file_id] = (meta, content)
        return file_id

    # -- OpenAI ----------------------------------------------------------------------------------
    def _files(self, method: str, rest: list[str], headers: dict[str, str], raw: bytes) -> Rendered:
        if method == "POST" and not rest:
            head = f"Content-Type: {headers.get('content-type', '')}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
            fields = {
                part.get_param("name", header="content-disposition"): part
                for part in message.iter_parts()  # type: ignore[attr-defined]
            }
            upload, purpose = fields.get("file"), fields.get("purpose")
            if upload is None or purpose is None:
                return _json(400, {"error": {"message": "file and purpose are required",
                                             "type": "invalid_request_error", "code": None}})  # fmt: skip
            content = upload.get_payload(decode=True) or b""
            file_id = self._file_store(purpose.get_content().strip(), upload.get_filename() or "upload", content)
            return _json(200, self.files[file_id][0])
        stored = self.files.get(rest[0]) if rest else None
        if stored is None or method != "GET":
            return _not_found("file")
        if rest[1:] == ["content"]:
            return Rendered(200, stored[1], {"content-type": "application/octet-stream"})
        return _json(200, stored[0])

    def _openai_object(self, batch: FakeBatch) -> dict:
        total = len(batch.lines)
        failed = sum(1 for kind, _ in batch.results.values() if kind != "succeeded")
        if batch.ended is not None:
            counts = {"total": total, "completed": total - failed, "failed": failed}
        else:  # progress the way OpenAI shows it: completed grows while the batch runs
            share = min(1.0, (time.time() - batch.created) / self.delay) if self.delay else 0.0
            counts = {"total": total, "completed": int(total * share * 0.9), "failed": 0}
        ended = batch.ended
        errors = {"object": "list", "data": [{"code": "invalid_request", "message": batch.failure,
                                              "param": None, "line": None}]} if batch.failure else None  # fmt: skip
        return {
            "id": batch.id, "object": "batch", "endpoint": "/v1/chat/completions", "errors": errors,
            "input_file_id": batch.input_file_id, "completion_window": "24h", "status": batch.status,
            "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id,
            "created_at": int(batch.created), "in_progress_at": None if batch.failure else int(batch.created),
            "expires_at": int(batch.created) + 86400, "finalizing_at": int(ended) if ended else None,
            "completed_at": int(ended) if ended and batch.status == "completed" else None,
            "failed_at": int(batch.created) if batch.failure else None,
            "expired_at": int(ended) if ended and batch.status == "expired" else None,
            "cancelling_at": int(ended) if batch.cancelled and ended else None,
            "cancelled_at": int(ended) if batch.cancelled and ended else None,
            "request_counts": counts, "metadata": batch.metadata or None, "model": None, "usage": None,
        }  # fmt: skip

    async def _openai(self, method: str, rest: list[str], query: dict, raw: bytes) -> Rendered:
        if method == "POST" and not rest:
            body = json.loads(raw or b"{}")
            stored = self.files.get(body.get("input_file_id", ""))
            if stored is None:
                return _not_found("file")
            batch = FakeBatch("openai", f"batch_{uuid.uuid4().hex}", [], time.time(), body.get("metadata") or {},
                              input_file_id=stored[0]["id"])  # fmt: skip
            seen: set[str] = set()
            for number, text in enumerate(stored[1].decode().splitlines(), 1):
                line = json.loads(text) if text.strip() else {}
                if line.get("url") != body.get("endpoint") or line.get("custom_id") in seen or "body" not in line:
                    batch.status, batch.failure = "failed", f"line {number}: bad url or duplicate custom_id"
                    break
                seen.add(line["custom_id"])
                batch.lines.append((line["custom_id"], line["body"]))
            with self._lock:
                self.batches[batch.id] = batch
            return _json(200, self._openai_object(batch))
        if method == "GET" and not rest:
            return _json(200, self._page([self._openai_object(b) for b in self.created("openai")], query, "after"))
        batch = self.batches.get(rest[0])
        if batch is None or batch.provider != "openai":
            return _not_found("batch")
        if method == "POST" and rest[1:] == ["cancel"]:
            if batch.ended is None and batch.status != "failed":
                batch.cancelled, batch.status, batch.ended = True, "cancelled", time.time()
            return _json(200, self._openai_object(batch))
        await self._advance(batch)
        return _json(200, self._openai_object(batch))

    @staticmethod
    def _page(objects: list[dict], query: dict, cursor: str) -> dict:
        """Newest first, ``limit`` per page, continued after the id named by ``cursor``."""
        objects = objects[::-1]
        if query.get(cursor):
            ids = [o["id"] for o in objects]
            objects = objects[ids.index(query[cursor]) + 1 :] if query[cursor] in ids else []
        limit = int(query.get("limit") or 20)
        page = objects[:limit]
        first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
        return {"object": "list", "data": page, "first_id": first, "last_id": last, "has_more": len(objects) > limit}

    # -- Anthropic -------------------------------------------------------------------------------
    def _anthropic_object(self, batch: FakeBatch) -> dict:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch.ended is None:
            counts["processing"] = len(batch.lines)
        else:
            for kind, _ in batch.results.values():
                counts[kind] += 1
        base = self.server.anthropic_base_url
        return {
            "id": batch.id, "type": "message_batch", "processing_status": batch.status, "request_counts": counts,
            "ended_at": _rfc3339(batch.ended), "created_at": _rfc3339(batch.created),
            "expires_at": _rfc3339(batch.created + 86400), "archived_at": None,
            "cancel_initiated_at": _rfc3339(batch.ended) if batch.cancelled else None,
            "results_url": f"{base}/v1/messages/batches/{batch.id}/results" if batch.ended else None,
        }  # fmt: skip

    async def _anthropic(self, method: str, rest: list[str], query: dict, raw: bytes) -> Rendered:
        if method == "POST" and not rest:
            requests = json.loads(raw or b"{}").get("requests") or []
            ids = [r.get("custom_id") for r in requests]
            if (
                not requests
                or len(set(ids)) != len(ids)
                or not all(isinstance(r.get("params"), dict) for r in requests)
            ):
                return _json(400, {"type": "error", "error": {"type": "invalid_request_error",
                                   "message": "requests: custom_id must be unique and params an object"}})  # fmt: skip
            batch = FakeBatch("anthropic", f"msgbatch_{uuid.uuid4().hex[:24]}",
                              [(r["custom_id"], r["params"]) for r in requests], time.time())  # fmt: skip
            with self._lock:
                self.batches[batch.id] = batch
            return _json(200, self._anthropic_object(batch))
        if method == "GET" and not rest:
            objects = [self._anthropic_object(b) for b in self.created("anthropic")]
            page = self._page(objects, query, "after_id")
            return _json(200, {k: page[k] for k in ("data", "has_more", "first_id", "last_id")})
        batch = self.batches.get(rest[0])
        if batch is None or batch.provider != "anthropic":
            return _not_found("message batch", anthropic=True)
        if method == "POST" and rest[1:] == ["cancel"]:
            if batch.ended is None:
                batch.cancelled, batch.status, batch.ended = True, "ended", time.time()
                batch.results = {custom_id: ("canceled", None) for custom_id, _ in batch.lines}
            return _json(200, self._anthropic_object(batch))
        await self._advance(batch)
        if rest[1:] == ["results"]:
            if batch.ended is None:
                return _json(400, {"type": "error", "error": {"type": "invalid_request_error",
                                   "message": "results are not available until processing ends"}})  # fmt: skip
            lines = [{"custom_id": cid, "result": self._anthropic_result(*r)} for cid, r in batch.results.items()]
            return Rendered(200, "".join(json.dumps(x) + "\n" for x in lines).encode(),
                            {"content-type": "application/binary"})  # fmt: skip
        return _json(200, self._anthropic_object(batch))

    @staticmethod
    def _anthropic_result(kind: str, rendered: Rendered | None) -> dict:
        if kind == "succeeded" and rendered is not None:
            return {"type": "succeeded", "message": json.loads(rendered.body)}
        if kind == "errored":
            error = json.loads(rendered.body) if rendered is not None else {
                "type": "error", "error": {"type": "api_error", "message": "Internal server error"}}  # fmt: skip
            return {"type": "errored", "error": error}
        return {"type": kind}
