"""Which output mode a judge's calls use (judges.models.OutputMode), found once per chunk.

Servers differ in what they accept: OpenAI takes a strict ``json_schema``; llama.cpp's server
answers 500 to it and takes ``json_object`` with a ``schema``; some take tools only; any takes
plain text. "auto" tries the provider's modes in order on the first call and keeps the first the
server accepts; the chunk reports it (``ModeFound``) and the judge remembers it, so later chunks
and runs start there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModeFound:
    """Reported once per chunk by "auto": the mode the server accepted, and what it refused first."""

    mode: str
    logprobs: bool
    note: str


class OutputModes:
    """The output mode every call of a chunk uses, shared by its calls.

    A mode not yet seen working goes out on one call first; a refusal of a fixed mode stops the
    chunk. "auto" tries the provider's modes in order (from
    ``first_mode``, what an earlier chunk or the test action found): a refusal of a request
    parameter moves to the next mode once, a refusal naming logprobs drops them, and the first
    answer the server accepts settles it (and is reported). Past the last mode the chunk stops.
    """

    def __init__(self, endpoint: Any, available: Sequence[str]) -> None:
        auto = endpoint.output_mode == "auto"
        if auto:
            start = available.index(endpoint.first_mode) if endpoint.first_mode in available else 0
            self.order = list(available[start:])
        else:
            self.order = [endpoint.output_mode]
        self.index = 0
        # A mode seen working before (the test action, an earlier chunk) is used at once; otherwise
        # the first call goes alone, so the others do not all try what the server refuses.
        self.settled = bool(endpoint.first_mode) and endpoint.first_mode == self.order[0]
        self.auto = auto
        self.logprobs = endpoint.logprobs
        self.refusals: list[str] = []

    @property
    def mode(self) -> str:
        return self.order[self.index]

    def refused(self, *, mode: str, logprobs: bool, param: str, reason: str) -> bool:
        """The server refused ``mode`` (with ``logprobs``): True when another try may work."""
        if logprobs and param in ("logprobs", "top_logprobs"):
            if self.logprobs:
                self.logprobs = False
                self.refusals.append(f"logprobs refused ({reason[:200]})")
            return True
        if not self.auto:
            return False
        if mode == self.mode:
            if self.index + 1 >= len(self.order):
                return False
            self.refusals.append(f"{mode} refused ({reason[:200]})")
            self.index += 1
            self.settled = False  # the next answer the server accepts is reported again
        return True

    def found(self) -> ModeFound | None:
        if self.settled:
            return None
        self.settled = True
        return ModeFound(self.mode, self.logprobs, "; ".join(self.refusals))


@dataclass(frozen=True)
class RunStop:
    """Reported when the server refused a request parameter of a settled mode: every call of the
    run would be refused the same way, so the run stops at once with the server's message."""

    reason: str
