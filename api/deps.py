"""Dependencies shared by the routes: settings and the live searcher."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from indexer.live import IndexUnavailable, LiveIndex
from indexer.search import Searcher
from indexer.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_live(request: Request) -> LiveIndex:
    return request.app.state.live


def get_searcher(live: Annotated[LiveIndex, Depends(get_live)]) -> Searcher:
    """The searcher of the version being served; 503 with the reason when there is none."""
    try:
        return live.get()
    except IndexUnavailable as e:
        raise HTTPException(status_code=503, detail=str(e), headers={"Retry-After": "5"}) from e


def search_slot(request: Request) -> Iterator[None]:
    """Hold one of the service's search slots for the request; 503 when none frees in time.

    Two cores answer ~100 searches/s; past a few at once each only waits longer,
    so beyond ``max_concurrent_searches`` a request waits briefly, then is told to
    come back (Retry-After) instead of queueing into seconds of latency.
    """
    settings: Settings = request.app.state.settings
    slots: threading.BoundedSemaphore = request.app.state.search_slots
    if not slots.acquire(timeout=settings.search_wait_seconds):
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
