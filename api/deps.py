"""Dependencies shared by the routes: settings and the live searcher."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from indexer.live import LiveIndex
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.versions import IndexNotFound


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_live(request: Request) -> LiveIndex:
    return request.app.state.live


def get_searcher(live: Annotated[LiveIndex, Depends(get_live)]) -> Searcher:
    """The searcher of the version being served; 503 with advice when there is none."""
    try:
        return live.get()
    except IndexNotFound as e:
        raise HTTPException(status_code=503, detail=str(e)) from e


SettingsDep = Annotated[Settings, Depends(get_settings)]
LiveDep = Annotated[LiveIndex, Depends(get_live)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
