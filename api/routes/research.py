"""Research tools: trends, comparison, similar passages, and exports of every answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from api.deps import SearcherDep, SettingsDep, search_slot
from indexer.research import export
from indexer.research.compare import compare
from indexer.research.origin import origin
from indexer.research.schemas import (
    CompareParams,
    CompareResponse,
    OriginBody,
    OriginResponse,
    SimilarResponse,
    TrendParams,
    TrendResponse,
)
from indexer.research.similar import similar
from indexer.research.trends import trends
from indexer.schemas import MAX_HITS, MAX_K, Filters, SearchParams, SearchResponse
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


class SimilarParams(Filters):
    """How many similar passages, and where from: the filters search takes (unknown ones are
    refused, as everywhere)."""

    k: int = Field(10, ge=1, le=MAX_K, description="Similar passages to return.")
    same_document: bool = Field(False, description="Include passages of the same document.")

    def filters(self) -> Filters:
        return Filters(**self.model_dump(include=set(Filters.model_fields)))


@router.get("/trends", response_model=TrendResponse)
def get_trends(
    params: Annotated[TrendParams, Query()], searcher: SearcherDep, settings: SettingsDep
) -> TrendResponse:
    """How many passages and documents say ``q`` per year (region, type), and relative to text."""
    return trends(searcher, params, settings.search_timeout_seconds)


@router.get("/compare", response_model=CompareResponse)
def get_compare(
    params: Annotated[CompareParams, Query()], searcher: SearcherDep, settings: SettingsDep
) -> CompareResponse:
    """The best passage of each region (document, year) for ``q``, and who says nothing."""
    return compare(searcher, params, settings.search_timeout_seconds)


@router.get("/passages/{passage_id}/similar", response_model=SimilarResponse)
def get_similar(
    passage_id: str,
    params: Annotated[SimilarParams, Query()],
    searcher: SearcherDep,
    settings: SettingsDep,
) -> SimilarResponse:
    """Passages of other documents that quote, echo or paraphrase this one (inside the filters)."""
    found = similar(
        searcher,
        passage_id,
        params.k,
        params.filters(),
        same_document=params.same_document,
        budget=settings.search_timeout_seconds,
    )
    if found is None:
        raise HTTPException(
            status_code=404, detail=f"no passage with id {passage_id!r} in this index"
        )
    return found


@router.get("/export/search", response_class=StreamingResponse)
def export_search(
    params: Annotated[SearchExport, Query()], searcher: SearcherDep, settings: SettingsDep
) -> StreamingResponse:
    """The whole ranked list (up to ``limit``) as a file, with every field and a citation."""
    response = _all_hits(searcher, params, settings.search_timeout_seconds)
    return _file(export.search_table(response), params.format, "search")


@router.get("/export/trends", response_class=StreamingResponse)
def export_trends(
    params: Annotated[TrendExport, Query()], searcher: SearcherDep, settings: SettingsDep
) -> StreamingResponse:
    """The trend table as a file."""
    response = trends(searcher, params, settings.search_timeout_seconds)
    return _file(export.trend_table(response), params.format, "trends")


@router.get("/export/compare", response_class=StreamingResponse)
def export_compare(
    params: Annotated[CompareExport, Query()], searcher: SearcherDep, settings: SettingsDep
) -> StreamingResponse:
    """The comparison as a file."""
    response = compare(searcher, params, settings.search_timeout_seconds)
    return _file(export.compare_table(response), params.format, "compare")


@router.post("/origin", response_model=OriginResponse)
def post_origin(body: OriginBody, searcher: SearcherDep, settings: SettingsDep) -> OriginResponse:
    """The documents that say ``text`` (a phrase, a sentence, paragraphs), earliest first:
    exact, near (small edits) or reworded, and which sentences of the text are new."""
    return origin(searcher, body.params(), settings.search_timeout_seconds)


class OriginExport(OriginBody):
    format: ExportFormat = "csv"


@router.post("/export/origin", response_class=StreamingResponse)
def export_origin(
    body: OriginExport, searcher: SearcherDep, settings: SettingsDep
) -> StreamingResponse:
    """The documents that say ``text`` as a file, each with a citation."""
    response = origin(searcher, body.params(), settings.search_timeout_seconds)
    return _file(export.origin_table(response), body.format, "origin")


def _all_hits(searcher: Searcher, params: SearchExport, budget: float) -> SearchResponse:
    """Pages of at most MAX_K hits, joined, up to ``limit``."""
    base = SearchParams(**params.model_dump(exclude={"format", "limit"}))
    first_page = base.model_copy(update={"k": min(MAX_K, params.limit)}).to_request()
    first = searcher.search(first_page, budget)
    hits = list(first.hits)
    while len(hits) < min(params.limit, first.ranked):
        page = base.model_copy(
            update={"k": min(MAX_K, params.limit - len(hits)), "offset": len(hits)}
        )
        more = searcher.search(page.to_request(), budget).hits
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
