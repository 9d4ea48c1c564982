"""Research tools: trends, comparison, similar passages, and exports of every answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from api.deps import SearcherDep, search_slot
from api.routes.search import answering
from indexer.research import export
from indexer.research.compare import compare
from indexer.research.schemas import (
    CompareParams,
    CompareResponse,
    SimilarResponse,
    TrendParams,
    TrendResponse,
)
from indexer.research.similar import similar
from indexer.research.trends import trends
from indexer.schemas import MAX_HITS, MAX_K, SearchParams, SearchResponse
from indexer.search import Searcher

router = APIRouter(tags=["research"], dependencies=[Depends(search_slot)])

ExportFormat = Annotated[export.Format, Field(description="csv (UTF-8 with BOM), jsonl or md.")]


class SearchExport(SearchParams):
    format: ExportFormat = "csv"
    limit: int = Field(
        MAX_HITS,
        ge=1,
        le=MAX_HITS,
        description=f"Hits to export, at most {MAX_HITS} (the ranking's depth).",
    )


class TrendExport(TrendParams):
    format: ExportFormat = "csv"


class CompareExport(CompareParams):
    format: ExportFormat = "csv"


@router.get("/trends", response_model=TrendResponse)
def get_trends(params: Annotated[TrendParams, Query()], searcher: SearcherDep) -> TrendResponse:
    """How many passages and documents say ``q`` per year (region, type), and relative to text."""
    with answering():
        return trends(searcher, params)


@router.get("/compare", response_model=CompareResponse)
def get_compare(
    params: Annotated[CompareParams, Query()], searcher: SearcherDep
) -> CompareResponse:
    """The best passage of each region (document, year) for ``q``, and who says nothing."""
    with answering():
        return compare(searcher, params)


@router.get("/passages/{passage_id}/similar", response_model=SimilarResponse)
def get_similar(
    passage_id: str,
    searcher: SearcherDep,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    same_document: bool = False,
) -> SimilarResponse:
    """Passages of other documents that quote, echo or paraphrase this one."""
    with answering():
        found = similar(searcher, passage_id, k, same_document=same_document)
    if found is None:
        raise HTTPException(
            status_code=404, detail=f"no passage with id {passage_id!r} in this index"
        )
    return found


@router.get("/export/search", response_class=StreamingResponse)
def export_search(
    params: Annotated[SearchExport, Query()], searcher: SearcherDep
) -> StreamingResponse:
    """The whole ranked list (up to ``limit``) as a file, with every field and a citation."""
    with answering():
        response = _all_hits(searcher, params)
    return _file(export.search_table(response), params.format, "search")


@router.get("/export/trends", response_class=StreamingResponse)
def export_trends(
    params: Annotated[TrendExport, Query()], searcher: SearcherDep
) -> StreamingResponse:
    """The trend table as a file."""
    with answering():
        response = trends(searcher, params)
    return _file(export.trend_table(response), params.format, "trends")


@router.get("/export/compare", response_class=StreamingResponse)
def export_compare(
    params: Annotated[CompareExport, Query()], searcher: SearcherDep
) -> StreamingResponse:
    """The comparison as a file."""
    with answering():
        response = compare(searcher, params)
    return _file(export.compare_table(response), params.format, "compare")


def _all_hits(searcher: Searcher, params: SearchExport) -> SearchResponse:
    """Pages of at most MAX_K hits, joined, up to ``limit``."""
    base = SearchParams(**params.model_dump(exclude={"format", "limit"}))
    first = searcher.search(base.model_copy(update={"k": min(MAX_K, params.limit)}).to_request())
    hits = list(first.hits)
    while len(hits) < min(params.limit, first.ranked):
        page = base.model_copy(
            update={"k": min(MAX_K, params.limit - len(hits)), "offset": len(hits)}
        )
        more = searcher.search(page.to_request()).hits
        if not more:
            break
        hits += more
    return first.model_copy(update={"hits": hits})


def _file(table: export.Table, fmt: export.Format, name: str) -> StreamingResponse:
    return StreamingResponse(
        export.write(table, fmt),
        media_type=export.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="govspeech-{name}.{fmt}"'},
    )
