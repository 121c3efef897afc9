"""HTTP/1.1 on the wire for the fake LLM server: read one request from a keep-alive connection
(content-length or chunked body), write one JSON response. Just enough HTTP for the openai and
anthropic SDKs (httpx); the server in ``llm_server`` decides what to answer.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from testbed.llm_replies import Rendered

STREAM_LIMIT = 16 * 1024 * 1024  # asyncio.StreamReader limit: the largest request head / line
_REASONS = {529: "Overloaded"}


def serialize(rendered: Rendered, keep_alive: bool) -> bytes:
    try:
        reason = HTTPStatus(rendered.status).phrase
    except ValueError:
        reason = _REASONS.get(rendered.status, "Error")
    head = [
        f"HTTP/1.1 {rendered.status} {reason}",
        *([] if "content-type" in rendered.headers else ["content-type: application/json"]),
        f"content-length: {len(rendered.body)}",
        *(f"{k}: {v}" for k, v in rendered.headers.items()),
    ]
    if not keep_alive:
        head.append("connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + rendered.body


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, str, dict[str, str], bytes]:
    """(method, target, HTTP version, lower-cased headers, body) of the next request."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = [*lines[0].split(" ", 2), "", ""][:3]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        body = b"".join(chunks)
    else:
        length = int(headers.get("content-length") or 0)
        body = await reader.readexactly(length) if length > 0 else b""
    return method, target, version, headers, body
