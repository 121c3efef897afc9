"""Loopback fake OpenAI / Anthropic HTTP server for tests and benchmarks of LLM judges.

The real ``openai`` and ``anthropic`` SDKs talk to it through ``base_url``; nothing is patched::

    with FakeLLMServer(latency=0.05) as server:
        oa = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0, timeout=5)
        an = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="test", max_retries=0)
        server.script(Reply.error(429, headers={"retry-after": "0.5"}), Reply.json({"score": 99}))
        ...
        assert server.count("openai") == 2

Routes: ``POST /v1/chat/completions`` (OpenAI, answers ``response_format.json_schema.schema``) and
``POST /v1/messages`` (Anthropic, answers the forced tool's ``input_schema`` as a ``tool_use`` block, or
``output_config.format.schema`` as a JSON text block). Anything else: 404 JSON. Without scripting, the
answer is a deterministic valid value per schema property (see ``llm_schema``). The HTTP framing is
in ``llm_http``; reply kinds and provider-shaped bodies in ``llm_replies``; the batch APIs (OpenAI
files + batches, Anthropic message batches) in ``llm_batches`` (``server.batches``).

Standalone (another process, e.g. for benchmarks: avoids sharing the GIL with the client)::

    python -m testbed.llm_server --port 0 --latency-ms 300 --fail-rate 0.05 --fail-status 429
    # prints "READY http://127.0.0.1:PORT" once listening; serves until SIGTERM/SIGINT, then prints
    # "STOPPED {...counts...} peak_in_flight=N" on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import inspect
import json
import random
import signal
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from testbed.llm_batches import FakeBatches
from testbed.llm_http import STREAM_LIMIT, read_request, serialize
from testbed.llm_quirks import LLAMA_CPP, Quirks, refuses
from testbed.llm_replies import FakeRequest, Provider, Rendered, Reply, render

__all__ = ["FakeLLMServer", "FakeRequest", "Reply", "main"]

_ROUTES: dict[str, Provider] = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}
_LOOPBACK = ("127.0.0.1", "localhost", "::1")

Responder = Callable[[FakeRequest], Reply | Awaitable[Reply | None] | None]


@dataclass
class _Fault:
    reply: Reply
    rate: float
    rng: random.Random
    provider: Provider | None


class FakeLLMServer:
    """Loopback server speaking the OpenAI chat-completions and Anthropic messages APIs.

    One asyncio event loop in a daemon thread serves every connection (HTTP/1.1 keep-alive), so
    latency and delays are timers, not blocked threads. All public methods are thread-safe.

    Reply precedence per request: provider-specific script queue, shared script queue, ``responder``,
    fault rules (in the order added), then the schema-derived default answer.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency: float = 0.0,
        vary_by_model: bool = False,
        responder: Responder | None = None,
        record: bool = True,
        quirks: Quirks | None = None,
    ) -> None:
        if host not in _LOOPBACK:
            raise ValueError(f"FakeLLMServer only binds to loopback, not {host!r}")
        self.host, self._port = host, port
        self.latency = float(latency)  # seconds, applied to every API request (settable any time)
        self.vary_by_model = vary_by_model  # mix the model name into the default-answer hash
        self.responder: Responder | None = responder
        self.record = record  # False: keep only counts (long benchmark / chaos runs)
        # Behaviours of a real server to imitate (testbed.llm_quirks, e.g. LLAMA_CPP); settable any time.
        self.quirks: Quirks | None = quirks
        self._one_at_a_time = asyncio.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._scripts: dict[Provider | None, collections.deque[Reply]] = collections.defaultdict(collections.deque)
        self._faults: list[_Fault] = []
        self._requests: list[FakeRequest] = []
        self._in_flight = 0  # only mutated on the server loop
        self._peak_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._aserver: asyncio.Server | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None
        self.batches = FakeBatches(self)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FakeLLMServer:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                self._aserver = loop.run_until_complete(
                    asyncio.start_server(
                        self._serve_connection, self.host, self._port, backlog=1024, limit=STREAM_LIMIT
                    )
                )
            except BaseException as exc:
                failure.append(exc)
                loop.close()
                ready.set()
                return
            self._loop = loop
            self._bound_port = self._aserver.sockets[0].getsockname()[1]
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-llm-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._thread = self._loop = self._aserver = None
        self._bound_port = None

    async def _shutdown(self) -> None:
        if self._aserver is not None:
            self._aserver.close()
        tasks = list(self._conn_tasks)
        for task in tasks:  # wakes requests sleeping in latency / Reply.delay, closes keep-alives
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("FakeLLMServer is not started")
        return self._bound_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # -- scripting -------------------------------------------------------------------------------
    def script(self, *replies: Reply, provider: Provider | None = None) -> None:
        """Queue one-shot replies consumed in order by the next requests (of ``provider``, if given)."""
        for reply in replies:
            if not isinstance(reply, Reply):
                raise TypeError(f"script() takes Reply objects, got {reply!r}")
        with self._lock:
            self._scripts[provider].extend(replies)

    def pending(self) -> int:
        """Number of scripted replies not consumed yet."""
        with self._lock:
            return sum(len(q) for q in self._scripts.values())

    def fault_rate(
        self,
        status: int = 429,
        rate: float = 0.1,
        retry_after: float | None = 1.0,
        *,
        reply: Reply | None = None,
        seed: int = 0,
        provider: Provider | None = None,
    ) -> None:
        """Answer a seeded pseudo-random fraction ``rate`` of requests with an error (or ``reply``).

        ``retry_after`` sets both ``retry-after`` (seconds, may be fractional) and ``retry-after-ms``;
        None sends neither. Rules stack; the first one that fires wins.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        if reply is None:
            headers = {}
            if retry_after is not None:
                headers = {"retry-after": f"{retry_after:g}", "retry-after-ms": str(round(retry_after * 1000))}
            reply = Reply.error(status, headers=headers)
        with self._lock:
            self._faults.append(_Fault(reply, rate, random.Random(seed), provider))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget recorded requests, scripts, faults, responder and latency (for shared fixtures)."""
        with self._lock:
            self._requests.clear()
            self._counts.clear()
            self._scripts.clear()
            self._faults.clear()
            self._peak_in_flight = self._in_flight
        self.responder, self.latency, self.quirks = None, 0.0, None
        self.batches.reset()

    # -- recording -------------------------------------------------------------------------------
    @property
    def requests(self) -> list[FakeRequest]:
        """Snapshot of every request received (including 404s, provider "unknown"), in arrival order."""
        with self._lock:
            return list(self._requests)

    def count(self, provider: Provider | None = None) -> int:
        with self._lock:
            return self._counts.total() if provider is None else self._counts[provider]

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """Highest number of API requests handled concurrently since start/reset."""
        return self._peak_in_flight

    # -- internals (run on the server's event loop) ----------------------------------------------
    def _record(self, request: FakeRequest) -> None:
        with self._lock:
            self._counts[request.provider] += 1
            if self.record:
                self._requests.append(request)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conn_tasks.add(task)
        try:
            while True:
                try:
                    method, target, version, headers, raw = await read_request(reader)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
                    return
                keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
                rendered = await self._respond(method, target, headers, raw)
                if rendered is None:  # Reply.disconnect()
                    writer.transport.abort()
                    return
                writer.write(serialize(rendered, keep_alive))
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._conn_tasks.discard(task)
            writer.close()

    async def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Rendered | None:
        path = urlsplit(target).path
        if FakeBatches.handles(path):
            return await self.batches.respond(method, target, headers, raw)
        provider = _ROUTES.get(path, "unknown") if method == "POST" else "unknown"
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = FakeRequest(provider=provider, path=path, headers=headers, json=body)
        self._record(request)
        if provider == "unknown":
            msg = f"No fake route for {method} {path}"
            return Rendered(404, json.dumps({"error": {"message": msg, "type": "not_found"}}).encode(), {})
        if not isinstance(body, dict):
            return render(request, Reply.error(400, headers={}, message="Body must be a JSON object"))
        self._in_flight += 1  # counts requests waiting in a one-at-a-time server's queue too
        self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
        quirks = self.quirks
        try:
            async with self._one_at_a_time if quirks and quirks.one_at_a_time else contextlib.nullcontext():
                reply = await self._choose(request)
                wait = self.latency + reply.sleep
                if wait > 0:
                    await asyncio.sleep(wait)
            if reply.kind == "disconnect":
                return None
            try:
                return render(request, reply, self.vary_by_model, quirks)
            except Exception:
                err = {"error": {"message": traceback.format_exc(), "type": "fake_server_error"}}
                return Rendered(500, json.dumps(err).encode(), {})
        finally:
            self._in_flight -= 1

    async def _choose(self, request: FakeRequest) -> Reply:
        with self._lock:
            for key in (request.provider, None):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
        refusal = refuses(request.json, self.quirks) if request.provider == "openai" else None
        if refusal is not None:
            return Reply.error(500, headers={}, message=refusal)
        responder = self.responder
        if responder is not None:
            try:
                reply = responder(request)
                if inspect.isawaitable(reply):
                    reply = await reply
            except Exception:
                return Reply.error(500, headers={}, message="responder raised:\n" + traceback.format_exc())
            if reply is not None:
                return reply
        with self._lock:
            for fault in self._faults:
                if fault.provider in (None, request.provider) and fault.rng.random() < fault.rate:
                    return fault.reply
        return Reply()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.llm_server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", choices=_LOOPBACK)
    parser.add_argument("--port", type=int, default=0, help="0 = OS-assigned (default)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="per-request latency")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="fraction of requests answered with an error")
    parser.add_argument("--fail-status", type=int, default=429, help="status for --fail-rate (default 429)")
    parser.add_argument("--retry-after", type=float, default=1.0, help="retry-after seconds on injected faults")
    parser.add_argument("--seed", type=int, default=0, help="seed for --fail-rate")
    parser.add_argument("--vary-by-model", action="store_true", help="mix the model name into answers")
    parser.add_argument("--like", choices=["llama-cpp"], help="imitate a real server's quirks (testbed.llm_quirks)")
    parser.add_argument("--batch-delay", type=float, default=0.0, help="seconds before a batch ends (batch APIs)")
    args = parser.parse_args(argv)

    server = FakeLLMServer(
        args.host,
        args.port,
        latency=args.latency_ms / 1000.0,
        vary_by_model=args.vary_by_model,
        record=False,  # a long-running process keeps counts only
        quirks=LLAMA_CPP if args.like == "llama-cpp" else None,
    )
    server.batches.delay = args.batch_delay
    if args.fail_rate > 0:
        server.fault_rate(args.fail_status, args.fail_rate, args.retry_after, seed=args.seed)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    server.start()
    print(f"READY {server.url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
        stats = {p: server.count(p) for p in ("openai", "anthropic", "unknown")}
        print(f"STOPPED {json.dumps(stats)} peak_in_flight={server.peak_in_flight}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
