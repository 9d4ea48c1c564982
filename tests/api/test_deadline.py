"""Every request starts its answer within the deadline (api.limits.Deadline), over ASGI."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from api.limits import Deadline


def _app(seconds: float) -> tuple[Deadline, threading.Event]:
    finished = threading.Event()
    app = FastAPI()

    @app.get("/slow")
    def slow() -> dict[str, str]:  # a sync route: it runs in a thread, as the service's do
        time.sleep(1.0)
        finished.set()
        return {"late": "answer"}

    @app.get("/fast")
    def fast() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/stream")
    def stream() -> StreamingResponse:
        def rows():  # type: ignore[no-untyped-def]
            for i in range(4):
                time.sleep(0.2)
                yield f"{i}\n"

        return StreamingResponse(rows(), media_type="text/plain")

    return Deadline(app, seconds), finished


def test_a_request_past_the_deadline_gets_a_503_at_once_and_its_late_answer_is_dropped() -> None:
    app, finished = _app(0.3)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            started = time.perf_counter()
            r = await client.get("/slow")
            took = time.perf_counter() - started
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            assert "no answer within 0.3 s" in r.json()["detail"]
            assert took < 0.9  # not the route's 1 s
            assert (await client.get("/fast")).json() == {"ok": "yes"}
            await asyncio.sleep(1.2)  # the slow route ends; what it sends goes nowhere
            assert finished.is_set() and not app._late

    asyncio.run(main())


def test_an_answer_that_has_begun_streams_to_its_end() -> None:
    app, _ = _app(0.3)  # the stream takes 0.8 s in all, its first line sooner

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get("/stream")
            assert r.status_code == 200 and r.text == "0\n1\n2\n3\n"

    asyncio.run(main())
