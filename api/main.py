"""Application factory: ``create_app(settings)`` wires settings, the live index and routes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from threadpoolctl import threadpool_limits
from uvicorn.protocols.http.h11_impl import H11Protocol

from api import errors
from api.limits import Deadline, RequestLimits
from api.routes import admin, passages, research, search, status, ui
from indexer.embed import Embedder
from indexer.live import LiveIndex
from indexer.settings import Settings, get_settings

#: Seconds past the slot wait and the search budget before any request is answered 503
#: (17 s with the defaults): the ceiling a client waits, whatever a backend does.
DEADLINE_GRACE_S = 10.0


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """Build the service; it loads and warms the model and the index as it starts.

    Warming runs beside the server, so ``/health`` can say ``starting`` until
    it is done; queries that arrive meanwhile wait for the index to load.
    """
    settings = settings or get_settings()
    # Concurrent queries run on the request threads, one core each; BLAS's own helper
    # threads (numpy's matrix-vector products rescoring ~1,000 windows) only spun on the
    # other core: laws, one client, 33.5 ms of CPU for a 17 ms query, 16.1 with one thread.
    threadpool_limits(1, user_api="blas")
    live = LiveIndex(settings, embedder)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=live.warm, name="warm-up", daemon=True).start()
        yield

    app = FastAPI(
        title="govspeech",
        summary="Search Chinese government speeches and reports by paragraph.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.live = live
    app.state.search_slots = threading.BoundedSemaphore(settings.max_concurrent_searches)
    for router in (search.router, research.router, passages.router, status.router, admin.router):
        app.include_router(router, responses=errors.ERROR_RESPONSES)
    app.include_router(ui.router)
    app.mount("/static", ui.static_files(), name="static")
    errors.install(app)
    # past the slot wait and the search budget, with room for the answer to be written
    deadline = settings.search_wait_seconds + settings.search_timeout_seconds + DEADLINE_GRACE_S
    app.add_middleware(Deadline, seconds=deadline)
    app.add_middleware(
        RequestLimits, max_body_bytes=settings.max_body_bytes, allowed_hosts=settings.allowed_hosts
    )
    return app


class NoDelayH11Protocol(H11Protocol):
    """h11 with Nagle's algorithm off on every connection, as asyncio means to set it.

    In worker processes the listening socket is rebuilt from a file descriptor
    and reports protocol 0, so asyncio skips TCP_NODELAY; the body of each
    answer then waited for the client's delayed ACK of its headers: 64 ms per
    search over a kept-alive connection with two workers, 21 ms with one.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options for ``govspeech serve`` (and the tests' server).

    h11 drops a connection whose request line or headers outgrow its buffer,
    which a client sees as a reset; a larger buffer lets :class:`RequestLimits`
    answer 414/431 in words instead. One process: the searcher is shared by
    threads (ONNX Runtime and FAISS release the GIL), and a second process
    would load a second copy of the model and index for no throughput on 2 cores.
    """
    return {
        "host": settings.host,
        "port": settings.port,
        "http": NoDelayH11Protocol,
        "h11_max_incomplete_event_size": 1 << 20,
        "timeout_keep_alive": 5,
    }
