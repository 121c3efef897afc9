"""Anthropic Message Batches: create with ``requests=[{custom_id, params}]``, poll, stream results.

``params`` is exactly the live messages body (``MessagesBodies.request_body``). Message batches
carry no metadata, so a batch is recognised after an interruption by when it was created and how
many requests it holds (``find``); its custom_ids begin with our marker's prefix, and ingestion
ignores any line that does not (judges/services/batches.py), so adopting a stranger's batch of
the same size and minute could at worst send our items down the live path, never store its
answers as ours.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
from anthropic.types.messages import MessageBatch

from judges.providers.base import sdk_timeout
from judges.providers.batches import BatchLine, BatchState

# Seconds either side of the submission in which a listed batch may be ours.
CLOCK_SLACK = 300


class AnthropicBatches:
    def __init__(self, *, base_url: str | None, api_key: str, timeout: float) -> None:
        self.timeout = timeout
        self.client = anthropic.Anthropic(
            base_url=base_url,
            api_key=api_key,
            max_retries=0,
            timeout=sdk_timeout(timeout),
            # No redirects: an allowed host must not be able to send the worker elsewhere (SSRF).
            http_client=anthropic.DefaultHttpxClient(timeout=sdk_timeout(timeout), follow_redirects=False),
        )

    def submit(self, *, marker: str, lines: list[tuple[str, bytes]]) -> BatchState:
        # Sent as built (the SDK's typed transform would walk every verdict schema again).
        requests = b",".join(
            b'{"custom_id":' + json.dumps(custom_id).encode() + b',"params":' + body + b"}" for custom_id, body in lines
        )
        response = self.client.post(
            "/v1/messages/batches", cast_to=MessageBatch, content=b'{"requests":[' + requests + b"]}"
        )
        return self._state(response)

    def find(self, *, marker: str, since: float, requests: int, taken: set[str]) -> BatchState | None:
        for batch in self.client.messages.batches.list(limit=100):
            created = batch.created_at.timestamp()
            if created < since - CLOCK_SLACK:
                return None  # newest first
            counts = batch.request_counts
            total = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
            if total == requests and created <= since + self.timeout + CLOCK_SLACK and batch.id not in taken:
                return self._state(batch)
        return None

    def poll(self, *, batch_id: str) -> BatchState:
        return self._state(self.client.messages.batches.retrieve(batch_id))

    def results(self, *, state: BatchState) -> Iterator[BatchLine]:
        for line in self.client.messages.batches.results(state.id):
            result = line.result
            if result.type == "succeeded":
                yield BatchLine(line.custom_id, result.message.to_dict())
            elif result.type == "errored":
                error = result.error.error
                yield BatchLine(line.custom_id, None, f"batch line errored: {error.type}: {error.message}")
            else:
                yield BatchLine(line.custom_id, None, f"batch line {result.type}")

    def cancel(self, *, batch_id: str) -> None:
        self.client.messages.batches.cancel(batch_id)

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def _state(batch) -> BatchState:
        counts = batch.request_counts
        done = counts.succeeded + counts.errored + counts.canceled + counts.expired
        return BatchState(
            id=batch.id,
            status=batch.processing_status,
            ended=batch.processing_status == "ended",
            requests=done + counts.processing,
            completed=counts.succeeded,
            errored=counts.errored + counts.canceled + counts.expired,
        )
