"""Dependencies shared by the routes: settings and the live searcher.

The usual case of each runs on the event loop: a sync dependency costs a hop
to a worker thread and back (~0.5 ms each on two busy cores), and a search
needs three of them. Only what may block (loading a new index version,
waiting for a search slot) goes to a worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from indexer.live import LiveIndex
from indexer.search import Searcher
from indexer.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_live(request: Request) -> LiveIndex:
    return request.app.state.live


async def get_searcher(live: Annotated[LiveIndex, Depends(get_live)]) -> Searcher:
    """The searcher of the version being served (IndexUnavailable, a 503, when there is none)."""
    found = live.current()
    if found is not None:
        return found
    return await run_in_threadpool(live.get)  # loads a new version: seconds


async def search_slot(request: Request) -> AsyncIterator[None]:
    """Hold one of the service's search slots for the request; 503 when none frees in time.

    Two cores answer ~100 searches/s; past a few at once each only waits longer,
    so beyond ``max_concurrent_searches`` a request waits briefly, then is told to
    come back (Retry-After) instead of queueing into seconds of latency.
    """
    settings: Settings = request.app.state.settings
    slots: threading.BoundedSemaphore = request.app.state.search_slots
    if not slots.acquire(blocking=False) and not await run_in_threadpool(
        slots.acquire, True, settings.search_wait_seconds
    ):
        raise HTTPException(
            status_code=503,
            detail=f"busy: {settings.max_concurrent_searches} searches are running; "
            "try again in a moment",
            headers={"Retry-After": "1"},
        )
    try:
        yield
    finally:
        slots.release()


SettingsDep = Annotated[Settings, Depends(get_settings)]
LiveDep = Annotated[LiveIndex, Depends(get_live)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
