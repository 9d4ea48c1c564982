"""Search: ``GET /search`` for links and browsers, ``POST /search`` for programs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.deps import SearcherDep, SettingsDep, search_slot
from indexer.schemas import SearchParams, SearchRequest, SearchResponse
from indexer.search import Searcher
from indexer.settings import Settings

router = APIRouter(tags=["search"], dependencies=[Depends(search_slot)])


def run_search(searcher: Searcher, req: SearchRequest, settings: Settings) -> Response:
    """The answer as JSON, serialised once by its own model.

    Returning the model would have FastAPI dump it, validate the dump against
    ``response_model`` and dump it again: ~1 ms of a 10-hit page, for a value
    the searcher built from these very types. ``response_model`` still
    documents the route.
    """
    found = searcher.search(req, budget=settings.search_timeout_seconds)
    return Response(found.model_dump_json(), media_type="application/json")


@router.get("/search", response_model=SearchResponse)
def search_get(
    params: Annotated[SearchParams, Query()], searcher: SearcherDep, settings: SettingsDep
) -> Response:
    """Rank passages for ``q``; filters are plain query parameters (unknown ones are refused)."""
    return run_search(searcher, params.to_request(), settings)


@router.post("/search", response_model=SearchResponse)
def search_post(req: SearchRequest, searcher: SearcherDep, settings: SettingsDep) -> Response:
    """Same as GET, with the request as a JSON body (filters as an object)."""
    return run_search(searcher, req, settings)
