"""Search: ``GET /search`` for links and browsers, ``POST /search`` for programs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import ValidationError

from api.deps import SearcherDep
from indexer.schemas import Filters, Mode, SearchRequest, SearchResponse
from indexer.search import QueryError, Searcher

router = APIRouter(tags=["search"])

_FILTER_PARAMS = {
    "year",
    "year_from",
    "year_to",
    "date_from",
    "date_to",
    "region",
    "province",
    "speaker",
    "doc_type",
    "source",
    "doc_id",
}
_PARAMS = {"q", "k", "offset", "mode", "min_score", "context", "collapse"} | _FILTER_PARAMS


def run_search(searcher: Searcher, req: SearchRequest) -> SearchResponse:
    try:
        return searcher.search(req)
    except QueryError as e:
        raise HTTPException(status_code=422, detail=str(e)) from e


@router.get("/search", response_model=SearchResponse)
def search_get(
    request: Request,
    searcher: SearcherDep,
    q: Annotated[str, Query(description="Keywords, a question or a paraphrase.")],
    k: Annotated[int, Query(ge=1)] = 10,
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
    mode: Mode = "hybrid",
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    context: Annotated[int, Query(ge=0, le=3)] = 0,
    collapse: bool = True,
    year: int | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    region: Annotated[str | None, Query(description="Region or province (prefix).")] = None,
    province: Annotated[str | None, Query(description="Same as region.")] = None,
    speaker: str | None = None,
    doc_type: str | None = None,
    source: str | None = None,
    doc_id: str | None = None,
) -> SearchResponse:
    """Rank passages for ``q``; filters are plain query parameters."""
    unknown = sorted(set(request.query_params) - _PARAMS)
    if unknown:
        raise HTTPException(
            status_code=422,
            detail=f"unknown parameter(s) {', '.join(unknown)}; "
            f"filters are {', '.join(sorted(_FILTER_PARAMS))}",
        )
    try:
        filters = Filters(
            year=year,
            year_from=year_from,
            year_to=year_to,
            date_from=date_from,
            date_to=date_to,
            region=region or province,
            speaker=speaker,
            doc_type=doc_type,
            source=source,
            doc_id=doc_id,
        )
        req = SearchRequest(
            q=q,
            k=k,
            offset=offset,
            mode=mode,
            filters=filters,
            min_score=min_score,
            context=context,
            collapse=collapse,
        )
    except ValidationError as e:
        raise HTTPException(status_code=422, detail=str(e)) from e
    return run_search(searcher, req)


@router.post("/search", response_model=SearchResponse)
def search_post(req: SearchRequest, searcher: SearcherDep) -> SearchResponse:
    """Same as GET, with the request as a JSON body (filters as an object)."""
    return run_search(searcher, req)
