"""The OpenAI Batch API: upload the JSONL of chat-completions bodies (purpose "batch"), create the
batch with our marker in its metadata, poll it, read the output and error files.

Each line's ``body`` is exactly the live request body (``ChatBodies.request_body``). The marker
makes creation idempotent: after an interruption, ``find`` lists the recent batches and adopts
the one whose metadata carries it, so a retry never creates a second batch for the same rows.

``openai_compatible`` judges use this module too: LiteLLM's proxy and other servers speak the same
protocol; one that does not (plain vLLM, Ollama) refuses the upload, the batch is given up and
its items go the live path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai

from judges.providers.base import sdk_timeout
from judges.providers.batches import BatchLine, BatchState

ENDPOINT = "/v1/chat/completions"
METADATA_KEY = "accord_batch"
ENDED = ("completed", "expired", "cancelled", "failed")
# How far back ``find`` lists (seconds before the submission began): clocks differ a little.
CLOCK_SLACK = 300
# How a server without the Files API (plain vLLM, Ollama) refuses the upload.
NO_BATCH_API = (404, 405, 501)
# The input file expires after the batch's 24 h window plus a margin (OpenAI accepts 1 h to 30 days).
INPUT_FILE_SECONDS = 3 * 86400


class OpenAIBatches:
    def __init__(self, *, base_url: str | None, api_key: str, timeout: float) -> None:
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "unused",
            max_retries=0,
            timeout=sdk_timeout(timeout),
            # No redirects: an allowed host must not be able to send the worker elsewhere (SSRF).
            http_client=openai.DefaultHttpxClient(timeout=sdk_timeout(timeout), follow_redirects=False),
        )

    def submit(self, *, marker: str, lines: list[tuple[str, bytes]]) -> BatchState:
        # The body bytes go into the file as they are: the JSONL line is assembled around them.
        content = b"".join(
            b'{"custom_id":' + json.dumps(custom_id).encode() + b',"method":"POST","url":"' + ENDPOINT.encode()
            + b'","body":' + body + b"}\n"
            for custom_id, body in lines
        )  # fmt: skip
        # The prompts hold item content: the provider keeps the file no longer than needed.
        try:
            upload = self.client.files.create(
                file=(f"{marker}.jsonl", content),
                purpose="batch",
                expires_after={"anchor": "created_at", "seconds": INPUT_FILE_SECONDS},
            )
        except openai.APIStatusError as exc:
            if exc.status_code in NO_BATCH_API:  # said on the run's page, where "HTTP 404" alone would puzzle
                exc.message = f"this server has no batch API (its /files answered {exc.status_code}): {exc.message}"
            raise
        batch = self.client.batches.create(
            input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h", metadata={METADATA_KEY: marker}
        )
        return self._state(batch)

    def find(self, *, marker: str, since: float, requests: int, taken: set[str]) -> BatchState | None:
        for batch in self.client.batches.list(limit=100):
            if batch.created_at < since - CLOCK_SLACK:
                return None  # newest first: nothing older can be ours
            if (batch.metadata or {}).get(METADATA_KEY) == marker and batch.id not in taken:
                return self._state(batch)
        return None

    def poll(self, *, batch_id: str) -> BatchState:
        return self._state(self.client.batches.retrieve(batch_id))

    def results(self, *, state: BatchState) -> Iterator[BatchLine]:
        for file_id in (state.output_file_id, state.error_file_id):
            if not file_id:
                continue
            # Streamed line by line: an output file of a large batch is tens of megabytes.
            with self.client.files.with_streaming_response.content(file_id) as response:
                for text in response.iter_lines():
                    if text.strip():
                        yield _line(json.loads(text))

    def cancel(self, *, batch_id: str) -> None:
        self.client.batches.cancel(batch_id)

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def _state(batch) -> BatchState:
        counts = batch.request_counts
        errors = [e.message or e.code or "" for e in (batch.errors.data or [])] if batch.errors else []
        return BatchState(
            id=batch.id,
            status=batch.status,
            ended=batch.status in ENDED,
            failed=batch.status == "failed",
            requests=counts.total if counts else 0,
            completed=counts.completed if counts else 0,
            errored=counts.failed if counts else 0,
            output_file_id=batch.output_file_id or "",
            error_file_id=batch.error_file_id or "",
            detail="; ".join(str(e) for e in errors)[:2000],
        )


def _line(data: dict) -> BatchLine:
    custom_id = str(data.get("custom_id") or "")
    response = data.get("response") or {}
    error = data.get("error") or {}
    if response.get("status_code") == 200 and isinstance(response.get("body"), dict):
        return BatchLine(custom_id, response["body"])
    if error:
        return BatchLine(custom_id, None, f"batch line {error.get('code') or 'error'}: {error.get('message') or ''}")
    body = response.get("body") or {}
    message = ((body.get("error") or {}) if isinstance(body, dict) else {}).get("message") or json.dumps(body)[:300]
    return BatchLine(custom_id, None, f"HTTP {response.get('status_code')} in the batch: {message}")
