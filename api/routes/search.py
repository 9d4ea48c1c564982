"""Search: ``GET /search`` for links and browsers, ``POST /search`` for programs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import SearcherDep
from indexer.live import public_reason
from indexer.schemas import SearchParams, SearchRequest, SearchResponse
from indexer.search import ModelMismatch, QueryError, Searcher

router = APIRouter(tags=["search"])


def run_search(searcher: Searcher, req: SearchRequest) -> SearchResponse:
    try:
        return searcher.search(req)
    except QueryError as e:
        raise HTTPException(status_code=422, detail=str(e)) from e
    except ModelMismatch as e:
        raise HTTPException(status_code=503, detail=public_reason(e)) from e


@router.get("/search", response_model=SearchResponse)
def search_get(params: Annotated[SearchParams, Query()], searcher: SearcherDep) -> SearchResponse:
    """Rank passages for ``q``; filters are plain query parameters (unknown ones are refused)."""
    return run_search(searcher, params.to_request())


@router.post("/search", response_model=SearchResponse)
def search_post(req: SearchRequest, searcher: SearcherDep) -> SearchResponse:
    """Same as GET, with the request as a JSON body (filters as an object)."""
    return run_search(searcher, req)
