"""Provider batch APIs behind one small interface (docs/judges.md, "Batch mode").

A batch client submits request bodies built by the live provider module (``ChatBodies``,
``MessagesBodies``: the same bytes a live call would send), finds a batch again by the marker
it was submitted with, reports the provider's state, streams the result lines and cancels. It
never touches the database; judges/services/batches.py does. The SDK clients are synchronous
(a handful of calls per batch, from a Celery task) and built with ``max_retries=0``: a create
retried by the SDK after a timeout could make a second batch; the task retries instead, after
looking the marker up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class BatchState:
    id: str
    status: str  # the provider's word ("validating", "in_progress", "ended", ...)
    ended: bool  # results (if any) can be read
    failed: bool = False  # the provider refused the whole batch (OpenAI "failed"): no result at all
    requests: int = 0
    completed: int = 0  # as the provider counts them so far
    errored: int = 0
    output_file_id: str = ""
    error_file_id: str = ""
    detail: str = ""


@dataclass(frozen=True)
class BatchLine:
    """One result: the response body a live call would have got, or why there is none."""

    custom_id: str
    body: dict | None
    error: str = ""


class BatchClient(Protocol):
    def submit(self, *, marker: str, lines: list[tuple[str, bytes]]) -> BatchState: ...

    def find(self, *, marker: str, since: float, requests: int, taken: set[str]) -> BatchState | None: ...

    def poll(self, *, batch_id: str) -> BatchState: ...

    def results(self, *, state: BatchState) -> Iterator[BatchLine]: ...

    def cancel(self, *, batch_id: str) -> None: ...

    def close(self) -> None: ...
