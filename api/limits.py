"""Limits checked before a request reaches a route: URL, headers, body, Host.

Pure ASGI (no per-request task or copy beyond the small body it buffers), so
the check costs microseconds. Bodies are buffered up to the limit and replayed
to the app: the largest legitimate body here is a search request of a few
hundred bytes, and a 100 MB body must be refused without being held.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Longest request target (path and query string), in bytes: a query is 256 characters at most.
MAX_URL_BYTES = 8192
#: Largest header block, in bytes.
MAX_HEADER_BYTES = 16384


class RequestLimits:
    """414, 431, 413, 400 (unknown Host) and 422 (a query parameter given twice) with the
    service's JSON error body."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, allowed_hosts: list[str] | None = None
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.hosts = {h.lower() for h in allowed_hosts or []}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = len(scope.get("raw_path") or scope["path"].encode()) + len(
            scope.get("query_string", b"")
        )
        if target > MAX_URL_BYTES:
            await _refuse(send, 414, f"the URL is longer than {MAX_URL_BYTES} bytes")
            return
        headers = scope.get("headers", [])
        if sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
            await _refuse(
                send, 431, f"the request headers are larger than {MAX_HEADER_BYTES} bytes"
            )
            return
        if self.hosts and _host(headers) not in self.hosts:
            await _refuse(send, 400, "this service does not answer for that Host name")
            return
        if (twice := _repeated(scope)) is not None:
            # every parameter here takes one value; the framework would keep the last silently
            await _refuse(send, 422, f"query parameter {twice!r} is given more than once")
            return
        length = next((v for k, v in headers if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _refuse(send, 413, f"the request body is larger than {self.max_body} bytes")
            return
        body, more = [], True
        size = 0
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _refuse(send, 413, f"the request body is larger than {self.max_body} bytes")
                return
            body.append(chunk)
            more = message.get("more_body", False)
        replay: list[Message] = [{"type": "http.request", "body": b"".join(body)}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)


def _repeated(scope: Scope) -> str | None:
    """A query parameter named twice in an API request (the page's own URL is its business)."""
    raw = scope.get("query_string", b"")
    if b"&" not in raw or scope["path"] == "/" or scope["path"].startswith("/static/"):
        return None
    names = [name for name, _ in parse_qsl(raw.decode("latin-1"), keep_blank_values=True)]
    return next((n for n in names if names.count(n) > 1), None)


def _host(headers: list[tuple[bytes, bytes]]) -> str:
    raw = next((v for k, v in headers if k == b"host"), b"").decode("latin-1").lower()
    if raw.startswith("["):  # [::1]:8000
        return raw.split("]", 1)[0] + "]"
    return raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw


async def _refuse(send: Send, status: int, detail: str, retry_after: str | None = None) -> None:
    body = json.dumps({"detail": detail, "errors": None}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", retry_after.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Deadline:
    """Every request starts its answer within ``seconds``, or gets a 503 with Retry-After.

    A search checks its time budget between its stages; a call inside a stage (a Milvus
    server busy writing a new version, a disk that stalls) can still hold it far longer:
    the soak saw a search on a Milvus replica take over 30 s. Past the deadline the client
    gets its 503 at once; the work goes on in its thread (it still holds its search slot,
    so the service sheds the load it causes) and its late answer is dropped. Only the start
    of an answer is bounded: an export that has begun streams to its end.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds
        self._late: set[asyncio.Task[None]] = set()  # kept until they end, then dropped

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()
        answered = False  # by the deadline: whatever the app sends later is dropped

        async def watched(message: Message) -> None:
            if answered:
                return
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        work = asyncio.ensure_future(self.app(scope, receive, watched))
        begun = asyncio.ensure_future(started.wait())
        await asyncio.wait({work, begun}, timeout=self.seconds, return_when="FIRST_COMPLETED")
        if started.is_set() or work.done():
            begun.cancel()
            await work  # the answer (or the app's own error) as usual
            return
        begun.cancel()
        answered = True
        self._late.add(work)
        work.add_done_callback(_forget(self._late))
        await _refuse(
            send,
            503,
            f"no answer within {self.seconds:g} s: the service is busy or a backend is slow; "
            "try again",
            retry_after="1",
        )


def _forget(late: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
    def done(task: asyncio.Task[None]) -> None:
        late.discard(task)
        if not task.cancelled():
            task.exception()  # read, so a late failure is not logged as never retrieved

    return done
