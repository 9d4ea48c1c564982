"""Dependencies shared by the routes: settings and the live searcher."""

from __future__ import annotations

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


SettingsDep = Annotated[Settings, Depends(get_settings)]
LiveDep = Annotated[LiveIndex, Depends(get_live)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
